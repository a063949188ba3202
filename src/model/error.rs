//! Errors of the case store ([`crate::model::store::CaseStore`]).

use uuid::Uuid;

use crate::model::audit::AuditError;
use crate::model::event::{Role, SignatureError, UnknownRole};
use crate::model::forms::FieldError;
use crate::model::lifecycle::RuleViolation;
use crate::model::projection::ApplyRejection;
use crate::vault::VaultError;

/// What went wrong with a case-store operation, phrased so a person can act.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The vault failed (wrong passphrase, disk, journal…).
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The check of an import stopped before it could say yes or no (a
    /// bug); nothing was imported.
    #[error("the import's {0} check stopped unexpectedly; nothing was imported: this is a bug in Fieldcase, please report it")]
    CheckStopped(&'static str),
    /// No case with this id or case number.
    #[error("no case {case} in this vault")]
    NotFound {
        /// The id or number asked for.
        case: String,
    },
    /// The case was erased: only its tombstone (no personal data) is left.
    #[error("case {case} was erased on {on} (reason: {reason}); only its tombstone remains")]
    Erased {
        /// The case id.
        case: String,
        /// The day of the approval (UTC).
        on: String,
        /// The reason code.
        reason: String,
    },
    /// The person who unlocked may not see this case (or this note), so may
    /// not read or change it. Says why, and nothing of the case's data.
    #[error("case {case} is not open to you: {reason}")]
    Hidden {
        /// The id or number asked for.
        case: String,
        /// Why (docs/visibility.md).
        reason: crate::model::visibility::HiddenReason,
    },
    /// The form id is not one of the form definitions.
    #[error("unknown form {form:?}")]
    UnknownForm {
        /// The form asked for.
        form: String,
    },
    /// Values do not fit the form definition.
    #[error("invalid values: {}", field_errors(errors))]
    Invalid {
        /// One error per bad field.
        errors: Vec<FieldError>,
    },
    /// A lifecycle rule forbids the change.
    #[error("not allowed by the case rules: {}", violations.iter().map(|v| format!("{} {}", v.rule, v.message)).collect::<Vec<_>>().join("; "))]
    RuleViolated {
        /// Every rule that blocks it.
        violations: Vec<RuleViolation>,
    },
    /// An attachment with no bytes.
    #[error("the file is empty: nothing to attach")]
    EmptyAttachment,
    /// An attachment over the limit a bundle carries.
    #[error("the file is {size} bytes; files up to {limit} bytes can be attached")]
    AttachmentTooLarge {
        /// Its size.
        size: u64,
        /// [`crate::model::store::MAX_ATTACHMENT_BYTES`].
        limit: u64,
    },
    /// The acting role may not do this.
    #[error("a {role} may not {action}")]
    Forbidden {
        /// The acting role.
        role: Role,
        /// What was attempted.
        action: String,
    },
    /// An imported event's signature does not verify against its device's key
    /// (forged, altered after signing, or claiming another device's id).
    #[error("event {event} refused: {reason}")]
    BadSignature {
        /// The event.
        event: Uuid,
        /// Why.
        reason: SignatureError,
    },
    /// An imported event comes from a device this vault does not trust.
    #[error("event {event} comes from unknown device {device}; trust the device first")]
    UnknownDevice {
        /// The device.
        device: Uuid,
        /// The event.
        event: Uuid,
    },
    /// A device signed two different events with the same sequence number.
    #[error("device {device} signed two different events with sequence number {seq} ({existing} and {new}): equivocation, refused")]
    Equivocation {
        /// The device.
        device: Uuid,
        /// The sequence number.
        seq: u64,
        /// The event already known (or seen first).
        existing: Uuid,
        /// The other one.
        new: Uuid,
    },
    /// An event id is already known with different content.
    #[error("event {event} is already known with different content: refused")]
    ConflictingEvent {
        /// The event.
        event: Uuid,
    },
    /// An event's payload does not have the shape its kind needs.
    #[error("event {event} is malformed: {reason}")]
    Malformed {
        /// The event.
        event: Uuid,
        /// What is wrong.
        reason: String,
    },
    /// An imported event is stamped more than a day ahead of this machine's
    /// clock.
    #[error("event {event} from device {device} is dated {millis} ms since 1970, more than a day ahead of this machine's clock; check that device's date and time")]
    FromTheFuture {
        /// The event.
        event: Uuid,
        /// Its device.
        device: Uuid,
        /// Its HLC milliseconds.
        millis: u64,
    },
    /// `resolve_conflict` on a field that has no conflict.
    #[error("{form}.{field} has no conflict to resolve")]
    NoConflict {
        /// Form.
        form: String,
        /// Field.
        field: String,
    },
    /// A conflict resolution names a value (head) the conflict does not
    /// have (any more).
    #[error("{event} is not one of the values in conflict on {form}.{field} (it was resolved or changed meanwhile); reload and choose again")]
    NotAHead {
        /// Form (`case` for the stage).
        form: String,
        /// Field (`stage` for the stage).
        field: String,
        /// The event named as the chosen value.
        event: Uuid,
    },
    /// A device is already trusted with another key.
    #[error("device {device} is already trusted with a different key")]
    DeviceKeyMismatch {
        /// The device.
        device: Uuid,
    },
    /// `set_actor` on a vault that belongs to an office: there the roster
    /// says who may sign what, so changing the acting person needs their
    /// passphrase.
    #[error("this vault belongs to an office: the person recording is changed by switching person with their passphrase, not by naming a user and role")]
    ActorFixed,
    /// No person of this user name on this vault.
    #[error("no person {user:?} on this vault: add them first (`fieldcase person add`)")]
    UnknownPerson {
        /// The user name asked for.
        user: String,
    },
    /// The user name is taken on this vault.
    #[error("a person named {user:?} is already on this vault; choose another user name")]
    PersonExists {
        /// The user name.
        user: String,
    },
    /// Cases may be assigned only to an enrolled caseworker.
    #[error("{user:?} is not a caseworker enrolled by the office (or their enrollment is revoked): cases can be assigned only to one")]
    NotACaseworker {
        /// The user name given.
        user: String,
    },
    /// Only the vault's first person may do this (remove a person).
    #[error("only this vault's first person ({user}) may do this: switch to them with their passphrase")]
    NotFirstPerson {
        /// The first person's user name.
        user: String,
    },
    /// A person's file does not agree with the vault's record of them.
    #[error("the file of person {user:?} does not match this vault's record of them (replaced or altered?); the vault's first person can remove and add them again")]
    PersonMismatch {
        /// The user name.
        user: String,
    },
    /// The acting person is not (or no longer) in the office's roster as
    /// this vault holds it, so nothing they sign would be accepted.
    #[error("{user} may not record yet: {reason}")]
    PersonNotEnrolled {
        /// The user name.
        user: String,
        /// Why, and what to do.
        reason: String,
    },
    /// A new passphrase the policy refuses.
    #[error(transparent)]
    WeakPassphrase(#[from] crate::passphrase_policy::WeakPassphrase),
    /// The vault's role is not a known role.
    #[error(transparent)]
    UnknownRole(#[from] UnknownRole),
    /// The audit trail does not verify.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// Database failure (a bug or a tampered database).
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
}

// A stable machine code for each error, in snake_case, that an interface
// translates (the desktop app's `error.<code>` messages in English, French
// and Arabic) with its parameters; the English `Display` text is the CLI's
// and the fallback. A code never changes meaning once released. A rule
// violation's and a field error's details travel beside the code (each
// violation has its own code: `RuleViolation::code`).
crate::error_codes! { StoreError {
    nested {
        StoreError::Vault(v) => v: VaultError;
    }
    StoreError::CheckStopped(check) => "check_stopped" { check };
    StoreError::NotFound { case } => "not_found" { case };
    StoreError::Hidden { case, reason } => "hidden" { case, reason = reason.code() };
    StoreError::Erased { case, on, reason } => "erased" { case, on, reason };
    StoreError::UnknownForm { form } => "unknown_form" { form };
    StoreError::Invalid { .. } => "invalid";
    StoreError::RuleViolated { .. } => "rule_violated";
    StoreError::EmptyAttachment => "bad_attachment";
    StoreError::AttachmentTooLarge { size, limit } => "attachment_too_large" { size, limit };
    StoreError::Forbidden { role, action } => "forbidden" { role = role.as_str(), action };
    StoreError::BadSignature { event, .. } => "event_bad_signature" { event };
    StoreError::UnknownDevice { device, event } => "event_unknown_device" { device, event };
    StoreError::Equivocation { device, seq, .. } => "event_equivocation" { device, seq };
    StoreError::ConflictingEvent { event } => "event_conflicting" { event };
    StoreError::Malformed { event, .. } => "event_malformed" { event };
    StoreError::FromTheFuture { event, device, .. } => "event_from_the_future" { event, device };
    StoreError::NoConflict { form, field } => "no_conflict" { form, field };
    StoreError::NotAHead { form, field, .. } => "conflict_changed" { form, field };
    StoreError::DeviceKeyMismatch { device } => "device_key_mismatch" { device };
    StoreError::ActorFixed => "actor_fixed";
    StoreError::UnknownPerson { user } => "unknown_person" { user };
    StoreError::PersonExists { user } => "person_exists" { user };
    StoreError::NotACaseworker { user } => "not_a_caseworker" { user };
    StoreError::NotFirstPerson { user } => "not_first_person" { user };
    StoreError::PersonMismatch { user } => "person_mismatch" { user };
    StoreError::PersonNotEnrolled { user, reason } => "person_not_enrolled" { user, reason };
    StoreError::WeakPassphrase(_) => "weak_passphrase";
    StoreError::UnknownRole(_) => "unknown_role";
    StoreError::Audit(_) => "audit_broken";
    StoreError::Database(_) => "database_error";
} }

fn field_errors(errors: &[FieldError]) -> String {
    errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
}

impl From<ApplyRejection> for StoreError {
    fn from(e: ApplyRejection) -> StoreError {
        match e {
            ApplyRejection::Malformed(reason) => StoreError::Malformed { event: Uuid::nil(), reason },
            ApplyRejection::UnknownDevice { device, event } => StoreError::UnknownDevice { device, event },
            ApplyRejection::Equivocation { device, seq, existing, new } => {
                StoreError::Equivocation { device, seq, existing, new }
            }
            ApplyRejection::ConflictingEvent(event) => StoreError::ConflictingEvent { event },
            ApplyRejection::DeviceKeyMismatch(device) => StoreError::DeviceKeyMismatch { device },
            ApplyRejection::Db(e) => StoreError::Database(e),
        }
    }
}
