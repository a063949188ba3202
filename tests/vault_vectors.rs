//! Checked-in example vaults that the current code must still open: a format
//! change that breaks existing vaults fails here. `tests/vectors/vault-v1/`
//! (snapshot = the SQLite image) and `tests/vectors/vault-v2/` (snapshot =
//! manifest of segments) are frozen, and upgraded to format 3 by their
//! first unlock; `tests/vectors/vault-v3/` (files tagged under the vault
//! key) is the current format.
//!
//! Regenerate the current-format vector (only when the format version
//! changes!) with
//! `FIELDCASE_WRITE_VECTORS=1 cargo test -p fieldcase --test vault_vectors`.
#[path = "common/vault.rs"]
mod cv;

use std::path::{Path, PathBuf};

use cv::*;
use fieldcase::vault::{kv_put, InitOptions, KvApplier, SecretString, Vault, VaultOptions};

/// The version `write_vectors_when_asked` writes.
const CURRENT: u32 = 3;

fn passphrase(version: u32) -> String {
    format!("fieldcase test vector v{version}")
}

fn blob_bytes(version: u32) -> Vec<u8> {
    format!("vector attachment v{version}").into_bytes()
}

fn vector_dir(version: u32) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/vectors/vault-v{version}"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn write_vectors_when_asked() {
    if std::env::var_os("FIELDCASE_WRITE_VECTORS").is_none() {
        return;
    }
    let dir = vector_dir(CURRENT);
    let _ = std::fs::remove_dir_all(&dir);
    let pass = SecretString::from(passphrase(CURRENT));
    let opts = InitOptions { name: "Vector Device".into(), role: "supervisor".into(), escrow: None };
    // One page per segment, so the vector has several segment files, some
    // reused from generation 1 and some rewritten at generation 2.
    let options = VaultOptions { snapshot_segment_bytes: 4096, ..options() };
    let mut v = Vault::init_with(&dir, &pass, opts, Box::new(KvApplier), &options).unwrap();
    v.commit(vec![kv_put("alpha", "1"), kv_put("beta", "2")]).unwrap();
    v.checkpoint().unwrap();
    v.commit(vec![kv_put("gamma", "3")]).unwrap();
    v.commit(vec![kv_put("alpha", "one"), serde_json::json!({"delete": "beta"})]).unwrap();
    let id = v.put_blob(&blob_bytes(CURRENT)).unwrap();
    drop(v);
    std::fs::remove_file(dir.join("vault.lock")).unwrap();
    std::fs::write(dir.join("blob-id.txt"), id).unwrap();
    std::fs::write(
        dir.join("README"),
        format!("Example vault, format v{CURRENT}, made by tests/vault_vectors.rs (KvApplier).\nPassphrase: {}\nGeneration 2 snapshot {{alpha:1, beta:2}} in 4096-byte segments; journal-2.log: put gamma=3; put alpha=one + delete beta.\nblob-id.txt names the blob holding {:?}.\n", passphrase(CURRENT), String::from_utf8_lossy(&blob_bytes(CURRENT))),
    )
    .unwrap();
}

fn check_vector(version: u32) {
    if std::env::var_os("FIELDCASE_WRITE_VECTORS").is_some() {
        return; // being rewritten by the other test right now
    }
    let src = vector_dir(version);
    if !src.join("identity.age").exists() {
        panic!("missing test vectors in {}", src.display());
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    copy_dir(&src, &dir);
    let pass = SecretString::from(passphrase(version));
    let v = Vault::open_with(&dir, &pass, Box::new(KvApplier), &VaultOptions::default()).unwrap();
    assert!(v.recovery_report().is_clean(), "{:?}", v.recovery_report());
    // An older format is upgraded at its first unlock: a checkpoint tags
    // the snapshot and starts a tagged journal.
    let generation = if version < CURRENT { 3 } else { 2 };
    assert_eq!(v.stats().generation, generation);
    assert_eq!(v.recovery_report().frames_replayed, 2);
    assert_eq!(v.device().device_name, "Vector Device");
    assert_eq!(v.device().role, "supervisor");
    // Made before identity version 3: one key signs its events and its
    // bundles, as the office's roster knows it, and stays so.
    let joint = v.device_verifying_key();
    assert_eq!(v.first_person_verifying_key(), joint);
    assert_eq!(keys(&v), ["alpha", "gamma"]);
    assert_eq!(get(&v, "alpha").as_deref(), Some("one"));
    let id = std::fs::read_to_string(dir.join("blob-id.txt")).unwrap();
    assert_eq!(&v.get_blob(id.trim()).unwrap()[..], &blob_bytes(version)[..]);
    drop(v);
    // Unlocked again it is a format-3 vault: tagged journal, blob tags,
    // nothing left to upgrade.
    let journal = std::fs::read(dir.join(format!("journal-{generation}.log"))).unwrap();
    assert_eq!(&journal[..8], b"FCJRNL02");
    assert!(dir.join("blobs").join(format!("{}.tag", id.trim())).exists());
    let v = Vault::open_with(&dir, &pass, Box::new(KvApplier), &VaultOptions::default()).unwrap();
    assert!(v.recovery_report().is_clean(), "{:?}", v.recovery_report());
    assert_eq!((v.stats().generation, keys(&v)), (generation, vec!["alpha".to_owned(), "gamma".to_owned()]));
    assert_eq!((v.device_verifying_key(), v.first_person_verifying_key()), (joint, joint));
}

#[test]
fn checked_in_v1_vault_still_opens_with_its_contents() {
    check_vector(1);
}

#[test]
fn checked_in_v2_vault_still_opens_with_its_contents() {
    check_vector(2);
}

#[test]
fn checked_in_v3_vault_still_opens_with_its_contents() {
    if std::env::var_os("FIELDCASE_WRITE_VECTORS").is_some() {
        return;
    }
    check_vector(3);
    let segments = vector_dir(3).join(fieldcase::vault::SEGMENT_DIR);
    let names: Vec<String> =
        std::fs::read_dir(segments).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.len() > 1, "the v3 vector has several segments: {names:?}");
}
