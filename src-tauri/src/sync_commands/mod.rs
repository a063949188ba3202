//! Sync and office commands: export and import bundles, enrollment, the
//! roster, conflict review and case transfer. Each command is a few lines
//! around `fieldcase::sync` and `CaseStore`; what they return is in
//! [`crate::sync_dto`].
//!
//! Long work (building, decrypting and checking bundles) runs in async
//! commands, so on Tauri's worker threads rather than the window's main
//! thread, and reports its progress through a [`Channel`].
//!
//! Files: the window has no file-system access of its own. It names a path
//! (typed, or picked from the folders [`sync_places`] suggests) and these
//! commands read or write exactly that file. Bundles are age ciphertext and
//! enrollment requests hold only public keys, so nothing written here is
//! plaintext case data.
//!
//! One module per seam: [`files`] and [`progress`] (shared by all),
//! [`failures`] (refusals as `UiError`s), [`export`], [`import`],
//! [`enrollment`], [`conflicts`](mod@conflicts), [`transfers`], [`quarantine`](mod@quarantine),
//! [`duplicates`](mod@duplicates). They share the imports below (`use super::*`) and are
//! re-exported here, so a command's path stays `sync_commands::name`
//! (src/command_table.rs).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fieldcase::model::event::Role;
use fieldcase::model::forms;
use fieldcase::model::store::{CaseStore, CaseSummary};
use fieldcase::sync::transfer::{self, TransferError};
use fieldcase::sync::{self, ImportError, ImportReport, Progress, SyncError};
use serde_json::Value;
use tauri::ipc::Channel;
use tauri::State;
use uuid::Uuid;

use crate::dto::LabelsDto;
use crate::session::{Session, UiError};
use crate::sync_dto::{
    CaseChoice, ConflictEntry, ConflictHead, DeviceEntry, DuplicateEntry, EnrollmentRequestView, FoundFile,
    ImportOutcome, PreviewCase, PreviewConflict, PreviewDuplicate, PreviewTransfer, QuarantineEntry, RefusedChange,
    SentTransfer, SyncOverview, SyncPlace, SyncProgress, TransferAnswered, WrittenFile,
};

mod conflicts;
mod duplicates;
mod enrollment;
mod export;
mod failures;
mod files;
mod import;
mod progress;
mod quarantine;
#[cfg(test)]
mod tests;
mod transfers;

pub use conflicts::*;
pub use duplicates::*;
pub use enrollment::*;
pub use export::*;
pub use failures::*;
pub use files::*;
pub use import::*;
pub(crate) use progress::*;
pub use quarantine::*;
pub use transfers::*;
