import { describe, expect, it } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import ImportSummary from './ImportSummary.svelte';
import type { ImportOutcome } from '../../lib/bindings/ImportOutcome';
import { setLocale } from '../../lib/i18n/index.svelte';
import { translate } from '../../lib/i18n/messages';

const outcome: ImportOutcome = {
  path: '/b.fcb', file_bytes: 10, dry_run: true, bundle_id: 'b', kind: 'device_to_office', sender: 's',
  sender_name: 'Amina', sender_key: 'k', sender_seq: 2, replay: false, roster_serial: null, new_cases: [],
  updated_cases: [], new_events: 1, known_events: 0, conflicts: [], transfer: null,
  suspected_duplicates: [
    {
      new_case: '0190aaaa-0000-7000-8000-000000000009', existing_case: '0190aaaa-0000-7000-8000-000000000001',
      existing_number: 'AGZ-0001', reason: 'score 7.50: same given name: abdullahi / abdoulaye (+5.0)', score: 7.5,
      parts: [{ part: 'given_name', code: 'given_name_variant', params: { a: 'abdullahi', b: 'abdoulaye' }, detail: 'English', points: 5 }],
    },
  ],
};

describe('import summary', () => {
  it('says why a new case looks like one here, from the explanation codes, in the reader’s language', () => {
    setLocale('fr');
    render(ImportSummary, { outcome });
    const line = screen.getByTestId('preview-duplicate').textContent ?? '';
    expect(line).toContain('AGZ-0001');
    expect(line).toContain(translate('fr', 'explain.given_name_variant', { a: 'abdullahi', b: 'abdoulaye' }));
    expect(line).not.toContain('English');
    setLocale('en');
  });
});
