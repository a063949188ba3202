import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import Office from './Office.svelte';
import type { QuarantineEntry, SyncApi } from '../lib/api-sync';

const held: QuarantineEntry = {
  event_id: '0190aaaa-0000-7000-8000-000000000001', case_id: '0190aaaa-0000-7000-8000-000000000002',
  case_number: 'AGZ-0001', kind: 'case.assigned', author: 'sara', role: 'supervisor',
  device_id: '0190aaaa-0000-7000-8000-000000000003', device_name: "Sara's laptop", code: 'hidden', params: { reason: 'not_in_team' }, violations: [],
  text: 'case … is hidden: a supervisor sees only the cases of their team', at: '2026-05-28T10:00:00Z',
};

afterEach(cleanup);

/** The office screen's API with one held change; `list` is what the
 * quarantine list returns from the second call on. */
function fakeApi(over: Partial<SyncApi>, after: QuarantineEntry[]) {
  let calls = 0;
  return {
    overview: async () => ({ is_office: true, office_name: 'Agadez' }),
    places: async () => [],
    devices: async () => [],
    findFiles: async () => [],
    caseChoices: async () => [],
    transfers: async () => [],
    conflicts: async () => [],
    duplicates: async () => [],
    quarantine: async () => (calls++ === 0 ? [held] : after),
    ...over,
  } as unknown as SyncApi;
}

describe('Office: held changes', () => {
  it('checks a held change again through the library and says whether it was applied', async () => {
    const retryHeld = vi.fn(async () => false);
    render(Office, { api: fakeApi({ retryHeld }, [held]) });
    await fireEvent.click(await screen.findByTestId('quarantine-retry'));
    await vi.waitFor(() => expect(screen.getByTestId('quarantine-note').textContent).toContain('still refused'));
    expect(retryHeld).toHaveBeenCalledWith(held.event_id);
    expect(screen.getByTestId('quarantine-list').textContent).toContain('Outside the supervisor');
  });

  it('discards only with a reason, and shows the refusal of someone who may not', async () => {
    const discardHeld = vi.fn(async (_event: string, _reason: string) => {
      throw { code: 'forbidden', message: 'only the data manager decides', fields: [], violations: [], params: { role: 'caseworker' } };
    });
    render(Office, { api: fakeApi({ discardHeld }, []) });
    await fireEvent.click(await screen.findByTestId('quarantine-discard'));
    const yes = screen.getByTestId('quarantine-discard-yes') as HTMLButtonElement;
    expect(yes.disabled).toBe(true);
    await fireEvent.input(screen.getByTestId('quarantine-discard-reason'), { target: { value: 'made on the old basis' } });
    expect(yes.disabled).toBe(false);
    await fireEvent.click(yes);
    // The refusal's code, translated with the role it names.
    await vi.waitFor(() => expect(screen.getByTestId('quarantine-error').textContent).toMatch(/^Your role \(\w.*\) may not do this\.$/));
    expect(screen.getByTestId('quarantine-error').textContent).not.toContain('{role}');
    expect(discardHeld).toHaveBeenCalledWith(held.event_id, 'made on the old basis');
    expect(screen.getByTestId('quarantine-list')).toBeTruthy();
  });
});
