import { describe, expect, it } from 'vitest';
import type { CaseRow } from './bindings/CaseRow';
import type { SearchHitDto } from './bindings/SearchHitDto';
import { explanationText, matchedById, matchedText, pointsText, rankedRows } from './search';
import explanationCodes from './bindings/explanation-codes.json';
import { placeholderNames, template } from './i18n/messages';
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

describe('explanations of tracing and duplicate scores', () => {
  // explanation-codes.json is written by the desktop crate's tests from the
  // library's table of explanation codes and the parameters each gives.
  const codes = explanationCodes as Record<string, string[]>;

  it('lists the library’s codes', () => {
    expect(codes.same_given_name).toEqual(['a', 'b']);
    expect(codes.mother_differs).toEqual([]);
  });

  it('has a message for every code in every language, using only the code’s parameters', () => {
    for (const [code, params] of Object.entries(codes)) {
      for (const l of ['en', 'fr', 'ar'] as const) {
        const text = template(l, `explain.${code}`);
        expect(text, `explain.${code} in ${l}`).toBeDefined();
        for (const name of placeholderNames(text ?? '')) {
          expect(params.includes(name), `explain.${code} in ${l} uses {${name}}, which ${code} does not give`).toBe(
            true,
          );
        }
      }
    }
  });

  const part = (code: string, params: Record<string, string>, points = 5) => ({
    code,
    params,
    detail: 'English from the library',
    points,
  });

  it('says what agreed in the reader’s language, with the values compared', () => {
    const p = part('same_given_name', { a: 'mariama', b: 'mariama' });
    setLocale('en');
    expect(explanationText(p, t)).toBe('same given name: mariama / mariama');
    setLocale('fr');
    expect(explanationText(p, t)).toBe('même prénom : mariama / mariama');
    setLocale('ar');
    expect(explanationText(p, t)).toBe('الاسم الأول نفسه: mariama / mariama');
    setLocale('en');
  });

  it('translates a sex compared and falls back to the English for an unknown code', () => {
    setLocale('fr');
    expect(explanationText(part('sex_differs', { a: 'female', b: 'male' }, -6), t)).toBe('sexe : féminin / masculin');
    expect(explanationText(part('from_a_newer_library', { a: 'x' }), t)).toBe('English from the library');
    setLocale('en');
    expect(explanationText(part('same_sex', { sex: 'female' }), t)).toBe('both female');
  });

  it('signs the points', () => {
    expect(pointsText(5)).toBe('+5');
    expect(pointsText(-7.26)).toBe('-7.3');
    expect(pointsText(0)).toBe('0');
  });
});
