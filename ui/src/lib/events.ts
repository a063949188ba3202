// Labels for the kinds of change (signed events) a screen names, such as a
// change held in quarantine. The kinds are the library's (EventKind in
// src/model/event.rs); an unknown one is shown as its code.
import { t } from './i18n/index.svelte';

/** Every event kind the library writes. */
export const EVENT_KINDS = [
  'case.registered', 'form.saved', 'note.added', 'visit.recorded', 'referral.made', 'status.changed',
  'case.assigned', 'conflict.resolved', 'attachment.added', 'case.merged', 'case.split', 'case.not_duplicate',
  'case.transferred', 'case.erased', 'case.erasure_requested', 'case.erasure_approved', 'case.event_erased',
] as const;

/** The message key of an event kind's label. */
export function eventKindKey(kind: string): string {
  return `event.kind.${kind.replace('.', '_')}`;
}

/** An event kind's label in the current language (its code if unknown). */
export function eventKindLabel(kind: string): string {
  return (EVENT_KINDS as readonly string[]).includes(kind) ? t(eventKindKey(kind)) : kind;
}
