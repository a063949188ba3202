//! Tamper evidence (docs/vault-format.md §9): someone with write access to
//! the vault folder but without the passphrase appends, modifies, reorders,
//! swaps in or deletes journal frames, snapshot files, segments and blobs.
//! Each attempt is refused or set aside with the file named, the vault's
//! acknowledged data stays intact, and nothing forged is displayed.
//!
//! The attacker here knows the device's public recipient (it is in the
//! enrollment request and the roster). In a vault made by this version
//! the vault files are encrypted to another, unpublished identity, so the
//! strongest attacker is the one against a vault upgraded from format 2,
//! where the files' recipient *is* the public one: the forged frames and
//! manifests then decrypt, and only the tags stop them.
#[path = "common/vault.rs"]
mod cv;

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use cv::*;
use fieldcase::vault::{kv_put, InitOptions, KvApplier, SecretString, Vault, VaultError, VaultOptions};
use sha2::{Digest, Sha256};

const HEADER: usize = 16;
const TAG: usize = 32;

/// Frames of a format-3 journal: (offset, ciphertext range, end).
fn frames(journal: &[u8]) -> Vec<(usize, std::ops::Range<usize>, usize)> {
    let mut out = Vec::new();
    let mut at = HEADER;
    while at + 4 <= journal.len() {
        let len = u32::from_be_bytes(journal[at..at + 4].try_into().unwrap()) as usize;
        let end = at + 4 + len + TAG;
        assert!(end <= journal.len(), "whole frames only");
        out.push((at, at + 4..at + 4 + len, end));
        at = end;
    }
    out
}

fn age_encrypt(recipient: &str, plain: &[u8]) -> Vec<u8> {
    let r = age::x25519::Recipient::from_str(recipient).unwrap();
    let enc = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).unwrap();
    w.write_all(plain).unwrap();
    w.finish().unwrap();
    out
}

/// A frame as an attacker makes it: right generation, next sequence number,
/// chained to the last frame on disk (its hash is computable from the
/// file), entries of their choice, encrypted to `recipient`, with a tag of
/// random bytes (they do not have the vault key).
fn forged_frame(journal: &[u8], generation: u64, recipient: &str, entries: serde_json::Value) -> Vec<u8> {
    let fs_ = frames(journal);
    let prev = match fs_.last() {
        Some((_, ct, _)) => hex::encode(Sha256::digest(&journal[ct.clone()])),
        None => panic!("the tests forge after at least one frame"),
    };
    let payload =
        serde_json::json!({"generation": generation, "seq": fs_.len() + 1, "prev_sha256": prev, "entries": entries});
    let ct = age_encrypt(recipient, &serde_json::to_vec(&payload).unwrap());
    let mut out = (ct.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&ct);
    out.extend_from_slice(&rand::random::<[u8; 32]>());
    out
}

/// A vault with `a`, `b` in its snapshot and `c`, `d`, `e` in three frames.
fn vault(dir: &Path) -> String {
    let mut v = init(dir);
    put(&mut v, "a", "1");
    put(&mut v, "b", "2");
    v.checkpoint().unwrap();
    for k in ["c", "d", "e"] {
        put(&mut v, k, "3");
    }
    let recipient = v.recipient();
    drop(v);
    recipient
}

fn journal(dir: &Path) -> PathBuf {
    dir.join("journal-2.log")
}

/// Opens, and checks the tampering is reported for `file` and that
/// exactly `expected` keys are there (the forged `x` never).
fn open_reports_tampering(dir: &Path, file: &str, expected: &[&str]) -> Vault {
    let v = open(dir);
    let r = v.recovery_report().clone();
    assert!(!r.is_clean());
    assert!(r.tampered.iter().any(|t| t.file == file), "{file} not reported: {r:?}");
    assert_eq!(keys(&v), expected);
    assert_eq!(get(&v, "x"), None, "nothing forged is applied");
    v
}

#[test]
fn an_appended_frame_without_the_vault_key_is_set_aside_not_applied() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let recipient = vault(&dir);
    let mut j = fs::read(journal(&dir)).unwrap();
    let before = j.len();
    j.extend(forged_frame(&j, 2, &recipient, serde_json::json!([kv_put("x", "forged"), kv_put("a", "forged")])));
    fs::write(journal(&dir), &j).unwrap();
    let mut v = open_reports_tampering(&dir, "journal-2.log", &["a", "b", "c", "d", "e"]);
    assert_eq!(get(&v, "a").as_deref(), Some("1"));
    let t = &v.recovery_report().tampered[0];
    assert!(t.reason.contains("frame 4") && t.reason.contains("tag"), "{t:?}");
    // The forged bytes are kept aside for whoever investigates, and the
    // journal ends where the authentic frames end, so work goes on.
    assert_eq!(fs::read(dir.join("journal-2.log.rejected")).unwrap(), &j[before..]);
    assert_eq!(fs::metadata(journal(&dir)).unwrap().len() as usize, before);
    put(&mut v, "f", "4");
    drop(v);
    // Later unlocks keep saying what was set aside until someone removes it.
    let v = open(&dir);
    let r = v.recovery_report();
    assert!(r.tampered.is_empty() && r.tail_cut.is_none(), "{r:?}");
    assert_eq!(r.rejected_files, ["journal-2.log.rejected"]);
    assert!(!r.is_clean());
    assert_eq!(keys(&v), ["a", "b", "c", "d", "e", "f"]);
    drop(v);
    fs::remove_file(dir.join("journal-2.log.rejected")).unwrap();
    assert!(open(&dir).recovery_report().is_clean());
}

#[test]
fn a_modified_or_reordered_frame_stops_replay_where_the_change_is() {
    let tmp = tempfile::tempdir().unwrap();
    for case in ["modify", "reorder", "drop the middle one"] {
        let dir = tmp.path().join(case.replace(' ', "-"));
        vault(&dir);
        let j = fs::read(journal(&dir)).unwrap();
        let f = frames(&j);
        let (f1, f2, f3) = (&j[f[0].0..f[0].2], &j[f[1].0..f[1].2], &j[f[2].0..f[2].2]);
        let mut changed = j[..HEADER].to_vec();
        match case {
            "modify" => {
                changed.extend_from_slice(f1);
                let mut m = f2.to_vec();
                m[60] ^= 1;
                changed.extend_from_slice(&m);
                changed.extend_from_slice(f3);
            }
            "reorder" => {
                changed.extend_from_slice(f1);
                changed.extend_from_slice(f3);
                changed.extend_from_slice(f2);
            }
            _ => {
                changed.extend_from_slice(f1);
                changed.extend_from_slice(f3);
            }
        }
        fs::write(journal(&dir), &changed).unwrap();
        let v = open_reports_tampering(&dir, "journal-2.log", &["a", "b", "c"]);
        assert_eq!(v.recovery_report().frames_replayed, 1, "{case}");
    }
}

#[test]
fn a_journal_from_another_vault_or_an_older_generation_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    vault(&a);
    vault(&b);
    // Another vault's journal of the same generation.
    fs::copy(journal(&a), journal(&b)).unwrap();
    open_reports_tampering(&b, "journal-2.log", &["a", "b"]);
    // This vault's own journal of generation 2, put back as generation 3.
    let mut v = open(&a);
    let old = fs::read(journal(&a)).unwrap();
    v.checkpoint().unwrap();
    drop(v);
    let mut spliced = old.clone();
    spliced[8..16].copy_from_slice(&3u64.to_be_bytes());
    fs::write(a.join("journal-3.log"), &spliced).unwrap();
    open_reports_tampering(&a, "journal-3.log", &["a", "b", "c", "d", "e"]);
}

#[test]
fn a_deleted_or_emptied_journal_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    for empty in [false, true] {
        let dir = tmp.path().join(format!("v{empty}"));
        vault(&dir);
        if empty {
            fs::write(journal(&dir), b"").unwrap();
        } else {
            fs::remove_file(journal(&dir)).unwrap();
        }
        let v = open_reports_tampering(&dir, "journal-2.log", &["a", "b"]);
        assert!(v.recovery_report().tampered[0].recovery.contains("office"), "says what can be recovered");
    }
}

#[test]
fn a_snapshot_written_without_the_vault_key_is_refused_and_the_vault_is_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let recipient = vault(&dir);
    // A manifest encrypted to the public recipient, listing the real
    // segments (the attacker can hash them) with a tag they had to guess.
    let seg_dir = dir.join("segments");
    let mut segments = Vec::new();
    let mut offset = 0u64;
    let mut names: Vec<String> =
        fs::read_dir(&seg_dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort_by_key(|n| n.trim_end_matches(".age").split('-').nth(1).unwrap().parse::<u64>().unwrap());
    for name in &names {
        let bytes = fs::read(seg_dir.join(name)).unwrap();
        let h = hex::encode(Sha256::digest(&bytes));
        // Lengths do not matter: the tag fails before they are used.
        segments.push(
            serde_json::json!({"file": name, "offset": offset, "len": 8u64 << 20, "sha256": h, "plain_sha256": h}),
        );
        offset += 8 << 20;
    }
    let manifest = serde_json::json!({"format": "fieldcase-snapshot", "version": 3, "generation": 2,
        "image_len": offset, "segments": segments, "mac": hex::encode([7u8; 32])});
    let before = fs::read(dir.join("snapshot.age")).unwrap();
    fs::write(dir.join("snapshot.age"), age_encrypt(&recipient, &serde_json::to_vec(&manifest).unwrap())).unwrap();
    let err = Vault::open_with(&dir, &pass(), Box::new(KvApplier), &options()).unwrap_err();
    // The vault's files are not encrypted to the public recipient, so this
    // one does not even decrypt; either way it is not used.
    assert!(matches!(err, VaultError::CorruptSnapshot { .. } | VaultError::Tampered { .. }), "{err}");
    fs::write(dir.join("snapshot.age"), &before).unwrap();
    assert_eq!(keys(&open(&dir)), ["a", "b", "c", "d", "e"], "nothing was changed while refusing");
}

#[test]
fn an_older_copy_of_the_snapshot_put_back_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    vault(&dir);
    let old_snapshot = fs::read(dir.join("snapshot.age")).unwrap();
    let old_segments = tmp.path().join("old-segments");
    fs::create_dir(&old_segments).unwrap();
    for e in fs::read_dir(dir.join("segments")).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), old_segments.join(e.file_name())).unwrap();
    }
    let mut v = open(&dir);
    put(&mut v, "f", "4");
    v.checkpoint().unwrap();
    drop(v);
    // Generation 2's snapshot and segments back, beside journal-3.log.
    fs::write(dir.join("snapshot.age"), old_snapshot).unwrap();
    for e in fs::read_dir(&old_segments).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), dir.join("segments").join(e.file_name())).unwrap();
    }
    let err = Vault::open_with(&dir, &pass(), Box::new(KvApplier), &options()).unwrap_err();
    assert!(matches!(&err, VaultError::Tampered { path, .. } if path.ends_with("snapshot.age")), "{err}");
    assert!(err.to_string().contains("modified outside Fieldcase"), "{err}");
}

#[test]
fn a_swapped_segment_fails_every_read_that_needs_it_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let options = VaultOptions { snapshot_segment_bytes: 4096, ..options() };
    let mut v = Vault::init_with(&dir, &pass(), InitOptions::default(), Box::new(KvApplier), &options).unwrap();
    for i in 0..200 {
        put(&mut v, &format!("k{i:03}"), &"v".repeat(100));
    }
    v.checkpoint().unwrap();
    drop(v);
    let seg_dir = dir.join("segments");
    let mut names: Vec<PathBuf> = fs::read_dir(&seg_dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    assert!(names.len() > 3);
    fs::copy(&names[1], &names[2]).unwrap();
    let opened = Vault::open_with(&dir, &pass(), Box::new(KvApplier), &options);
    let err = match opened {
        Ok(mut v) => v.wait_loaded().unwrap_err(),
        Err(e) => e,
    };
    let text = err.to_string();
    assert!(text.contains(&*names[2].file_name().unwrap().to_string_lossy()), "{text}");
    assert!(text.contains("modified outside Fieldcase or damaged"), "{text}");
}

#[test]
fn blobs_from_elsewhere_swapped_or_untagged_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut v = init(&dir);
    let recipient = v.recipient();
    let first = v.put_blob(b"first attachment").unwrap();
    let second = v.put_blob(b"second attachment").unwrap();
    let blobs = dir.join("blobs");
    let path = |id: &str, ext: &str| blobs.join(format!("{id}.{ext}"));
    let original = fs::read(path(&first, "age")).unwrap();
    // Another blob of this vault under this id.
    fs::copy(path(&second, "age"), path(&first, "age")).unwrap();
    assert!(matches!(v.get_blob(&first), Err(VaultError::Tampered { .. })));
    // A file of the attacker's, encrypted to the public recipient.
    fs::write(path(&first, "age"), age_encrypt(&recipient, b"forged")).unwrap();
    let err = v.get_blob(&first).unwrap_err();
    assert!(err.to_string().contains("modified outside Fieldcase"), "{err}");
    // The real file back: readable again. Without its tag file: refused.
    fs::write(path(&first, "age"), &original).unwrap();
    assert_eq!(&v.get_blob(&first).unwrap()[..], b"first attachment");
    fs::remove_file(path(&first, "tag")).unwrap();
    assert!(matches!(v.get_blob(&first), Err(VaultError::Tampered { .. })));
    assert_eq!(&v.get_blob(&second).unwrap()[..], b"second attachment");
    // A blob of another vault, with its tag file, under this vault.
    let other = tmp.path().join("w");
    let mut w = init(&other);
    let theirs = w.put_blob(b"another vault's").unwrap();
    drop(w);
    fs::copy(other.join("blobs").join(format!("{theirs}.age")), path(&theirs, "age")).unwrap();
    fs::copy(other.join("blobs").join(format!("{theirs}.tag")), path(&theirs, "tag")).unwrap();
    assert!(matches!(v.get_blob(&theirs), Err(VaultError::Tampered { .. })));
}

#[test]
fn another_identity_file_opens_nothing() {
    // Replacing identity.age with one of the attacker's making (their own
    // passphrase) only makes the owner's passphrase fail: nothing forged
    // is displayed, and the real identity file put back opens the vault.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    vault(&dir);
    let other = tmp.path().join("w");
    drop(init(&other));
    let real = fs::read(dir.join("identity.age")).unwrap();
    fs::copy(other.join("identity.age"), dir.join("identity.age")).unwrap();
    // Same passphrase in these tests: the other identity unlocks, but its
    // vault key tags nothing here.
    let err = Vault::open_with(&dir, &pass(), Box::new(KvApplier), &options()).unwrap_err();
    assert!(matches!(err, VaultError::CorruptSnapshot { .. } | VaultError::Tampered { .. }), "{err}");
    fs::write(dir.join("identity.age"), real).unwrap();
    assert_eq!(keys(&open(&dir)), ["a", "b", "c", "d", "e"]);
}

/// The checked-in format-1 vault, copied, upgraded by its first unlock.
fn upgraded_v1_vault(dir: &Path) -> (SecretString, String) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/vault-v1");
    fs::create_dir_all(dir.join("blobs")).unwrap();
    for e in fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            for b in fs::read_dir(e.path()).unwrap() {
                let b = b.unwrap();
                fs::copy(b.path(), dir.join("blobs").join(b.file_name())).unwrap();
            }
        } else {
            fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
    }
    let pass = SecretString::from("fieldcase test vector v1".to_owned());
    let v = Vault::open_with(dir, &pass, Box::new(KvApplier), &options()).unwrap();
    let recipient = v.recipient();
    drop(v);
    (pass, recipient)
}

#[test]
fn after_an_upgrade_frames_encrypted_to_the_public_recipient_decrypt_but_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let (pass, recipient) = upgraded_v1_vault(&dir);
    let mut j = fs::read(dir.join("journal-3.log")).unwrap();
    assert_eq!(&j[..8], b"FCJRNL02", "the upgrade wrote a tagged journal");
    // An authentic frame first, so the forged one has something to chain to.
    let mut v = Vault::open_with(&dir, &pass, Box::new(KvApplier), &options()).unwrap();
    v.commit(vec![kv_put("delta", "4")]).unwrap();
    drop(v);
    j = fs::read(dir.join("journal-3.log")).unwrap();
    // The vault's files of a format-2 vault are encrypted to the public
    // recipient, so this frame decrypts: only its tag gives it away.
    j.extend(forged_frame(&j, 3, &recipient, serde_json::json!([kv_put("alpha", "forged"), kv_put("x", "1")])));
    fs::write(dir.join("journal-3.log"), &j).unwrap();
    let v = Vault::open_with(&dir, &pass, Box::new(KvApplier), &options()).unwrap();
    assert_eq!(v.recovery_report().tampered.len(), 1, "{:?}", v.recovery_report());
    assert_eq!(get(&v, "alpha").as_deref(), Some("one"));
    assert_eq!(get(&v, "x"), None);
    assert_eq!(get(&v, "delta").as_deref(), Some("4"));
    drop(v);
    // An untagged (format 2) journal header does not turn the tags off in
    // a format-3 vault: the frames are still read as tagged, so the
    // authentic one still counts and a forged untagged one would not.
    let mut j = fs::read(dir.join("journal-3.log")).unwrap();
    j[..8].copy_from_slice(b"FCJRNL01");
    let forged_untagged = {
        let mut f = forged_frame(&j, 3, &recipient, serde_json::json!([kv_put("x", "1")]));
        f.truncate(f.len() - TAG);
        f
    };
    j.extend(forged_untagged);
    fs::write(dir.join("journal-3.log"), &j).unwrap();
    let v = Vault::open_with(&dir, &pass, Box::new(KvApplier), &options()).unwrap();
    assert_eq!(get(&v, "delta").as_deref(), Some("4"));
    assert_eq!(get(&v, "x"), None, "untagged frames are not read in a format-3 vault");
}

#[test]
fn a_changed_passphrase_leaves_the_old_identity_file_unable_to_read_new_data() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    vault(&dir);
    let old_identity = fs::read(dir.join("identity.age")).unwrap();
    let new = SecretString::from("a much newer passphrase".to_owned());
    let mut v = open(&dir);
    v.change_passphrase(&pass(), &new, Some(TEST_LOG_N)).unwrap();
    put(&mut v, "secret", "written after the change");
    let blob = v.put_blob(b"after the change").unwrap();
    drop(v);
    let v = Vault::open_with(&dir, &new, Box::new(KvApplier), &options()).unwrap();
    assert_eq!(keys(&v), ["a", "b", "c", "d", "e", "secret"]);
    assert_eq!(&v.get_blob(&blob).unwrap()[..], b"after the change");
    drop(v);
    // A copy of the old identity file with the old passphrase (a former
    // user's, a backup's) decrypts none of the files written since.
    fs::write(dir.join("identity.age"), old_identity).unwrap();
    let err = Vault::open_with(&dir, &pass(), Box::new(KvApplier), &options()).unwrap_err();
    assert!(matches!(err, VaultError::CorruptSnapshot { .. } | VaultError::Tampered { .. }), "{err}");
}

#[test]
fn escrow_checks_every_tag_with_the_key_the_device_signed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let escrow = age::x25519::Identity::generate();
    let escrow_secret = {
        use secrecy::ExposeSecret;
        escrow.to_string().expose_secret().to_owned()
    };
    let opts =
        InitOptions { name: "Amina".into(), role: "caseworker".into(), escrow: Some(escrow.to_public().to_string()) };
    let mut v = init_opts(&dir, opts);
    put(&mut v, "a", "1");
    v.checkpoint().unwrap();
    put(&mut v, "b", "2");
    v.put_blob(b"attachment").unwrap();
    let device_key = v.device_verifying_key();
    drop(v);
    let check = fieldcase::vault::verify_with_escrow(&dir, &escrow_secret, &device_key).unwrap();
    assert_eq!((check.generation, check.frames, check.blobs), (2, 1, 1));
    // Another device's key did not sign this vault key.
    let other = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng).verifying_key();
    assert!(matches!(
        fieldcase::vault::verify_with_escrow(&dir, &escrow_secret, &other),
        Err(VaultError::Tampered { .. })
    ));
    // A modified frame is found too.
    let mut j = fs::read(journal(&dir)).unwrap();
    let last = j.len() - 1;
    j[last] ^= 1;
    fs::write(journal(&dir), &j).unwrap();
    let err = fieldcase::vault::verify_with_escrow(&dir, &escrow_secret, &device_key).unwrap_err();
    assert!(err.to_string().contains("journal-2.log"), "{err}");
}

#[test]
fn a_passphrase_change_that_cannot_write_the_identity_keeps_writing_under_the_old_keys() {
    // If the new identity file cannot be written (a full disk), the
    // identity on disk keeps the old keys only: later commits must be made
    // under those, or the next unlock would find them modified outside
    // Fieldcase and drop them.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let faults = fieldcase::vault::FaultStorage::new();
    let opts = options_with(std::sync::Arc::new(faults.clone()));
    let mut v = Vault::init_with(&dir, &pass(), InitOptions::default(), Box::new(KvApplier), &opts).unwrap();
    put(&mut v, "a", "1");
    faults.fail_writes_after(0);
    let new = SecretString::from("a much newer passphrase".to_owned());
    assert!(v.change_passphrase(&pass(), &new, Some(TEST_LOG_N)).is_err());
    faults.heal();
    put(&mut v, "b", "2");
    drop(v);
    let v = open(&dir);
    assert!(v.recovery_report().tampered.is_empty(), "{:?}", v.recovery_report());
    assert_eq!(keys(&v), ["a", "b"]);
}
