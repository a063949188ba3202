//! Basic life of a vault: init, commit, reopen, checkpoint, lock, blobs, passphrase.
#[path = "common/vault.rs"]
mod cv;

use cv::*;
use fieldcase::vault::{change_passphrase_with, kv_put, InitOptions, KvApplier, SecretString, Vault, VaultError};

#[test]
fn committed_records_survive_reopen_without_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut v = init(&dir);
    for i in 0..20 {
        put(&mut v, &format!("k{i}"), &format!("value {i}"));
    }
    let device = v.device().clone();
    let vk = v.device_verifying_key();
    drop(v);
    let v = open(&dir);
    assert_eq!(count(&v), 20);
    assert_eq!(get(&v, "k7").as_deref(), Some("value 7"));
    assert_eq!(v.device(), &device);
    assert_eq!(v.device_verifying_key(), vk);
    assert_eq!(v.recovery_report().frames_replayed, 20);
    assert!(v.recovery_report().is_clean(), "{:?}", v.recovery_report());
}

#[test]
fn checkpoint_and_lock_fold_the_journal_into_the_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut v = init(&dir);
    put(&mut v, "a", "1");
    v.checkpoint().unwrap();
    assert_eq!(v.stats().generation, 2);
    assert_eq!(v.stats().journal_frames, 0);
    assert!(!dir.join("journal-1.log").exists());
    put(&mut v, "b", "2");
    v.lock().unwrap();
    let v = open(&dir);
    assert_eq!(v.stats().generation, 3);
    assert_eq!(v.recovery_report().frames_replayed, 0);
    assert_eq!(keys(&v), ["a", "b"]);
    assert!(v.recovery_report().is_clean());
}

#[test]
fn refused_entries_leave_the_database_and_journal_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut v = init(&dir);
    put(&mut v, "a", "1");
    let before = v.stats();
    let err = v.commit(vec![kv_put("b", "2"), serde_json::json!({"bogus": 1})]).unwrap_err();
    assert!(matches!(err, VaultError::Apply(_)), "{err}");
    assert_eq!(v.stats(), before);
    assert_eq!(keys(&v), ["a"]);
    put(&mut v, "c", "3");
    drop(v);
    assert_eq!(keys(&open(&dir)), ["a", "c"]);
}

#[test]
fn automatic_checkpoint_when_journal_passes_threshold() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let opts = fieldcase::vault::VaultOptions { checkpoint_bytes: 4096, ..options() };
    let mut v = Vault::init_with(&dir, &pass(), InitOptions::default(), Box::new(KvApplier), &opts).unwrap();
    for i in 0..30 {
        v.commit(vec![kv_put(&format!("k{i}"), &"x".repeat(200))]).unwrap();
    }
    assert!(v.stats().generation > 2, "{:?}", v.stats());
    assert!(v.stats().journal_bytes < 4096 + 1024);
    drop(v);
    assert_eq!(count(&open(&dir)), 30);
}

#[test]
fn blobs_round_trip_and_ids_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut v = init(&dir);
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let id = v.put_blob(&data).unwrap();
    let id2 = v.put_blob(&data).unwrap();
    assert_ne!(id, id2, "ids are random, not content hashes");
    assert!(dir.join("blobs").join(format!("{id}.age")).exists());
    assert_eq!(&v.get_blob(&id).unwrap()[..], &data[..]);
    drop(v);
    let v = open(&dir);
    assert_eq!(&v.get_blob(&id).unwrap()[..], &data[..]);
    assert!(matches!(v.get_blob("../identity"), Err(VaultError::BadBlobId { .. })));
    assert!(matches!(v.get_blob(&uuid::Uuid::new_v4().to_string()), Err(VaultError::BlobNotFound { .. })));
}

#[test]
fn passphrase_change_takes_effect_and_old_one_stops_working() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut v = init(&dir);
    put(&mut v, "a", "1");
    drop(v);
    let new = SecretString::from("a new passphrase".to_owned());
    change_passphrase_with(&dir, &pass(), &new, Box::new(KvApplier), &options()).unwrap();
    let err = Vault::open_with(&dir, &pass(), Box::new(KvApplier), &options()).unwrap_err();
    assert!(matches!(err, VaultError::WrongPassphrase { .. }), "{err}");
    let v = Vault::open_with(&dir, &new, Box::new(KvApplier), &options()).unwrap();
    assert_eq!(keys(&v), ["a"]);
    drop(v);
    let empty = SecretString::from(String::new());
    assert!(matches!(
        change_passphrase_with(&dir, &new, &empty, Box::new(KvApplier), &options()),
        Err(VaultError::EmptyPassphrase)
    ));
    assert!(!dir.join("identity.age.tmp").exists());
}

#[test]
fn second_open_of_the_same_vault_is_refused_while_the_first_is_open() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let v = init(&dir);
    let err = Vault::open_with(&dir, &pass(), Box::new(KvApplier), &options()).unwrap_err();
    assert!(matches!(err, VaultError::Busy { .. }), "{err}");
    drop(v);
    open(&dir);
}

#[test]
fn init_refuses_an_existing_vault_and_an_empty_passphrase() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    drop(init(&dir));
    let err = Vault::init_with(&dir, &pass(), InitOptions::default(), Box::new(KvApplier), &options()).unwrap_err();
    assert!(matches!(err, VaultError::AlreadyExists { .. }), "{err}");
    let empty = SecretString::from(String::new());
    let err = Vault::init_with(&tmp.path().join("w"), &empty, InitOptions::default(), Box::new(KvApplier), &options())
        .unwrap_err();
    assert!(matches!(err, VaultError::EmptyPassphrase));
}

#[test]
fn bad_escrow_recipient_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let opts = InitOptions { escrow: Some("age1notarecipient".into()), ..InitOptions::default() };
    let err = Vault::init_with(&dir, &pass(), opts, Box::new(KvApplier), &options()).unwrap_err();
    assert!(matches!(err, VaultError::BadEscrowRecipient { .. }), "{err}");
    assert!(!dir.join("identity.age").exists());
    // The directory is still usable for a correct init.
    drop(init(&dir));
}
