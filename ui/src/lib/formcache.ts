// The form definitions never change while the app runs; fetch them once.
// Their field labels are also kept here, so a sentence about fields (a rule
// violation naming `registration_bia.sex`) can name them in the reader's
// language without waiting for a command.
import type { Api, FormDefDto } from './api';
import type { LabelsDto } from './bindings/LabelsDto';
import { locale } from './i18n/index.svelte';

let cached: Promise<FormDefDto[]> | null = null;

/** Labels by `form.field`, and by bare field name when only one form has it. */
const byPath = new Map<string, LabelsDto>();
const byName = new Map<string, LabelsDto | null>();

/** Every form definition (from the `form_definitions` command), fetched once. */
export function formDefinitions(api: Api): Promise<FormDefDto[]> {
  if (!cached) {
    cached = api.formDefinitions().then(
      (defs) => (rememberFieldLabels(defs), defs),
      (e) => ((cached = null), Promise.reject(e)),
    );
  }
  return cached;
}

/** Keep the field labels of `defs` for [`fieldLabel`]. */
export function rememberFieldLabels(defs: FormDefDto[]): void {
  for (const form of defs) {
    for (const field of form.fields) {
      byPath.set(`${form.id}.${field.name}`, field.labels);
      // A name two forms use with different labels is ambiguous: no label.
      const seen = byName.get(field.name);
      byName.set(field.name, seen === undefined || seen?.en === field.labels.en ? field.labels : null);
    }
  }
}

/**
 * A field named as the library names it (`form.field`, or a bare field name
 * in a sentence about one form) in the reader's language; the name itself
 * when the definitions are not loaded or do not know it.
 */
export function fieldLabel(name: string): string {
  const labels = byPath.get(name) ?? byName.get(name);
  if (!labels) return name;
  return labels[locale()] || labels.en || name;
}
