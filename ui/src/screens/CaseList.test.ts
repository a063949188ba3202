import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import CaseList from './CaseList.svelte';
import type { Api, CaseRow, SearchHitDto } from '../lib/api';
import type { Stage } from '../lib/bindings/domain';

function row(id: string, given: string, family: string, stage: Stage = 'registered'): CaseRow {
  return {
    id, case_number: `AGZ-${id}`, case_type: 'uasc', office: 'Agadez', stage, caseworker: null,
    risk_level: null, given_names: given, family_name: family, sex: null, age_years: 12, date_of_birth: null,
    needs_review: false, conflicts: 0, updated: 0, overdue_days: 0,
  };
}

const rows = [row('1', 'Awa', 'Camara'), row('2', 'Mohamed', 'Diallo'), row('3', 'Mohammed', 'Sow', 'closed')];
// The library ranks Sow first; the list must keep that order, not sort by number.
const hits: SearchHitDto[] = [
  { case_id: '3', score: 8, matched: [{ term: 'muhammad', field: 'name', matched: 'Mohammed', how: 'spelling_variant' }] },
  { case_id: '2', score: 7, matched: [{ term: 'muhammad', field: 'name', matched: 'Mohamed', how: 'spelling_variant' }] },
];

function fakeApi(searchCases: Api['searchCases']): Api {
  return { listCases: async () => rows, searchCases } as unknown as Api;
}

afterEach(cleanup);

describe('case list search', () => {
  it('asks the library and shows its hits in rank order with what matched; filters still apply', async () => {
    const searchCases = vi.fn().mockResolvedValue(hits);
    render(CaseList, { api: fakeApi(searchCases), onopen: vi.fn(), onerror: vi.fn() });
    await vi.waitFor(() => expect(screen.getAllByTestId('case-row')).toHaveLength(3));
    await fireEvent.input(screen.getByTestId('case-search'), { target: { value: 'Muhammad' } });
    await vi.waitFor(() => expect(screen.getAllByTestId('case-matched')).toHaveLength(2));
    expect(searchCases).toHaveBeenCalledWith('Muhammad');
    const shown = screen.getAllByTestId('case-row');
    expect(shown.map((r) => r.getAttribute('data-case-number'))).toEqual(['AGZ-3', 'AGZ-2']);
    expect(shown[1].textContent).toContain('Mohamed ≈ muhammad (name key)');

    const stage = screen.getByTestId('filter-stage') as HTMLSelectElement;
    await fireEvent.change(stage, { target: { value: 'registered' } });
    await vi.waitFor(() =>
      expect(screen.getAllByTestId('case-row').map((r) => r.getAttribute('data-case-number'))).toEqual(['AGZ-2']),
    );

    await fireEvent.change(stage, { target: { value: '' } });
    await fireEvent.input(screen.getByTestId('case-search'), { target: { value: '' } });
    await vi.waitFor(() => expect(screen.getAllByTestId('case-row')).toHaveLength(3));
    expect(screen.queryByTestId('case-matched')).toBeNull();
  });
});
