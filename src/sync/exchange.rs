//! Office and device roles, enrollment, revocation, export and import of
//! bundles. All sync bookkeeping lives in the vault's `sync_state` table and
//! is written through the journal ([`projection::sync_put_entry`]), so an
//! import's events and its bookkeeping are one commit: all or nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::model::error::StoreError;
use crate::model::event::{Event, Role};
use crate::model::projection;
use crate::model::store::{CaseStore, ImportPreview, ImportSummary};
use crate::model::visibility::Reader;
use crate::sync::error::ImportError;
use crate::sync::format::{self, BundleHead, BundleKind, BundleParts, BundleSource, Manifest, Progress, Sender};
use crate::sync::roster::{
    age_recipient, EnrollmentRequest, Roster, RosterDevice, SignedRoster, REQUEST_FORMAT, ROSTER_FORMAT,
};

const K_IS_OFFICE: &str = "is_office";
pub(crate) const K_ROSTER: &str = "roster";
const K_OUT: &str = "out";
const K_ACKS: &str = "acks";
const P_IN: &str = "in/";
const P_SEEN: &str = "seen/";
const P_SENT: &str = "sent/";
const P_DELIVERED: &str = "delivered/";

/// Why a sync operation other than an import failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Only an office vault can do this.
    #[error("this vault is not an office vault (make one with `fieldcase init --office`)")]
    NotOffice,
    /// Only a field device can do this.
    #[error("this is an office vault; this operation is for field devices")]
    IsOffice,
    /// The vault has no office yet.
    #[error("this vault is not enrolled with an office; import its enrollment bundle first")]
    NotEnrolled,
    /// The vault already belongs to an office.
    #[error("this vault already belongs to office {0}")]
    AlreadyEnrolled(Uuid),
    /// Unknown device.
    #[error("device {0} is not in this office's roster")]
    UnknownDevice(Uuid),
    /// Revoked device.
    #[error("device {0} is revoked")]
    Revoked(Uuid),
    /// Bad enrollment request or approval.
    #[error("enrollment refused: {0}")]
    Enrollment(String),
    /// Building the bundle failed.
    #[error("cannot build the bundle: {0}")]
    Build(String),
    /// Vault / case model failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

// Each failure's stable code for the interfaces (crate::codes).
crate::error_codes! { SyncError {
    nested {
        SyncError::Store(s) => s: StoreError;
    }
    SyncError::NotOffice => "not_office";
    SyncError::IsOffice => "is_office";
    SyncError::NotEnrolled => "not_enrolled";
    SyncError::AlreadyEnrolled(office) => "already_enrolled" { office };
    SyncError::UnknownDevice(device) => "unknown_device" { device };
    SyncError::Revoked(device) => "device_revoked" { device };
    SyncError::Enrollment(reason) => "enrollment_refused" { reason };
    SyncError::Build(_) => "bundle_build_failed";
} }

impl From<rusqlite::Error> for SyncError {
    fn from(e: rusqlite::Error) -> SyncError {
        SyncError::Store(StoreError::from(e))
    }
}

pub(crate) fn state_get(store: &CaseStore, key: &str) -> Result<Option<Value>, StoreError> {
    Ok(projection::sync_state(store.vault().conn(), key)?.into_iter().find(|(k, _)| k == key).map(|(_, v)| v))
}

pub(crate) fn put(key: &str, value: Value) -> Value {
    projection::sync_put_entry(key, &value)
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Whether this vault is an office vault.
pub fn is_office(store: &CaseStore) -> Result<bool, StoreError> {
    Ok(state_get(store, K_IS_OFFICE)?.is_some_and(|v| v == Value::Bool(true)))
}

/// The roster this vault holds (the office's own, or the last one a device
/// accepted), if any.
pub fn roster(store: &CaseStore) -> Result<Option<SignedRoster>, StoreError> {
    Ok(state_get(store, K_ROSTER)?.and_then(|v| serde_json::from_value(v).ok()))
}

/// The age recipient others encrypt bundles for this vault to.
pub fn recipient(store: &CaseStore) -> String {
    store.vault().recipient()
}

/// Turn a freshly made vault into its office's vault: role data_manager, the
/// office flag and a roster listing the office itself.
pub fn make_office(store: &mut CaseStore, office_name: &str) -> Result<(), SyncError> {
    if let Some(r) = roster(store)? {
        return Err(SyncError::AlreadyEnrolled(r.roster.office_id));
    }
    let device = store.vault().device().clone();
    if device.role != Role::DataManager.as_str() {
        return Err(SyncError::Enrollment(format!(
            "an office vault must have role data_manager, this one is {}",
            device.role
        )));
    }
    // The office key (rosters and office bundles) is the device key; the
    // office's own first person signs their events with their event key,
    // which the office's own roster entry lists (docs/bundle-format.md §7).
    let office_key = hex::encode(store.vault().device_verifying_key().as_bytes());
    let event_key = hex::encode(store.vault().first_person_verifying_key().as_bytes());
    let roster = Roster {
        format: ROSTER_FORMAT.into(),
        office_id: device.device_id,
        office_name: office_name.to_string(),
        office_signing_key: office_key.clone(),
        office_recipient: store.vault().recipient(),
        serial: 1,
        devices: vec![RosterDevice {
            device_id: device.device_id,
            name: device.device_name.clone(),
            user: device.user_name.clone(),
            role: Role::DataManager,
            bundle_key: (office_key != event_key).then_some(office_key),
            signing_key: event_key,
            recipient: store.vault().recipient(),
            enrolled_at: now_rfc3339(),
            revoked_at: None,
            revoked_after_seq: None,
            host: None,
            team: None,
        }],
        vouched: Vec::new(),
        partners: Vec::new(),
    };
    let signed = roster.sign(store.vault().device_key());
    store.commit_sync_entries(vec![put(K_IS_OFFICE, Value::Bool(true)), put(K_ROSTER, json!(signed))])?;
    Ok(())
}

/// The enrollment request of the person recording on this device (public
/// keys, name, user, role), signed with their own key. For the vault's
/// first person it enrolls the device itself; for a further person
/// (docs/vault-format.md §2.2) it names the device as `host`.
pub fn enrollment_request(store: &CaseStore) -> Result<EnrollmentRequest, SyncError> {
    if is_office(store)? {
        return Err(SyncError::IsOffice);
    }
    let d = store.vault().device();
    let (user, role) = store.actor();
    let signer = store.signer_id();
    let first_person = signer == d.device_id;
    // The device key signs bundles; a device made before identity version
    // 3 has one key for both, and then names none.
    let device_key = store.vault().device_key();
    let parted = first_person && device_key.verifying_key() != store.signer_key().verifying_key();
    Ok(EnrollmentRequest {
        format: REQUEST_FORMAT.into(),
        version: 1,
        device_id: signer,
        device_name: d.device_name.clone(),
        user: user.to_owned(),
        role,
        signing_key: hex::encode(store.signer_key().verifying_key().as_bytes()),
        bundle_key: parted.then(|| hex::encode(device_key.verifying_key().as_bytes())),
        recipient: store.vault().recipient(),
        created: now_rfc3339(),
        host: (!first_person).then_some(d.device_id),
        sig: String::new(),
        bundle_sig: None,
    }
    .sign(store.signer_key(), parted.then_some(device_key)))
}

pub(crate) fn office_roster(store: &CaseStore) -> Result<SignedRoster, SyncError> {
    if !is_office(store)? {
        return Err(SyncError::NotOffice);
    }
    roster(store)?.ok_or(SyncError::NotOffice)
}

/// Office: approve an enrollment request with `role` (which must be the role
/// the device's vault was made with: a device's role is fixed in its
/// identity). Adds the device to the signed roster and returns the
/// enrollment bundle for the device.
pub fn approve_enrollment(
    store: &mut CaseStore,
    request: &[u8],
    role: Role,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<u8>, SyncError> {
    approve_enrollment_with(store, request, role, None, progress)
}

/// [`approve_enrollment`], where `additional_device_of` says explicitly
/// that the request is another device (another key) of a person already
/// enrolled under that user name, with the same role. Without it, a user
/// name enrolled (and not revoked) under another key is refused, so that
/// visibility by user name never hands one person's cases to another.
pub fn approve_enrollment_with(
    store: &mut CaseStore,
    request: &[u8],
    role: Role,
    additional_device_of: Option<&str>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<u8>, SyncError> {
    approve_enrollment_in_team(store, request, role, additional_device_of, None, progress)
}

/// [`approve_enrollment_with`] that puts the person in `team` (a
/// caseworker or a supervisor; docs/visibility.md §2). Another device of an
/// enrolled person gets that person's team when `team` is `None`.
pub fn approve_enrollment_in_team(
    store: &mut CaseStore,
    request: &[u8],
    role: Role,
    additional_device_of: Option<&str>,
    team: Option<&str>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<u8>, SyncError> {
    if team.is_some() {
        crate::sync::teams::check_may_set(store)?;
    }
    let team = team.map(|t| crate::sync::teams::team_name(t, role)).transpose()?;
    let signed = office_roster(store)?;
    let req = EnrollmentRequest::parse_and_verify(request).map_err(SyncError::Enrollment)?;
    if req.role != role {
        return Err(SyncError::Enrollment(format!(
            "the device asked for role {}, not {role}; a device's role is fixed when its vault is made (make a new vault with --role {role})",
            req.role
        )));
    }
    crate::sync::people::check_request(&signed.roster, &req, additional_device_of)?;
    let mut roster = signed.roster.clone();
    if let Some(existing) = roster.device(req.device_id) {
        if existing.signing_key != req.signing_key || existing.bundle_key != req.bundle_key {
            return Err(SyncError::Enrollment(format!(
                "device {} is already enrolled with another key",
                req.device_id
            )));
        }
        if existing.revoked_at.is_some() {
            return Err(SyncError::Revoked(req.device_id));
        }
    } else {
        roster.devices.push(RosterDevice {
            device_id: req.device_id,
            name: req.device_name.clone(),
            user: req.user.clone(),
            role,
            signing_key: req.signing_key.clone(),
            bundle_key: req.bundle_key.clone(),
            recipient: req.recipient.clone(),
            enrolled_at: now_rfc3339(),
            revoked_at: None,
            revoked_after_seq: None,
            host: req.host,
            team: team.or_else(|| {
                additional_device_of.and_then(|u| {
                    roster.devices.iter().find(|d| d.user == u && d.revoked_at.is_none()).and_then(|d| d.team.clone())
                })
            }),
        });
        roster.serial += 1;
    }
    let signed = roster.sign(store.vault().device_key());
    let entries =
        vec![put(K_ROSTER, json!(signed)), projection::device_entry(req.device_id, &req.signing_key, &req.device_name)];
    store.commit_sync_entries(entries)?;
    let recipient = age_recipient(&req.recipient).map_err(SyncError::Enrollment)?;
    let roster_bytes = serde_json::to_vec(&signed).map_err(|e| SyncError::Build(e.to_string()))?;
    build_and_record(
        store,
        BundleKind::Enrollment,
        vec![recipient],
        &[],
        Some(&roster_bytes),
        BTreeMap::new(),
        None,
        progress,
    )
}

/// Office: revoke a device. Its events up to the highest contiguous sequence
/// the office holds stay valid; later events and bundles are refused.
pub fn revoke(store: &mut CaseStore, device: Uuid) -> Result<(), SyncError> {
    let signed = office_roster(store)?;
    if device == signed.roster.office_id {
        return Err(SyncError::Enrollment("the office cannot revoke itself".into()));
    }
    let held = contiguous_vv(store)?.get(&device).copied().unwrap_or(0);
    let mut roster = signed.roster;
    let entry = roster.devices.iter_mut().find(|d| d.device_id == device).ok_or(SyncError::UnknownDevice(device))?;
    if entry.revoked_at.is_some() {
        return Ok(());
    }
    let at = now_rfc3339();
    entry.revoked_at = Some(at.clone());
    entry.revoked_after_seq = Some(held);
    // The people the device hosts go with it: their events travel in its
    // bundles, and whoever holds the device holds their keys files.
    let vv = contiguous_vv(store)?;
    for hosted in roster.devices.iter_mut().filter(|d| d.host == Some(device) && d.revoked_at.is_none()) {
        hosted.revoked_at = Some(at.clone());
        hosted.revoked_after_seq = Some(vv.get(&hosted.device_id).copied().unwrap_or(0));
    }
    roster.serial += 1;
    let signed = roster.sign(store.vault().device_key());
    store.commit_sync_entries(vec![put(K_ROSTER, json!(signed))])?;
    Ok(())
}

/// Highest contiguous device_seq held, per device. An event held in
/// quarantine counts as held (§6.1): the office keeps it, so its origin
/// stops resending it and its later events are acknowledged.
pub(crate) fn contiguous_vv(store: &CaseStore) -> Result<BTreeMap<Uuid, u64>, StoreError> {
    let quarantined = crate::sync::quarantine::held_seqs(store)?;
    let through = |d: &Uuid, top: &mut u64| {
        if let Some(q) = quarantined.get(d) {
            while q.contains(&(*top + 1)) {
                *top += 1;
            }
        }
    };
    let conn = store.vault().conn();
    // The events of erased cases count as held: they were received, and
    // the sender must not resend them forever (their bookkeeping is kept).
    let mut stmt = conn.prepare(
        "SELECT device_id, device_seq FROM events UNION ALL SELECT device_id, device_seq FROM erased_events
         ORDER BY device_id, device_seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut vv: BTreeMap<Uuid, u64> = BTreeMap::new();
    let mut broken: BTreeSet<Uuid> = BTreeSet::new();
    while let Some(r) = rows.next()? {
        let (d, s): (String, i64) = (r.get(0)?, r.get(1)?);
        let Ok(d) = Uuid::parse_str(&d) else { continue };
        if broken.contains(&d) {
            continue;
        }
        let top = vv.entry(d).or_insert(0);
        through(&d, top);
        if s as u64 == *top + 1 {
            *top += 1;
        } else {
            broken.insert(d);
        }
    }
    for d in quarantined.keys() {
        if !broken.contains(d) {
            through(d, vv.entry(*d).or_insert(0));
        }
    }
    vv.retain(|_, v| *v > 0);
    Ok(vv)
}

fn newest_hlc(store: &CaseStore) -> Result<crate::model::event::Hlc, StoreError> {
    use rusqlite::OptionalExtension as _;
    let row: Option<(i64, u32)> = store
        .vault()
        .conn()
        .query_row(
            "SELECT hlc_millis, hlc_counter FROM events ORDER BY hlc_millis DESC, hlc_counter DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(row.map_or_else(Default::default, |(m, c)| crate::model::event::Hlc { millis: m.max(0) as u64, counter: c }))
}

fn stored_events(store: &CaseStore) -> Result<Vec<Event>, StoreError> {
    store.all_events()
}

/// The outgoing bundle sequence state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct OutState {
    seq: u64,
    manifest_sha256: Option<String>,
}

/// What a sent office bundle covered, to compute the next delta.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Coverage {
    vv: BTreeMap<Uuid, u64>,
    cases: BTreeSet<Uuid>,
}

#[allow(clippy::too_many_arguments)]
fn build_and_record(
    store: &mut CaseStore,
    kind: BundleKind,
    recipients: Vec<age::x25519::Recipient>,
    events: &[Event],
    roster_bytes: Option<&[u8]>,
    received: BTreeMap<Uuid, u64>,
    sent: Option<(Uuid, Coverage)>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<u8>, SyncError> {
    build_bundle(store, kind, recipients, events, roster_bytes, None, received, sent, |_| Vec::new(), progress)
        .map(|(b, _)| b)
}

/// [`build_and_record`] with a `receipt.json` member and extra sync entries
/// (made from the new bundle id) committed together with the sequence.
/// Returns the ciphertext and the bundle id.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_bundle(
    store: &mut CaseStore,
    kind: BundleKind,
    mut recipients: Vec<age::x25519::Recipient>,
    events: &[Event],
    roster_bytes: Option<&[u8]>,
    receipt_bytes: Option<&[u8]>,
    received: BTreeMap<Uuid, u64>,
    sent: Option<(Uuid, Coverage)>,
    extra: impl FnOnce(Uuid) -> Vec<Value>,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Vec<u8>, Uuid), SyncError> {
    let out: OutState = state_get(store, K_OUT)?.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
    let office_id = roster(store)?.map(|r| r.roster.office_id).ok_or(SyncError::NotEnrolled)?;
    let device = store.vault().device().clone();
    // The sender's escrow key can read its own bundles too (docs/bundle-format.md §2).
    if let Some(esc) = device.escrow.as_deref() {
        recipients.push(age_recipient(esc).map_err(SyncError::Build)?);
    }
    let mut rng = rand::thread_rng();
    let hlc = newest_hlc(store)?;
    // The office's country configuration goes to its devices in every
    // office bundle, once its data manager made one (§7.1).
    let config_bytes = match kind {
        BundleKind::OfficeToDevice | BundleKind::Enrollment => crate::country::held(store)?
            .map(|c| serde_json::to_vec(&c))
            .transpose()
            .map_err(|e| SyncError::Build(e.to_string()))?,
        _ => None,
    };
    let manifest = Manifest {
        format: format::FORMAT.into(),
        version: if kind == BundleKind::PartnerReceipt {
            format::VERSION_PARTNER_RECEIPT
        } else if kind.is_partner() {
            format::VERSION_PARTNER
        } else if config_bytes.is_some() {
            format::VERSION_CONFIG
        } else {
            format::VERSION
        },
        bundle_id: crate::model::event::new_v7(chrono::Utc::now().timestamp_millis().max(0) as u64, &mut rng),
        kind,
        sender: Sender {
            device_id: device.device_id,
            name: device.device_name.clone(),
            signing_key: hex::encode(store.vault().device_verifying_key().as_bytes()),
            recipient: store.vault().recipient(),
        },
        recipients: recipients.iter().map(ToString::to_string).collect(),
        office_id,
        created_hlc: hlc,
        sender_seq: out.seq + 1,
        prev_bundle_sha256: out.manifest_sha256.clone(),
        version_vector: BTreeMap::new(),
        acks: contiguous_vv(store)?,
        received,
        members: Vec::new(),
        counts: format::Counts::default(),
        // A device learns here which of its events the office holds in
        // quarantine (§6.1).
        refused: match (&kind, &sent) {
            (BundleKind::OfficeToDevice, Some((dev, _))) => {
                let signers: Vec<Uuid> = match roster(store)? {
                    Some(r) => r.roster.hosted_by(*dev).map(|d| d.device_id).collect(),
                    None => vec![*dev],
                };
                crate::sync::quarantine::notices_for(store, &signers)?
            }
            _ => Vec::new(),
        },
    };
    let seq = manifest.sender_seq;
    let bundle_id = manifest.bundle_id;
    let parts =
        BundleParts { manifest, events, roster: roster_bytes, receipt: receipt_bytes, config: config_bytes.as_deref() };
    // The blobs the events refer to travel with them (spec §3.1).
    let attachments = crate::sync::attachments::outgoing(store, events)?;
    let (bytes, manifest_bytes) = format::write_bundle_with(
        parts,
        &attachments,
        &mut |id| crate::sync::attachments::load(store, id),
        store.vault().device_key(),
        &recipients,
        progress,
    )
    .map_err(SyncError::Build)?;
    // The sequence is recorded before the file exists: a failed write leaves
    // a gap, which receivers accept; a reused sequence they would refuse.
    let mut entries =
        vec![put(K_OUT, json!(OutState { seq, manifest_sha256: Some(Manifest::digest(&manifest_bytes)) }))];
    if let Some((dev, cov)) = sent {
        entries.push(put(&format!("{P_SENT}{dev}/{seq:020}"), json!(cov)));
    }
    entries.extend(extra(bundle_id));
    progress(Progress::Committing);
    store.commit_sync_entries(entries)?;
    Ok((bytes, bundle_id))
}

/// Device: a bundle for the office with every event the office has not
/// acknowledged.
pub fn export_for_office(store: &mut CaseStore, progress: &mut dyn FnMut(Progress)) -> Result<Vec<u8>, SyncError> {
    if is_office(store)? {
        return Err(SyncError::IsOffice);
    }
    let signed = roster(store)?.ok_or(SyncError::NotEnrolled)?;
    let acks: BTreeMap<Uuid, u64> =
        state_get(store, K_ACKS)?.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
    let mut events: Vec<Event> = stored_events(store)?
        .into_iter()
        .filter(|e| e.device_seq > acks.get(&e.device_id).copied().unwrap_or(0))
        .collect();
    // This device's own events that an erasure removed before the office
    // acknowledged them travel as signed stand-ins with no content
    // (docs/bundle-format.md §8), so the office's acks for it have no gap.
    // Each signer signs the stand-ins of their own events, so only the
    // people whose event keys are loaded can: the vault's first person
    // when they unlocked (or were switched to), and the person recording
    // now. Anyone else's stand-ins wait until they next record; meanwhile
    // the office's acks for them stop at the gap and their later events
    // are sent again (and skipped as known).
    let own = store.vault().device().clone();
    let mut signers: Vec<(Uuid, String, Role, ed25519_dalek::SigningKey)> = Vec::new();
    if let Some(key) = store.vault().first_person_key() {
        signers.push((own.device_id, own.user_name.clone(), own.role.parse().map_err(StoreError::from)?, key.clone()));
    }
    if store.signer_id() != own.device_id {
        let (user, role) = store.actor();
        signers.push((store.signer_id(), user.to_owned(), role, store.signer_key().clone()));
    }
    for (id, user, role, key) in &signers {
        let mut stand_ins = crate::model::erasure::stand_ins(
            store.vault().conn(),
            *id,
            acks.get(id).copied().unwrap_or(0),
            user,
            *role,
        )
        .map_err(StoreError::from)?;
        for e in &mut stand_ins {
            e.sign(key);
        }
        events.extend(stand_ins);
    }
    events.sort_by_key(Event::order_key);
    let office = signed.roster.office_id;
    let received = last_in(store, office)?.map(|s| BTreeMap::from([(office, s)])).unwrap_or_default();
    let recipient = age_recipient(&signed.roster.office_recipient).map_err(SyncError::Build)?;
    build_and_record(store, BundleKind::DeviceToOffice, vec![recipient], &events, None, received, None, progress)
}

/// The cases `device` receives: those its person may see and open, by the
/// same rule as the need-to-know views on the device
/// ([`crate::model::visibility::Reader::receives`]; docs/bundle-format.md §8).
/// A supervisor's device receives their team's cases only (the roster's
/// `team`, docs/visibility.md §6).
fn visible_cases(store: &CaseStore, roster: &Roster, device: &RosterDevice) -> Result<BTreeSet<Uuid>, StoreError> {
    let team = roster.team_of(&device.user);
    store.cases_received_by(Reader { user: &device.user, role: device.role, team: team.as_ref() })
}

/// Office: a bundle for one device: acknowledgements, the roster and the new
/// events of the cases it may see (need-to-know).
pub fn export_for_device(
    store: &mut CaseStore,
    device: Uuid,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<u8>, SyncError> {
    let signed = office_roster(store)?;
    let target = signed.roster.device(device).cloned().ok_or(SyncError::UnknownDevice(device))?;
    if target.revoked_at.is_some() {
        return Err(SyncError::Revoked(device));
    }
    if device == signed.roster.office_id {
        return Err(SyncError::Enrollment("the office does not export to itself".into()));
    }
    if let Some(host) = target.host {
        return Err(SyncError::Enrollment(format!(
            "{device} is a person hosted on device {host}: export for that device, which receives what each of its people may see"
        )));
    }
    let delivered: Coverage = state_get(store, &format!("{P_DELIVERED}{device}"))?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    // A device may see what any of the people it hosts may see, and has
    // the events any of them signed.
    let hosted: Vec<RosterDevice> = signed.roster.hosted_by(device).cloned().collect();
    let mut cases = BTreeSet::new();
    for person in hosted.iter().filter(|p| p.revoked_at.is_none()) {
        cases.extend(visible_cases(store, &signed.roster, person)?);
    }
    // Erasures go to every device: only their two events are left of an
    // erased case, they hold no personal data, and whichever device holds
    // the case (or a copy made before a reassignment) must erase it.
    cases.extend(crate::model::erasure::erased_cases(store.vault().conn())?);
    let mut events = Vec::new();
    for case in &cases {
        for e in store.case_events(*case)? {
            if hosted.iter().any(|p| p.device_id == e.device_id) {
                continue; // the device has its own events
            }
            if delivered.cases.contains(case) && e.device_seq <= delivered.vv.get(&e.device_id).copied().unwrap_or(0) {
                continue;
            }
            events.push(e);
        }
    }
    // The device's own events the office held and applied later: it may
    // have withdrawn them when their refusal was reported (§6.1), so they
    // go back to it, while it may see their case.
    let signers: Vec<Uuid> = hosted.iter().map(|p| p.device_id).collect();
    let included: HashSet<Uuid> = events.iter().map(|e| e.id).collect();
    for e in crate::sync::quarantine::released_for(store, &signers)? {
        if cases.contains(&e.case_id) && !included.contains(&e.id) {
            events.push(e);
        }
    }
    events.sort_by_key(Event::order_key);
    let coverage = Coverage { vv: contiguous_vv(store)?, cases };
    let received = last_in(store, device)?.map(|s| BTreeMap::from([(device, s)])).unwrap_or_default();
    let roster_bytes = serde_json::to_vec(&signed).map_err(|e| SyncError::Build(e.to_string()))?;
    let recipient = age_recipient(&target.recipient).map_err(SyncError::Build)?;
    build_and_record(
        store,
        BundleKind::OfficeToDevice,
        vec![recipient],
        &events,
        Some(&roster_bytes),
        received,
        Some((device, coverage)),
        progress,
    )
}

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
    // Pass 1 (docs/bundle-format.md §5.1): the whole bundle read and
    // checked, the events only parsed and looked at for their order; a
    // transfer's (one case) are kept.
    let kind = std::cell::Cell::new(None);
    let mut order = CaseOrder::default();
    let mut kept = Vec::new();
    let mut opened = {
        let store: &CaseStore = store;
        format::read_bundle_streaming(
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
        )?
    };
    opened.events = kept;
    // Events in another order than case by case are held all together, as
    // they come (read again, keeping them): §6 allows any order.
    let streamed = order.count > 0 && order.grouped;
    if order.count > 0 && !order.grouped {
        let store: &CaseStore = store;
        opened =
            format::read_bundle(source, store.vault().age_identity(), &mut |head| authenticate(store, head), progress)?;
    }
    let received = if streamed { order.count } else { opened.events.len() };
    // A copy of the (small) manifest, so the events can later move out of
    // `opened` into the import instead of being copied.
    let manifest = opened.manifest.clone();
    let m = &manifest;
    let me = store.vault().device().device_id;
    // Every signer of this vault: its first person and the people it hosts.
    let mine: BTreeSet<Uuid> = std::iter::once(me).chain(store.people()?.into_iter().map(|p| p.id)).collect();
    // 1. The sender and its key were checked by `authenticate` before the
    // events were read; here what needs the rest of the bundle (the
    // roster it carries).
    let (new_roster, sender_entry, held): (Option<SignedRoster>, RosterDevice, Option<SignedRoster>) = match m.kind {
        BundleKind::DeviceToOffice => {
            let entry = device_sender(store, m)?;
            if opened.roster.is_some() || opened.config.is_some() {
                return Err(ImportError::WrongKind(
                    "a device bundle may not carry a roster or a country configuration".into(),
                ));
            }
            (None, entry, roster(store)?)
        }
        BundleKind::OfficeToDevice | BundleKind::Enrollment => {
            let (held, office_key_hex) = office_sender_key(store, m)?;
            let bytes = opened.roster.as_deref().ok_or_else(|| ImportError::MissingMember(format::ROSTER.into()))?;
            let incoming = SignedRoster::parse(bytes).map_err(ImportError::BadRoster)?;
            // The office key: the one this device already trusts, or at
            // enrollment the one that signed the manifest, which the roster
            // must name (trust on first use; the CLI shows its fingerprint
            // to compare with the office).
            if incoming.roster.office_signing_key != office_key_hex || incoming.roster.office_id != m.office_id {
                return Err(ImportError::BadRoster("it names another office or office key".into()));
            }
            let key = crate::model::event::parse_verifying_key(&office_key_hex)
                .map_err(|e| ImportError::BadRoster(e.to_string()))?;
            incoming.verify(&key).map_err(ImportError::BadRoster)?;
            if let Some(h) = &held {
                if incoming.roster.serial < h.roster.serial {
                    return Err(ImportError::BadRoster(format!(
                        "serial {} is older than the held {}",
                        incoming.roster.serial, h.roster.serial
                    )));
                }
            }
            let mine =
                incoming.roster.device(me).ok_or_else(|| ImportError::BadRoster("this device is not in it".into()))?;
            if mine.signing_key != hex::encode(store.vault().first_person_verifying_key().as_bytes())
                || mine.bundle_key_hex() != hex::encode(store.vault().device_verifying_key().as_bytes())
                || mine.recipient != store.vault().recipient()
            {
                return Err(ImportError::BadRoster("it lists this device with other keys".into()));
            }
            if mine.revoked_at.is_some() {
                return Err(ImportError::BadRoster("this device has been revoked by the office".into()));
            }
            let entry = incoming
                .roster
                .device(m.office_id)
                .cloned()
                .ok_or_else(|| ImportError::BadRoster("the office is not in it".into()))?;
            (Some(incoming), entry, held)
        }
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
    let key = sender_entry.bundle_verifying_key().map_err(ImportError::BadRoster)?;
    opened.verify_signature(&key)?;
    // The country configuration (§7.1): signed by the office key this
    // device trusts, not older than the held one, whole; the events are
    // then checked against its lists.
    let new_config = match (&opened.config, new_roster.as_ref()) {
        (None, _) => None,
        (Some(bytes), Some(r)) => {
            let office_key = crate::model::event::parse_verifying_key(&r.roster.office_signing_key)
                .map_err(|e| ImportError::BadRoster(e.to_string()))?;
            crate::country::check_incoming(store.vault().conn(), bytes, &office_key, r.roster.office_id)?
        }
        (Some(_), None) => return Err(ImportError::WrongKind("only an office bundle carries a configuration".into())),
    };
    if let Some(c) = &new_config {
        store.swap_forms(std::sync::Arc::new(crate::country::registry_for(&c.config)));
    }
    // 2. Sequence: replay = no-op, older = refused.
    let sender = m.sender.device_id;
    let mut report = ImportReport {
        bundle_id: m.bundle_id,
        kind: m.kind,
        sender,
        sender_name: sender_entry.name.clone(),
        sender_key: sender_entry.bundle_key_hex().to_owned(),
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
        received_by_sender: m.received.get(&store.vault().device().device_id).copied(),
    };
    if state_get(store, &format!("{P_SEEN}{}", m.bundle_id))?.is_some() {
        report.replay = true;
        return Ok(report);
    }
    if let Some(last) = last_in(store, sender)? {
        if m.sender_seq <= last {
            return Err(ImportError::SequenceBackwards { sender, last, got: m.sender_seq });
        }
    }
    // 3. Events: origin device enrolled, not past its revocation, claiming
    // only its granted role; then signatures and rules in the store.
    let effective = new_roster.as_ref().or(held.as_ref()).ok_or(ImportError::NotEnrolled)?;
    let mut extra_keys: HashMap<Uuid, VerifyingKey> = HashMap::new();
    let mut trust_entries = Vec::new();
    // Enrolled devices, and those of other offices the roster vouches for
    // (transferred cases, §9.4).
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
    // The attachment plan reads the events' references, noted by the
    // reader; its error still comes after the events' own.
    let planned = crate::sync::attachments::plan(store, &opened);
    // Events already in quarantine (§6.1) are known: the same one again is
    // skipped, another at its id or sequence is refused as tampering.
    let held = crate::sync::quarantine::held(store)?;
    let held_ids = held.ids();
    // A supervisor's events are judged against their team at the office,
    // which holds the roster as it is when the change arrives. A device
    // does not judge the office's relayed events by team: the office
    // already did, and a later team change must not make an accepted
    // change unacceptable (docs/visibility.md §7).
    let teams = (m.kind == BundleKind::DeviceToOffice).then(|| effective.roster.supervisor_teams());
    let teams = teams.as_ref();
    let identity = store.vault().age_identity().clone();
    let listed = m.members.iter().find(|e| e.path == format::EVENTS).cloned();
    let (mut prepared, signatures, held_again, chunks) = match (&listed, streamed) {
        (Some(listed), true) => {
            // Pass 2: every check, case chunk by case chunk, keeping of each
            // chunk only its outcome and its digest (§6, "Order and memory").
            let mut outcome = crate::model::store::PreparedImport::empty();
            let mut index = ChunkIndex::default();
            let mut held_again = 0;
            let mut done = 0u64;
            let mut check = |chunk: CaseChunk| -> Result<(), ImportError> {
                check_origins(effective, &chunk.events, &mut done, received as u64, progress)?;
                index.note(&chunk)?;
                let mut incoming = chunk.events;
                held_again += skip_held(&held, &mut incoming)?;
                let (part, signatures) = store.prepare_import_judged(incoming, &extra_keys, &held_ids, teams)?;
                signatures.wait()?;
                outcome.absorb_outcome(part);
                Ok(())
            };
            let mut chunker = CaseChunker::default();
            format::for_each_event_batch(source, &identity, listed, &mut |events, hashes| {
                chunker.feed(events, hashes, &mut check)
            })?;
            chunker.finish(&mut check)?;
            (outcome, crate::model::store::PendingSignatures::none(), held_again, Some(index.digests))
        }
        _ => {
            let mut done = 0u64;
            check_origins(effective, &opened.events, &mut done, received as u64, progress)?;
            // The signatures are checked on other threads from here on, while
            // the rest is checked and the events are applied
            // (commit_import_checked); a bad signature is still the error
            // reported first.
            let mut incoming = std::mem::take(&mut opened.events);
            let held_again = skip_held(&held, &mut incoming)?;
            let (prepared, signatures) = store.prepare_import_judged(incoming, &extra_keys, &held_ids, teams)?;
            (prepared, signatures, held_again, None)
        }
    };
    let quarantined = std::mem::take(&mut prepared.quarantined);
    report.preview = prepared.preview.clone();
    report.preview.known_events += held_again;
    let checked = (|| -> Result<_, ImportError> {
        let (attachment_preview, new_blobs) = planned?;
        let duplicates = suspected_duplicates_of(store, prepared.new_case_people())?;
        Ok((attachment_preview, new_blobs, duplicates))
    })();
    let (attachment_preview, new_blobs, duplicates) = match checked {
        Ok(c) => c,
        Err(e) => return Err(signatures.wait().err().map_or(e, ImportError::from)),
    };
    report.attachments = attachment_preview;
    report.suspected_duplicates = duplicates;
    // 4. Bookkeeping, in the same commit as the events (the last frame of
    // a very large import).
    let mut entries = Vec::new();
    entries.push(put(&format!("{P_IN}{sender}"), json!(InState { seq: m.sender_seq, bundle_id: m.bundle_id })));
    entries.push(put(
        &format!("{P_SEEN}{}", m.bundle_id),
        json!({"sender": sender, "seq": m.sender_seq, "manifest_sha256": opened.manifest_digest()}),
    ));
    // Flag the suspected duplicates found above for review (report 25b).
    let flagged: Vec<(Uuid, Uuid)> =
        report.suspected_duplicates.iter().map(|d| (d.new_case, d.existing_case)).collect();
    entries.extend(crate::search::duplicate_review::import_flags_entry(store.vault().conn(), m.bundle_id, &flagged)?);
    if let Some(r) = &new_roster {
        report.roster_serial = Some(r.roster.serial);
        entries.push(put(K_ROSTER, json!(r)));
    }
    if let Some(c) = &new_config {
        report.config_serial = Some(c.config.serial);
        entries.push(crate::country::entry(c));
    }
    // Held, not applied: the rest of the bundle is (§6.1).
    entries.extend(crate::sync::quarantine::entries(&quarantined, m.bundle_id, sender));
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
                commit_by_chunks(
                    store,
                    source,
                    &identity,
                    &listed,
                    &digests,
                    &extra_keys,
                    &held,
                    teams,
                    trust_entries,
                    entries,
                )
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
    extra_keys: &HashMap<Uuid, VerifyingKey>,
    held: &crate::sync::quarantine::Held,
    teams: Option<&crate::model::visibility::Teams>,
    trust_entries: Vec<Value>,
    entries: Vec<Value>,
) -> Result<ImportSummary, ImportError> {
    let held_ids = held.ids();
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
        skip_held(held, &mut incoming)?;
        let part = store.prepare_import_verified(incoming, extra_keys, &held_ids, teams)?;
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
