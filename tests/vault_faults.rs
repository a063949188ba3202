//! Bad input and faults: every case gives a clear error or a clean recovery of
//! every fully committed change, never a panic, never a silently empty vault.
#[path = "common/vault.rs"]
mod cv;

use std::fs;
use std::path::Path;
use std::sync::Arc;

use cv::*;
use fieldcase::vault::{
    kv_put, FaultStorage, GatedCommitError, InitOptions, KvApplier, SecretString, Vault, VaultError,
};

fn open_err(dir: &Path) -> VaultError {
    Vault::open_with(dir, &pass(), Box::new(KvApplier), &options()).expect_err("open must fail")
}

/// A vault with `n` commits k0..k{n-1}; returns the journal length after each commit.
fn vault_with_commits(dir: &Path, n: usize) -> Vec<u64> {
    let mut v = init(dir);
    let mut ends = vec![v.stats().journal_bytes];
    for i in 0..n {
        put(&mut v, &format!("k{i}"), &format!("value {i} {}", "x".repeat(i * 7)));
        ends.push(v.stats().journal_bytes);
    }
    ends
}

fn expected_keys(n: usize) -> Vec<String> {
    let mut k: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
    k.sort();
    k
}

#[test]
fn wrong_passphrase_is_reported_as_such() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    drop(init(&dir));
    let bad = SecretString::from("not it".to_owned());
    let err = Vault::open_with(&dir, &bad, Box::new(KvApplier), &options()).unwrap_err();
    assert!(matches!(err, VaultError::WrongPassphrase { .. }), "{err}");
    assert!(err.to_string().contains("wrong passphrase"));
}

#[test]
fn missing_identity_means_not_a_vault() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(matches!(open_err(&tmp.path().join("nothing-here")), VaultError::NotAVault { .. }));
    let dir = tmp.path().join("v");
    drop(init(&dir));
    fs::remove_file(dir.join("identity.age")).unwrap();
    assert!(matches!(open_err(&dir), VaultError::NotAVault { .. }));
}

#[test]
fn missing_snapshot_is_an_error_not_an_empty_vault() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    vault_with_commits(&dir, 2);
    fs::remove_file(dir.join("snapshot.age")).unwrap();
    let err = open_err(&dir);
    assert!(matches!(err, VaultError::MissingSnapshot { .. }), "{err}");
    // The journal is left alone for whoever restores the snapshot.
    assert!(dir.join("journal-1.log").exists());
}

#[test]
fn corrupt_identity_is_reported_as_damaged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    drop(init(&dir));
    let good = fs::read(dir.join("identity.age")).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        ("empty", Vec::new()),
        ("garbage", b"hello, this is not an age file\n".to_vec()),
        ("payload bit flip", {
            let mut b = good.clone();
            let n = b.len();
            b[n - 5] ^= 0x01;
            b
        }),
    ];
    for (what, bytes) in cases {
        fs::write(dir.join("identity.age"), &bytes).unwrap();
        let err = open_err(&dir);
        assert!(matches!(err, VaultError::CorruptIdentity { .. }), "{what}: {err}");
    }
    // An identity encrypted to a key instead of a passphrase is refused too.
    let other = age::x25519::Identity::generate();
    let ct = age::encrypt(&other.to_public(), b"{}").unwrap();
    fs::write(dir.join("identity.age"), ct).unwrap();
    assert!(matches!(open_err(&dir), VaultError::CorruptIdentity { .. }));
}

#[test]
fn an_identity_without_the_first_persons_key_is_damaged_not_a_crash() {
    // Only a further person's keys file goes without the event key; an
    // identity.age without one (rewritten by someone who knew the
    // passphrase) is refused at unlock rather than failing at the first
    // signature.
    use std::io::Read as _;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    drop(init(&dir));
    let ct = fs::read(dir.join("identity.age")).unwrap();
    let mut plain = Vec::new();
    age::Decryptor::new_buffered(&ct[..])
        .unwrap()
        .decrypt(std::iter::once(&age::scrypt::Identity::new(pass()) as &dyn age::Identity))
        .unwrap()
        .read_to_end(&mut plain)
        .unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(json["version"], 3);
    json["signing_key"] = serde_json::json!("");
    let mut r = age::scrypt::Recipient::new(pass());
    r.set_work_factor(TEST_LOG_N);
    let enc = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).unwrap();
    std::io::Write::write_all(&mut w, &serde_json::to_vec(&json).unwrap()).unwrap();
    w.finish().unwrap();
    fs::write(dir.join("identity.age"), out).unwrap();
    let err = open_err(&dir);
    assert!(matches!(&err, VaultError::CorruptIdentity { reason, .. } if reason.contains("no signing key")), "{err}");
}

#[test]
fn corrupt_snapshot_is_an_error_not_an_empty_vault() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    vault_with_commits(&dir, 3);
    let good = fs::read(dir.join("snapshot.age")).unwrap();
    let mut cases: Vec<(String, Vec<u8>)> =
        vec![("truncated".into(), good[..good.len() - 10].to_vec()), ("empty".into(), Vec::new())];
    for pos in [0, 30, good.len() / 2, good.len() - 1] {
        let mut b = good.clone();
        b[pos] ^= 0x04;
        cases.push((format!("bit flip at {pos}"), b));
    }
    // A snapshot of another vault (another device key).
    let other = tmp.path().join("other");
    vault_with_commits(&other, 1);
    cases.push(("other vault's snapshot".into(), fs::read(other.join("snapshot.age")).unwrap()));
    for (what, bytes) in cases {
        fs::write(dir.join("snapshot.age"), &bytes).unwrap();
        let err = open_err(&dir);
        assert!(matches!(err, VaultError::CorruptSnapshot { .. }), "{what}: {err}");
        assert!(err.to_string().contains("snapshot"), "{err}");
    }
    fs::write(dir.join("snapshot.age"), &good).unwrap();
    assert_eq!(count(&open(&dir)), 3);
}

#[test]
fn journal_cut_at_every_offset_of_its_last_two_frames_keeps_every_whole_frame() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let n = 5;
    let ends = vault_with_commits(&dir, n);
    let journal = dir.join("journal-1.log");
    let full = fs::read(&journal).unwrap();
    assert_eq!(full.len() as u64, ends[n]);
    let start = ends[n - 2] as usize;
    for cut in start..=full.len() {
        fs::write(&journal, &full[..cut]).unwrap();
        let v = open(&dir);
        let whole = ends.iter().filter(|&&e| e <= cut as u64).count() - 1;
        assert_eq!(keys(&v), expected_keys(whole), "cut at {cut}");
        let report = v.recovery_report();
        assert_eq!(report.frames_replayed, whole as u64, "cut at {cut}");
        let at_boundary = ends.contains(&(cut as u64));
        assert_eq!(report.tail_cut.is_some(), !at_boundary, "cut at {cut}: {report:?}");
        if let Some(t) = &report.tail_cut {
            assert_eq!(t.offset, ends[whole]);
            assert_eq!(t.first_lost_seq, whole as u64 + 1);
        }
        drop(v);
        assert_eq!(fs::metadata(&journal).unwrap().len(), ends[whole], "journal cut back to the last whole frame");
    }
    // After a cut the vault keeps working: new commits follow the last good frame.
    fs::write(&journal, &full[..full.len() - 3]).unwrap();
    let mut v = open(&dir);
    put(&mut v, "after", "cut");
    drop(v);
    let v = open(&dir);
    assert!(v.recovery_report().is_clean());
    assert_eq!(count(&v), n as i64);
    assert_eq!(get(&v, "after").as_deref(), Some("cut"));
}

#[test]
fn journal_cut_inside_its_header_recovers_the_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut v = init(&dir);
    put(&mut v, "a", "1");
    v.checkpoint().unwrap();
    drop(v);
    let journal = dir.join("journal-2.log");
    for cut in 0..16 {
        let full = fs::read(&journal).unwrap();
        fs::write(&journal, &full[..cut]).unwrap();
        let v = open(&dir);
        assert_eq!(keys(&v), ["a"]);
        assert!(v.recovery_report().tail_cut.is_some(), "cut {cut}");
    }
}

#[test]
fn bit_flip_in_any_frame_recovers_up_to_the_frame_before_and_reports_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let n = 4;
    let ends = vault_with_commits(&dir, n);
    let journal = dir.join("journal-1.log");
    let full = fs::read(&journal).unwrap();
    for frame in 0..n {
        let (s, e) = (ends[frame] as usize, ends[frame + 1] as usize);
        for pos in [s, s + 3, s + 4, s + 40, (s + e) / 2, e - 17, e - 1] {
            for bit in [0x01u8, 0x80] {
                let mut b = full.clone();
                b[pos] ^= bit;
                fs::write(&journal, &b).unwrap();
                let v = open(&dir);
                assert_eq!(keys(&v), expected_keys(frame), "flip {bit:#x} at {pos} (frame {frame})");
                let t = v.recovery_report().tail_cut.clone().expect("cut reported");
                assert_eq!(t.offset, s as u64);
                assert_eq!(t.first_lost_seq, frame as u64 + 1);
                assert!(!t.reason.is_empty());
            }
        }
    }
}

#[test]
fn damaged_journal_header_is_reported_and_frames_still_replayed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    vault_with_commits(&dir, 3);
    let journal = dir.join("journal-1.log");
    let mut b = fs::read(&journal).unwrap();
    b[2] ^= 0xff;
    fs::write(&journal, &b).unwrap();
    let v = open(&dir);
    assert_eq!(count(&v), 3);
    assert!(v.recovery_report().header_damaged.is_some());
}

#[test]
fn journal_of_an_older_generation_is_ignored_and_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut v = init(&dir);
    put(&mut v, "a", "old");
    let stale = fs::read(dir.join("journal-1.log")).unwrap();
    put(&mut v, "a", "new");
    v.checkpoint().unwrap();
    put(&mut v, "b", "2");
    drop(v);
    fs::write(dir.join("journal-1.log"), &stale).unwrap();
    let v = open(&dir);
    assert_eq!(get(&v, "a").as_deref(), Some("new"), "stale frame must not be applied");
    assert_eq!(get(&v, "b").as_deref(), Some("2"));
    assert_eq!(v.recovery_report().stale_journals, ["journal-1.log"]);
    assert!(!dir.join("journal-1.log").exists());
}

#[test]
fn journal_of_another_generation_spliced_in_is_cut_not_applied() {
    // A journal copied onto another snapshot (its first frame chains to a
    // different snapshot hash) must not be applied.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut v = init(&dir);
    put(&mut v, "a", "1");
    v.checkpoint().unwrap(); // generation 2, snapshot S2
    put(&mut v, "b", "2");
    let j2 = fs::read(dir.join("journal-2.log")).unwrap();
    drop(v);
    // Rewrite the snapshot (same generation would be needed to splice):
    // checkpoint again after reopen gives generation 3; rename its journal.
    let mut v = open(&dir);
    put(&mut v, "c", "3");
    v.checkpoint().unwrap(); // generation 3
    drop(v);
    // Put generation 2's frames into a file named for generation 3.
    let mut spliced = j2.clone();
    spliced[8..16].copy_from_slice(&3u64.to_be_bytes());
    fs::write(dir.join("journal-3.log"), &spliced).unwrap();
    let v = open(&dir);
    assert_eq!(keys(&v), ["a", "b", "c"]);
    let t = v.recovery_report().tail_cut.clone().expect("spliced frames are cut");
    assert_eq!(t.offset, 16);
}

#[test]
fn journal_of_a_newer_generation_means_an_older_snapshot_was_put_back() {
    // A checkpoint creates journal g+1 only after snapshot g+1 is in
    // place, so a newer journal beside the snapshot means someone put an
    // older snapshot back: the vault is not opened (nothing is lost yet)
    // and the journal is left alone.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    vault_with_commits(&dir, 1);
    fs::write(dir.join("journal-9.log"), b"FCJRNL02\0\0\0\0\0\0\0\x09").unwrap();
    let err = open_err(&dir);
    assert!(matches!(&err, VaultError::Tampered { path, .. } if path.ends_with("snapshot.age")), "{err}");
    assert!(
        err.to_string().contains("modified outside Fieldcase") && err.to_string().contains("journal-9.log"),
        "{err}"
    );
    assert!(dir.join("journal-9.log").exists());
}

/// Commits k0..k4 and a blob through a fault-injecting storage.
fn faulty_vault(dir: &Path) -> (Vault, FaultStorage, String) {
    let fs_ = FaultStorage::new();
    let opts = options_with(Arc::new(fs_.clone()));
    let mut v = Vault::init_with(dir, &pass(), InitOptions::default(), Box::new(KvApplier), &opts).unwrap();
    for i in 0..5 {
        put(&mut v, &format!("k{i}"), "v");
    }
    let blob = v.put_blob(b"attachment bytes").unwrap();
    (v, fs_, blob)
}

#[test]
fn crash_after_every_step_of_a_checkpoint_keeps_every_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let mut k = 0;
    loop {
        let dir = tmp.path().join(format!("v{k}"));
        let (mut v, faults, blob) = faulty_vault(&dir);
        faults.crash_after(k);
        let result = v.checkpoint();
        let crashed = faults.crashed();
        assert_eq!(result.is_err(), crashed, "step {k}: {result:?}");
        drop(v);
        let mut v = open(&dir);
        assert_eq!(keys(&v), expected_keys(5), "crash after step {k}: {:?}", v.recovery_report());
        assert_eq!(&v.get_blob(&blob).unwrap()[..], b"attachment bytes");
        // The recovered vault keeps working.
        put(&mut v, "k5", "after");
        v.checkpoint().unwrap();
        put(&mut v, "k6", "after");
        drop(v);
        assert_eq!(keys(&open(&dir)), expected_keys(7), "step {k}");
        if !crashed {
            assert!(k >= 5, "a checkpoint has at least 5 durable steps, got {k}");
            break;
        }
        k += 1;
    }
}

#[test]
fn crash_during_a_commit_keeps_every_acknowledged_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let mut k = 0;
    loop {
        let dir = tmp.path().join(format!("v{k}"));
        let (mut v, faults, _) = faulty_vault(&dir);
        faults.crash_after(k);
        let result = v.commit(vec![kv_put("k5", "v")]);
        let crashed = faults.crashed();
        if crashed {
            assert!(result.is_err());
            // The in-memory database did not take the failed commit.
            assert_eq!(count(&v), 5);
            // And the vault refuses further commits rather than writing after garbage.
            assert!(v.commit(vec![kv_put("k6", "v")]).is_err());
        } else {
            result.unwrap();
        }
        drop(v);
        let v = open(&dir);
        let got = keys(&v);
        // Unacknowledged commit may or may not be there; acknowledged ones must.
        assert!(got == expected_keys(5) || got == expected_keys(6), "step {k}: {got:?}");
        if !crashed {
            assert_eq!(got, expected_keys(6));
            break;
        }
        k += 1;
    }
}

#[test]
fn full_disk_on_commit_is_an_error_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let (mut v, faults, _) = faulty_vault(&dir);
    let before = v.stats();
    for budget in [0, 1, 10, 200] {
        faults.fail_writes_after(budget);
        let err = v.commit(vec![kv_put("big", &"y".repeat(1000))]).unwrap_err();
        assert!(matches!(err, VaultError::DiskFull { .. }), "{err}");
        assert!(err.to_string().contains("journal-1.log"), "error names the file: {err}");
        assert_eq!(count(&v), 5);
        assert_eq!(v.stats(), before);
        assert_eq!(fs::metadata(dir.join("journal-1.log")).unwrap().len(), before.journal_bytes);
    }
    faults.heal();
    put(&mut v, "k5", "v");
    drop(v);
    let v = open(&dir);
    assert!(v.recovery_report().is_clean(), "{:?}", v.recovery_report());
    assert_eq!(keys(&v), expected_keys(6));
}

#[test]
fn full_disk_on_checkpoint_is_an_error_and_the_old_snapshot_and_journal_stay_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let (mut v, faults, _) = faulty_vault(&dir);
    for budget in [0, 100, 5000] {
        faults.fail_writes_after(budget);
        let err = v.checkpoint().unwrap_err();
        assert!(matches!(err, VaultError::DiskFull { .. }), "{err}");
        assert_eq!(v.stats().generation, 1);
        assert!(!dir.join("snapshot.age.tmp").exists(), "temp file removed");
        // Commits still fail while the disk is full, then work again.
    }
    faults.heal();
    put(&mut v, "k5", "v");
    drop(v);
    let mut v = open(&dir);
    assert_eq!(keys(&v), expected_keys(6));
    v.checkpoint().unwrap();
    drop(v);
    assert_eq!(keys(&open(&dir)), expected_keys(6));
}

#[test]
fn crash_or_full_disk_during_init_leaves_no_half_vault() {
    let tmp = tempfile::tempdir().unwrap();
    let mut k = 0;
    loop {
        let dir = tmp.path().join(format!("v{k}"));
        let faults = FaultStorage::new();
        faults.crash_after(k);
        let opts = options_with(Arc::new(faults.clone()));
        let result = Vault::init_with(&dir, &pass(), InitOptions::default(), Box::new(KvApplier), &opts);
        if faults.crashed() {
            assert!(result.is_err());
            // Either not a vault at all, or (crash after the identity rename) a whole one.
            match Vault::open_with(&dir, &pass(), Box::new(KvApplier), &options()) {
                Ok(v) => assert_eq!(count(&v), 0),
                Err(e) => assert!(matches!(e, VaultError::NotAVault { .. }), "step {k}: {e}"),
            }
        } else {
            result.unwrap();
            break;
        }
        k += 1;
    }
    let dir = tmp.path().join("full");
    let faults = FaultStorage::new();
    faults.fail_writes_after(50);
    let opts = options_with(Arc::new(faults.clone()));
    let err = Vault::init_with(&dir, &pass(), InitOptions::default(), Box::new(KvApplier), &opts).unwrap_err();
    assert!(matches!(err, VaultError::DiskFull { .. }), "{err}");
    faults.heal();
    // Nothing left behind that blocks a retry.
    Vault::init_with(&dir, &pass(), InitOptions::default(), Box::new(KvApplier), &opts).unwrap();
}

#[test]
fn oversized_commit_is_refused_before_anything_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut v = init(&dir);
    let big = "z".repeat(fieldcase::vault::frame::MAX_FRAME_LEN + 1);
    let err = v.commit(vec![kv_put("big", &big)]).unwrap_err();
    assert!(matches!(err, VaultError::FrameTooLarge { .. }), "{err}");
    assert_eq!(count(&v), 0);
    assert_eq!(v.stats().journal_frames, 0);
}

#[test]
fn journal_spliced_onto_another_snapshot_of_the_same_generation_is_cut() {
    // Two copies of one vault diverge, each checkpoints to generation 2 with
    // different content; a journal of one is moved onto the other. Its first
    // frame chains to the other snapshot file and must not be applied.
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    drop(init(&a));
    let b = tmp.path().join("b");
    fs::create_dir(&b).unwrap();
    fs::create_dir(b.join(fieldcase::vault::SEGMENT_DIR)).unwrap();
    for sub in [None, Some(fieldcase::vault::SEGMENT_DIR)] {
        let (from, to) = match sub {
            None => (a.clone(), b.clone()),
            Some(s) => (a.join(s), b.join(s)),
        };
        for e in fs::read_dir(&from).unwrap() {
            let e = e.unwrap();
            if e.path().is_file() {
                fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
    }
    for (dir, key) in [(&a, "only-a"), (&b, "only-b")] {
        let mut v = open(dir);
        put(&mut v, key, "1");
        v.checkpoint().unwrap();
        drop(v);
    }
    let mut v = open(&a);
    put(&mut v, "a-after", "1");
    drop(v);
    fs::copy(a.join("journal-2.log"), b.join("journal-2.log")).unwrap();
    let v = open(&b);
    assert_eq!(keys(&v), ["only-b"]);
    let t = v.recovery_report().tail_cut.clone().expect("cut reported");
    assert_eq!((t.offset, t.first_lost_seq), (16, 1));
    assert!(t.reason.contains("chain"), "{}", t.reason);
}

#[test]
fn identity_of_a_newer_format_version_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    drop(init(&dir));
    let json = br#"{"format":"fieldcase-identity","version":4,"something_new":true}"#;
    let mut r = age::scrypt::Recipient::new(pass());
    r.set_work_factor(TEST_LOG_N);
    let enc = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
    let mut ct = Vec::new();
    let mut w = enc.wrap_output(&mut ct).unwrap();
    std::io::Write::write_all(&mut w, json).unwrap();
    w.finish().unwrap();
    fs::write(dir.join("identity.age"), ct).unwrap();
    let err = open_err(&dir);
    assert!(matches!(err, VaultError::UnsupportedVersion { version: 4, .. }), "{err}");
    assert!(err.to_string().contains("newer Fieldcase"), "{err}");
}

/// Frames `f0..f{n-1}`, each putting three keys `f{i}-0..2`.
fn frames(n: usize) -> Vec<Vec<serde_json::Value>> {
    (0..n).map(|i| (0..3).map(|j| kv_put(&format!("f{i}-{j}"), "v")).collect()).collect()
}

fn frame_keys(n: usize) -> Vec<String> {
    let mut k: Vec<String> = (0..n).flat_map(|i| (0..3).map(move |j| format!("f{i}-{j}"))).collect();
    k.sort();
    k
}

#[test]
fn several_frames_commit_in_order_each_durable_and_replayed() {
    // commit_frames seals (encrypts) the next frame on another thread while
    // it applies the one before: the journal must still chain every frame.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut v = init(&dir);
    put(&mut v, "before", "v");
    let frames_before = v.stats().journal_frames;
    v.commit_frames(frames(5)).unwrap();
    assert_eq!(v.stats().journal_frames, frames_before + 5);
    put(&mut v, "after", "v");
    drop(v);
    let v = open(&dir);
    assert!(v.recovery_report().is_clean(), "{:?}", v.recovery_report());
    assert_eq!(v.recovery_report().frames_replayed, frames_before + 6);
    let mut want = frame_keys(5);
    want.extend(["after".to_owned(), "before".to_owned()]);
    want.sort();
    assert_eq!(keys(&v), want);
}

#[test]
fn a_frame_the_applier_refuses_stops_commit_frames_and_keeps_the_frames_before() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut v = init(&dir);
    let mut f = frames(5);
    f[2].push(serde_json::json!({"neither": "put nor delete"}));
    let err = v.commit_frames(f).unwrap_err();
    assert!(err.to_string().contains("unknown entry"), "{err}");
    assert_eq!(keys(&v), frame_keys(2));
    assert_eq!(v.stats().journal_frames, 2);
    // The vault goes on: the next commit chains onto frame 2.
    put(&mut v, "next", "v");
    drop(v);
    let v = open(&dir);
    assert!(v.recovery_report().is_clean(), "{:?}", v.recovery_report());
    let mut want = frame_keys(2);
    want.push("next".to_owned());
    want.sort();
    assert_eq!(keys(&v), want);
}

#[test]
fn a_crash_during_commit_frames_keeps_a_prefix_of_whole_frames() {
    crash_at_every_step_keeps_whole_frames(|v| v.commit_frames(frames(4)).map_err(|e| e.to_string()));
}

/// Run `commit` (of `frames(4)`) on a vault that crashes after storage step
/// k, for every k until one run passes: after each crash, every frame
/// acknowledged in memory is durable, and what is on disk is whole frames,
/// in order.
fn crash_at_every_step_keeps_whole_frames(commit: impl Fn(&mut Vault) -> Result<(), String>) {
    let tmp = tempfile::tempdir().unwrap();
    let mut k = 0;
    loop {
        let dir = tmp.path().join(format!("v{k}"));
        let (mut v, faults, _) = faulty_vault(&dir);
        faults.crash_after(k);
        let result = commit(&mut v);
        let crashed = faults.crashed();
        assert_eq!(result.is_err(), crashed, "step {k}: {result:?}");
        let applied = keys(&v).len() - 5;
        drop(v);
        let v = open(&dir);
        let got: Vec<String> = keys(&v).into_iter().filter(|key| key.starts_with('f')).collect();
        assert_eq!(got.len() % 3, 0, "step {k}: {got:?}");
        assert!(got.len() >= applied, "step {k}: {} durable, {applied} applied", got.len());
        assert_eq!(got, frame_keys(got.len() / 3), "step {k}");
        if !crashed {
            assert_eq!(got, frame_keys(4));
            break;
        }
        k += 1;
    }
}

/// A gate for commit_frames_gated: a check that answers `verdict` after
/// `ms` milliseconds.
fn gate_after(verdict: Result<(), String>, ms: u64) -> std::thread::JoinHandle<Result<(), String>> {
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(ms));
        verdict
    })
}

#[test]
fn a_refusing_gate_commits_nothing_even_after_the_frames_were_applied() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut v = init(&dir);
    put(&mut v, "before", "v");
    let frames_before = v.stats().journal_frames;
    // The check says "no" only after the commit applied frames and waits.
    let err = v.commit_frames_gated(frames(5), Some(gate_after(Err("bad signature".into()), 200))).unwrap_err();
    assert!(matches!(&err, GatedCommitError::Refused(reason) if reason == "bad signature"), "{err:?}");
    assert_eq!(keys(&v), vec!["before".to_owned()], "the applied frames were rolled back");
    assert_eq!(v.stats().journal_frames, frames_before, "nothing reached the journal");
    // The vault goes on, and nothing of the refused frames comes back.
    put(&mut v, "next", "v");
    drop(v);
    let v = open(&dir);
    assert!(v.recovery_report().is_clean(), "{:?}", v.recovery_report());
    assert_eq!(keys(&v), vec!["before".to_owned(), "next".to_owned()]);
}

#[test]
fn a_passing_gate_commits_every_frame_held_or_not() {
    // Passed before the first frame, after a few, and after all of them.
    for ms in [0u64, 30, 1_000] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("v");
        let mut v = init(&dir);
        let frames_before = v.stats().journal_frames;
        v.commit_frames_gated(frames(6), Some(gate_after(Ok(()), ms))).unwrap();
        assert_eq!(keys(&v), frame_keys(6), "gate after {ms} ms");
        assert_eq!(v.stats().journal_frames, frames_before + 6, "every frame journaled, gate after {ms} ms");
        drop(v);
        let v = open(&dir);
        assert!(v.recovery_report().is_clean(), "{:?}", v.recovery_report());
        assert_eq!(keys(&v), frame_keys(6), "after reopening, gate after {ms} ms");
    }
}

#[test]
fn a_gate_that_panics_commits_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut v = init(&dir);
    let g: std::thread::JoinHandle<Result<(), String>> = std::thread::spawn(|| panic!("the check broke"));
    let err = v.commit_frames_gated(frames(3), Some(g)).unwrap_err();
    assert!(matches!(err, GatedCommitError::GateStopped), "{err:?}");
    assert!(keys(&v).is_empty());
    drop(v);
    assert!(keys(&open(&dir)).is_empty());
}

#[test]
fn a_frame_refused_while_the_gate_is_pending_commits_nothing_after_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut v = init(&dir);
    let mut f = frames(5);
    f[3].push(serde_json::json!({"neither": "put nor delete"}));
    let err = v.commit_frames_gated(f, Some(gate_after(Ok(()), 0))).unwrap_err();
    assert!(matches!(&err, GatedCommitError::Vault(e) if e.to_string().contains("unknown entry")), "{err:?}");
    drop(v);
    let v = open(&dir);
    let got: Vec<String> = keys(&v);
    // Frames 0..3 were either all held (nothing) or committed after the
    // gate passed (a prefix of whole frames); never frame 3 or later.
    assert!(got.is_empty() || got == frame_keys(got.len() / 3), "{got:?}");
    assert!(got.len() <= 9, "{got:?}");
}

#[test]
fn a_crash_while_flushing_held_frames_keeps_a_prefix_of_whole_frames() {
    // The gate passes after every frame was applied: all are flushed at once.
    crash_at_every_step_keeps_whole_frames(|v| {
        v.commit_frames_gated(frames(4), Some(gate_after(Ok(()), 100))).map_err(|e| format!("{e:?}"))
    });
}
