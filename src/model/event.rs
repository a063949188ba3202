//! Signed case events: the only thing the case model stores as truth.
//!
//! An [`Event`] is signed by the device that created it with Ed25519 over
//! [`Event::signing_bytes`]: a domain prefix followed by the canonical
//! encoding ([`canonical`]) of every field except `sig`, as
//! docs/event-encoding.md specifies byte for byte. Provenance therefore
//! survives when an office relays the event to other devices.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::model::canonical::{self, JcsRelation, EVENT_DOMAIN, EVENT_DOMAIN_V2, MAX_SAFE_INTEGER};

/// The role a person acts in when they create an event (docs/domain.md, Roles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Field caseworker.
    Caseworker,
    /// Supervisor / case management officer.
    Supervisor,
    /// Best Interests Determination panel member or chair.
    BidPanel,
    /// Country-office data manager.
    DataManager,
    /// Reporting viewer (aggregates only; records nothing).
    Viewer,
}

impl Role {
    /// Every role (the desktop app's TypeScript `Role` union is written
    /// from this list).
    pub const ALL: [Role; 5] = [Role::Caseworker, Role::Supervisor, Role::BidPanel, Role::DataManager, Role::Viewer];

    /// The wire name (`"bid_panel"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Caseworker => "caseworker",
            Role::Supervisor => "supervisor",
            Role::BidPanel => "bid_panel",
            Role::DataManager => "data_manager",
            Role::Viewer => "viewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of the five roles.
#[derive(Debug, thiserror::Error)]
#[error("unknown role {0:?} (expected caseworker, supervisor, bid_panel, data_manager or viewer)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        Ok(match s {
            "caseworker" => Role::Caseworker,
            "supervisor" => Role::Supervisor,
            "bid_panel" => Role::BidPanel,
            "data_manager" => Role::DataManager,
            "viewer" => Role::Viewer,
            other => return Err(UnknownRole(other.to_string())),
        })
    }
}

/// Hybrid logical clock timestamp: Unix milliseconds plus a logical counter.
/// Ordered by millis, then counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Hlc {
    /// Physical component, Unix milliseconds.
    pub millis: u64,
    /// Logical component, orders events within one millisecond.
    pub counter: u32,
}

/// What an event does. Wire names are the dotted strings in the docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventKind {
    /// `case.registered` {"case_type", "case_number", "office"}: the case exists, stage `identified`.
    #[serde(rename = "case.registered")]
    CaseRegistered,
    /// `form.saved` {"values": {..}, "item"?}: field values of one form (or one list item).
    #[serde(rename = "form.saved")]
    FormSaved,
    /// `note.added` {"item", "values"}: a new case note (form `case_note`).
    #[serde(rename = "note.added")]
    NoteAdded,
    /// `visit.recorded` {"item", "values"}: a new follow-up visit (form `follow_up_visit`).
    #[serde(rename = "visit.recorded")]
    VisitRecorded,
    /// `referral.made` {"item", "values"}: a new referral (form `referral`).
    #[serde(rename = "referral.made")]
    ReferralMade,
    /// `status.changed` {"to", "reason"}: the only way the stage moves.
    #[serde(rename = "status.changed")]
    StatusChanged,
    /// `case.assigned` {"caseworker"}.
    #[serde(rename = "case.assigned")]
    CaseAssigned,
    /// `conflict.resolved` {"form", "item"?, "field", "value"}; base = all heads.
    #[serde(rename = "conflict.resolved")]
    ConflictResolved,
    /// `attachment.added` {"item", "blob", "name", "mime"}.
    #[serde(rename = "attachment.added")]
    AttachmentAdded,
    /// `case.merged` {"duplicate_of"}.
    #[serde(rename = "case.merged")]
    CaseMerged,
    /// `case.split` {"from"}: undoes an earlier `case.merged` (the case is
    /// no longer a duplicate of `from`); history is kept.
    #[serde(rename = "case.split")]
    CaseSplit,
    /// `case.not_duplicate` {"other"}: a data manager reviewed a suspected
    /// duplicate pair and decided the two cases are different children.
    #[serde(rename = "case.not_duplicate")]
    CaseNotDuplicate,
    /// `case.transferred` {"to"}.
    #[serde(rename = "case.transferred")]
    CaseTransferred,
    /// `case.erased` {"reason", "second_approver"}: the erasure of format
    /// versions before two-person erasure. Still read (it marks the case
    /// erased), no longer accepted as a new event: see
    /// [`EventKind::CaseErasureRequested`].
    #[serde(rename = "case.erased")]
    CaseErased,
    /// `case.erasure_requested` {"reason"}: first of the two signatures an
    /// erasure needs (`crate::model::erasure`).
    #[serde(rename = "case.erasure_requested")]
    CaseErasureRequested,
    /// `case.erasure_approved` {"request", "reason"}: the second signature,
    /// by another person in the other role; once applied the case's data is
    /// removed from the vault and only a tombstone is left.
    #[serde(rename = "case.erasure_approved")]
    CaseErasureApproved,
    /// `case.event_erased` {}: stands in for an event that its own device
    /// erased (with its case) before sending it: same id, case, device,
    /// sequence number and clock, no content. Only a vault where the case
    /// is erased accepts it, and keeps its bookkeeping only, so the
    /// device's sequence has no gap (docs/bundle-format.md §8).
    #[serde(rename = "case.event_erased")]
    CaseEventErased,
}

impl EventKind {
    /// The wire name, e.g. `"form.saved"`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::CaseRegistered => "case.registered",
            EventKind::FormSaved => "form.saved",
            EventKind::NoteAdded => "note.added",
            EventKind::VisitRecorded => "visit.recorded",
            EventKind::ReferralMade => "referral.made",
            EventKind::StatusChanged => "status.changed",
            EventKind::CaseAssigned => "case.assigned",
            EventKind::ConflictResolved => "conflict.resolved",
            EventKind::AttachmentAdded => "attachment.added",
            EventKind::CaseMerged => "case.merged",
            EventKind::CaseSplit => "case.split",
            EventKind::CaseNotDuplicate => "case.not_duplicate",
            EventKind::CaseTransferred => "case.transferred",
            EventKind::CaseErased => "case.erased",
            EventKind::CaseErasureRequested => "case.erasure_requested",
            EventKind::CaseErasureApproved => "case.erasure_approved",
            EventKind::CaseEventErased => "case.event_erased",
        }
    }

    /// For kinds that create a list item: the form the item belongs to.
    pub fn item_form(self) -> Option<&'static str> {
        match self {
            EventKind::NoteAdded => Some("case_note"),
            EventKind::VisitRecorded => Some("follow_up_visit"),
            EventKind::ReferralMade => Some("referral"),
            _ => None,
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One signed change to one case.
///
/// Parsing refuses what the signature could not vouch for
/// (docs/event-encoding.md §5): a member other than these, in the event or
/// its `hlc`, and a member name twice in one object at any depth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// UUIDv7 (time-ordered) id.
    pub id: Uuid,
    /// The case this event belongs to.
    pub case_id: Uuid,
    /// The device that created and signed it.
    pub device_id: Uuid,
    /// Per-device sequence number, unique per device, starting at 1.
    pub device_seq: u64,
    /// Hybrid logical clock timestamp.
    #[serde(deserialize_with = "strict::hlc")]
    pub hlc: Hlc,
    /// User name of the author.
    pub author: String,
    /// Role the author acted in.
    pub role: Role,
    /// What the event does.
    pub kind: EventKind,
    /// Form id, for form-related kinds.
    pub form: Option<String>,
    /// Kind-specific content (see [`EventKind`]).
    #[serde(deserialize_with = "strict::value")]
    pub payload: Value,
    /// Ids of the events this one replaces (register heads it has seen).
    pub base: Vec<Uuid>,
    /// Base64 (standard alphabet) Ed25519 signature over [`Event::signing_bytes`].
    pub sig: String,
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// `sig` is not base64 of 64 bytes.
    #[error("signature is not base64 of 64 bytes")]
    Encoding,
    /// The signature does not match the content and the device key.
    #[error("signature does not match the event content and the device's key")]
    Mismatch,
}

/// Canonical ordering key of events: (hlc, device id, event id). Total, and
/// the same on every device.
pub type OrderKey = (Hlc, Uuid, Uuid);

impl Event {
    /// The event as a JSON value (all fields, including `sig`).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("an Event always serialises to JSON")
    }

    /// Parse an event from JSON.
    pub fn from_json(value: &Value) -> Result<Event, serde_json::Error> {
        Event::deserialize(value)
    }

    /// The v1 canonical JSON of the whole event, including `sig`: its
    /// stored and transported form (docs/event-encoding.md §6).
    pub fn canonical_json(&self) -> String {
        canonical::to_canonical_string(&self.to_json())
    }

    /// The event without `sig` in both encodings: `EVENT_DOMAIN` ‖ v1, and
    /// `EVENT_DOMAIN_V2` ‖ JCS when that differs from the v1 encoding.
    fn encodings(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        let mut value = self.to_json();
        if let Value::Object(map) = &mut value {
            map.remove("sig");
        }
        let mut v1 = EVENT_DOMAIN.to_vec();
        let relation = canonical::write_v1(&value, &mut v1);
        let v2 = (relation == JcsRelation::Differs).then(|| {
            let mut v2 = EVENT_DOMAIN_V2.to_vec();
            canonical::write_jcs(&value, &mut v2).ok().map(|()| v2)
        });
        (v1, v2.flatten())
    }

    /// The bytes a new signature covers (docs/event-encoding.md §4): the
    /// event without `sig` in its JCS encoding, after
    /// [`canonical::EVENT_DOMAIN`] when that encoding is byte for byte the
    /// v1 encoding (as for almost every event, so that app versions that
    /// know only v1 still verify it), after [`canonical::EVENT_DOMAIN_V2`]
    /// when it is not. An event with an integer beyond ±(2^53 − 1) has no
    /// JCS encoding; its v1 bytes are returned, and [`Event::check_shape`]
    /// refuses it.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let (v1, v2) = self.encodings();
        v2.unwrap_or(v1)
    }

    /// The bytes a signature made before JCS covers when they are not
    /// [`Event::signing_bytes`]: `EVENT_DOMAIN` ‖ v1 of an event whose JCS
    /// encoding differs from its v1 encoding. `None` for every other event.
    pub fn legacy_signing_bytes(&self) -> Option<Vec<u8>> {
        match self.encodings() {
            (v1, Some(_)) => Some(v1),
            (_, None) => None,
        }
    }

    /// Sign with the device's key (sets `sig`).
    pub fn sign(&mut self, key: &SigningKey) {
        let sig = key.sign(&self.signing_bytes());
        self.sig = base64::engine::general_purpose::STANDARD.encode(sig.to_bytes());
    }

    /// Check `sig` against the device's verifying key, over any of the
    /// byte strings docs/event-encoding.md §5 accepts: the JCS encoding
    /// under either domain (a JSON tool on the way may have rewritten a
    /// number token such as `1500.0` as `1500`, which changes the domain
    /// [`Event::signing_bytes`] picks but not the JCS bytes), or the v1
    /// encoding when it differs (signatures made before JCS).
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), SignatureError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(self.sig.as_bytes())
            .map_err(|_| SignatureError::Encoding)?;
        let bytes: [u8; 64] = bytes.try_into().map_err(|_| SignatureError::Encoding)?;
        let sig = Signature::from_bytes(&bytes);
        let (v1, v2) = self.encodings();
        let ok = |m: &[u8]| key.verify(m, &sig).is_ok();
        let found = match v2 {
            Some(v2) => ok(&v2) || ok(&v1) || other_domain(&v2).is_some_and(|m| ok(&m)),
            // v1 is the JCS encoding too, unless an integer is out of range.
            None => ok(&v1) || (self.check_numbers().is_ok() && other_domain(&v1).is_some_and(|m| ok(&m))),
        };
        if found {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }

    /// SHA-256 over `EVENT_DOMAIN` ‖ the v1 encoding without `sig`, then
    /// the signature: changes when any field, including the signature,
    /// changes. Over the v1 encoding whatever the signature covers, so the
    /// audit chains of existing vaults keep their hashes.
    pub fn content_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.encodings().0);
        h.update(self.sig.as_bytes());
        h.finalize().into()
    }

    /// The first number of the event beyond ±(2^53 − 1), named by its
    /// path: such an event has no JCS encoding and is refused
    /// (docs/event-encoding.md §3).
    pub fn check_numbers(&self) -> Result<(), String> {
        let too_big = |what: &str, n: &dyn fmt::Display| {
            format!(
                "{what} holds the integer {n}, outside ±{MAX_SAFE_INTEGER}, the range every JSON reader keeps exact"
            )
        };
        if self.device_seq > MAX_SAFE_INTEGER {
            return Err(too_big("device_seq", &self.device_seq));
        }
        if self.hlc.millis > MAX_SAFE_INTEGER {
            return Err(too_big("hlc.millis", &self.hlc.millis));
        }
        fn walk(v: &Value, path: &mut String) -> Option<(String, String)> {
            match v {
                Value::Number(n) => {
                    let out = match (n.as_u64(), n.as_i64()) {
                        (Some(u), _) => u > MAX_SAFE_INTEGER,
                        (None, Some(i)) => i.unsigned_abs() > MAX_SAFE_INTEGER,
                        (None, None) => false,
                    };
                    out.then(|| (path.clone(), n.to_string()))
                }
                Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    let found = walk(item, path);
                    path.truncate(len);
                    found
                }),
                Value::Object(map) => map.iter().find_map(|(k, item)| {
                    let len = path.len();
                    path.push('.');
                    path.push_str(k);
                    let found = walk(item, path);
                    path.truncate(len);
                    found
                }),
                _ => None,
            }
        }
        match walk(&self.payload, &mut "payload".to_string()) {
            Some((path, n)) => Err(too_big(&path, &n)),
            None => Ok(()),
        }
    }

    /// Canonical ordering key (hlc, device_id, id).
    pub fn order_key(&self) -> OrderKey {
        (self.hlc, self.device_id, self.id)
    }

    /// The list item the event is about (`payload.item`), if any.
    pub fn item(&self) -> Option<Uuid> {
        self.payload.get("item").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok())
    }

    /// Check the payload has the shape its kind requires. Events that fail
    /// are refused when created or imported; the projection never sees them.
    pub fn check_shape(&self) -> Result<(), String> {
        self.check_numbers()?;
        let p = self.payload.as_object().ok_or("payload is not a JSON object")?;
        let string = |k: &str| -> Result<&str, String> {
            p.get(k).and_then(Value::as_str).ok_or_else(|| format!("payload.{k} must be a string"))
        };
        let uuid = |k: &str| -> Result<Uuid, String> {
            Uuid::parse_str(string(k)?).map_err(|_| format!("payload.{k} must be a UUID"))
        };
        let values = || -> Result<(), String> {
            match p.get("values") {
                Some(Value::Object(_)) => Ok(()),
                _ => Err("payload.values must be an object".into()),
            }
        };
        let form = || self.form.as_deref().ok_or_else(|| format!("{} needs a form", self.kind));
        match self.kind {
            EventKind::CaseRegistered => {
                let t = string("case_type")?;
                if !["uasc", "accompanied_child_at_risk", "family_with_children", "inquiry"].contains(&t) {
                    return Err(format!("unknown case type {t:?}"));
                }
                string("case_number")?;
                string("office")?;
            }
            EventKind::FormSaved => {
                form()?;
                values()?;
                if p.get("item").is_some_and(|v| !v.is_null()) {
                    uuid("item")?;
                }
            }
            EventKind::NoteAdded | EventKind::VisitRecorded | EventKind::ReferralMade => {
                let expected = self.kind.item_form().expect("item-creating kinds name their form");
                if form()? != expected {
                    return Err(format!("{} must have form {expected}", self.kind));
                }
                uuid("item")?;
                values()?;
            }
            EventKind::StatusChanged => {
                string("to")?;
            }
            EventKind::CaseAssigned => {
                string("caseworker")?;
            }
            EventKind::ConflictResolved => {
                string("form")?;
                string("field")?;
                if p.get("item").is_some_and(|v| !v.is_null()) {
                    uuid("item")?;
                }
                if !p.contains_key("value") {
                    return Err("payload.value is missing".into());
                }
                if self.base.is_empty() {
                    return Err("conflict.resolved must name the heads it resolves in base".into());
                }
            }
            EventKind::AttachmentAdded => {
                uuid("item")?;
                string("blob")?;
                string("name")?;
                string("mime")?;
            }
            EventKind::CaseMerged => {
                uuid("duplicate_of")?;
            }
            EventKind::CaseSplit => {
                uuid("from")?;
            }
            EventKind::CaseNotDuplicate => {
                uuid("other")?;
            }
            EventKind::CaseTransferred => {
                string("to")?;
            }
            EventKind::CaseErased | EventKind::CaseErasureRequested => {
                string("reason")?;
            }
            EventKind::CaseErasureApproved => {
                string("reason")?;
                uuid("request")?;
            }
            EventKind::CaseEventErased => {
                // Nothing of the erased event may travel in its place.
                if !p.is_empty() || self.form.is_some() || !self.base.is_empty() {
                    return Err("case.event_erased carries no payload, form or base".into());
                }
            }
        }
        Ok(())
    }
}

/// Deserializers that refuse what `serde_json` would let pass silently in
/// an event: a member name twice in one object (`serde_json` keeps the last
/// one, another reader may keep the first, so the two would see different
/// events under one signature) and unknown members of `hlc`.
mod strict {
    use std::fmt;

    use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Number, Value};

    use super::Hlc;

    /// A JSON value with no member name twice in any of its objects.
    pub fn value<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }

    struct Strict(Value);

    impl<'de> Deserialize<'de> for Strict {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Strict, D::Error> {
            d.deserialize_any(StrictVisitor).map(Strict)
        }
    }

    struct StrictVisitor;

    impl<'de> Visitor<'de> for StrictVisitor {
        type Value = Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::Number(v.into()))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::Number(v.into()))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
            Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom("a number must be finite"))
        }
        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.to_string()))
        }
        fn visit_string<E>(self, v: String) -> Result<Value, E> {
            Ok(Value::String(v))
        }
        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_none<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            value(d)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(Strict(item)) = seq.next_element()? {
                items.push(item);
            }
            Ok(Value::Array(items))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut out = Map::new();
            while let Some(key) = map.next_key::<String>()? {
                let Strict(item) = map.next_value()?;
                if out.contains_key(&key) {
                    return Err(A::Error::custom(format_args!("duplicate member name {key:?}")));
                }
                out.insert(key, item);
            }
            Ok(Value::Object(out))
        }
    }

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct StrictHlc {
        millis: u64,
        counter: u32,
    }

    /// An [`Hlc`] with no member other than `millis` and `counter`.
    pub fn hlc<'de, D: Deserializer<'de>>(d: D) -> Result<Hlc, D::Error> {
        let StrictHlc { millis, counter } = StrictHlc::deserialize(d)?;
        Ok(Hlc { millis, counter })
    }
}

/// `bytes` with its event domain prefix swapped for the other one (v1 for
/// v2 and back): the same JCS encoding under the other domain.
pub(crate) fn other_domain(bytes: &[u8]) -> Option<Vec<u8>> {
    // Both prefixes have the same length.
    let (from, to) = if bytes.starts_with(EVENT_DOMAIN) {
        (EVENT_DOMAIN, EVENT_DOMAIN_V2)
    } else if bytes.starts_with(EVENT_DOMAIN_V2) {
        (EVENT_DOMAIN_V2, EVENT_DOMAIN)
    } else {
        return None;
    };
    let mut out = to.to_vec();
    out.extend_from_slice(&bytes[from.len()..]);
    Some(out)
}

/// A device verifying key stored as hex that is not a valid Ed25519 key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored device key is not a valid Ed25519 public key")]
pub struct BadDeviceKey;

/// Parse a hex-encoded Ed25519 verifying key (as stored in the devices table).
pub fn parse_verifying_key(hex_key: &str) -> Result<VerifyingKey, BadDeviceKey> {
    let bytes = hex::decode(hex_key).map_err(|_| BadDeviceKey)?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| BadDeviceKey)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| BadDeviceKey)
}

/// A UUIDv7 whose timestamp is `millis` and whose remaining 74 bits come from
/// `rng`, so a seeded RNG and a fixed clock give reproducible ids (demo data).
pub fn new_v7(millis: u64, rng: &mut dyn RngCore) -> Uuid {
    let mut bytes = [0u8; 10];
    rng.fill_bytes(&mut bytes);
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
}

/// Signs new events as one device outside a vault: for simulated devices in
/// demo data (concurrent edits) and tests. Hands out increasing sequence
/// numbers and HLC timestamps.
pub struct DeviceSigner {
    /// The device id events carry.
    pub device_id: Uuid,
    key: SigningKey,
    next_seq: u64,
    clock: crate::model::hlc::HlcClock,
}

impl DeviceSigner {
    /// A signer for `device_id` with `key`, starting at sequence 1.
    pub fn new(device_id: Uuid, key: SigningKey) -> DeviceSigner {
        DeviceSigner { device_id, key, next_seq: 1, clock: crate::model::hlc::HlcClock::new(Hlc::default()) }
    }

    /// The key others must trust to accept this device's events.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Set the physical time the signer's clock reads (Unix ms).
    pub fn set_clock(&mut self, millis: Option<u64>) {
        self.clock.set_clock(millis);
    }

    /// Let the clock see a timestamp (so new events order after it).
    pub fn observe(&mut self, hlc: Hlc) {
        self.clock.observe(hlc);
    }

    /// Build and sign a new event.
    #[allow(clippy::too_many_arguments)]
    pub fn sign_new(
        &mut self,
        rng: &mut dyn RngCore,
        case_id: Uuid,
        author: &str,
        role: Role,
        kind: EventKind,
        form: Option<&str>,
        payload: Value,
        base: Vec<Uuid>,
    ) -> Event {
        let hlc = self.clock.now();
        let mut e = Event {
            id: new_v7(hlc.millis, rng),
            case_id,
            device_id: self.device_id,
            device_seq: self.next_seq,
            hlc,
            author: author.to_string(),
            role,
            kind,
            form: form.map(str::to_string),
            payload,
            base,
            sig: String::new(),
        };
        self.next_seq += 1;
        e.sign(&self.key);
        e
    }
}

/// An unsigned event whose every field is awkward to encode (extreme
/// numbers, quotes, control characters, optional parts present or not by
/// `n`), for the tests that compare an encoder with the reference one.
#[cfg(test)]
pub(crate) fn awkward_test_event(n: u128, kind: EventKind, role: Role, payload: Value) -> Event {
    Event {
        id: Uuid::from_u128(n * 7919),
        case_id: Uuid::from_u128(u128::MAX - n),
        device_id: Uuid::from_u128(n << 64),
        device_seq: u64::MAX - n as u64,
        hlc: Hlc { millis: 1_700_000_000_000 + n as u64, counter: u32::MAX - n as u32 },
        author: format!("Ama \"Q\" Ñ {n}\u{1}"),
        role,
        kind,
        form: if n.is_multiple_of(2) { None } else { Some(format!("form_{n}\\")) },
        payload,
        base: (0..(n % 4)).map(|i| Uuid::from_u128(i * 31 + n)).collect(),
        sig: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use serde_json::json;

    fn sample(key: &SigningKey) -> Event {
        let mut e = Event {
            id: Uuid::nil(),
            case_id: Uuid::nil(),
            device_id: Uuid::nil(),
            device_seq: 1,
            hlc: Hlc { millis: 1, counter: 0 },
            author: "amina".into(),
            role: Role::Caseworker,
            kind: EventKind::FormSaved,
            form: Some("registration_bia".into()),
            payload: json!({"values": {"sex": "female", "age_years": 15}}),
            base: vec![],
            sig: String::new(),
        };
        e.sign(key);
        e
    }

    #[test]
    fn wire_names_round_trip() {
        let v = serde_json::to_value(EventKind::ConflictResolved).unwrap();
        assert_eq!(v, json!("conflict.resolved"));
        assert_eq!(serde_json::to_value(Role::BidPanel).unwrap(), json!("bid_panel"));
        assert_eq!("data_manager".parse::<Role>().unwrap(), Role::DataManager);
        assert!("admin".parse::<Role>().is_err());
    }

    #[test]
    fn signature_survives_json_round_trip_and_catches_edits() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let e = sample(&key);
        let text = serde_json::to_string(&e.to_json()).unwrap();
        let back = Event::from_json(&serde_json::from_str(&text).unwrap()).unwrap();
        back.verify(&key.verifying_key()).unwrap();
        let mut edited = back.clone();
        edited.payload["values"]["age_years"] = json!(19);
        assert_eq!(edited.verify(&key.verifying_key()), Err(SignatureError::Mismatch));
        let other = SigningKey::from_bytes(&[8; 32]);
        assert_eq!(back.verify(&other.verifying_key()), Err(SignatureError::Mismatch));
        let mut garbled = back;
        garbled.sig = "not base64!".into();
        assert_eq!(garbled.verify(&key.verifying_key()), Err(SignatureError::Encoding));
    }

    #[test]
    fn signing_bytes_are_v1_when_jcs_is_the_same_else_v2() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let e = sample(&key);
        let bytes = e.signing_bytes();
        assert!(bytes.starts_with(canonical::EVENT_DOMAIN));
        // The very bytes every earlier version signed: v1 of the value.
        let mut value = e.to_json();
        value.as_object_mut().unwrap().remove("sig");
        assert_eq!(bytes[canonical::EVENT_DOMAIN.len()..], canonical::to_canonical_bytes(&value)[..]);
        assert_eq!(bytes[canonical::EVENT_DOMAIN.len()..], canonical::to_jcs_bytes(&value).unwrap()[..]);
        assert_eq!(e.legacy_signing_bytes(), None);

        let mut cost = sample(&key);
        cost.payload = json!({"values": {"cost": 1500.0}});
        cost.sign(&key);
        let bytes = cost.signing_bytes();
        assert!(bytes.starts_with(canonical::EVENT_DOMAIN_V2));
        assert!(bytes.ends_with(br#""payload":{"values":{"cost":1500}},"role":"caseworker"}"#));
        let legacy = cost.legacy_signing_bytes().unwrap();
        assert!(legacy.ends_with(br#""payload":{"values":{"cost":1500.0}},"role":"caseworker"}"#));
        cost.verify(&key.verifying_key()).unwrap();
        // Signed before JCS (over the v1 bytes): still verifies.
        cost.sig = base64::engine::general_purpose::STANDARD.encode(key.sign(&legacy).to_bytes());
        cost.verify(&key.verifying_key()).unwrap();
        // The JCS bytes under either domain verify: the 1500.0 rewritten
        // as 1500 on the way (by a tool that reads numbers as doubles)
        // makes the domain v1 but leaves the JCS bytes as they were.
        cost.sign(&key);
        let mut rewritten = cost.clone();
        rewritten.payload = json!({"values": {"cost": 1500}});
        assert!(rewritten.signing_bytes().starts_with(canonical::EVENT_DOMAIN));
        assert_eq!(bytes_after_domain(&rewritten), bytes_after_domain(&cost));
        rewritten.verify(&key.verifying_key()).unwrap();
        // Any other domain is not a signature of this event.
        let mut wrong_domain = e.clone();
        let mut other = b"fieldcase-event-v3\n".to_vec();
        other.extend_from_slice(&bytes_after_domain(&e));
        wrong_domain.sig = base64::engine::general_purpose::STANDARD.encode(key.sign(&other).to_bytes());
        assert_eq!(wrong_domain.verify(&key.verifying_key()), Err(SignatureError::Mismatch));
        // The content hash stays over the v1 bytes.
        let mut h = Sha256::new();
        h.update(&legacy);
        h.update(cost.sig.as_bytes());
        assert_eq!(cost.content_hash(), <[u8; 32]>::from(h.finalize()));
    }

    fn bytes_after_domain(e: &Event) -> Vec<u8> {
        e.signing_bytes()[canonical::EVENT_DOMAIN.len()..].to_vec()
    }

    #[test]
    fn integers_beyond_two_to_the_53_are_refused_by_path() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let mut e = sample(&key);
        assert_eq!(e.check_shape(), Ok(()));
        e.payload = json!({"values": {"sex": "female", "list": [1, {"n": 9007199254740992u64}]}});
        let err = e.check_shape().unwrap_err();
        assert!(err.starts_with("payload.values.list[1].n holds the integer 9007199254740992"), "{err}");
        e.payload = json!({"values": {"n": -9007199254740991i64, "x": 1e300}});
        assert_eq!(e.check_shape(), Ok(()));
        e.device_seq = 1 << 53;
        assert!(e.check_shape().unwrap_err().starts_with("device_seq holds"));
        e.device_seq = 1;
        e.hlc.millis = u64::MAX;
        assert!(e.check_shape().unwrap_err().starts_with("hlc.millis holds"));
    }

    #[test]
    fn parsing_refuses_duplicate_names_and_unknown_members() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let text = sample(&key).canonical_json();
        let parse = |t: &str| serde_json::from_str::<Event>(t).map_err(|e| e.to_string());
        let back = parse(&text).unwrap();
        back.verify(&key.verifying_key()).unwrap();
        let dup_inner = text.replace(r#""sex":"female""#, r#""sex":"male","sex":"female""#);
        assert!(parse(&dup_inner).unwrap_err().contains("duplicate member name \"sex\""));
        let dup_top = text.replace(r#""author":"amina""#, r#""author":"amina","author":"amina""#);
        assert!(parse(&dup_top).unwrap_err().contains("duplicate field `author`"));
        let unknown = text.replace(r#""author":"#, r#""note":"not signed","author":"#);
        assert!(parse(&unknown).unwrap_err().contains("unknown field `note`"));
        let unknown_hlc = text.replace(r#""counter":0"#, r#""counter":0,"tz":1"#);
        assert!(parse(&unknown_hlc).unwrap_err().contains("unknown field `tz`"));
        let kind = text.replace("form.saved", "form.deleted");
        assert!(parse(&kind).unwrap_err().contains("unknown variant `form.deleted`"));
    }

    #[test]
    fn v7_ids_are_reproducible_from_seed_and_time_ordered() {
        let mut a = rand::rngs::StdRng::seed_from_u64(3);
        let mut b = rand::rngs::StdRng::seed_from_u64(3);
        let x = new_v7(1_700_000_000_000, &mut a);
        assert_eq!(x, new_v7(1_700_000_000_000, &mut b));
        assert_eq!(x.get_version_num(), 7);
        assert!(new_v7(1_700_000_000_001, &mut a) > x);
    }
}
