// What the partner-request screens decide on their own: which requests are
// still open, how a shared value reads, which answer values are sent, and
// whether a request may be sent yet. Every rule about what a request
// carries or who may send it is the library's (the preview and the send
// command); these only shape the screen.
import type { PartnerEntry, RequestPreviewDto } from './api-partners';
import { isEmpty, type Values } from './forms';

/** Statuses of a request still waiting for its answer (requesting side). */
export const OPEN_SENT = ['sent', 'received', 'overdue'];
/** Statuses of a received request still to answer (partner side). */
export const OPEN_RECEIVED = ['received', 'overdue'];

/** A request this office sent may still be withdrawn or answered by hand. */
export function isOpenSent(status: string): boolean {
  return OPEN_SENT.includes(status);
}

/** A request received may still be answered. */
export function isOpenReceived(status: string): boolean {
  return OPEN_RECEIVED.includes(status);
}

/**
 * A shared value as a person reads it (the entry's `display`): a code of a
 * value list by its label in `lang` (`{"$label": {en, fr, ar}}`), text as is,
 * a person or place object by its name, a list joined, a yes/no for booleans.
 */
export function sharedText(v: unknown, yes: string, no: string, lang = 'en'): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'object' && !Array.isArray(v) && '$label' in (v as object)) {
    const l = (v as { $label: Record<string, string> }).$label;
    return l[lang] || l.en;
  }
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? yes : no;
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return v.map((x) => sharedText(x, yes, no, lang)).join(', ');
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.name === 'string') return o.name;
    return Object.values(o).map((x) => sharedText(x, yes, no, lang)).join(', ');
  }
  return JSON.stringify(v);
}

/** Only the kind's answer fields that were filled (the library checks the values). */
export function answerPayload(fields: string[], values: Values): Values {
  const out: Values = {};
  for (const f of fields) if (!isEmpty(values[f])) out[f] = values[f];
  return out;
}

/**
 * Whether the Send button may be pressed: a preview shown for the current
 * choice with no rule refusing it, a partner chosen, and a file named for a
 * partner with Fieldcase (a request on paper writes no file).
 */
export function maySend(preview: RequestPreviewDto | null, partner: PartnerEntry | undefined, path: string): boolean {
  if (!preview || preview.blocked_by.length > 0 || !partner) return false;
  return partner.on_paper || path.trim().length > 0;
}

/** A file name for a partner bundle: what, kind and the request's first characters. */
export function partnerFileName(what: string, kind: string, requestId = ''): string {
  const id = requestId ? `-${requestId.slice(0, 8)}` : '';
  return `${what}-${kind.replace(/[^A-Za-z0-9]+/g, '-')}${id}.fcb`;
}
