//! The bench's plain-SQLite side: the same database as a vault's, in an
//! ordinary SQLite file on disk, to compare saves against.
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, Result};

/// Copy the vault's database into a plain SQLite file at `path` (SQLite's
/// backup API, page by page) and open it as a careful application would:
/// `journal_mode=WAL, synchronous=FULL`, temporary tables in memory.
/// `VACUUM INTO` cannot do it: a vault's connection opens every file
/// through the vault's in-memory VFS, which refuses to create databases,
/// so no SQL run on it can write plaintext to disk. The copy is plaintext:
/// synthetic data only, and the caller deletes it.
pub fn plain_copy(vault: &Connection, path: &Path) -> Result<Connection> {
    let mut sql = Connection::open(path)?;
    rusqlite::backup::Backup::new(vault, &mut sql)?.run_to_completion(4096, Duration::ZERO, None)?;
    sql.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY;")?;
    Ok(sql)
}

/// Fold the write-ahead log into the file and close it, so the file's
/// size is the database's.
pub fn close_plain_copy(sql: Connection) -> Result<()> {
    sql.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    sql.close().map_err(|(_, e)| e)
}
