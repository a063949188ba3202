// Typed wrappers around the sync and office commands
// (src-tauri/src/sync_commands/). The record types are generated from the
// Rust DTOs (src-tauri/src/sync_dto.rs) by ts-rs into ./bindings/.
import { Channel } from '@tauri-apps/api/core';
import { call } from './bindings/commands';
import type { CaseChoice } from './bindings/CaseChoice';
import type { ConflictEntry } from './bindings/ConflictEntry';
import type { ConflictHead } from './bindings/ConflictHead';
import type { DeviceEntry } from './bindings/DeviceEntry';
import type { DuplicateEntry } from './bindings/DuplicateEntry';
import type { EnrollmentRequestView } from './bindings/EnrollmentRequestView';
import type { FolderFileView } from './bindings/FolderFileView';
import type { FolderImportView } from './bindings/FolderImportView';
import type { FolderView } from './bindings/FolderView';
import type { FoundFile } from './bindings/FoundFile';
import type { ImportOutcome } from './bindings/ImportOutcome';
import type { PreviewCase } from './bindings/PreviewCase';
import type { PreviewConflict } from './bindings/PreviewConflict';
import type { QuarantineEntry } from './bindings/QuarantineEntry';
import type { RefusedChange } from './bindings/RefusedChange';
import type { SentTransfer } from './bindings/SentTransfer';
import type { SyncOverview } from './bindings/SyncOverview';
import type { SyncPlace } from './bindings/SyncPlace';
import type { SyncProgress } from './bindings/SyncProgress';
import type { TransferAnswered } from './bindings/TransferAnswered';
import type { WrittenFile } from './bindings/WrittenFile';

export type {
  CaseChoice,
  ConflictEntry,
  ConflictHead,
  DeviceEntry,
  DuplicateEntry,
  EnrollmentRequestView,
  FolderFileView,
  FolderImportView,
  FolderView,
  FoundFile,
  ImportOutcome,
  PreviewCase,
  QuarantineEntry,
  RefusedChange,
  PreviewConflict,
  SentTransfer,
  SyncOverview,
  SyncPlace,
  SyncProgress,
  TransferAnswered,
  WrittenFile,
};

/** Called with each progress report of a long bundle operation. */
export type OnProgress = (p: SyncProgress) => void;

function channel(onProgress?: OnProgress): Channel<SyncProgress> {
  const c = new Channel<SyncProgress>();
  c.onmessage = (p) => onProgress?.(p);
  return c;
}

export const syncApi = {
  overview: () => call('sync_overview'),
  places: () => call('sync_places'),
  findFiles: (kind: 'bundle' | 'request', extra?: string) =>
    call('sync_find_files', { kind, extra: extra ?? null }),
  exportForOffice: (path: string, onProgress?: OnProgress) =>
    call('sync_export', { path, progress: channel(onProgress) }),
  previewImport: (path: string, onProgress?: OnProgress) =>
    call('sync_preview_import', { path, progress: channel(onProgress) }),
  applyImport: (path: string, onProgress?: OnProgress) =>
    call('sync_apply_import', { path, progress: channel(onProgress) }),
  cancelImport: () => call('sync_cancel_import'),
  /** Office: accept (or refuse, with a reason) the transfer previewed last; the receipt goes to `receipt`. */
  answerTransfer: (path: string, accept: boolean, reason: string | null, receipt: string, onProgress?: OnProgress) =>
    call('sync_answer_transfer', { path, accept, reason, receipt, progress: channel(onProgress) }),
  enrollmentRequest: (path: string) => call('sync_enrollment_request', { path }),
  devices: () => call('office_devices'),
  readRequest: (path: string) => call('office_read_request', { path }),
  approve: (request: string, role: string, out: string, additionalDeviceOf?: string, onProgress?: OnProgress) =>
    call('office_approve', {
      request,
      role,
      additionalDeviceOf: additionalDeviceOf ?? null,
      out,
      progress: channel(onProgress),
    }),
  revoke: (device: string) => call('office_revoke', { device }),
  exportForDevice: (device: string, path: string, onProgress?: OnProgress) =>
    call('office_export_for_device', { device, path, progress: channel(onProgress) }),
  conflicts: () => call('office_conflicts'),
  resolveConflict: (c: { case: string; form: string; item: string | null; field: string; event: string }) =>
    call('office_resolve_conflict', c),
  caseChoices: () => call('office_case_choices'),
  transfer: (c: { case: string; toRecipient: string; toKey: string; path: string }, onProgress?: OnProgress) =>
    call('office_transfer', { ...c, progress: channel(onProgress) }),
  transfers: () => call('office_transfers'),
  quarantine: () => call('office_quarantine'),
  retryHeld: (event: string) => call('office_quarantine_retry', { event }),
  discardHeld: (event: string, reason: string) => call('office_quarantine_discard', { event, reason }),
  refused: () => call('sync_refused'),
  duplicates: () => call('office_duplicates'),
  merge: (duplicate: string, into: string) => call('office_merge', { duplicate, into }),
  notDuplicate: (caseId: string, other: string) => call('office_not_duplicate', { case: caseId, other }),
  folderStatus: () => call('sync_folder_status'),
  folderSet: (path: string | null) => call('sync_folder_set', { path }),
  folderNow: () => call('sync_folder_now'),
};

export type SyncApi = typeof syncApi;

/** Join a folder and a file name with one slash. */
export function joinPath(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/** A 0..1 fraction for a progress bar, or null when unknown (indeterminate). */
export function progressFraction(p: SyncProgress | null): number | null {
  if (!p) return null;
  if (p.stage === 'events' && p.total > 0) return Math.min(1, p.done / p.total);
  if (p.stage === 'committing') return 1;
  return null;
}
