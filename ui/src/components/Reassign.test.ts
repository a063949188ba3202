import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import CaseList from '../screens/CaseList.svelte';
import type { Api, CaseRow } from '../lib/api';

function row(id: string, caseworker: string | null): CaseRow {
  return {
    id, case_number: `AGZ-${id}`, case_type: 'uasc', office: 'Agadez', stage: 'registered', caseworker,
    risk_level: null, given_names: `Child ${id}`, family_name: 'Diallo', sex: null, age_years: 12, date_of_birth: null,
    needs_review: false, conflicts: 0, updated: 0, overdue_days: 0,
  };
}

const rows = [row('1', 'amina'), row('2', 'amina'), row('3', 'bakary')];

function fakeApi(extra: Partial<Api>): Api {
  return { listCases: vi.fn().mockResolvedValue(rows), searchCases: vi.fn().mockResolvedValue([]), ...extra } as unknown as Api;
}

afterEach(cleanup);

describe('reassignment', () => {
  it('is offered to a supervisor and a data manager only', async () => {
    for (const [role, offered] of [['supervisor', true], ['data_manager', true], ['caseworker', false], ['viewer', false]] as const) {
      render(CaseList, { api: fakeApi({}), onopen: vi.fn(), onerror: vi.fn(), role });
      await vi.waitFor(() => expect(screen.getAllByTestId('case-row')).toHaveLength(3));
      expect(screen.queryByTestId('reassign') !== null, role).toBe(offered);
      cleanup();
    }
  });

  it('moves the cases the filtered list shows, and all of one caseworker, through the library', async () => {
    const assignCases = vi.fn().mockResolvedValue(2);
    const reassignAll = vi.fn().mockResolvedValue(1);
    const api = fakeApi({ assignCases, reassignAll });
    render(CaseList, { api, onopen: vi.fn(), onerror: vi.fn(), role: 'supervisor' });
    await vi.waitFor(() => expect(screen.getAllByTestId('case-row')).toHaveLength(3));
    await fireEvent.change(screen.getByTestId('filter-caseworker'), { target: { value: 'amina' } });
    await vi.waitFor(() => expect(screen.getAllByTestId('case-row')).toHaveLength(2));
    await fireEvent.input(screen.getByTestId('reassign-to'), { target: { value: ' bakary ' } });
    expect(screen.getByTestId('reassign-shown').textContent).toContain('Move the 2 cases shown');
    await fireEvent.click(screen.getByTestId('reassign-shown'));
    await vi.waitFor(() => expect(screen.getByTestId('reassign-result').textContent).toBe('2 cases moved to bakary'));
    expect(assignCases).toHaveBeenCalledWith(['1', '2'], 'bakary');
    // The list is read again from the library after a move.
    expect(api.listCases).toHaveBeenCalledTimes(2);

    await fireEvent.change(screen.getByTestId('reassign-from'), { target: { value: 'bakary' } });
    await fireEvent.input(screen.getByTestId('reassign-to'), { target: { value: 'chidi' } });
    await fireEvent.click(screen.getByTestId('reassign-all'));
    await vi.waitFor(() => expect(screen.getByTestId('reassign-result').textContent).toBe('1 case moved to chidi'));
    expect(reassignAll).toHaveBeenCalledWith('bakary', 'chidi');
  });

  it('shows the library refusal and moves nothing', async () => {
    const assignCases = vi.fn().mockRejectedValue({ code: 'not_a_caseworker', message: 'nobody is not an enrolled caseworker' });
    render(CaseList, { api: fakeApi({ assignCases }), onopen: vi.fn(), onerror: vi.fn(), role: 'data_manager' });
    await vi.waitFor(() => expect(screen.getAllByTestId('case-row')).toHaveLength(3));
    await fireEvent.input(screen.getByTestId('reassign-to'), { target: { value: 'nobody' } });
    await fireEvent.click(screen.getByTestId('reassign-shown'));
    await vi.waitFor(() => expect(screen.getByTestId('reassign-error').textContent).toContain('not an enrolled caseworker'));
    expect(screen.getByTestId('reassign-result').textContent).toBe('');
  });
});
