// Generated from the library's lists (src/model) by `cargo test -p fieldcase-desktop`
// (src-tauri/src/domain_ts.rs). Do not edit.
import type { Role } from './Role';
import type { Stage } from './Stage';

export type { Role, Stage };

/** Every role, in the library's order (Role::ALL). */
export const ROLES = [
  'caseworker',
  'supervisor',
  'bid_panel',
  'data_manager',
  'viewer',
] as const satisfies readonly Role[];

/** Every stage, in lifecycle order (Stage::ALL). */
export const STAGES = [
  'identified',
  'registered',
  'bia_in_progress',
  'bia_completed',
  'tracing',
  'family_assessment',
  'verification',
  'bid_pending',
  'bid_decided',
  'solution_in_progress',
  'reintegration',
  'follow_up',
  'closure_pending',
  'closed',
  'suspended_lost_contact',
  'transferred_out',
  'duplicate',
  'reopened',
] as const satisfies readonly Stage[];

/** Stages in which a case takes no new data (Stage::is_read_only). */
export const READ_ONLY_STAGES: readonly Stage[] = [
  'closed',
  'transferred_out',
  'duplicate',
];

/** The BID form's fields only the panel records (lifecycle::BID_DECISION_FIELDS). */
export const BID_DECISION_FIELDS: readonly string[] = [
  'panel_date',
  'panel_members',
  'panel_decision',
  'decided_solution',
  'decision_reasons',
  'dissent',
  'follow_up_actions',
  'chair_signature',
];

/** Whether a case in this stage takes no new data. */
export function isReadOnlyStage(stage: string): boolean {
  return (READ_ONLY_STAGES as readonly string[]).includes(stage);
}

/** Whether a string is one of the roles. */
export function isRole(role: string): role is Role {
  return (ROLES as readonly string[]).includes(role);
}
