// A command error as a sentence in the reader's language: the library's
// stable code (`error.<code>`) filled with its parameters (a hidden case's
// reason, a refused role), else the library's English message; a broken
// case rule likewise (`violation.<code>`, model::violation in the library).
import type { UiError } from './bindings/UiError';
import type { ViolationDto } from './bindings/ViolationDto';
import { hasMessage } from './i18n/messages';
import { t } from './i18n/index.svelte';
import { eventKindLabel } from './events';
import { fieldLabel } from './formcache';

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

/** The parameters of a violation code whose values are stages or roles. */
const STAGE_PARAMS = ['stage', 'from', 'to'];

/**
 * A violation's parameters as the reader's words: a stage, a role, a list
 * of roles (" or ") or stages (" and "), an attempted action, an event kind
 * and a list of fields become their labels; other values (names, dates)
 * stay.
 */
export function violationParams(params: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { ...params };
  const label = (prefix: string, v: string) => (hasMessage('en', `${prefix}.${v}`) ? t(`${prefix}.${v}`) : v);
  for (const k of STAGE_PARAMS) if (out[k]) out[k] = label('stage', out[k]);
  if (out.role) out.role = label('role', out.role);
  if (out.roles) out.roles = out.roles.split(' or ').map((r) => label('role', r)).join(t('violation.or'));
  if (out.stages) out.stages = out.stages.split(' and ').map((s) => label('stage', s)).join(t('violation.and'));
  if (out.action) out.action = label('violation.action', out.action);
  if (out.kind && out.kind.includes('.')) out.kind = eventKindLabel(out.kind);
  // A list of fields (`form.field` or a bare name), each by its label once
  // the form definitions are loaded.
  if (out.fields) out.fields = out.fields.split(', ').map(fieldLabel).join(', ');
  return out;
}

/**
 * What failed, in the reader's language: the violation's code
 * (`violation.<code>`) with its parameters, else the library's English
 * (a refusal kept before violations had codes, or a newer peer's code).
 */
export function violationDetail(v: ViolationDto): string {
  const key = `violation.${v.code}`;
  if (!v.code || !hasMessage('en', key)) return v.message;
  return t(key, violationParams(v.params ?? {}));
}

/**
 * A broken rule as a sentence: the translation of its rule (`rule.<rule>`)
 * when there is one, with what failed after it; else what failed alone
 * (the rule is shown beside it).
 */
export function violationText(v: ViolationDto): string {
  const key = `rule.${v.rule}`;
  const detail = violationDetail(v);
  return hasMessage('en', key) ? `${t(key)} (${detail})` : detail;
}
