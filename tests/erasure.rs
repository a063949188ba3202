//! Two-person erasure (docs/vault-format.md §10, docs/bundle-format.md §8):
//! a supervisor and a data manager, each signing with their own key,
//! erase a case; afterwards no file of the vault holds any of its values,
//! late events of it are acknowledged but not kept, and the erasure
//! reaches every device.
#[path = "sync_common.rs"]
mod common;

use std::fs;
use std::io::Read;
use std::path::Path;

use common::*;
use fieldcase::model::erasure;
use fieldcase::model::error::StoreError;
use fieldcase::model::event::{Event, EventKind, Hlc, Role};
use fieldcase::model::store::CaseStore;
use fieldcase::vault::SecretString;
use serde_json::json;
use uuid::Uuid;

/// Values of the case that is erased: each must be gone from every file.
const ERASED: &[&str] = &[
    "qzainabmarker",
    "fxfamilymarker",
    "note-marker-unique-7731",
    "attachment-marker-bytes-5521",
    "photo-marker-name",
];
/// A value of a case that is kept: it must still be in the files (the scan
/// would otherwise pass on a vault it cannot read).
const KEPT: &str = "ykeepmarker";

fn decrypt(id: &dyn age::Identity, bytes: &[u8]) -> Vec<u8> {
    let d = age::Decryptor::new(bytes).expect("an age file");
    let mut r = d.decrypt(std::iter::once(id)).expect("decrypts with the vault's key");
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    out
}

/// Every file of the vault folder decrypted with the vault's own keys (the
/// identity opened with the passphrase): `(path, plaintext)`. Journal frames
/// are cut out one by one (docs/vault-format.md §4); other files are whole
/// age files, or (tags, the lock file) bytes kept as they are.
fn plaintexts(dir: &Path, passphrase: &SecretString) -> Vec<(String, Vec<u8>)> {
    let scrypt = age::scrypt::Identity::new(passphrase.clone());
    let identity: serde_json::Value =
        serde_json::from_slice(&decrypt(&scrypt, &fs::read(dir.join("identity.age")).unwrap())).unwrap();
    let vault_id: age::x25519::Identity = identity["vault_age_identity"].as_str().unwrap().parse().unwrap();
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = fs::read(&p).unwrap();
            if name == "identity.age" {
                continue;
            }
            if name.starts_with("journal-") {
                let mut rest = &bytes[16..];
                let mut frames = Vec::new();
                while rest.len() >= 4 {
                    let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                    frames.extend(decrypt(&vault_id, &rest[4..4 + len]));
                    rest = &rest[4 + len + 32..];
                }
                out.push((p.display().to_string(), frames));
            } else if name.ends_with(".age") {
                out.push((p.display().to_string(), decrypt(&vault_id, &bytes)));
            } else {
                out.push((p.display().to_string(), bytes));
            }
        }
    }
    out
}

fn holds(files: &[(String, Vec<u8>)], needle: &str) -> Vec<String> {
    let needle = needle.as_bytes();
    files
        .iter()
        .filter(|(_, plain)| plain.to_ascii_lowercase().windows(needle.len()).any(|w| w == needle))
        .map(|(p, _)| p.clone())
        .collect()
}

/// A case with the values of [`ERASED`]: names, a note, an attachment.
fn case_to_erase(s: &mut CaseStore) -> Uuid {
    let c = s.create_case("uasc", "Agadez").unwrap();
    s.save_form(
        c,
        "registration_bia",
        None,
        values(json!({"given_names": "Qzainabmarker", "family_name": "Fxfamilymarker"})),
    )
    .unwrap();
    s.add_note(c, values(json!({"subject": "visit", "text": "NOTE-MARKER-UNIQUE-7731 seen at the station"}))).unwrap();
    s.add_attachment(c, "photo-marker-name.txt", "text/plain", b"ATTACHMENT-MARKER-BYTES-5521").unwrap();
    c
}

struct World {
    _t: tempfile::TempDir,
    office: CaseStore,
    office_dir: std::path::PathBuf,
    sup: CaseStore,
    sup_dir: std::path::PathBuf,
}

/// An office (data manager) and an enrolled supervisor device holding two
/// cases, both known to the office.
fn world() -> (World, Uuid, Uuid) {
    let t = tempfile::tempdir().unwrap();
    let (office_dir, sup_dir) = (t.path().join("office"), t.path().join("sup"));
    let mut office = office(&office_dir);
    let mut sup = device(&sup_dir, "sam", "supervisor");
    enroll(&mut office, &mut sup);
    let x = case_to_erase(&mut sup);
    let y = new_case(&mut sup, "Ykeepmarker");
    up(&mut sup, &mut office);
    (World { _t: t, office, office_dir, sup, sup_dir }, x, y)
}

#[test]
fn an_approved_erasure_leaves_none_of_the_case_in_any_file_of_either_vault() {
    let (mut w, x, y) = world();
    w.office.checkpoint().unwrap();
    let before = plaintexts(&w.office_dir, &pass());
    for v in ERASED {
        assert!(!holds(&before, v).is_empty(), "the scan must find {v} before the erasure");
    }

    // The supervisor requests on their device; the data manager approves
    // at the office.
    w.sup.request_erasure(x, "opened_in_error").unwrap();
    up(&mut w.sup, &mut w.office);
    let t = w.office.approve_erasure(x).unwrap();
    assert_eq!((t.requested_by.as_str(), t.requested_role.as_str()), ("sam", "supervisor"));
    assert_eq!((t.approved_by.as_str(), t.approved_role.as_str()), ("Office", "data_manager"));
    assert_eq!(t.reason, "opened_in_error");
    assert!(t.event_count >= 4, "registration, form, note, attachment: {t:?}");

    // The approval checkpointed already: the files as they are now.
    let after = plaintexts(&w.office_dir, &pass());
    for v in ERASED {
        assert_eq!(holds(&after, v), Vec::<String>::new(), "{v} is still in the office vault");
    }
    assert!(!holds(&after, KEPT).is_empty(), "the other case is still there");
    assert!(fs::read_dir(w.office_dir.join("blobs")).map_or(0, |d| d.count()) == 0, "the attachment's blob is deleted");

    // The views: gone from the list, a tombstone in its place.
    let list = w.office.list_cases().unwrap();
    assert!(list.cases.iter().all(|c| c.id != x) && list.cases.iter().any(|c| c.id == y));
    assert!(matches!(w.office.case_detail(x), Err(StoreError::Erased { .. })));
    assert!(matches!(w.office.find_case(&x.to_string()), Err(StoreError::Erased { .. })));
    assert_eq!(w.office.tombstones().unwrap().len(), 1);

    // Reopened, still erased (nothing comes back from a journal).
    drop(w.office);
    let office = reopen(&w.office_dir);
    assert!(office.tombstone(x).unwrap().is_some());
    assert!(office.case_detail(y).is_ok());
    let mut office = office;

    // The supervisor's device erases on import, files included.
    down(&mut office, &mut w.sup);
    assert!(w.sup.tombstone(x).unwrap().is_some());
    let dev = plaintexts(&w.sup_dir, &pass());
    for v in ERASED {
        assert_eq!(holds(&dev, v), Vec::<String>::new(), "{v} is still in the supervisor's vault");
    }
    assert!(!holds(&dev, KEPT).is_empty());
}

fn rules(e: StoreError) -> Vec<String> {
    match e {
        StoreError::RuleViolated { violations } => violations.into_iter().map(|v| v.rule).collect(),
        other => panic!("expected a rule violation, got {other}"),
    }
}

#[test]
fn one_person_alone_cannot_erase_and_a_caseworker_cannot_request() {
    let t = tempfile::tempdir().unwrap();
    let mut s = device(&t.path().join("v"), "sam", "supervisor");
    let x = new_case(&mut s, "Qzainabmarker");

    // A caseworker may not request.
    s.set_actor("amina", Role::Caseworker).expect("set_actor");
    let own = new_case(&mut s, "Amina's own case");
    assert!(rules(s.request_erasure(own, "opened_in_error").unwrap_err()).contains(&"role".to_string()));
    // Nor a viewer, nor with an unknown reason.
    s.set_actor("sam", Role::Supervisor).expect("set_actor");
    assert!(rules(s.request_erasure(x, "because").unwrap_err()).contains(&"erasure".to_string()));
    // Nothing to approve yet.
    s.set_actor("dora", Role::DataManager).expect("set_actor");
    assert!(rules(s.approve_erasure(x).unwrap_err()).contains(&"erasure".to_string()));

    s.set_actor("sam", Role::Supervisor).expect("set_actor");
    s.request_erasure(x, "legal_order").unwrap();
    // The requester approving (same person, same role, same key).
    let e = rules(s.approve_erasure(x).unwrap_err());
    assert!(e.contains(&"erasure".to_string()), "{e:?}");
    // The same person switching role on the same device.
    s.set_actor("sam", Role::DataManager).expect("set_actor");
    assert!(rules(s.approve_erasure(x).unwrap_err()).contains(&"erasure".to_string()));
    // Another name in the other role, but the same signing key: still one
    // key, so still refused until people sign with keys of their own.
    s.set_actor("dora", Role::DataManager).expect("set_actor");
    assert!(rules(s.approve_erasure(x).unwrap_err()).contains(&"erasure".to_string()));
    // Nothing was erased by any of it.
    assert!(s.tombstone(x).unwrap().is_none());
    s.set_actor("sam", Role::Supervisor).expect("set_actor");
    assert!(s.case_detail(x).is_ok());
}

#[test]
fn an_approval_signed_with_the_requesters_key_is_refused_on_import() {
    // The requesting device signs an approval under another name and role
    // (what a device without the library's check could send): the office
    // refuses it, and the case stays.
    let (mut w, x, _) = world();
    let request = w.sup.request_erasure(x, "opened_in_error").unwrap();
    let req = w.sup.case_events(x).unwrap().into_iter().find(|e| e.id == request).unwrap();
    let mut forged = Event {
        id: Uuid::now_v7(),
        device_seq: req.device_seq + 1,
        hlc: Hlc { millis: req.hlc.millis, counter: req.hlc.counter + 1 },
        author: "dora".into(),
        role: Role::DataManager,
        kind: EventKind::CaseErasureApproved,
        payload: json!({"request": request, "reason": "opened_in_error"}),
        base: Vec::new(),
        sig: String::new(),
        ..req.clone()
    };
    forged.sign(w.sup.signer_key());
    let e = w.office.import_events(vec![req, forged]).unwrap_err();
    assert!(rules(e).contains(&"erasure".to_string()));
    assert!(w.office.tombstone(x).unwrap().is_none());
    assert!(w.office.case_detail(x).is_ok());
}

#[test]
fn the_erasure_travels_to_every_device_and_late_events_are_acknowledged_not_kept() {
    let t = tempfile::tempdir().unwrap();
    let mut office = office(&t.path().join("office"));
    let mut amina = device(&t.path().join("amina"), "amina", "caseworker");
    let mut sam = device(&t.path().join("sam"), "sam", "supervisor");
    let mut tom = device(&t.path().join("tom"), "tom", "supervisor");
    for d in [&mut amina, &mut sam, &mut tom] {
        enroll(&mut office, d);
    }
    // Amina registers the child; everyone syncs.
    let x = case_to_erase(&mut amina);
    up(&mut amina, &mut office);
    down(&mut office, &mut sam);
    down(&mut office, &mut tom);
    assert!(tom.case_detail(x).is_ok());

    // Tom, offline, adds a note to the case.
    let item = tom.add_note(x, values(json!({"subject": "late", "text": "LATE-NOTE-MARKER"}))).unwrap();
    let late = tom.case_events(x).unwrap().into_iter().find(|e| e.item() == Some(item)).unwrap().id;
    tom.add_attachment(x, "late.txt", "text/plain", b"LATE-ATTACHMENT-MARKER").unwrap();

    // Sam requests, the office approves.
    sam.request_erasure(x, "data_subject_request").unwrap();
    up(&mut sam, &mut office);
    office.approve_erasure(x).unwrap();

    // Amina's device erases on import (she made the case).
    down(&mut office, &mut amina);
    assert!(matches!(amina.case_detail(x), Err(StoreError::Erased { .. })));
    assert!(amina.all_events().unwrap().iter().all(|e| erasure::is_erasure_kind(e.kind)));

    // Tom's late note reaches the office: acknowledged, not stored.
    let blobs = |dir: &str| fs::read_dir(t.path().join(dir).join("blobs")).map_or(0, |d| d.count());
    assert_eq!(blobs("office"), 0);
    let r = up(&mut tom, &mut office);
    assert_eq!(r.summary.erased, 2, "{:?}", r.summary);
    assert_eq!(blobs("office"), 0, "the late attachment's blob is not kept");
    assert!(office.all_events().unwrap().iter().all(|e| e.id != late));
    assert!(erasure::is_erased_event(office.vault().conn(), late).unwrap());
    // Not relayed: Sam gets the erasure, not the note.
    down(&mut office, &mut sam);
    assert!(sam.tombstone(x).unwrap().is_some());
    assert!(sam.all_events().unwrap().iter().all(|e| e.id != late));
    // Tom erases too, his own note included, and sync goes on: his next
    // bundle holds only his new work, which the office takes.
    assert!(blobs("tom") > 0);
    down(&mut office, &mut tom);
    assert!(tom.tombstone(x).unwrap().is_some());
    assert_eq!(blobs("tom"), 0, "Tom's own attachment of the case is deleted");
    assert!(tom.all_events().unwrap().iter().all(|e| e.id != late));
    let y = new_case(&mut tom, "Ykeepmarker");
    let r = up(&mut tom, &mut office);
    assert_eq!(r.summary.duplicates + r.summary.erased, 0, "the late note is not sent again: {:?}", r.summary);
    assert!(office.case_detail(y).is_ok());
    // Resending the late note (an old bundle's events) changes nothing.
    down(&mut office, &mut tom);
    let r = up(&mut tom, &mut office);
    assert_eq!(r.summary.new, 0);
}

#[test]
fn a_device_that_erased_its_own_unsent_events_sends_stand_ins_and_its_sync_goes_on() {
    let t = tempfile::tempdir().unwrap();
    let mut office = office(&t.path().join("office"));
    let mut sam = device(&t.path().join("sam"), "sam", "supervisor");
    let mut tom = device(&t.path().join("tom"), "tom", "supervisor");
    enroll(&mut office, &mut sam);
    enroll(&mut office, &mut tom);
    let x = case_to_erase(&mut sam);
    up(&mut sam, &mut office);
    down(&mut office, &mut tom);
    // Tom writes a note and does not send it; the case is erased meanwhile
    // and Tom hears of it first: his note goes with the case.
    tom.add_note(x, values(json!({"subject": "late", "text": "UNSENT-NOTE-MARKER"}))).unwrap();
    sam.request_erasure(x, "opened_in_error").unwrap();
    up(&mut sam, &mut office);
    office.approve_erasure(x).unwrap();
    down(&mut office, &mut tom);
    assert!(tom.tombstone(x).unwrap().is_some());
    assert!(tom.all_events().unwrap().iter().all(|e| erasure::is_erasure_kind(e.kind)));

    // His next bundle carries a stand-in for the note (no content) and his
    // new work; the office keeps the stand-in's bookkeeping only.
    let y = new_case(&mut tom, "Ykeepmarker");
    let r = up(&mut tom, &mut office);
    assert_eq!(r.summary.erased, 1, "{:?}", r.summary);
    assert!(office.case_detail(y).is_ok());
    assert!(office.all_events().unwrap().iter().all(|e| e.kind != EventKind::CaseEventErased));
    // Acknowledged without a gap: once Tom has the office's acks, he has
    // nothing left to send.
    down(&mut office, &mut tom);
    let r = up(&mut tom, &mut office);
    assert_eq!((r.summary.received, r.summary.new, r.summary.erased), (0, 0, 0), "{:?}", r.summary);
}

#[test]
fn a_stand_in_carries_nothing_and_is_refused_for_a_case_that_is_not_erased() {
    let (mut w, x, _) = world();
    let registration = w.sup.case_events(x).unwrap().remove(0);
    let mut stand_in = Event {
        id: Uuid::now_v7(),
        device_seq: 99,
        kind: EventKind::CaseEventErased,
        form: None,
        payload: json!({"text": "smuggled"}),
        base: Vec::new(),
        sig: String::new(),
        ..registration
    };
    assert!(stand_in.check_shape().is_err(), "a stand-in with a payload is malformed");
    stand_in.payload = json!({});
    stand_in.sign(w.sup.signer_key());
    let e = w.office.import_events(vec![stand_in]).unwrap_err();
    assert!(rules(e).contains(&"erasure".to_string()));
}
