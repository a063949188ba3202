//! The vault: the device's encrypted local store (on-disk format in
//! docs/vault-format.md; ARCHITECTURE.md).
//!
//! An unlocked [`Vault`] holds the database in memory (SQLite) and the device
//! keys. Every [`commit`](Vault::commit) is one SQLite transaction plus one
//! age-encrypted journal frame, fsynced before the call returns; a
//! [`checkpoint`](Vault::checkpoint) folds the journal into a new encrypted
//! snapshot. Nothing in plaintext is ever written to a file.
//!
//! Architecture invariant: every byte this module writes is either an age file
//! or the journal's framing (lengths, magic, generation); all file operations
//! go through [`Storage`].
//!
//! Dropping a `Vault` does no I/O: every commit is already durable in the
//! journal, so nothing is lost, and `Drop` could not report a failed
//! checkpoint. Call [`Vault::lock`] to checkpoint on the way out.

mod blob;
mod checkpoint;
mod database;
mod envelope;
mod error;
mod escrow;
pub mod frame;
mod identity;
mod journal;
mod kv;
mod mac;
mod people;
mod recovery;
mod segments;
mod snapshot;
pub mod storage;
mod tree_counts;

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::Connection;
use zeroize::Zeroizing;

pub use blob::BLOB_DIR;
pub use error::{ApplyError, VaultError};
pub use escrow::{verify_with_escrow, EscrowCheck, ESCROW_KEY_FILE};
pub use identity::{DeviceInfo, IDENTITY_FILE, MAX_SCRYPT_LOG_N};
pub use journal::{journal_file_name, parse_journal_file_name};
pub use kv::{kv_put, KvApplier};
pub use people::{PersonSecrets, PEOPLE_DIR};
pub use recovery::{RecoveryReport, TailCut, Tampering};
pub use secrecy::SecretString;
pub use segments::{DEFAULT_SEGMENT_BYTES, SEGMENT_DIR};
pub use snapshot::{META_TABLE, SNAPSHOT_FILE, SNAPSHOT_TMP};
pub use storage::{FaultStorage, RealStorage, Storage, StorageFile};
pub use tree_counts::{TreeCount, TreeKind};

use identity::Keys;
use journal::JournalWriter;

/// Journal size that triggers an automatic checkpoint after a commit: 8 MiB.
/// Unlocking replays the journal frame by frame (one X25519 operation each),
/// so an unbounded journal would make unlocking slow; a checkpoint costs a
/// full database write, so doing it too often makes commits slow. At a few
/// hundred bytes per frame this is tens of thousands of commits.
pub const DEFAULT_CHECKPOINT_BYTES: u64 = 8 * 1024 * 1024;

/// Name of the lock file that keeps two processes from opening one vault.
pub const LOCK_FILE: &str = "vault.lock";

/// Debug builds only: set this environment variable to a small number (e.g. 10)
/// to make new identity files use scrypt work factor 2^N, so test suites do
/// not spend a second per unlock. Release builds ignore it.
pub const TEST_SCRYPT_ENV: &str = "FIELDCASE_TEST_SCRYPT_LOG_N";

/// What `init` needs to know about the person and the office.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitOptions {
    /// Name of the user of this device (also used as the device name).
    pub name: String,
    /// Role, "caseworker" by default (see `model::event::Role`).
    pub role: String,
    /// Office escrow recipient (`age1...`): every snapshot, frame and blob is
    /// also encrypted to it.
    pub escrow: Option<String>,
}

impl Default for InitOptions {
    fn default() -> Self {
        Self { name: "caseworker".into(), role: "caseworker".into(), escrow: None }
    }
}

/// Technical settings; [`Default`] is right for real use.
#[derive(Debug, Clone)]
pub struct VaultOptions {
    /// The file system (tests put a [`FaultStorage`] here).
    pub storage: Arc<dyn Storage>,
    /// scrypt work factor (log2 N) for identity files written by `init` and
    /// `change_passphrase`. `None` = age's default, calibrated to about one
    /// second on this machine: the passphrase is the only secret protecting
    /// a stolen laptop, so each guess must be expensive.
    pub scrypt_log_n: Option<u8>,
    /// Journal size that triggers an automatic checkpoint.
    pub checkpoint_bytes: u64,
    /// Plaintext size of the snapshot segments this vault writes
    /// ([`DEFAULT_SEGMENT_BYTES`]; rounded up to a multiple of 4096). Only
    /// tests change it, to get many segments from a small database; any
    /// size is read back.
    pub snapshot_segment_bytes: usize,
    /// Load the database's segments on background threads after unlocking
    /// (true by default). Without it each segment is decrypted only when
    /// SQLite first reads it: tests use that to see what unlocking reads.
    pub prefetch: bool,
}

impl Default for VaultOptions {
    fn default() -> Self {
        Self {
            storage: Arc::new(RealStorage),
            scrypt_log_n: test_scrypt_override(),
            checkpoint_bytes: DEFAULT_CHECKPOINT_BYTES,
            snapshot_segment_bytes: DEFAULT_SEGMENT_BYTES,
            prefetch: true,
        }
    }
}

fn test_scrypt_override() -> Option<u8> {
    if cfg!(debug_assertions) {
        std::env::var(TEST_SCRYPT_ENV).ok().and_then(|v| v.parse().ok()).filter(|n| (1..=30).contains(n))
    } else {
        None
    }
}

/// Deterministic application of journal entries to the database. The vault calls
/// `migrate` once on a fresh database at init, and `apply` both on commit and
/// when replaying the journal at open (so it MUST be deterministic and depend only
/// on the db state and the entries).
pub trait Applier: Send + Sync {
    /// Create the schema in a fresh database.
    fn migrate(&self, conn: &rusqlite::Connection) -> rusqlite::Result<()>;
    /// Bring derived structures (indexes) of a database up to date: called
    /// after `migrate` at init and at every unlock, after the snapshot is
    /// loaded and before the journal is replayed. It is not journaled (the
    /// next checkpoint saves it; until then each unlock does it again), so
    /// it MUST NOT change any row a query can see, only add what SQLite
    /// derives from the rows, and MUST be idempotent.
    fn upgrade(&self, conn: &rusqlite::Connection) -> rusqlite::Result<()> {
        let _ = conn;
        Ok(())
    }
    /// Apply the entries of one commit inside `tx`.
    fn apply(&self, tx: &rusqlite::Transaction<'_>, entries: &[serde_json::Value]) -> Result<(), ApplyError>;
    /// The part of applying `entries` that reads no database (parsing,
    /// encoding, hashing). [`Vault::commit_frames`] calls it on another
    /// thread for the next frame while it applies the one before, then
    /// passes the result to [`Applier::apply_prepared`]. It MUST be pure.
    fn prepare(&self, entries: &[serde_json::Value]) -> Prepared {
        let _ = entries;
        Box::new(())
    }
    /// [`Applier::apply`] given what [`Applier::prepare`] made of the same
    /// entries: it MUST have exactly `apply`'s effect.
    fn apply_prepared(
        &self,
        tx: &rusqlite::Transaction<'_>,
        entries: &[serde_json::Value],
        prepared: Prepared,
    ) -> Result<(), ApplyError> {
        let _ = prepared;
        self.apply(tx, entries)
    }
}

/// Fewer committed entries than this are freed in place (see
/// [`Vault::commit_sealed`]): an ordinary save has a handful.
const MIN_ENTRIES_TO_DROP_IN_BACKGROUND: usize = 1024;

/// Free a committed frame's entries: those of a large frame (an import's
/// thousands of events as JSON values) take a while to free, so another
/// core does it.
fn free_entries(entries: Vec<serde_json::Value>) {
    if entries.len() >= MIN_ENTRIES_TO_DROP_IN_BACKGROUND {
        crate::parallel::drop_in_background(entries);
    }
}

/// Frames [`Vault::commit_frames_gated`] applies before it waits for its
/// gate (about 128 MiB of held ciphertext at an import's 4 MiB frames).
pub const MAX_HELD_FRAMES: usize = 32;

/// Why [`Vault::commit_frames_gated`] committed nothing or only part.
#[derive(Debug)]
pub enum GatedCommitError<E> {
    /// The gate refused: nothing was committed.
    Refused(E),
    /// The gate's thread panicked: nothing was committed.
    GateStopped,
    /// The vault failed (as [`Vault::commit_frames`]: the frames committed
    /// before the failure stay committed; none while the gate was pending).
    Vault(VaultError),
}

impl<E> From<VaultError> for GatedCommitError<E> {
    fn from(e: VaultError) -> Self {
        GatedCommitError::Vault(e)
    }
}

/// What [`Applier::prepare`] made of one commit's entries.
pub type Prepared = Box<dyn Any + Send>;

/// One commit's journal frame made ready before it is applied: the entries,
/// their ciphertext chained to the frame before, and the applier's
/// preparation of them.
struct Sealed {
    seq: u64,
    prev_hash: [u8; 32],
    entries: Vec<serde_json::Value>,
    ciphertext: Vec<u8>,
    /// The frame's tag under the vault key.
    tag: [u8; mac::TAG_LEN],
    prepared: Prepared,
}

/// Encrypt `entries` as frame `seq` of `generation` after the frame whose
/// ciphertext hashes to `prev_hash`, and prepare them with `applier` if
/// given. Reads no database, so [`Vault::commit_frames`] seals the next
/// frame on another thread (a single commit has no other work to overlap:
/// its applier does everything in `apply`).
fn seal(
    (recipients, key): (&[age::x25519::Recipient], &mac::VaultKey),
    applier: Option<&dyn Applier>,
    generation: u64,
    (seq, prev_hash): (u64, [u8; 32]),
    entries: Vec<serde_json::Value>,
) -> Result<Sealed, VaultError> {
    let payload = frame::FramePayload { generation, seq, prev_sha256: hex::encode(prev_hash), entries };
    let plain = Zeroizing::new(serde_json::to_vec(&payload).expect("JSON values always serialise"));
    let ciphertext = envelope::encrypt(recipients, &plain).map_err(VaultError::Encrypt)?;
    drop(plain);
    if ciphertext.len() > frame::MAX_FRAME_LEN {
        return Err(VaultError::FrameTooLarge { size: ciphertext.len(), limit: frame::MAX_FRAME_LEN });
    }
    let tag = mac::frame_tag(key, generation, seq, &ciphertext);
    let prepared = applier.map_or_else(|| Box::new(()) as Prepared, |a| a.prepare(&payload.entries));
    Ok(Sealed { seq, prev_hash, entries: payload.entries, ciphertext, tag, prepared })
}

/// Sizes and positions, for `fieldcase status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VaultStats {
    /// Current generation (number of the snapshot, +1 per checkpoint).
    pub generation: u64,
    /// Frames in the current journal.
    pub journal_frames: u64,
    /// Bytes in the current journal (header included).
    pub journal_bytes: u64,
    /// Bytes of `snapshot.age` and of the segment files it lists.
    pub snapshot_bytes: u64,
    /// Size of the unlocked database.
    pub database_bytes: u64,
    /// Segments of the database decrypted into memory so far (the rest
    /// are loaded in the background after unlocking, or when first read).
    pub database_chunks_loaded: u64,
    /// Segments of the database in all.
    pub database_chunks: u64,
}

/// An unlocked vault: the in-memory database and the device keys.
pub struct Vault {
    dir: PathBuf,
    storage: Arc<dyn Storage>,
    conn: Connection,
    /// The chunks behind `conn`; after it, so the connection closes first.
    db: database::DatabaseFile,
    applier: Arc<dyn Applier>,
    keys: Keys,
    device: DeviceInfo,
    generation: u64,
    /// `None` after a checkpoint failed between the snapshot rename and the
    /// journal creation; the next commit creates it.
    journal: Option<JournalWriter>,
    snapshot_hash: [u8; 32],
    snapshot_size: u64,
    /// The manifest of the snapshot on disk; `None` while it is a version-1
    /// snapshot (the next checkpoint writes every segment).
    segments: Option<segments::SegmentSet>,
    report: RecoveryReport,
    checkpoint_bytes: u64,
    auto_checkpoint_error: Option<String>,
    /// The person who unlocked, when it was not the vault's first person
    /// (`identity.age`): one of `people/`.
    person: Option<PersonSecrets>,
    /// The person keys' recipients of every further person (the case
    /// store reads them from the database): the keys files a rotation of
    /// the vault keys rewrites.
    people: Vec<(uuid::Uuid, age::x25519::Recipient)>,
    /// The vault keys changed at this unlock (an unfinished change was
    /// finished): the people's keys files need rewriting.
    rekeyed: bool,
    /// The scrypt work factor this vault was opened with
    /// ([`VaultOptions::scrypt_log_n`]), for the people files it writes.
    scrypt_log_n: Option<u8>,
    /// Held for the life of the vault: released (by the OS) when dropped.
    _lock: Box<dyn Any + Send>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("dir", &self.dir)
            .field("device", &self.device)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    // temp_store=MEMORY: sorts and temporary tables never spill plaintext to
    // temp files. secure_delete: deleted rows are zeroed inside their pages,
    // so a checkpoint after a deletion really removes the data (crypto-erasure).
    conn.execute_batch("PRAGMA temp_store = MEMORY; PRAGMA secure_delete = ON;")
}

fn take_lock(storage: &dyn Storage, dir: &Path) -> Result<Box<dyn Any + Send>, VaultError> {
    let path = dir.join(LOCK_FILE);
    // A lock can be held for a moment by a holder that is letting go: a
    // process closing the vault, or a child process some thread is starting
    // (between fork and exec it shares every open file, the lock included).
    // Another program really using the vault holds it far longer than this.
    for attempt in 0..10 {
        match storage.lock(&path) {
            Ok(Some(l)) => return Ok(l),
            Ok(None) if attempt < 9 => std::thread::sleep(std::time::Duration::from_millis(50)),
            Ok(None) => break,
            Err(e) => return Err(VaultError::io("lock", path, e)),
        }
    }
    Err(VaultError::Busy { dir: dir.to_owned() })
}

/// Write `bytes` to `dir/name` atomically: `name.tmp`, fsync, rename, fsync dir.
pub(crate) fn write_file_atomically(
    storage: &dyn Storage,
    dir: &Path,
    name: &str,
    bytes: &[u8],
) -> Result<(), VaultError> {
    let tmp = dir.join(format!("{name}.tmp"));
    let dst = dir.join(name);
    let result = (|| {
        let mut f = storage.create(&tmp).map_err(|e| VaultError::io("create", &tmp, e))?;
        f.write_all(bytes).map_err(|e| VaultError::io("write", &tmp, e))?;
        f.sync().map_err(|e| VaultError::io("fsync", &tmp, e))?;
        drop(f);
        storage.rename(&tmp, &dst).map_err(|e| VaultError::io("rename", &tmp, e))?;
        storage.sync_dir(dir).map_err(|e| VaultError::io("fsync directory", dir, e))
    })();
    if result.is_err() && storage.exists(&tmp) {
        // Best effort; leftovers are removed at the next unlock.
        let _ = storage.remove(&tmp);
    }
    result
}

/// Find whose passphrase `passphrase` is: `identity.age` first, then each
/// person file (§2.2). With `user`, only that user name is accepted.
fn unlock(
    storage: &dyn Storage,
    dir: &Path,
    passphrase: &SecretString,
    user: Option<&str>,
) -> Result<(Keys, DeviceInfo, u32, Option<PersonSecrets>), VaultError> {
    let first = match identity::read(storage, dir, passphrase) {
        Ok((keys, device, version)) if user.is_none_or(|u| u == device.user_name) => {
            return Ok((keys, device, version, None));
        }
        Ok(_) => VaultError::WrongPassphrase { path: dir.join(IDENTITY_FILE) },
        Err(e @ VaultError::WrongPassphrase { .. }) => e,
        Err(e) => return Err(e),
    };
    for id in people::list(storage, dir)? {
        let person = match people::read_person(storage, dir, id, passphrase) {
            Ok(p) => p,
            Err(VaultError::WrongPassphrase { .. }) => continue,
            Err(e) => return Err(e),
        };
        if user.is_some_and(|u| u != person.user) {
            continue;
        }
        let (keys, device, version) = people::read_keys(storage, dir, &person)?;
        return Ok((keys, device, version, Some(person)));
    }
    Err(first)
}

impl Vault {
    /// Create a new vault in `dir` (created if missing; must not hold a vault).
    pub fn init(
        dir: &Path,
        passphrase: &SecretString,
        opts: InitOptions,
        applier: Box<dyn Applier>,
    ) -> Result<Vault, VaultError> {
        Self::init_with(dir, passphrase, opts, applier, &VaultOptions::default())
    }

    /// [`init`](Self::init) with explicit technical settings.
    pub fn init_with(
        dir: &Path,
        passphrase: &SecretString,
        opts: InitOptions,
        applier: Box<dyn Applier>,
        options: &VaultOptions,
    ) -> Result<Vault, VaultError> {
        use secrecy::ExposeSecret;
        if passphrase.expose_secret().is_empty() {
            return Err(VaultError::EmptyPassphrase);
        }
        let storage = options.storage.clone();
        if storage.exists(dir) {
            for name in storage.list(dir).map_err(|e| VaultError::io("list", dir, e))? {
                let taken = name == IDENTITY_FILE
                    || name == SNAPSHOT_FILE
                    || name == BLOB_DIR
                    || (name == SEGMENT_DIR && !storage.list(&dir.join(SEGMENT_DIR)).unwrap_or_default().is_empty())
                    || parse_journal_file_name(&name).is_some();
                if taken {
                    return Err(VaultError::AlreadyExists { dir: dir.to_owned(), path: dir.join(name) });
                }
            }
        } else {
            storage.create_dir(dir).map_err(|e| VaultError::io("create directory", dir, e))?;
        }
        let lock = take_lock(&*storage, dir)?;
        let role = if opts.role.trim().is_empty() { "caseworker".to_owned() } else { opts.role.clone() };
        let (keys, device) = identity::generate(&opts.name, &role, opts.escrow.as_deref())?;

        let segment_bytes = segments::chunk_bytes(options.snapshot_segment_bytes);
        let (conn, db) = database::open(fieldcase_vfs::ChunkedFile::new(segment_bytes), None)?;
        configure(&conn)?;
        snapshot::create_meta(&conn, 1)?;
        applier.migrate(&conn)?;
        applier.upgrade(&conn)?;

        // The identity is written last: its presence is what makes the
        // directory a vault, so a crash before it leaves no half vault that
        // `open` would accept.
        let mut new_files = Vec::new();
        let result = (|| {
            let w = snapshot::write_segmented(&*storage, dir, &db, (&keys.recipients, &keys.vault_key), None, 1)?;
            new_files = w.new_files.clone();
            db.file.mark_clean(&w.written_chunks);
            storage
                .rename(&dir.join(SNAPSHOT_TMP), &dir.join(SNAPSHOT_FILE))
                .map_err(|e| VaultError::io("rename", dir.join(SNAPSHOT_TMP), e))?;
            let journal = JournalWriter::create(&*storage, dir, 1, w.sha256)?;
            escrow::write_key_file(&*storage, dir, &keys, &device)?;
            identity::write(&*storage, dir, &keys, &device, passphrase, options.scrypt_log_n)?;
            Ok((w.sha256, w.size, w.set, journal))
        })();
        let (snapshot_hash, snapshot_size, set, journal) = match result {
            Ok(r) => r,
            Err(e) => {
                // Best effort: leave the directory as it was so init can be retried.
                for name in [
                    SNAPSHOT_TMP.to_owned(),
                    SNAPSHOT_FILE.to_owned(),
                    journal_file_name(1),
                    escrow::ESCROW_KEY_FILE.to_owned(),
                ] {
                    let p = dir.join(name);
                    if storage.exists(&p) {
                        let _ = storage.remove(&p);
                    }
                }
                segments::remove_files(&*storage, &new_files);
                return Err(e);
            }
        };
        Ok(Vault {
            dir: dir.to_owned(),
            storage,
            conn,
            db,
            applier: Arc::from(applier),
            keys,
            device,
            generation: 1,
            journal: Some(journal),
            snapshot_hash,
            snapshot_size,
            segments: Some(set),
            report: RecoveryReport { generation: 1, ..RecoveryReport::default() },
            checkpoint_bytes: options.checkpoint_bytes,
            auto_checkpoint_error: None,
            person: None,
            people: Vec::new(),
            rekeyed: false,
            scrypt_log_n: options.scrypt_log_n,
            _lock: lock,
        })
    }

    /// Unlock the vault in `dir`: decrypt the identity, load the snapshot and
    /// replay the journal (cutting a torn or corrupt tail, see
    /// [`recovery_report`](Self::recovery_report)).
    pub fn open(dir: &Path, passphrase: &SecretString, applier: Box<dyn Applier>) -> Result<Vault, VaultError> {
        Self::open_with(dir, passphrase, applier, &VaultOptions::default())
    }

    /// [`open`](Self::open) with explicit technical settings.
    pub fn open_with(
        dir: &Path,
        passphrase: &SecretString,
        applier: Box<dyn Applier>,
        options: &VaultOptions,
    ) -> Result<Vault, VaultError> {
        Self::open_as_with(dir, passphrase, None, applier, options)
    }

    /// Unlock as whoever `passphrase` belongs to: the vault's first person
    /// (`identity.age`), or one of the further people (`people/`, §2.2),
    /// tried in turn. With `user`, only a person of that user name is
    /// accepted. [`Vault::person`] says who it was.
    pub fn open_as_with(
        dir: &Path,
        passphrase: &SecretString,
        user: Option<&str>,
        applier: Box<dyn Applier>,
        options: &VaultOptions,
    ) -> Result<Vault, VaultError> {
        let storage = options.storage.clone();
        if !storage.exists(&dir.join(IDENTITY_FILE)) {
            return Err(VaultError::NotAVault { dir: dir.to_owned() });
        }
        let lock = take_lock(&*storage, dir)?;
        let (keys, device, stored_version, person) = unlock(&*storage, dir, passphrase, user)?;
        if stored_version < identity::IDENTITY_VERSION && person.is_none() {
            // The upgrade's vault key must be kept before anything is
            // tagged with it; until the upgrade is finished the identity
            // says so, and untagged files of format 2 are still read.
            identity::write(&*storage, dir, &keys, &device, passphrase, options.scrypt_log_n)?;
        }
        let mut report = RecoveryReport::default();
        recovery::remove_temp_files(&*storage, dir, &mut report)?;
        let chunk_bytes = segments::chunk_bytes(options.snapshot_segment_bytes);
        let snapshot::LoadedSnapshot { conn, db, generation, sha256, size, segments: set } =
            snapshot::load(&storage, dir, &keys, chunk_bytes, options.prefetch)?;
        let mut conn = conn;
        configure(&conn)?;
        applier.upgrade(&conn).map_err(|e| db.failure().unwrap_or(e.into()))?;
        let journal = recovery::replay(
            &*storage,
            dir,
            &mut conn,
            &*applier,
            &keys,
            &recovery::SnapshotPosition { generation, sha256 },
            &mut report,
        )
        .map_err(|e| db.failure().unwrap_or(e))?;
        // After replay's directory fsync: the loaded snapshot's rename is
        // durable, so segments it does not list can go (§6).
        segments::remove_unreferenced(&*storage, dir, set.as_ref(), &mut report)?;
        let mut vault = Vault {
            dir: dir.to_owned(),
            storage,
            conn,
            db,
            applier: Arc::from(applier),
            keys,
            device,
            generation,
            journal: Some(journal),
            snapshot_hash: sha256,
            snapshot_size: size,
            segments: set,
            report,
            checkpoint_bytes: options.checkpoint_bytes,
            auto_checkpoint_error: None,
            person,
            people: Vec::new(),
            rekeyed: false,
            scrypt_log_n: options.scrypt_log_n,
            _lock: lock,
        };
        if vault.keys.unfinished() {
            // Unlocked by a further person, `identity.age` cannot be
            // rewritten (another person's passphrase): it keeps naming the
            // previous keys too, and the first person's next unlock
            // finishes again, finding nothing left to re-encrypt.
            let identity_passphrase = vault.person.is_none().then_some(passphrase);
            vault.finish_key_change(identity_passphrase, options.scrypt_log_n)?;
        }
        Ok(vault)
    }

    /// Bring every file under the current keys alone: after an upgrade from
    /// format 2, tag what has no tag (a checkpoint writes a tagged manifest
    /// and a tagged journal; blobs get their tag files); after a passphrase
    /// change, re-encrypt everything still under the previous vault
    /// identity (a checkpoint that rewrites every segment, and every blob).
    /// Then the identity is written without the previous keys. Each step
    /// can be interrupted: until the identity is rewritten, unlocking reads
    /// both and finishes again.
    fn finish_key_change(
        &mut self,
        passphrase: Option<&SecretString>,
        scrypt_log_n: Option<u8>,
    ) -> Result<(), VaultError> {
        let rekey = self.keys.previous.is_some();
        self.run_checkpoint_with(rekey)?;
        blob::reseal_all(&*self.storage, &self.dir, &self.keys)?;
        escrow::write_key_file(&*self.storage, &self.dir, &self.keys, &self.device)?;
        self.keys.previous = None;
        self.keys.accept_untagged = false;
        self.rekeyed = true;
        match passphrase {
            Some(p) => identity::write(&*self.storage, &self.dir, &self.keys, &self.device, p, scrypt_log_n),
            None => Ok(()),
        }
    }

    /// Change the passphrase, and with it the vault's own keys: a new age
    /// identity for the vault's files and a new vault key, every file
    /// re-encrypted and re-tagged under them. So a copy of the old
    /// `identity.age` and the old passphrase (a former user, a backup)
    /// opens nothing written from now on. `old` must be the current
    /// passphrase. The device's transport and signing keys stay: they are
    /// enrolled at the office, which changes them by a new enrollment.
    pub fn change_passphrase(
        &mut self,
        old: &SecretString,
        new: &SecretString,
        scrypt_log_n: Option<u8>,
    ) -> Result<(), VaultError> {
        use secrecy::ExposeSecret;
        if new.expose_secret().is_empty() {
            return Err(VaultError::EmptyPassphrase);
        }
        self.check_first_person(old)?;
        let vault_age = age::x25519::Identity::generate();
        let mut recipients = vec![vault_age.to_public()];
        recipients.extend(self.keys.recipients.iter().skip(1).cloned());
        let old_age = std::mem::replace(&mut self.keys.vault_age, vault_age);
        let old_key = std::mem::replace(&mut self.keys.vault_key, mac::VaultKey::generate());
        let old_recipients = std::mem::replace(&mut self.keys.recipients, recipients);
        self.keys.previous = Some((old_age, old_key));
        // The commit point of the new passphrase: from here the identity
        // holds both sets of vault keys, so a crash in what follows leaves a
        // vault the new passphrase opens (and finishes).
        if let Err(e) = identity::write(&*self.storage, &self.dir, &self.keys, &self.device, new, scrypt_log_n) {
            // The identity on disk still holds the old keys only: keep
            // writing under them, or the next commits would be tagged and
            // encrypted with keys no file keeps.
            let (age, key) = self.keys.previous.take().expect("set just above");
            self.keys.vault_age = age;
            self.keys.vault_key = key;
            self.keys.recipients = old_recipients;
            return Err(e);
        }
        // Every further person's keys file gets both sets of keys now (so
        // a crash below leaves each of them a vault they open and finish),
        // and the current keys alone once every file is re-encrypted.
        // A failure of the first rewrite is not final: the second one
        // writes every keys file again.
        let _ = self.write_people_keys();
        self.finish_key_change(Some(new), scrypt_log_n)?;
        self.write_people_keys()
    }

    /// The scrypt work factor this vault was opened with (for the
    /// passphrase files it writes).
    pub(crate) fn scrypt_log_n(&self) -> Option<u8> {
        self.scrypt_log_n
    }

    /// The further person who unlocked this vault, or `None` for the
    /// vault's first person (`identity.age`).
    pub fn person(&self) -> Option<&PersonSecrets> {
        self.person.as_ref()
    }

    /// Tell the vault who its further people are (id and person-key
    /// recipient, as the database keeps them), so a rotation of the vault
    /// keys rewrites their keys files. Returns whether the keys changed at
    /// this unlock, in which case the caller MUST call
    /// [`Vault::write_people_keys`].
    pub fn set_people(&mut self, people: &[(uuid::Uuid, String)]) -> Result<bool, VaultError> {
        self.people =
            people.iter().map(|(id, r)| Ok((*id, identity::parse_escrow(r)?))).collect::<Result<_, VaultError>>()?;
        Ok(self.rekeyed)
    }

    /// Write every further person's keys file (§2.2) with the current
    /// vault keys.
    pub fn write_people_keys(&mut self) -> Result<(), VaultError> {
        for (id, r) in &self.people {
            people::write_keys(&*self.storage, &self.dir, *id, std::slice::from_ref(r), &self.keys, &self.device)?;
        }
        self.rekeyed = false;
        Ok(())
    }

    /// Add a further person: their own signing key and person key, wrapped
    /// with `passphrase` in `people/<id>.age`, and the vault's keys for
    /// them in `people/<id>.keys.age`. The caller records the person
    /// (recipient and public key) in the database; if that fails it calls
    /// [`Vault::remove_person_files`].
    pub fn add_person(
        &mut self,
        user: &str,
        role: &str,
        passphrase: &SecretString,
    ) -> Result<PersonSecrets, VaultError> {
        let scrypt_log_n = self.scrypt_log_n;
        let person = PersonSecrets::generate(self.device.device_id, user, role);
        let r = person.person_key.to_public();
        let written = people::write_keys(&*self.storage, &self.dir, person.id, &[r], &self.keys, &self.device)
            .and_then(|()| people::write_person(&*self.storage, &self.dir, &person, passphrase, scrypt_log_n));
        if let Err(e) = written {
            people::remove(&*self.storage, &self.dir, person.id);
            return Err(e);
        }
        Ok(person)
    }

    /// Remove a person's files (after a failed add).
    pub fn remove_person_files(&self, id: uuid::Uuid) {
        people::remove(&*self.storage, &self.dir, id);
    }

    /// Open further person `id`'s file with `passphrase` (what switching
    /// to them checks).
    pub fn read_person(&self, id: uuid::Uuid, passphrase: &SecretString) -> Result<PersonSecrets, VaultError> {
        let p = people::read_person(&*self.storage, &self.dir, id, passphrase)?;
        if p.vault_id != self.device.device_id {
            return Err(VaultError::CorruptIdentity {
                path: people::person_file(&self.dir, id),
                reason: "it belongs to another vault".into(),
            });
        }
        Ok(p)
    }

    /// Whether `passphrase` opens `identity.age` (the vault's first
    /// person). If it does, their event key is loaded (a further person
    /// who unlocked did not have it).
    pub fn check_first_person(&mut self, passphrase: &SecretString) -> Result<(), VaultError> {
        let (keys, on_disk, _) = identity::read(&*self.storage, &self.dir, passphrase)?;
        if on_disk.device_id != self.device.device_id || keys.signing_public != self.keys.signing_public {
            return Err(VaultError::CorruptIdentity {
                path: self.dir.join(IDENTITY_FILE),
                reason: "it belongs to another device than the vault that is open".into(),
            });
        }
        if self.keys.signing.is_none() {
            self.keys.signing = keys.signing.clone();
        }
        Ok(())
    }

    /// Change further person `id`'s passphrase. They get a new person key:
    /// their keys file is first encrypted to the old and the new one, then
    /// their file is rewritten, then the keys file to the new key alone, so
    /// a crash leaves a pair that opens. Returns the new secrets; the
    /// caller records the new recipient.
    pub fn change_person_passphrase(
        &mut self,
        id: uuid::Uuid,
        old: &SecretString,
        new: &SecretString,
    ) -> Result<PersonSecrets, VaultError> {
        use secrecy::ExposeSecret;
        let scrypt_log_n = self.scrypt_log_n;
        if new.expose_secret().is_empty() {
            return Err(VaultError::EmptyPassphrase);
        }
        let mut person = self.read_person(id, old)?;
        let old_r = person.person_key.to_public();
        person.person_key = age::x25519::Identity::generate();
        let new_r = person.person_key.to_public();
        let (st, dir) = (&*self.storage, &self.dir);
        people::write_keys(st, dir, id, &[old_r, new_r.clone()], &self.keys, &self.device)?;
        people::write_person(st, dir, &person, new, scrypt_log_n)?;
        people::write_keys(st, dir, id, std::slice::from_ref(&new_r), &self.keys, &self.device)?;
        if let Some(entry) = self.people.iter_mut().find(|(p, _)| *p == id) {
            entry.1 = new_r;
        }
        if self.person.as_ref().is_some_and(|p| p.id == id) {
            self.person = Some(people::read_person(st, dir, id, new)?);
        }
        Ok(person)
    }

    /// What unlocking found and repaired.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    /// The database, for reading. Write only through [`commit`](Self::commit):
    /// anything written directly is not journaled and is lost at the next unlock.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The vault directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Apply entries in one SQLite transaction AND append+fsync one journal frame
    /// before returning. All-or-nothing: on any error the db is unchanged.
    pub fn commit(&mut self, entries: Vec<serde_json::Value>) -> Result<(), VaultError> {
        let next = self.next_frame()?;
        let sealed = seal((&self.keys.recipients, &self.keys.vault_key), None, self.generation, next, entries)?;
        self.commit_sealed(sealed)
    }

    /// The sequence number and predecessor hash of the next journal frame,
    /// creating the journal if a failed checkpoint left none.
    fn next_frame(&mut self) -> Result<(u64, [u8; 32]), VaultError> {
        if self.journal.is_none() {
            self.journal = Some(JournalWriter::create(&*self.storage, &self.dir, self.generation, self.snapshot_hash)?);
        }
        let journal = self.journal.as_ref().expect("created just above");
        if journal.broken {
            return Err(VaultError::JournalBroken { path: journal.path.clone() });
        }
        Ok((journal.seq + 1, journal.last_hash))
    }

    /// Apply a sealed frame in one SQLite transaction and append+fsync it
    /// (see [`Vault::commit`]). It MUST be the journal's next frame.
    fn commit_sealed(&mut self, sealed: Sealed) -> Result<(), VaultError> {
        let Sealed { seq, prev_hash, entries, ciphertext, tag, prepared } = sealed;
        let journal = self.journal.as_mut().expect("next_frame created it");
        debug_assert!(seq == journal.seq + 1 && prev_hash == journal.last_hash, "a frame sealed out of order");
        let (old_len, old_seq, old_hash) = (journal.len, journal.seq, journal.last_hash);
        let tx = self.conn.transaction()?;
        if let Err(e) = self.applier.apply_prepared(&tx, &entries, prepared) {
            // Dropping `tx` rolls the transaction back; say why if the
            // database could not grow (the applier's message would only say
            // "out of memory" or "database or disk is full").
            drop(tx);
            return Err(self.explain(e.into()));
        }
        journal.append(&ciphertext, &tag)?;
        if let Err(e) = tx.commit() {
            journal.remove_last(old_len, old_seq, old_hash);
            return Err(self.explain(e.into()));
        }
        free_entries(entries);
        self.checkpoint_if_due();
        Ok(())
    }

    /// The automatic checkpoint, once the journal has grown to
    /// `checkpoint_bytes`. The commit before it is durable already; a
    /// failed automatic checkpoint is kept for `status` and retried after
    /// the next commit.
    fn checkpoint_if_due(&mut self) {
        if self.journal.as_ref().is_some_and(|j| j.len >= self.checkpoint_bytes) {
            self.auto_checkpoint_error = self.run_checkpoint().err().map(|e| e.to_string());
        }
    }

    /// Set the journal size that triggers an automatic checkpoint (see
    /// [`VaultOptions::checkpoint_bytes`]); returns the previous one. A bulk
    /// writer (the demo generator) raises it for the run, since each
    /// checkpoint rewrites the whole database, and restores it afterwards.
    pub fn set_checkpoint_bytes(&mut self, bytes: u64) -> u64 {
        std::mem::replace(&mut self.checkpoint_bytes, bytes)
    }

    /// [`Vault::commit`] of several frames in order, each applied and fsynced
    /// on its own, with the automatic checkpoint considered only after the
    /// last: a large import (many frames) would otherwise write a full
    /// snapshot every few frames. Stops at the first error; the frames
    /// before it stay committed.
    pub fn commit_frames(&mut self, frames: Vec<Vec<serde_json::Value>>) -> Result<(), VaultError> {
        match self.commit_frames_gated::<std::convert::Infallible>(frames, None) {
            Ok(()) => Ok(()),
            Err(GatedCommitError::Vault(e)) => Err(e),
            Err(GatedCommitError::Refused(never)) => match never {},
            // Only a gate can stop, and there is none here.
            Err(GatedCommitError::GateStopped) => Err(VaultError::Encrypt("no gate stopped".into())),
        }
    }

    /// [`Vault::commit_frames`] while a check of the entries still runs on
    /// another thread (`gate`; an import's signature check). Until the gate
    /// has passed, the frames are applied inside ONE SQLite transaction and
    /// nothing is written to the journal: if the gate refuses, that
    /// transaction is rolled back and the vault is exactly as before
    /// ([`GatedCommitError::Refused`]). Once it has passed, the frames held
    /// so far are appended (each fsynced) and the transaction is committed,
    /// and the rest are committed one by one as in `commit_frames`. So a
    /// frame reaches the journal only after the gate passed, and the check
    /// runs while SQLite writes instead of before. At most
    /// [`MAX_HELD_FRAMES`] are held; then the commit waits for the gate.
    /// A gate that panics commits nothing ([`GatedCommitError::GateStopped`]).
    pub fn commit_frames_gated<E: Send>(
        &mut self,
        frames: Vec<Vec<serde_json::Value>>,
        gate: Option<std::thread::JoinHandle<Result<(), E>>>,
    ) -> Result<(), GatedCommitError<E>> {
        if frames.len() < 2 && gate.is_none() {
            return frames.into_iter().try_for_each(|entries| self.commit(entries)).map_err(GatedCommitError::Vault);
        }
        // Frame k+1 is encrypted and prepared on another thread while frame
        // k is applied here: SQLite's writes are the one sequential part.
        let mut next = self.next_frame()?;
        let (recipients, key, applier, generation) =
            (self.keys.recipients.clone(), self.keys.vault_key.clone(), Arc::clone(&self.applier), self.generation);
        let threshold = self.checkpoint_bytes;
        let (total, last) = (frames.len(), frames.len().saturating_sub(1));
        let result = std::thread::scope(|s| {
            let (sender, sealed) = std::sync::mpsc::sync_channel::<Result<Sealed, VaultError>>(1);
            let sealer = s.spawn(move || {
                for entries in frames {
                    let frame = seal((&recipients, &key), Some(&*applier), generation, next, entries);
                    let failed = match &frame {
                        Ok(f) => {
                            next = (f.seq + 1, frame::sha256(&f.ciphertext));
                            false
                        }
                        Err(_) => true,
                    };
                    // A closed channel: the committing side stopped.
                    if sender.send(frame).is_err() || failed {
                        return;
                    }
                }
            });
            let mut received = sealed.iter();
            let mut committed = 0;
            let mut result = match gate {
                Some(gate) => self.commit_held(&mut received, gate, &mut committed, last, threshold),
                None => Ok(()),
            };
            if result.is_ok() {
                for frame in received.by_ref() {
                    // One automatic checkpoint at most, after the last frame.
                    self.checkpoint_bytes = if committed == last { threshold } else { u64::MAX };
                    if let Err(e) = frame.and_then(|f| self.commit_sealed(f)) {
                        result = Err(GatedCommitError::Vault(e));
                        break;
                    }
                    committed += 1;
                }
            }
            drop(sealed);
            let sealer_ok = sealer.join().is_ok();
            match result {
                // The sealing thread stopped early without an error: it panicked.
                Ok(()) if committed < total || !sealer_ok => {
                    Err(GatedCommitError::Vault(VaultError::Encrypt(format!(
                        "preparing the journal frames stopped after {committed} of {total}; \
                     those are committed, the rest are not"
                    ))))
                }
                other => other,
            }
        });
        self.checkpoint_bytes = threshold;
        result
    }

    /// The held part of [`Vault::commit_frames_gated`]: apply frames from
    /// `received` in one transaction until `gate` has finished (checked
    /// after each frame; waited for after the last or the
    /// [`MAX_HELD_FRAMES`]th), then append them and commit, or roll back.
    fn commit_held<E: Send>(
        &mut self,
        received: &mut std::sync::mpsc::Iter<'_, Result<Sealed, VaultError>>,
        gate: std::thread::JoinHandle<Result<(), E>>,
        committed: &mut usize,
        last: usize,
        threshold: u64,
    ) -> Result<(), GatedCommitError<E>> {
        let mut held: Vec<(Vec<u8>, [u8; mac::TAG_LEN])> = Vec::new();
        let tx = self.conn.transaction().map_err(VaultError::from)?;
        let mut applied = Ok(());
        for frame in received.by_ref() {
            let step = frame.and_then(|f| {
                let Sealed { entries, ciphertext, tag, prepared, .. } = f;
                self.applier.apply_prepared(&tx, &entries, prepared).map_err(VaultError::from)?;
                free_entries(entries);
                held.push((ciphertext, tag));
                Ok(())
            });
            if step.is_err() {
                applied = step;
                break;
            }
            if gate.is_finished() || held.len() >= MAX_HELD_FRAMES || *committed + held.len() > last {
                break;
            }
        }
        // The gate's verdict comes first: a refused check explains a
        // failed apply better than the apply's own error.
        let verdict = gate.join();
        let refused = match verdict {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(GatedCommitError::Refused(e)),
            Err(_) => Some(GatedCommitError::GateStopped),
        };
        if let Some(refused) = refused {
            drop(tx);
            return Err(refused);
        }
        if let Err(e) = applied {
            drop(tx);
            return Err(GatedCommitError::Vault(self.explain(e)));
        }
        let journal = self.journal.as_mut().expect("next_frame created it");
        let (old_len, old_seq, old_hash) = (journal.len, journal.seq, journal.last_hash);
        let appended = held.iter().try_for_each(|(ciphertext, tag)| journal.append(ciphertext, tag));
        let done = appended.and_then(|()| tx.commit().map_err(VaultError::from));
        if let Err(e) = done {
            self.journal.as_mut().expect("checked above").remove_last(old_len, old_seq, old_hash);
            return Err(GatedCommitError::Vault(self.explain(e)));
        }
        *committed += held.len();
        // One automatic checkpoint at most, after the last frame.
        self.checkpoint_bytes = if *committed > last { threshold } else { u64::MAX };
        self.checkpoint_if_due();
        Ok(())
    }

    /// Write a new snapshot of the database and start a new journal generation.
    /// Does nothing when the database is as the last snapshot left it (no
    /// commit, and no index added by [`Applier::upgrade`]).
    pub fn checkpoint(&mut self) -> Result<(), VaultError> {
        if self.snapshot_is_current() {
            return Ok(());
        }
        self.run_checkpoint()
    }

    /// Whether the snapshot on disk holds the database as it is: no commit
    /// since, and no change by [`Applier::upgrade`] (then
    /// [`checkpoint`](Self::checkpoint) has nothing to do).
    pub fn snapshot_is_current(&self) -> bool {
        matches!(&self.journal, Some(j) if j.seq == 0 && !j.broken) && self.db.file.dirty_chunks().is_empty()
    }

    /// Checkpoint, then drop the database and zeroize the keys. If the
    /// checkpoint fails the vault is still closed; every commit is safe in
    /// the journal and the next unlock replays it.
    pub fn lock(mut self) -> Result<(), VaultError> {
        let result = self.checkpoint();
        drop(self);
        result
    }

    /// Who this device is.
    pub fn device(&self) -> &DeviceInfo {
        &self.device
    }

    /// The device key (Ed25519): signs this device's bundles, an office's
    /// rosters, and the escrow key file. Every person who unlocks the
    /// vault holds it; it signs no event (docs/vault-format.md §2.2),
    /// except in a vault made before identity version 3, where it is also
    /// the first person's event key.
    pub fn device_key(&self) -> &ed25519_dalek::SigningKey {
        &self.keys.device
    }

    /// The device key's public half: what the roster lists as the
    /// device's bundle key, and an office's `office_signing_key`.
    pub fn device_verifying_key(&self) -> ed25519_dalek::VerifyingKey {
        self.keys.device.verifying_key()
    }

    /// The first person's event key, when the first person unlocked (or
    /// was switched to with their passphrase): a further person never
    /// holds it.
    pub fn first_person_key(&self) -> Option<&ed25519_dalek::SigningKey> {
        self.keys.signing.as_ref()
    }

    /// The first person's event key's public half: what their events are
    /// checked with, and what the roster lists as the device's `signing_key`.
    pub fn first_person_verifying_key(&self) -> ed25519_dalek::VerifyingKey {
        self.keys.signing_public
    }

    /// The device's transport recipient (`age1...`): what the office
    /// encrypts bundles for this device to. Not the recipient of the
    /// vault's own files, which is never published.
    pub fn recipient(&self) -> String {
        self.keys.age.to_public().to_string()
    }

    /// The recipient the vault's own files are encrypted to (with the
    /// escrow recipient, if any). Fieldcase never publishes it; it is here
    /// so tests can play an attacker who learned it anyway (the files'
    /// tags stop that attacker too: docs/vault-format.md §9).
    pub fn files_recipient(&self) -> String {
        self.keys.recipients[0].to_string()
    }

    /// The device's age identity, to decrypt sync bundles addressed to this
    /// vault. Crate-internal: the secret key never leaves the library.
    pub(crate) fn age_identity(&self) -> &age::x25519::Identity {
        &self.keys.age
    }

    /// Encrypt an attachment into `blobs/<id>.age`; returns its id.
    pub fn put_blob(&mut self, bytes: &[u8]) -> Result<String, VaultError> {
        blob::put(&*self.storage, &self.dir, &self.keys, bytes)
    }

    /// Decrypt attachment `id`.
    pub fn get_blob(&self, id: &str) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        blob::get(&*self.storage, &self.dir, &self.keys, id)
    }

    /// Whether attachment `id` is stored here.
    pub fn has_blob(&self, id: &str) -> Result<bool, VaultError> {
        blob::exists(&*self.storage, &self.dir, id)
    }

    /// Store an attachment received in a sync bundle under its own id.
    pub(crate) fn put_blob_as(&self, id: &str, bytes: &[u8]) -> Result<(), VaultError> {
        blob::put_with_id(&*self.storage, &self.dir, &self.keys, id, bytes)
    }

    /// Delete attachment `id` and its tag, durably (the erasure of a case;
    /// absent is not an error).
    pub fn delete_blob(&self, id: &str) -> Result<(), VaultError> {
        blob::remove(&*self.storage, &self.dir, id)
    }

    /// Delete attachment `id` (an import taking back what it stored).
    pub(crate) fn remove_blob(&self, id: &str) -> Result<(), VaultError> {
        blob::remove(&*self.storage, &self.dir, id)
    }

    /// Sizes and positions.
    pub fn stats(&self) -> VaultStats {
        let (database_chunks_loaded, database_chunks) = self.db.loaded();
        VaultStats {
            generation: self.generation,
            journal_frames: self.journal.as_ref().map_or(0, |j| j.seq),
            journal_bytes: self.journal.as_ref().map_or(0, |j| j.len),
            snapshot_bytes: self.snapshot_size,
            database_bytes: self.db.len(),
            database_chunks_loaded,
            database_chunks,
        }
    }

    /// Wait until the whole database is in memory (unlocking returns once
    /// the parts needed to open it are; the rest loads in the background
    /// or when first read). Returns the first segment that failed to load:
    /// [`VaultError::DamagedSegment`], with what it holds unreadable.
    pub fn wait_loaded(&mut self) -> Result<(), VaultError> {
        self.db.wait_loaded()
    }

    /// A segment of the database that failed to load, if any (see
    /// [`wait_loaded`](Self::wait_loaded)).
    pub fn damaged_segment(&self) -> Option<VaultError> {
        self.db.failure()
    }

    /// The damaged segment behind an error of a read or write of the
    /// database, if that is what it was: SQLite reports a segment that
    /// failed to load only as "disk I/O error". For callers that read
    /// through [`conn`](Self::conn) (the store, the desktop app).
    pub fn damage_behind(&self, err: &dyn std::fmt::Display) -> Option<VaultError> {
        err.to_string().contains("disk I/O error").then(|| self.db.failure()).flatten()
    }

    /// `err`, or why it really happened: a segment that failed to load
    /// ([`damage_behind`](Self::damage_behind)), or no memory left to grow
    /// the database (the applier's message would only say "out of memory").
    fn explain(&self, err: VaultError) -> VaultError {
        if let Some(damaged) = self.damage_behind(&err) {
            return damaged;
        }
        if err.to_string().contains("out of memory") {
            return VaultError::DatabaseFull { bytes: self.db.len() };
        }
        err
    }

    /// The error of the last automatic checkpoint, if it failed.
    pub fn auto_checkpoint_error(&self) -> Option<&str> {
        self.auto_checkpoint_error.as_deref()
    }
}

/// The default vault directory: `vault` in the platform data directory
/// (`~/.local/share/fieldcase/vault` on Linux). `None` when the platform has no
/// home directory; callers then ask for an explicit directory.
pub fn default_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("org", "Fieldcase", "fieldcase").map(|d| d.data_dir().join("vault"))
}

/// Change the passphrase of the vault in `dir` (see
/// [`Vault::change_passphrase`]): unlock it with `old` and `applier` (the
/// journal is replayed before the files are re-encrypted), change the
/// keys, lock it.
pub fn change_passphrase(
    dir: &Path,
    old: &SecretString,
    new: &SecretString,
    applier: Box<dyn Applier>,
) -> Result<(), VaultError> {
    change_passphrase_with(dir, old, new, applier, &VaultOptions::default())
}

/// Rewrite `identity.age` with the same passphrase and keys under the
/// scrypt work factor of `options` (the benchmark compares unlocking at
/// two factors). Changes no key, so it re-encrypts nothing else.
pub fn rewrap_identity(dir: &Path, passphrase: &SecretString, options: &VaultOptions) -> Result<(), VaultError> {
    let (keys, device, version) = identity::read(&*options.storage, dir, passphrase)?;
    if version < identity::IDENTITY_VERSION {
        // The upgrade writes it at the next unlock, with its vault key.
        return Err(VaultError::UnsupportedVersion { path: dir.join(IDENTITY_FILE), version });
    }
    identity::write(&*options.storage, dir, &keys, &device, passphrase, options.scrypt_log_n)
}

/// [`change_passphrase`] with explicit technical settings.
pub fn change_passphrase_with(
    dir: &Path,
    old: &SecretString,
    new: &SecretString,
    applier: Box<dyn Applier>,
    options: &VaultOptions,
) -> Result<(), VaultError> {
    use secrecy::ExposeSecret;
    if new.expose_secret().is_empty() {
        return Err(VaultError::EmptyPassphrase);
    }
    let mut vault = Vault::open_with(dir, old, applier, options)?;
    vault.change_passphrase(old, new, options.scrypt_log_n)?;
    vault.lock()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_can_move_between_threads() {
        // The desktop app keeps the unlocked vault in shared state.
        fn is_send<T: Send>() {}
        is_send::<Vault>();
    }
}
