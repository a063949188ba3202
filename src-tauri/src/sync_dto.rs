//! The records the sync and office commands ([`crate::sync_commands`]) send
//! to the UI. Like [`crate::dto`], each derives `ts_rs::TS` and is written to
//! ui/src/lib/bindings/ by `cargo test -p fieldcase-desktop`.
//!
//! Counts are `u32` and times Unix milliseconds typed `number` in TypeScript
//! (serde writes u64 as a JSON number; ts-rs would otherwise say `bigint`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::dto::{LabelsDto, UiError, ViolationDto};

macro_rules! sync_dto {
    ($item:item) => {
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
        #[ts(export, export_to = "../../ui/src/lib/bindings/")]
        $item
    };
}

sync_dto! {
/// What the Sync and Office screens show about this vault's place in the
/// office's trust roster.
pub struct SyncOverview {
    /// This vault is the country office's vault.
    pub is_office: bool,
    /// The vault holds a roster (an office, or an enrolled device).
    pub enrolled: bool,
    /// Office name from the roster.
    pub office_name: Option<String>,
    /// Office id (the office vault's device id).
    pub office_id: Option<String>,
    /// Roster serial held.
    pub roster_serial: Option<u32>,
    /// This vault's device id.
    pub device_id: String,
    /// This vault's device name.
    pub device_name: String,
    /// Its user.
    pub user_name: String,
    /// Its role (wire name).
    pub role: String,
    /// Its age recipient (bundles for it are encrypted to it).
    pub recipient: String,
    /// Its Ed25519 signing key (hex), to compare out of band.
    pub signing_key: String,
    /// A file name to suggest for the next export (`.fcb`).
    pub suggested_bundle_name: String,
}
}

sync_dto! {
/// A folder where bundles are usually written or found.
pub struct SyncPlace {
    /// Absolute path.
    pub path: String,
    /// `usb` (a mounted removable drive) or `home`.
    pub kind: String,
}
}

sync_dto! {
/// A bundle or request file found in one of the [`SyncPlace`]s.
pub struct FoundFile {
    /// Absolute path.
    pub path: String,
    /// File name.
    pub name: String,
    /// Size in bytes.
    #[ts(type = "number")]
    pub bytes: u64,
    /// Last modified, Unix milliseconds.
    #[ts(type = "number | null")]
    pub modified_millis: Option<u64>,
}
}

sync_dto! {
/// Progress of a long bundle operation, sent over a channel while it runs.
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum SyncProgress {
    /// Bytes decrypted and unpacked so far.
    Unpacked {
        /// Bytes.
        #[ts(type = "number")]
        bytes: u64,
    },
    /// Events checked so far.
    Events {
        /// Done.
        #[ts(type = "number")]
        done: u64,
        /// Of.
        #[ts(type = "number")]
        total: u64,
    },
    /// Writing the vault commit.
    Committing,
    /// Encrypting the output.
    Encrypting {
        /// Plaintext bytes.
        #[ts(type = "number")]
        bytes: u64,
    },
}
}

sync_dto! {
/// A file that was written.
pub struct WrittenFile {
    /// Absolute path.
    pub path: String,
    /// Size in bytes.
    #[ts(type = "number")]
    pub bytes: u64,
}
}

sync_dto! {
/// A case named in an import preview.
pub struct PreviewCase {
    /// Case id.
    pub id: String,
    /// Case number, when this vault already has the case.
    pub case_number: Option<String>,
    /// Child's name, when this vault already has the case.
    pub name: Option<String>,
}
}

sync_dto! {
/// A field that has (or will have) several values after the import.
pub struct PreviewConflict {
    /// Case id.
    pub case_id: String,
    /// Case number, when known here.
    pub case_number: Option<String>,
    /// Form id.
    pub form: String,
    /// Form title.
    pub form_title: Option<LabelsDto>,
    /// Field name.
    pub field: String,
    /// Field label.
    pub field_label: Option<LabelsDto>,
    /// Number of values.
    pub heads: u32,
    /// Protected: a person must choose; otherwise merged automatically.
    pub protected: bool,
}
}

sync_dto! {
/// A new case that looks like one this vault has.
pub struct PreviewDuplicate {
    /// Incoming case id.
    pub new_case: String,
    /// Existing case id.
    pub existing_case: String,
    /// Existing case number.
    pub existing_number: String,
    /// What matched, in English (the fallback).
    pub reason: String,
    /// The pair's score.
    pub score: f64,
    /// The parts of the score, each with its explanation code
    /// (`explain.<code>`), as the duplicate review shows them.
    pub parts: Vec<crate::search_commands::ScorePartDto>,
}
}

sync_dto! {
/// The case transfer or receipt a bundle carries.
pub struct PreviewTransfer {
    /// Case id.
    pub case_id: String,
    /// `requested`, `accepted` or `rejected`.
    pub status: String,
    /// Rejection reason.
    pub reason: String,
    /// The other office's signing key (hex).
    pub peer_key: String,
}
}

sync_dto! {
/// A transfer this office answered: the case taken over (or refused) and
/// the receipt written for the sending office.
pub struct TransferAnswered {
    /// Whether the case was accepted.
    pub accepted: bool,
    /// What the answer imported.
    pub outcome: ImportOutcome,
    /// The receipt for the sending office.
    pub receipt: WrittenFile,
}
}

sync_dto! {
/// What importing a bundle will change (a preview) or changed (applied).
pub struct ImportOutcome {
    /// The file.
    pub path: String,
    /// Its size.
    #[ts(type = "number")]
    pub file_bytes: u64,
    /// Nothing was written (preview).
    pub dry_run: bool,
    /// Bundle id.
    pub bundle_id: String,
    /// `device_to_office`, `office_to_device`, `enrollment`, `transfer`, `receipt`.
    pub kind: String,
    /// Sender device id.
    pub sender: String,
    /// Sender name from the roster.
    pub sender_name: String,
    /// Sender's signing key (hex); at enrollment, compare it with the office.
    pub sender_key: String,
    /// Sender's bundle sequence number.
    pub sender_seq: u32,
    /// The bundle was imported before: nothing to do.
    pub replay: bool,
    /// The roster serial after import, if the bundle carries a roster.
    pub roster_serial: Option<u32>,
    /// Cases this vault does not have.
    pub new_cases: Vec<PreviewCase>,
    /// Cases that get new events.
    pub updated_cases: Vec<PreviewCase>,
    /// Events new to this vault.
    pub new_events: u32,
    /// Events already here (skipped).
    pub known_events: u32,
    /// Fields with several values afterwards.
    pub conflicts: Vec<PreviewConflict>,
    /// New cases that look like existing ones.
    pub suspected_duplicates: Vec<PreviewDuplicate>,
    /// Transfer or receipt.
    pub transfer: Option<PreviewTransfer>,
}
}

sync_dto! {
/// An enrolled device (the office itself included).
pub struct DeviceEntry {
    /// Device id.
    pub device_id: String,
    /// Device name.
    pub name: String,
    /// Its user.
    pub user: String,
    /// Granted role.
    #[ts(as = "crate::domain_ts::RoleName")]
    pub role: String,
    /// When enrolled (RFC 3339).
    pub enrolled_at: String,
    /// When revoked (RFC 3339).
    pub revoked_at: Option<String>,
    /// This is the office vault itself.
    pub is_office: bool,
}
}

sync_dto! {
/// An enrollment request file, checked, before approval.
pub struct EnrollmentRequestView {
    /// The file.
    pub path: String,
    /// Device id.
    pub device_id: String,
    /// Device name.
    pub device_name: String,
    /// User.
    pub user: String,
    /// The role the device's vault was made with.
    #[ts(as = "crate::domain_ts::RoleName")]
    pub role: String,
    /// Its signing key (hex), to compare with the device.
    pub signing_key: String,
    /// When made (RFC 3339).
    pub created: String,
    /// Already in the roster.
    pub already_enrolled: bool,
    /// Its user name is enrolled (not revoked) under another key: approving
    /// it needs the data manager to say it is that person's other device.
    pub user_enrolled_elsewhere: bool,
}
}

sync_dto! {
/// One of a field's concurrent values.
pub struct ConflictHead {
    /// The event that wrote it (pass it back to choose this value).
    pub event: String,
    /// The value as JSON text.
    pub value_json: String,
    /// The option labels when the value is one of the field's options.
    pub value_labels: Option<LabelsDto>,
    /// When it was written, Unix milliseconds (from the event's clock).
    #[ts(type = "number")]
    pub when_millis: u64,
    /// Who wrote it.
    pub author: String,
    /// Which device.
    pub device_id: String,
    /// The device's name from the roster, when listed.
    pub device_name: Option<String>,
}
}

sync_dto! {
/// A field with several values: protected ones wait for a person,
/// normal ones were merged automatically (latest shown, all kept).
pub struct ConflictEntry {
    /// Case id.
    pub case_id: String,
    /// Case number.
    pub case_number: String,
    /// Child's name.
    pub child_name: Option<String>,
    /// Form id.
    pub form: String,
    /// Form title.
    pub form_title: Option<LabelsDto>,
    /// List item id (repeating forms).
    pub item: Option<String>,
    /// Field name.
    pub field: String,
    /// Field label.
    pub field_label: Option<LabelsDto>,
    /// Protected: needs a person.
    pub protected: bool,
    /// The value shown now (JSON text); none while it needs review.
    pub shown_json: Option<String>,
    /// The values, oldest first.
    pub heads: Vec<ConflictHead>,
}
}

sync_dto! {
/// A case the office may transfer.
pub struct CaseChoice {
    /// Case id.
    pub id: String,
    /// Case number.
    pub case_number: String,
    /// Child's name.
    pub name: Option<String>,
    /// Stage (wire name).
    #[ts(as = "crate::domain_ts::StageName")]
    pub stage: String,
}
}

sync_dto! {
/// A transfer this office sent and its state.
pub struct SentTransfer {
    /// The transfer bundle id.
    pub bundle_id: String,
    /// The case.
    pub case_id: String,
    /// Its number, when still here.
    pub case_number: Option<String>,
    /// `requested`, `accepted` or `rejected`.
    pub status: String,
    /// Rejection reason.
    pub reason: String,
}
}

sync_dto! {
/// An imported event this office's rules refused, held in quarantine
/// (docs/bundle-format.md §6.1): the data manager's list. The event's
/// values are not in it.
pub struct QuarantineEntry {
    /// The event.
    pub event_id: String,
    /// Its case.
    pub case_id: String,
    /// The case's number, when the case is here.
    pub case_number: Option<String>,
    /// Event kind (`status.changed`, …).
    pub kind: String,
    /// Who made it.
    pub author: String,
    /// The role it claims.
    #[ts(as = "crate::domain_ts::RoleName")]
    pub role: String,
    /// The device that made it.
    pub device_id: String,
    /// That device's name in the roster, when listed.
    pub device_name: Option<String>,
    /// Stable reason code (the UI translates it).
    pub code: String,
    /// The code's plain parameters (a role, a form, an event id).
    pub params: BTreeMap<String, String>,
    /// For `rule_violated`: each broken rule with its code and parameters,
    /// which the window translates.
    pub violations: Vec<ViolationDto>,
    /// The reason in English, with its details (the window shows it only
    /// as technical details).
    pub text: String,
    /// When it was quarantined (RFC 3339).
    pub at: String,
}
}

sync_dto! {
/// A change this device made that its office refused (docs/bundle-format.md
/// §6.1): shown to the person who made it, to redo it correctly. The
/// device has withdrawn it from its cases.
pub struct RefusedChange {
    /// The refused event.
    pub event_id: String,
    /// Its case.
    pub case_id: String,
    /// The case's number, when the case is here.
    pub case_number: Option<String>,
    /// Event kind (`status.changed`, …).
    pub kind: String,
    /// Who made it.
    pub author: String,
    /// Stable reason code (the UI translates it).
    pub code: String,
    /// The code's plain parameters (a role, a form, an event id).
    pub params: BTreeMap<String, String>,
    /// For `rule_violated`: each broken rule with its code and parameters,
    /// which the window translates.
    pub violations: Vec<ViolationDto>,
    /// The reason in English, with its details (the window shows it only
    /// as technical details).
    pub text: String,
    /// When the office refused it (RFC 3339).
    pub at: String,
}
}

sync_dto! {
/// Two cases that may be the same child (the search module's detector).
pub struct DuplicateEntry {
    /// One case (the smaller case number).
    pub case_a: String,
    /// Its number.
    pub number_a: String,
    /// Its child's name.
    pub name_a: Option<String>,
    /// The other case.
    pub case_b: String,
    /// Its number.
    pub number_b: String,
    /// Its child's name.
    pub name_b: Option<String>,
    /// 0..1.
    pub score: f64,
    /// What matched and what did not (English, from the detector; the
    /// fallback).
    pub explanation: String,
    /// The same, part by part with codes the window translates, the
    /// parts with the most weight first.
    pub parts: Vec<crate::search_commands::ScorePartDto>,
}
}

sync_dto! {
/// The sync folder (docs/bundle-format.md §12) as the Sync screen shows
/// it: the folder chosen for this vault, the last sync, what came in then,
/// and the files refused or not yet whole.
pub struct FolderView {
    /// The folder, when one is chosen.
    pub folder: Option<String>,
    /// The last pass that imported, wrote or removed a bundle (RFC 3339).
    pub last_sync: Option<String>,
    /// The watcher's last look at the folder in this run (RFC 3339).
    pub last_checked: Option<String>,
    /// Why the watcher's last look failed (the folder is gone, …).
    pub error: Option<UiError>,
    /// What the last sync imported.
    pub imported: Vec<FolderImportView>,
    /// Bundles the last sync wrote.
    pub written: u32,
    /// Files refused (nothing of them applied), with the reason.
    pub refused: Vec<FolderFileView>,
    /// Files not yet whole (still being copied) or damaged.
    pub incomplete: Vec<FolderFileView>,
}
}

sync_dto! {
/// A bundle a folder sync imported.
pub struct FolderImportView {
    /// The file, relative to the folder.
    pub file: String,
    /// Who sent it.
    pub sender_name: String,
    /// New changes applied.
    pub new_events: u32,
    /// New cases.
    pub new_cases: u32,
    /// Cases changed.
    pub updated_cases: u32,
    /// Changes held in quarantine.
    pub quarantined: u32,
}
}

sync_dto! {
/// A file of the sync folder that was not imported, and why.
pub struct FolderFileView {
    /// The file, relative to the folder.
    pub file: String,
    /// The reason (English, from the library): the fallback of `code`.
    pub reason: String,
    /// The refusal's stable code (`error.<code>` in the window's
    /// catalogues); empty for a refusal remembered before codes were kept.
    pub code: String,
    /// The values of `code`.
    pub params: BTreeMap<String, String>,
}
}
