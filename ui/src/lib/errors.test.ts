import { describe, expect, it } from 'vitest';
import { errorText, violationText } from './errors';
import { setLocale } from './i18n/index.svelte';
import type { UiError } from './bindings/UiError';
import errorCodes from './bindings/error-codes.json';
import refusalCodes from './bindings/refusal-codes.json';
import { placeholderNames, template } from './i18n/messages';

const err = (code: string, params: Record<string, string>, message = 'English text'): UiError => ({
  code,
  message,
  fields: [],
  violations: [],
  params,
});

describe('errorText', () => {
  it('says why a case is hidden in the reader’s language', () => {
    const hidden = err('hidden', { case: 'x', reason: 'not_assigned' });
    setLocale('en');
    expect(errorText(hidden)).toBe('This case is not open to you: a caseworker sees only the cases assigned to them.');
    setLocale('fr');
    expect(errorText(hidden)).toBe(
      'Ce dossier ne vous est pas ouvert : un travailleur social ne voit que les dossiers qui lui sont attribués.',
    );
    setLocale('ar');
    expect(errorText(hidden)).toContain('لا يرى أخصائي الحالة إلا الحالات المسندة إليه');
    setLocale('en');
  });

  it('names a refused role with its translated name', () => {
    setLocale('fr');
    expect(errorText(err('forbidden', { role: 'bid_panel', action: 'register a case' }))).toBe(
      'Votre rôle (Comité DIS) ne permet pas cette action.',
    );
    setLocale('en');
  });

  it('falls back to the library’s message for a code without a translation', () => {
    expect(errorText(err('store_error', {}, 'database error: x'))).toBe('database error: x');
  });

  it('translates a broken rule it knows and keeps the library’s detail', () => {
    const v = { rule: 'assignment', message: 'a caseworker takes only a case they registered' };
    setLocale('fr');
    expect(violationText(v)).toBe(
      'Un travailleur social ne prend qu’un dossier qu’il a enregistré et que personne d’autre n’a ; un superviseur ou le bureau attribue tout autre dossier (a caseworker takes only a case they registered)',
    );
    setLocale('en');
    expect(violationText({ rule: 'R1a', message: 'no return without a verified relative' })).toBe(
      'no return without a verified relative',
    );
  });
});

describe('error codes', () => {
  // error-codes.json is written by the desktop crate's tests from the
  // library's and the shell's code tables: every code the window can get.
  const codes = errorCodes as Record<string, string[]>;

  it('lists the codes of the library and the shell', () => {
    expect(Object.keys(codes)).toContain('bundle_bad_signature');
    expect(Object.keys(codes)).toContain('locked');
    expect(codes.bundle_unsupported_version).toEqual(['major']);
  });

  it('has a message for every code in every language, using only the code’s parameters', () => {
    for (const [code, params] of Object.entries(codes)) {
      // errorText adds `why`, the translated reason, when there is a reason.
      const given = new Set([...params, ...(params.includes('reason') ? ['why'] : [])]);
      for (const l of ['en', 'fr', 'ar'] as const) {
        const text = template(l, `error.${code}`);
        expect(text, `error.${code} in ${l}`).toBeDefined();
        for (const name of placeholderNames(text ?? '')) {
          expect(given.has(name), `error.${code} in ${l} uses {${name}}, which ${code} does not give`).toBe(true);
        }
      }
    }
  });

  it('translates a refused bundle with its values', () => {
    setLocale('fr');
    expect(errorText(err('bundle_unsupported_version', { major: '9' }))).toContain('version de format 9');
    setLocale('ar');
    expect(errorText(err('bundle_event_malformed', { line: '12' }))).toContain('12');
    setLocale('en');
  });
});

describe('quarantine refusal codes', () => {
  it('names every reason a held change was refused, in every language', () => {
    expect(refusalCodes).toContain('depends_on_refused');
    for (const code of refusalCodes as string[]) {
      for (const l of ['en', 'fr', 'ar'] as const) {
        expect(template(l, `office.quarantine.code.${code}`), `${code} in ${l}`).toBeDefined();
      }
    }
  });
});
