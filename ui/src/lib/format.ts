// Dates and numbers in the interface language (Intl), so French and Arabic
// users read them the way they write them.
import { locale } from './i18n/index.svelte';

/** A Unix-ms timestamp as a short date and time. */
export function formatDateTime(ms: number): string {
  if (!ms) return '—';
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(ms));
}

/** A `YYYY-MM-DD` date as a medium date (read as a calendar day, not shifted by the time zone). */
export function formatDate(ymd: string | null | undefined): string {
  if (!ymd) return '—';
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(ymd);
  if (!m) return ymd;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeZone: 'UTC' }).format(d);
}

/** Today as `YYYY-MM-DD` (local calendar day). */
export function todayYmd(): string {
  const d = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}
