// A command error as a sentence in the reader's language: the library's
// stable code (`error.<code>`) filled with its parameters (a hidden case's
// reason, a refused role), else the library's English message.
import type { UiError } from './bindings/UiError';
import type { ViolationDto } from './bindings/ViolationDto';
import { hasMessage } from './i18n/messages';
import { t } from './i18n/index.svelte';

export function errorText(err: UiError): string {
  const key = `error.${err.code}`;
  if (!hasMessage('en', key)) return err.message;
  const params: Record<string, string> = { ...(err.params ?? {}) };
  const reason = params.reason;
  if (reason && hasMessage('en', `hidden.${reason}`)) params.why = t(`hidden.${reason}`);
  const role = params.role;
  if (role && hasMessage('en', `role.${role}`)) params.role = t(`role.${role}`);
  return t(key, params);
}

/**
 * A broken rule as a sentence: the translation of its code (`rule.<code>`)
 * when there is one, with the library's English detail after it; else the
 * detail alone (the code is shown beside it).
 */
export function violationText(v: ViolationDto): string {
  const key = `rule.${v.rule}`;
  return hasMessage('en', key) ? `${t(key)} (${v.message})` : v.message;
}
