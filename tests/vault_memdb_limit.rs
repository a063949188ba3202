//! The ceiling of an unlocked vault's database (.cargo/config.toml): memdb
//! holds the whole database in one allocation that doubles as it grows, and
//! SQLite refuses single allocations over 2,147,483,391 bytes. The bundled
//! SQLite's memdb limit is set to exactly that, so growth clamps at 2 GiB
//! instead of failing once the doubled size passes it (which happened at
//! about 1 GiB with the former 1 TiB limit).
use rusqlite::{Connection, MAIN_DB};

/// Grow a deserialized database (how every unlocked vault is held) from
/// empty to 1.9 GB in 100 MB steps, as a busy office vault grows. Needs about
/// 2 GB of memory and some seconds, so it runs on demand:
/// `cargo test --release --test vault_memdb_limit -- --ignored`.
#[test]
#[ignore = "allocates 2 GB; run on demand (see the doc comment)"]
fn deserialized_database_grows_to_1_9_gb() {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("CREATE TABLE t(b BLOB);").unwrap();
    let image = conn.serialize(MAIN_DB).unwrap().to_vec();
    let mut loaded = Connection::open_in_memory().unwrap();
    loaded.deserialize_read_exact(MAIN_DB, &image[..], image.len(), false).unwrap();
    for step in 0..19 {
        if let Err(e) = loaded.execute("INSERT INTO t VALUES (zeroblob(100000000))", []) {
            panic!("growth stopped after {step} x 100 MB: {e}");
        }
    }
    let pages: i64 = loaded.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
    assert!(pages * 4096 > 1_900_000_000);
}

/// Appends a blob of the size each entry names (the journal stays small
/// while the database grows).
struct BlobApplier;

impl fieldcase::vault::Applier for BlobApplier {
    fn migrate(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute_batch("CREATE TABLE IF NOT EXISTS b(x BLOB);")
    }
    fn apply(
        &self,
        tx: &rusqlite::Transaction<'_>,
        entries: &[serde_json::Value],
    ) -> Result<(), fieldcase::vault::ApplyError> {
        for e in entries {
            let n = e.as_i64().unwrap_or(0);
            tx.execute("INSERT INTO b VALUES (zeroblob(?1))", [n])
                .map_err(|e| fieldcase::vault::ApplyError(format!("the change was refused: database error: {e}")))?;
        }
        Ok(())
    }
}

/// A vault filled to the limit refuses the next change with a "vault is
/// full" error that says what to do, keeps every change saved before it, and
/// unlocks again. Needs about 2.2 GB of memory: run on demand with
/// `cargo test --release --test vault_memdb_limit -- --ignored`.
#[test]
#[ignore = "allocates 2.2 GB; run on demand (see the doc comment)"]
fn a_full_vault_says_so_and_keeps_what_was_saved() {
    use fieldcase::vault::{InitOptions, SecretString, Vault, VaultError, VaultOptions, DATABASE_LIMIT_BYTES};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let pass = || SecretString::from("a passphrase for the limit".to_owned());
    let opts = VaultOptions { scrypt_log_n: Some(10), checkpoint_bytes: u64::MAX, ..VaultOptions::default() };
    let v = Vault::init_with(&dir, &pass(), InitOptions::default(), Box::new(BlobApplier), &opts).unwrap();
    // Unlocking is what puts the database in memdb (a new vault's database
    // is a plain :memory: one until it is first unlocked).
    drop(v);
    let mut v = Vault::open_with(&dir, &pass(), Box::new(BlobApplier), &opts).unwrap();
    let mut saved = 0u64;
    let err = loop {
        match v.commit(vec![serde_json::json!(100_000_000)]) {
            Ok(()) => saved += 1,
            Err(e) => break e,
        }
        assert!(saved < 40, "4 GB accepted: the limit is not where the vault says");
    };
    assert!(matches!(err, VaultError::DatabaseFull { .. }), "{err}");
    assert!(err.to_string().contains("the vault is full"), "{err}");
    let stats = v.stats();
    assert!(stats.database_bytes > DATABASE_LIMIT_BYTES / 2 && stats.database_bytes <= DATABASE_LIMIT_BYTES);
    assert!(saved >= 18, "only {saved} x 100 MB before full");
    drop(v);
    let v = Vault::open_with(&dir, &pass(), Box::new(BlobApplier), &opts).unwrap();
    let rows: i64 = v.conn().query_row("SELECT count(*) FROM b", [], |r| r.get(0)).unwrap();
    assert_eq!(rows as u64, saved, "every change saved before the full one is there after unlocking");
}
