// The case list's search results: the ranked hits from `search_cases` joined
// onto the rows of `list_cases` (so the list's filters and columns still
// apply), and how each matched word is told to the caseworker.
import type { CaseRow } from './bindings/CaseRow';
import type { MatchedTermDto } from './bindings/MatchedTermDto';
import type { SearchHitDto } from './bindings/SearchHitDto';
import { hasMessage } from './i18n/messages';

export type Translate = (key: string, params?: Record<string, string | number>) => string;

/** The rows of `hits` in rank order. A hit whose case the list does not hold
 *  (e.g. a merged case the list leaves out) is dropped rather than shown half. */
export function rankedRows(rows: CaseRow[], hits: SearchHitDto[]): CaseRow[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  const seen = new Set<string>();
  const out: CaseRow[] = [];
  for (const h of hits) {
    const r = byId.get(h.case_id);
    if (r && !seen.has(r.id)) {
      seen.add(r.id);
      out.push(r);
    }
  }
  return out;
}

/** Case id -> what the query words matched in it. */
export function matchedById(hits: SearchHitDto[]): Map<string, MatchedTermDto[]> {
  return new Map(hits.map((h) => [h.case_id, h.matched]));
}

/** One matched word as shown under the name: "Mohamed ≈ muhammad (name key)",
 *  "Diallo (name)" when the word was found as typed, or "xuseen: not found"
 *  for a word of a partial match that the case does not have. */
export function matchedText(m: MatchedTermDto, tr: Translate): string {
  if (m.how === 'unmatched') return tr('search.unmatched', { term: m.term });
  const field = tr(`search.field.${m.field}`);
  if (m.how === 'exact') return tr('search.matched_exact', { matched: m.matched, field });
  return tr('search.matched', { matched: m.matched, term: m.term, how: tr(`search.how.${m.how}`), field });
}

/** The part of a tracing or duplicate score the window shows. */
export type ExplainedPart = { code: string; params: { [key in string]?: string }; detail: string; points: number };

// The codes whose values are a sex as the forms record it (`female`, …):
// shown translated, not as the stored value.
const SEX_PARAMS: Record<string, string[]> = {
  same_sex: ['sex'],
  sex_differs: ['a', 'b'],
  sought_sex_differs: ['sought', 'registered'],
};

/** One part of a score in the reader's language: the library's code
 *  (`explain.<code>`) filled with the values it compared, else the
 *  library's English sentence (a code from a newer library). */
export function explanationText(p: ExplainedPart, tr: Translate): string {
  const key = `explain.${p.code}`;
  if (!p.code || !hasMessage('en', key)) return p.detail;
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.params)) if (v !== undefined) params[k] = v;
  for (const k of SEX_PARAMS[p.code] ?? []) {
    const v = params[k];
    if (v && hasMessage('en', `explain.sex.${v}`)) params[k] = tr(`explain.sex.${v}`);
  }
  return tr(key, params);
}

/** The points of a part, signed: "+5", "−7.5". */
export function pointsText(points: number): string {
  const r = Math.round(points * 10) / 10;
  return r > 0 ? `+${r}` : `${r}`;
}
