//! Attachments in sync bundles (docs/bundle-format.md §3.1): a photo added
//! on a device reaches the office with the same bytes, office bundles carry
//! only the attachments of cases the device may see, a transfer carries the
//! case's attachments, re-imports are no-ops, and every hostile attachment
//! member is refused with the vault (events, sync state and blob files)
//! unchanged.
#[path = "sync_common.rs"]
mod common;
#[path = "common/people.rs"]
mod people;
#[path = "common/raw_tar.rs"]
mod raw_tar;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use common::*;
use ed25519_dalek::Signer as _;
use fieldcase::model::event::{Event, EventKind};
use fieldcase::model::store::CaseStore;
use fieldcase::sync::format::{self, MANIFEST_DOMAIN};
use fieldcase::sync::transfer::{self, Decision};
use fieldcase::sync::{self, ImportError};
use fieldcase::vault::{FaultStorage, InitOptions, VaultOptions, BLOB_DIR};
use raw_tar::{raw, tar_of, Raw};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Some bytes that look like nothing else in the test (a fake JPEG).
fn photo(seed: u8, len: usize) -> Vec<u8> {
    let mut v = vec![0xff, 0xd8, 0xff, 0xe0];
    v.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    v
}

/// Add an attachment to `case` as the app does: blob first, then the event.
fn attach(s: &mut CaseStore, case: Uuid, bytes: &[u8], extra: Value) -> String {
    if s.facts(case).expect("facts").value("registration_bia", "consent").is_none() {
        photo_consent(s, case);
    }
    let blob = s.put_blob(bytes).expect("put blob");
    let mut payload = json!({"item": Uuid::now_v7(), "blob": blob, "name": "photo.jpg", "mime": "image/jpeg"});
    if let (Some(p), Some(x)) = (payload.as_object_mut(), extra.as_object()) {
        p.extend(x.clone());
    }
    s.record(case, EventKind::AttachmentAdded, Some("attachment"), payload, Vec::new()).expect("attachment event");
    blob
}

/// The blob files of a vault, with their sizes: part of "unchanged".
fn blob_files(dir: &Path) -> Vec<(String, u64)> {
    let Ok(rd) = std::fs::read_dir(dir.join(BLOB_DIR)) else { return Vec::new() };
    // Every file: blobs and their tag files (a stray tag would show too).
    let mut v: Vec<(String, u64)> = rd
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), e.metadata().unwrap().len())
        })
        .collect();
    v.sort();
    v
}

struct World {
    t: tempfile::TempDir,
    o: CaseStore,
    a: CaseStore,
    case: Uuid,
}

impl World {
    fn dir(&self, name: &str) -> PathBuf {
        self.t.path().join(name)
    }
}

/// An office and an enrolled caseworker device with one case, synced.
/// The child's consent with the scope a photo needs (R4, DOMAIN §4.6).
fn photo_consent(s: &mut CaseStore, case: Uuid) {
    s.save_form(
        case,
        "registration_bia",
        None,
        values(json!({"legitimate_basis": "consent",
            "consent": {"by": "Fatima", "method": "signature", "date": "2026-01-10"},
            "consent_scopes": ["case_management", "photo_use", "cross_border_transfer"]})),
    )
    .expect("consent scopes");
}

fn world() -> World {
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("o"));
    let mut a = device(&t.path().join("a"), "amina", "caseworker");
    enroll(&mut o, &mut a);
    let case = new_case(&mut a, "Fatima");
    photo_consent(&mut a, case);
    up(&mut a, &mut o);
    World { t, o, a, case }
}

#[test]
fn a_photo_added_on_a_device_reaches_the_office_with_the_same_bytes() {
    let mut w = world();
    let bytes = photo(1, 300_000);
    let blob = attach(&mut w.a, w.case, &bytes, json!({}));
    let b = sync::export_for_office(&mut w.a, &mut |_| {}).unwrap();

    // The dry run reports the attachment and stores nothing.
    let before = blob_files(&w.dir("o"));
    let preview = sync::verify_bundle(&mut w.o, &b, &mut |_| {}).unwrap();
    assert_eq!((preview.attachments.received, preview.attachments.new), (1, 1));
    assert_eq!(preview.attachments.new_bytes, bytes.len() as u64);
    assert_eq!(blob_files(&w.dir("o")), before, "a dry run stores no blob");
    assert!(w.o.get_blob(&blob).is_err());

    let report = sync::import_bundle(&mut w.o, &b, false, &mut |_| {}).unwrap();
    assert_eq!((report.attachments.received, report.attachments.new, report.attachments.missing), (1, 1, 0));
    assert_eq!(&w.o.get_blob(&blob).unwrap()[..], &bytes[..]);
    // Encrypted at rest: the blob file does not contain the plaintext.
    let file = std::fs::read(w.dir("o").join(BLOB_DIR).join(format!("{blob}.age"))).unwrap();
    assert!(file.starts_with(b"age-encryption.org/v1\n"));
    assert!(!file.windows(64).any(|win| win == &bytes[1000..1064]));
    // The case projection on the office names the blob.
    let json = serde_json::to_string(&w.o.case_events(w.case).unwrap()).unwrap();
    assert!(json.contains(&blob));

    // Re-importing the same bundle is a replay: nothing changes.
    let before = (full_dump(&w.o), blob_files(&w.dir("o")));
    let again = sync::import_bundle(&mut w.o, &b, false, &mut |_| {}).unwrap();
    assert!(again.replay);
    assert_eq!((full_dump(&w.o), blob_files(&w.dir("o"))), before);
}

#[test]
fn a_blob_already_held_is_a_noop_and_an_acknowledged_one_is_not_sent_again() {
    let mut w = world();
    let bytes = photo(2, 5_000);
    let blob = attach(&mut w.a, w.case, &bytes, json!({}));
    // Two exports without an office bundle in between carry the same event
    // and blob (nothing acknowledged yet).
    let b1 = sync::export_for_office(&mut w.a, &mut |_| {}).unwrap();
    let b2 = sync::export_for_office(&mut w.a, &mut |_| {}).unwrap();
    sync::import_bundle(&mut w.o, &b1, false, &mut |_| {}).unwrap();
    let files = blob_files(&w.dir("o"));
    let r2 = sync::import_bundle(&mut w.o, &b2, false, &mut |_| {}).unwrap();
    assert!(!r2.replay);
    assert_eq!((r2.attachments.received, r2.attachments.new, r2.attachments.already_held), (1, 0, 1));
    assert_eq!(blob_files(&w.dir("o")), files, "the held blob is not rewritten");
    assert_eq!(&w.o.get_blob(&blob).unwrap()[..], &bytes[..]);
    // Once the office acknowledged the event, the blob does not travel again.
    down(&mut w.o, &mut w.a);
    let r3 = up(&mut w.a, &mut w.o);
    assert_eq!(r3.attachments.received, 0);
}

#[test]
fn office_bundles_carry_the_attachments_of_visible_cases_only() {
    let mut w = world();
    let mut b = device(&w.dir("b"), "bakary", "caseworker");
    let mut s = device(&w.dir("s"), "sara", "supervisor");
    enroll(&mut w.o, &mut b);
    enroll(&mut w.o, &mut s);
    let bytes = photo(3, 40_000);
    let blob = attach(&mut w.a, w.case, &bytes, json!({}));
    // Bakary's own case, with its own attachment.
    let theirs = new_case(&mut b, "Moussa");
    let b_bytes = photo(4, 1_000);
    let b_blob = attach(&mut b, theirs, &b_bytes, json!({}));
    up(&mut w.a, &mut w.o);
    up(&mut b, &mut w.o);

    // Bakary may not see Amina's case: neither its events nor its photo.
    let rb = down(&mut w.o, &mut b);
    assert_eq!(rb.attachments.received, 0);
    assert!(b.get_blob(&blob).is_err());
    assert!(b.case_events(w.case).unwrap().is_empty());
    // Amina does not get Bakary's photo either, nor her own back.
    let ra = down(&mut w.o, &mut w.a);
    assert_eq!(ra.attachments.received, 0);
    assert!(w.a.get_blob(&b_blob).is_err());
    // The supervisor sees every case and gets both photos.
    let rs = down(&mut w.o, &mut s);
    assert_eq!((rs.attachments.received, rs.attachments.new), (2, 2));
    assert_eq!(&s.get_blob(&blob).unwrap()[..], &bytes[..]);
    assert_eq!(&s.get_blob(&b_blob).unwrap()[..], &b_bytes[..]);
}

#[test]
fn an_event_without_its_blob_travels_and_is_reported_missing() {
    let mut w = world();
    // An event naming a blob the device does not hold (lost, or from an
    // older version): the event travels, the preview counts it as missing.
    let ghost = Uuid::new_v4().to_string();
    let payload = json!({"item": Uuid::now_v7(), "blob": ghost, "name": "x.pdf", "mime": "application/pdf"});
    w.a.record(w.case, EventKind::AttachmentAdded, Some("attachment"), payload, Vec::new()).unwrap();
    let r = up(&mut w.a, &mut w.o);
    assert_eq!((r.attachments.received, r.attachments.missing), (0, 1));
    assert_eq!(r.summary.new, 1);
}

/// Two offices, a device enrolled with the first; the device's case gets
/// `bytes` attached and transfer consent, reaches office `a`, and `a`
/// transfers it to office `b`. Returns (dir, b, blob id, transfer bundle).
fn transfer_world(bytes: &[u8]) -> (tempfile::TempDir, CaseStore, String, Vec<u8>) {
    let t = tempfile::tempdir().unwrap();
    let mut a = office(&t.path().join("a"));
    let b = office(&t.path().join("b"));
    let mut d = device(&t.path().join("d"), "amina", "caseworker");
    enroll(&mut a, &mut d);
    let case = new_case(&mut d, "Fatima");
    let blob = attach(&mut d, case, bytes, json!({}));
    d.save_form(
        case,
        "closure_transfer",
        None,
        values(json!({"transfer_consent": {"by": "Fatima", "method": "signature", "date": "2026-01-10"}})),
    )
    .unwrap();
    up(&mut d, &mut a);
    let to = sync::recipient(&b);
    let key = hex::encode(b.vault().device_verifying_key().as_bytes());
    let bundle = transfer::transfer_case(&mut a, case, &to, &key, &mut |_| {}).unwrap();
    (t, b, blob, bundle)
}

#[test]
fn a_transfer_carries_the_cases_attachments() {
    let bytes = photo(5, 10_000);
    let (t, mut b, blob, bundle) = transfer_world(&bytes);
    let preview = sync::import_bundle(&mut b, &bundle, true, &mut |_| {}).unwrap();
    assert_eq!((preview.attachments.received, preview.attachments.new), (1, 1));
    assert!(b.get_blob(&blob).is_err(), "a preview stores nothing");
    // Accepting stores the case's photo, and only it.
    let files = blob_files(&t.path().join("b"));
    let (report, _) = transfer::answer_transfer(&mut b, &bundle, Decision::Accept, &mut |_| {}).unwrap();
    assert_eq!(report.attachments.new, 1);
    assert_eq!(&b.get_blob(&blob).unwrap()[..], &bytes[..]);
    assert_eq!(blob_files(&t.path().join("b")).len(), files.len() + 2, "the blob and its tag file");
}

#[test]
fn a_rejected_transfer_keeps_no_attachment() {
    let (t, mut b, blob, bundle) = transfer_world(&photo(6, 2_000));
    transfer::answer_transfer(&mut b, &bundle, Decision::Reject("not ours".into()), &mut |_| {}).unwrap();
    assert!(b.get_blob(&blob).is_err());
    assert!(blob_files(&t.path().join("b")).is_empty());
}

// ---- hostile bundles, built by hand and signed with the device's own key
// (so only the attachment rule under test can refuse them).

fn jsonl(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        out.extend(serde_json::to_vec(e).unwrap());
        out.push(b'\n');
    }
    out
}

fn entry(path: &str, bytes: &[u8]) -> Value {
    json!({"path": path, "sha256": hex::encode(Sha256::digest(bytes)), "size": bytes.len()})
}

/// Sender sequence of the hand-built bundles: growing, so a second one
/// imported into the same office is not refused as going backwards.
static SEQ: AtomicU64 = AtomicU64::new(100);

/// A device bundle from `w.a` with `events.jsonl` = the device's events,
/// the manifest listing `listed` (plus events.jsonl) and the archive holding
/// `members` (plus manifest, signature and events.jsonl).
fn hostile(w: &World, listed: Vec<Value>, members: Vec<Raw>) -> Vec<u8> {
    let events = jsonl(&w.a.all_events().unwrap());
    let mut all_listed = vec![entry("events.jsonl", &events)];
    all_listed.extend(listed);
    let m = serde_json::to_vec(&json!({
        "format": "fieldcase-bundle", "version": [1, 0], "bundle_id": Uuid::now_v7(), "kind": "device_to_office",
        "sender": {"device_id": w.a.vault().device().device_id, "name": "x", "signing_key": "00", "recipient": "age1x"},
        "recipients": [], "office_id": w.o.vault().device().device_id,
        "created_hlc": {"millis": 0, "counter": 0}, "sender_seq": SEQ.fetch_add(1, Ordering::Relaxed),
        "prev_bundle_sha256": null,
        "members": all_listed,
    }))
    .unwrap();
    let mut signed = MANIFEST_DOMAIN.to_vec();
    signed.extend_from_slice(&m);
    let sig = base64::engine::general_purpose::STANDARD.encode(w.a.vault().device_key().sign(&signed).to_bytes());
    let mut all = vec![raw("manifest.json", m), raw("manifest.sig", sig.into_bytes()), raw("events.jsonl", events)];
    all.extend(members);
    let to: age::x25519::Recipient = sync::recipient(&w.o).parse().unwrap();
    let enc = age::Encryptor::with_recipients(std::iter::once(&to as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut wr = enc.wrap_output(&mut out).unwrap();
    wr.write_all(&tar_of(&all)).unwrap();
    wr.finish().unwrap();
    out
}

/// The import must fail and leave events, sync state and blob files as
/// they were.
fn refused(w: &mut World, bytes: &[u8]) -> ImportError {
    let before = (full_dump(&w.o), blob_files(&w.dir("o")));
    let e = sync::import_bundle(&mut w.o, bytes, false, &mut |_| {}).expect_err("hostile bundle accepted");
    assert_eq!((full_dump(&w.o), blob_files(&w.dir("o"))), before, "vault changed by a refused bundle ({e})");
    e
}

#[test]
fn hand_built_bundle_with_an_attachment_is_accepted() {
    // The control for the hostile cases below: the same construction,
    // unaltered, imports.
    let mut w = world();
    let bytes = photo(7, 3_000);
    let blob = attach(&mut w.a, w.case, &bytes, json!({}));
    let path = format!("attachments/{blob}");
    let b = hostile(&w, vec![entry(&path, &bytes)], vec![raw(&path, bytes.clone())]);
    let r = sync::import_bundle(&mut w.o, &b, false, &mut |_| {}).unwrap();
    assert_eq!(r.attachments.new, 1);
    assert_eq!(&w.o.get_blob(&blob).unwrap()[..], &bytes[..]);
}

#[test]
fn attachment_hash_mismatch_is_refused() {
    let mut w = world();
    let bytes = photo(8, 3_000);
    let blob = attach(&mut w.a, w.case, &bytes, json!({}));
    let path = format!("attachments/{blob}");
    let mut altered = bytes.clone();
    altered[100] ^= 1;
    let b = hostile(&w, vec![entry(&path, &bytes)], vec![raw(&path, altered)]);
    assert!(matches!(refused(&mut w, &b), ImportError::MemberMismatch { path: p, .. } if p == path));
}

#[test]
fn attachment_listed_but_absent_is_refused() {
    let mut w = world();
    let bytes = photo(9, 3_000);
    let blob = attach(&mut w.a, w.case, &bytes, json!({}));
    let path = format!("attachments/{blob}");
    let b = hostile(&w, vec![entry(&path, &bytes)], Vec::new());
    assert!(matches!(refused(&mut w, &b), ImportError::MissingMember(p) if p == path));
}

#[test]
fn attachment_present_but_unlisted_is_refused() {
    let mut w = world();
    let bytes = photo(10, 3_000);
    let blob = attach(&mut w.a, w.case, &bytes, json!({}));
    let path = format!("attachments/{blob}");
    let b = hostile(&w, Vec::new(), vec![raw(&path, bytes)]);
    assert!(matches!(refused(&mut w, &b), ImportError::MemberMismatch { reason, .. } if reason.contains("not listed")));
}

#[test]
fn attachment_no_event_refers_to_is_refused() {
    let mut w = world();
    let stray = Uuid::new_v4().to_string();
    let path = format!("attachments/{stray}");
    let bytes = photo(11, 500);
    let b = hostile(&w, vec![entry(&path, &bytes)], vec![raw(&path, bytes)]);
    assert!(matches!(refused(&mut w, &b), ImportError::MemberMismatch { reason, .. } if reason.contains("no event")));
}

#[test]
fn oversized_attachment_is_refused_before_reading() {
    let mut w = world();
    let blob = attach(&mut w.a, w.case, &photo(12, 100), json!({}));
    let path = format!("attachments/{blob}");
    let big = vec![7u8; format::MAX_ATTACHMENT_BYTES as usize + 1];
    let b = hostile(&w, vec![entry(&path, &big)], vec![raw(&path, big)]);
    assert!(matches!(
        refused(&mut w, &b),
        ImportError::TooLarge { limit, .. } if limit == format::MAX_ATTACHMENT_BYTES
    ));
    // A huge declared size with no data behind it costs nothing.
    let b = hostile(&w, Vec::new(), vec![Raw { size: Some(1 << 40), ..raw(&path, Vec::new()) }]);
    assert!(matches!(refused(&mut w, &b), ImportError::TooLarge { .. }));
}

#[test]
fn attachment_names_must_be_blob_ids() {
    let mut w = world();
    let blob = attach(&mut w.a, w.case, &photo(13, 100), json!({}));
    for name in
        ["attachments/photo.jpg".to_string(), format!("attachments/{}", blob.to_uppercase()), "attachments/".into()]
    {
        let b = hostile(&w, Vec::new(), vec![raw(&name, b"x".to_vec())]);
        assert!(
            matches!(refused(&mut w, &b), ImportError::ForbiddenMember { .. }),
            "{name} should be a forbidden member"
        );
    }
}

#[test]
fn attachment_contradicting_the_hash_its_event_records_is_refused() {
    let mut w = world();
    // The event records a hash and size; the member matches the manifest
    // (the sender signed it) but not the event (the origin device signed it).
    let bytes = photo(14, 2_000);
    let other = photo(15, 2_000);
    let recorded = json!({"sha256": hex::encode(Sha256::digest(&bytes)), "size": bytes.len()});
    let blob = attach(&mut w.a, w.case, &bytes, recorded);
    let path = format!("attachments/{blob}");
    let b = hostile(&w, vec![entry(&path, &other)], vec![raw(&path, other)]);
    assert!(matches!(refused(&mut w, &b), ImportError::MemberMismatch { reason, .. } if reason.contains("event")));
    // The same with the right bytes imports.
    let b = hostile(&w, vec![entry(&path, &bytes)], vec![raw(&path, bytes.clone())]);
    sync::import_bundle(&mut w.o, &b, false, &mut |_| {}).unwrap();
    assert_eq!(&w.o.get_blob(&blob).unwrap()[..], &bytes[..]);
}

#[test]
fn attachment_contradicting_a_blob_already_held_is_refused() {
    let mut w = world();
    let bytes = photo(16, 2_000);
    let blob = attach(&mut w.a, w.case, &bytes, json!({}));
    let path = format!("attachments/{blob}");
    let good = hostile(&w, vec![entry(&path, &bytes)], vec![raw(&path, bytes.clone())]);
    sync::import_bundle(&mut w.o, &good, false, &mut |_| {}).unwrap();
    // Blob ids are random: other content under a held id is an altered bundle.
    let other = photo(17, 2_000);
    let b = hostile(&w, vec![entry(&path, &other)], vec![raw(&path, other)]);
    assert!(
        matches!(refused(&mut w, &b), ImportError::MemberMismatch { reason, .. } if reason.contains("already holds"))
    );
    assert_eq!(&w.o.get_blob(&blob).unwrap()[..], &bytes[..]);
}

/// An office vault on a [`FaultStorage`], to make the disk fill up midway.
fn faulty_office(dir: &Path) -> (CaseStore, FaultStorage) {
    let fs = FaultStorage::new();
    let opts = VaultOptions { storage: Arc::new(fs.clone()), ..options() };
    let init = InitOptions { name: "Office".into(), role: "data_manager".into(), escrow: None };
    let mut s = CaseStore::init_with(dir, &pass(), init, &opts).expect("init office");
    sync::make_office(&mut s, "Agadez").expect("make office");
    (s, fs)
}

#[test]
fn a_disk_that_fills_up_midway_leaves_no_blob_behind() {
    let t = tempfile::tempdir().unwrap();
    let (mut o, fs) = faulty_office(&t.path().join("o"));
    let mut a = device(&t.path().join("a"), "amina", "caseworker");
    enroll(&mut o, &mut a);
    let case = new_case(&mut a, "Fatima");
    let (p1, p2) = (photo(20, 200_000), photo(21, 200_000));
    let b1 = attach(&mut a, case, &p1, json!({}));
    let b2 = attach(&mut a, case, &p2, json!({}));
    // Enough events that their journal frame is far larger than the slack
    // left below for the blobs.
    for i in 0..20 {
        new_case(&mut a, &format!("Child {i}"));
    }
    let bundle = sync::export_for_office(&mut a, &mut |_| {}).unwrap();
    // The blobs' encrypted size: the plaintext plus age's header and tags
    // (the header may carry a random "grease" stanza, hence the slack below).
    let ct = blob_files(&t.path().join("a")).iter().map(|(_, n)| *n).max().unwrap();

    let before = (full_dump(&o), blob_files(&t.path().join("o")));
    // Room for the first blob only: storing the second fails.
    fs.fail_writes_after(ct + 1024);
    let e = sync::import_bundle(&mut o, &bundle, false, &mut |_| {}).expect_err("disk full");
    assert!(matches!(e, ImportError::Attachment { .. }), "{e}");
    assert_eq!((full_dump(&o), blob_files(&t.path().join("o"))), before, "first blob left behind");
    // Room for both blobs but not for the events' commit.
    fs.heal();
    fs.fail_writes_after(2 * ct + 4096);
    let e = sync::import_bundle(&mut o, &bundle, false, &mut |_| {}).expect_err("disk full at commit");
    assert!(!matches!(e, ImportError::Attachment { .. }), "the blobs should fit, the commit not: {e}");
    assert_eq!(blob_files(&t.path().join("o")), before.1, "blobs left behind by a failed commit ({e})");
    drop(o);
    // The disk has room again: the same bundle imports completely.
    fs.heal();
    let mut o = CaseStore::open_with(
        &t.path().join("o"),
        &pass(),
        &VaultOptions { storage: Arc::new(fs.clone()), ..options() },
    )
    .expect("reopen");
    assert_eq!(full_dump(&o), before.0, "the failed commit changed the vault");
    let r = sync::import_bundle(&mut o, &bundle, false, &mut |_| {}).unwrap();
    assert_eq!(r.attachments.new, 2);
    assert_eq!(&o.get_blob(&b1).unwrap()[..], &p1[..]);
    assert_eq!(&o.get_blob(&b2).unwrap()[..], &p2[..]);
}

#[test]
fn the_library_records_the_hash_and_size_and_leaves_no_blob_when_refused() {
    let mut w = world();
    let bytes = photo(9, 2048);
    let item = w.a.add_attachment(w.case, "id-card.jpg", "image/jpeg", &bytes).expect("attach");
    let event = w.a.case_events(w.case).unwrap().into_iter().find(|e| e.kind == EventKind::AttachmentAdded).unwrap();
    assert_eq!(event.payload["item"], json!(item));
    assert_eq!(event.payload["size"], json!(bytes.len()));
    assert_eq!(event.payload["sha256"], json!(hex::encode(Sha256::digest(&bytes))));
    // The signed hash is checked at the office and the bytes arrive intact.
    up(&mut w.a, &mut w.o);
    let blob = event.payload["blob"].as_str().unwrap();
    assert_eq!(&w.o.get_blob(blob).unwrap()[..], &bytes[..]);

    // A role that may not record case data: the event is refused and the
    // blob stored for it is removed again.
    let before = blob_files(&w.dir("a"));
    people::enroll_person(&mut w.o, &mut w.a, "visitor", fieldcase::model::event::Role::Viewer);
    assert!(w.a.add_attachment(w.case, "x.jpg", "image/jpeg", &photo(3, 100)).is_err());
    assert_eq!(blob_files(&w.dir("a")), before, "no orphan blob after a refusal");
}
