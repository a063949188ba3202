//! Errors of the vault. Every variant says what happened and what a person can do.
use std::io;
use std::path::PathBuf;

/// An [`Applier`](super::Applier) refused a set of journal entries. The message
/// is the applier's reason, shown to the person as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ApplyError(pub String);

/// Everything that can go wrong when creating, unlocking, writing or locking a vault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The passphrase did not decrypt the identity file.
    #[error("wrong passphrase for {path}: type it again (a lost passphrase cannot be reset; only the office can recover the data, and only if escrow was on when the vault was created)")]
    WrongPassphrase {
        /// The identity file.
        path: PathBuf,
    },
    /// The directory holds no `identity.age`.
    #[error("{dir} is not a Fieldcase vault (there is no identity.age in it): check the vault directory, or create a vault with `fieldcase init`")]
    NotAVault {
        /// The directory that was opened.
        dir: PathBuf,
    },
    /// The identity file exists but cannot be read as a Fieldcase identity.
    #[error("the identity file {path} is damaged ({reason}): restore it from a backup, or ask the office to recover the device with its escrow key")]
    CorruptIdentity {
        /// The identity file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// `identity.age` would be written while the first person's event key
    /// is not loaded (a further person unlocked): it would lose the key.
    #[error("this needs the vault's first person: switch to them with their passphrase first")]
    FirstPersonKeyNotLoaded,
    /// The identity file was written by a newer Fieldcase.
    #[error(
        "{path} uses vault format version {version}, which this Fieldcase does not know: install a newer Fieldcase"
    )]
    UnsupportedVersion {
        /// The file with the unknown version.
        path: PathBuf,
        /// Its version.
        version: u32,
    },
    /// The identity file asks for more scrypt work than this device accepts.
    #[error("the identity file {path} needs an scrypt work factor of 2^{required}, more than this device accepts (2^{max}): it was not made by Fieldcase on a device like this one")]
    ExcessiveWork {
        /// The identity file.
        path: PathBuf,
        /// Work factor (log2 N) the file asks for.
        required: u8,
        /// Largest accepted work factor.
        max: u8,
    },
    /// `identity.age` is there but `snapshot.age` is not.
    #[error("the snapshot {path} is missing, so the vault cannot be opened (it is never silently recreated empty): restore it from a backup, or ask the office to recover the device with its escrow key")]
    MissingSnapshot {
        /// Where the snapshot should be.
        path: PathBuf,
    },
    /// `snapshot.age` does not decrypt or does not hold a Fieldcase database.
    #[error("the snapshot {path} is damaged ({reason}); the vault was not opened: restore it from a backup, or ask the office to recover the device with its escrow key")]
    CorruptSnapshot {
        /// The snapshot file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A vault file fails its tag or its place in the chain of files: it was
    /// written by someone without the vault key (docs/vault-format.md §9).
    /// Nothing from it was used.
    #[error("vault files were modified outside Fieldcase: {path} ({reason}). Nothing from it was used. {recovery}")]
    Tampered {
        /// The file that fails.
        path: PathBuf,
        /// What fails.
        reason: String,
        /// What can be recovered, and how.
        recovery: String,
    },
    /// Another process has the vault open.
    #[error("the vault {dir} is open in another Fieldcase window or command: close it and try again")]
    Busy {
        /// The vault directory.
        dir: PathBuf,
    },
    /// `init` was pointed at a directory that already holds vault files.
    #[error("{path} already exists, so {dir} already holds a vault (or the remains of one): choose another directory; nothing was overwritten")]
    AlreadyExists {
        /// The vault directory.
        dir: PathBuf,
        /// The file found there.
        path: PathBuf,
    },
    /// The `--escrow` value is not an age X25519 recipient.
    #[error("the escrow recipient {recipient:?} is not an age X25519 recipient ({reason}): ask the office for its recipient, which starts with age1")]
    BadEscrowRecipient {
        /// What was given.
        recipient: String,
        /// Why it was refused.
        reason: String,
    },
    /// An empty passphrase was given where a new one is set.
    #[error("the passphrase is empty: choose a passphrase (several words are easiest to remember)")]
    EmptyPassphrase,
    /// The disk is full (or over quota).
    #[error("the disk is full while writing {path}: free some space and try again; this operation saved nothing and everything saved before is intact")]
    DiskFull {
        /// The file being written.
        path: PathBuf,
    },
    /// Any other file-system error.
    #[error("could not {op} {path}: {source}")]
    Io {
        /// What was being done ("write", "rename", ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// One commit is larger than a journal frame may be.
    #[error("this change is too large to save in one step ({size} bytes, the limit is {limit}): store large files as attachments (blobs) or save in smaller steps")]
    FrameTooLarge {
        /// Size of the encrypted frame.
        size: usize,
        /// [`MAX_FRAME_LEN`](super::frame::MAX_FRAME_LEN).
        limit: usize,
    },
    /// The applier refused the entries of a commit; nothing was saved.
    #[error("the change was refused: {0}")]
    Apply(#[from] ApplyError),
    /// A committed journal frame could not be applied when reopening.
    #[error("saved change {seq} of generation {generation} could not be applied when unlocking ({reason}): this is a bug in Fieldcase; keep the vault directory as it is and report it")]
    Replay {
        /// Journal generation.
        generation: u64,
        /// Frame sequence number.
        seq: u64,
        /// The applier's reason.
        reason: String,
    },
    /// A journal write failed and the partial frame could not be removed.
    #[error("the journal {path} could not be repaired after a failed write: lock the vault and unlock it again (unlocking repairs it); nothing saved before is lost")]
    JournalBroken {
        /// The journal file.
        path: PathBuf,
    },
    /// No memory was left to grow the unlocked database.
    #[error("there is no memory left to grow the vault's database ({} MB now): this change was not saved; everything saved before is safe. Close other programs and try again", .bytes / 1_000_000)]
    DatabaseFull {
        /// Size of the database now.
        bytes: u64,
    },
    /// A segment of the snapshot failed to load (after unlocking, when
    /// the database first needed it, or while unlocking).
    #[error("part of the vault's database cannot be read: the segment {path} is damaged ({reason}). What it holds cannot be read or changed; everything else can. Restore the vault from a backup, or ask the office to recover the device with its escrow key")]
    DamagedSegment {
        /// The segment file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The in-memory database failed.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// age refused to encrypt (should not happen with valid recipients).
    #[error("encryption failed: {0}")]
    Encrypt(String),
    /// No blob with that id.
    #[error("attachment {id} is not in this vault: it may have been deleted, or it is on another device not yet synchronised")]
    BlobNotFound {
        /// The blob id.
        id: String,
    },
    /// The blob id is not a blob id (a UUID).
    #[error("{id:?} is not an attachment id")]
    BadBlobId {
        /// What was given.
        id: String,
    },
    /// A blob file does not decrypt.
    #[error("the attachment file {path} is damaged ({reason}): restore it from a backup or ask the office for a copy")]
    CorruptBlob {
        /// The blob file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

// Each failure's stable code for the interfaces (crate::codes).
crate::error_codes! { VaultError {
    VaultError::WrongPassphrase { .. } => "wrong_passphrase";
    VaultError::NotAVault { dir } => "not_a_vault" { dir = dir.display() };
    VaultError::CorruptIdentity { .. }
    | VaultError::MissingSnapshot { .. }
    | VaultError::CorruptSnapshot { .. }
    | VaultError::DamagedSegment { .. } => "vault_damaged";
    VaultError::FirstPersonKeyNotLoaded => "first_person_needed";
    VaultError::UnsupportedVersion { version, .. } => "vault_version_unsupported" { version };
    VaultError::ExcessiveWork { .. } => "vault_excessive_work";
    VaultError::Tampered { path, .. } => "vault_tampered" { path = path.display() };
    VaultError::Busy { .. } => "vault_busy";
    VaultError::AlreadyExists { dir, .. } => "vault_exists" { dir = dir.display() };
    VaultError::BadEscrowRecipient { .. } => "bad_escrow";
    VaultError::EmptyPassphrase => "empty_passphrase";
    VaultError::DiskFull { path } => "disk_full" { path = path.display() };
    VaultError::Io { path, source, .. } => "vault_io" { path = path.display(), source };
    VaultError::FrameTooLarge { size, limit } => "change_too_large" { size, limit };
    VaultError::Apply(reason) => "change_refused" { reason };
    VaultError::Replay { .. } => "vault_replay_failed";
    VaultError::JournalBroken { .. } => "journal_broken";
    VaultError::DatabaseFull { .. } => "out_of_memory";
    VaultError::Database(_) => "database_error";
    VaultError::Encrypt(_) => "encryption_failed";
    VaultError::BlobNotFound { id } => "attachment_not_found" { id };
    VaultError::BadBlobId { id } => "bad_attachment_id" { id };
    VaultError::CorruptBlob { .. } => "attachment_damaged";
} }

impl VaultError {
    /// Map an I/O error on `path`, turning "no space left" into [`VaultError::DiskFull`].
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        let path = path.into();
        if source.kind() == io::ErrorKind::StorageFull || source.kind() == io::ErrorKind::QuotaExceeded {
            VaultError::DiskFull { path }
        } else {
            VaultError::Io { op, path, source }
        }
    }
}
