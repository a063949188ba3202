//! Checking the signatures of many imported events at once: batched
//! Ed25519 verification (`ed25519_dalek::verify_batch`) split across the
//! machine's cores.
//!
//! Per-event verification ([`Event::verify`]) stays the reference: when a
//! batch fails, its events are checked one by one, so a refusal always names
//! the first bad event in input order, exactly as a sequential check would.
//! Batch verification accepts every set of signatures the per-event check
//! accepts; it may also accept a *maliciously crafted* signature with a
//! small-order component that the per-event check refuses (see the
//! ed25519-dalek docs). Only enrolled devices' keys are used here, so such a
//! signature can come only from an enrolled device's own key, and
//! `CaseStore::verify_history` (per-event checks) still flags it.
//!
//! It also holds [`EncodedEvent`]: an event's canonical encodings
//! (docs/event-encoding.md) written straight from the struct,
//! byte-identical to [`Event::signing_bytes`],
//! [`Event::legacy_signing_bytes`] and [`Event::canonical_json`] (which go
//! through a `serde_json::Value` and are the reference; the tests compare
//! the two). Import checks, stores and
//! hashes every event, so building that encoding once per event and without
//! the intermediate `Value` is a large part of import throughput.

use std::num::NonZeroUsize;

use base64::Engine as _;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::model::canonical::{write_string as write_str, write_u64, write_v1, JcsRelation, EVENT_DOMAIN};
use crate::model::event::{other_domain, Event, SignatureError};

/// Signatures checked together in one `verify_batch` call. Larger batches
/// amortise more (the multiscalar multiplication behind a batch grows
/// slower than its size: 1,024 checked 100,000 signatures about 15 %
/// faster than 128) but cost more to redo one by one when one is bad
/// (about 60 ms for 1,024 here).
const BATCH: usize = 1024;

/// Below this many events per thread a thread costs more than it saves.
const MIN_PER_THREAD: usize = 256;

/// What checking one event's signature needs, taken out of the event (its
/// signing bytes, decoded signature and key), so the check can run on
/// another thread while the event itself moves on into the import.
#[derive(Debug, Clone)]
pub struct SignatureCheck {
    id: Uuid,
    /// [`Event::signing_bytes`].
    signing: Vec<u8>,
    /// [`Event::legacy_signing_bytes`]. This and the JCS bytes under the
    /// other domain are tried one by one only ([`Event::verify`]): a batch
    /// holding an event signed so fails and is redone one by one.
    legacy: Option<Vec<u8>>,
    /// `signing` is a JCS encoding (no integer out of range).
    jcs: bool,
    /// `None` when `sig` is not base64 of 64 bytes.
    sig: Option<Signature>,
    key: VerifyingKey,
}

impl SignatureCheck {
    /// The check of `e`'s signature against `key`.
    pub fn new(e: &Event, key: VerifyingKey) -> SignatureCheck {
        let EncodedEvent { v1, v2, out_of_range } = EncodedEvent::new(e);
        let (signing, legacy) = match v2 {
            Some(v2) => (v2, Some(v1)),
            None => (v1, None),
        };
        SignatureCheck { id: e.id, signing, legacy, jcs: !out_of_range, sig: decode_signature(&e.sig), key }
    }

    /// The event checked.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Exactly [`Event::verify`] of the event (the same bytes, key and
    /// error).
    fn verify(&self) -> Result<(), SignatureError> {
        let sig = self.sig.ok_or(SignatureError::Encoding)?;
        let ok = |m: &[u8]| self.key.verify(m, &sig).is_ok();
        let other = || self.jcs && other_domain(&self.signing).is_some_and(|m| ok(&m));
        if ok(&self.signing) || self.legacy.as_deref().is_some_and(ok) || other() {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

/// Verify every event's signature against its key. On failure, returns the
/// first event (in input order) whose signature does not verify.
pub fn verify_all(items: &[(Event, VerifyingKey)]) -> Result<(), (Uuid, SignatureError)> {
    verify_checks(&checks_of(items))
}

/// [`SignatureCheck::new`] of every item, in order, on all cores.
pub fn checks_of(items: &[(Event, VerifyingKey)]) -> Vec<SignatureCheck> {
    let threads = crate::parallel::threads_for(items.len(), MIN_PER_THREAD);
    crate::parallel::map_ordered(items, threads, |(e, key)| SignatureCheck::new(e, *key))
}

/// [`verify_all`] of checks taken out beforehand ([`SignatureCheck::new`]).
pub fn verify_checks(items: &[SignatureCheck]) -> Result<(), (Uuid, SignatureError)> {
    if items.is_empty() {
        return Ok(());
    }
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let threads = cores.min(items.len().div_ceil(MIN_PER_THREAD)).max(1);
    if threads == 1 {
        return verify_chunk(items);
    }
    let per_thread = items.len().div_ceil(threads);
    let results: Vec<Result<(), (Uuid, SignatureError)>> = std::thread::scope(|s| {
        let handles: Vec<_> =
            items.chunks(per_thread).map(|chunk| (chunk, s.spawn(move || verify_chunk(chunk)))).collect();
        handles
            .into_iter()
            // A panicking worker (none is expected) is redone on this thread.
            .map(|(chunk, h)| h.join().unwrap_or_else(|_| verify_one_by_one(chunk)))
            .collect()
    });
    // Chunks are in input order, so the first error is the first bad event.
    results.into_iter().collect()
}

fn verify_chunk(items: &[SignatureCheck]) -> Result<(), (Uuid, SignatureError)> {
    for batch in items.chunks(BATCH) {
        if !batch_ok(batch) {
            verify_one_by_one(batch)?;
        }
    }
    Ok(())
}

fn batch_ok(batch: &[SignatureCheck]) -> bool {
    let mut messages = Vec::with_capacity(batch.len());
    let mut signatures = Vec::with_capacity(batch.len());
    let mut keys = Vec::with_capacity(batch.len());
    for c in batch {
        let Some(sig) = c.sig else {
            return false;
        };
        messages.push(c.signing.as_slice());
        signatures.push(sig);
        keys.push(c.key);
    }
    ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
}

/// An event's canonical encodings, built once (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEvent {
    /// [`EVENT_DOMAIN`] then the v1 encoding of every field except `sig`
    /// (it ends with `}`): the signing bytes unless `v2` is set, and what
    /// the stored JSON and the content hash are made of.
    v1: Vec<u8>,
    /// [`crate::model::canonical::EVENT_DOMAIN_V2`] then the JCS encoding, when it differs from the
    /// v1 encoding: then the signing bytes.
    v2: Option<Vec<u8>>,
    /// An integer beyond ±(2^53 − 1): no JCS encoding.
    out_of_range: bool,
}

impl EncodedEvent {
    /// Encode `e`.
    pub fn new(e: &Event) -> EncodedEvent {
        let mut out = Vec::with_capacity(EVENT_DOMAIN.len() + 512);
        out.extend_from_slice(EVENT_DOMAIN);
        // Keys in byte order, as the v1 encoding sorts them (all ASCII, so
        // in UTF-16 order too); `sig` sorts after every other key, so the
        // full encoding is this one with `,"sig":…` before the closing brace.
        out.extend_from_slice(b"{\"author\":");
        write_str(&e.author, &mut out);
        out.extend_from_slice(b",\"base\":[");
        for (i, b) in e.base.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_uuid(b, &mut out);
        }
        out.extend_from_slice(b"],\"case_id\":");
        write_uuid(&e.case_id, &mut out);
        out.extend_from_slice(b",\"device_id\":");
        write_uuid(&e.device_id, &mut out);
        out.extend_from_slice(b",\"device_seq\":");
        write_u64(e.device_seq, &mut out);
        out.extend_from_slice(b",\"form\":");
        match &e.form {
            Some(f) => write_str(f, &mut out),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"hlc\":{\"counter\":");
        write_u64(u64::from(e.hlc.counter), &mut out);
        out.extend_from_slice(b",\"millis\":");
        write_u64(e.hlc.millis, &mut out);
        out.extend_from_slice(b"},\"id\":");
        write_uuid(&e.id, &mut out);
        out.extend_from_slice(b",\"kind\":");
        write_str(e.kind.as_str(), &mut out);
        out.extend_from_slice(b",\"payload\":");
        let relation = write_v1(&e.payload, &mut out)
            .and(JcsRelation::of_integer(e.device_seq))
            .and(JcsRelation::of_integer(e.hlc.millis));
        out.extend_from_slice(b",\"role\":");
        write_str(e.role.as_str(), &mut out);
        out.push(b'}');
        // Rare (a double such as 5.0 or 1e-6, or keys out of UTF-16 order):
        // built through the reference value, not worth a second fast path.
        let v2 = (relation == JcsRelation::Differs).then(|| e.signing_bytes());
        EncodedEvent { v1: out, v2, out_of_range: relation == JcsRelation::OutOfRange }
    }

    /// [`Event::signing_bytes`].
    pub fn signing_bytes(&self) -> &[u8] {
        self.v2.as_deref().unwrap_or(&self.v1)
    }

    /// [`Event::legacy_signing_bytes`].
    pub fn legacy_signing_bytes(&self) -> Option<&[u8]> {
        self.v2.as_ref().map(|_| self.v1.as_slice())
    }

    /// [`Event::canonical_json`] of the event with signature `sig`.
    pub fn canonical_json(&self, sig: &str) -> String {
        let body = &self.v1[EVENT_DOMAIN.len()..self.v1.len() - 1];
        let mut out = Vec::with_capacity(body.len() + sig.len() + 12);
        out.extend_from_slice(body);
        out.extend_from_slice(b",\"sig\":");
        write_str(sig, &mut out);
        out.push(b'}');
        // Built from UTF-8 pieces only.
        String::from_utf8(out).unwrap_or_default()
    }

    /// [`Event::content_hash`] of the event with signature `sig`.
    pub fn content_hash(&self, sig: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(&self.v1);
        h.update(sig.as_bytes());
        h.finalize().into()
    }
}

/// [`Event::content_hash`], through [`EncodedEvent`].
pub fn content_hash(e: &Event) -> [u8; 32] {
    EncodedEvent::new(e).content_hash(&e.sig)
}

fn write_uuid(u: &Uuid, out: &mut Vec<u8>) {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    out.push(b'"');
    out.extend_from_slice(u.hyphenated().encode_lower(&mut buf).as_bytes());
    out.push(b'"');
}

fn verify_one_by_one(items: &[SignatureCheck]) -> Result<(), (Uuid, SignatureError)> {
    for c in items {
        c.verify().map_err(|reason| (c.id, reason))?;
    }
    Ok(())
}

fn decode_signature(sig: &str) -> Option<Signature> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(sig.as_bytes()).ok()?;
    let bytes: [u8; 64] = bytes.try_into().ok()?;
    Some(Signature::from_bytes(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::event::{EventKind, Hlc, Role};
    use ed25519_dalek::{Signer as _, SigningKey};

    fn signed(n: usize, key: &SigningKey) -> Vec<(Event, VerifyingKey)> {
        (0..n)
            .map(|i| {
                let mut e = Event {
                    id: Uuid::from_u128(i as u128 + 1),
                    case_id: Uuid::from_u128(7),
                    device_id: Uuid::from_u128(9),
                    device_seq: i as u64 + 1,
                    hlc: Hlc { millis: 1_000 + i as u64, counter: 0 },
                    author: "a".into(),
                    role: Role::Caseworker,
                    kind: EventKind::NoteAdded,
                    form: Some("case_note".into()),
                    payload: serde_json::json!({"item": Uuid::from_u128(100 + i as u128), "values": {"text": i}}),
                    base: vec![],
                    sig: String::new(),
                };
                e.sign(key);
                (e, key.verifying_key())
            })
            .collect()
    }

    #[test]
    fn a_bad_event_deep_in_a_full_batch_is_named() {
        // More than one batch per thread: the bad one sits in a later batch.
        let key = SigningKey::from_bytes(&[5; 32]);
        let mut items = signed(3 * BATCH, &key);
        assert!(verify_all(&items).is_ok());
        items[BATCH + 17].0.author = "not the signer".into();
        items[2 * BATCH + 3].0.sig = "AAAA".into();
        let (id, reason) = verify_all(&items).unwrap_err();
        assert_eq!(id, items[BATCH + 17].0.id);
        assert!(matches!(reason, SignatureError::Mismatch));
        let checks: Vec<SignatureCheck> = items.iter().map(|(e, k)| SignatureCheck::new(e, *k)).collect();
        assert_eq!(verify_checks(&checks[2 * BATCH..]).unwrap_err().0, items[2 * BATCH + 3].0.id);
        assert_eq!(checks[5].id(), items[5].0.id);
    }

    #[test]
    fn accepts_good_and_names_the_first_bad_event() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let mut items = signed(1_000, &key);
        assert!(verify_all(&items).is_ok());
        // Two bad events in different threads' chunks: the first is named.
        items[700].0.payload = serde_json::json!({"values": {"text": "altered"}});
        items[300].0.sig = "not base64".into();
        assert_eq!(verify_all(&items).unwrap_err(), (items[300].0.id, SignatureError::Encoding));
        items[300].0.sig = items[301].0.sig.clone();
        assert_eq!(verify_all(&items).unwrap_err(), (items[300].0.id, SignatureError::Mismatch));
        let other = SigningKey::from_bytes(&[4; 32]).verifying_key();
        let mut items = signed(10, &key);
        items[9].1 = other;
        assert_eq!(verify_all(&items).unwrap_err().0, items[9].0.id);
    }

    #[test]
    fn events_signed_over_jcs_and_before_it_both_verify_in_batches() {
        let key = SigningKey::from_bytes(&[6; 32]);
        let mut items = signed(600, &key);
        // Payloads whose JCS encoding differs from v1: new signatures
        // cover JCS under the v2 domain; those made before JCS cover v1.
        for (i, (e, _)) in items.iter_mut().enumerate().filter(|(i, _)| i % 7 == 0) {
            e.payload = serde_json::json!({"item": Uuid::from_u128(i as u128), "values": {"cost": 1500.0}});
            if i % 2 == 0 {
                e.sign(&key);
                assert!(e.signing_bytes().starts_with(crate::model::canonical::EVENT_DOMAIN_V2));
            } else {
                let legacy = e.legacy_signing_bytes().expect("JCS differs");
                e.sig = base64::engine::general_purpose::STANDARD.encode(key.sign(&legacy).to_bytes());
            }
            e.verify(&key.verifying_key()).unwrap();
        }
        assert!(verify_all(&items).is_ok());
        // A number token rewritten (1500.0 as 1500) on the way: the
        // domain the check starts from changes, the JCS bytes do not.
        items[14].0.payload["values"]["cost"] = serde_json::json!(1500);
        assert!(items[14].0.signing_bytes().starts_with(EVENT_DOMAIN));
        assert!(verify_all(&items).is_ok());
        // A legacy signature over the JCS bytes' v1 twin is no v2 signature
        // of another event: alter the value and both fail.
        items[14].0.payload["values"]["cost"] = serde_json::json!(1501.0);
        assert_eq!(verify_all(&items).unwrap_err(), (items[14].0.id, SignatureError::Mismatch));
    }

    fn assert_same_encoding(e: &Event) {
        let enc = EncodedEvent::new(e);
        assert_eq!(enc.signing_bytes(), e.signing_bytes(), "signing bytes of {e:?}");
        assert_eq!(enc.legacy_signing_bytes().map(<[u8]>::to_vec), e.legacy_signing_bytes(), "legacy bytes of {e:?}");
        assert_eq!(enc.canonical_json(&e.sig), e.canonical_json(), "canonical JSON of {e:?}");
        assert_eq!(enc.content_hash(&e.sig), e.content_hash());
        assert_eq!(content_hash(e), e.content_hash());
    }

    #[test]
    fn direct_encoding_equals_the_value_based_reference() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let kinds = [
            EventKind::CaseRegistered,
            EventKind::FormSaved,
            EventKind::NoteAdded,
            EventKind::StatusChanged,
            EventKind::ConflictResolved,
            EventKind::CaseErased,
        ];
        let roles = [Role::Caseworker, Role::Supervisor, Role::BidPanel, Role::DataManager, Role::Viewer];
        let payloads = [
            serde_json::json!({}),
            serde_json::json!({"values": {"z": 1, "a": [1.5, -2, u64::MAX, i64::MIN, null, true, false], "m": {"y": "x", "b": {}}}}),
            serde_json::json!({"item": Uuid::from_u128(5), "values": {"text": "é\n\t\"\\\u{0}\u{1f}\u{7f}\u{2028}😀 </script>"}}),
            serde_json::json!({"to": "closed", "reason": "", "nested": [[[]], [{}], {"": ""}], "f": 1e300, "g": 0.1}),
            // JCS differs from v1: an integral double, a double near 1e-6,
            // keys that sort apart by UTF-16 and by UTF-8.
            serde_json::json!({"values": {"cost": 5.0, "tiny": 1.5e-6, "\u{e000}": 1, "😀": 2}}),
        ];
        let mut n = 0u128;
        for kind in kinds {
            for role in roles {
                for payload in &payloads {
                    n += 1;
                    let awkward = crate::model::event::awkward_test_event(n, kind, role, payload.clone());
                    // Its device_seq is beyond 2^53: the same with one within.
                    let mut plain = awkward.clone();
                    plain.device_seq = n as u64;
                    for mut e in [awkward, plain] {
                        assert_same_encoding(&e);
                        e.sign(&key);
                        assert_same_encoding(&e);
                        // Round trip through JSON text, as bundles and the journal do.
                        let again = Event::from_json(&serde_json::from_str(&e.canonical_json()).unwrap()).unwrap();
                        assert_same_encoding(&again);
                    }
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn direct_encoding_equals_reference_for_any_text_and_numbers(
            author in ".*", field in ".*", text in ".*", num in proptest::num::f64::NORMAL, int in proptest::num::i64::ANY,
        ) {
            let e = Event {
                id: Uuid::from_u128(1),
                case_id: Uuid::from_u128(2),
                device_id: Uuid::from_u128(3),
                device_seq: 4,
                hlc: Hlc { millis: 5, counter: 6 },
                author,
                role: Role::Caseworker,
                kind: EventKind::FormSaved,
                form: Some(field.clone()),
                payload: serde_json::json!({"values": {field: text, "n": num, "i": int}}),
                base: vec![],
                sig: "c2ln".into(),
            };
            assert_same_encoding(&e);
        }
    }
}
