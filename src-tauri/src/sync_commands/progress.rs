//! Progress of long bundle work, forwarded to the window over a
//! [`Channel`].

use super::*;

pub(super) fn to_progress(p: Progress) -> SyncProgress {
    match p {
        Progress::Unpacked { bytes } => SyncProgress::Unpacked { bytes },
        Progress::Events { done, total } => SyncProgress::Events { done, total },
        Progress::Committing => SyncProgress::Committing,
        Progress::Encrypting { bytes } => SyncProgress::Encrypting { bytes },
    }
}

/// A progress callback that forwards to the UI. A closed channel (the
/// window went away) must not stop the operation, so send errors are ignored.
pub(crate) fn reporter(channel: &Channel<SyncProgress>) -> impl FnMut(Progress) + '_ {
    move |p| {
        let _ = channel.send(to_progress(p));
    }
}
