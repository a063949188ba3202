// Typed wrappers around the desktop's case commands (src-tauri/src/commands.rs).
// Each goes through `call` of ./bindings/commands.ts, generated from the
// command table (src-tauri/src/command_table.rs): names and arguments are
// type-checked against it.
// The record types are generated from the Rust DTOs by ts-rs into
// ./bindings/ (cargo test -p fieldcase-desktop writes them; make desktop-test
// fails when they are stale), so these wrappers cannot drift from the shell.
import { call } from './bindings/commands';
import type { ActorDto } from './bindings/ActorDto';
import type { AttachmentData } from './bindings/AttachmentData';
import type { AuditDto } from './bindings/AuditDto';
import type { CaseDetailDto } from './bindings/CaseDetailDto';
import type { CaseRow } from './bindings/CaseRow';
import type { FieldErrorDto } from './bindings/FieldErrorDto';
import type { FormDefDto } from './bindings/FormDefDto';
import type { MatchedTermDto } from './bindings/MatchedTermDto';
import type { NewVault } from './bindings/NewVault';
import type { PassphraseCheck } from './bindings/PassphraseCheck';
import type { ScorePartDto } from './bindings/ScorePartDto';
import type { SearchHitDto } from './bindings/SearchHitDto';
import type { TaskDto } from './bindings/TaskDto';
import type { TraceMatchDto } from './bindings/TraceMatchDto';
import type { UiError } from './bindings/UiError';
import type { UnlockedInfo } from './bindings/UnlockedInfo';
import type { VaultInfo } from './bindings/VaultInfo';

export type {
  ActorDto,
  AttachmentData,
  AuditDto,
  CaseDetailDto,
  CaseRow,
  FieldErrorDto,
  FormDefDto,
  MatchedTermDto,
  NewVault,
  PassphraseCheck,
  ScorePartDto,
  SearchHitDto,
  TaskDto,
  TraceMatchDto,
  UiError,
  UnlockedInfo,
  VaultInfo,
};

/** Form values as the library takes them: field name -> JSON value. */
export type Values = Record<string, unknown>;

export function isUiError(e: unknown): e is UiError {
  return typeof e === 'object' && e !== null && 'code' in e && 'message' in e;
}

/** Turn whatever a command threw into a UiError. */
export function toUiError(e: unknown): UiError {
  if (isUiError(e)) {
    return { code: e.code, message: e.message, fields: e.fields ?? [], violations: e.violations ?? [], params: e.params ?? {} };
  }
  return { code: 'internal', message: String(e), fields: [], violations: [], params: {} };
}

export const api = {
  vaultInfo: () => call('vault_info'),
  unlock: (passphrase: string) => call('unlock', { passphrase }),
  checkPassphrase: (passphrase: string, userName: string) =>
    call('check_passphrase', { passphrase, userName }),
  createVault: (vault: NewVault) => call('create_vault', { new: vault }),
  lock: () => call('lock'),
  getActor: () => call('get_actor'),
  switchPerson: (user: string, passphrase: string) => call('switch_person', { user, passphrase }),
  addPerson: (user: string, role: string, passphrase: string) =>
    call('add_person', { user, role, passphrase }),
  formDefinitions: () => call('form_definitions'),
  listCases: () => call('list_cases'),
  caseDetail: (caseId: string) => call('case_detail', { case: caseId }),
  createCase: (caseType: string, office: string) => call('create_case', { caseType, office }),
  saveForm: (caseId: string, form: string, item: string | null, values: Values) =>
    call('save_form', { case: caseId, form, item, values }),
  validateForm: (caseId: string, form: string, values: Values, complete: boolean) =>
    call('validate_form', { case: caseId, form, values, complete }),
  changeStage: (caseId: string, to: string, reason: string) => call('change_stage', { case: caseId, to, reason }),
  addNote: (caseId: string, values: Values) => call('add_note', { case: caseId, values }),
  recordVisit: (caseId: string, values: Values) => call('record_visit', { case: caseId, values }),
  makeReferral: (caseId: string, values: Values) => call('make_referral', { case: caseId, values }),
  assignCase: (caseId: string, caseworker: string) => call('assign_case', { case: caseId, caseworker }),
  assignCases: (cases: string[], to: string) => call('assign_cases', { cases, to }),
  reassignAll: (from: string, to: string) => call('reassign_all', { from, to }),
  // Erasure: one person requests, another in the other role approves.
  requestErasure: (caseId: string, reason: string) => call('request_erasure', { case: caseId, reason }),
  approveErasure: (caseId: string) => call('approve_erasure', { case: caseId }),
  caseHistory: (caseId: string) => call('case_history', { case: caseId }),
  allTasks: () => call('all_tasks'),
  addAttachment: (caseId: string, name: string, mime: string, base64: string) =>
    call('add_attachment', { case: caseId, name, mime, base64 }),
  getAttachment: (blob: string, mime: string) => call('get_attachment', { blob, mime }),
  // Search and tracing (src-tauri/src/search_commands.rs).
  searchCases: (query: string) => call('search_cases', { query }),
  traceCase: (caseId: string) => call('trace_case', { caseId }),
};

export type Api = typeof api;
