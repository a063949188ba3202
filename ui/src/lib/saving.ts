// What a save callback gives back to the form renderer: the library's
// field errors, or a rule violation / other refusal as a form-level error.
import { toUiError } from './api';
import { errorText, violationText } from './errors';
import type { FieldErrorDto } from './bindings/FieldErrorDto';

/** Run `op`; on failure turn the command error into errors the form shows. */
export async function asFieldErrors(op: () => Promise<unknown>): Promise<FieldErrorDto[]> {
  try {
    await op();
    return [];
  } catch (e) {
    const err = toUiError(e);
    if (err.code === 'invalid' && err.fields.length) return err.fields;
    if (err.violations.length) return err.violations.map((v) => ({ field: '', code: v.rule, message: `${v.rule}: ${violationText(v)}` }));
    return [{ field: '', code: err.code, message: errorText(err) }];
  }
}
