//! [`ImportError`]: why a bundle was refused. Every variant says what a person
//! can do about it; none of them leaves the importing vault changed.
use uuid::Uuid;

use crate::model::error::StoreError;

/// Why a bundle could not be read, verified or imported. When any of these is
/// returned the importing vault is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file does not start like an age file at all.
    #[error("not a Fieldcase bundle (not an age file); check that you picked the right file")]
    NotAgeFile,
    /// None of the age stanzas is for this vault.
    #[error("this bundle was made for another vault/office; ask the sender to export it for this vault (fieldcase recipient prints its key)")]
    WrongRecipient,
    /// The age layer or the archive is damaged or cut short.
    #[error("the bundle is damaged or truncated ({size} bytes on disk): {reason}; copy it again from the sender")]
    Damaged {
        /// Size of the file given.
        size: u64,
        /// What failed.
        reason: String,
    },
    /// The manifest names another format.
    #[error("not a Fieldcase bundle: {0}")]
    NotABundle(String),
    /// A major version this build does not know.
    #[error("bundle format version {major} is not supported by this Fieldcase; update the app")]
    UnsupportedVersion {
        /// The major version found.
        major: u64,
    },
    /// A tar member of a forbidden type or with a forbidden path.
    #[error(
        "the bundle contains a forbidden member {path:?}: {reason}; it was not made by Fieldcase, do not trust it"
    )]
    ForbiddenMember {
        /// The member path as found (lossy UTF-8).
        path: String,
        /// Why it is forbidden.
        reason: String,
    },
    /// The same path twice.
    #[error("the bundle contains {0:?} twice; it was not made by Fieldcase, do not trust it")]
    DuplicateMember(String),
    /// A limit on sizes or counts is exceeded (checked before reading).
    #[error("the bundle is too large: {what} is {size}, the limit is {limit}")]
    TooLarge {
        /// What is too large.
        what: String,
        /// Its (declared) size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The archive does not begin with manifest.json then manifest.sig
    /// (every writer puts them first; a reader decides on the signer before
    /// reading anything else).
    #[error("the bundle's members are out of order: {expected} must come first, found {found:?}; it was not made by Fieldcase, do not trust it")]
    OutOfOrder {
        /// The member expected at this place.
        expected: String,
        /// The member found there.
        found: String,
    },
    /// A required member is absent.
    #[error("the bundle has no {0}; it is incomplete or was not made by Fieldcase")]
    MissingMember(String),
    /// A member's size or hash differs from the manifest, or a member is unlisted.
    #[error("bundle member {path:?} does not match the manifest ({reason}); the bundle was altered")]
    MemberMismatch {
        /// Member path.
        path: String,
        /// What differs.
        reason: String,
    },
    /// manifest.json (or roster.json, receipt) is not what the format requires.
    #[error("the bundle's {member} is malformed: {reason}")]
    Malformed {
        /// Which member.
        member: String,
        /// Why.
        reason: String,
    },
    /// A line of events.jsonl is not an event.
    #[error("event on line {line} of the bundle is malformed: {reason}")]
    MalformedEvent {
        /// 1-based line number.
        line: usize,
        /// Why.
        reason: String,
    },
    /// A line of events.jsonl exceeds the limit.
    #[error("event on line {line} of the bundle is {size} bytes, over the limit of {limit}")]
    EventTooLarge {
        /// 1-based line number.
        line: usize,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// manifest.sig does not verify with the sender's key from the roster.
    #[error("the bundle's signature does not match the key of its sender {sender} (altered, or re-signed by another key); do not trust it")]
    BadSignature {
        /// The claimed sender.
        sender: Uuid,
    },
    /// The sender is not in this vault's roster.
    #[error(
        "the bundle comes from unknown sender {sender}; only enrolled devices and this vault's office can send bundles"
    )]
    UnknownSender {
        /// The claimed sender.
        sender: Uuid,
    },
    /// The sender was revoked.
    #[error("the bundle is signed by a revoked device ({sender}); it is refused")]
    RevokedSender {
        /// The revoked device.
        sender: Uuid,
    },
    /// An event signed by a device that was revoked before it.
    #[error("event {event} was signed by revoked device {device} after its revocation; refused")]
    RevokedAuthor {
        /// The revoked device.
        device: Uuid,
        /// The event.
        event: Uuid,
    },
    /// An event claims a role its device was not granted.
    #[error("event {event} claims role {claimed} but device {device} is enrolled as {granted}; refused")]
    RoleNotGranted {
        /// The device.
        device: Uuid,
        /// The event.
        event: Uuid,
        /// Role in the event.
        claimed: String,
        /// Role in the roster.
        granted: String,
    },
    /// The bundle's office is not this vault's office.
    #[error("this bundle was made for another office ({found}, this vault belongs to {expected})")]
    WrongOffice {
        /// This vault's office.
        expected: Uuid,
        /// The bundle's office.
        found: Uuid,
    },
    /// A bundle older than the last one accepted from the sender.
    #[error("sender sequence went backwards: bundle {got} from {sender}, but bundle {last} was already imported; import the sender's newest bundle instead. If this is the sender's newest bundle, its vault was put back to an older copy (a restored backup, or files changed outside Fieldcase): find out why before accepting more from it")]
    SequenceBackwards {
        /// The sender.
        sender: Uuid,
        /// Last accepted sequence.
        last: u64,
        /// This bundle's sequence.
        got: u64,
    },
    /// This kind of bundle is not meant for this vault.
    #[error("{0}")]
    WrongKind(String),
    /// The vault has no office yet.
    #[error("this vault is not enrolled with an office; import its enrollment bundle first")]
    NotEnrolled,
    /// The roster in the bundle is not acceptable.
    #[error("the bundle's roster is refused: {0}")]
    BadRoster(String),
    /// The country configuration in the bundle is not acceptable
    /// (docs/bundle-format.md §7.1); nothing of the bundle is applied.
    #[error("{0}; nothing of the bundle was applied")]
    BadConfig(#[from] crate::country::ConfigError),
    /// An event was refused by the case model (signature, rules, roles…).
    #[error("an event was refused: {0}")]
    Rejected(#[from] StoreError),
    /// Reading this vault's copy of an attachment, or storing a received
    /// one, failed (disk full, permissions, a damaged blob file).
    #[error("attachment {id}: {source}; nothing was imported, fix this and import the bundle again")]
    Attachment {
        /// The blob id.
        id: String,
        /// What failed in the vault.
        source: crate::vault::VaultError,
    },
    /// Reading the file failed.
    #[error("cannot read the bundle: {0}")]
    Io(#[from] std::io::Error),
}

// Each refusal's stable code for the interfaces (crate::codes): a refused
// bundle reaches a person as a code and its values, in their language.
crate::error_codes! { ImportError {
    nested {
        ImportError::BadConfig(c) => c: crate::country::ConfigError;
        ImportError::Rejected(s) => s: StoreError;
    }
    ImportError::NotAgeFile | ImportError::NotABundle(_) => "bundle_not_a_bundle";
    ImportError::WrongRecipient => "bundle_wrong_recipient";
    ImportError::Damaged { size, .. } => "bundle_damaged" { size };
    ImportError::UnsupportedVersion { major } => "bundle_unsupported_version" { major };
    ImportError::ForbiddenMember { path, .. } => "bundle_forbidden_member" { path };
    ImportError::DuplicateMember(path) => "bundle_duplicate_member" { path };
    ImportError::TooLarge { size, limit, .. } => "bundle_too_large" { size, limit };
    ImportError::OutOfOrder { .. } => "bundle_out_of_order";
    ImportError::MissingMember(member) => "bundle_missing_member" { member };
    ImportError::MemberMismatch { path, .. } => "bundle_altered" { path };
    ImportError::Malformed { member, .. } => "bundle_malformed" { member };
    ImportError::MalformedEvent { line, .. } => "bundle_event_malformed" { line };
    ImportError::EventTooLarge { line, size, limit } => "bundle_event_too_large" { line, size, limit };
    ImportError::BadSignature { sender } => "bundle_bad_signature" { sender };
    ImportError::UnknownSender { sender } => "bundle_unknown_sender" { sender };
    ImportError::RevokedSender { sender } => "bundle_revoked" { sender };
    ImportError::RevokedAuthor { device, event } => "bundle_revoked_author" { device, event };
    ImportError::RoleNotGranted { device, claimed, granted, .. } => "bundle_role_not_granted" { device, claimed, granted };
    ImportError::WrongOffice { .. } => "bundle_wrong_office";
    ImportError::SequenceBackwards { sender, last, got } => "bundle_sequence_backwards" { sender, last, got };
    ImportError::WrongKind(_) => "bundle_wrong_kind";
    ImportError::NotEnrolled => "not_enrolled";
    ImportError::BadRoster(_) => "bundle_bad_roster";
    ImportError::Attachment { id, .. } => "bundle_attachment_failed" { id };
    ImportError::Io(_) => "file_unreadable";
} }
