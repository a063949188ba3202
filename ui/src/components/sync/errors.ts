// One line for a failed sync command: a refused bundle says so and gives the
// library's reason (which says what to do); other errors use a translated
// message when there is one for their code.
import type { UiError } from '../../lib/bindings/UiError';
import { toUiError } from '../../lib/api';
import { hasMessage } from '../../lib/i18n/messages';
import { t } from '../../lib/i18n/index.svelte';

export function syncErrorText(e: unknown): string {
  const err: UiError = toUiError(e);
  if (err.code.startsWith('bundle_') || err.code === 'not_enrolled') {
    return t('sync.refused', { reason: err.message });
  }
  for (const key of [`sync.error.${err.code}`, `error.${err.code}`]) {
    if (hasMessage('en', key)) return `${t(key)} (${err.message})`;
  }
  return err.message;
}
