// Filtering, sorting and counting the case list in the window (the list
// comes whole from `list_cases`; a vault holds a few thousand cases at most).
import type { CaseRow } from './bindings/CaseRow';

export interface CaseFilter {
  text: string;
  stage: string;
  risk: string;
  caseworker: string;
  overdue: boolean;
  needsReview: boolean;
}

export type SortKey = 'case_number' | 'name' | 'age' | 'stage' | 'risk' | 'updated' | 'overdue';

export const EMPTY_FILTER: CaseFilter = { text: '', stage: '', risk: '', caseworker: '', overdue: false, needsReview: false };

const RISK_ORDER: Record<string, number> = { high: 3, medium: 2, low: 1 };

/** Lower case without accents, so "Sékou" matches "sekou". */
export function fold(s: string): string {
  return s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** The child's name as shown. */
export function childName(c: CaseRow): string {
  return [c.given_names, c.family_name].filter(Boolean).join(' ');
}

/** Whether `c` passes every part of `f`. Text matches words anywhere in number, names, office, caseworker. */
export function matches(c: CaseRow, f: CaseFilter): boolean {
  if (f.stage && c.stage !== f.stage) return false;
  if (f.risk && (c.risk_level ?? '') !== f.risk) return false;
  if (f.caseworker && (c.caseworker ?? '') !== f.caseworker) return false;
  if (f.overdue && c.overdue_days <= 0) return false;
  if (f.needsReview && !c.needs_review) return false;
  const words = fold(f.text).split(/\s+/).filter(Boolean);
  if (words.length) {
    const hay = fold([c.case_number, childName(c), c.office, c.caseworker ?? ''].join(' '));
    if (!words.every((w) => hay.includes(w))) return false;
  }
  return true;
}

/** `rows` sorted by `key` (stable; ties by case number). */
export function sortCases(rows: CaseRow[], key: SortKey, descending = false): CaseRow[] {
  const val = (c: CaseRow): string | number => {
    switch (key) {
      case 'name':
        return fold(childName(c));
      case 'age':
        return c.age_years ?? -1;
      case 'stage':
        return c.stage;
      case 'risk':
        return RISK_ORDER[c.risk_level ?? ''] ?? 0;
      case 'updated':
        return c.updated;
      case 'overdue':
        return c.overdue_days;
      default:
        return c.case_number;
    }
  };
  const out = rows.slice().sort((a, b) => {
    const x = val(a);
    const y = val(b);
    const cmp = x < y ? -1 : x > y ? 1 : a.case_number.localeCompare(b.case_number);
    return descending ? -cmp : cmp;
  });
  return out;
}

/** Distinct non-empty values of a column, sorted, for filter menus. */
export function distinct(rows: CaseRow[], pick: (c: CaseRow) => string | null | undefined): string[] {
  return [...new Set(rows.map(pick).filter((v): v is string => !!v))].sort();
}
