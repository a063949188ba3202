import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import Unlock from './Unlock.svelte';
import type { Api, VaultInfo } from '../lib/api';

const info: VaultInfo = { path: '/tmp/vault', exists: true, unlocked: false, demo_passphrase: 'demo words' };

function fakeApi(unlock: Api['unlock']): Api {
  return { vaultInfo: async () => info, unlock, lock: async () => {} } as unknown as Api;
}

afterEach(cleanup);

describe('Unlock screen', () => {
  it('labels the field and shows the demo passphrase', () => {
    render(Unlock, { info, api: fakeApi(vi.fn()), onunlocked: vi.fn() });
    expect(screen.getByLabelText('Passphrase')).toHaveProperty('type', 'password');
    expect(screen.getByTestId('demo-passphrase').textContent).toContain('demo words');
  });

  it('shows a translated alert on a wrong passphrase and does not unlock', async () => {
    const unlock = vi.fn().mockRejectedValue({ code: 'wrong_passphrase', message: 'wrong passphrase for /tmp/vault/identity.age' });
    const onunlocked = vi.fn();
    render(Unlock, { info, api: fakeApi(unlock), onunlocked });
    await fireEvent.input(screen.getByLabelText('Passphrase'), { target: { value: 'nope' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Unlock' }));
    await vi.waitFor(() => expect(screen.getByRole('alert').textContent).toBe('Wrong passphrase. Type it again.'));
    expect(unlock).toHaveBeenCalledWith('nope');
    expect(onunlocked).not.toHaveBeenCalled();
  });

  it('passes the result on when the passphrase is right', async () => {
    const result = { case_count: 3, device_name: 'Demo device', escrow_on: false };
    const onunlocked = vi.fn();
    render(Unlock, { info, api: fakeApi(vi.fn().mockResolvedValue(result)), onunlocked });
    await fireEvent.input(screen.getByLabelText('Passphrase'), { target: { value: 'right' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Unlock' }));
    await vi.waitFor(() => expect(onunlocked).toHaveBeenCalledWith(result));
  });

  it('asks for a passphrase instead of calling the vault with an empty one', async () => {
    const unlock = vi.fn();
    render(Unlock, { info, api: fakeApi(unlock), onunlocked: vi.fn() });
    await fireEvent.click(screen.getByRole('button', { name: 'Unlock' }));
    expect(screen.getByRole('alert').textContent).toBe('Type the passphrase first.');
    expect(unlock).not.toHaveBeenCalled();
  });
});
