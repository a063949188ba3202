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
//! - `quarantine/<event id>`: [`Quarantined`] and the event itself;
//! - `refused/<event id>`: [`RefusalNotice`] and the event, on the device
//!   that made it, which withdraws the event from its event store.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::model::error::StoreError;
use crate::model::event::{Event, Role};
use crate::model::projection;
use crate::model::refusal::Refusal;
use crate::model::store::{CaseStore, QuarantinedEvent};

/// `sync_state` prefix of the events held in quarantine.
pub(crate) const P_QUARANTINE: &str = "quarantine/";
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

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn stored(store: &CaseStore) -> Result<Vec<Stored>, StoreError> {
    Ok(projection::sync_state(store.vault().conn(), P_QUARANTINE)?
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_value(v).ok())
        .collect())
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
/// and sequence: what the person who made them should redo.
pub fn refused_events(store: &CaseStore) -> Result<Vec<RefusalNotice>, StoreError> {
    let mut out: Vec<RefusalNotice> = projection::sync_state(store.vault().conn(), P_REFUSED)?
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_value(v).ok())
        .collect();
    out.sort_by_key(|n| (n.case_id, n.device_seq));
    Ok(out)
}

/// What an import needs to know of the quarantine: each held event's
/// canonical JSON by id (a held event arriving again is known, not new),
/// and its id by (device, sequence) (another event there is equivocation).
pub(crate) struct Held {
    pub(crate) json: HashMap<Uuid, String>,
    pub(crate) at_seq: HashMap<(Uuid, u64), Uuid>,
}

impl Held {
    pub(crate) fn ids(&self) -> BTreeSet<Uuid> {
        self.json.keys().copied().collect()
    }
}

pub(crate) fn held(store: &CaseStore) -> Result<Held, StoreError> {
    let mut h = Held { json: HashMap::new(), at_seq: HashMap::new() };
    for s in stored(store)? {
        h.at_seq.insert((s.event.device_id, s.event.device_seq), s.event.id);
        h.json.insert(s.event.id, s.event.canonical_json());
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
    let mut out: Vec<RefusalNotice> = list(store)?
        .into_iter()
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

/// Device: its own refused event as it was signed, kept with the refusal
/// (to redo it from).
pub fn refused_event(store: &CaseStore, event: Uuid) -> Result<Option<Event>, StoreError> {
    Ok(projection::sync_state(store.vault().conn(), &format!("{P_REFUSED}{event}"))?
        .into_iter()
        .find_map(|(_, v)| v.get("event").and_then(|e| Event::from_json(e).ok())))
}
