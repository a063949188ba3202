//! Hostile bundles: each one is refused with the right reason and leaves the
//! importing vault exactly as it was (events, projection, sync state, trust).
#[path = "sync_common.rs"]
mod common;
#[path = "common/raw_tar.rs"]
mod raw_tar;

use std::io::Write as _;

use base64::Engine as _;
use common::*;
use ed25519_dalek::{Signer as _, SigningKey};
use fieldcase::model::error::StoreError;
use fieldcase::model::event::{Event, EventKind, Hlc, Role};
use fieldcase::model::store::CaseStore;
use fieldcase::sync::format::{self, MANIFEST_DOMAIN};
use fieldcase::sync::{self, ImportError};
use raw_tar::{raw, tar_of, Raw};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

struct World {
    _t: tempfile::TempDir,
    o: CaseStore,
    a: CaseStore,
    b: CaseStore,
    case: Uuid,
}

fn world() -> World {
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("o"));
    let mut a = device(&t.path().join("a"), "amina", "caseworker");
    let mut b = device(&t.path().join("b"), "bakary", "caseworker");
    enroll(&mut o, &mut a);
    enroll(&mut o, &mut b);
    let case = new_case(&mut a, "Fatima");
    up(&mut a, &mut o);
    World { _t: t, o, a, b, case }
}

/// Import must fail and change nothing; returns the error.
fn refused(o: &mut CaseStore, bytes: &[u8]) -> ImportError {
    let before = full_dump(o);
    let e = sync::import_bundle(o, bytes, false, &mut |_| {}).expect_err("hostile bundle accepted");
    assert_eq!(full_dump(o), before, "vault changed by a refused bundle ({e})");
    e
}

fn recipient_of(s: &CaseStore) -> age::x25519::Recipient {
    sync::recipient(s).parse().unwrap()
}

fn encrypt(to: &age::x25519::Recipient, plain: &[u8]) -> Vec<u8> {
    let enc = age::Encryptor::with_recipients(std::iter::once(to as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).unwrap();
    w.write_all(plain).unwrap();
    w.finish().unwrap();
    out
}

/// A manifest as a device would write it, listing `members` with their real
/// hashes.
fn manifest(sender: &CaseStore, office_id: Uuid, seq: u64, members: &[(&str, &[u8])]) -> Value {
    json!({
        "format": "fieldcase-bundle", "version": [1, 0], "bundle_id": Uuid::now_v7(), "kind": "device_to_office",
        "sender": {"device_id": sender.vault().device().device_id, "name": "x", "signing_key": "00", "recipient": "age1x"},
        "recipients": [], "office_id": office_id, "created_hlc": {"millis": 0, "counter": 0}, "sender_seq": seq,
        "prev_bundle_sha256": null,
        "members": members.iter().map(|(p, b)| json!({"path": p, "sha256": hex::encode(Sha256::digest(b)), "size": b.len()})).collect::<Vec<_>>(),
    })
}

fn sign(key: &SigningKey, manifest_bytes: &[u8]) -> Vec<u8> {
    let mut m = MANIFEST_DOMAIN.to_vec();
    m.extend_from_slice(manifest_bytes);
    base64::engine::general_purpose::STANDARD.encode(key.sign(&m).to_bytes()).into_bytes()
}

/// A complete, correctly signed bundle of `events.jsonl` = `jsonl`.
fn bundle_with(w: &World, key: &SigningKey, sender: &CaseStore, office_id: Uuid, jsonl: Vec<u8>) -> Vec<u8> {
    let m = serde_json::to_vec(&manifest(sender, office_id, 100, &[("events.jsonl", &jsonl)])).unwrap();
    let sig = sign(key, &m);
    encrypt(
        &recipient_of(&w.o),
        &tar_of(&[raw("manifest.json", m), raw("manifest.sig", sig), raw("events.jsonl", jsonl)]),
    )
}

fn jsonl(events: &[Event]) -> Vec<u8> {
    events
        .iter()
        .flat_map(|e| {
            let mut l = serde_json::to_vec(e).unwrap();
            l.push(b'\n');
            l
        })
        .collect()
}

fn office_id(w: &World) -> Uuid {
    w.o.vault().device().device_id
}

#[test]
fn well_formed_hand_built_bundle_is_accepted() {
    // The hand-built bundles below differ from this one in one point only.
    let mut w = world();
    let oid = office_id(&w);
    let b = bundle_with(&w, w.a.vault().signing_key(), &w.a, oid, Vec::new());
    sync::import_bundle(&mut w.o, &b, false, &mut |_| {}).expect("baseline accepted");
}

#[test]
fn truncated_at_many_offsets() {
    let mut w = world();
    new_case(&mut w.a, "Moussa");
    let b = sync::export_for_office(&mut w.a, &mut |_| {}).unwrap();
    let mut offsets: Vec<usize> = (0..b.len()).step_by(41).collect();
    offsets.extend([1, 21, 22, 60, b.len() - 17, b.len() - 16, b.len() - 1]);
    for at in offsets {
        let e = refused(&mut w.o, &b[..at]);
        assert!(
            matches!(e, ImportError::NotAgeFile | ImportError::Damaged { .. } | ImportError::WrongRecipient),
            "at {at}: {e}"
        );
    }
    sync::import_bundle(&mut w.o, &b, false, &mut |_| {}).expect("the whole bundle is fine");
}

#[test]
fn bit_flips_in_header_body_and_tail() {
    let mut w = world();
    new_case(&mut w.a, "Moussa");
    let b = sync::export_for_office(&mut w.a, &mut |_| {}).unwrap();
    for at in [5, 40, 100, 150, b.len() / 2, b.len() - 20, b.len() - 1] {
        let mut x = b.clone();
        x[at] ^= 0x04;
        refused(&mut w.o, &x);
    }
}

#[test]
fn not_an_age_file() {
    let mut w = world();
    assert!(matches!(refused(&mut w.o, b"PK\x03\x04 this is a zip"), ImportError::NotAgeFile));
    assert!(matches!(refused(&mut w.o, b""), ImportError::NotAgeFile));
}

#[test]
fn bundle_for_another_office() {
    let mut w = world();
    let t = tempfile::tempdir().unwrap();
    let mut o2 = office(&t.path().join("o2"));
    let mut d2 = device(&t.path().join("d2"), "zara", "caseworker");
    enroll(&mut o2, &mut d2);
    new_case(&mut d2, "Other");
    let b = sync::export_for_office(&mut d2, &mut |_| {}).unwrap();
    assert!(matches!(refused(&mut w.o, &b), ImportError::WrongRecipient));
    // Encrypted to us, but naming another office.
    let b = bundle_with(&w, w.a.vault().signing_key(), &w.a, Uuid::now_v7(), Vec::new());
    assert!(matches!(refused(&mut w.o, &b), ImportError::WrongOffice { .. }));
}

#[test]
fn unknown_sender() {
    let mut w = world();
    let t = tempfile::tempdir().unwrap();
    let x = device(&t.path().join("x"), "mallory", "caseworker");
    let oid = office_id(&w);
    let b = bundle_with(&w, x.vault().signing_key(), &x, oid, Vec::new());
    assert!(matches!(refused(&mut w.o, &b), ImportError::UnknownSender { .. }));
}

#[test]
fn revoked_sender() {
    let mut w = world();
    new_case(&mut w.b, "Moussa");
    let b = sync::export_for_office(&mut w.b, &mut |_| {}).unwrap();
    sync::revoke(&mut w.o, w.b.vault().device().device_id).unwrap();
    assert!(matches!(refused(&mut w.o, &b), ImportError::RevokedSender { .. }));
}

#[test]
fn valid_bundle_resigned_by_another_key() {
    let mut w = world();
    let oid = office_id(&w);
    // Claims to be from A, signed with B's key.
    let b = bundle_with(&w, w.b.vault().signing_key(), &w.a, oid, Vec::new());
    assert!(matches!(refused(&mut w.o, &b), ImportError::BadSignature { .. }));
}

#[test]
fn event_forged_in_another_devices_name() {
    let mut w = world();
    let oid = office_id(&w);
    let mut e = w.a.case_events(w.case).unwrap().pop().unwrap();
    e.id = Uuid::now_v7();
    e.device_id = w.b.vault().device().device_id;
    e.device_seq = 50;
    e.sign(w.a.vault().signing_key());
    let b = bundle_with(&w, w.a.vault().signing_key(), &w.a, oid, jsonl(&[e]));
    let err = refused(&mut w.o, &b);
    assert!(err.to_string().contains("signature"), "{err}");
}

#[test]
fn replayed_bundle_is_a_reported_noop_and_backwards_sequence_is_refused() {
    let mut w = world();
    new_case(&mut w.a, "Moussa");
    let b1 = sync::export_for_office(&mut w.a, &mut |_| {}).unwrap();
    let b2 = sync::export_for_office(&mut w.a, &mut |_| {}).unwrap();
    sync::import_bundle(&mut w.o, &b2, false, &mut |_| {}).unwrap();
    let before = full_dump(&w.o);
    assert!(sync::import_bundle(&mut w.o, &b2, false, &mut |_| {}).unwrap().replay);
    assert_eq!(full_dump(&w.o), before);
    assert!(matches!(refused(&mut w.o, &b1), ImportError::SequenceBackwards { .. }));
}

fn signed_tar(w: &World, members: Vec<Raw>, listed: &[(&str, &[u8])]) -> Vec<u8> {
    let m = serde_json::to_vec(&manifest(&w.a, office_id(w), 100, listed)).unwrap();
    let sig = sign(w.a.vault().signing_key(), &m);
    let mut all = vec![raw("manifest.json", m), raw("manifest.sig", sig)];
    all.extend(members);
    encrypt(&recipient_of(&w.o), &tar_of(&all))
}

#[test]
fn duplicate_members() {
    let mut w = world();
    let b = signed_tar(&w, vec![raw("events.jsonl", vec![]), raw("events.jsonl", vec![])], &[("events.jsonl", b"")]);
    assert!(matches!(refused(&mut w.o, &b), ImportError::DuplicateMember(p) if p == "events.jsonl"));
}

#[test]
fn path_traversal_and_absolute_paths() {
    let mut w = world();
    for name in ["../events.jsonl", "/etc/passwd", "attachments/../../x", "a\\b", "events.jsonl/", "notes.txt"] {
        let b = signed_tar(&w, vec![raw("events.jsonl", vec![]), raw(name, b"x".to_vec())], &[("events.jsonl", b"")]);
        assert!(matches!(refused(&mut w.o, &b), ImportError::ForbiddenMember { .. }), "{name}");
    }
}

#[test]
fn symlinks_devices_and_directories() {
    let mut w = world();
    for kind in [
        tar::EntryType::Symlink,
        tar::EntryType::Char,
        tar::EntryType::Block,
        tar::EntryType::Fifo,
        tar::EntryType::Link,
        tar::EntryType::Directory,
        tar::EntryType::XHeader,
        tar::EntryType::GNULongName,
    ] {
        let m = Raw { name: b"events.jsonl".to_vec(), kind, data: vec![], size: None };
        let b = signed_tar(&w, vec![m], &[("events.jsonl", b"")]);
        assert!(matches!(refused(&mut w.o, &b), ImportError::ForbiddenMember { .. }), "{kind:?}");
    }
}

#[test]
fn huge_declared_size_is_refused_before_reading() {
    let mut w = world();
    let m = Raw { name: b"events.jsonl".to_vec(), kind: tar::EntryType::Regular, data: vec![], size: Some(1 << 40) };
    let b = signed_tar(&w, vec![m], &[("events.jsonl", b"")]);
    assert!(matches!(refused(&mut w.o, &b), ImportError::TooLarge { .. }));
    let m = Raw {
        name: b"manifest.json".to_vec(),
        kind: tar::EntryType::Regular,
        data: vec![],
        size: Some(format::MAX_JSON_MEMBER_BYTES + 1),
    };
    let b = encrypt(&recipient_of(&w.o), &tar_of(&[m]));
    assert!(matches!(refused(&mut w.o, &b), ImportError::TooLarge { .. }));
}

#[test]
fn oversize_event_line() {
    let mut w = world();
    let oid = office_id(&w);
    let mut line = vec![b'"'; 1];
    line.resize(format::MAX_EVENT_BYTES as usize + 10, b'a');
    line.extend_from_slice(b"\"\n");
    let b = bundle_with(&w, w.a.vault().signing_key(), &w.a, oid, line);
    assert!(matches!(refused(&mut w.o, &b), ImportError::EventTooLarge { line: 1, .. }));
}

#[test]
fn manifest_hash_and_size_mismatch_and_unlisted_members() {
    let mut w = world();
    let b = signed_tar(&w, vec![raw("events.jsonl", b"{}\n".to_vec())], &[("events.jsonl", b"[]\n")]);
    assert!(matches!(refused(&mut w.o, &b), ImportError::MemberMismatch { .. }));
    let b = signed_tar(&w, vec![raw("events.jsonl", b"{}\n\n".to_vec())], &[("events.jsonl", b"[]\n")]);
    assert!(matches!(refused(&mut w.o, &b), ImportError::MemberMismatch { .. }));
    let b =
        signed_tar(&w, vec![raw("events.jsonl", vec![]), raw("roster.json", b"{}".to_vec())], &[("events.jsonl", b"")]);
    assert!(matches!(refused(&mut w.o, &b), ImportError::MemberMismatch { .. }));
    let b = signed_tar(&w, vec![], &[("events.jsonl", b"")]);
    assert!(matches!(refused(&mut w.o, &b), ImportError::MissingMember(_)));
}

#[test]
fn malformed_json_and_unknown_major_version() {
    let mut w = world();
    let oid = office_id(&w);
    let b = bundle_with(&w, w.a.vault().signing_key(), &w.a, oid, b"{\"id\": 12,\n".to_vec());
    assert!(matches!(refused(&mut w.o, &b), ImportError::MalformedEvent { line: 1, .. }));
    let bad = b"{not json".to_vec();
    let sig = sign(w.a.vault().signing_key(), &bad);
    let b = encrypt(
        &recipient_of(&w.o),
        &tar_of(&[raw("manifest.json", bad), raw("manifest.sig", sig), raw("events.jsonl", vec![])]),
    );
    assert!(matches!(refused(&mut w.o, &b), ImportError::Malformed { .. }));
    let mut m = manifest(&w.a, oid, 100, &[("events.jsonl", b"")]);
    m["version"] = json!([2, 0]);
    let m = serde_json::to_vec(&m).unwrap();
    let sig = sign(w.a.vault().signing_key(), &m);
    let b = encrypt(
        &recipient_of(&w.o),
        &tar_of(&[raw("manifest.json", m), raw("manifest.sig", sig), raw("events.jsonl", vec![])]),
    );
    let e = refused(&mut w.o, &b);
    assert!(e.to_string().contains("version 2 is not supported"), "{e}");
}

fn a_event(w: &World, kind: EventKind, payload: Value, role: Role, seq: u64) -> Event {
    let mut e = Event {
        id: Uuid::now_v7(),
        case_id: w.case,
        device_id: w.a.vault().device().device_id,
        device_seq: seq,
        hlc: Hlc { millis: chrono::Utc::now().timestamp_millis() as u64, counter: 0 },
        author: "amina".into(),
        role,
        kind,
        form: None,
        payload,
        base: vec![],
        sig: String::new(),
    };
    e.sign(w.a.vault().signing_key());
    e
}

#[test]
fn event_breaking_a_lifecycle_or_role_rule() {
    let mut w = world();
    let oid = office_id(&w);
    let next = w.a.case_events(w.case).unwrap().len() as u64 + 1;
    // identified → closed is not a move the lifecycle allows.
    let e = a_event(&w, EventKind::StatusChanged, json!({"to": "closed", "reason": "x"}), Role::Caseworker, next);
    let b = bundle_with(&w, w.a.vault().signing_key(), &w.a, oid, jsonl(&[e]));
    let err = refused(&mut w.o, &b);
    assert!(matches!(err, ImportError::Rejected(fieldcase::model::error::StoreError::RuleViolated { .. })), "{err}");
    // A caseworker device claiming the supervisor role.
    let e = a_event(&w, EventKind::CaseAssigned, json!({"caseworker": "amina"}), Role::Supervisor, next);
    let b = bundle_with(&w, w.a.vault().signing_key(), &w.a, oid, jsonl(&[e]));
    assert!(matches!(refused(&mut w.o, &b), ImportError::RoleNotGranted { .. }));
}

#[test]
fn device_refuses_office_bundles_from_elsewhere() {
    let mut w = world();
    // B receives a bundle A made for the office: wrong recipient.
    new_case(&mut w.a, "Moussa");
    let b = sync::export_for_office(&mut w.a, &mut |_| {}).unwrap();
    assert!(matches!(refused(&mut w.b, &b), ImportError::WrongRecipient));
    // An office bundle for A imported by the office itself.
    let id = w.a.vault().device().device_id;
    let b = sync::export_for_device(&mut w.o, id, &mut |_| {}).unwrap();
    assert!(matches!(refused(&mut w.o, &b), ImportError::WrongRecipient));
    // Another office's enrollment offered to an enrolled device.
    let t = tempfile::tempdir().unwrap();
    let mut o2 = office(&t.path().join("o2"));
    let req = serde_json::to_vec(&sync::enrollment_request(&w.a).unwrap()).unwrap();
    let b = sync::approve_enrollment(&mut o2, &req, Role::Caseworker, &mut |_| {}).unwrap();
    assert!(matches!(refused(&mut w.a, &b), ImportError::WrongOffice { .. }));
}

mod fuzzish {
    //! Random damage to the plaintext archive: the strict reader never
    //! panics, and whatever it accepts still passes through the signature
    //! and event checks (here: it is refused, since the signature covers the
    //! manifest and the manifest covers the members).
    use super::*;
    use proptest::prelude::*;

    fn sample_archive() -> (Vec<u8>, World) {
        let w = world();
        let mut e = w.a.case_events(w.case).unwrap();
        e.truncate(2);
        let body = jsonl(&e);
        let m = serde_json::to_vec(&manifest(&w.a, office_id(&w), 100, &[("events.jsonl", &body)])).unwrap();
        let sig = sign(w.a.vault().signing_key(), &m);
        (tar_of(&[raw("manifest.json", m), raw("manifest.sig", sig), raw("events.jsonl", body)]), w)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]
        #[test]
        fn damaged_archives_never_panic(flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..6),
                                         cut in any::<prop::sample::Index>()) {
            thread_local!(static SAMPLE: Vec<u8> = sample_archive().0);
            let mut bytes = SAMPLE.with(Clone::clone);
            for (at, x) in flips {
                let i = at.index(bytes.len());
                bytes[i] ^= x;
            }
            let _ = format::read_archive(&bytes, &mut |_| {});
            let n = cut.index(bytes.len());
            let _ = format::read_archive(&bytes[..n], &mut |_| {});
        }
    }

    #[test]
    fn damaged_archives_encrypted_to_the_office_are_refused_without_change() {
        let (tar, mut w) = sample_archive();
        let mut rng_state = 0x2545F4914F6CDD1Du64;
        for _ in 0..40 {
            rng_state ^= rng_state << 13;
            rng_state ^= rng_state >> 7;
            rng_state ^= rng_state << 17;
            let mut bytes = tar.clone();
            let i = (rng_state as usize) % bytes.len();
            bytes[i] ^= 1 << (rng_state % 8);
            let ct = encrypt(&recipient_of(&w.o), &bytes);
            let before = full_dump(&w.o);
            // A flip in padding or unused header bytes may leave a valid
            // bundle; anything else must be refused without change.
            if sync::import_bundle(&mut w.o, &ct, false, &mut |_| {}).is_err() {
                assert_eq!(full_dump(&w.o), before);
            }
        }
    }
}

/// A bundle of several journal frames with one bad signature in the frame
/// committed last: the office checks signatures while it applies the
/// frames (commit_import_checked), so this is the case where frames were
/// already applied when the check says no. Nothing may stay: not in the
/// database, not in the journal, not after reopening.
#[test]
fn a_bad_signature_in_the_last_frame_of_a_large_bundle_leaves_nothing() {
    let mut w = world();
    let oid = office_id(&w);
    let marks = "x".repeat(2900);
    let mut b = w.a.batch();
    let cases: Vec<Uuid> = (0..500).map(|_| b.create_case("uasc", "Agadez").unwrap()).collect();
    b.commit().unwrap();
    for round in 0..5 {
        let mut b = w.a.batch();
        for (i, c) in cases.iter().enumerate() {
            let v = json!({"distinguishing_marks": format!("{round}-{i}-{marks}")});
            b.save_form(*c, "registration_bia", None, values(v)).unwrap();
        }
        b.commit().unwrap();
    }
    let mut events = w.a.all_events().unwrap();
    let bytes: usize = events.iter().map(|e| e.to_json().to_string().len()).sum();
    assert!(bytes > 2 * fieldcase::model::store::IMPORT_FRAME_BYTES, "the test needs several frames ({bytes} bytes)");
    // Frames are cut case by case: the greatest case's newest event is in
    // the last frame.
    let last = events.iter().enumerate().max_by_key(|(_, e)| (e.case_id, e.order_key())).map(|(i, _)| i).unwrap();
    events[last].payload["values"]["distinguishing_marks"] = json!("altered after signing");
    let bad = events[last].id;
    let bundle = bundle_with(&w, w.a.vault().signing_key(), &w.a, oid, jsonl(&events));
    let frames_before = w.o.vault().stats().journal_frames;
    let err = refused(&mut w.o, &bundle);
    assert!(matches!(&err, ImportError::Rejected(StoreError::BadSignature { event, .. }) if *event == bad), "{err}");
    assert_eq!(w.o.vault().stats().journal_frames, frames_before, "nothing reached the journal");
    let dump = full_dump(&w.o);
    let dir = w.o.vault().dir().to_owned();
    drop(w.o);
    assert_eq!(full_dump(&reopen(&dir)), dump, "nothing comes back at the next unlock");
}
