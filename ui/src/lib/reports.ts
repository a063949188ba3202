// Display logic of the Reports screen, kept out of the component so it can
// be unit-tested: how a figure reads, the rows of the table under a chart,
// and the chart's data (withheld cells are gaps, never zeros).
import type { ReportCell } from './bindings/ReportCell';
import type { ReportIndicator } from './bindings/ReportIndicator';

/** What a withheld cell shows: it hides every figure, including n. */
export const WITHHELD = '<5';

/** The figure of one cell as text. */
export function cellText(measure: string, cell: ReportCell): string {
  if (cell.suppressed) return WITHHELD;
  if (cell.value === null) return '–';
  switch (measure) {
    case 'count':
      return String(Math.round(cell.value));
    case 'percent':
      return `${cell.value.toFixed(1)}% (${cell.numerator ?? 0}/${cell.denominator ?? 0})`;
    case 'median_days':
      return `${cell.value.toFixed(1)} d (n=${cell.n ?? 0})`;
    case 'ratio':
      return `${cell.value.toFixed(2)}`;
    default:
      return String(cell.value);
  }
}

/** One row of the table under a chart. */
export interface TableRow {
  category: string;
  figure: string;
  n: string;
  withheld: boolean;
  reason: string | null;
}

/** The cells of `dimension` (or the total for `"total"`) as table rows. */
export function tableRows(ind: ReportIndicator, dimension: string): TableRow[] {
  const cells = dimension === 'total' ? [ind.total] : (ind.breakdowns.find((b) => b.dimension === dimension)?.cells ?? []);
  return cells.map((c) => ({
    category: c.category,
    figure: cellText(ind.measure, c),
    n: c.suppressed ? WITHHELD : c.n === null ? '' : String(c.n),
    withheld: c.suppressed !== null,
    reason: c.suppressed,
  }));
}

/** Bar chart data: labels and values, withheld or empty cells as null gaps. */
export function chartSeries(ind: ReportIndicator, dimension: string): { labels: string[]; values: (number | null)[] } {
  const cells = ind.breakdowns.find((b) => b.dimension === dimension)?.cells ?? [];
  return {
    labels: cells.map((c) => c.category),
    values: cells.map((c) => (c.suppressed ? null : c.value)),
  };
}

/** The first and last day of the month of `day` (YYYY-MM-DD). */
export function monthOf(day: Date): { from: string; to: string } {
  const y = day.getFullYear();
  const m = day.getMonth();
  const pad = (n: number) => String(n).padStart(2, '0');
  const last = new Date(y, m + 1, 0).getDate();
  return { from: `${y}-${pad(m + 1)}-01`, to: `${y}-${pad(m + 1)}-${pad(last)}` };
}
