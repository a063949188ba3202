//! An unlocked vault's database has no size limit but memory: it is held as
//! chunks of the segment size (crate `fieldcase-vfs`), not in one
//! allocation, which SQLite capped at 2 GiB (about 20,000 cases) when the
//! vault used memdb. Needs about 3 GB of memory and a minute, so it runs on
//! demand: `cargo test --release --test vault_large -- --ignored`.
use fieldcase::vault::{InitOptions, SecretString, Vault, VaultOptions, SEGMENT_DIR};
use rusqlite::Connection;

#[test]
#[ignore = "grows a vault to 2.5 GB; run on demand (see the module comment)"]
fn a_vault_grows_past_2_gib_and_keeps_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let pass = || SecretString::from("a passphrase for a large vault".to_owned());
    let opts = VaultOptions { scrypt_log_n: Some(10), checkpoint_bytes: u64::MAX, ..VaultOptions::default() };
    let mut v = Vault::init_with(&dir, &pass(), InitOptions::default(), Box::new(BlobApplier), &opts).unwrap();
    for step in 0..25 {
        if let Err(e) = v.commit(vec![serde_json::json!(step), serde_json::json!(100_000_000)]) {
            panic!("growth stopped after {step} x 100 MB: {e}");
        }
    }
    assert!(v.stats().database_bytes > 2_500_000_000, "{:?}", v.stats());
    v.lock().unwrap();

    let mut v = Vault::open_with(&dir, &pass(), Box::new(BlobApplier), &opts).unwrap();
    v.wait_loaded().unwrap();
    let stats = v.stats();
    assert_eq!(stats.database_chunks_loaded, stats.database_chunks);
    assert!(stats.database_chunks > 290, "{stats:?}");
    let (rows, last): (i64, i64) =
        v.conn().query_row("SELECT count(*), max(n) FROM b", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!((rows, last), (25, 24));
    // A small change after that rewrites a few segments, not 300.
    let before: Vec<_> = std::fs::read_dir(dir.join(SEGMENT_DIR)).unwrap().map(|e| e.unwrap().file_name()).collect();
    v.commit(vec![serde_json::json!(25), serde_json::json!(10)]).unwrap();
    v.lock().unwrap();
    let after: Vec<_> = std::fs::read_dir(dir.join(SEGMENT_DIR)).unwrap().map(|e| e.unwrap().file_name()).collect();
    let new = after.iter().filter(|n| !before.contains(n)).count();
    assert!((1..=4).contains(&new), "{new} segments rewritten for one small row");
    let v = Vault::open_with(&dir, &pass(), Box::new(BlobApplier), &opts).unwrap();
    let rows: i64 = v.conn().query_row("SELECT count(*) FROM b", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 26);
}

/// Appends a zero blob of the size the second entry names (the journal
/// stays small while the database grows).
struct BlobApplier;

impl fieldcase::vault::Applier for BlobApplier {
    fn migrate(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute_batch("CREATE TABLE IF NOT EXISTS b(n INTEGER, x BLOB);")
    }
    fn apply(
        &self,
        tx: &rusqlite::Transaction<'_>,
        entries: &[serde_json::Value],
    ) -> Result<(), fieldcase::vault::ApplyError> {
        let n = entries.first().and_then(|e| e.as_i64()).unwrap_or(0);
        let size = entries.get(1).and_then(|e| e.as_i64()).unwrap_or(0);
        tx.execute("INSERT INTO b VALUES (?1, zeroblob(?2))", [n, size])
            .map_err(|e| fieldcase::vault::ApplyError(format!("database error: {e}")))?;
        Ok(())
    }
}
