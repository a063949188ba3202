//! Hostile bundles: each one is refused with the right reason and leaves the
//! importing vault exactly as it was (events, projection, sync state, trust).
#[path = "sync_common.rs"]
mod common;
#[path = "common/people.rs"]
mod people;
#[path = "common/raw_tar.rs"]
mod raw_tar;

use std::io::{Read as _, Write as _};

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
    let b = bundle_with(&w, w.a.vault().device_key(), &w.a, oid, Vec::new());
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
    let b = bundle_with(&w, w.a.vault().device_key(), &w.a, Uuid::now_v7(), Vec::new());
    assert!(matches!(refused(&mut w.o, &b), ImportError::WrongOffice { .. }));
}

#[test]
fn unknown_sender() {
    let mut w = world();
    let t = tempfile::tempdir().unwrap();
    let x = device(&t.path().join("x"), "mallory", "caseworker");
    let oid = office_id(&w);
    let b = bundle_with(&w, x.vault().device_key(), &x, oid, Vec::new());
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
    let b = bundle_with(&w, w.b.vault().device_key(), &w.a, oid, Vec::new());
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
    e.sign(w.a.signer_key());
    let b = bundle_with(&w, w.a.vault().device_key(), &w.a, oid, jsonl(&[e]));
    let err = refused(&mut w.o, &b);
    assert!(err.to_string().contains("signature"), "{err}");
}

#[test]
fn a_further_person_cannot_sign_events_as_the_devices_first_person() {
    // Sara, a further person on amina's device, holds what signs the
    // device's bundles (she syncs too), but not amina's event key: an
    // event in amina's name signed with anything sara holds is refused,
    // even inside a bundle the device key rightly signed.
    let World { _t, mut o, mut a, case, .. } = world();
    people::enroll_person(&mut o, &mut a, "sara", Role::Supervisor);
    let amina = a.vault().device().device_id;
    let entry = sync::exchange::roster(&o).unwrap().unwrap().roster.device(amina).cloned().unwrap();
    assert_ne!(entry.bundle_key_hex(), entry.signing_key, "the roster lists two keys for the device");
    let dir = a.vault().dir().to_owned();
    a.lock().unwrap();
    let as_sara = CaseStore::open_with(&dir, &people::passphrase_of("sara"), &options()).unwrap();
    assert!(as_sara.vault().first_person_key().is_none(), "sara's unlock gives her no key of amina's");
    let mut e = as_sara.case_events(case).unwrap().pop().unwrap();
    assert_eq!(e.device_id, amina);
    e.id = Uuid::now_v7();
    e.device_seq = 50;
    let oid = o.vault().device().device_id;
    for key in [as_sara.vault().device_key(), as_sara.signer_key()] {
        e.sign(key);
        let events = jsonl(std::slice::from_ref(&e));
        let m = serde_json::to_vec(&manifest(&as_sara, oid, 100, &[("events.jsonl", &events)])).unwrap();
        let sig = sign(as_sara.vault().device_key(), &m);
        let b = encrypt(
            &recipient_of(&o),
            &tar_of(&[raw("manifest.json", m), raw("manifest.sig", sig), raw("events.jsonl", events)]),
        );
        let err = refused(&mut o, &b);
        assert!(err.to_string().contains("signature"), "{err}");
    }
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
    let sig = sign(w.a.vault().device_key(), &m);
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
    let b = bundle_with(&w, w.a.vault().device_key(), &w.a, oid, line);
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
    let b = bundle_with(&w, w.a.vault().device_key(), &w.a, oid, b"{\"id\": 12,\n".to_vec());
    assert!(matches!(refused(&mut w.o, &b), ImportError::MalformedEvent { line: 1, .. }));
    let bad = b"{not json".to_vec();
    let sig = sign(w.a.vault().device_key(), &bad);
    let b = encrypt(
        &recipient_of(&w.o),
        &tar_of(&[raw("manifest.json", bad), raw("manifest.sig", sig), raw("events.jsonl", vec![])]),
    );
    assert!(matches!(refused(&mut w.o, &b), ImportError::Malformed { .. }));
    let mut m = manifest(&w.a, oid, 100, &[("events.jsonl", b"")]);
    m["version"] = json!([2, 0]);
    let m = serde_json::to_vec(&m).unwrap();
    let sig = sign(w.a.vault().device_key(), &m);
    let b = encrypt(
        &recipient_of(&w.o),
        &tar_of(&[raw("manifest.json", m), raw("manifest.sig", sig), raw("events.jsonl", vec![])]),
    );
    let e = refused(&mut w.o, &b);
    assert!(e.to_string().contains("version 2 is not supported"), "{e}");
}

/// The manifest's `refused` list (1.1) is read before the signer is known:
/// it is bounded, and a higher minor version with it is read like 1.0.
#[test]
fn refused_list_in_the_manifest_is_bounded() {
    let mut w = world();
    let oid = office_id(&w);
    let notice = json!({"event_id": Uuid::now_v7(), "case_id": w.case, "device_seq": 1, "kind": "status.changed",
                        "author": "amina", "code": "rule_violated", "params": {"violations": []}, "text": "x",
                        "at": "2026-01-01T00:00:00Z"});
    let to = recipient_of(&w.o);
    let with = |n: usize| {
        let mut m = manifest(&w.a, oid, 100, &[("events.jsonl", b"")]);
        m["version"] = json!([1, 7]);
        m["refused"] = json!(vec![notice.clone(); n]);
        let m = serde_json::to_vec(&m).unwrap();
        let sig = sign(w.a.vault().device_key(), &m);
        encrypt(&to, &tar_of(&[raw("manifest.json", m), raw("manifest.sig", sig), raw("events.jsonl", vec![])]))
    };
    let (too_many, fine) = (with(sync::quarantine::MAX_REFUSED + 1), with(3));
    let e = refused(&mut w.o, &too_many);
    assert!(matches!(e, ImportError::Malformed { .. }), "{e}");
    assert!(e.to_string().contains("more than 10000 items"), "{e}");
    // Within the bound: accepted (an office ignores `refused` from a device).
    let r = sync::import_bundle(&mut w.o, &fine, false, &mut |_| {}).expect("accepted");
    assert_eq!(r.refusals_reported, 0);
    assert!(sync::quarantine::refused_events(&w.o).unwrap().is_empty());
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
    e.sign(w.a.signer_key());
    e
}

#[test]
fn event_breaking_a_lifecycle_or_role_rule() {
    let mut w = world();
    let oid = office_id(&w);
    let next = w.a.case_events(w.case).unwrap().len() as u64 + 1;
    // A caseworker device claiming the supervisor role: an authentication
    // failure, the whole bundle is refused.
    let e = a_event(&w, EventKind::CaseAssigned, json!({"caseworker": "amina"}), Role::Supervisor, next);
    let b = bundle_with(&w, w.a.vault().device_key(), &w.a, oid, jsonl(&[e]));
    assert!(matches!(refused(&mut w.o, &b), ImportError::RoleNotGranted { .. }));
    // identified → closed is not a move the lifecycle allows: a rule
    // refusal. Altered after signing, the same event refuses the whole
    // bundle, the valid note after it included.
    let bad = a_event(&w, EventKind::StatusChanged, json!({"to": "closed", "reason": "x"}), Role::Caseworker, next);
    let mut note =
        a_event(&w, EventKind::FormSaved, json!({"values": {"family_name": "Diallo"}}), Role::Caseworker, next + 1);
    note.form = Some("registration_bia".into());
    note.sign(w.a.signer_key());
    let mut altered = bad.clone();
    altered.payload = json!({"to": "closed", "reason": "y"});
    let b = bundle_with(&w, w.a.vault().device_key(), &w.a, oid, jsonl(&[altered, note.clone()]));
    assert!(matches!(refused(&mut w.o, &b), ImportError::Rejected(StoreError::BadSignature { .. })));
    // As signed, it is held in quarantine with its reason; the note is applied.
    let b = bundle_with(&w, w.a.vault().device_key(), &w.a, oid, jsonl(&[bad.clone(), note.clone()]));
    let report = sync::import_bundle(&mut w.o, &b, false, &mut |_| {}).expect("the rest of the bundle is applied");
    assert_eq!(report.quarantined.len(), 1, "{report:?}");
    assert_eq!(report.quarantined[0].0, bad.id);
    assert_eq!(report.quarantined[0].1.code, "rule_violated");
    let ids: Vec<Uuid> = w.o.case_events(w.case).unwrap().iter().map(|e| e.id).collect();
    assert!(ids.contains(&note.id) && !ids.contains(&bad.id));
    let held = sync::quarantine::list(&w.o).unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!((held[0].event_id, held[0].device_seq), (bad.id, next));
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
        let sig = sign(w.a.vault().device_key(), &m);
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
    let bundle = bundle_with(&w, w.a.vault().device_key(), &w.a, oid, jsonl(&events));
    let frames_before = w.o.vault().stats().journal_frames;
    let err = refused(&mut w.o, &bundle);
    assert!(matches!(&err, ImportError::Rejected(StoreError::BadSignature { event, .. }) if *event == bad), "{err}");
    assert_eq!(w.o.vault().stats().journal_frames, frames_before, "nothing reached the journal");
    let dump = full_dump(&w.o);
    let dir = w.o.vault().dir().to_owned();
    drop(w.o);
    assert_eq!(full_dump(&reopen(&dir)), dump, "nothing comes back at the next unlock");
}

/// A device bundle from `key` naming `sender` as its sender, whose events
/// member is `size` bytes of `[0,0,…]` lines, made with a tail that no
/// reader can decrypt: a reader that reads past the manifest reports the
/// damage, one that decides on the sender first never sees it.
fn bundle_with_a_damaged_tail(w: &World, key: &SigningKey, sender: Uuid, size: usize) -> Vec<u8> {
    let mut body = Vec::new();
    zero_lines().take(size as u64).read_to_end(&mut body).unwrap();
    let mut m = manifest(&w.a, office_id(w), 100, &[("events.jsonl", &body)]);
    m["sender"]["device_id"] = json!(sender);
    let m = serde_json::to_vec(&m).unwrap();
    let sig = sign(key, &m);
    let mut b = encrypt(
        &recipient_of(&w.o),
        &tar_of(&[raw("manifest.json", m), raw("manifest.sig", sig), raw("events.jsonl", body)]),
    );
    let n = b.len();
    b[n - 40] ^= 0x10;
    b
}

#[test]
fn the_sender_is_refused_before_anything_after_the_manifest_is_read() {
    let mut w = world();
    let size = 300 * 1024; // several 64 KiB age chunks after the manifest's
    let stranger = SigningKey::from_bytes(&[7; 32]);
    let b = bundle_with_a_damaged_tail(&w, &stranger, Uuid::now_v7(), size);
    assert!(matches!(refused(&mut w.o, &b), ImportError::UnknownSender { .. }));
    // Re-signed by another key, in the name of an enrolled device.
    let a = w.a.vault().device().device_id;
    let b = bundle_with_a_damaged_tail(&w, &stranger, a, size);
    assert!(matches!(refused(&mut w.o, &b), ImportError::BadSignature { .. }));
    let bid = w.b.vault().device().device_id;
    sync::revoke(&mut w.o, bid).unwrap();
    let b = bundle_with_a_damaged_tail(&w, w.b.vault().device_key(), bid, size);
    assert!(matches!(refused(&mut w.o, &b), ImportError::RevokedSender { .. }));
    // The same bundle from an enrolled device is read on, to the damage.
    let b = bundle_with_a_damaged_tail(&w, w.a.vault().device_key(), a, size);
    assert!(matches!(refused(&mut w.o, &b), ImportError::Damaged { .. }));
}

#[test]
fn the_manifest_and_its_signature_must_come_first() {
    let mut w = world();
    let m = serde_json::to_vec(&manifest(&w.a, office_id(&w), 100, &[("events.jsonl", b"")])).unwrap();
    let sig = sign(w.a.vault().device_key(), &m);
    let orders = [
        vec![raw("events.jsonl", vec![]), raw("manifest.json", m.clone()), raw("manifest.sig", sig.clone())],
        vec![raw("manifest.sig", sig.clone()), raw("manifest.json", m.clone()), raw("events.jsonl", vec![])],
        vec![raw("manifest.json", m.clone()), raw("events.jsonl", vec![]), raw("manifest.sig", sig.clone())],
    ];
    for members in orders {
        let b = encrypt(&recipient_of(&w.o), &tar_of(&members));
        assert!(matches!(refused(&mut w.o, &b), ImportError::OutOfOrder { .. }));
    }
    let b = encrypt(&recipient_of(&w.o), &tar_of(&[raw("manifest.json", m)]));
    assert!(matches!(refused(&mut w.o, &b), ImportError::MissingMember(p) if p == "manifest.sig"));
}

#[test]
fn a_member_whose_header_differs_from_the_manifest_is_refused_before_it_is_read() {
    let mut w = world();
    // Listed as 3 bytes, declared (and present) as more: refused on the
    // header, so the reader never reaches the cut-short data after it.
    let m = Raw { name: b"events.jsonl".to_vec(), kind: tar::EntryType::Regular, data: vec![], size: Some(1 << 20) };
    let b = signed_tar(&w, vec![m], &[("events.jsonl", b"[]\n")]);
    let e = refused(&mut w.o, &b);
    assert!(matches!(&e, ImportError::MemberMismatch { reason, .. } if reason.contains("manifest says 3")), "{e}");
}

#[test]
fn an_enrollment_from_an_unknown_office_may_carry_only_its_roster() {
    // A device not yet enrolled trusts the key an enrollment bundle names,
    // so such a bundle is read only if it lists no events.
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("o"));
    let mut d = device(&t.path().join("d"), "amina", "caseworker");
    let req = serde_json::to_vec(&sync::enrollment_request(&d).unwrap()).unwrap();
    sync::approve_enrollment(&mut o, &req, Role::Caseworker, &mut |_| {}).unwrap();
    let roster = serde_json::to_vec(&sync::exchange::roster(&o).unwrap().unwrap()).unwrap();
    let oid = o.vault().device().device_id;
    let to = recipient_of(&d);
    let enrollment = |events: &[u8]| {
        let mut m = manifest(&o, oid, 50, &[("events.jsonl", events), ("roster.json", &roster)]);
        m["kind"] = json!("enrollment");
        m["sender"]["signing_key"] = json!(hex::encode(o.vault().device_verifying_key().as_bytes()));
        let m = serde_json::to_vec(&m).unwrap();
        let sig = sign(o.vault().device_key(), &m);
        let members = [
            raw("manifest.json", m),
            raw("manifest.sig", sig),
            raw("events.jsonl", events.to_vec()),
            raw("roster.json", roster.clone()),
        ];
        encrypt(&to, &tar_of(&members))
    };
    assert!(matches!(refused(&mut d, &enrollment(b"{}\n")), ImportError::WrongKind(_)));
    sync::import_bundle(&mut d, &enrollment(b""), false, &mut |_| {}).expect("the same without events");
}

/// `[0,0,…,0]` lines of 64 KiB, for ever: the large events member of the
/// security review's hostile bundle.
struct ZeroLines {
    line: Vec<u8>,
    at: usize,
}

fn zero_lines() -> ZeroLines {
    let mut line = b"[".to_vec();
    line.extend(b"0,".repeat(32 * 1024 - 2));
    line.extend_from_slice(b"0]\n");
    ZeroLines { line, at: 0 }
}

impl std::io::Read for ZeroLines {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.line.len() - self.at);
        buf[..n].copy_from_slice(&self.line[self.at..self.at + n]);
        self.at = (self.at + n) % self.line.len();
        Ok(n)
    }
}

mod memory {
    //! The security review's bundle: from outside, with only the office's
    //! public recipient, an events member of 512 MiB signed by a key the
    //! roster does not know. It is refused having read the manifest and
    //! nothing else, so in constant memory. Measured in a child process
    //! (this test binary run again for this one test), whose peak resident
    //! set is reset once its vault is open (`/proc/self/clear_refs`).
    use super::*;
    use std::io::BufWriter;
    use std::path::Path;

    /// The child's instructions: `<vault dir>\n<bundle>\n<bundle>…`.
    const CHILD: &str = "FIELDCASE_HOSTILE_MEMORY_CHILD";
    /// Bound on the import's peak above the child's baseline.
    const BOUND: u64 = 100 * 1000 * 1000;
    const EVENTS_BYTES: u64 = 512 * 1024 * 1024;

    fn status_kib(key: &str) -> u64 {
        let s = std::fs::read_to_string("/proc/self/status").unwrap();
        s.lines()
            .find_map(|l| {
                l.strip_prefix(key).map(|r| r.trim_start_matches(':').split_whitespace().next().unwrap_or("0"))
            })
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// Write a device bundle to `path` as a stream (never in memory): the
    /// manifest lists `events` bytes of `[0,0,…]` lines with their real
    /// SHA-256, and `padding` more manifest bytes of an unknown key.
    fn write_hostile(path: &Path, to: &age::x25519::Recipient, office: Uuid, events: u64, padding: usize) {
        let mut hasher = Sha256::new();
        std::io::copy(&mut zero_lines().take(events), &mut hasher).unwrap();
        let sha = hex::encode(hasher.finalize());
        let key = SigningKey::from_bytes(&[9; 32]);
        let mut m = json!({
            "format": "fieldcase-bundle", "version": [1, 0], "bundle_id": Uuid::now_v7(), "kind": "device_to_office",
            "sender": {"device_id": Uuid::now_v7(), "name": "x", "signing_key": hex::encode(key.verifying_key().as_bytes()), "recipient": "age1x"},
            "recipients": [], "office_id": office, "created_hlc": {"millis": 0, "counter": 0}, "sender_seq": 1,
            "prev_bundle_sha256": null,
            "members": [{"path": "events.jsonl", "sha256": sha, "size": events}],
        });
        if padding > 0 {
            // A JSON tree of this would take 16 bytes per input byte.
            m["padding"] = Value::Array(vec![json!(0); padding / 2]);
        }
        let m = serde_json::to_vec(&m).unwrap();
        let sig = sign(&key, &m);
        let enc = age::Encryptor::with_recipients(std::iter::once(to as &dyn age::Recipient)).unwrap();
        let out = enc.wrap_output(BufWriter::new(std::fs::File::create(path).unwrap())).unwrap();
        let mut tar = tar::Builder::new(out);
        let mut append = |name: &str, size: u64, data: &mut dyn std::io::Read| {
            let mut h = tar::Header::new_ustar();
            h.set_path(name).unwrap();
            h.set_size(size);
            h.set_mode(0o600);
            h.set_cksum();
            tar.append(&h, data).unwrap();
        };
        append("manifest.json", m.len() as u64, &mut &m[..]);
        append("manifest.sig", sig.len() as u64, &mut &sig[..]);
        append("events.jsonl", events, &mut zero_lines().take(events));
        let out = tar.into_inner().unwrap();
        out.finish().unwrap().flush().unwrap();
    }

    #[test]
    fn a_512_mib_bundle_from_an_unknown_key_is_refused_in_constant_memory() {
        if let Ok(spec) = std::env::var(CHILD) {
            return child(&spec);
        }
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("o");
        let o = office(&dir);
        let to = recipient_of(&o);
        let oid = o.vault().device().device_id;
        drop(o);
        let big = t.path().join("big.fcb");
        write_hostile(&big, &to, oid, EVENTS_BYTES, 0);
        assert!(std::fs::metadata(&big).unwrap().len() > EVENTS_BYTES);
        // And a manifest of nearly 16 MiB (the most read before the
        // signer is known) that would be expensive as a JSON tree.
        let wide = t.path().join("wide-manifest.fcb");
        write_hostile(&wide, &to, oid, 1024, format::MAX_JSON_MEMBER_BYTES as usize - 4096);
        let spec = [dir.as_path(), &big, &wide].map(|p| p.to_str().unwrap().to_owned()).join("\n");
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["memory::a_512_mib_bundle_from_an_unknown_key_is_refused_in_constant_memory", "--exact"])
            .args(["--nocapture", "--test-threads=1"])
            .env(CHILD, spec)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "child failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        let reports: Vec<Value> = stdout
            .lines()
            .filter_map(|l| l.split_once("HOSTILE ").map(|(_, r)| r))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(reports.len(), 2, "{stdout}");
        for r in reports {
            assert!(r["error"].as_str().unwrap().starts_with("UnknownSender"), "{r}");
            let above = r["peak_bytes"].as_u64().unwrap() - r["baseline_bytes"].as_u64().unwrap();
            assert!(above < BOUND, "{} bytes above the baseline: {r}", above);
            eprintln!("refused: {r}");
        }
    }

    /// In the child: open the office vault, then import each bundle with
    /// the peak resident set reset just before.
    fn child(spec: &str) {
        let mut lines = spec.lines();
        let mut o = reopen(Path::new(lines.next().unwrap()));
        for bundle in lines {
            // Resets VmHWM to the current resident set (Linux ≥ 4.0). If it
            // cannot, the peak is compared with the resident set below,
            // which can only overstate the import's share.
            let _ = std::fs::write("/proc/self/clear_refs", "5");
            let baseline = status_kib("VmRSS") * 1024;
            let started = std::time::Instant::now();
            let result = sync::import_bundle(&mut o, Path::new(bundle), false, &mut |_| {});
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let peak = status_kib("VmHWM") * 1024;
            let error = result.err().map(|e| format!("{e:?}")).unwrap_or_else(|| "accepted".into());
            let report =
                json!({"bundle": bundle, "error": error, "baseline_bytes": baseline, "peak_bytes": peak, "ms": ms});
            println!("HOSTILE {report}");
        }
    }
}

/// A bundle source whose file changes after `after` reads: the first
/// bytes, then the others (a file replaced while it is imported).
struct Swapping {
    first: Vec<u8>,
    then: Vec<u8>,
    after: usize,
    opens: std::cell::Cell<usize>,
}

impl format::BundleSource for Swapping {
    fn open(&self) -> std::io::Result<Box<dyn std::io::Read + '_>> {
        let n = self.opens.get();
        self.opens.set(n + 1);
        Ok(Box::new(if n < self.after { &self.first[..] } else { &self.then[..] }))
    }
    fn size(&self) -> u64 {
        self.first.len() as u64
    }
}

/// Events of 320 cases of seven events, grouped by case (two chunks of the
/// case-grouped import, docs/bundle-format.md §6 "Order and memory"), and
/// the same events with the last one's value altered, same length.
fn two_chunks(w: &mut World) -> (Vec<u8>, Vec<u8>) {
    let mut b = w.a.batch();
    let cases: Vec<Uuid> = (0..320).map(|_| b.create_case("uasc", "Agadez").unwrap()).collect();
    b.commit().unwrap();
    for round in 0..6 {
        let mut b = w.a.batch();
        for (i, c) in cases.iter().enumerate() {
            let v = json!({"distinguishing_marks": format!("round {round} case {i}")});
            b.save_form(*c, "registration_bia", None, values(v)).unwrap();
        }
        b.commit().unwrap();
    }
    let mut events = w.a.all_events().unwrap();
    events.sort_by_key(|e| (e.case_id, e.order_key()));
    assert!(events.len() > 2048, "two chunks needed");
    let good = jsonl(&events);
    let last = events.len() - 1;
    let marks = events[last].payload["values"]["distinguishing_marks"].as_str().unwrap().to_owned();
    events[last].payload["values"]["distinguishing_marks"] = json!("X".repeat(marks.len()));
    let altered = jsonl(&events);
    assert_eq!(good.len(), altered.len());
    (good, altered)
}

#[test]
fn a_bundle_changed_between_the_checking_and_the_committing_read() {
    let mut w = world();
    let oid = office_id(&w);
    let (good, altered) = two_chunks(&mut w);
    let key = w.a.vault().device_key().clone();
    let first = bundle_with(&w, &key, &w.a, oid, good);
    let then = bundle_with(&w, &key, &w.a, oid, altered);
    // Changed before the checking read (pass 2): refused, nothing written.
    let before = full_dump(&w.o);
    let source = Swapping { first: first.clone(), then: then.clone(), after: 1, opens: Default::default() };
    let err = sync::import_bundle(&mut w.o, &source, false, &mut |_| {}).expect_err("changed file accepted");
    assert!(matches!(&err, ImportError::MemberMismatch { path, .. } if path == "events.jsonl"), "{err}");
    assert_eq!(full_dump(&w.o), before, "vault changed by a refused bundle ({err})");
    // Changed after it (pass 3): the first chunk, checked, is committed;
    // the changed one is not, nor the bookkeeping.
    let source = Swapping { first: first.clone(), then, after: 2, opens: Default::default() };
    let err = sync::import_bundle(&mut w.o, &source, false, &mut |_| {}).expect_err("changed file accepted");
    assert!(
        matches!(&err, ImportError::MemberMismatch { path, reason } if path == "events.jsonl" && reason.contains("between two reads")),
        "{err}"
    );
    let held = w.o.all_events().unwrap().len();
    let sent = w.a.all_events().unwrap().len();
    assert!(held >= 2048 && held < sent, "{held} of {sent} events after the interrupted import");
    // Importing the unchanged bundle again completes it.
    let report = sync::import_bundle(&mut w.o, &first, false, &mut |_| {}).unwrap();
    assert!(!report.replay);
    assert_eq!(report.summary.new + report.summary.duplicates, sent, "{:?}", report.summary);
    assert_eq!(report.summary.new, sent - held, "{:?}", report.summary);
    assert_eq!(w.o.all_events().unwrap(), w.a.all_events().unwrap());
}
