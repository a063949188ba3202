// Turning a case's field values (CaseDetailDto.fields) into the shapes the
// form renderer wants: one form's values, one item's values, and the
// `form.field` map cross-form conditions are evaluated against.
import type { CaseDetailDto } from './bindings/CaseDetailDto';
import type { Values } from './forms';

/** Values of a non-repeating form (or of one item when `item` is given). */
export function formValues(d: CaseDetailDto, form: string, item: string | null = null): Values {
  const out: Values = {};
  for (const f of d.fields) if (f.form === form && (f.item ?? null) === item && f.value !== null) out[f.field] = f.value;
  return out;
}

/** Every case-level value keyed `form.field` (like the library's CaseFacts.values). */
export function caseValues(d: CaseDetailDto): Values {
  const out: Values = {};
  for (const f of d.fields) if (f.item === null && f.value !== null) out[`${f.form}.${f.field}`] = f.value;
  return out;
}

/** The items of a repeating form, oldest first, with their values. */
export function itemsOf(d: CaseDetailDto, form: string): { item: string; created: number; author: string; values: Values }[] {
  return d.items
    .filter((i) => i.form === form)
    .map((i) => ({ item: i.item, created: i.created, author: i.author, values: formValues(d, form, i.item) }));
}
