//! Vault format 2 (docs/vault-format.md §3.2, §5, §6): the snapshot is a
//! manifest of age-encrypted segments. A checkpoint rewrites only the
//! segments that changed and deletes the ones no longer listed; unlock
//! refuses any manifest that does not match, a segment that does not match
//! is refused when loaded (at unlock or later), and a version-1 vault still
//! opens and its next checkpoint upgrades it.
#[path = "common/vault.rs"]
mod cv;

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cv::*;
use fieldcase::vault::{
    kv_put, FaultStorage, InitOptions, KvApplier, SecretString, Vault, VaultError, VaultOptions, SEGMENT_DIR,
};
use secrecy::ExposeSecret;

/// One SQLite page per segment, so a small database has dozens of them.
const SEG: usize = 4096;

fn seg_options() -> VaultOptions {
    VaultOptions { snapshot_segment_bytes: SEG, ..options() }
}

fn open_seg(dir: &Path) -> Result<Vault, VaultError> {
    Vault::open_with(dir, &pass(), Box::new(KvApplier), &seg_options())
}

/// A vault with an escrow identity we hold, so the test can read the files
/// as the office would.
fn escrow_vault(dir: &Path) -> (Vault, age::x25519::Identity) {
    let escrow = age::x25519::Identity::generate();
    let opts =
        InitOptions { name: "Amina".into(), role: "caseworker".into(), escrow: Some(escrow.to_public().to_string()) };
    let v = Vault::init_with(dir, &pass(), opts, Box::new(KvApplier), &seg_options()).unwrap();
    (v, escrow)
}

fn decrypt(id: &age::x25519::Identity, bytes: &[u8]) -> Vec<u8> {
    let d = age::Decryptor::new(bytes).unwrap();
    let mut r = d.decrypt(std::iter::once(id as &dyn age::Identity)).unwrap();
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    out
}

fn encrypt_to(recipient: &str, plain: &[u8]) -> Vec<u8> {
    let r: age::x25519::Recipient = recipient.parse().unwrap();
    let enc = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).unwrap();
    w.write_all(plain).unwrap();
    w.finish().unwrap();
    out
}

fn manifest(dir: &Path, id: &age::x25519::Identity) -> serde_json::Value {
    serde_json::from_slice(&decrypt(id, &fs::read(dir.join("snapshot.age")).unwrap())).unwrap()
}

fn listed(m: &serde_json::Value) -> Vec<String> {
    m["segments"].as_array().unwrap().iter().map(|s| s["file"].as_str().unwrap().to_owned()).collect()
}

fn on_disk(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir.join(SEGMENT_DIR))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn seg_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(SEGMENT_DIR).join(name)
}

fn put_many(v: &mut Vault, from: usize, n: usize) {
    for i in from..from + n {
        put(v, &format!("key{i:04}"), &format!("{i} {}", "x".repeat(300 + i % 97)));
    }
}

#[test]
fn checkpoints_rewrite_only_changed_segments_and_erase_old_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let (mut v, escrow) = escrow_vault(&dir);
    put_many(&mut v, 0, 300);
    v.commit(vec![kv_put("secret", "ERASE-ME-UNIQUE-VALUE")]).unwrap();
    v.checkpoint().unwrap();
    let m = manifest(&dir, &escrow);
    assert_eq!(m["version"], 3);
    assert_eq!(m["generation"], 2);
    let files = listed(&m);
    assert!(files.len() >= 20, "expected many segments, got {}", files.len());
    assert_eq!(on_disk(&dir), files.iter().cloned().collect(), "exactly the listed files are on disk");

    // The decrypted segments, concatenated, are the SQLite image.
    let mut image = Vec::new();
    let mut holding_secret = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let plain = decrypt(&escrow, &fs::read(seg_path(&dir, f)).unwrap());
        assert_eq!(m["segments"][i]["offset"], image.len() as u64);
        if plain.windows(21).any(|w| w == b"ERASE-ME-UNIQUE-VALUE") {
            holding_secret.push(f.clone());
        }
        image.extend_from_slice(&plain);
    }
    assert!(image.starts_with(b"SQLite format 3\0"));
    assert_eq!(m["image_len"], image.len() as u64);
    assert!(!holding_secret.is_empty());

    // One small commit: only a few segments are rewritten.
    for round in 0..3 {
        let before = on_disk(&dir);
        put(&mut v, "key0150", &format!("changed {round}"));
        v.checkpoint().unwrap();
        let gen = v.stats().generation;
        let m = manifest(&dir, &escrow);
        let files = listed(&m);
        let new: Vec<_> = files.iter().filter(|f| f.starts_with(&format!("{gen}-"))).collect();
        assert!(
            !new.is_empty() && new.len() <= 5,
            "round {round}: rewrote {} of {} segments: {new:?}",
            new.len(),
            files.len()
        );
        let kept = files.iter().filter(|f| before.contains(*f)).count();
        assert_eq!(kept + new.len(), files.len());
        assert_eq!(on_disk(&dir), files.iter().cloned().collect(), "replaced segment files are deleted");
    }

    // Deleting a row: the old segment files that held it are gone, and no
    // current segment holds it.
    v.commit(vec![serde_json::json!({"delete": "secret"})]).unwrap();
    v.checkpoint().unwrap();
    let m = manifest(&dir, &escrow);
    for f in &holding_secret {
        assert!(!seg_path(&dir, f).exists(), "{f} held the deleted value and must be gone");
    }
    for f in listed(&m) {
        let plain = decrypt(&escrow, &fs::read(seg_path(&dir, &f)).unwrap());
        assert!(!plain.windows(21).any(|w| w == b"ERASE-ME-UNIQUE-VALUE"), "{f} still holds the deleted value");
    }
    put_many(&mut v, 300, 50);
    drop(v);

    // Round trip, with the default segment size on the reading side.
    let v = open(&dir);
    assert!(v.recovery_report().is_clean(), "{:?}", v.recovery_report());
    assert_eq!(count(&v), 350);
    assert_eq!(get(&v, "key0150").as_deref(), Some("changed 2"));
    assert_eq!(get(&v, "secret"), None);
    v.lock().unwrap();
    let v = open_seg(&dir).unwrap();
    assert_eq!(count(&v), 350);
}

/// A vault at generation 3 whose generation-2 segment files were kept aside.
struct Tampered {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    old: Vec<(String, Vec<u8>)>,
    old_manifest: Vec<u8>,
    recipient: String,
}

fn tamper_fixture() -> Tampered {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut v = Vault::init_with(&dir, &pass(), InitOptions::default(), Box::new(KvApplier), &seg_options()).unwrap();
    put_many(&mut v, 0, 100);
    v.checkpoint().unwrap();
    let old = on_disk(&dir).into_iter().map(|n| (n.clone(), fs::read(seg_path(&dir, &n)).unwrap())).collect();
    let old_manifest = fs::read(dir.join("snapshot.age")).unwrap();
    put(&mut v, "key0050", "changed");
    let recipient = v.files_recipient();
    v.lock().unwrap();
    Tampered { _tmp: tmp, dir, old, old_manifest, recipient }
}

/// Damage is refused: by the unlock itself (a bad manifest, a missing or
/// truncated file, a segment needed to open the database), or, for a
/// segment loaded after unlocking, as `DamagedSegment` once the whole
/// database is loaded. Either way nothing is deleted.
fn assert_refused(dir: &Path, what: &str) -> String {
    let segs_before = on_disk(dir);
    let err = match open_seg(dir) {
        Err(e) => e,
        Ok(mut v) => {
            let e = v.wait_loaded().expect_err(what);
            assert!(matches!(e, VaultError::DamagedSegment { .. }), "{what}: {e}");
            assert!(v.damaged_segment().is_some());
            e
        }
    };
    assert!(
        matches!(
            err,
            VaultError::CorruptSnapshot { .. } | VaultError::DamagedSegment { .. } | VaultError::Tampered { .. }
        ),
        "{what}: {err}"
    );
    assert_eq!(on_disk(dir), segs_before, "{what}: a refused unlock deletes nothing");
    err.to_string()
}

#[test]
fn tampered_segments_are_refused_and_nothing_is_half_loaded() {
    let t = tamper_fixture();
    let dir = &t.dir;
    let current = on_disk(dir);
    let new: Vec<&String> = current.iter().filter(|n| n.starts_with("3-")).collect();
    assert!(!new.is_empty());
    let victim = new[0].clone();
    let good = fs::read(seg_path(dir, &victim)).unwrap();
    let index = victim.trim_start_matches("3-").to_owned();
    let (_, older) =
        t.old.iter().find(|(n, _)| n.ends_with(&format!("-{index}"))).expect("same slice, older generation");

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("segment of an older generation swapped in", older.clone()),
        ("truncated segment", good[..good.len() - 10].to_vec()),
        ("bit flip in a segment", {
            let mut b = good.clone();
            let n = b.len();
            b[n / 2] ^= 1;
            b
        }),
        ("empty segment", Vec::new()),
    ];
    for (what, bytes) in cases {
        fs::write(seg_path(dir, &victim), &bytes).unwrap();
        let msg = assert_refused(dir, what);
        assert!(msg.contains(&victim), "{what}: the error names the segment: {msg}");
    }
    fs::remove_file(seg_path(dir, &victim)).unwrap();
    let msg = assert_refused(dir, "missing segment");
    assert!(msg.contains("missing"), "{msg}");
    fs::write(seg_path(dir, &victim), &good).unwrap();

    // The previous manifest: its replaced segments were deleted by the checkpoint.
    let good_manifest = fs::read(dir.join("snapshot.age")).unwrap();
    fs::write(dir.join("snapshot.age"), &t.old_manifest).unwrap();
    assert_refused(dir, "older manifest whose segments are gone");
    fs::write(dir.join("snapshot.age"), &good_manifest).unwrap();

    // Unknown files in segments/ are not listed: removed at unlock, reported.
    fs::write(seg_path(dir, "99-0.age"), b"stray").unwrap();
    fs::write(seg_path(dir, "notes.txt"), b"stray").unwrap();
    fs::write(seg_path(dir, "3-0.age.tmp"), b"stray").unwrap();
    let v = open_seg(dir).unwrap();
    assert_eq!(count(&v), 100);
    assert_eq!(get(&v, "key0050").as_deref(), Some("changed"));
    let r = v.recovery_report();
    assert_eq!(r.stale_segments, ["segments/99-0.age", "segments/notes.txt"]);
    assert_eq!(r.temp_files_removed, ["segments/3-0.age.tmp"]);
    assert!(!r.is_clean());
    drop(v);
    assert_eq!(on_disk(dir), current);
    assert!(open_seg(dir).unwrap().recovery_report().is_clean());
}

#[test]
fn forged_manifests_are_refused_before_anything_is_loaded() {
    let t = tamper_fixture();
    let dir = &t.dir;
    // A manifest encrypted to the vault's files' recipient (an attacker who
    // learned it can make one): without the vault key its tag cannot be
    // right, so each is refused as modified outside Fieldcase before any
    // of its numbers is used (the structure checks behind the tag are unit
    // tests of segments::parse_manifest).
    let good_manifest = fs::read(dir.join("snapshot.age")).unwrap();
    // The vault's own key is sealed in identity.age: rebuild a manifest
    // from the files on disk instead (one 4096-byte page per segment).
    let segs = {
        let files = on_disk(dir);
        let mut segs: Vec<(u64, String)> = files
            .iter()
            .map(|f| {
                let (_, i) = f.trim_end_matches(".age").split_once('-').unwrap();
                (i.parse::<u64>().unwrap(), f.clone())
            })
            .collect();
        segs.sort();
        segs
    };
    let sha = |b: &[u8]| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b));
    let entries: Vec<serde_json::Value> = segs
        .iter()
        .map(|(i, f)| {
            let ct = fs::read(seg_path(dir, f)).unwrap();
            serde_json::json!({"file": f, "offset": i * SEG as u64, "len": SEG as u64, "sha256": sha(&ct), "plain_sha256": "00".repeat(32)})
        })
        .collect();
    let total = SEG as u64 * entries.len() as u64;
    let base = serde_json::json!({"format": "fieldcase-snapshot", "version": 3, "generation": 3, "image_len": total, "segments": entries, "mac": "00".repeat(32)});
    let forge = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut m = base.clone();
        edit(&mut m);
        encrypt_to(&t.recipient, &serde_json::to_vec(&m).unwrap())
    };
    let tampered = "modified outside Fieldcase";
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("as written, with a guessed tag", forge(&|_| {}), tampered),
        ("without a tag", forge(&|m| m.as_object_mut().unwrap().remove("mac").map(drop).unwrap()), tampered),
        ("as format 2, untagged", forge(&|m| m["version"] = serde_json::json!(2)), tampered),
        ("overlap", forge(&|m| m["segments"][1]["offset"] = serde_json::json!(SEG as u64 - 1)), tampered),
        ("absurd size", forge(&|m| m["segments"][0]["len"] = serde_json::json!(1u64 << 50)), tampered),
        ("path in a name", forge(&|m| m["segments"][0]["file"] = serde_json::json!("../identity.age")), tampered),
        ("wrong format", forge(&|m| m["format"] = serde_json::json!("other")), "format"),
        ("not JSON", encrypt_to(&t.recipient, b"{not json"), "JSON"),
        ("neither manifest nor SQLite", encrypt_to(&t.recipient, b"hello"), "neither"),
    ];
    for (what, bytes, needle) in cases {
        fs::write(dir.join("snapshot.age"), &bytes).unwrap();
        let msg = assert_refused(dir, what);
        assert!(msg.contains(needle), "{what}: {msg}");
    }
    fs::write(dir.join("snapshot.age"), forge(&|m| m["version"] = serde_json::json!(4))).unwrap();
    assert!(matches!(open_seg(dir), Err(VaultError::UnsupportedVersion { version: 4, .. })));
    fs::write(dir.join("snapshot.age"), &good_manifest).unwrap();
    assert_eq!(count(&open_seg(dir).unwrap()), 100);
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn a_version_1_vault_opens_and_its_next_checkpoint_upgrades_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/vault-v1");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    copy_dir(&src, &dir);
    assert!(!dir.join(SEGMENT_DIR).exists());
    let pass = SecretString::from("fieldcase test vector v1".to_owned());
    let opts = seg_options();
    let mut v = Vault::open_with(&dir, &pass, Box::new(KvApplier), &opts).unwrap();
    assert!(v.recovery_report().is_clean(), "{:?}", v.recovery_report());
    assert_eq!(keys(&v), ["alpha", "gamma"]);
    // Unlocking upgraded it to format 3: a checkpoint wrote every segment.
    assert_eq!(v.stats().generation, 3);
    let upgraded = on_disk(&dir);
    assert!(upgraded.len() > 1 && upgraded.iter().all(|f| f.starts_with("3-")), "{upgraded:?}");
    put(&mut v, "delta", "4");
    v.checkpoint().unwrap();
    assert_eq!(v.stats().generation, 4);
    put(&mut v, "epsilon", "5");
    drop(v);
    let segs = on_disk(&dir);
    assert!(segs.iter().all(|f| f.starts_with("3-") || f.starts_with("4-")), "{segs:?}");
    let mut v = Vault::open_with(&dir, &pass, Box::new(KvApplier), &opts).unwrap();
    assert!(v.recovery_report().is_clean(), "{:?}", v.recovery_report());
    assert_eq!(keys(&v), ["alpha", "delta", "epsilon", "gamma"]);
    let id = fs::read_to_string(dir.join("blob-id.txt")).unwrap();
    assert_eq!(&v.get_blob(id.trim()).unwrap()[..], b"vector attachment v1");
    v.checkpoint().unwrap();
    drop(v);
    let v = Vault::open_with(&dir, &pass, Box::new(KvApplier), &opts).unwrap();
    assert_eq!(keys(&v), ["alpha", "delta", "epsilon", "gamma"]);
}

#[test]
fn stray_segments_next_to_a_version_1_snapshot_are_removed() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/vault-v1");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    copy_dir(&src, &dir);
    fs::create_dir(dir.join(SEGMENT_DIR)).unwrap();
    fs::write(seg_path(&dir, "2-0.age"), b"left by something").unwrap();
    let pass = SecretString::from("fieldcase test vector v1".to_owned());
    let v = Vault::open_with(&dir, &pass, Box::new(KvApplier), &options()).unwrap();
    assert_eq!(v.recovery_report().stale_segments, ["segments/2-0.age"]);
    // The upgrade's checkpoint wrote the image as format-3 segments.
    assert!(!on_disk(&dir).contains("2-0.age"));
    assert!(on_disk(&dir).iter().all(|f| f.starts_with("3-")), "{:?}", on_disk(&dir));
}

/// k0..k99 with many segments, one checkpoint done (so the next reuses files).
fn faulty_segmented_vault(dir: &Path) -> FaultStorage {
    let faults = FaultStorage::new();
    let opts = VaultOptions { storage: Arc::new(faults.clone()), ..seg_options() };
    let mut v = Vault::init_with(dir, &pass(), InitOptions::default(), Box::new(KvApplier), &opts).unwrap();
    put_many(&mut v, 0, 60);
    v.checkpoint().unwrap();
    drop(v);
    faults
}

fn open_faulty(dir: &Path, faults: &FaultStorage) -> Vault {
    let opts = VaultOptions { storage: Arc::new(faults.clone()), ..seg_options() };
    Vault::open_with(dir, &pass(), Box::new(KvApplier), &opts).unwrap()
}

#[test]
fn crash_after_every_step_of_a_segmented_checkpoint_keeps_every_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let mut k = 0;
    let mut saw = BTreeSet::new();
    loop {
        let dir = tmp.path().join(format!("v{k}"));
        let faults = faulty_segmented_vault(&dir);
        let mut v = open_faulty(&dir, &faults);
        put(&mut v, "key0010", "changed");
        put(&mut v, "new", "1");
        faults.crash_after(k);
        let result = v.checkpoint();
        let crashed = faults.crashed();
        assert_eq!(result.is_err(), crashed, "step {k}: {result:?}");
        if let Some(line) = faults.log().last() {
            saw.insert(line.split_whitespace().nth(1).unwrap_or("").to_owned());
        }
        drop(v);
        let v = open_seg(&dir).unwrap();
        assert_eq!(count(&v), 61, "crash after step {k}: {:?}", v.recovery_report());
        assert_eq!(get(&v, "key0010").as_deref(), Some("changed"), "step {k}");
        drop(v);
        // The first unlock removed every leftover; the second finds none.
        let mut v = open_seg(&dir).unwrap();
        assert!(v.recovery_report().is_clean(), "step {k}: {:?}", v.recovery_report());
        put(&mut v, "after", "1");
        v.checkpoint().unwrap();
        drop(v);
        assert_eq!(count(&open_seg(&dir).unwrap()), 62, "step {k}");
        if !crashed {
            assert!(k >= 8, "a segmented checkpoint has more steps, got {k}");
            break;
        }
        k += 1;
    }
    for op in ["create", "write", "sync", "sync_dir", "rename", "remove"] {
        assert!(saw.contains(op), "a crash was simulated after a {op}: {saw:?}");
    }
}

#[test]
fn failed_segment_write_or_manifest_rename_leaves_the_old_snapshot_loadable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let faults = faulty_segmented_vault(&dir);
    let before = on_disk(&dir);
    let mut v = open_faulty(&dir, &faults);
    put(&mut v, "key0010", "changed");
    for budget in [0, 100, 3000] {
        faults.fail_writes_after(budget);
        let err = v.checkpoint().unwrap_err();
        assert!(matches!(err, VaultError::DiskFull { .. }), "{err}");
        assert!(err.to_string().contains(SEGMENT_DIR), "the error names the segment file: {err}");
        assert_eq!(v.stats().generation, 2);
        assert_eq!(on_disk(&dir), before, "budget {budget}: the new segment files are removed");
        assert!(!dir.join("snapshot.age.tmp").exists());
    }
    faults.heal();
    put(&mut v, "new", "1");
    v.checkpoint().unwrap();
    drop(v);
    assert_eq!(count(&open_seg(&dir).unwrap()), 61);

    // The rename of the manifest is the commit point: crash exactly there
    // (the first k whose last successful step is the manifest's fsync).
    for k in 0.. {
        let dir = tmp.path().join(format!("rename{k}"));
        let faults = faulty_segmented_vault(&dir);
        let mut v = open_faulty(&dir, &faults);
        put(&mut v, "key0010", "changed");
        put(&mut v, "new", "1");
        let before = on_disk(&dir);
        faults.crash_after(k);
        let err = v.checkpoint().expect_err("crashes before the end");
        drop(v);
        let last = faults.log().last().cloned().unwrap_or_default();
        if !(last.contains(" sync ") && last.ends_with("snapshot.age.tmp")) {
            continue;
        }
        assert!(err.to_string().contains("rename"), "{err}");
        faults.heal();
        let v = open_seg(&dir).unwrap();
        assert_eq!(v.stats().generation, 2, "the old snapshot is the one loaded");
        assert_eq!(count(&v), 61);
        assert_eq!(get(&v, "key0010").as_deref(), Some("changed"), "replayed from the old journal");
        assert_eq!(on_disk(&dir), before, "the new generation's segment files are gone");
        break;
    }
}

#[test]
fn stock_age_reads_the_segments_as_documented() {
    if std::process::Command::new("age").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI must have the age tool");
        eprintln!("SKIPPED: needs the age tool");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let (mut v, escrow) = escrow_vault(&dir);
    put_many(&mut v, 0, 40);
    v.lock().unwrap();
    let key = tmp.path().join("escrow.key");
    fs::write(&key, format!("{}\n", escrow.to_string().expose_secret())).unwrap();
    let age_d = |input: &Path| {
        let out = std::process::Command::new("age").arg("-d").arg("-i").arg(&key).arg(input).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    let m: serde_json::Value = serde_json::from_slice(&age_d(&dir.join("snapshot.age"))).unwrap();
    let mut image = Vec::new();
    for f in listed(&m) {
        image.extend(age_d(&seg_path(&dir, &f)));
    }
    let db = tmp.path().join("db.sqlite");
    fs::write(&db, &image).unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let n: i64 = conn.query_row("SELECT count(*) FROM kv", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 40);
}

/// Unlocking decrypts only the segments opening the database reads; the
/// others load when first read (here without the background prefetch, so
/// the test sees exactly what was read). A damaged segment that opening does
/// not need lets the vault unlock; only the reads that need it fail, naming
/// it, and checkpoints keep listing it rather than replacing it.
#[test]
fn unlock_reads_only_what_it_needs_and_a_damaged_segment_fails_only_its_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut v = Vault::init_with(&dir, &pass(), InitOptions::default(), Box::new(KvApplier), &seg_options()).unwrap();
    put_many(&mut v, 0, 300);
    v.lock().unwrap();
    let lazy = VaultOptions { prefetch: false, ..seg_options() };
    let open_lazy = || Vault::open_with(&dir, &pass(), Box::new(KvApplier), &lazy);

    let v = open_lazy().unwrap();
    let s = v.stats();
    assert!(s.database_chunks > 20, "{s:?}");
    assert!(s.database_chunks_loaded * 4 < s.database_chunks, "unlock loaded {s:?}");
    assert_eq!(get(&v, "key0123").as_deref(), Some(format!("123 {}", "x".repeat(300 + 123 % 97)).as_str()));
    assert_eq!(count(&v), 300);
    assert!(v.stats().database_chunks_loaded > s.database_chunks_loaded, "reads load segments");
    drop(v);

    // Damage a segment in the middle of the file (table rows), not one that
    // opening reads (the first pages: schema and vault metadata).
    let m = on_disk(&dir);
    let victim = {
        let mut names: Vec<(u64, String)> = m
            .iter()
            .map(|n| (n.trim_end_matches(".age").split_once('-').unwrap().1.parse().unwrap(), n.clone()))
            .collect();
        names.sort();
        names[names.len() / 2].1.clone()
    };
    let mut bytes = fs::read(seg_path(&dir, &victim)).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    fs::write(seg_path(&dir, &victim), &bytes).unwrap();

    let mut v = open_lazy().expect("a segment opening does not read does not stop the unlock");
    assert!(v.damaged_segment().is_none());
    let scan = v.conn().query_row("SELECT count(*) FROM kv WHERE length(value) > 0", [], |r| r.get::<_, i64>(0));
    assert!(scan.is_err(), "a scan needs the damaged segment");
    let damaged = v.damaged_segment().expect("the damage is reported");
    assert!(matches!(&damaged, VaultError::DamagedSegment { path, .. } if path.ends_with(&victim)), "{damaged}");
    assert!(damaged.to_string().contains(&victim), "{damaged}");
    // Work that does not touch it goes on, and a checkpoint keeps the
    // damaged file listed as it is (nothing is written in its place).
    put(&mut v, "zzz-new", "after the damage");
    v.lock().unwrap();
    assert!(on_disk(&dir).contains(&victim));
    assert_eq!(fs::read(seg_path(&dir, &victim)).unwrap(), bytes);
    let mut v = open_lazy().unwrap();
    assert_eq!(get(&v, "zzz-new").as_deref(), Some("after the damage"));
    assert!(matches!(v.wait_loaded(), Err(VaultError::DamagedSegment { .. })));
}
