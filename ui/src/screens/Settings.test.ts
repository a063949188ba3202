import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import Settings from './Settings.svelte';
import type { ActorDto, Api, UnlockedInfo } from '../lib/api';

const unlocked: UnlockedInfo = {
  case_count: 0, device_name: 'Office laptop', escrow_on: false, user_name: 'Awa Diallo', role: 'supervisor',
  tamper_warnings: [],
};
const owner: ActorDto = { user: 'Awa Diallo', role: 'supervisor', owner_user: 'Awa Diallo', owner_role: 'supervisor' };
const chair: ActorDto = { user: 'Panel chair', role: 'bid_panel', owner_user: 'Awa Diallo', owner_role: 'supervisor' };

afterEach(cleanup);

describe('Settings: switch person', () => {
  it("sends the person's name and passphrase to the library, shows its refusal, and keeps no passphrase", async () => {
    const switchPerson = vi.fn(async (user: string, pass: string) => {
      if (pass !== 'chair passphrase') throw { code: 'wrong_passphrase', message: 'wrong passphrase', fields: [], violations: [] };
      return user === 'Panel chair' ? chair : owner;
    });
    const onactor = vi.fn();
    const api = { switchPerson } as unknown as Api;
    render(Settings, { api, actor: owner, unlocked, onactor });
    await fireEvent.input(screen.getByTestId('acting-user'), { target: { value: 'Panel chair' } });
    await fireEvent.input(screen.getByTestId('acting-pass'), { target: { value: 'not hers' } });
    await fireEvent.click(screen.getByTestId('acting-submit'));
    await vi.waitFor(() => expect(screen.getByTestId('acting-error').textContent).toContain('Wrong passphrase'));
    expect(onactor).not.toHaveBeenCalled();
    expect((screen.getByTestId('acting-pass') as HTMLInputElement).value).toBe('');

    await fireEvent.input(screen.getByTestId('acting-pass'), { target: { value: 'chair passphrase' } });
    await fireEvent.click(screen.getByTestId('acting-submit'));
    await vi.waitFor(() => expect(onactor).toHaveBeenCalledWith(chair));
    expect(switchPerson).toHaveBeenLastCalledWith('Panel chair', 'chair passphrase');
    expect((screen.getByTestId('acting-pass') as HTMLInputElement).value).toBe('');
  });

  it('adds a person with a name, role and passphrase', async () => {
    const addPerson = vi.fn(async () => undefined);
    const api = { addPerson } as unknown as Api;
    render(Settings, { api, actor: owner, unlocked, onactor: vi.fn() });
    await fireEvent.input(screen.getByTestId('person-user'), { target: { value: 'Panel chair' } });
    await fireEvent.change(screen.getByTestId('person-role'), { target: { value: 'bid_panel' } });
    await fireEvent.input(screen.getByTestId('person-pass'), { target: { value: 'chair passphrase' } });
    await fireEvent.click(screen.getByTestId('person-submit'));
    await vi.waitFor(() => expect(screen.getByTestId('person-added').textContent).toContain('Panel chair'));
    expect(addPerson).toHaveBeenCalledWith('Panel chair', 'bid_panel', 'chair passphrase');
  });
});
