// The window reaches the shell only through the generated command table
// (bindings/commands.ts, written from src-tauri/src/command_table.rs): `call`
// takes a name of the table and that command's arguments, so a misspelt
// command or argument is a type error (`npm run check`), not a runtime one.
import { beforeEach, describe, expect, it, vi } from 'vitest';

vi.mock('@tauri-apps/api/core', () => ({ invoke: vi.fn(async () => 'ok'), Channel: class {} }));

import { invoke } from '@tauri-apps/api/core';
import { call, commandNames } from './bindings/commands';
import { api } from './api';

const sources = import.meta.glob('/src/**/*.{ts,svelte}', { query: '?raw', import: 'default', eager: true }) as Record<
  string,
  string
>;

describe('the command table', () => {
  beforeEach(() => vi.mocked(invoke).mockClear());

  it('call passes the name and the arguments to invoke', async () => {
    await expect(call('unlock', { passphrase: 'p' })).resolves.toBe('ok');
    expect(vi.mocked(invoke).mock.calls[0]).toEqual(['unlock', { passphrase: 'p' }]);
  });

  it('the wrappers send the camelCased argument names of the table', async () => {
    await api.createCase('child_protection', 'Agadez');
    expect(vi.mocked(invoke).mock.calls[0]).toEqual(['create_case', { caseType: 'child_protection', office: 'Agadez' }]);
  });

  it('lists every command once', () => {
    expect(new Set(commandNames).size).toBe(commandNames.length);
    expect(commandNames).toContain('office_merge');
  });

  it('nothing but the generated table calls invoke', () => {
    const offenders = Object.entries(sources)
      .filter(([path]) => !path.endsWith('/lib/bindings/commands.ts') && !path.endsWith('.test.ts'))
      .filter(([, text]) => /\binvoke\s*[<(]/.test(text) || /import\s*\{[^}]*\binvoke\b[^}]*\}\s*from\s*'@tauri-apps\/api\/core'/.test(text))
      .map(([path]) => path);
    expect(offenders).toEqual([]);
  });

  it('every command name in a call is one of the table', () => {
    const names = new Set<string>(commandNames);
    const used = Object.entries(sources)
      .filter(([path]) => !path.endsWith('.test.ts'))
      .flatMap(([, text]) => [...text.matchAll(/\bcall\(\s*'(\w+)'/g)].map((m) => m[1]));
    expect(used.length).toBeGreaterThan(70);
    expect(used.filter((n) => !names.has(n))).toEqual([]);
  });
});

// Type checks only (never run): `npm run check` fails if these stop being errors.
export function typeChecks() {
  // @ts-expect-error: not a command
  void call('no_such_command');
  // @ts-expect-error: a command's arguments are required
  void call('unlock');
  // @ts-expect-error: a misspelt argument
  void call('unlock', { passfrase: 'p' });
  // @ts-expect-error: the argument's type
  void call('assign_cases', { cases: 'one', to: 'Awa' });
  // The result type is the command's.
  const n: Promise<number> = call('assign_cases', { cases: [], to: 'Awa' });
  void n;
}
