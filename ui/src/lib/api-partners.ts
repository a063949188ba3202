// Typed wrappers around the partner-request commands
// (src-tauri/src/partner_commands.rs): requests to partners abroad, their
// receipts and answers (docs/bundle-format.md §11).
import { Channel } from '@tauri-apps/api/core';
import { call } from './bindings/commands';
import type { CaseRequestEntry } from './bindings/CaseRequestEntry';
import type { PartnerDue } from './bindings/PartnerDue';
import type { PartnerEntry } from './bindings/PartnerEntry';
import type { PartnerImported } from './bindings/PartnerImported';
import type { ReceivedRequestEntry } from './bindings/ReceivedRequestEntry';
import type { RequestKindEntry } from './bindings/RequestKindEntry';
import type { RequestPreviewDto } from './bindings/RequestPreviewDto';
import type { SentRequestDto } from './bindings/SentRequestDto';
import type { SharedEntry } from './bindings/SharedEntry';
import type { SyncProgress } from './bindings/SyncProgress';
import type { WrittenFile } from './bindings/WrittenFile';
import type { Values } from './forms';

export type {
  CaseRequestEntry,
  PartnerDue,
  PartnerEntry,
  PartnerImported,
  ReceivedRequestEntry,
  RequestKindEntry,
  RequestPreviewDto,
  SentRequestDto,
  SharedEntry,
};

function channel(): Channel<SyncProgress> {
  return new Channel<SyncProgress>();
}

export const partnerApi = {
  partners: () => call('partner_list'),
  kinds: () => call('partner_kinds'),
  preview: (caseId: string, kind: string, about: string | null) =>
    call('partner_preview', { case: caseId, kind, about }),
  send: (r: { caseId: string; kind: string; about: string | null; partner: string; path: string | null }) =>
    call('partner_send', {
      case: r.caseId,
      kind: r.kind,
      about: r.about,
      partner: r.partner,
      path: r.path,
      progress: channel(),
    }),
  caseRequests: (caseId: string) => call('partner_case_requests', { case: caseId }),
  withdraw: (request: string, reason: string, path: string | null) =>
    call('partner_withdraw', { request, reason, path, progress: channel() }),
  recordAnswer: (request: string, by: string, values: Values) =>
    call('partner_record_answer', { request, by, values }),
  importBundle: (path: string, dryRun: boolean, receipt: string | null) =>
    call('partner_import', { path, dryRun, receipt, progress: channel() }),
  received: () => call('partner_received'),
  answer: (request: string, values: Values, path: string) =>
    call('partner_answer', { request, values, path, progress: channel() }),
  calendar: () => call('partner_calendar'),
  receipt: (request: string, path: string) =>
    call('partner_receipt', { request, path, progress: channel() }),
};

export type PartnerApi = typeof partnerApi;
