//! `snapshot.age`: the whole SQLite database image, age-encrypted to the
//! vault's recipients. The generation lives inside the image, in the table
//! `fieldcase_vault_meta`, so it is authenticated by age and a decrypted
//! snapshot is still a plain SQLite file. See docs/vault-format.md §3.
use std::path::Path;

use age::x25519;
use rusqlite::{Connection, OptionalExtension, MAIN_DB};
use sha2::Digest;

use super::envelope;
use super::error::VaultError;
use super::storage::{FrontierHasher, HashingWriter, Storage};

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
///
/// The file is decrypted as a stream straight into the buffer SQLite then
/// owns (`deserialize_read_exact` allocates it with `sqlite3_malloc64` and
/// reads into it): no whole copy of the ciphertext or of the plaintext is
/// ever held besides the database itself, so unlocking peaks at about one
/// database image (it used to hold three: ciphertext, plaintext, database).
/// The SHA-256 of the ciphertext (the journal chains to it) is computed on
/// the same pass ([`FrontierHasher`]). No plaintext buffer of ours exists to
/// zeroize: age's chunk buffer zeroizes itself, and the database's memory
/// belongs to SQLite as before.
pub(crate) fn load(
    storage: &dyn Storage,
    dir: &Path,
    identity: &x25519::Identity,
) -> Result<LoadedSnapshot, VaultError> {
    use std::io::{Seek, SeekFrom};
    let path = dir.join(SNAPSHOT_FILE);
    if !storage.exists(&path) {
        return Err(VaultError::MissingSnapshot { path });
    }
    let file = storage.open_read(&path).map_err(|e| VaultError::io("read", &path, e))?;
    let corrupt = |reason: String| VaultError::CorruptSnapshot { path: path.clone(), reason };
    // age reads the header byte by byte unless its input is buffered.
    let mut hashed = std::io::BufReader::with_capacity(256 * 1024, FrontierHasher::new(file));
    let io_failure = |r: &std::io::BufReader<FrontierHasher<_>>| r.get_ref().failure;
    let decryptor = match age::Decryptor::new_buffered(&mut hashed) {
        Ok(d) => d,
        Err(e) => {
            if let Some(kind) = io_failure(&hashed) {
                return Err(VaultError::io("read", &path, std::io::Error::new(kind, e.to_string())));
            }
            return Err(corrupt(format!("does not decrypt: {e}")));
        }
    };
    let mut plain = decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|e| corrupt(format!("does not decrypt: {e}")))?;
    // Seeking to the end authenticates the last chunk and gives the exact
    // plaintext length, which SQLite's buffer must be allocated with.
    let len = plain
        .seek(SeekFrom::End(0))
        .and_then(|len| plain.seek(SeekFrom::Start(0)).map(|_| len))
        .map_err(|e| corrupt(format!("does not decrypt: {e}")))?;
    let len = usize::try_from(len).map_err(|_| corrupt("the database is too large for this machine".into()))?;
    if len < 512 {
        return Err(corrupt("the decrypted content is not a SQLite database".into()));
    }
    let mut magic = [0u8; 16];
    let mut checked = MagicReader { inner: &mut plain, seen: 0, magic: &mut magic };
    let mut conn = Connection::open_in_memory()?;
    let read = conn.deserialize_read_exact(MAIN_DB, &mut checked, len, false);
    let seen = checked.seen;
    drop(plain);
    if let Err(e) = read {
        if let Some(kind) = io_failure(&hashed) {
            return Err(VaultError::io("read", &path, std::io::Error::new(kind, e.to_string())));
        }
        return Err(corrupt(format!("does not decrypt: {e}")));
    }
    if seen < magic.len() || &magic != b"SQLite format 3\0" {
        return Err(corrupt("the decrypted content is not a SQLite database".into()));
    }
    let generation = match generation(&conn) {
        Ok(Some(g)) => g,
        Ok(None) => return Err(corrupt("no generation in the vault metadata".into())),
        Err(e) => return Err(corrupt(format!("no vault metadata: {e}"))),
    };
    let (sha256, size) = hashed.into_inner().finish().map_err(|e| VaultError::io("read", &path, e))?;
    Ok(LoadedSnapshot { conn, generation, sha256, size })
}

/// Passes reads through and keeps the first 16 bytes (the SQLite magic).
struct MagicReader<'a, R> {
    inner: R,
    seen: usize,
    magic: &'a mut [u8; 16],
}

impl<R: std::io::Read> std::io::Read for MagicReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.seen < self.magic.len() {
            let take = n.min(self.magic.len() - self.seen);
            self.magic[self.seen..self.seen + take].copy_from_slice(&buf[..take]);
            self.seen += take;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deserialized database (how every unlocked vault is held) must be
    /// able to grow past SQLite's default memdb limit of 1 GiB; the bundled
    /// SQLite is built with a higher SQLITE_MEMDB_DEFAULT_MAXSIZE for this
    /// (.cargo/config.toml). Needs about 1.2 GB of memory and a few seconds.
    #[test]
    #[ignore = "allocates 1.2 GB; run on demand: cargo test --release --lib memdb_grows -- --ignored"]
    fn memdb_grows_past_one_gib() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t(b BLOB);").unwrap();
        let image = conn.serialize(MAIN_DB).unwrap().to_vec();
        let mut loaded = Connection::open_in_memory().unwrap();
        loaded.deserialize_read_exact(MAIN_DB, &image[..], image.len(), false).unwrap();
        for _ in 0..5 {
            loaded.execute("INSERT INTO t VALUES (zeroblob(250000000))", []).unwrap();
        }
        let pages: i64 = loaded.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
        assert!(pages * 4096 > 1_200_000_000);
    }
}
