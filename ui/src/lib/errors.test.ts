import { describe, expect, it } from 'vitest';
import { errorText, violationDetail, violationText } from './errors';
import { setLocale } from './i18n/index.svelte';
import { rememberFieldLabels } from './formcache';
import type { FormDefDto } from './bindings/FormDefDto';
import type { UiError } from './bindings/UiError';
import errorCodes from './bindings/error-codes.json';
import refusalCodes from './bindings/refusal-codes.json';
import violationCodes from './bindings/violation-codes.json';
import { placeholderNames, template } from './i18n/messages';

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

  it('says a broken rule and what failed in the reader’s language, from the violation’s code', () => {
    const v = {
      rule: 'assignment',
      code: 'caseworker_takes_own_case',
      params: { role: 'caseworker' },
      message: 'a caseworker takes only a case they registered that nobody else is assigned to; …',
    };
    setLocale('fr');
    expect(violationText(v)).toBe(
      'Un travailleur social ne prend qu’un dossier qu’il a enregistré et que personne d’autre n’a ; un superviseur ou le bureau attribue tout autre dossier (le rôle Travailleur social ne prend qu’un dossier qu’il a enregistré et que personne d’autre n’a ; un superviseur ou le bureau attribue tout autre dossier)',
    );
    const r11 = { rule: 'R11', code: 'closure_reason_missing', params: {}, message: 'the closure reason is not recorded (closure form)' };
    expect(violationText(r11)).toBe('le motif de clôture n’est pas enregistré (formulaire de clôture)');
    setLocale('ar');
    expect(violationText(r11)).toBe('سبب الإغلاق غير مسجّل (استمارة الإغلاق)');
    setLocale('en');
    expect(violationText(r11)).toBe('the closure reason is not recorded (closure form)');
  });

  it('shows stages, roles and actions in a violation as their labels', () => {
    const moving = {
      rule: 'role',
      code: 'transition_role',
      params: { from: 'bid_pending', to: 'bid_decided', roles: 'bid_panel or supervisor', role: 'caseworker' },
      message: 'moving bid_pending → bid_decided is for a bid_panel or supervisor, not a caseworker',
    };
    setLocale('fr');
    expect(violationDetail(moving)).toBe(
      'le passage de DIS en attente à DIS décidée revient au rôle Comité DIS ou Superviseur, pas au rôle Travailleur social',
    );
    const closed = { rule: 'closed', code: 'case_read_only', params: { stage: 'closed', action: 'add_note' }, message: '…' };
    expect(violationDetail(closed)).toContain('(ajouter une note)');
    setLocale('ar');
    expect(violationDetail(closed)).toContain('(إضافة ملاحظة)');
    setLocale('en');
  });

  it('names the fields a rule asks for by their labels once the forms are loaded', () => {
    const required = {
      rule: 'R2',
      code: 'required_before_stage',
      params: { to: 'bia_completed', fields: 'registration_bia.sex, registration_bia.not_a_field' },
      message: 'before bia_completed, record: registration_bia.sex, registration_bia.not_a_field',
    };
    setLocale('fr');
    // Before the definitions are loaded: the library's names.
    expect(violationDetail(required)).toContain('registration_bia.sex, registration_bia.not_a_field');
    const field = (name: string, en: string, fr: string, ar: string) =>
      ({ name, labels: { en, fr, ar } }) as unknown as FormDefDto['fields'][number];
    rememberFieldLabels([
      { id: 'registration_bia', fields: [field('sex', 'Sex', 'Sexe', 'الجنس')] } as unknown as FormDefDto,
    ]);
    // Then the label in the reader's language; an unknown field keeps its name.
    expect(violationDetail(required)).toContain('Sexe, registration_bia.not_a_field');
    expect(violationDetail(required)).not.toContain('registration_bia.sex');
    setLocale('ar');
    expect(violationDetail(required)).toContain('الجنس');
    setLocale('en');
    expect(violationDetail(required)).toContain('Sex, registration_bia.not_a_field');
  });

  it('falls back to the library’s English for a violation without a known code', () => {
    expect(violationText({ rule: 'R1a', code: '', params: {}, message: 'no return without a verified relative' })).toBe(
      'no return without a verified relative',
    );
    expect(violationText({ rule: 'R1a', code: 'from_a_newer_peer', params: {}, message: 'newer text' })).toBe('newer text');
  });
});

describe('rule violation codes', () => {
  // violation-codes.json is written by the desktop crate's tests from the
  // library's table (model::violation): every code with the parameters it
  // gives, and the codes of the `action` parameter.
  const list = violationCodes as { codes: Record<string, string[]>; actions: string[] };

  it('lists the library’s codes', () => {
    expect(list.codes.closure_reason_missing).toEqual([]);
    expect(list.codes.role_may_not).toEqual(['role', 'action']);
    expect(list.actions).toContain('register_case');
  });

  it('has a message for every code in every language, using only the code’s parameters', () => {
    for (const [code, params] of Object.entries(list.codes)) {
      for (const l of ['en', 'fr', 'ar'] as const) {
        const text = template(l, `violation.${code}`);
        expect(text, `violation.${code} in ${l}`).toBeDefined();
        for (const name of placeholderNames(text ?? '')) {
          expect(params.includes(name), `violation.${code} in ${l} uses {${name}}, which ${code} does not give`).toBe(
            true,
          );
        }
      }
    }
  });

  it('names every attempted action in every language', () => {
    for (const action of list.actions) {
      for (const l of ['en', 'fr', 'ar'] as const) {
        expect(template(l, `violation.action.${action}`), `${action} in ${l}`).toBeDefined();
      }
    }
  });
});

describe('error codes', () => {
  // error-codes.json is written by the desktop crate's tests from the
  // library's and the shell's code tables: every code the window can get.
  const codes = errorCodes as Record<string, string[]>;

  it('lists the codes of the library and the shell', () => {
    expect(Object.keys(codes)).toContain('bundle_bad_signature');
    expect(Object.keys(codes)).toContain('locked');
    expect(codes.bundle_unsupported_version).toEqual(['major']);
  });

  it('has a message for every code in every language, using only the code’s parameters', () => {
    for (const [code, params] of Object.entries(codes)) {
      // errorText adds `why`, the translated reason, when there is a reason.
      const given = new Set([...params, ...(params.includes('reason') ? ['why'] : [])]);
      for (const l of ['en', 'fr', 'ar'] as const) {
        const text = template(l, `error.${code}`);
        expect(text, `error.${code} in ${l}`).toBeDefined();
        for (const name of placeholderNames(text ?? '')) {
          expect(given.has(name), `error.${code} in ${l} uses {${name}}, which ${code} does not give`).toBe(true);
        }
      }
    }
  });

  it('translates a refused bundle with its values', () => {
    setLocale('fr');
    expect(errorText(err('bundle_unsupported_version', { major: '9' }))).toContain('version de format 9');
    setLocale('ar');
    expect(errorText(err('bundle_event_malformed', { line: '12' }))).toContain('12');
    setLocale('en');
  });
});

describe('quarantine refusal codes', () => {
  it('names every reason a held change was refused, in every language', () => {
    expect(refusalCodes).toContain('depends_on_refused');
    for (const code of refusalCodes as string[]) {
      for (const l of ['en', 'fr', 'ar'] as const) {
        expect(template(l, `office.quarantine.code.${code}`), `${code} in ${l}`).toBeDefined();
      }
    }
  });
});
