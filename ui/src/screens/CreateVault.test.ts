import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import CreateVault from './CreateVault.svelte';
import type { Api, PassphraseCheck, VaultInfo } from '../lib/api';

const info: VaultInfo = { path: '/tmp/vault', exists: false, unlocked: false, demo_passphrase: null };
const verdict = (strength: string, acceptable: boolean): PassphraseCheck =>
  ({ strength, acceptable, min_chars: 12, warning: null, suggestions: [] });

afterEach(cleanup);

describe('First-run screen', () => {
  it("shows the library's verdict and refuses a passphrase it calls weak without creating a vault", async () => {
    const checkPassphrase = vi.fn(async (p: string) => (p === 'password1234' ? verdict('weak', false) : verdict('strong', true)));
    const createVault = vi.fn();
    const api = { checkPassphrase, createVault } as unknown as Api;
    render(CreateVault, { info, api, oncreated: vi.fn() });
    await fireEvent.input(screen.getByTestId('cv-name'), { target: { value: 'Awa Diallo' } });
    await fireEvent.input(screen.getByTestId('cv-pass'), { target: { value: 'password1234' } });
    await fireEvent.input(screen.getByTestId('cv-repeat'), { target: { value: 'password1234' } });
    await vi.waitFor(() => expect(checkPassphrase).toHaveBeenLastCalledWith('password1234', 'Awa Diallo'));
    await vi.waitFor(() => expect(screen.getByTestId('cv-strength').textContent).toContain('Weak'));
    await fireEvent.click(screen.getByTestId('cv-submit'));
    expect(screen.getByTestId('cv-error').textContent).toContain('too easy to guess');
    expect(createVault).not.toHaveBeenCalled();

    await fireEvent.input(screen.getByTestId('cv-pass'), { target: { value: 'tamarind lantern okapi' } });
    await vi.waitFor(() => expect(screen.getByTestId('cv-strength').dataset.strength).toBe('strong'));
    expect(checkPassphrase).toHaveBeenLastCalledWith('tamarind lantern okapi', 'Awa Diallo');
  });
});
