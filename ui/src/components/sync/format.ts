// Locale-aware formatting for the sync screens (Intl, current locale).
import { locale, t } from '../../lib/i18n/index.svelte';
import type { LabelsDto } from '../../lib/bindings/LabelsDto';

/** A date and time in the current locale. */
export function formatDateTime(ms: number): string {
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(ms));
}

/** An RFC 3339 timestamp in the current locale (the text itself if unparsable). */
export function formatIso(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : formatDateTime(ms);
}

/** A file size. */
export function formatBytes(n: number): string {
  const nf = (v: number, d = 0) => new Intl.NumberFormat(locale(), { maximumFractionDigits: d }).format(v);
  if (n < 1024) return t('sync.bytes', { n: nf(n) });
  if (n < 1024 * 1024) return t('sync.kib', { n: nf(n / 1024, 1) });
  return t('sync.mib', { n: nf(n / (1024 * 1024), 1) });
}

/** The label in the current locale. */
export function label(l: LabelsDto | null | undefined, fallback: string): string {
  if (!l) return fallback;
  return l[locale()] || l.en || fallback;
}

/** A JSON value as a person reads it. */
export function showValue(json: string | null, labels?: LabelsDto | null): string {
  if (labels) return label(labels, json ?? '');
  if (json === null) return '—';
  try {
    const v = JSON.parse(json);
    if (typeof v === 'string') return v;
    if (typeof v === 'boolean') return v ? t('sync.yes') : t('sync.no');
    if (typeof v === 'number') return new Intl.NumberFormat(locale()).format(v);
    return json;
  } catch {
    return json;
  }
}

/** The first 8 characters of an id, enough to tell devices apart. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** A hex key in groups of four for reading aloud. */
export function groupKey(hex: string): string {
  return (hex.match(/.{1,4}/g) ?? []).join(' ');
}
