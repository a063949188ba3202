import { describe, expect, it } from 'vitest';
import { errorText, violationText } from './errors';
import { setLocale } from './i18n/index.svelte';
import type { UiError } from './bindings/UiError';

const err = (code: string, params: Record<string, string>, message = 'English text'): UiError => ({
  code,
  message,
  fields: [],
  violations: [],
  params,
});

describe('errorText', () => {
  it('says why a case is hidden in the reader’s language', () => {
    const hidden = err('hidden', { case: 'x', reason: 'not_assigned' });
    setLocale('en');
    expect(errorText(hidden)).toBe('This case is not open to you: a caseworker sees only the cases assigned to them.');
    setLocale('fr');
    expect(errorText(hidden)).toBe(
      'Ce dossier ne vous est pas ouvert : un travailleur social ne voit que les dossiers qui lui sont attribués.',
    );
    setLocale('ar');
    expect(errorText(hidden)).toContain('لا يرى أخصائي الحالة إلا الحالات المسندة إليه');
    setLocale('en');
  });

  it('names a refused role with its translated name', () => {
    setLocale('fr');
    expect(errorText(err('forbidden', { role: 'bid_panel', action: 'register a case' }))).toBe(
      'Votre rôle (Comité DIS) ne permet pas cette action.',
    );
    setLocale('en');
  });

  it('falls back to the library’s message for a code without a translation', () => {
    expect(errorText(err('store_error', {}, 'database error: x'))).toBe('database error: x');
  });

  it('translates a broken rule it knows and keeps the library’s detail', () => {
    const v = { rule: 'assignment', message: 'a caseworker takes only a case they registered' };
    setLocale('fr');
    expect(violationText(v)).toBe(
      'Un travailleur social ne prend qu’un dossier qu’il a enregistré et que personne d’autre n’a ; un superviseur ou le bureau attribue tout autre dossier (a caseworker takes only a case they registered)',
    );
    setLocale('en');
    expect(violationText({ rule: 'R1a', message: 'no return without a verified relative' })).toBe(
      'no return without a verified relative',
    );
  });
});
