// Pure helpers for rendering form definitions (assets/forms, sent by the
// `form_definitions` command): labels in the current language, the
// `shown_if`/`required_if` conditions evaluated the way the library does
// (src/model/forms/condition.rs), and the values a form saves.
import type { ConditionDto } from './bindings/ConditionDto';
import type { FieldDefDto } from './bindings/FieldDefDto';
import type { FormDefDto } from './bindings/FormDefDto';
import type { LabelsDto } from './bindings/LabelsDto';
import type { Locale } from './i18n/messages';

export type Values = Record<string, unknown>;

/** The label in `locale`, falling back to English when a translation is empty. */
export function label(l: LabelsDto | null | undefined, locale: Locale): string {
  if (!l) return '';
  return l[locale] || l.en;
}

/** Empty as the library counts it: missing, null, "" or []. */
export function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);
}

/**
 * Empty as a condition counts it (the library's `is_empty_value`): missing,
 * null, a string of only spaces, [] or {}. (Stricter than `isEmpty`, which
 * keeps a space being typed.)
 */
function isEmptyForCondition(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (typeof v === 'string') return v.trim() === '';
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v).length === 0;
  return false;
}

/**
 * Whether `cond` holds for the values of the same form, or for a cross-form
 * condition (`form.field`) the case's values: the library's
 * `Condition::eval`, checked against the same vectors
 * (tests/vectors/forms/conditions.json, forms.test.ts). `null` when a
 * cross-form condition has no case values: not enforced (the field is shown
 * and not required), like the library's partial check.
 */
export function evalCondition(cond: ConditionDto, local: Values, caseValues?: Values): boolean | null {
  const crossForm = cond.field.includes('.');
  if (crossForm && !caseValues) return null;
  const value = crossForm ? caseValues![cond.field] : local[cond.field];
  if (cond.test === 'empty') return isEmptyForCondition(value);
  if (isEmptyForCondition(value)) return false;
  const matchesAny = (wanted: unknown[]) =>
    Array.isArray(value) ? value.some((v) => wanted.some((x) => same(x, v))) : wanted.some((x) => same(x, value));
  const list = (operand: unknown): unknown[] => (Array.isArray(operand) ? operand : []);
  switch (cond.test) {
    case 'equals':
      return matchesAny([cond.operand]);
    case 'not_equals':
      return !matchesAny([cond.operand]);
    case 'in':
      return matchesAny(list(cond.operand));
    case 'not_in':
      return !matchesAny(list(cond.operand));
    case 'not_empty':
      return true;
    case 'gte':
      return typeof value === 'number' && typeof cond.operand === 'number' && value >= cond.operand;
    case 'lte':
      return typeof value === 'number' && typeof cond.operand === 'number' && value <= cond.operand;
    default:
      return unknownTest(cond.test);
  }
}

/**
 * A test this evaluator does not know: a type error while the switch above
 * covers the union of tests; at run time (bindings newer than this code) the
 * condition does not hold, so nothing is hidden or required on a guess.
 */
function unknownTest(test: never): false {
  console.error(`form condition: unknown test ${String(test)}; treated as not holding`);
  return false;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Whether a field is shown for these values. */
export function isShown(f: FieldDefDto, local: Values, caseValues?: Values): boolean {
  return !f.shown_if || evalCondition(f.shown_if, local, caseValues) !== false;
}

/** Whether a field must be filled in a complete form. */
export function isRequired(f: FieldDefDto, local: Values, caseValues?: Values): boolean {
  return f.required || (!!f.required_if && evalCondition(f.required_if, local, caseValues) === true);
}

/** The sections of a form, or one section of every field when it has none. */
export function sectionsOf(form: FormDefDto): { id: string; title: LabelsDto | null; fields: FieldDefDto[] }[] {
  const byName = new Map(form.fields.map((f) => [f.name, f]));
  if (form.sections.length === 0) return [{ id: 'all', title: null, fields: form.fields }];
  const out = form.sections.map((s) => ({
    id: s.id,
    title: s.labels as LabelsDto | null,
    fields: s.fields.map((n) => byName.get(n)).filter((f): f is FieldDefDto => !!f),
  }));
  // Fields not listed in any section still get rendered, at the end.
  const listed = new Set(form.sections.flatMap((s) => s.fields));
  const rest = form.fields.filter((f) => !listed.has(f.name));
  if (rest.length) out.push({ id: 'other', title: null, fields: rest });
  return out;
}

/**
 * The values to save: hidden fields dropped (the library refuses values in
 * fields their condition hides), and only fields that differ from what is
 * stored, so a save does not rewrite (and conflict on) untouched fields.
 */
export function valuesToSave(form: FormDefDto, draft: Values, stored: Values, caseValues?: Values): Values {
  const out: Values = {};
  for (const f of form.fields) {
    if (!(f.name in draft)) continue;
    const v = draft[f.name];
    const shown = isShown(f, draft, caseValues);
    if (!shown) {
      if (!isEmpty(stored[f.name])) out[f.name] = null;
      continue;
    }
    if (same(v, stored[f.name]) || (isEmpty(v) && isEmpty(stored[f.name]))) continue;
    out[f.name] = isEmpty(v) ? null : v;
  }
  return out;
}

/** Errors by field path, for showing each next to its field. */
export function errorsByField(errors: { field: string; message: string; code: string }[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const e of errors) (out[e.field] ??= []).push(e.message);
  return out;
}
