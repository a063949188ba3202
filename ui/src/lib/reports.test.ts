import { describe, expect, it } from 'vitest';
import type { ReportIndicator } from './bindings/ReportIndicator';
import { cellText, chartSeries, monthOf, tableRows, WITHHELD } from './reports';

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
