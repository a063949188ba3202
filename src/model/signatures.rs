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

use std::num::NonZeroUsize;

use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use uuid::Uuid;

use crate::model::event::{Event, SignatureError};

/// Signatures checked together in one `verify_batch` call. Larger batches
/// amortise more but cost more to redo one by one when one is bad.
const BATCH: usize = 128;

/// Below this many events per thread a thread costs more than it saves.
const MIN_PER_THREAD: usize = 256;

/// Verify every event's signature against its key. On failure, returns the
/// first event (in input order) whose signature does not verify.
pub fn verify_all(items: &[(Event, VerifyingKey)]) -> Result<(), (Uuid, SignatureError)> {
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

fn verify_chunk(items: &[(Event, VerifyingKey)]) -> Result<(), (Uuid, SignatureError)> {
    for batch in items.chunks(BATCH) {
        if !batch_ok(batch) {
            verify_one_by_one(batch)?;
        }
    }
    Ok(())
}

fn batch_ok(batch: &[(Event, VerifyingKey)]) -> bool {
    let mut messages = Vec::with_capacity(batch.len());
    let mut signatures = Vec::with_capacity(batch.len());
    let mut keys = Vec::with_capacity(batch.len());
    for (e, key) in batch {
        let Some(sig) = decode_signature(&e.sig) else {
            return false;
        };
        messages.push(e.signing_bytes());
        signatures.push(sig);
        keys.push(*key);
    }
    let messages: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
}

fn verify_one_by_one(items: &[(Event, VerifyingKey)]) -> Result<(), (Uuid, SignatureError)> {
    for (e, key) in items {
        e.verify(key).map_err(|reason| (e.id, reason))?;
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
    use ed25519_dalek::SigningKey;

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
}
