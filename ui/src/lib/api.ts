// Typed wrappers around the desktop's case commands (src-tauri/src/commands.rs).
// The record types are generated from the Rust DTOs by ts-rs into
// ./bindings/ (cargo test -p fieldcase-desktop writes them; make desktop-test
// fails when they are stale), so these wrappers cannot drift from the shell.
import { invoke } from '@tauri-apps/api/core';
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
  vaultInfo: () => invoke<VaultInfo>('vault_info'),
  unlock: (passphrase: string) => invoke<UnlockedInfo>('unlock', { passphrase }),
  checkPassphrase: (passphrase: string, userName: string) =>
    invoke<PassphraseCheck>('check_passphrase', { passphrase, userName }),
  createVault: (vault: NewVault) => invoke<UnlockedInfo>('create_vault', { new: vault }),
  lock: () => invoke<void>('lock'),
  getActor: () => invoke<ActorDto>('get_actor'),
  switchPerson: (user: string, passphrase: string) => invoke<ActorDto>('switch_person', { user, passphrase }),
  addPerson: (user: string, role: string, passphrase: string) =>
    invoke<void>('add_person', { user, role, passphrase }),
  formDefinitions: () => invoke<FormDefDto[]>('form_definitions'),
  listCases: () => invoke<CaseRow[]>('list_cases'),
  caseDetail: (caseId: string) => invoke<CaseDetailDto>('case_detail', { case: caseId }),
  createCase: (caseType: string, office: string) => invoke<string>('create_case', { caseType, office }),
  saveForm: (caseId: string, form: string, item: string | null, values: Values) =>
    invoke<string | null>('save_form', { case: caseId, form, item, values }),
  validateForm: (caseId: string, form: string, values: Values, complete: boolean) =>
    invoke<FieldErrorDto[]>('validate_form', { case: caseId, form, values, complete }),
  changeStage: (caseId: string, to: string, reason: string) => invoke<void>('change_stage', { case: caseId, to, reason }),
  addNote: (caseId: string, values: Values) => invoke<string>('add_note', { case: caseId, values }),
  recordVisit: (caseId: string, values: Values) => invoke<string>('record_visit', { case: caseId, values }),
  makeReferral: (caseId: string, values: Values) => invoke<string>('make_referral', { case: caseId, values }),
  assignCase: (caseId: string, caseworker: string) => invoke<void>('assign_case', { case: caseId, caseworker }),
  assignCases: (cases: string[], to: string) => invoke<number>('assign_cases', { cases, to }),
  reassignAll: (from: string, to: string) => invoke<number>('reassign_all', { from, to }),
  // Erasure: one person requests, another in the other role approves.
  requestErasure: (caseId: string, reason: string) => invoke<void>('request_erasure', { case: caseId, reason }),
  approveErasure: (caseId: string) => invoke<void>('approve_erasure', { case: caseId }),
  caseHistory: (caseId: string) => invoke<AuditDto[]>('case_history', { case: caseId }),
  allTasks: () => invoke<TaskDto[]>('all_tasks'),
  addAttachment: (caseId: string, name: string, mime: string, base64: string) =>
    invoke<string>('add_attachment', { case: caseId, name, mime, base64 }),
  getAttachment: (blob: string, mime: string) => invoke<AttachmentData>('get_attachment', { blob, mime }),
  // Search and tracing (src-tauri/src/search_commands.rs).
  searchCases: (query: string) => invoke<SearchHitDto[]>('search_cases', { query }),
  traceCase: (caseId: string) => invoke<TraceMatchDto[]>('trace_case', { caseId }),
};

export type Api = typeof api;
