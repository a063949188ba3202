//! `snapshot.age`: the whole SQLite database image, age-encrypted to the
//! vault's recipients. The generation lives inside the image, in the table
//! `fieldcase_vault_meta`, so it is authenticated by age and a decrypted
//! snapshot is still a plain SQLite file. See docs/vault-format.md §3.
use std::path::Path;

use age::x25519;
use rusqlite::{Connection, OptionalExtension, MAIN_DB};
use sha2::Digest;
use zeroize::Zeroizing;

use super::envelope;
use super::error::VaultError;
use super::storage::{HashingWriter, Storage};

/// File name of the snapshot.
pub const SNAPSHOT_FILE: &str = "snapshot.age";
/// Temporary name while a checkpoint writes the next snapshot.
pub const SNAPSHOT_TMP: &str = "snapshot.age.tmp";
/// Table holding the vault's own metadata inside the database.
pub const META_TABLE: &str = "fieldcase_vault_meta";

/// Create the metadata table in a fresh database.
pub(crate) fn create_meta(conn: &Connection, generation: u64) -> rusqlite::Result<()> {
    conn.execute_batch(&format!("CREATE TABLE {META_TABLE}(key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;"))?;
    set_generation(conn, generation)?;
    conn.execute(&format!("INSERT INTO {META_TABLE}(key, value) VALUES ('format_version', 1)"), [])?;
    Ok(())
}

/// Record the generation the next serialised image belongs to.
pub(crate) fn set_generation(conn: &Connection, generation: u64) -> rusqlite::Result<()> {
    let g = i64::try_from(generation).expect("generations stay far below 2^63");
    conn.execute(
        &format!("INSERT INTO {META_TABLE}(key, value) VALUES ('generation', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
        [g],
    )?;
    Ok(())
}

/// The generation recorded in the database, if the metadata table is there.
pub(crate) fn generation(conn: &Connection) -> Result<Option<u64>, rusqlite::Error> {
    let g: Option<i64> = conn
        .query_row(&format!("SELECT value FROM {META_TABLE} WHERE key = 'generation'"), [], |r| r.get(0))
        .optional()?;
    Ok(g.and_then(|g| u64::try_from(g).ok()))
}

/// Serialise `conn`, encrypt it and write it to `snapshot.age.tmp`, fsynced.
/// Returns the SHA-256 and size of the file written.
pub(crate) fn write_tmp(
    storage: &dyn Storage,
    dir: &Path,
    conn: &mut Connection,
    recipients: &[x25519::Recipient],
) -> Result<([u8; 32], u64), VaultError> {
    let tmp = dir.join(SNAPSHOT_TMP);
    let image = conn.serialize(MAIN_DB)?;
    let mut file = storage.create(&tmp).map_err(|e| VaultError::io("create", &tmp, e))?;
    let failure = std::cell::Cell::new(None);
    let w = HashingWriter { file: &mut *file, hasher: sha2::Sha256::new(), written: 0, failure: &failure };
    let w = envelope::encrypt_stream(recipients, &image, w).map_err(|e| match failure.get() {
        Some(kind) => VaultError::io("write", &tmp, std::io::Error::new(kind, e)),
        None => VaultError::io("write", &tmp, e),
    })?;
    let (hash, size) = (w.hasher.finalize().into(), w.written);
    file.sync().map_err(|e| VaultError::io("fsync", &tmp, e))?;
    Ok((hash, size))
}

/// A decrypted snapshot loaded into a fresh in-memory connection.
pub(crate) struct LoadedSnapshot {
    pub(crate) conn: Connection,
    pub(crate) generation: u64,
    pub(crate) sha256: [u8; 32],
    pub(crate) size: u64,
}

/// Read, decrypt and load `snapshot.age`.
pub(crate) fn load(
    storage: &dyn Storage,
    dir: &Path,
    identity: &x25519::Identity,
) -> Result<LoadedSnapshot, VaultError> {
    let path = dir.join(SNAPSHOT_FILE);
    if !storage.exists(&path) {
        return Err(VaultError::MissingSnapshot { path });
    }
    let bytes = storage.read(&path).map_err(|e| VaultError::io("read", &path, e))?;
    let corrupt = |reason: String| VaultError::CorruptSnapshot { path: path.clone(), reason };
    let image: Zeroizing<Vec<u8>> =
        envelope::decrypt(identity, &bytes).map_err(|e| corrupt(format!("does not decrypt: {e}")))?;
    if image.len() < 512 || !image.starts_with(b"SQLite format 3\0") {
        return Err(corrupt("the decrypted content is not a SQLite database".into()));
    }
    let mut conn = Connection::open_in_memory()?;
    conn.deserialize_read_exact(MAIN_DB, &image[..], image.len(), false)
        .map_err(|e| corrupt(format!("SQLite refused the image: {e}")))?;
    let generation = match generation(&conn) {
        Ok(Some(g)) => g,
        Ok(None) => return Err(corrupt("no generation in the vault metadata".into())),
        Err(e) => return Err(corrupt(format!("no vault metadata: {e}"))),
    };
    Ok(LoadedSnapshot { conn, generation, sha256: sha2::Sha256::digest(&bytes).into(), size: bytes.len() as u64 })
}
