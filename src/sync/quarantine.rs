//! Quarantine: imported events whose signature and origin are valid but
//! which this vault's rules refuse (docs/bundle-format.md §6.1). They are
//! held, not applied, with their reason; the rest of their bundle is
//! applied. An office reports the refusals of a device's events back to it
//! in its next bundle (`refused` in the manifest), where the device keeps
//! them for the person who made the change.
//!
//! Both lists live in `sync_state`, written through the journal with the
//! import that made them, so they are encrypted like every case datum and
//! survive lock and unlock:
//! - `quarantine/<event id>`: [`Quarantined`] and the event itself (`null`
//!   once it is no longer held: applied on a retry, or discarded);
//! - `quarantine-discarded/<event id>`: [`Discarded`], the audit record of
//!   a data manager's discard, without the event's values;
//! - `refused/<event id>`: [`RefusalNotice`] and the event, on the device
//!   that made it, which withdraws the event from its event store.
//!
//! A held event is re-checked against the vault as it is after every
//! import of events of its case ([`retry_cases`]), and when a data manager
//! asks ([`retry`]); it is applied as soon as the rules accept it. A data
//! manager may instead discard it ([`discard`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use uuid::Uuid;

use sha2::{Digest as _, Sha256};

use crate::model::error::StoreError;
use crate::model::event::{Event, Role};
use crate::model::projection;
use crate::model::refusal::Refusal;
use crate::model::store::{CaseStore, QuarantinedEvent};

/// `sync_state` prefix of the events held in quarantine.
pub(crate) const P_QUARANTINE: &str = "quarantine/";
/// `sync_state` prefix of the audit records of discarded events.
pub(crate) const P_DISCARDED: &str = "quarantine-discarded/";
/// `sync_state` prefix of the office's records of held events it applied
/// on a retry: the device that made one may have withdrawn it already
/// (its refusal was reported), so the office sends it back.
pub(crate) const P_RELEASED: &str = "quarantine-released/";
/// `sync_state` prefix of the refusals of this device's own events.
pub(crate) const P_REFUSED: &str = "refused/";

/// Most refusals one manifest may carry (§6.1): the manifest is read
/// before its signer is known, so its lists are bounded.
pub const MAX_REFUSED: usize = 10_000;

/// An event held in quarantine, as the data manager's list shows it: who
/// made it, where it came from, why it was refused. The event's values are
/// not in it (they stay in the vault, with the event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantined {
    /// The event.
    pub event_id: Uuid,
    /// Its case.
    pub case_id: Uuid,
    /// The device that made (signed) it.
    pub device_id: Uuid,
    /// Its sequence on that device.
    pub device_seq: u64,
    /// Its kind (`status.changed`, `form.saved`, …).
    pub kind: String,
    /// Its form, if any.
    pub form: Option<String>,
    /// Who made it.
    pub author: String,
    /// The role it claims.
    pub role: Role,
    /// Why it is held.
    pub refusal: Refusal,
    /// The bundle it came in.
    pub bundle_id: Uuid,
    /// The sender of that bundle.
    pub sender: Uuid,
    /// When it was quarantined here (RFC 3339).
    pub at: String,
}

/// What is stored: the list entry and the signed event.
#[derive(Serialize, Deserialize)]
struct Stored {
    #[serde(flatten)]
    info: Quarantined,
    event: Event,
}

/// A refusal of a device's own event, as its office reports it (the
/// manifest's `refused`, §6.1) and the device keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalNotice {
    /// The refused event.
    pub event_id: Uuid,
    /// Its case.
    pub case_id: Uuid,
    /// Its sequence on the device.
    pub device_seq: u64,
    /// Its kind.
    pub kind: String,
    /// Who made it.
    pub author: String,
    /// Stable reason code ([`crate::model::refusal::CODES`]).
    pub code: String,
    /// Parameters of the code, a JSON object. Kept as text while the
    /// manifest is parsed (before its signer is known), so a hostile
    /// manifest costs its size, not a JSON tree.
    pub params: Params,
    /// English text.
    pub text: String,
    /// When the office refused it (RFC 3339).
    pub at: String,
}

/// A JSON value kept as its text.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Params(Box<RawValue>);

impl Params {
    fn of(v: &Value) -> Params {
        Params(RawValue::from_string(v.to_string()).unwrap_or_else(|_| RawValue::from_string("{}".into()).expect("{}")))
    }

    /// The parsed value.
    pub fn value(&self) -> Value {
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }
}

impl PartialEq for Params {
    fn eq(&self, other: &Params) -> bool {
        self.0.get() == other.0.get()
    }
}
impl Eq for Params {}

/// An event a data manager discarded from quarantine: the audit record of
/// the decision. It keeps what the quarantine list showed (who made the
/// change, where, why it was held) and the event's digest, not its values.
/// The event's sequence still counts as received (its origin must not
/// send it again), and the same event arriving again is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discarded {
    /// The held event as the quarantine list showed it.
    #[serde(flatten)]
    pub held: Quarantined,
    /// Hex SHA-256 of the event's canonical JSON.
    pub event_sha256: String,
    /// The data manager who discarded it (user name).
    pub discarded_by: String,
    /// Their role.
    pub discarded_role: Role,
    /// Why.
    pub reason: String,
    /// When (RFC 3339).
    pub discarded_at: String,
}

/// The longest discard reason, in characters.
pub const MAX_REASON: usize = 1_000;

/// Why a data manager's decision on a held event was refused.
#[derive(Debug, thiserror::Error)]
pub enum QuarantineError {
    /// Only a data manager decides.
    #[error(
        "only the office's data manager decides on held changes, not a {role}; switch to the data manager (--as USER)"
    )]
    NotDataManager {
        /// The role of the person recording.
        role: Role,
    },
    /// No such held event.
    #[error("event {0} is not held in quarantine here; `fieldcase quarantine list` shows the held ones")]
    NotHeld(Uuid),
    /// A discard needs a reason.
    #[error("say why the change is discarded (--reason TEXT, at most {MAX_REASON} characters): it is kept in the audit record")]
    Reason,
    /// Vault or rule check failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

// Each refusal's stable code for the interfaces (crate::codes).
crate::error_codes! { QuarantineError {
    nested {
        QuarantineError::Store(s) => s: StoreError;
    }
    QuarantineError::NotDataManager { role } => "forbidden" { role = role.as_str() };
    QuarantineError::NotHeld(event) => "not_held" { event };
    QuarantineError::Reason => "reason_required";
} }

/// What a retry did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Retried {
    /// The rules accept it now: applied, no longer held.
    Applied,
    /// Still refused: held, with the reason as it is now.
    Held {
        /// Why.
        refusal: Refusal,
    },
}

fn digest(e: &Event) -> [u8; 32] {
    Sha256::digest(e.canonical_json().as_bytes()).into()
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The events held: a `null` value is an event no longer held.
fn stored(store: &CaseStore) -> Result<Vec<Stored>, StoreError> {
    Ok(projection::sync_state(store.vault().conn(), P_QUARANTINE)?
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_value(v).ok())
        .collect())
}

/// The audit records of the events a data manager discarded, oldest first.
pub fn discarded(store: &CaseStore) -> Result<Vec<Discarded>, StoreError> {
    let mut out: Vec<Discarded> = projection::sync_state(store.vault().conn(), P_DISCARDED)?
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_value(v).ok())
        .collect();
    out.sort_by(|a, b| (&a.discarded_at, a.held.event_id).cmp(&(&b.discarded_at, b.held.event_id)));
    Ok(out)
}

fn check_data_manager(store: &CaseStore) -> Result<(), QuarantineError> {
    match store.actor().1 {
        Role::DataManager => Ok(()),
        role => Err(QuarantineError::NotDataManager { role }),
    }
}

/// Data manager: check a held event again against the vault as it is now
/// (the change it was made on may have arrived since). If the rules accept
/// it, it is applied and leaves the quarantine, in one commit; otherwise it
/// stays held with the reason as it is now.
pub fn retry(store: &mut CaseStore, event: Uuid) -> Result<Retried, QuarantineError> {
    check_data_manager(store)?;
    let chosen: Vec<Stored> = stored(store)?.into_iter().filter(|s| s.info.event_id == event).collect();
    if chosen.is_empty() {
        return Err(QuarantineError::NotHeld(event));
    }
    let Rechecked { applied, mut still } = recheck(store, chosen)?;
    match still.pop() {
        Some((_, refusal)) => Ok(Retried::Held { refusal }),
        None if applied.contains(&event) => Ok(Retried::Applied),
        // Neither applied nor held: its case was erased meanwhile (the
        // erasure took its held changes with it).
        None => Err(QuarantineError::NotHeld(event)),
    }
}

/// Check again every held event of `cases` (the cases an import just
/// changed), in the cases' canonical order, and apply those the rules
/// accept now, in one commit. Returns how many were applied. Automatic,
/// so no role is needed: it applies only what the rules accept, as an
/// import would have.
pub(crate) fn retry_cases(store: &mut CaseStore, cases: &[Uuid]) -> Result<usize, StoreError> {
    let cases: BTreeSet<Uuid> = cases.iter().copied().collect();
    let chosen: Vec<Stored> = stored(store)?.into_iter().filter(|s| cases.contains(&s.info.case_id)).collect();
    if chosen.is_empty() {
        return Ok(0);
    }
    Ok(recheck(store, chosen)?.applied.len())
}

/// Check `chosen` held events together (so one that depends on another
/// of them follows it), the other held ones standing as refused; commit
/// the accepted ones with their removal from quarantine and the new reason
/// of the others. An office judges supervisors' events by team, as its
/// import does.
fn recheck(store: &mut CaseStore, chosen: Vec<Stored>) -> Result<Rechecked, StoreError> {
    let chosen_ids: BTreeSet<Uuid> = chosen.iter().map(|s| s.event.id).collect();
    let others: BTreeSet<Uuid> = held(store)?.ids().difference(&chosen_ids).copied().collect();
    let teams = if crate::sync::exchange::is_office(store)? {
        crate::sync::exchange::roster(store)?.map(|r| r.roster.supervisor_teams())
    } else {
        None
    };
    let events: Vec<Event> = chosen.iter().map(|s| s.event.clone()).collect();
    let (prepared, signatures) = store.prepare_import_judged(events, &HashMap::new(), &others, teams.as_ref())?;
    signatures.wait()?;
    let applied: BTreeSet<Uuid> = prepared.event_ids().collect();
    let mut after = Vec::new();
    let mut still = Vec::new();
    for q in &prepared.quarantined {
        let Some(s) = chosen.iter().find(|s| s.event.id == q.event.id) else { continue };
        if s.info.refusal != q.refusal {
            let info = Quarantined { refusal: q.refusal.clone(), ..s.info.clone() };
            let value = json!(Stored { info, event: s.event.clone() });
            after.push(projection::sync_put_entry(&format!("{P_QUARANTINE}{}", s.event.id), &value));
        }
        still.push((q.event.id, q.refusal.clone()));
    }
    let office = crate::sync::exchange::is_office(store)?;
    for s in chosen.iter().filter(|s| applied.contains(&s.event.id)) {
        let id = s.event.id;
        after.push(projection::sync_put_entry(&format!("{P_QUARANTINE}{id}"), &Value::Null));
        if office {
            let value = json!({"event_id": id, "device_id": s.event.device_id, "case_id": s.event.case_id});
            after.push(projection::sync_put_entry(&format!("{P_RELEASED}{id}"), &value));
        }
    }
    if !applied.is_empty() || !after.is_empty() {
        store.commit_import(prepared, Vec::new(), after)?;
    }
    Ok(Rechecked { applied, still })
}

/// What [`recheck`] did: the events applied, and those still held with
/// their current reason.
struct Rechecked {
    applied: BTreeSet<Uuid>,
    still: Vec<(Uuid, Refusal)>,
}

/// Data manager: take a held event out of quarantine without applying it,
/// keeping an audit record ([`Discarded`]: who, when, why, and what the
/// list showed). The refusal already reported to the device that made it
/// stays there; the event's sequence still counts as received.
pub fn discard(store: &mut CaseStore, event: Uuid, reason: &str) -> Result<Discarded, QuarantineError> {
    check_data_manager(store)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        return Err(QuarantineError::Reason);
    }
    let s = stored(store)?.into_iter().find(|s| s.info.event_id == event).ok_or(QuarantineError::NotHeld(event))?;
    let (user, role) = store.actor();
    let record = Discarded {
        held: s.info,
        event_sha256: hex::encode(digest(&s.event)),
        discarded_by: user.to_owned(),
        discarded_role: role,
        reason: reason.to_owned(),
        discarded_at: now_rfc3339(),
    };
    store.commit_sync_entries(vec![
        projection::sync_put_entry(&format!("{P_QUARANTINE}{event}"), &Value::Null),
        projection::sync_put_entry(&format!("{P_DISCARDED}{event}"), &json!(record)),
    ])?;
    Ok(record)
}

/// The events held in quarantine in this vault, oldest refusal first (the
/// data manager's view on an office; on a device, the office's events its
/// own rules refused).
pub fn list(store: &CaseStore) -> Result<Vec<Quarantined>, StoreError> {
    let mut out: Vec<Quarantined> = stored(store)?.into_iter().map(|s| s.info).collect();
    out.sort_by(|a, b| (&a.at, a.case_id, a.device_seq).cmp(&(&b.at, b.case_id, b.device_seq)));
    Ok(out)
}

/// The refusals of this device's own events its office reported, by case
/// and sequence: what the person who made them should redo. An event the
/// office applied later (a data manager's retry, or automatically) and
/// sent back is in the event store again and no longer listed.
pub fn refused_events(store: &CaseStore) -> Result<Vec<RefusalNotice>, StoreError> {
    let conn = store.vault().conn();
    let mut out = Vec::new();
    for (_, v) in projection::sync_state(conn, P_REFUSED)? {
        let Ok(n) = serde_json::from_value::<RefusalNotice>(v) else { continue };
        if projection::stored_event_json(conn, n.event_id)?.is_none() {
            out.push(n);
        }
    }
    out.sort_by_key(|n| (n.case_id, n.device_seq));
    Ok(out)
}

/// What an import needs to know of the quarantine: each held (or
/// discarded) event's digest by id (the same event arriving again is
/// known, not new), and its id by (device, sequence) (another event there
/// is equivocation).
pub(crate) struct Held {
    digest: HashMap<Uuid, [u8; 32]>,
    pub(crate) at_seq: HashMap<(Uuid, u64), Uuid>,
}

impl Held {
    pub(crate) fn ids(&self) -> BTreeSet<Uuid> {
        self.digest.keys().copied().collect()
    }

    /// Whether `e` is held or was discarded here; an error if another event
    /// comes with its id.
    pub(crate) fn knows(&self, e: &Event) -> Result<bool, StoreError> {
        match self.digest.get(&e.id) {
            Some(d) if *d == digest(e) => Ok(true),
            Some(_) => Err(StoreError::ConflictingEvent { event: e.id }),
            None => Ok(false),
        }
    }
}

pub(crate) fn held(store: &CaseStore) -> Result<Held, StoreError> {
    let mut h = Held { digest: HashMap::new(), at_seq: HashMap::new() };
    for s in stored(store)? {
        h.at_seq.insert((s.event.device_id, s.event.device_seq), s.event.id);
        h.digest.insert(s.event.id, digest(&s.event));
    }
    for d in discarded(store)? {
        let Ok(bytes) = hex::decode(&d.event_sha256) else { continue };
        let Ok(bytes) = <[u8; 32]>::try_from(bytes) else { continue };
        h.at_seq.insert((d.held.device_id, d.held.device_seq), d.held.event_id);
        h.digest.insert(d.held.event_id, bytes);
    }
    Ok(h)
}

/// The sequences held in quarantine, per origin device: they count as
/// held for the acknowledgements (§8), so the origin stops resending them
/// and its later events are acknowledged.
pub(crate) fn held_seqs(store: &CaseStore) -> Result<BTreeMap<Uuid, BTreeSet<u64>>, StoreError> {
    let mut out: BTreeMap<Uuid, BTreeSet<u64>> = BTreeMap::new();
    for s in stored(store)? {
        out.entry(s.event.device_id).or_default().insert(s.event.device_seq);
    }
    // A discarded event was received too: its origin must not resend it.
    for d in discarded(store)? {
        out.entry(d.held.device_id).or_default().insert(d.held.device_seq);
    }
    Ok(out)
}

/// The journal entries that put `events` in quarantine, received in
/// `bundle_id` from `sender`.
pub(crate) fn entries(events: &[QuarantinedEvent], bundle_id: Uuid, sender: Uuid) -> Vec<Value> {
    let at = now_rfc3339();
    events
        .iter()
        .map(|q| {
            let e = &q.event;
            let info = Quarantined {
                event_id: e.id,
                case_id: e.case_id,
                device_id: e.device_id,
                device_seq: e.device_seq,
                kind: e.kind.to_string(),
                form: e.form.clone(),
                author: e.author.clone(),
                role: e.role,
                refusal: q.refusal.clone(),
                bundle_id,
                sender,
                at: at.clone(),
            };
            projection::sync_put_entry(&format!("{P_QUARANTINE}{}", e.id), &json!(Stored { info, event: e.clone() }))
        })
        .collect()
}

/// Office: the refusals of the events held here that a device's people
/// signed (`signers`: the device and every person it hosts), for its next
/// bundle (every one still held, each time: the device keeps them by
/// event id, so a lost bundle loses nothing).
pub(crate) fn notices_for(store: &CaseStore, signers: &[Uuid]) -> Result<Vec<RefusalNotice>, StoreError> {
    // A discarded event stays refused: its device is told, or keeps being
    // told, like of a held one.
    let mut out: Vec<RefusalNotice> = list(store)?
        .into_iter()
        .chain(discarded(store)?.into_iter().map(|d| d.held))
        .filter(|q| signers.contains(&q.device_id))
        .map(|q| RefusalNotice {
            event_id: q.event_id,
            case_id: q.case_id,
            device_seq: q.device_seq,
            kind: q.kind,
            author: q.author,
            code: q.refusal.code,
            params: Params::of(&q.refusal.params),
            text: q.refusal.text,
            at: q.at,
        })
        .collect();
    out.sort_by_key(|n| n.device_seq);
    out.truncate(MAX_REFUSED);
    Ok(out)
}

/// Device: the entries that keep the refusals an office bundle reported,
/// only of this device's own events still in its event store (`own`
/// returns such an event), and withdraw those events
/// ([`projection::EVENT_WITHDRAWN`]): the device shows its cases as the
/// office does, and its next changes are not made on top of a refused
/// one (they would be held too). The event is kept with its refusal.
pub(crate) fn notice_entries(notices: &[RefusalNotice], own: impl Fn(Uuid) -> Option<Event>) -> Vec<Value> {
    let mut out = Vec::new();
    for n in notices {
        let Some(event) = own(n.event_id) else { continue };
        let mut value = json!(n);
        value["event"] = json!(event);
        out.push(projection::sync_put_entry(&format!("{P_REFUSED}{}", n.event_id), &value));
        out.push(projection::withdraw_entry(n.event_id));
    }
    out
}

/// Office: the events of `signers` (a device's people) it applied after
/// holding them: sent back to that device, which may have withdrawn them
/// when their refusal was reported (§6.1).
pub(crate) fn released_for(store: &CaseStore, signers: &[Uuid]) -> Result<Vec<Event>, StoreError> {
    let conn = store.vault().conn();
    let mut out = Vec::new();
    for (_, v) in projection::sync_state(conn, P_RELEASED)? {
        let device = v.get("device_id").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
        let event = v.get("event_id").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
        let (Some(device), Some(event)) = (device, event) else { continue };
        if !signers.contains(&device) {
            continue;
        }
        // Gone when its case was erased since.
        let Some(json) = projection::stored_event_json(conn, event)? else { continue };
        let Ok(value) = serde_json::from_str::<Value>(&json) else { continue };
        if let Ok(e) = Event::from_json(&value) {
            out.push(e);
        }
    }
    Ok(out)
}

/// Device: its own refused event as it was signed, kept with the refusal
/// (to redo it from).
pub fn refused_event(store: &CaseStore, event: Uuid) -> Result<Option<Event>, StoreError> {
    Ok(projection::sync_state(store.vault().conn(), &format!("{P_REFUSED}{event}"))?
        .into_iter()
        .find_map(|(_, v)| v.get("event").and_then(|e| Event::from_json(e).ok())))
}
