//! Importing a bundle (docs/bundle-format.md §5–§7): one function per
//! step — read and authenticate, establish whom the events are trusted from,
//! check the configuration, the sequence, the events, then write the
//! bookkeeping and commit — and the passes that stream a large bundle case
//! by case.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::model::error::StoreError;
use crate::model::event::{Event, Role};
use crate::model::projection;
use crate::model::store::{CaseStore, ImportPreview, ImportSummary};
use crate::sync::error::ImportError;
use crate::sync::format::{self, BundleHead, BundleKind, BundleSource, Manifest, Progress};
use crate::sync::roster::{RosterDevice, SignedRoster};

use super::*;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct InState {
    seq: u64,
    bundle_id: Uuid,
}

pub(crate) fn last_in(store: &CaseStore, sender: Uuid) -> Result<Option<u64>, StoreError> {
    Ok(state_get(store, &format!("{P_IN}{sender}"))?
        .and_then(|v| serde_json::from_value::<InState>(v).ok())
        .map(|s| s.seq))
}

/// A new case that looks like one this vault already has (same given and
/// family names, ignoring case and surrounding spaces); a person decides
/// whether to merge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuspectedDuplicate {
    /// The incoming case.
    pub new_case: Uuid,
    /// The case already here.
    pub existing_case: Uuid,
    /// Its case number.
    pub existing_number: String,
    /// What matched (English: the score and its parts' details).
    pub reason: String,
    /// The pair's score.
    #[serde(default)]
    pub score: f64,
    /// The parts of the score, each with its explanation code and
    /// parameters (`search::explain`), which an interface translates.
    #[serde(default)]
    pub parts: Vec<crate::search::duplicates::ScorePart>,
}

pub(crate) fn suspected_duplicates(
    store: &CaseStore,
    events: &[Event],
    new_cases: &[Uuid],
) -> Result<Vec<SuspectedDuplicate>, StoreError> {
    // Group once: filtering all events per new case is quadratic in a large
    // bundle (10,000 new cases x 100,000 events).
    let wanted: BTreeSet<Uuid> = new_cases.iter().copied().collect();
    let mut by_case: BTreeMap<Uuid, Vec<&Event>> = BTreeMap::new();
    for e in events.iter().filter(|e| wanted.contains(&e.case_id)) {
        by_case.entry(e.case_id).or_default().push(e);
    }
    let people: BTreeMap<Uuid, crate::search::person::CasePerson> = new_cases
        .iter()
        .filter_map(|case| {
            let events = by_case.get(case).map(Vec::as_slice).unwrap_or_default().iter().copied();
            let state = crate::model::projection::CaseState::from_events(*case, events);
            crate::search::person::CasePerson::from_state(&state).map(|p| (*case, p))
        })
        .collect();
    suspected_duplicates_of(store, &people)
}

/// [`suspected_duplicates`] of the people of new cases already folded (an
/// import's [`crate::model::store::PreparedImport::new_case_people`]).
pub(crate) fn suspected_duplicates_of(
    store: &CaseStore,
    people: &BTreeMap<Uuid, crate::search::person::CasePerson>,
) -> Result<Vec<SuspectedDuplicate>, StoreError> {
    // Name-key blocking and explained scores: crate::search::duplicates.
    let mut out = Vec::new();
    for (case, person) in people {
        for pair in crate::search::duplicates::candidates_for(store.vault().conn(), person)? {
            let (existing, number) = if pair.case_a == person.case_id {
                (&pair.case_b, &pair.number_b)
            } else {
                (&pair.case_a, &pair.number_a)
            };
            if let Ok(id) = Uuid::parse_str(existing) {
                out.push(SuspectedDuplicate {
                    new_case: *case,
                    existing_case: id,
                    existing_number: number.clone(),
                    reason: format!("score {:.2}: {}", pair.score, pair.explanation()),
                    score: pair.score,
                    parts: pair.parts.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// What an import did (or, for a dry run, would do).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportReport {
    /// Bundle id.
    pub bundle_id: Uuid,
    /// Bundle kind.
    pub kind: BundleKind,
    /// Sender device.
    pub sender: Uuid,
    /// Sender name.
    pub sender_name: String,
    /// Sender's signing key (hex) as trusted here: at enrollment, the office
    /// key to compare with the office out of band.
    pub sender_key: String,
    /// Sender's bundle sequence.
    pub sender_seq: u64,
    /// The bundle was already imported: nothing to do.
    pub replay: bool,
    /// Nothing was committed (dry run or verify).
    pub dry_run: bool,
    /// The roster changed (enrollment, new devices, revocations).
    pub roster_serial: Option<u64>,
    /// A newer country configuration was applied (docs/configuration.md).
    #[serde(default)]
    pub config_serial: Option<u64>,
    /// What changes.
    pub preview: ImportPreview,
    /// New cases that look like cases this vault already has.
    pub suspected_duplicates: Vec<SuspectedDuplicate>,
    /// Counts.
    pub summary: ImportSummary,
    /// For transfer and receipt bundles: the case and the answer.
    #[serde(default)]
    pub transfer: Option<crate::sync::transfer::TransferOutcome>,
    /// Attachments received (spec §3.1).
    #[serde(default)]
    pub attachments: crate::sync::attachments::AttachmentPreview,
    /// Events of the bundle the rules refused, held in quarantine instead
    /// of applied, with why (§6.1).
    #[serde(default)]
    pub quarantined: Vec<(Uuid, crate::model::refusal::Refusal)>,
    /// Office bundles: how many refusals of this device's own events the
    /// office reported (§6.1).
    #[serde(default)]
    pub refusals_reported: usize,
    /// Events held in quarantine here that the rules accepted once this
    /// import's events were applied, and that were applied after it
    /// (docs/bundle-format.md §6.1).
    #[serde(default)]
    pub released: usize,
    /// Why re-checking the held events after the import failed, if it did
    /// (the import itself is committed; the events stay held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_failed: Option<String>,
    /// The `sender_seq` of this vault's last bundle the sender had imported
    /// when it wrote this one (the manifest's `received` for this vault,
    /// §5): the sync folder deletes this vault's bundles up to it
    /// (docs/bundle-format.md §12.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_by_sender: Option<u64>,
}

/// The reader's head check (docs/bundle-format.md §5.1), before any member
/// after `manifest.json` and `manifest.sig` is read: may this sender send
/// this kind of bundle to this vault, and does the signature verify with
/// the sender's key *as this vault knows it* (the roster, never the
/// bundle). An unknown or revoked sender is refused here, having cost
/// the manifest and nothing else.
pub(crate) fn authenticate(store: &CaseStore, head: &BundleHead) -> Result<(), ImportError> {
    let m = &head.manifest;
    match m.kind {
        BundleKind::DeviceToOffice => {
            let entry = device_sender(store, m)?;
            head.verify_signature(&entry.bundle_verifying_key().map_err(ImportError::BadRoster)?)
        }
        BundleKind::OfficeToDevice | BundleKind::Enrollment => {
            let (held, key_hex) = office_sender_key(store, m)?;
            // Without a held roster the key is the one the bundle names
            // (trust on first use): nothing is authenticated yet, so such a
            // bundle may only carry its roster. No writer puts events or
            // attachments in an enrollment bundle.
            if m.kind == BundleKind::Enrollment && (head.listed_size(format::EVENTS) > 0 || head.lists_attachments()) {
                return Err(ImportError::WrongKind(
                    "an enrollment bundle carries only the roster, no events or attachments; it was not made by Fieldcase".into(),
                ));
            }
            let key = crate::model::event::parse_verifying_key(&key_hex).map_err(|e| {
                if held.is_some() {
                    ImportError::BadRoster(e.to_string())
                } else {
                    ImportError::Malformed {
                        member: format::MANIFEST.into(),
                        reason: format!("sender.signing_key: {e}"),
                    }
                }
            })?;
            head.verify_signature(&key)
        }
        BundleKind::Transfer | BundleKind::Receipt => crate::sync::transfer::authenticate(store, head),
        // Between an office and its partners abroad, another command and
        // another trust model (docs/bundle-format.md §11).
        BundleKind::PartnerRequest | BundleKind::PartnerWithdrawal => Err(ImportError::WrongKind(
            "this is a request from a partner office: import it with `fieldcase request import FILE`".into(),
        )),
        BundleKind::PartnerAnswer | BundleKind::PartnerReceipt => Err(ImportError::WrongKind(
            "this is a partner's answer or receipt for a request: import it with `fieldcase answer import FILE`".into(),
        )),
    }
}

/// A device bundle's sender as the office's roster lists it: only an
/// office takes device bundles, of its own office, from an enrolled device
/// that is not revoked.
fn device_sender(store: &CaseStore, m: &Manifest) -> Result<RosterDevice, ImportError> {
    let office = is_office(store)?;
    let Some(held) = roster(store)?.filter(|_| office) else {
        return Err(ImportError::WrongKind(
            "this bundle is for an office vault; import it on the office computer".into(),
        ));
    };
    if m.office_id != held.roster.office_id {
        return Err(ImportError::WrongOffice { expected: held.roster.office_id, found: m.office_id });
    }
    let entry = held
        .roster
        .device(m.sender.device_id)
        .cloned()
        .ok_or(ImportError::UnknownSender { sender: m.sender.device_id })?;
    if entry.revoked_at.is_some() {
        return Err(ImportError::RevokedSender { sender: entry.device_id });
    }
    if entry.host.is_some() {
        // A person hosted on a device signs events, never bundles: their
        // events travel in their host's bundles.
        return Err(ImportError::UnknownSender { sender: entry.device_id });
    }
    Ok(entry)
}

/// The key an office bundle must be signed with, and the roster this device
/// holds: only a device takes office bundles, of its own office, from the
/// office itself; the key is the office key it trusts, or at enrollment
/// (no roster held yet) the key the bundle names.
fn office_sender_key(store: &CaseStore, m: &Manifest) -> Result<(Option<SignedRoster>, String), ImportError> {
    if is_office(store)? {
        return Err(ImportError::WrongKind("this bundle is for a field device, not an office".into()));
    }
    let held = roster(store)?;
    if m.kind == BundleKind::OfficeToDevice && held.is_none() {
        return Err(ImportError::NotEnrolled);
    }
    if let Some(h) = &held {
        if m.office_id != h.roster.office_id {
            return Err(ImportError::WrongOffice { expected: h.roster.office_id, found: m.office_id });
        }
    }
    if m.sender.device_id != m.office_id {
        return Err(ImportError::UnknownSender { sender: m.sender.device_id });
    }
    let key = held.as_ref().map_or_else(|| m.sender.signing_key.clone(), |h| h.roster.office_signing_key.clone());
    Ok((held, key))
}

/// Import (or with `dry_run`, only check and preview) a bundle, read as a
/// stream from `source` (a file path, or bytes already in memory). All or
/// nothing: on any error the vault is unchanged. The sender is checked
/// against the roster before anything but the manifest is read
/// ([`authenticate`]).
pub fn import_bundle<S: BundleSource + ?Sized>(
    store: &mut CaseStore,
    source: &S,
    dry_run: bool,
    progress: &mut dyn FnMut(Progress),
) -> Result<ImportReport, ImportError> {
    let result = import_bundle_checked(store, source, dry_run, progress);
    // The events may have been checked against a configuration the bundle
    // carried; from here on the forms are those of what the vault holds
    // (the new one if committed, the old one otherwise).
    store.reload_forms()?;
    result
}

fn import_bundle_checked<S: BundleSource + ?Sized>(
    store: &mut CaseStore,
    source: &S,
    dry_run: bool,
    progress: &mut dyn FnMut(Progress),
) -> Result<ImportReport, ImportError> {
    let Pass1 { mut opened, streamed, received } = read_pass(store, source, progress)?;
    // A copy of the (small) manifest, so the events can later move out of
    // `opened` into the import instead of being copied.
    let manifest = opened.manifest.clone();
    let m = &manifest;
    // Every signer of this vault: its first person and the people it hosts.
    let me = store.vault().device().device_id;
    let mine: BTreeSet<Uuid> = std::iter::once(me).chain(store.people()?.into_iter().map(|p| p.id)).collect();
    // 1. The sender and its key were checked by `authenticate` before the
    // events were read; here what needs the rest of the bundle (the
    // roster it carries).
    let trust = match m.kind {
        BundleKind::DeviceToOffice => device_trust(store, &opened)?,
        BundleKind::OfficeToDevice | BundleKind::Enrollment => office_trust(store, &opened)?,
        BundleKind::Transfer | BundleKind::Receipt => {
            // Between offices: another trust model (docs/bundle-format.md §9).
            return crate::sync::transfer::import_opened(store, &opened, dry_run);
        }
        // `authenticate` refused these before anything was read.
        BundleKind::PartnerRequest
        | BundleKind::PartnerAnswer
        | BundleKind::PartnerWithdrawal
        | BundleKind::PartnerReceipt => {
            return Err(ImportError::WrongKind("a partner bundle is imported with `fieldcase request import`".into()));
        }
    };
    let key = trust.sender.bundle_verifying_key().map_err(ImportError::BadRoster)?;
    opened.verify_signature(&key)?;
    let new_config = incoming_config(store, &opened, trust.new_roster.as_ref())?;
    if let Some(c) = &new_config {
        store.swap_forms(std::sync::Arc::new(crate::country::registry_for(&c.config)));
    }
    let mut report = ImportReport::started(m, &trust.sender, received, dry_run, me);
    // 2. Sequence: replay = no-op, older = refused.
    if is_replay(store, m)? {
        report.replay = true;
        return Ok(report);
    }
    // 3. Events: origin device enrolled, not past its revocation, claiming
    // only its granted role; then signatures and rules in the store.
    let effective = trust.new_roster.as_ref().or(trust.held.as_ref()).ok_or(ImportError::NotEnrolled)?;
    let (extra_keys, trust_entries) = signer_keys(store, effective)?;
    // The attachment plan reads the events' references, noted by the
    // reader; its error still comes after the events' own.
    let planned = crate::sync::attachments::plan(store, &opened);
    // Events already in quarantine (§6.1) are known: the same one again is
    // skipped, another at its id or sequence is refused as tampering.
    let held = crate::sync::quarantine::held(store)?;
    // A supervisor's events are judged against their team at the office,
    // which holds the roster as it is when the change arrives. A device
    // does not judge the office's relayed events by team: the office
    // already did, and a later team change must not make an accepted
    // change unacceptable (docs/visibility.md §7).
    let teams = (m.kind == BundleKind::DeviceToOffice).then(|| effective.roster.supervisor_teams());
    let identity = store.vault().age_identity().clone();
    let listed = m.members.iter().find(|e| e.path == format::EVENTS).cloned();
    let judge = Judge { extra_keys: &extra_keys, held: &held, teams: teams.as_ref() };
    let checked = match (&listed, streamed) {
        (Some(listed), true) => {
            check_streamed(store, source, &identity, listed, effective, &judge, received as u64, progress)?
        }
        _ => check_held_in_memory(store, &mut opened.events, effective, &judge, received as u64, progress)?,
    };
    let CheckedEvents { mut prepared, signatures, held_again, chunks } = checked;
    let quarantined = std::mem::take(&mut prepared.quarantined);
    report.preview = prepared.preview.clone();
    report.preview.known_events += held_again;
    let looked_at = (|| -> Result<_, ImportError> {
        let (attachment_preview, new_blobs) = planned?;
        let duplicates = suspected_duplicates_of(store, prepared.new_case_people())?;
        Ok((attachment_preview, new_blobs, duplicates))
    })();
    let (attachment_preview, new_blobs, duplicates) = match looked_at {
        Ok(c) => c,
        Err(e) => return Err(signatures.wait().err().map_or(e, ImportError::from)),
    };
    report.attachments = attachment_preview;
    report.suspected_duplicates = duplicates;
    // 4. Bookkeeping, in the same commit as the events (the last frame of
    // a very large import).
    let news = News { roster: trust.new_roster.as_ref(), config: new_config.as_ref(), quarantined: &quarantined };
    let entries = bookkeeping_entries(store, &opened, effective, &news, &mine, &mut report)?;
    report.quarantined = quarantined.into_iter().map(|q| (q.event.id, q.refusal)).collect();
    if dry_run {
        signatures.wait()?;
        report.summary.new = report.preview.new_events;
        report.summary.duplicates = report.preview.known_events;
        report.summary.cases = report.preview.new_cases.iter().chain(&report.preview.updated_cases).copied().collect();
        report.summary.cases.sort();
        return Ok(report);
    }
    progress(Progress::Committing);
    // New blobs are stored first and taken back if the commit fails.
    report.summary =
        crate::sync::attachments::store_then_commit(store, source, &new_blobs, |store| match (chunks, listed) {
            (Some(digests), Some(listed)) => {
                drop(prepared);
                let _ = signatures.wait();
                commit_by_chunks(store, source, &identity, &listed, &digests, &judge, trust_entries, entries)
            }
            _ => store.commit_import_checked(prepared, signatures, trust_entries, entries).map_err(ImportError::from),
        })?;
    // Held events of the cases this import changed may be acceptable now
    // (the change they were made on has arrived): applied at once. The
    // import is committed whatever happens here.
    // On a device, so may the office's events held because of a change of
    // its own the bundle withdrew.
    let mut retry = report.summary.cases.clone();
    retry.extend(m.refused.iter().map(|n| n.case_id));
    match crate::sync::quarantine::retry_cases(store, &retry) {
        Ok(n) => report.released = n,
        Err(e) => report.release_failed = Some(e.to_string()),
    }
    Ok(report)
}

/// What the first pass over a bundle gives.
struct Pass1 {
    /// The bundle, its events kept only when they must be held together.
    opened: format::OpenedBundle,
    /// Whether the events are grouped case by case, so the later passes
    /// stream them chunk by chunk instead of holding them.
    streamed: bool,
    /// How many events the bundle carries.
    received: usize,
}

/// Pass 1 (docs/bundle-format.md §5.1): the whole bundle read and checked,
/// the events only parsed and looked at for their order; a transfer's (one
/// case) are kept. Events in another order than case by case are read
/// again and held all together, as they come: §6 allows any order.
fn read_pass<S: BundleSource + ?Sized>(
    store: &CaseStore,
    source: &S,
    progress: &mut dyn FnMut(Progress),
) -> Result<Pass1, ImportError> {
    let kind = std::cell::Cell::new(None);
    let mut order = CaseOrder::default();
    let mut kept = Vec::new();
    let mut opened = format::read_bundle_streaming(
        source,
        store.vault().age_identity(),
        &mut |head| {
            kind.set(Some(head.manifest.kind));
            authenticate(store, head)
        },
        progress,
        &mut |events, _| {
            match kind.get() {
                Some(BundleKind::Transfer | BundleKind::Receipt) => kept.extend(events),
                _ => order.observe(&events),
            }
            Ok(())
        },
    )?;
    opened.events = kept;
    let streamed = order.count > 0 && order.grouped;
    if order.count > 0 && !order.grouped {
        opened =
            format::read_bundle(source, store.vault().age_identity(), &mut |head| authenticate(store, head), progress)?;
    }
    let received = if streamed { order.count } else { opened.events.len() };
    Ok(Pass1 { opened, streamed, received })
}

/// Whom a bundle's events are trusted from: the sender as the roster lists
/// it, the roster the bundle brings (an office's) and the one held here.
struct Trust {
    new_roster: Option<SignedRoster>,
    sender: RosterDevice,
    held: Option<SignedRoster>,
}

/// A device's bundle at its office: the sender from the office's roster; it
/// carries neither a roster nor a configuration.
fn device_trust(store: &CaseStore, opened: &format::OpenedBundle) -> Result<Trust, ImportError> {
    let sender = device_sender(store, &opened.manifest)?;
    if opened.roster.is_some() || opened.config.is_some() {
        return Err(ImportError::WrongKind("a device bundle may not carry a roster or a country configuration".into()));
    }
    Ok(Trust { new_roster: None, sender, held: roster(store)? })
}

/// An office's bundle (or enrollment) at a device: the roster it carries,
/// signed by the office key this device trusts — or at enrollment the one
/// that signed the manifest, which the roster must name (trust on first
/// use; the CLI shows its fingerprint to compare with the office) — not
/// older than the held one, listing this device with its own keys, not
/// revoked.
fn office_trust(store: &CaseStore, opened: &format::OpenedBundle) -> Result<Trust, ImportError> {
    let m = &opened.manifest;
    let me = store.vault().device().device_id;
    let (held, office_key_hex) = office_sender_key(store, m)?;
    let bytes = opened.roster.as_deref().ok_or_else(|| ImportError::MissingMember(format::ROSTER.into()))?;
    let incoming = SignedRoster::parse(bytes).map_err(ImportError::BadRoster)?;
    if incoming.roster.office_signing_key != office_key_hex || incoming.roster.office_id != m.office_id {
        return Err(ImportError::BadRoster("it names another office or office key".into()));
    }
    let key =
        crate::model::event::parse_verifying_key(&office_key_hex).map_err(|e| ImportError::BadRoster(e.to_string()))?;
    incoming.verify(&key).map_err(ImportError::BadRoster)?;
    if let Some(h) = &held {
        if incoming.roster.serial < h.roster.serial {
            return Err(ImportError::BadRoster(format!(
                "serial {} is older than the held {}",
                incoming.roster.serial, h.roster.serial
            )));
        }
    }
    let mine = incoming.roster.device(me).ok_or_else(|| ImportError::BadRoster("this device is not in it".into()))?;
    if mine.signing_key != hex::encode(store.vault().first_person_verifying_key().as_bytes())
        || mine.bundle_key_hex() != hex::encode(store.vault().device_verifying_key().as_bytes())
        || mine.recipient != store.vault().recipient()
    {
        return Err(ImportError::BadRoster("it lists this device with other keys".into()));
    }
    if mine.revoked_at.is_some() {
        return Err(ImportError::BadRoster("this device has been revoked by the office".into()));
    }
    let sender = incoming
        .roster
        .device(m.office_id)
        .cloned()
        .ok_or_else(|| ImportError::BadRoster("the office is not in it".into()))?;
    Ok(Trust { new_roster: Some(incoming), sender, held })
}

/// The country configuration a bundle carries (§7.1): signed by the office
/// key this device trusts, not older than the held one, whole; the events
/// are then checked against its lists.
fn incoming_config(
    store: &CaseStore,
    opened: &format::OpenedBundle,
    new_roster: Option<&SignedRoster>,
) -> Result<Option<crate::country::SignedConfig>, ImportError> {
    match (&opened.config, new_roster) {
        (None, _) => Ok(None),
        (Some(bytes), Some(r)) => {
            let office_key = crate::model::event::parse_verifying_key(&r.roster.office_signing_key)
                .map_err(|e| ImportError::BadRoster(e.to_string()))?;
            Ok(crate::country::check_incoming(store.vault().conn(), bytes, &office_key, r.roster.office_id)?)
        }
        (Some(_), None) => Err(ImportError::WrongKind("only an office bundle carries a configuration".into())),
    }
}

impl ImportReport {
    /// The report of a bundle whose sender is known, before its events are
    /// looked at.
    fn started(m: &Manifest, sender: &RosterDevice, received: usize, dry_run: bool, me: Uuid) -> ImportReport {
        ImportReport {
            bundle_id: m.bundle_id,
            kind: m.kind,
            sender: m.sender.device_id,
            sender_name: sender.name.clone(),
            sender_key: sender.bundle_key_hex().to_owned(),
            sender_seq: m.sender_seq,
            replay: false,
            dry_run,
            roster_serial: None,
            config_serial: None,
            preview: ImportPreview::default(),
            suspected_duplicates: Vec::new(),
            summary: ImportSummary { received, ..ImportSummary::default() },
            transfer: None,
            attachments: Default::default(),
            quarantined: Vec::new(),
            refusals_reported: 0,
            released: 0,
            release_failed: None,
            received_by_sender: m.received.get(&me).copied(),
        }
    }
}

/// §5 sequence: a bundle seen before is a replay (nothing to do); one older
/// than the newest imported from its sender is refused.
fn is_replay(store: &CaseStore, m: &Manifest) -> Result<bool, ImportError> {
    if state_get(store, &format!("{P_SEEN}{}", m.bundle_id))?.is_some() {
        return Ok(true);
    }
    let sender = m.sender.device_id;
    if let Some(last) = last_in(store, sender)? {
        if m.sender_seq <= last {
            return Err(ImportError::SequenceBackwards { sender, last, got: m.sender_seq });
        }
    }
    Ok(false)
}

/// The signing keys of the devices the roster enrolls, and of those of
/// other offices it vouches for (transferred cases, §9.4), that this vault
/// does not know yet, with the entries that make it trust them (in the
/// import's first commit). A device known here with another key is refused.
fn signer_keys(
    store: &CaseStore,
    effective: &SignedRoster,
) -> Result<(HashMap<Uuid, VerifyingKey>, Vec<Value>), ImportError> {
    let mut extra_keys: HashMap<Uuid, VerifyingKey> = HashMap::new();
    let mut trust_entries = Vec::new();
    let signers = effective
        .roster
        .devices
        .iter()
        .map(|d| d.device_id)
        .chain(effective.roster.vouched.iter().map(|v| v.device_id));
    for id in signers {
        let Some(d) = effective.roster.signer(id) else { continue };
        let k = crate::model::event::parse_verifying_key(d.signing_key)
            .map_err(|e| ImportError::BadRoster(format!("device {id}: {e}")))?;
        match projection::device_key(store.vault().conn(), id).map_err(StoreError::from)? {
            Some(existing) if existing != d.signing_key => {
                return Err(ImportError::BadRoster(format!("device {id} is known here with another key")));
            }
            Some(_) => {}
            None => {
                if extra_keys.insert(id, k).is_none() {
                    trust_entries.push(projection::device_entry(id, d.signing_key, d.name));
                }
            }
        }
    }
    Ok((extra_keys, trust_entries))
}

/// What the events of an import are judged with besides the vault: the
/// signers' keys new to it, the events held in quarantine, the supervisors'
/// teams (at an office).
struct Judge<'a> {
    extra_keys: &'a HashMap<Uuid, VerifyingKey>,
    held: &'a crate::sync::quarantine::Held,
    teams: Option<&'a crate::model::visibility::Teams>,
}

/// The outcome of checking a bundle's events.
struct CheckedEvents {
    prepared: crate::model::store::PreparedImport,
    /// Signatures still being checked on other threads (none when streamed:
    /// each chunk waited for its own).
    signatures: crate::model::store::PendingSignatures,
    /// Events skipped because quarantine already holds them.
    held_again: usize,
    /// When streamed, each chunk's digest, for the commit pass.
    chunks: Option<Vec<[u8; 32]>>,
}

/// Pass 2 of a case-grouped bundle: every check, case chunk by case chunk,
/// keeping of each chunk only its outcome and its digest (§6, "Order and
/// memory").
#[allow(clippy::too_many_arguments)]
fn check_streamed<S: BundleSource + ?Sized>(
    store: &mut CaseStore,
    source: &S,
    identity: &age::x25519::Identity,
    listed: &format::MemberEntry,
    effective: &SignedRoster,
    judge: &Judge<'_>,
    total: u64,
    progress: &mut dyn FnMut(Progress),
) -> Result<CheckedEvents, ImportError> {
    let held_ids = judge.held.ids();
    let mut outcome = crate::model::store::PreparedImport::empty();
    let mut index = ChunkIndex::default();
    let mut held_again = 0;
    let mut done = 0u64;
    let mut check = |chunk: CaseChunk| -> Result<(), ImportError> {
        check_origins(effective, &chunk.events, &mut done, total, progress)?;
        index.note(&chunk)?;
        let mut incoming = chunk.events;
        held_again += skip_held(judge.held, &mut incoming)?;
        let (part, signatures) = store.prepare_import_judged(incoming, judge.extra_keys, &held_ids, judge.teams)?;
        signatures.wait()?;
        outcome.absorb_outcome(part);
        Ok(())
    };
    let mut chunker = CaseChunker::default();
    format::for_each_event_batch(source, identity, listed, &mut |events, hashes| {
        chunker.feed(events, hashes, &mut check)
    })?;
    chunker.finish(&mut check)?;
    Ok(CheckedEvents {
        prepared: outcome,
        signatures: crate::model::store::PendingSignatures::none(),
        held_again,
        chunks: Some(index.digests),
    })
}

/// The events of a bundle held in memory, checked all together. The
/// signatures are checked on other threads from here on, while the rest is
/// checked and the events are applied (commit_import_checked); a bad
/// signature is still the error reported first.
fn check_held_in_memory(
    store: &mut CaseStore,
    events: &mut Vec<Event>,
    effective: &SignedRoster,
    judge: &Judge<'_>,
    total: u64,
    progress: &mut dyn FnMut(Progress),
) -> Result<CheckedEvents, ImportError> {
    let mut done = 0u64;
    check_origins(effective, events, &mut done, total, progress)?;
    let mut incoming = std::mem::take(events);
    let held_again = skip_held(judge.held, &mut incoming)?;
    let (prepared, signatures) =
        store.prepare_import_judged(incoming, judge.extra_keys, &judge.held.ids(), judge.teams)?;
    Ok(CheckedEvents { prepared, signatures, held_again, chunks: None })
}

/// What an import brings besides its events: a roster, a configuration,
/// events it holds in quarantine.
struct News<'a> {
    roster: Option<&'a SignedRoster>,
    config: Option<&'a crate::country::SignedConfig>,
    quarantined: &'a [crate::model::store::QuarantinedEvent],
}

/// The sync bookkeeping committed with an import's events: the sender's
/// sequence, the bundle as seen, the duplicates flagged for review (report
/// 25b), the roster and configuration it brings, what it holds in
/// quarantine; from an office, its acknowledgements and its refusals of
/// this vault's own events; from a device, what the office's last bundle
/// to it delivered.
fn bookkeeping_entries(
    store: &CaseStore,
    opened: &format::OpenedBundle,
    effective: &SignedRoster,
    news: &News<'_>,
    mine: &BTreeSet<Uuid>,
    report: &mut ImportReport,
) -> Result<Vec<Value>, ImportError> {
    let m = &opened.manifest;
    let sender = m.sender.device_id;
    let mut entries = Vec::new();
    entries.push(put(&format!("{P_IN}{sender}"), json!(InState { seq: m.sender_seq, bundle_id: m.bundle_id })));
    entries.push(put(
        &format!("{P_SEEN}{}", m.bundle_id),
        json!({"sender": sender, "seq": m.sender_seq, "manifest_sha256": opened.manifest_digest()}),
    ));
    let flagged: Vec<(Uuid, Uuid)> =
        report.suspected_duplicates.iter().map(|d| (d.new_case, d.existing_case)).collect();
    entries.extend(crate::search::duplicate_review::import_flags_entry(store.vault().conn(), m.bundle_id, &flagged)?);
    if let Some(r) = news.roster {
        report.roster_serial = Some(r.roster.serial);
        entries.push(put(K_ROSTER, json!(r)));
    }
    if let Some(c) = news.config {
        report.config_serial = Some(c.config.serial);
        entries.push(crate::country::entry(c));
    }
    // Held, not applied: the rest of the bundle is (§6.1).
    entries.extend(crate::sync::quarantine::entries(news.quarantined, m.bundle_id, sender));
    match m.kind {
        BundleKind::OfficeToDevice | BundleKind::Enrollment => {
            entries.push(put(K_ACKS, json!(m.acks)));
            // The office's refusals of this device's own events.
            let conn = store.vault().conn();
            let own = |id: Uuid| {
                projection::stored_event_json(conn, id)
                    .ok()
                    .flatten()
                    .and_then(|j| Event::from_json(&serde_json::from_str(&j).unwrap_or(Value::Null)).ok())
                    .filter(|e| mine.contains(&e.device_id))
            };
            let notices = crate::sync::quarantine::notice_entries(&m.refused, own);
            // Two entries per refusal: the notice and the withdrawal.
            report.refusals_reported = notices.len() / 2;
            entries.extend(notices);
        }
        BundleKind::DeviceToOffice => {
            if let Some(r) = m.received.get(&effective.roster.office_id) {
                let key = format!("{P_SENT}{sender}/{r:020}");
                if let Some(cov) = state_get(store, &key)? {
                    entries.push(put(&format!("{P_DELIVERED}{sender}"), cov));
                }
            }
        }
        _ => {}
    }
    Ok(entries)
}

/// Pass 3 of a case-grouped import (docs/bundle-format.md §6, "Order and memory"):
/// read the events once more and commit them chunk by chunk, each chunk
/// first compared with its digest from the checking pass (a file changed
/// since is refused from that chunk on), checked again on the vault as it
/// is (signatures excepted: the same bytes verified), and committed with
/// the device keys in the first commit and the bookkeeping in the last.
#[allow(clippy::too_many_arguments)]
fn commit_by_chunks<S: BundleSource + ?Sized>(
    store: &mut CaseStore,
    source: &S,
    identity: &age::x25519::Identity,
    listed: &format::MemberEntry,
    digests: &[[u8; 32]],
    judge: &Judge<'_>,
    trust_entries: Vec<Value>,
    entries: Vec<Value>,
) -> Result<ImportSummary, ImportError> {
    let held_ids = judge.held.ids();
    let mut summary = ImportSummary::default();
    let mut before = Some(trust_entries);
    let threshold = store.set_checkpoint_bytes(u64::MAX);
    let mut expected = digests.iter();
    let changed = || {
        ImportError::MemberMismatch {
        path: format::EVENTS.into(),
        reason: "its content changed between two reads; the events committed so far were checked, import the bundle again to complete it".into(),
    }
    };
    // Events may have been committed already: the message says so, rather
    // than the member's digest mismatch the reader reports at its end.
    let mut differs = false;
    let mut commit = |chunk: CaseChunk| -> Result<(), ImportError> {
        if expected.next() != Some(&chunk.digest) {
            differs = true;
            return Err(changed());
        }
        let mut incoming = chunk.events;
        skip_held(judge.held, &mut incoming)?;
        let part = store.prepare_import_verified(incoming, judge.extra_keys, &held_ids, judge.teams)?;
        summary.absorb(store.commit_import(part, before.take().unwrap_or_default(), Vec::new())?);
        Ok(())
    };
    let mut chunker = CaseChunker::default();
    let read = format::for_each_event_batch(source, identity, listed, &mut |events, hashes| {
        chunker.feed(events, hashes, &mut commit)
    })
    .and_then(|()| chunker.finish(&mut commit));
    // Each chunk is its own commit: no automatic checkpoint after each
    // (it writes out the whole database), at most one after the last.
    store.set_checkpoint_bytes(threshold);
    // The member matched the manifest at the first read: a mismatch now is
    // a change between two reads too.
    let mismatch = matches!(&read, Err(ImportError::MemberMismatch { path, .. }) if path == format::EVENTS);
    if differs || mismatch {
        return Err(changed());
    }
    read?;
    if expected.next().is_some() {
        return Err(changed());
    }
    let mut last = before.take().unwrap_or_default();
    last.extend(entries);
    store.commit_sync_entries(last)?;
    Ok(summary)
}

/// §6: each event's origin enrolled (or vouched for), not past its
/// revocation, claiming only the role the roster grants it.
fn check_origins(
    effective: &SignedRoster,
    events: &[Event],
    done: &mut u64,
    total: u64,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), ImportError> {
    for e in events {
        let Some(origin) = effective.roster.signer(e.device_id) else {
            return Err(StoreError::UnknownDevice { device: e.device_id, event: e.id }.into());
        };
        if origin.last_seq.is_some_and(|last| e.device_seq > last) {
            if effective.roster.device(e.device_id).is_none() {
                // Past what a transfer vouched for: not known here.
                return Err(StoreError::UnknownDevice { device: e.device_id, event: e.id }.into());
            }
            return Err(ImportError::RevokedAuthor { device: e.device_id, event: e.id });
        }
        check_role(e, origin.role)?;
        *done += 1;
        if done.is_multiple_of(10_000) {
            progress(Progress::Events { done: *done, total });
        }
    }
    Ok(())
}

/// An event claims exactly the role its signer was granted (by the roster,
/// or by the sending office's roster for a transfer).
pub(crate) fn check_role(e: &Event, granted: Role) -> Result<(), ImportError> {
    if e.role != granted {
        return Err(ImportError::RoleNotGranted {
            device: e.device_id,
            event: e.id,
            claimed: e.role.to_string(),
            granted: granted.to_string(),
        });
    }
    Ok(())
}

/// Drop from `incoming` the events already held in quarantine (the same
/// event again); refuse another event at a held id or sequence. Returns how
/// many were dropped.
fn skip_held(held: &crate::sync::quarantine::Held, incoming: &mut Vec<Event>) -> Result<usize, ImportError> {
    let mut known = HashSet::new();
    for e in incoming.iter() {
        if held.knows(e)? {
            known.insert(e.id);
        } else if let Some(&existing) = held.at_seq.get(&(e.device_id, e.device_seq)) {
            return Err(StoreError::Equivocation { device: e.device_id, seq: e.device_seq, existing, new: e.id }.into());
        }
    }
    let before = incoming.len();
    incoming.retain(|e| !known.contains(&e.id));
    Ok(before - incoming.len())
}

/// What the first pass learns of the events' order: whether each case's
/// events are together (one run per case).
#[derive(Default)]
struct CaseOrder {
    count: usize,
    current: Option<Uuid>,
    finished: HashSet<Uuid>,
    grouped: bool,
}

impl CaseOrder {
    fn observe(&mut self, events: &[Event]) {
        if self.count == 0 {
            self.grouped = true;
        }
        for e in events {
            self.count += 1;
            if self.current != Some(e.case_id) {
                if let Some(c) = self.current.replace(e.case_id) {
                    self.finished.insert(c);
                }
                if self.finished.contains(&e.case_id) {
                    self.grouped = false;
                }
            }
        }
    }
}

/// Whole cases of a case-grouped `events.jsonl`, cut into chunks of at
/// least [`CHUNK_EVENTS`] events (a larger case is one chunk), in file
/// order, each with the digest of its lines' SHA-256s. The same bytes give
/// the same chunks, so a later pass compares its chunks with the first's.
#[derive(Default)]
struct CaseChunker {
    events: Vec<Event>,
    hashes: Vec<[u8; 32]>,
    current: Option<Uuid>,
    finished: HashSet<Uuid>,
}

/// Events of whole cases checked, or committed, together.
struct CaseChunk {
    events: Vec<Event>,
    digest: [u8; 32],
}

/// Events a chunk gathers before it is cut at the next case boundary: a
/// few MiB of parsed events, the import's working set besides its largest
/// case.
const CHUNK_EVENTS: usize = 2048;

impl CaseChunker {
    fn feed(
        &mut self,
        events: Vec<Event>,
        hashes: Vec<[u8; 32]>,
        each: &mut dyn FnMut(CaseChunk) -> Result<(), ImportError>,
    ) -> Result<(), ImportError> {
        for (e, h) in events.into_iter().zip(hashes) {
            if self.current != Some(e.case_id) {
                if let Some(c) = self.current.replace(e.case_id) {
                    self.finished.insert(c);
                }
                if self.finished.contains(&e.case_id) {
                    // The first pass found the cases grouped.
                    return Err(ImportError::MemberMismatch {
                        path: format::EVENTS.into(),
                        reason: "its content changed between two reads (the events are no longer grouped by case)"
                            .into(),
                    });
                }
                if self.events.len() >= CHUNK_EVENTS {
                    self.cut(each)?;
                }
            }
            self.events.push(e);
            self.hashes.push(h);
        }
        Ok(())
    }

    fn cut(&mut self, each: &mut dyn FnMut(CaseChunk) -> Result<(), ImportError>) -> Result<(), ImportError> {
        use sha2::{Digest as _, Sha256};
        let mut digest = Sha256::new();
        for h in self.hashes.drain(..) {
            digest.update(h);
        }
        each(CaseChunk { events: std::mem::take(&mut self.events), digest: digest.finalize().into() })
    }

    fn finish(mut self, each: &mut dyn FnMut(CaseChunk) -> Result<(), ImportError>) -> Result<(), ImportError> {
        if self.events.is_empty() {
            return Ok(());
        }
        self.cut(each)
    }
}

/// What the checking pass keeps of the chunks it checked: each chunk's
/// digest, and the ids and (device, sequence) of all events, so that an
/// event is compared with those of other chunks as the one-pass import
/// compares it with the rest of the bundle (tens of bytes per event).
#[derive(Default)]
struct ChunkIndex {
    digests: Vec<[u8; 32]>,
    ids: HashSet<Uuid>,
    seqs: HashMap<(Uuid, u64), Uuid>,
}

impl ChunkIndex {
    fn note(&mut self, chunk: &CaseChunk) -> Result<(), ImportError> {
        // Cases are whole in a chunk, so the same event twice is in one
        // chunk (prepare_import skips it); an id met in an earlier chunk is
        // an event of another case, so another event.
        for e in &chunk.events {
            if self.ids.contains(&e.id) {
                return Err(StoreError::ConflictingEvent { event: e.id }.into());
            }
            if let Some(&existing) = self.seqs.get(&(e.device_id, e.device_seq)) {
                return Err(
                    StoreError::Equivocation { device: e.device_id, seq: e.device_seq, existing, new: e.id }.into()
                );
            }
        }
        for e in &chunk.events {
            self.ids.insert(e.id);
            self.seqs.insert((e.device_id, e.device_seq), e.id);
        }
        self.digests.push(chunk.digest);
        Ok(())
    }
}

/// Check a bundle completely (decryption, structure, signer, sequence,
/// events, rules) without importing it.
pub fn verify_bundle<S: BundleSource + ?Sized>(
    store: &mut CaseStore,
    source: &S,
    progress: &mut dyn FnMut(Progress),
) -> Result<ImportReport, ImportError> {
    import_bundle(store, source, true, progress)
}
