import { describe, expect, it } from 'vitest';
import type { CaseRow } from './bindings/CaseRow';
import type { SearchHitDto } from './bindings/SearchHitDto';
import { matchedById, matchedText, rankedRows } from './search';
import { setLocale, t } from './i18n/index.svelte';

function row(id: string, given: string): CaseRow {
  return {
    id, case_number: id, case_type: 'uasc', office: 'Agadez', stage: 'registered', caseworker: null,
    risk_level: null, given_names: given, family_name: 'Diallo', sex: null, age_years: null, date_of_birth: null,
    needs_review: false, conflicts: 0, updated: 0, overdue_days: 0,
  };
}

const hits: SearchHitDto[] = [
  { case_id: 'b', score: 9, matched: [{ term: 'muhammad', field: 'name', matched: 'Mohamed', how: 'spelling_variant' }] },
  { case_id: 'gone', score: 5, matched: [] },
  { case_id: 'a', score: 2, matched: [{ term: 'diallo', field: 'name', matched: 'Diallo', how: 'exact' }] },
];

describe('search results in the case list', () => {
  it('keeps the library rank order and drops cases the list does not hold', () => {
    const rows = [row('a', 'Mamadou'), row('b', 'Mohamed'), row('c', 'Awa')];
    expect(rankedRows(rows, hits).map((r) => r.id)).toEqual(['b', 'a']);
    expect(matchedById(hits).get('b')?.[0].matched).toBe('Mohamed');
  });
  it('says how each word matched, in the chosen language', () => {
    setLocale('en');
    expect(matchedText(hits[0].matched[0], t)).toBe('Mohamed ≈ muhammad (name key)');
    // A partial match: the word the case does not have, and a compound.
    expect(matchedText({ term: 'qwerty', field: '', matched: '', how: 'unmatched' }, t)).toBe('qwerty: not found');
    expect(matchedText({ term: 'woldemichael', field: 'name', matched: 'Wolde Michael', how: 'compound' }, t)).toBe(
      'Wolde Michael ≈ woldemichael (written joined or split)',
    );
    expect(matchedText(hits[2].matched[0], t)).toBe('Diallo (name)');
    setLocale('fr');
    expect(matchedText(hits[0].matched[0], t)).toBe('Mohamed ≈ muhammad (clé de nom)');
    setLocale('en');
  });
});
