import { describe, expect, it } from 'vitest';
import type { ReportIndicator } from './bindings/ReportIndicator';
import type { FormDefDto } from './bindings/FormDefDto';
import { template, translate } from './i18n/messages';
import indicators from './bindings/indicators.json';
import { categoryLabel, categoryLists, cellText, chartSeries, dimensionLabel, DIMENSIONS, monthOf, tableRows, WITHHELD } from './reports';

const cell = (category: string, value: number | null, n: number | null, suppressed: string | null = null, num: number | null = null) => ({
  category,
  value,
  numerator: num,
  denominator: num === null ? null : n,
  n,
  suppressed,
});

const registrations: ReportIndicator = {
  id: '1',
  title: 'New registrations',
  definition: 'Children registered in the period.',
  measure: 'count',
  total: cell('total', 7, 7),
  breakdowns: [
    {
      dimension: 'sex',
      cells: [cell('female', null, null, 'complementary'), cell('male', null, null, 'small_cell'), cell('other_unknown', 0, 0)],
    },
  ],
};

describe('report table', () => {
  it('shows withheld cells as <5 with no figure or n, and zeros as zeros', () => {
    const rows = tableRows(registrations, 'sex');
    expect(rows.map((r) => r.figure)).toEqual([WITHHELD, WITHHELD, '0']);
    expect(rows[0]).toMatchObject({ withheld: true, reason: 'complementary', n: WITHHELD });
    expect(rows[2]).toMatchObject({ withheld: false, n: '0' });
    expect(tableRows(registrations, 'total')[0].figure).toBe('7');
  });

  it('leaves withheld cells out of the chart as gaps', () => {
    expect(chartSeries(registrations, 'sex')).toEqual({ labels: ['female', 'male', 'other_unknown'], values: [null, null, 0] });
  });

  it('formats percentages with numerator and denominator', () => {
    expect(cellText('percent', cell('total', 33.3, 3, null, 1))).toBe('33.3% (1/3)');
    expect(cellText('median_days', cell('total', 12, 9))).toBe('12.0 d (n=9)');
    expect(cellText('count', cell('total', null, 0))).toBe('–');
  });

  it('defaults to the current month', () => {
    expect(monthOf(new Date(2026, 1, 14))).toEqual({ from: '2026-02-01', to: '2026-02-28' });
  });
});

describe('report labels', () => {
  const forms = [
    {
      id: 'registration_bia',
      fields: [
        {
          name: 'sex',
          options: [
            { value: 'female', labels: { en: 'Female', fr: 'Féminin', ar: 'أنثى' } },
            { value: 'male', labels: { en: 'Male', fr: 'Masculin', ar: 'ذكر' } },
          ],
        },
        { name: 'given_names', options: [] },
      ],
    },
  ] as unknown as FormDefDto[];
  const lists = categoryLists(forms);

  it('names every breakdown in every language', () => {
    for (const l of ['en', 'fr', 'ar'] as const) {
      const tr = (k: string, p?: Record<string, string | number>) => translate(l, k, p);
      for (const dim of [...DIMENSIONS, 'admin_area_region', 'admin_area_district']) {
        const shown = dimensionLabel(dim, tr);
        expect(shown, `${l} ${dim}`).not.toContain('reports.');
        expect(shown).not.toContain('_');
      }
    }
  });

  it('shows value-list labels, stage names and words for missing data instead of codes', () => {
    const tr = (k: string, p?: Record<string, string | number>) => translate('fr', k, p);
    expect(categoryLabel('sex', 'female', lists, tr, 'fr')).toBe('Féminin');
    expect(categoryLabel('sex', 'other_unknown', lists, tr, 'fr')).toBe('Autre ou non renseigné');
    expect(categoryLabel('stage', 'bia_in_progress', lists, tr, 'fr')).toBe(translate('fr', 'stage.bia_in_progress'));
    expect(categoryLabel('disability', 'not_screened', lists, tr, 'fr')).toBe('Non évalué');
    expect(categoryLabel('trafficking', 'not_identified', lists, tr, 'fr')).not.toContain('_');
    // Codes that are names already stay as they are.
    expect(categoryLabel('office', 'Agadez', lists, tr, 'fr')).toBe('Agadez');
    expect(categoryLabel('age_band_registration', '15-17', lists, tr, 'fr')).toBe('15-17');
  });

  it('puts the labels in the table and the chart, and keeps the code beside them', () => {
    const show = (code: string) => categoryLabel('sex', code, lists, (k) => translate('en', k), 'en');
    const rows = tableRows(registrations, 'sex', show);
    expect(rows.map((r) => r.label)).toEqual(['Female', 'Male', 'Other or not recorded']);
    expect(rows.map((r) => r.category)).toEqual(['female', 'male', 'other_unknown']);
    expect(chartSeries(registrations, 'sex', show).labels).toEqual(['Female', 'Male', 'Other or not recorded']);
  });
});

describe('indicator texts', () => {
  // indicators.json is written by the desktop crate's tests from the
  // library's definitions (src/report/indicators.rs).
  const library = indicators as Record<string, { title: string; definition: string }>;

  // The numbers of a definition (a threshold, a delay, a form number):
  // decimal commas read as points, so "0,5" is the library's "0.5".
  const numbers = (s: string) => new Set((s.match(/\d+(?:[.,]\d+)?/g) ?? []).map((n) => n.replace(',', '.')));
  // A code of the library (`registration_date`, `case.not_duplicate`)
  // outside a command written as code (`fieldcase duplicates`).
  const codeIn = (s: string) => s.replace(/`[^`]*`/g, '').match(/\b[a-z0-9]+(?:[_.][a-z]+[a-z0-9]*)+\b/);

  it('has every indicator’s title and definition in every language, in words and with the library’s numbers', () => {
    expect(Object.keys(library)).toContain('25b');
    for (const [id, text] of Object.entries(library)) {
      // A title is the library's English word for word.
      expect(template('en', `indicator.${id}.title`), `indicator.${id}.title in en`).toBe(text.title);
      for (const part of ['title', 'definition'] as const) {
        const key = `indicator.${id}.${part}`;
        for (const l of ['en', 'fr', 'ar'] as const) {
          const said = template(l, key);
          expect(said, `${key} in ${l}`).toBeDefined();
          // Field and value codes are said in words, in every language…
          expect(codeIn(said ?? ''), `${key} in ${l} names a code`).toBeNull();
          // …and the definition keeps every threshold and delay the library's has.
          for (const n of numbers(text[part])) expect(numbers(said ?? '').has(n), `${key} in ${l} lacks ${n}`).toBe(true);
          // A definition is always a sentence of its own language.
          if (part === 'definition' && l !== 'en') expect(said).not.toBe(template('en', key));
        }
      }
    }
  });

  it('finds a code in a sentence, and not a number or a command', () => {
    expect(codeIn('see the case_type breakdown')?.[0]).toBe('case_type');
    expect(codeIn('reviewed (case.not_duplicate)')?.[0]).toBe('case.not_duplicate');
    expect(codeIn('score ≥ 0.5 (`fieldcase duplicates`), F1')).toBeNull();
  });
});
