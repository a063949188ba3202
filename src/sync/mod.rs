//! Sync by files: signed, encrypted bundles between field devices and their
//! country office (docs/bundle-format.md).
//!
//! - [`format`]: the bundle file (age file → ustar → manifest, signature,
//!   events, roster) and its writer.
//! - [`reader`]: the strict reader, streaming: the manifest's signer is
//!   decided before anything else is read.
//! - [`roster`]: the office's signed roster and enrollment requests.
//! - [`exchange`]: office/device roles, enrollment, revocation, export and
//!   all-or-nothing import.
//! - [`teams`]: the office's teams of caseworkers and supervisors.
//! - [`transfer`]: case transfer between offices and its signed receipt.
//! - [`partners`], [`partner_request`], [`printout_pdf`]: the office's partners abroad, and
//!   the requests sent to them (only what the task needs) and their answers.
//! - [`attachments`]: the attachments a bundle carries, stored on import
//!   all or nothing with the events.
//! - [`quarantine`]: imported events the rules refused, held with their
//!   reason and reported back to the device that made them.
//! - [`folder`]: the sync folder a file-sync tool carries, read and
//!   written in passes ([`folder::sync_folder_once`]).
//! - [`error`]: [`ImportError`], why a bundle was refused.

pub mod attachments;
pub mod error;
pub mod exchange;
pub mod folder;
pub mod format;
pub mod partner_request;
pub mod partners;
pub mod people;
pub mod printout_pdf;
pub mod quarantine;
pub mod reader;
pub mod roster;
pub mod teams;
pub mod transfer;

pub use error::ImportError;
pub use exchange::{
    approve_enrollment, approve_enrollment_in_team, approve_enrollment_with, enrollment_request, export_for_device,
    export_for_office, import_bundle, is_office, make_office, recipient, revoke, verify_bundle, ImportReport,
    SyncError,
};
pub use format::Progress;
