// Generated from src-tauri/src/command_table.rs by `cargo test -p fieldcase-desktop`.
// Do not edit: change the table, and the command, instead.
import { Channel, invoke } from '@tauri-apps/api/core';
import type { ActorDto } from './ActorDto';
import type { AttachmentData } from './AttachmentData';
import type { AuditDto } from './AuditDto';
import type { CaseChoice } from './CaseChoice';
import type { CaseDetailDto } from './CaseDetailDto';
import type { CaseRequestEntry } from './CaseRequestEntry';
import type { CaseRow } from './CaseRow';
import type { ConflictEntry } from './ConflictEntry';
import type { DeviceEntry } from './DeviceEntry';
import type { DuplicateEntry } from './DuplicateEntry';
import type { EnrollmentRequestView } from './EnrollmentRequestView';
import type { FieldErrorDto } from './FieldErrorDto';
import type { FolderView } from './FolderView';
import type { FormDefDto } from './FormDefDto';
import type { FoundFile } from './FoundFile';
import type { ImportOutcome } from './ImportOutcome';
import type { InquiryDto } from './InquiryDto';
import type { InquiryListDto } from './InquiryListDto';
import type { InquiryMatchesDto } from './InquiryMatchesDto';
import type { NewInquiryDto } from './NewInquiryDto';
import type { NewVault } from './NewVault';
import type { PartnerDue } from './PartnerDue';
import type { PartnerEntry } from './PartnerEntry';
import type { PartnerImported } from './PartnerImported';
import type { PassphraseCheck } from './PassphraseCheck';
import type { QuarantineEntry } from './QuarantineEntry';
import type { ReceivedRequestEntry } from './ReceivedRequestEntry';
import type { RefusedChange } from './RefusedChange';
import type { ReportView } from './ReportView';
import type { RequestKindEntry } from './RequestKindEntry';
import type { RequestPreviewDto } from './RequestPreviewDto';
import type { SearchHitDto } from './SearchHitDto';
import type { SentRequestDto } from './SentRequestDto';
import type { SentTransfer } from './SentTransfer';
import type { SyncOverview } from './SyncOverview';
import type { SyncPlace } from './SyncPlace';
import type { SyncProgress } from './SyncProgress';
import type { TaskDto } from './TaskDto';
import type { TraceMatchDto } from './TraceMatchDto';
import type { TransferAnswered } from './TransferAnswered';
import type { UnlockedInfo } from './UnlockedInfo';
import type { VaultInfo } from './VaultInfo';
import type { WrittenFile } from './WrittenFile';

export type { Channel };

/** Every command: the arguments the window sends and what it gets back. */
export type Commands = {
  vault_info: { args: {}; result: VaultInfo };
  unlock: { args: { passphrase: string }; result: UnlockedInfo };
  check_passphrase: { args: { passphrase: string; userName: string }; result: PassphraseCheck };
  create_vault: { args: { new: NewVault }; result: UnlockedInfo };
  lock: { args: {}; result: void };
  get_actor: { args: {}; result: ActorDto };
  switch_person: { args: { user: string; passphrase: string }; result: ActorDto };
  add_person: { args: { user: string; role: string; passphrase: string }; result: void };
  form_definitions: { args: {}; result: Array<FormDefDto> };
  list_cases: { args: {}; result: Array<CaseRow> };
  case_detail: { args: { case: string }; result: CaseDetailDto };
  create_case: { args: { caseType: string; office: string }; result: string };
  save_form: { args: { case: string; form: string; item: string | null; values: Record<string, unknown> }; result: string | null };
  validate_form: { args: { case: string; form: string; values: Record<string, unknown>; complete: boolean }; result: Array<FieldErrorDto> };
  change_stage: { args: { case: string; to: string; reason: string }; result: void };
  add_note: { args: { case: string; values: Record<string, unknown> }; result: string };
  record_visit: { args: { case: string; values: Record<string, unknown> }; result: string };
  make_referral: { args: { case: string; values: Record<string, unknown> }; result: string };
  assign_case: { args: { case: string; caseworker: string }; result: void };
  assign_cases: { args: { cases: Array<string>; to: string }; result: number };
  reassign_all: { args: { from: string; to: string }; result: number };
  request_erasure: { args: { case: string; reason: string }; result: void };
  approve_erasure: { args: { case: string }; result: void };
  case_history: { args: { case: string }; result: Array<AuditDto> };
  all_tasks: { args: {}; result: Array<TaskDto> };
  add_attachment: { args: { case: string; name: string; mime: string; base64: string }; result: string };
  get_attachment: { args: { blob: string; mime: string }; result: AttachmentData };
  choose_path: { args: { kind: string; fileName: string | null; start: string | null }; result: string | null };
  add_attachment_file: { args: { case: string }; result: string | null };
  sync_overview: { args: {}; result: SyncOverview };
  sync_folder_status: { args: {}; result: FolderView };
  sync_folder_set: { args: { path: string | null }; result: FolderView };
  sync_folder_now: { args: {}; result: FolderView };
  sync_places: { args: {}; result: Array<SyncPlace> };
  sync_find_files: { args: { kind: string; extra: string | null }; result: Array<FoundFile> };
  sync_export: { args: { path: string; progress: Channel<SyncProgress> }; result: WrittenFile };
  sync_preview_import: { args: { path: string; progress: Channel<SyncProgress> }; result: ImportOutcome };
  sync_apply_import: { args: { path: string; progress: Channel<SyncProgress> }; result: ImportOutcome };
  sync_cancel_import: { args: {}; result: void };
  sync_answer_transfer: { args: { path: string; accept: boolean; reason: string | null; receipt: string; progress: Channel<SyncProgress> }; result: TransferAnswered };
  sync_enrollment_request: { args: { path: string }; result: WrittenFile };
  office_devices: { args: {}; result: Array<DeviceEntry> };
  office_read_request: { args: { path: string }; result: EnrollmentRequestView };
  office_approve: { args: { request: string; role: string; additionalDeviceOf: string | null; out: string; progress: Channel<SyncProgress> }; result: WrittenFile };
  office_revoke: { args: { device: string }; result: void };
  office_export_for_device: { args: { device: string; path: string; progress: Channel<SyncProgress> }; result: WrittenFile };
  office_conflicts: { args: {}; result: Array<ConflictEntry> };
  office_resolve_conflict: { args: { case: string; form: string; item: string | null; field: string; event: string }; result: void };
  office_case_choices: { args: {}; result: Array<CaseChoice> };
  office_transfer: { args: { case: string; toRecipient: string; toKey: string; path: string; progress: Channel<SyncProgress> }; result: WrittenFile };
  office_transfers: { args: {}; result: Array<SentTransfer> };
  office_quarantine: { args: {}; result: Array<QuarantineEntry> };
  office_quarantine_retry: { args: { event: string }; result: boolean };
  office_quarantine_discard: { args: { event: string; reason: string }; result: void };
  sync_refused: { args: {}; result: Array<RefusedChange> };
  office_duplicates: { args: {}; result: Array<DuplicateEntry> };
  office_not_duplicate: { args: { case: string; other: string }; result: void };
  office_merge: { args: { duplicate: string; into: string }; result: void };
  partner_list: { args: {}; result: Array<PartnerEntry> };
  partner_kinds: { args: {}; result: Array<RequestKindEntry> };
  partner_preview: { args: { case: string; kind: string; about: string | null }; result: RequestPreviewDto };
  partner_send: { args: { case: string; kind: string; about: string | null; partner: string; path: string | null; progress: Channel<SyncProgress> }; result: SentRequestDto };
  partner_case_requests: { args: { case: string }; result: Array<CaseRequestEntry> };
  partner_withdraw: { args: { request: string; reason: string; path: string | null; progress: Channel<SyncProgress> }; result: WrittenFile | null };
  partner_record_answer: { args: { request: string; by: string; values: unknown }; result: void };
  partner_import: { args: { path: string; dryRun: boolean; receipt: string | null; progress: Channel<SyncProgress> }; result: PartnerImported };
  partner_received: { args: {}; result: Array<ReceivedRequestEntry> };
  partner_answer: { args: { request: string; values: unknown; path: string; progress: Channel<SyncProgress> }; result: WrittenFile };
  partner_receipt: { args: { request: string; path: string; progress: Channel<SyncProgress> }; result: WrittenFile };
  partner_calendar: { args: {}; result: Array<PartnerDue> };
  report_compute: { args: { from: string; to: string; office: string | null; suppress: boolean }; result: ReportView };
  report_export_csv: { args: { from: string; to: string; office: string | null; dir: string }; result: Array<string> };
  search_cases: { args: { query: string }; result: Array<SearchHitDto> };
  trace_case: { args: { caseId: string }; result: Array<TraceMatchDto> };
  inquiry_list: { args: {}; result: InquiryListDto };
  inquiry_create: { args: { office: string; values: Record<string, unknown> }; result: NewInquiryDto };
  inquiry_update: { args: { inquiry: string; values: Record<string, unknown> }; result: InquiryDto };
  inquiry_get: { args: { inquiry: string }; result: InquiryDto };
  inquiry_matches: { args: { inquiry: string }; result: InquiryMatchesDto };
};

/** The command names, in the table's order. */
export const commandNames = [
  'vault_info',
  'unlock',
  'check_passphrase',
  'create_vault',
  'lock',
  'get_actor',
  'switch_person',
  'add_person',
  'form_definitions',
  'list_cases',
  'case_detail',
  'create_case',
  'save_form',
  'validate_form',
  'change_stage',
  'add_note',
  'record_visit',
  'make_referral',
  'assign_case',
  'assign_cases',
  'reassign_all',
  'request_erasure',
  'approve_erasure',
  'case_history',
  'all_tasks',
  'add_attachment',
  'get_attachment',
  'choose_path',
  'add_attachment_file',
  'sync_overview',
  'sync_folder_status',
  'sync_folder_set',
  'sync_folder_now',
  'sync_places',
  'sync_find_files',
  'sync_export',
  'sync_preview_import',
  'sync_apply_import',
  'sync_cancel_import',
  'sync_answer_transfer',
  'sync_enrollment_request',
  'office_devices',
  'office_read_request',
  'office_approve',
  'office_revoke',
  'office_export_for_device',
  'office_conflicts',
  'office_resolve_conflict',
  'office_case_choices',
  'office_transfer',
  'office_transfers',
  'office_quarantine',
  'office_quarantine_retry',
  'office_quarantine_discard',
  'sync_refused',
  'office_duplicates',
  'office_not_duplicate',
  'office_merge',
  'partner_list',
  'partner_kinds',
  'partner_preview',
  'partner_send',
  'partner_case_requests',
  'partner_withdraw',
  'partner_record_answer',
  'partner_import',
  'partner_received',
  'partner_answer',
  'partner_receipt',
  'partner_calendar',
  'report_compute',
  'report_export_csv',
  'search_cases',
  'trace_case',
  'inquiry_list',
  'inquiry_create',
  'inquiry_update',
  'inquiry_get',
  'inquiry_matches',
] as const satisfies readonly (keyof Commands)[];

/** Commands that take no arguments. */
type NoArgs = { [K in keyof Commands]: keyof Commands[K]['args'] extends never ? K : never }[keyof Commands];

/** Invoke a command with its typed arguments; a failure rejects with the command's UiError. */
export function call<K extends NoArgs>(name: K): Promise<Commands[K]['result']>;
export function call<K extends keyof Commands>(name: K, args: Commands[K]['args']): Promise<Commands[K]['result']>;
export function call<K extends keyof Commands>(name: K, args?: Commands[K]['args']): Promise<Commands[K]['result']> {
  return invoke<Commands[K]['result']>(name, args);
}
