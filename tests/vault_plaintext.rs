//! No plaintext on disk: records with a marker string never appear in any
//! file under the vault or in the temporary directory.
#[path = "common/vault.rs"]
mod cv;

use std::path::Path;

use cv::*;
use fieldcase::vault::kv_put;

const MARKER: &str = "ZEBRA-MARKER-7f3a";

/// Every file under `root` whose bytes contain `needle`.
fn files_containing(root: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    hits.push(p.display().to_string());
                }
            }
        }
    }
    hits
}

#[test]
fn marker_records_never_reach_any_file_in_the_vault_or_temp_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let tmpdir = tmp.path().join("tmpdir");
    std::fs::create_dir(&tmpdir).unwrap();
    // This binary holds only this test, so changing the environment is safe.
    std::env::set_var("TMPDIR", &tmpdir);
    std::env::set_var("SQLITE_TMPDIR", &tmpdir);
    let dir = tmp.path().join("v");

    // The scanner finds the marker when it is there.
    std::fs::write(tmpdir.join("control"), format!("xx{MARKER}xx")).unwrap();
    assert_eq!(files_containing(&tmpdir, MARKER.as_bytes()).len(), 1);
    std::fs::remove_file(tmpdir.join("control")).unwrap();

    let mut v = init(&dir);
    for i in 0..300 {
        v.commit(vec![kv_put(&format!("{MARKER}-key-{i}"), &format!("{MARKER} value {i} {}", "q".repeat(500)))])
            .unwrap();
    }
    // Work that could spill to temp files: a large sort and a temp table.
    let n: i64 = v
        .conn()
        .query_row("SELECT count(*) FROM (SELECT value FROM kv ORDER BY substr(value, 10) DESC, key)", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 300);
    v.conn().execute_batch("CREATE TEMP TABLE t AS SELECT * FROM kv; DROP TABLE t;").unwrap();
    let blob = v.put_blob(format!("{MARKER} scanned document").as_bytes()).unwrap();
    assert_eq!(files_containing(&dir, MARKER.as_bytes()), Vec::<String>::new(), "before checkpoint");
    v.checkpoint().unwrap();
    for i in 300..320 {
        put(&mut v, &format!("{MARKER}-after-{i}"), MARKER);
    }
    // A deletion followed by a checkpoint removes the data (secure_delete).
    v.commit(vec![serde_json::json!({"delete": format!("{MARKER}-key-1")})]).unwrap();
    v.lock().unwrap();
    let v = open(&dir);
    assert_eq!(count(&v), 319);
    assert!(v.get_blob(&blob).unwrap().starts_with(MARKER.as_bytes()));
    drop(v);
    assert_eq!(files_containing(&dir, MARKER.as_bytes()), Vec::<String>::new(), "after checkpoint");
    assert_eq!(files_containing(&tmpdir, MARKER.as_bytes()), Vec::<String>::new(), "temp dir");
    let leftovers: Vec<_> = std::fs::read_dir(&tmpdir).unwrap().flatten().map(|e| e.path()).collect();
    assert!(leftovers.is_empty(), "no temp files at all: {leftovers:?}");
}

/// The vault's connection opens every file through the vault's in-memory
/// VFS, which refuses to create databases: no SQL run on it (`VACUUM INTO`,
/// `ATTACH`) can copy the decrypted database into a file.
#[test]
fn sql_on_the_vault_connection_cannot_write_a_database_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut v = init(&dir);
    let entry = kv_put("k", MARKER);
    v.commit(vec![entry]).unwrap();
    let copy = tmp.path().join("copy.sqlite");
    let copy_sql = copy.to_string_lossy().replace('\'', "''");
    assert!(v.conn().execute_batch(&format!("VACUUM INTO '{copy_sql}'")).is_err());
    assert!(v.conn().execute_batch(&format!("ATTACH '{copy_sql}' AS other")).is_err());
    assert!(v.conn().execute_batch(&format!("ATTACH 'file:{copy_sql}?vfs=unix' AS other")).is_err());
    assert!(!copy.exists(), "no file was created");
    assert!(files_containing(tmp.path(), MARKER.as_bytes()).is_empty());
}
