// The form definitions never change while the app runs; fetch them once.
import type { Api, FormDefDto } from './api';

let cached: Promise<FormDefDto[]> | null = null;

/** Every form definition (from the `form_definitions` command), fetched once. */
export function formDefinitions(api: Api): Promise<FormDefDto[]> {
  if (!cached) cached = api.formDefinitions().catch((e) => ((cached = null), Promise.reject(e)));
  return cached;
}
