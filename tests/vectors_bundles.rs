//! Checked-in bundle vectors (`tests/vectors/bundles/`): an office vault
//! and bundles made for it, each imported into a fresh copy of that vault
//! with the outcome `vectors.json` names: accepted (with its count of new
//! events) or refused with the named error. Only outcomes are asserted, so
//! the vectors hold however the reader is built, as long as the format's
//! bytes mean the same.
//!
//! `office/` is a vault (current format) whose passphrase, like every key
//! in these files, is TEST ONLY: `correct horse battery staple`. Its age
//! identity (`office/identity.age`, under that passphrase) is the
//! bundles' recipient. Device `amina` (caseworker) is enrolled in its
//! roster; device `bakary` is not.
//!
//! Written by the ignored `write_bundle_vectors`; regenerate only on
//! purpose: `cargo test -p fieldcase --test vectors_bundles -- --ignored write_bundle_vectors`.
#[path = "sync_common.rs"]
mod common;
#[path = "common/raw_tar.rs"]
mod raw_tar;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use common::*;
use ed25519_dalek::{Signer as _, SigningKey};
use fieldcase::model::event::Event;
use fieldcase::model::store::CaseStore;
use fieldcase::sync::{self, format::MANIFEST_DOMAIN};
use raw_tar::{raw, tar_of};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/bundles")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else if e.file_name() != "vault.lock" {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn bundle_vectors() {
    let doc: Value = serde_json::from_slice(&std::fs::read(dir().join("vectors.json")).expect("vectors")).unwrap();
    let vectors = doc["bundles"].as_array().unwrap();
    assert!(vectors.len() >= 5, "vectors missing");
    for v in vectors {
        let file = v["file"].as_str().unwrap();
        let bytes = std::fs::read(dir().join(file)).unwrap();
        let t = tempfile::tempdir().unwrap();
        copy_dir(&dir().join("office"), &t.path().join("office"));
        let mut office = reopen(&t.path().join("office"));
        let result = sync::import_bundle(&mut office, &bytes, false, &mut |_| {});
        match v["outcome"].as_str().unwrap() {
            "accepted" => {
                let report = result.unwrap_or_else(|e| panic!("{file} refused: {e}"));
                let events = office.all_events().unwrap();
                assert_eq!(events.len() as u64, v["events"].as_u64().unwrap(), "{file}: events held ({report:?})");
            }
            "refused" => {
                let err = result.err().unwrap_or_else(|| panic!("{file} accepted"));
                let expected = v["error"].as_str().unwrap();
                assert!(format!("{err:?}").starts_with(expected), "{file}: refused with {err:?}, expected {expected}");
            }
            other => panic!("{file}: unknown outcome {other}"),
        }
    }
}

// ---------------------------------------------------------------- generator

fn encrypt(to: &str, plain: &[u8]) -> Vec<u8> {
    let to: age::x25519::Recipient = to.parse().unwrap();
    let enc = age::Encryptor::with_recipients(std::iter::once(&to as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).unwrap();
    w.write_all(plain).unwrap();
    w.finish().unwrap();
    out
}

fn jsonl(events: &[Event]) -> Vec<u8> {
    events.iter().flat_map(|e| format!("{}\n", e.canonical_json()).into_bytes()).collect()
}

/// A device bundle built member by member: `listed` is the events.jsonl the
/// manifest lists (hash and size), `carried` the one in the archive.
fn hand_built(
    sender: &CaseStore,
    key: &SigningKey,
    office_id: Uuid,
    recipient: &str,
    listed: &[u8],
    carried: Vec<u8>,
) -> Vec<u8> {
    let m = json!({
        "format": "fieldcase-bundle", "version": [1, 0], "bundle_id": Uuid::now_v7(), "kind": "device_to_office",
        "sender": {"device_id": sender.vault().device().device_id, "name": "vector", "signing_key": "00", "recipient": "age1x"},
        "recipients": [], "office_id": office_id, "created_hlc": {"millis": 0, "counter": 0}, "sender_seq": 100,
        "prev_bundle_sha256": null,
        "members": [{"path": "events.jsonl", "sha256": hex::encode(Sha256::digest(listed)), "size": listed.len()}],
    });
    let m = serde_json::to_vec(&m).unwrap();
    let mut signed = MANIFEST_DOMAIN.to_vec();
    signed.extend_from_slice(&m);
    let sig = base64::engine::general_purpose::STANDARD.encode(key.sign(&signed).to_bytes()).into_bytes();
    encrypt(recipient, &tar_of(&[raw("manifest.json", m), raw("manifest.sig", sig), raw("events.jsonl", carried)]))
}

#[test]
#[ignore = "writes tests/vectors/bundles/; run on purpose only"]
fn write_bundle_vectors() {
    let out = dir();
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("o"));
    let mut a = device(&t.path().join("a"), "amina", "caseworker");
    let b = device(&t.path().join("b"), "bakary", "caseworker");
    enroll(&mut o, &mut a);
    let office_id = o.vault().device().device_id;
    let recipient = sync::recipient(&o);
    drop(o);
    copy_dir(&t.path().join("o"), &out.join("office"));

    let case = new_case(&mut a, "Fatima");
    // An integral double: an event signed under the v2 domain.
    a.save_form(case, "registration_bia", None, values(json!({"age_years": 15.0}))).unwrap();
    let events = a.case_events(case).unwrap();
    let v2 = fieldcase::model::canonical::EVENT_DOMAIN_V2;
    assert!(events.iter().any(|e| e.signing_bytes().starts_with(v2)), "no v2 event");
    let n = events.len() as u64;
    std::fs::write(out.join("valid-export.fcb"), sync::export_for_office(&mut a, &mut |_| {}).unwrap()).unwrap();

    let good = jsonl(&events);
    let a_key = a.vault().device_key().clone();
    let b_key = b.vault().device_key().clone();
    let write = |name: &str, bytes: Vec<u8>| std::fs::write(out.join(name), bytes).unwrap();
    write("valid-hand-built.fcb", hand_built(&a, &a_key, office_id, &recipient, &good, good.clone()));
    write("bad-manifest-signature.fcb", hand_built(&a, &b_key, office_id, &recipient, &good, good.clone()));
    write("unknown-sender.fcb", hand_built(&b, &b_key, office_id, &recipient, &good, good.clone()));
    let tampered = String::from_utf8(good.clone()).unwrap().replace("Fatima", "Fatimo").into_bytes();
    write("tampered-events-member.fcb", hand_built(&a, &a_key, office_id, &recipient, &good, tampered.clone()));
    write("bad-event-signature.fcb", hand_built(&a, &a_key, office_id, &recipient, &tampered, tampered.clone()));
    let dup = String::from_utf8(good.clone())
        .unwrap()
        .replacen("\"given_names\":\"Fatima\"", "\"given_names\":\"Fatimo\",\"given_names\":\"Fatima\"", 1)
        .into_bytes();
    write("duplicate-member-event.fcb", hand_built(&a, &a_key, office_id, &recipient, &dup, dup.clone()));

    let doc = json!({
        "about": "Fieldcase bundle vectors, made by tests/vectors_bundles.rs (write_bundle_vectors), checked by \
                  bundle_vectors: each bundle is imported into a fresh copy of office/ (passphrase \
                  'correct horse battery staple', TEST ONLY). `error` is the start of the Debug form of the \
                  sync::ImportError.",
        "bundles": [
            {"file": "valid-export.fcb", "outcome": "accepted", "events": n,
             "about": "fieldcase's own export from the enrolled device: a case.registered, a form.saved, and a form.saved with 15.0 (signed under fieldcase-event-v2)"},
            {"file": "valid-hand-built.fcb", "outcome": "accepted", "events": n,
             "about": "the same events in a bundle built member by member (the base of the invalid ones)"},
            {"file": "bad-manifest-signature.fcb", "outcome": "refused", "error": "BadSignature",
             "about": "manifest of the enrolled device signed by another key"},
            {"file": "unknown-sender.fcb", "outcome": "refused", "error": "UnknownSender",
             "about": "sent and signed by a device the roster does not list"},
            {"file": "tampered-events-member.fcb", "outcome": "refused", "error": "MemberMismatch",
             "about": "events.jsonl changed after the manifest listed its hash"},
            {"file": "bad-event-signature.fcb", "outcome": "refused", "error": "Rejected(BadSignature",
             "about": "an event changed and the manifest re-signed by the sender: the origin signature fails"},
            {"file": "duplicate-member-event.fcb", "outcome": "refused", "error": "MalformedEvent",
             "about": "an event with given_names twice"},
        ],
    });
    std::fs::write(out.join("vectors.json"), serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
}
