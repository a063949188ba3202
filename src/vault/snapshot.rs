//! `snapshot.age`: since format 2 an age-encrypted manifest listing the
//! segments of the SQLite image (src/vault/segments.rs); in format 1 the
//! whole image itself, which is still read. The generation lives inside the
//! image, in the table `fieldcase_vault_meta` (and, in format 2, in the
//! manifest too; they must agree), so it is authenticated by age and the
//! decrypted image is still a plain SQLite file. See docs/vault-format.md §3.
use std::path::Path;

use std::sync::Arc;

use age::x25519;
use fieldcase_vfs::ChunkedFile;
use rusqlite::{Connection, OptionalExtension};
use sha2::Digest;

use super::database::{self, DatabaseFile};
use super::envelope;
use super::error::VaultError;
use super::identity::Keys;
use super::mac::VaultKey;
use super::segments::{self, SegmentSet, SegmentSource};
use super::storage::{FrontierHasher, Storage};

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

/// Encrypt `plaintext` (the manifest, small) in memory and write it to
/// `snapshot.age.tmp` in one write, fsynced. Returns the SHA-256 and size
/// of the file written.
pub(crate) fn write_tmp(
    storage: &dyn Storage,
    dir: &Path,
    plaintext: &[u8],
    recipients: &[x25519::Recipient],
) -> Result<([u8; 32], u64), VaultError> {
    let tmp = dir.join(SNAPSHOT_TMP);
    let ct = envelope::encrypt(recipients, plaintext).map_err(VaultError::Encrypt)?;
    let mut file = storage.create(&tmp).map_err(|e| VaultError::io("create", &tmp, e))?;
    file.write_all(&ct).map_err(|e| VaultError::io("write", &tmp, e))?;
    file.sync().map_err(|e| VaultError::io("fsync", &tmp, e))?;
    Ok((sha2::Sha256::digest(&ct).into(), ct.len() as u64))
}

/// A snapshot written up to its temp file: segments durable in `segments/`,
/// manifest in `snapshot.age.tmp` (fsynced), not yet renamed.
pub(crate) struct WrittenSnapshot {
    /// SHA-256 of the manifest file (`H0`).
    pub(crate) sha256: [u8; 32],
    /// Bytes of the manifest file and every segment file.
    pub(crate) size: u64,
    pub(crate) set: SegmentSet,
    /// Segment files created by this write.
    pub(crate) new_files: Vec<std::path::PathBuf>,
    /// Chunks written, to mark clean once the snapshot is committed.
    pub(crate) written_chunks: Vec<usize>,
}

/// Write the chunks of `db` changed since the last snapshot (all of them
/// without `previous`) as segments, and the manifest to
/// `snapshot.age.tmp`; the database's generation row must already say
/// `generation`. On error the segment files this call created are removed
/// (best effort).
pub(crate) fn write_segmented(
    storage: &dyn Storage,
    dir: &Path,
    db: &DatabaseFile,
    (recipients, key): (&[x25519::Recipient], &VaultKey),
    previous: Option<&SegmentSet>,
    generation: u64,
) -> Result<WrittenSnapshot, VaultError> {
    let w = segments::write(storage, dir, &db.file, recipients, key, previous, generation)?;
    match write_tmp(storage, dir, &w.manifest, recipients) {
        Ok((sha256, size)) => Ok(WrittenSnapshot {
            sha256,
            size: size + w.set.files_len(),
            set: w.set,
            new_files: w.new_files,
            written_chunks: w.written_chunks,
        }),
        Err(e) => {
            segments::remove_files(storage, &w.new_files);
            Err(e)
        }
    }
}

/// A decrypted snapshot opened as the vault's database.
pub(crate) struct LoadedSnapshot {
    pub(crate) conn: Connection,
    pub(crate) db: DatabaseFile,
    pub(crate) generation: u64,
    pub(crate) sha256: [u8; 32],
    /// Bytes of `snapshot.age` and of its segment files.
    pub(crate) size: u64,
    /// The manifest (version 2); `None` for a version-1 snapshot.
    pub(crate) segments: Option<SegmentSet>,
}

/// Read and decrypt `snapshot.age` and open the database it describes
/// (version 2: a manifest and its segments; version 1: the image itself,
/// told apart by the first bytes of the plaintext).
///
/// Version 2: the segments become the database's chunks
/// ([`segments::load_chunks`]); those SQLite needs to open the database
/// and check its generation are decrypted now, the rest by the background
/// prefetch started here (with `prefetch`) or when first read. Version 1: the image is
/// decrypted as a stream into chunks, all dirty, so the next checkpoint
/// writes version 2. The SHA-256 of `snapshot.age` (the journal chains to
/// it) is computed on the same pass ([`FrontierHasher`]).
pub(crate) fn load(
    storage: &Arc<dyn Storage>,
    dir: &Path,
    keys: &Keys,
    chunk_bytes: usize,
    prefetch: bool,
) -> Result<LoadedSnapshot, VaultError> {
    use std::io::{Read, Seek, SeekFrom};
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
    let identities = keys.vault_identities();
    let mut plain = decryptor
        .decrypt(identities.iter().map(|i| i as &dyn age::Identity))
        .map_err(|e| corrupt(format!("does not decrypt: {e}")))?;
    // Seeking to the end authenticates the last chunk and gives the exact
    // plaintext length.
    let len = plain
        .seek(SeekFrom::End(0))
        .and_then(|len| plain.seek(SeekFrom::Start(0)).map(|_| len))
        .map_err(|e| corrupt(format!("does not decrypt: {e}")))?;
    // Version 2 (a JSON manifest) or version 1 (the SQLite image itself)?
    let mut head = [0u8; 16];
    let peeked = plain
        .read_exact(&mut head[..len.min(16) as usize])
        .and_then(|()| plain.seek(SeekFrom::Start(0)).map(|_| ()))
        .map_err(|e| corrupt(format!("does not decrypt: {e}")));
    peeked?;
    let read_error = |hashed: &std::io::BufReader<FrontierHasher<_>>, e: std::io::Error| {
        if let Some(kind) = io_failure(hashed) {
            return VaultError::io("read", &path, std::io::Error::new(kind, e.to_string()));
        }
        corrupt(format!("does not decrypt: {e}"))
    };
    if len > 0 && head[0] == b'{' {
        if len > segments::MAX_MANIFEST_LEN {
            return Err(corrupt(format!("the manifest is {len} bytes, more than any vault needs")));
        }
        let mut text = zeroize::Zeroizing::new(Vec::with_capacity(len as usize));
        let read = plain.read_to_end(&mut text);
        drop(plain);
        if let Err(e) = read {
            return Err(read_error(&hashed, e));
        }
        let (sha256, size) = hashed.into_inner().finish().map_err(|e| VaultError::io("read", &path, e))?;
        let mut set = segments::parse_manifest(&text, &path, &keys.tag_keys(), keys.accept_untagged)?;
        let (file, source) = segments::load_chunks(storage, dir, &identities, &mut set, chunk_bytes)?;
        let (conn, mut db) = open_checked(file, source, &path)?;
        let generation = checked_generation(&conn, &db, &path)?;
        if generation != set.generation {
            return Err(corrupt(format!(
                "the manifest says generation {} but the database says {generation} (segments of another snapshot)",
                set.generation
            )));
        }
        if prefetch {
            db.start_prefetch();
        }
        let size = size + set.files_len();
        return Ok(LoadedSnapshot { conn, db, generation, sha256, size, segments: Some(set) });
    }
    if len < 512 || &head != b"SQLite format 3\0" {
        return Err(corrupt("the decrypted content is neither a snapshot manifest nor a SQLite database".into()));
    }
    if !keys.accept_untagged {
        // A version-1 snapshot has no tag: only a vault being upgraded
        // from format 2 or older may still have one.
        return Err(segments::snapshot_tampered(
            &path,
            "it is a snapshot of vault format 1 (no tag) in a vault of format 3",
        ));
    }
    let file = ChunkedFile::new(chunk_bytes);
    let mut buf = zeroize::Zeroizing::new(vec![0u8; 1 << 20]);
    let mut at = 0u64;
    loop {
        let n = match plain.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(&hashed, e)),
        };
        file.write_at(&buf[..n], at).map_err(|e| corrupt(format!("does not fit in memory: {e}")))?;
        at += n as u64;
    }
    drop(plain);
    let (sha256, size) = hashed.into_inner().finish().map_err(|e| VaultError::io("read", &path, e))?;
    let (conn, db) = open_checked(file, None, &path)?;
    let generation = checked_generation(&conn, &db, &path)?;
    Ok(LoadedSnapshot { conn, db, generation, sha256, size, segments: None })
}

/// Open the database on `file` after checking it starts like one.
fn open_checked(
    file: Arc<ChunkedFile>,
    source: Option<Arc<SegmentSource>>,
    path: &Path,
) -> Result<(Connection, DatabaseFile), VaultError> {
    let mut magic = [0u8; 16];
    let read = file.read_at(&mut magic, 0);
    if let Some(e) = source.as_ref().and_then(|s| s.failure()) {
        return Err(e);
    }
    if read.ok() != Some(16) || &magic != b"SQLite format 3\0" {
        return Err(VaultError::CorruptSnapshot {
            path: path.to_owned(),
            reason: "the decrypted content is not a SQLite database".into(),
        });
    }
    database::open(file, source)
}

/// The generation recorded in the opened database; a chunk that failed to
/// load is reported as itself.
fn checked_generation(conn: &Connection, db: &DatabaseFile, path: &Path) -> Result<u64, VaultError> {
    let corrupt = |reason: String| VaultError::CorruptSnapshot { path: path.to_owned(), reason };
    match generation(conn) {
        Ok(Some(g)) => Ok(g),
        Ok(None) => Err(corrupt("no generation in the vault metadata".into())),
        Err(e) => Err(db.failure().unwrap_or_else(|| corrupt(format!("no vault metadata: {e}")))),
    }
}
