//! Office and device roles, enrollment, revocation, export and import of
//! bundles. All sync bookkeeping lives in the vault's `sync_state` table and
//! is written through the journal ([`projection::sync_put_entry`]), so an
//! import's events and its bookkeeping are one commit: all or nothing.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::model::error::StoreError;
use crate::model::event::{Event, Role};
use crate::model::projection;
use crate::model::store::CaseStore;
use crate::model::visibility::Reader;
use crate::sync::format::{self, BundleKind, BundleParts, Manifest, Progress, Sender};
use crate::sync::roster::{
    age_recipient, EnrollmentRequest, Roster, RosterDevice, SignedRoster, REQUEST_FORMAT, ROSTER_FORMAT,
};

mod import;

pub use import::*;

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
