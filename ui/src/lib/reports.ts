// Display logic of the Reports screen, kept out of the component so it can
// be unit-tested: how a figure reads, the rows of the table under a chart,
// and the chart's data (withheld cells are gaps, never zeros).
import type { FormDefDto } from './bindings/FormDefDto';
import type { OptionDto } from './bindings/OptionDto';
import type { ReportCell } from './bindings/ReportCell';
import type { ReportIndicator } from './bindings/ReportIndicator';
import { hasMessage, type Locale } from './i18n/messages';
import { label } from './forms';

type Translate = (key: string, params?: Record<string, string | number>) => string;

/**
 * An indicator's title or definition in the reader's language: the
 * catalogue's `indicator.<id>.title`/`.definition` (whose English is the
 * library's, errors.test checks), else the library's English.
 */
export function indicatorText(ind: ReportIndicator, part: 'title' | 'definition', t: Translate): string {
  const key = `indicator.${ind.id}.${part}`;
  return hasMessage('en', key) ? t(key) : ind[part];
}

/** Every breakdown the library reports (src/report/dims.rs `DIMENSIONS`,
 * the corridor, the indicators' own ones); `admin_area_<level>` besides. */
export const DIMENSIONS = [
  'sex',
  'age_band_registration',
  'age_band_period_end',
  'disability',
  'nationality',
  'child_status',
  'case_type',
  'trafficking',
  'legal_status',
  'risk_level',
  'office',
  'corridor',
  'stage',
  'closure_reason',
  'disposition',
  'service_type',
  'violence_type',
  'conference_type',
] as const;

/** Categories the library adds to every list for missing or other data. */
const GENERIC = ['unknown', 'other', 'other_unknown', 'not_screened'];

/** Categories that are the library's own, not a value list's. */
const OWN: Record<string, string[]> = {
  disability: ['yes', 'no'],
  trafficking: ['presumed_or_identified', 'not_identified'],
};

/** The value lists behind the breakdowns: for each dimension, the options
 * of the first form field of that name (registration first). */
export function categoryLists(forms: FormDefDto[]): Map<string, OptionDto[]> {
  const out = new Map<string, OptionDto[]>();
  const ordered = [...forms].sort((a, b) => Number(b.id === 'registration_bia') - Number(a.id === 'registration_bia'));
  for (const dim of DIMENSIONS) {
    for (const form of ordered) {
      const field = form.fields.find((f) => f.name === dim && f.options.length > 0);
      if (field) {
        out.set(dim, field.options);
        break;
      }
    }
  }
  return out;
}

/** The name of a breakdown in the user's language. */
export function dimensionLabel(dimension: string, tr: Translate): string {
  if (dimension.startsWith('admin_area_')) {
    return tr('reports.dim.admin_area', { level: tr(`reports.area_level.${dimension.slice('admin_area_'.length)}`) });
  }
  return tr(`reports.dim.${dimension}`);
}

/** A category as the user reads it: the value list's label, the stage's
 * name, the library's own categories in words; codes that are names
 * already (offices, areas, age bands) as they are. */
export function categoryLabel(
  dimension: string,
  code: string,
  lists: Map<string, OptionDto[]>,
  tr: Translate,
  locale: Locale,
): string {
  if (dimension === 'stage') return tr(`stage.${code}`);
  if (OWN[dimension]?.includes(code)) return tr(`reports.cat.${dimension}.${code}`);
  const option = lists.get(dimension)?.find((o) => o.value === code);
  if (option) return label(option.labels, locale);
  if (GENERIC.includes(code)) return tr(`reports.cat.${code}`);
  return code;
}

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
  /** The category's code (the CSV's). */
  category: string;
  /** What the table shows for it. */
  label: string;
  figure: string;
  n: string;
  withheld: boolean;
  reason: string | null;
}

/** The cells of `dimension` (or the total for `"total"`) as table rows. */
export function tableRows(ind: ReportIndicator, dimension: string, show: (code: string) => string = (c) => c): TableRow[] {
  const cells = dimension === 'total' ? [ind.total] : (ind.breakdowns.find((b) => b.dimension === dimension)?.cells ?? []);
  return cells.map((c) => ({
    category: c.category,
    label: show(c.category),
    figure: cellText(ind.measure, c),
    n: c.suppressed ? WITHHELD : c.n === null ? '' : String(c.n),
    withheld: c.suppressed !== null,
    reason: c.suppressed,
  }));
}

/** Bar chart data: labels and values, withheld or empty cells as null gaps. */
export function chartSeries(
  ind: ReportIndicator,
  dimension: string,
  show: (code: string) => string = (c) => c,
): { labels: string[]; values: (number | null)[] } {
  const cells = ind.breakdowns.find((b) => b.dimension === dimension)?.cells ?? [];
  return {
    labels: cells.map((c) => show(c.category)),
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
