//! The library's sync, import and transfer refusals as the window's
//! `UiError`s, and the input checks the commands share.

use super::*;

/// A refused bundle: the refusal's code and values (`ImportError`'s
/// `Coded`), and the library's one-line reason (which says what to do).
pub fn import_error(e: ImportError) -> UiError {
    match e {
        // An event the case model refused: its rule or field details too.
        ImportError::Rejected(s) => UiError::from(s),
        e => UiError::coded(&e),
    }
}

/// A sync operation that failed before any bundle was read.
pub fn sync_error(e: SyncError) -> UiError {
    match e {
        SyncError::Store(s) => UiError::from(s),
        e => UiError::coded(&e),
    }
}

pub(super) fn transfer_error(e: TransferError) -> UiError {
    match e {
        TransferError::Refused(i) => import_error(i),
        TransferError::Sync(s) => sync_error(s),
        e => UiError::coded(&e),
    }
}

pub(crate) fn bad_input(message: impl Into<String>) -> UiError {
    UiError::new(crate::errors::ShellCode::BadInput, message)
}

pub(crate) fn parse_uuid(s: &str, what: &str) -> Result<Uuid, UiError> {
    Uuid::parse_str(s.trim()).map_err(|_| bad_input(format!("{what} {s:?} is not an id")))
}
