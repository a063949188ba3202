// One line for a failed sync command, in the reader's language: a refused
// bundle says so and gives its reason, translated from the refusal's code
// (`error.<code>` with its parameters); other errors use a sync-specific
// message when there is one, else the code's message.
import type { UiError } from '../../lib/bindings/UiError';
import type { FolderFileView } from '../../lib/bindings/FolderFileView';
import { toUiError } from '../../lib/api';
import { errorText } from '../../lib/errors';
import { hasMessage } from '../../lib/i18n/messages';
import { t } from '../../lib/i18n/index.svelte';

export function syncErrorText(e: unknown): string {
  const err: UiError = toUiError(e);
  const text = errorText(err);
  if (err.code.startsWith('bundle_') || err.code === 'not_enrolled') {
    return t('sync.refused', { reason: text });
  }
  if (hasMessage('en', `sync.error.${err.code}`)) return t(`sync.error.${err.code}`);
  return text;
}

/** Why a file of the sync folder was refused, translated from its code. */
export function folderFileText(f: FolderFileView): string {
  if (!f.code) return f.reason; // remembered before refusals kept a code
  return errorText({ code: f.code, message: f.reason, params: f.params, fields: [], violations: [] });
}
