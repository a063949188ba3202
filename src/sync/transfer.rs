//! Case transfer between offices (docs/bundle-format.md §9; rule R12 of docs/domain.md).
//!
//! 1. The sending office ([`transfer_case`]) records `closure_transfer`
//!    `transfer_status: requested` and writes a `transfer` bundle: the case's
//!    whole history with origin signatures and its own signed roster (the
//!    keys and roles of the origin devices, vouched for by the office key),
//!    encrypted to the receiving office. The case stays open at the sender.
//! 2. The receiving office answers with [`answer_transfer`]: on acceptance it
//!    imports the history (all or nothing); either way it writes a `receipt`
//!    bundle encrypted to the sender.
//! 3. The sender imports the receipt with the ordinary import
//!    ([`crate::sync::import_bundle`] dispatches here): on acceptance the case
//!    records `transfer_status: accepted` and `case.transferred` and becomes
//!    `transferred_out` (read-only); on rejection `transfer_status: rejected`
//!    and the reason is kept with the transfer record.

use std::collections::{BTreeMap, HashMap};

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::model::error::StoreError;
use crate::model::event::{parse_verifying_key, Event, EventKind};
use crate::model::lifecycle::Stage;
use crate::model::projection;
use crate::model::store::{CaseStore, ImportPreview, ImportSummary};
use crate::sync::error::ImportError;
use crate::sync::exchange::{self, put, state_get, ImportReport, SyncError};
use crate::sync::format::{self, BundleHead, BundleKind, BundleSource, Manifest, OpenedBundle, Progress};
use crate::sync::roster::{age_recipient, Roster, SignedRoster, VouchedSigner};

/// `format` of `receipt.json`.
pub const RECEIPT_FORMAT: &str = "fieldcase-transfer-receipt";
const P_TRANSFER_OUT: &str = "transfer_out/";
const P_TRANSFER_IN: &str = "transfer_in/";
const P_PEER: &str = "peer_office/";
const P_SEEN: &str = "seen/";

/// Why a transfer could not be made or answered.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The case is closed, transferred or merged.
    #[error("case {case} is {stage}: only an open case can be transferred")]
    NotOpen {
        /// The case.
        case: Uuid,
        /// Its stage.
        stage: Stage,
    },
    /// R4/R12: no consent recorded, or the child's consent does not cover
    /// a transfer (`lifecycle::transfer_consent`).
    #[error("case {0} has no consent covering a transfer (R4: closure_transfer.transfer_consent, and the consent scope cross_border_transfer when the case rests on consent): a caseworker records it first")]
    NoConsent(Uuid),
    /// A transfer of this case waits for its receipt.
    #[error("case {case} already has a transfer waiting for its receipt (bundle {bundle}); import the receipt first")]
    Pending {
        /// The case.
        case: Uuid,
        /// The pending transfer bundle.
        bundle: Uuid,
    },
    /// A bad recipient or key was given.
    #[error("{0}")]
    BadArgument(String),
    /// The history has events of a device this office's roster does not list.
    #[error("event {event} of the case was signed by device {device}, which this office's roster does not list; it cannot be vouched for")]
    ForeignOrigin {
        /// The device.
        device: Uuid,
        /// The event.
        event: Uuid,
    },
    /// The file is not a transfer bundle for this office.
    #[error("transfer bundle refused, nothing was changed: {0}")]
    Refused(#[from] ImportError),
    /// Sync failure.
    #[error(transparent)]
    Sync(#[from] SyncError),
}

// Each refusal's stable code for the interfaces (crate::codes).
crate::error_codes! { TransferError {
    nested {
        TransferError::Refused(i) => i: ImportError;
        TransferError::Sync(s) => s: SyncError;
    }
    TransferError::NotOpen { stage, .. } => "transfer_not_open" { stage = stage.as_str() };
    TransferError::NoConsent(_) => "transfer_no_consent";
    TransferError::Pending { .. } => "transfer_pending";
    TransferError::BadArgument(reason) => "transfer_bad_argument" { reason };
    TransferError::ForeignOrigin { device, .. } => "transfer_foreign_origin" { device };
} }

impl From<StoreError> for TransferError {
    fn from(e: StoreError) -> TransferError {
        TransferError::Sync(SyncError::Store(e))
    }
}

/// The receiving office's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Take the case over.
    Accept,
    /// Refuse it, with a reason for the sender.
    Reject(String),
}

/// `receipt.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Always [`RECEIPT_FORMAT`].
    pub format: String,
    /// The transfer bundle answered.
    pub transfer_bundle_id: Uuid,
    /// The case.
    pub case_id: Uuid,
    /// `accepted` or `rejected`.
    pub status: String,
    /// Why it was rejected (empty on acceptance).
    #[serde(default)]
    pub reason: String,
}

/// What a transfer or receipt import means, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferOutcome {
    /// The transfer bundle.
    pub transfer_bundle_id: Uuid,
    /// The case.
    pub case_id: Uuid,
    /// `requested` (a transfer bundle), `accepted` or `rejected`.
    pub status: String,
    /// Rejection reason.
    pub reason: String,
    /// The other office's signing key (hex): compare it out of band.
    pub peer_key: String,
}

/// The sender's record of a transfer, in `sync_state`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct OutRecord {
    case_id: Uuid,
    to_recipient: String,
    to_key: String,
    status: String,
    #[serde(default)]
    reason: String,
}

/// Sending office: write a transfer bundle for `case` to the office with age
/// recipient `to_recipient` and Ed25519 key `to_key_hex` (the key its receipt
/// must be signed with). Records `closure_transfer.transfer_status =
/// requested`; the case stays open and the sender responsible.
pub fn transfer_case(
    store: &mut CaseStore,
    case: Uuid,
    to_recipient: &str,
    to_key_hex: &str,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<u8>, TransferError> {
    let signed = exchange::office_roster(store)?;
    let recipient = age_recipient(to_recipient).map_err(TransferError::BadArgument)?;
    parse_verifying_key(to_key_hex).map_err(|e| TransferError::BadArgument(format!("bad --to-key: {e}")))?;
    if to_recipient == store.vault().recipient() {
        return Err(TransferError::BadArgument("a case cannot be transferred to its own office".into()));
    }
    let facts = store.facts(case)?;
    if !facts.stage.is_open() {
        return Err(TransferError::NotOpen { case, stage: facts.stage });
    }
    if !crate::model::lifecycle::transfer_consent(&facts).is_empty() {
        return Err(TransferError::NoConsent(case));
    }
    for (k, v) in projection::sync_state(store.vault().conn(), P_TRANSFER_OUT).map_err(StoreError::from)? {
        if let Ok(r) = serde_json::from_value::<OutRecord>(v) {
            if r.case_id == case && r.status == "requested" {
                let bundle = k.trim_start_matches(P_TRANSFER_OUT).parse().unwrap_or_default();
                return Err(TransferError::Pending { case, bundle });
            }
        }
    }
    // Every origin must be vouched for by this office's roster.
    for e in store.case_events(case)? {
        if signed.roster.signer(e.device_id).is_none() {
            return Err(TransferError::ForeignOrigin { device: e.device_id, event: e.id });
        }
    }
    let mut values = serde_json::Map::new();
    values.insert("transfer_status".into(), json!("requested"));
    values.insert("transfer_to".into(), json!(to_recipient));
    store.save_form(case, "closure_transfer", None, values)?;
    let mut events = store.case_events(case)?;
    events.sort_by_key(Event::order_key);
    let roster_bytes = serde_json::to_vec(&signed).map_err(|e| SyncError::Build(e.to_string()))?;
    let record = OutRecord {
        case_id: case,
        to_recipient: to_recipient.to_string(),
        to_key: to_key_hex.to_lowercase(),
        status: "requested".into(),
        reason: String::new(),
    };
    let (bytes, _) = exchange::build_bundle(
        store,
        BundleKind::Transfer,
        vec![recipient],
        &events,
        Some(&roster_bytes),
        None,
        Default::default(),
        None,
        |id| vec![put(&format!("{P_TRANSFER_OUT}{id}"), json!(record))],
        progress,
    )?;
    Ok(bytes)
}

fn empty_report(opened: &OpenedBundle, name: &str, key: &str, dry_run: bool) -> ImportReport {
    let m = &opened.manifest;
    ImportReport {
        bundle_id: m.bundle_id,
        kind: m.kind,
        sender: m.sender.device_id,
        sender_name: name.to_string(),
        sender_key: key.to_string(),
        sender_seq: m.sender_seq,
        replay: false,
        dry_run,
        roster_serial: None,
        config_serial: None,
        preview: ImportPreview::default(),
        suspected_duplicates: Vec::new(),
        summary: ImportSummary { received: opened.events.len(), ..ImportSummary::default() },
        transfer: None,
        attachments: Default::default(),
        quarantined: Vec::new(),
        refusals_reported: 0,
        released: 0,
        release_failed: None,
        received_by_sender: None,
    }
}

/// The head check of transfer and receipt bundles (docs/bundle-format.md
/// §5.1 and §9), before any member after the manifest is read.
///
/// A transfer is signed by the sending office's key: the one recorded at a
/// first transfer from that office, or on first use the key the bundle
/// names (checked against the roster it carries once that is read). A
/// receipt's key is the `--to-key` of the transfer it answers, which only
/// `receipt.json` names: a receipt is verified once that is read, so its
/// manifest must list no events and no attachments (what is read before
/// the signature is checked is then the receipt's few bytes).
pub(crate) fn authenticate(store: &CaseStore, head: &BundleHead) -> Result<(), ImportError> {
    let m = &head.manifest;
    match m.kind {
        BundleKind::Transfer => {
            receiving_office(store, m)?;
            if m.sender.device_id != m.office_id {
                return Err(ImportError::BadRoster("the transfer's sender is not the sending office".into()));
            }
            if let Some(known) = state_get(store, &format!("{P_PEER}{}", m.office_id))? {
                if known.as_str() != Some(m.sender.signing_key.as_str()) {
                    return Err(ImportError::BadSignature { sender: m.sender.device_id });
                }
            }
            let key = parse_verifying_key(&m.sender.signing_key).map_err(|e| ImportError::Malformed {
                member: format::MANIFEST.into(),
                reason: format!("sender.signing_key: {e}"),
            })?;
            head.verify_signature(&key)
        }
        BundleKind::Receipt => {
            if !exchange::is_office(store)? {
                return Err(ImportError::WrongKind("a transfer receipt is for the sending office's vault".into()));
            }
            if head.listed_size(format::EVENTS) > 0 || head.lists_attachments() {
                return Err(ImportError::Malformed {
                    member: format::RECEIPT.into(),
                    reason: "a receipt carries no events".into(),
                });
            }
            Ok(())
        }
        _ => Err(ImportError::WrongKind("not a transfer or receipt bundle".into())),
    }
}

/// The checks of the receiving side of a transfer: this vault is an
/// office, enrolled, and not the office the transfer comes from. Returns
/// this office's roster.
fn receiving_office(store: &CaseStore, m: &Manifest) -> Result<SignedRoster, ImportError> {
    if !exchange::is_office(store)? {
        return Err(ImportError::WrongKind(
            "a case transfer is for an office vault; import it on the receiving office's computer".into(),
        ));
    }
    let mine = exchange::roster(store)?.ok_or(ImportError::NotEnrolled)?;
    if m.office_id == mine.roster.office_id {
        return Err(ImportError::WrongKind("this transfer comes from this office itself".into()));
    }
    Ok(mine)
}

/// A checked transfer bundle, ready to commit.
struct CheckedTransfer {
    report: ImportReport,
    case: Uuid,
    prepared: Option<crate::model::store::PreparedImport>,
    trust: Vec<Value>,
    key: String,
    /// This office's roster with the history's origins vouched for, to
    /// hold on acceptance (§9.4), when it changes.
    roster: Option<Roster>,
}

/// Every check on an incoming transfer bundle (receiving office).
fn check_transfer(store: &CaseStore, opened: &OpenedBundle, dry_run: bool) -> Result<CheckedTransfer, ImportError> {
    let m = &opened.manifest;
    let mine = receiving_office(store, m)?;
    let bytes = opened.roster.as_deref().ok_or_else(|| ImportError::MissingMember(format::ROSTER.into()))?;
    let roster = SignedRoster::parse(bytes).map_err(ImportError::BadRoster)?;
    if roster.roster.office_id != m.office_id
        || m.sender.device_id != m.office_id
        || roster.roster.office_signing_key != m.sender.signing_key
    {
        return Err(ImportError::BadRoster("it names another office or office key than the bundle's sender".into()));
    }
    // Trust on first use of the sending office's key (printed by the CLI);
    // from then on only that key.
    let key_hex = roster.roster.office_signing_key.clone();
    if let Some(known) = state_get(store, &format!("{P_PEER}{}", m.office_id))? {
        if known.as_str() != Some(key_hex.as_str()) {
            return Err(ImportError::BadSignature { sender: m.sender.device_id });
        }
    }
    let key = parse_verifying_key(&key_hex).map_err(|e| ImportError::BadRoster(e.to_string()))?;
    roster.verify(&key).map_err(ImportError::BadRoster)?;
    opened.verify_signature(&key)?;
    let mut report = empty_report(opened, &roster.roster.office_name, &key_hex, dry_run);
    let case = match opened.events.first() {
        Some(e) if opened.events.iter().all(|x| x.case_id == e.case_id) => e.case_id,
        _ => return Err(ImportError::WrongKind("a transfer bundle must carry the history of exactly one case".into())),
    };
    report.transfer = Some(TransferOutcome {
        transfer_bundle_id: m.bundle_id,
        case_id: case,
        status: "requested".into(),
        reason: String::new(),
        peer_key: key_hex.clone(),
    });
    if state_get(store, &format!("{P_SEEN}{}", m.bundle_id))?.is_some() {
        report.replay = true;
        return Ok(CheckedTransfer { report, case, prepared: None, trust: Vec::new(), key: key_hex, roster: None });
    }
    // Origin devices: listed by the sending office, within their revocation
    // and role; their keys are trusted for these events only because the
    // office key vouches for them.
    let mut extra: HashMap<Uuid, VerifyingKey> = HashMap::new();
    let mut trust = Vec::new();
    let mut trust_roster = None;
    let mut vouched: BTreeMap<Uuid, VouchedSigner> = BTreeMap::new();
    for e in &opened.events {
        // An enrolled device of the sender, or one it vouches for itself
        // (a case transferred to it before).
        let origin =
            roster.roster.signer(e.device_id).ok_or(StoreError::UnknownDevice { device: e.device_id, event: e.id })?;
        if origin.last_seq.is_some_and(|last| e.device_seq > last) {
            return Err(ImportError::RevokedAuthor { device: e.device_id, event: e.id });
        }
        // This office vouches for the origins to its own devices (§9.4),
        // unless they are its own.
        if mine.roster.device(e.device_id).is_none() {
            let v = vouched.entry(e.device_id).or_insert_with(|| VouchedSigner {
                device_id: e.device_id,
                name: origin.name.to_string(),
                role: origin.role,
                signing_key: origin.signing_key.to_string(),
                office_id: m.office_id,
                max_seq: 0,
            });
            v.max_seq = v.max_seq.max(e.device_seq);
        }
        crate::sync::exchange::check_role(e, origin.role)?;
        if extra.contains_key(&e.device_id) {
            continue;
        }
        match projection::device_key(store.vault().conn(), e.device_id).map_err(StoreError::from)? {
            Some(existing) if existing != origin.signing_key => {
                return Err(ImportError::BadRoster(format!("device {} is known here with another key", e.device_id)));
            }
            Some(_) => {}
            None => {
                let key = parse_verifying_key(origin.signing_key)
                    .map_err(|err| ImportError::BadRoster(format!("device {}: {err}", e.device_id)))?;
                extra.insert(e.device_id, key);
                trust.push(projection::device_entry(e.device_id, origin.signing_key, origin.name));
            }
        }
    }
    // The roster this office will hold once it accepts: the origins
    // vouched for, so its devices take the case's history (§9.4).
    let mut next = mine.roster.clone();
    let mut changed = false;
    for v in vouched.into_values() {
        match next.vouched.iter_mut().find(|x| x.device_id == v.device_id) {
            Some(x) if x.signing_key != v.signing_key => {
                return Err(ImportError::BadRoster(format!("device {} is known here with another key", v.device_id)));
            }
            Some(x) if x.max_seq >= v.max_seq => {}
            Some(x) => {
                x.max_seq = v.max_seq;
                changed = true;
            }
            None => {
                next.vouched.push(v);
                changed = true;
            }
        }
    }
    if changed {
        next.serial += 1;
        trust_roster = Some(next);
    }
    let prepared = store.prepare_import(opened.events.clone(), &extra)?;
    report.preview = prepared.preview.clone();
    report.suspected_duplicates = exchange::suspected_duplicates(store, &opened.events, &report.preview.new_cases)?;
    report.summary.new = report.preview.new_events;
    report.summary.duplicates = report.preview.known_events;
    report.summary.cases = vec![case];
    report.attachments = crate::sync::attachments::plan(store, opened)?.0;
    Ok(CheckedTransfer { report, case, prepared: Some(prepared), trust, key: key_hex, roster: trust_roster })
}

/// Called by [`crate::sync::import_bundle`] for transfer and receipt
/// bundles. A transfer is only previewed here (`dry_run`): taking it over
/// or refusing it needs an answer, [`answer_transfer`].
pub(crate) fn import_opened(
    store: &mut CaseStore,
    opened: &OpenedBundle,
    dry_run: bool,
) -> Result<ImportReport, ImportError> {
    match opened.manifest.kind {
        BundleKind::Transfer => {
            let checked = check_transfer(store, opened, true)?;
            if !dry_run && !checked.report.replay {
                return Err(ImportError::WrongKind(
                    "this is a case transfer: answer it with `fieldcase transfer accept FILE --out RECEIPT` (or `transfer reject`), which imports the case and writes the receipt".into(),
                ));
            }
            let mut report = checked.report;
            report.dry_run = dry_run;
            Ok(report)
        }
        BundleKind::Receipt => import_receipt(store, opened, dry_run),
        _ => Err(ImportError::WrongKind("not a transfer or receipt bundle".into())),
    }
}

/// Receiving office: answer a transfer bundle. On acceptance the history is
/// imported (all or nothing); on rejection nothing of the case is kept. In
/// both cases returns the report and the receipt bundle for the sender. A
/// transfer answered before is answered again with the same decision (a lost
/// receipt can be remade); a different decision is refused.
pub fn answer_transfer<S: BundleSource + ?Sized>(
    store: &mut CaseStore,
    source: &S,
    decision: Decision,
    progress: &mut dyn FnMut(Progress),
) -> Result<(ImportReport, Vec<u8>), TransferError> {
    let opened = {
        let store: &CaseStore = store;
        let mut only_transfers = |head: &BundleHead| {
            if head.manifest.kind != BundleKind::Transfer {
                return Err(ImportError::WrongKind(format!(
                    "this is a {:?} bundle, not a case transfer",
                    head.manifest.kind
                )));
            }
            authenticate(store, head)
        };
        format::read_bundle(source, store.vault().age_identity(), &mut only_transfers, progress)?
    };
    let checked = check_transfer(store, &opened, false)?;
    let m = &opened.manifest;
    let (status, reason) = match &decision {
        Decision::Accept => ("accepted", String::new()),
        Decision::Reject(r) => ("rejected", r.clone()),
    };
    let in_key = format!("{P_TRANSFER_IN}{}", m.bundle_id);
    if checked.report.replay {
        let prior =
            state_get(store, &in_key)?.and_then(|v| v.get("status").and_then(Value::as_str).map(str::to_string));
        if prior.as_deref() != Some(status) {
            return Err(ImportError::WrongKind(format!(
                "this transfer was already answered ({}); the answer cannot be changed",
                prior.unwrap_or_else(|| "unknown".into())
            ))
            .into());
        }
    } else {
        let entries = vec![
            put(
                &format!("{P_SEEN}{}", m.bundle_id),
                json!({"sender": m.sender.device_id, "seq": m.sender_seq, "manifest_sha256": opened.manifest_digest()}),
            ),
            put(&format!("{P_PEER}{}", m.office_id), json!(checked.key)),
            put(
                &in_key,
                json!({"case_id": checked.case, "from_office": m.office_id, "status": status, "reason": reason}),
            ),
        ];
        match (&decision, checked.prepared) {
            (Decision::Accept, Some(prepared)) => {
                let mut entries = entries;
                if let Some(r) = checked.roster {
                    entries.push(put(exchange::K_ROSTER, json!(r.sign(store.vault().device_key()))));
                }
                // The case's attachments are kept with it (spec §3.1).
                let (_, new_blobs) = crate::sync::attachments::plan(store, &opened)?;
                progress(Progress::Committing);
                crate::sync::attachments::store_then_commit(store, source, &new_blobs, |store| {
                    store.commit_import(prepared, checked.trust, entries).map_err(ImportError::from)
                })?;
            }
            _ => {
                // Rejected: the case is not kept, only the answer.
                store.commit_sync_entries(entries)?;
            }
        }
    }
    let receipt = Receipt {
        format: RECEIPT_FORMAT.into(),
        transfer_bundle_id: m.bundle_id,
        case_id: checked.case,
        status: status.into(),
        reason: reason.clone(),
    };
    let receipt_bytes = serde_json::to_vec_pretty(&receipt).map_err(|e| SyncError::Build(e.to_string()))?;
    // The sender's recipient comes from the manifest its key signed.
    let to = age_recipient(&m.sender.recipient).map_err(SyncError::Build)?;
    let (bundle, _) = exchange::build_bundle(
        store,
        BundleKind::Receipt,
        vec![to],
        &[],
        None,
        Some(&receipt_bytes),
        Default::default(),
        None,
        |_| Vec::new(),
        progress,
    )?;
    let mut report = checked.report;
    report.dry_run = false;
    if let Some(t) = report.transfer.as_mut() {
        t.status = status.into();
        t.reason = reason;
    }
    Ok((report, bundle))
}

/// Sending office: import a receipt. Only a receipt for a transfer this
/// office made, signed with the key given at transfer time, is accepted.
fn import_receipt(store: &mut CaseStore, opened: &OpenedBundle, dry_run: bool) -> Result<ImportReport, ImportError> {
    let m = &opened.manifest;
    if !exchange::is_office(store)? {
        return Err(ImportError::WrongKind("a transfer receipt is for the sending office's vault".into()));
    }
    let bad = |reason: String| ImportError::Malformed { member: format::RECEIPT.into(), reason };
    let bytes = opened.receipt.as_deref().ok_or_else(|| ImportError::MissingMember(format::RECEIPT.into()))?;
    let receipt: Receipt = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    if receipt.format != RECEIPT_FORMAT {
        return Err(bad(format!("format is not {RECEIPT_FORMAT}")));
    }
    if !opened.events.is_empty() {
        return Err(bad("a receipt carries no events".into()));
    }
    let out_key = format!("{P_TRANSFER_OUT}{}", receipt.transfer_bundle_id);
    let mut record: OutRecord =
        state_get(store, &out_key)?.and_then(|v| serde_json::from_value(v).ok()).ok_or_else(|| {
            ImportError::WrongKind(format!(
                "receipt for unknown transfer {}: this office made no such transfer",
                receipt.transfer_bundle_id
            ))
        })?;
    let key = parse_verifying_key(&record.to_key).map_err(|e| ImportError::BadRoster(e.to_string()))?;
    opened.verify_signature(&key)?;
    if receipt.case_id != record.case_id {
        return Err(bad(format!("it names case {}, the transfer was of case {}", receipt.case_id, record.case_id)));
    }
    if receipt.status != "accepted" && receipt.status != "rejected" {
        return Err(bad(format!("status {:?} is neither accepted nor rejected", receipt.status)));
    }
    let mut report = empty_report(opened, &m.sender.name, &record.to_key, dry_run);
    report.transfer = Some(TransferOutcome {
        transfer_bundle_id: receipt.transfer_bundle_id,
        case_id: receipt.case_id,
        status: receipt.status.clone(),
        reason: receipt.reason.clone(),
        peer_key: record.to_key.clone(),
    });
    if state_get(store, &format!("{P_SEEN}{}", m.bundle_id))?.is_some() {
        report.replay = true;
        return Ok(report);
    }
    if record.status != "requested" {
        if record.status == receipt.status {
            report.replay = true; // the same answer again (a remade receipt)
            return Ok(report);
        }
        return Err(ImportError::WrongKind(format!(
            "transfer {} was already answered {}; this receipt says {}",
            receipt.transfer_bundle_id, record.status, receipt.status
        )));
    }
    if dry_run {
        return Ok(report);
    }
    let case = record.case_id;
    let stage = store.facts(case)?.stage;
    // Skip the case events if a crash came between the two commits below.
    if stage != Stage::TransferredOut {
        let mut b = store.batch();
        let mut values = serde_json::Map::new();
        values.insert("transfer_status".into(), json!(receipt.status));
        b.save_form(case, "closure_transfer", None, values)?;
        if receipt.status == "accepted" {
            b.record(case, EventKind::CaseTransferred, None, json!({"to": record.to_recipient}), Vec::new())?;
            // The lifecycle transition (guarded by R12: accepted, consent).
            b.change_stage(case, Stage::TransferredOut, "the receiving office accepted the transfer")?;
        }
        b.commit()?;
    }
    record.status = receipt.status.clone();
    record.reason = receipt.reason.clone();
    store.commit_sync_entries(vec![
        put(&out_key, json!(record)),
        put(
            &format!("{P_SEEN}{}", m.bundle_id),
            json!({"sender": m.sender.device_id, "seq": m.sender_seq, "manifest_sha256": opened.manifest_digest()}),
        ),
    ])?;
    report.summary.new = if receipt.status == "accepted" { 2 } else { 1 };
    report.summary.cases = vec![case];
    Ok(report)
}

/// The transfers this office sent and their state: (transfer bundle id,
/// case, status, reason).
pub fn sent_transfers(store: &CaseStore) -> Result<Vec<(Uuid, Uuid, String, String)>, StoreError> {
    let mut out = Vec::new();
    for (k, v) in projection::sync_state(store.vault().conn(), P_TRANSFER_OUT)? {
        if let (Ok(id), Ok(r)) =
            (k.trim_start_matches(P_TRANSFER_OUT).parse::<Uuid>(), serde_json::from_value::<OutRecord>(v))
        {
            out.push((id, r.case_id, r.status, r.reason));
        }
    }
    Ok(out)
}
