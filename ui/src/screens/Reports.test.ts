import { describe, expect, it } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import Reports from './Reports.svelte';
import type { ReportView } from '../lib/bindings/ReportView';

const cell = (category: string, value: number | null, n: number | null, suppressed: string | null = null) => ({
  category,
  value,
  numerator: null,
  denominator: null,
  n,
  suppressed,
});

const view: ReportView = {
  from: '2026-03-01',
  to: '2026-03-31',
  office: null,
  suppressed: true,
  threshold: 5,
  merged_or_duplicate: 1,
  erased: 0,
  indicators: [
    {
      id: '1',
      title: 'New registrations',
      definition: 'Children whose registration date falls in the period.',
      measure: 'count',
      total: cell('total', 7, 7),
      breakdowns: [
        {
          dimension: 'sex',
          cells: [cell('female', null, null, 'complementary'), cell('male', null, null, 'small_cell'), cell('other_unknown', 0, 0)],
        },
        { dimension: 'office', cells: [cell('Agadez', 7, 7)] },
      ],
    },
  ],
};

// jsdom has no canvas: the screen then skips drawing (the table is what is checked).
HTMLCanvasElement.prototype.getContext = (() => null) as never;

describe('Reports screen', () => {
  it('shows each indicator with its definition and a table with withheld cells', async () => {
    const calls: unknown[][] = [];
    const api = {
      compute: async (...args: unknown[]) => {
        calls.push(args);
        return view;
      },
      exportCsv: async () => [],
      formDefinitions: async () => [
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
          ],
        },
      ],
    };
    render(Reports, { api: api as never });
    expect(await screen.findByText('New registrations', { exact: false })).toBeTruthy();
    // The definition is the catalogue's, in the reader's language, with
    // the field codes said in words.
    expect(screen.getByText(/^Children whose registration date \(F1, else the day/)).toBeTruthy();
    // Suppression is on unless the internal view is chosen.
    expect(calls[0][3]).toBe(true);
    // Categories read as the value list's labels, not codes.
    expect(await screen.findByText('Female')).toBeTruthy();
    const rows = Array.from(document.querySelectorAll('tbody tr')).map((r) => r.textContent?.replace(/\s+/g, ' ').trim());
    expect(rows).toEqual(['Female<5<5', 'Male<5<5', 'Other or not recorded00']);
    // The breakdown picker names the dimensions in words.
    const picker = Array.from(document.querySelectorAll('select option')).map((o) => o.textContent);
    expect(picker).toContain('Sex');
    expect(picker).not.toContain('sex');
    expect(document.querySelectorAll('tr.withheld').length).toBe(2);
    expect(document.querySelector('canvas')).toBeTruthy();
  });
});
