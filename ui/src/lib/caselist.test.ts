import { describe, expect, it, vi } from 'vitest';
import type { CaseRow } from './bindings/CaseRow';
import { EMPTY_FILTER, matches, sortCases } from './caselist';
import { groupTasks, weekOf } from './calendar';
import { passphraseChecker, strengthOf } from './passphrase';
import type { PassphraseCheck } from './bindings/PassphraseCheck';
import { evalCondition } from './forms';

function row(n: string, extra: Partial<CaseRow> = {}): CaseRow {
  return {
    id: n, case_number: n, case_type: 'uasc', office: 'Agadez', stage: 'registered', caseworker: null,
    risk_level: null, given_names: null, family_name: null, sex: null, age_years: null, date_of_birth: null,
    needs_review: false, conflicts: 0, updated: 0, overdue_days: 0, ...extra,
  };
}

describe('case list filtering and sorting', () => {
  const rows = [
    row('C-3', { given_names: 'Sékou', family_name: 'Camara', risk_level: 'high', overdue_days: 4, caseworker: 'Awa' }),
    row('C-1', { given_names: 'Aminata', family_name: 'Diallo', risk_level: 'low', stage: 'tracing' }),
    row('C-2', { given_names: 'Mamadou', family_name: 'Jallow', needs_review: true, caseworker: 'Ibrahim' }),
  ];
  it('searches every word across names, number and caseworker, ignoring accents and case', () => {
    expect(rows.filter((c) => matches(c, { ...EMPTY_FILTER, text: 'sekou cam' })).map((c) => c.case_number)).toEqual(['C-3']);
    expect(rows.filter((c) => matches(c, { ...EMPTY_FILTER, text: 'c-2' })).map((c) => c.case_number)).toEqual(['C-2']);
    expect(rows.filter((c) => matches(c, { ...EMPTY_FILTER, text: 'awa' })).map((c) => c.case_number)).toEqual(['C-3']);
  });
  it('filters by stage, risk, overdue and review', () => {
    expect(rows.filter((c) => matches(c, { ...EMPTY_FILTER, stage: 'tracing' })).length).toBe(1);
    expect(rows.filter((c) => matches(c, { ...EMPTY_FILTER, overdue: true }))[0].case_number).toBe('C-3');
    expect(rows.filter((c) => matches(c, { ...EMPTY_FILTER, needsReview: true }))[0].case_number).toBe('C-2');
    expect(rows.filter((c) => matches(c, { ...EMPTY_FILTER, risk: 'low' }))[0].case_number).toBe('C-1');
  });
  it('sorts by number, risk and name', () => {
    expect(sortCases(rows, 'case_number').map((c) => c.case_number)).toEqual(['C-1', 'C-2', 'C-3']);
    expect(sortCases(rows, 'risk', true).map((c) => c.case_number)).toEqual(['C-3', 'C-1', 'C-2']);
    expect(sortCases(rows, 'name').map((c) => c.given_names)).toEqual(['Aminata', 'Mamadou', 'Sékou']);
  });
});

describe('calendar grouping', () => {
  const task = (due: string, overdue: number, cw: string | null, kind = 'follow_up_due') => ({
    case_id: due, case_number: due, child_name: '', caseworker: cw, kind, due, overdue_days: overdue, title: '',
  });
  it('splits overdue, this week and later, per caseworker', () => {
    expect(weekOf('2026-11-25')).toEqual(['2026-11-23', '2026-11-29']);
    const g = groupTasks(
      [task('2026-11-10', 15, 'Awa', 'follow_up_overdue'), task('2026-11-27', 0, 'Awa'), task('2026-12-10', 0, null), task('2026-11-26', 0, 'Ibrahim', 'bia_due')],
      '2026-11-25',
      true,
    );
    expect(g.overdue.map((t) => t.due)).toEqual(['2026-11-10']);
    expect(g.thisWeek.map((t) => t.due)).toEqual(['2026-11-27']);
    expect(g.later.map((t) => t.due)).toEqual(['2026-12-10']);
    expect(g.byCaseworker[0]).toMatchObject({ caseworker: 'Awa', overdue: 1, thisWeek: 1 });
    expect(groupTasks([task('2026-11-26', 0, 'Ibrahim', 'bia_due')], '2026-11-25', false).thisWeek.length).toBe(1);
    // A visit whose date passed but whose grace period has not: not under
    // "from today to Sunday", not overdue either.
    const late = groupTasks([task('2026-11-24', 0, 'Awa'), task('2026-11-28', 0, 'Awa')], '2026-11-25', true);
    expect(late.inGrace.map((t) => t.due)).toEqual(['2026-11-24']);
    expect(late.thisWeek.map((t) => t.due)).toEqual(['2026-11-28']);
    expect(late.overdue).toEqual([]);
  });
});

describe('passphrase meter and conditions', () => {
  const verdict = (strength: string, acceptable: boolean): PassphraseCheck =>
    ({ strength, acceptable, min_chars: 12, warning: null, suggestions: [] });
  it('shows the library verdict, and before it only what length alone says', () => {
    expect(strengthOf(null, 'short')).toBe('too_short');
    expect(strengthOf(null, 'long enough but unchecked')).toBe('weak');
    expect(strengthOf(verdict('strong', true), 'whatever')).toBe('strong');
  });
  it('asks the library once typing pauses and keeps only the latest answer', async () => {
    vi.useFakeTimers();
    const answers: Record<string, PassphraseCheck> = { a: verdict('weak', false), ab: verdict('fair', true) };
    const check = vi.fn((p: string) => Promise.resolve(answers[p]));
    const seen: (PassphraseCheck | null)[] = [];
    const recheck = passphraseChecker(check, (v) => seen.push(v), 100);
    recheck('a', 'Awa');
    recheck('ab', 'Awa');
    await vi.advanceTimersByTimeAsync(150);
    expect(check).toHaveBeenCalledTimes(1);
    expect(check).toHaveBeenCalledWith('ab', 'Awa');
    expect(seen.at(-1)).toEqual(answers.ab);
    recheck('', 'Awa');
    await vi.advanceTimersByTimeAsync(150);
    expect(check).toHaveBeenCalledTimes(1);
    expect(seen.at(-1)).toBeNull();
    vi.useRealTimers();
  });
  it('evaluates conditions like the library, including on multi-enum lists and cross-form fields', () => {
    expect(evalCondition({ field: 'x', test: 'equals', operand: 'a' }, { x: ['b', 'a'] })).toBe(true);
    expect(evalCondition({ field: 'x', test: 'not_in', operand: ['a'] }, { x: 'b' })).toBe(true);
    expect(evalCondition({ field: 'x', test: 'not_equals', operand: 'a' }, {})).toBe(false);
    expect(evalCondition({ field: 'x', test: 'empty', operand: null }, { x: [] })).toBe(true);
    expect(evalCondition({ field: 'x', test: 'gte', operand: 15 }, { x: 16 })).toBe(true);
    expect(evalCondition({ field: 'f.y', test: 'equals', operand: true }, {}, { 'f.y': false })).toBe(false);
    // Without the case's values a cross-form condition is not evaluated (null).
    expect(evalCondition({ field: 'f.y', test: 'equals', operand: true }, {})).toBeNull();
  });
});
