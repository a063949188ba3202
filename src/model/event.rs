//! Signed case events: the only thing the case model stores as truth.
//!
//! An [`Event`] is signed by the device that created it with Ed25519 over
//! [`Event::signing_bytes`]: the domain prefix [`canonical::EVENT_DOMAIN`]
//! followed by the canonical JSON ([`canonical`]) of every field except `sig`.
//! Provenance therefore survives when an office relays the event to other
//! devices.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::model::canonical;

/// The role a person acts in when they create an event (DOMAIN.md §1).
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
    /// `case.erased` {"reason"}.
    #[serde(rename = "case.erased")]
    CaseErased,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

    /// The canonical JSON string of the whole event, including `sig`.
    pub fn canonical_json(&self) -> String {
        canonical::to_canonical_string(&self.to_json())
    }

    /// The bytes the signature covers: [`canonical::EVENT_DOMAIN`] then the
    /// canonical JSON of every field except `sig`.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut value = self.to_json();
        if let Value::Object(map) = &mut value {
            map.remove("sig");
        }
        let mut out = canonical::EVENT_DOMAIN.to_vec();
        canonical::write_canonical(&value, &mut out);
        out
    }

    /// Sign with the device's key (sets `sig`).
    pub fn sign(&mut self, key: &SigningKey) {
        let sig = key.sign(&self.signing_bytes());
        self.sig = base64::engine::general_purpose::STANDARD.encode(sig.to_bytes());
    }

    /// Check `sig` against the device's verifying key.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), SignatureError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(self.sig.as_bytes())
            .map_err(|_| SignatureError::Encoding)?;
        let bytes: [u8; 64] = bytes.try_into().map_err(|_| SignatureError::Encoding)?;
        key.verify(&self.signing_bytes(), &Signature::from_bytes(&bytes)).map_err(|_| SignatureError::Mismatch)
    }

    /// SHA-256 over the signing bytes followed by the signature: changes when
    /// any field, including the signature, changes.
    pub fn content_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.signing_bytes());
        h.update(self.sig.as_bytes());
        h.finalize().into()
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
                if !["uasc", "accompanied_child_at_risk", "family_with_children"].contains(&t) {
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
            EventKind::CaseErased => {
                string("reason")?;
            }
        }
        Ok(())
    }
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
        form: if n % 2 == 0 { None } else { Some(format!("form_{n}\\")) },
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
    fn v7_ids_are_reproducible_from_seed_and_time_ordered() {
        let mut a = rand::rngs::StdRng::seed_from_u64(3);
        let mut b = rand::rngs::StdRng::seed_from_u64(3);
        let x = new_v7(1_700_000_000_000, &mut a);
        assert_eq!(x, new_v7(1_700_000_000_000, &mut b));
        assert_eq!(x.get_version_num(), 7);
        assert!(new_v7(1_700_000_000_001, &mut a) > x);
    }
}
