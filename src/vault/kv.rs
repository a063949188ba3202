//! [`KvApplier`]: a minimal key-value [`Applier`] for the vault's own tests,
//! the benchmark and fault drills.
use rusqlite::{Connection, Transaction};
use serde_json::Value;

use super::{Applier, ApplyError};

/// Table `kv(key TEXT PRIMARY KEY, value TEXT)`. Entries are
/// `{"put": key, "value": text}` or `{"delete": key}`.
#[derive(Debug, Default, Clone, Copy)]
pub struct KvApplier;

impl Applier for KvApplier {
    fn migrate(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute_batch("CREATE TABLE kv(key TEXT PRIMARY KEY, value TEXT NOT NULL);")
    }

    fn apply(&self, tx: &Transaction<'_>, entries: &[Value]) -> Result<(), ApplyError> {
        let db = |e: rusqlite::Error| ApplyError(format!("database: {e}"));
        for entry in entries {
            if let Some(key) = entry.get("put").and_then(Value::as_str) {
                let value = entry
                    .get("value")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ApplyError(format!("put {key:?} has no text value")))?;
                tx.prepare_cached(
                    "INSERT INTO kv(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                )
                .and_then(|mut s| s.execute([key, value]))
                .map_err(db)?;
            } else if let Some(key) = entry.get("delete").and_then(Value::as_str) {
                tx.prepare_cached("DELETE FROM kv WHERE key = ?1").and_then(|mut s| s.execute([key])).map_err(db)?;
            } else {
                return Err(ApplyError(format!("unknown entry {entry}")));
            }
        }
        Ok(())
    }
}

/// A `{"put": key, "value": value}` entry.
pub fn kv_put(key: &str, value: &str) -> Value {
    serde_json::json!({ "put": key, "value": value })
}
