//! Unlock-time recovery: clean up after an interrupted checkpoint, replay the
//! journal of the snapshot's generation, cut a torn or corrupt tail, and say
//! what was done (docs/vault-format.md §6).
use std::path::Path;

use age::x25519;
use rusqlite::Connection;
use serde::Serialize;

use super::blob::BLOB_DIR;
use super::envelope;
use super::error::VaultError;
use super::frame::{self, FramePayload, FrameSlice, HEADER_LEN};
use super::journal::{journal_file_name, parse_journal_file_name, JournalWriter};
use super::segments::SEGMENT_DIR;
use super::storage::Storage;
use super::Applier;

/// What unlocking found and repaired. Shown by `fieldcase status`; a report
/// that is not [`is_clean`](Self::is_clean) means the last session ended in
/// a crash or the disk damaged a file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecoveryReport {
    /// Generation of the snapshot that was loaded.
    pub generation: u64,
    /// Journal frames replayed on top of the snapshot.
    pub frames_replayed: u64,
    /// A torn or corrupt end of the journal that was cut off, if any.
    pub tail_cut: Option<TailCut>,
    /// The journal header was damaged (the frames are self-checking, so they
    /// were still replayed).
    pub header_damaged: Option<String>,
    /// Journals of older generations (left by an interrupted checkpoint):
    /// already contained in the snapshot, ignored and deleted.
    pub stale_journals: Vec<String>,
    /// Journals of newer generations than the snapshot. This should never
    /// happen (it means the snapshot was replaced by an older one); they are
    /// left untouched and not applied.
    pub newer_journals: Vec<String>,
    /// Segment files no manifest references (left by an interrupted or
    /// failed checkpoint, or by a snapshot restored from a backup) that
    /// were deleted, as `segments/<name>`.
    pub stale_segments: Vec<String>,
    /// Temporary files of an interrupted write that were deleted.
    pub temp_files_removed: Vec<String>,
    /// The journal of the current generation was missing (crash between the
    /// snapshot rename and the journal creation) and was created empty.
    pub journal_created: bool,
}

/// The part of a journal that was cut off during recovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TailCut {
    /// Journal file name.
    pub journal: String,
    /// Byte offset where the cut was made (the journal now ends here).
    pub offset: u64,
    /// Bytes removed.
    pub bytes_removed: u64,
    /// Sequence number of the first frame not replayed.
    pub first_lost_seq: u64,
    /// Why the frame at `offset` was not accepted.
    pub reason: String,
}

impl RecoveryReport {
    /// True when the last session ended cleanly and nothing was repaired.
    pub fn is_clean(&self) -> bool {
        self.tail_cut.is_none()
            && self.header_damaged.is_none()
            && self.stale_journals.is_empty()
            && self.newer_journals.is_empty()
            && self.temp_files_removed.is_empty()
            && self.stale_segments.is_empty()
            && !self.journal_created
    }
}

/// Remove `*.tmp` files left by an interrupted atomic write, in the vault
/// directory, in `blobs/` and in `segments/`. They never hold anything that is not also in a
/// complete file (or in nothing acknowledged).
pub(crate) fn remove_temp_files(
    storage: &dyn Storage,
    dir: &Path,
    report: &mut RecoveryReport,
) -> Result<(), VaultError> {
    for sub in [None, Some(BLOB_DIR), Some(SEGMENT_DIR)] {
        let d = match sub {
            None => dir.to_owned(),
            Some(s) => dir.join(s),
        };
        if sub.is_some() && !storage.exists(&d) {
            continue;
        }
        for name in storage.list(&d).map_err(|e| VaultError::io("list", &d, e))? {
            if name.ends_with(".tmp") {
                let p = d.join(&name);
                storage.remove(&p).map_err(|e| VaultError::io("remove", &p, e))?;
                report.temp_files_removed.push(match sub {
                    None => name,
                    Some(s) => format!("{s}/{name}"),
                });
            }
        }
    }
    Ok(())
}

/// Where the journal must start: the loaded snapshot's generation and file hash.
pub(crate) struct SnapshotPosition {
    pub(crate) generation: u64,
    pub(crate) sha256: [u8; 32],
}

/// Replay the journal of `generation` into `conn` and return the writer
/// positioned after the last good frame.
pub(crate) fn replay(
    storage: &dyn Storage,
    dir: &Path,
    conn: &mut Connection,
    applier: &dyn Applier,
    identity: &x25519::Identity,
    snapshot: &SnapshotPosition,
    report: &mut RecoveryReport,
) -> Result<JournalWriter, VaultError> {
    let (generation, snapshot_hash) = (snapshot.generation, snapshot.sha256);
    report.generation = generation;
    // The snapshot just read may come from a rename that a crashed checkpoint
    // never made durable; make it durable before deleting the journals it
    // replaces, or a power cut now could leave the old snapshot without them.
    storage.sync_dir(dir).map_err(|e| VaultError::io("fsync directory", dir, e))?;
    for name in storage.list(dir).map_err(|e| VaultError::io("list", dir, e))? {
        match parse_journal_file_name(&name) {
            Some(g) if g < generation => {
                let p = dir.join(&name);
                storage.remove(&p).map_err(|e| VaultError::io("remove", &p, e))?;
                report.stale_journals.push(name);
            }
            Some(g) if g > generation => report.newer_journals.push(name),
            _ => {}
        }
    }

    let name = journal_file_name(generation);
    let path = dir.join(&name);
    if !storage.exists(&path) {
        report.journal_created = true;
        return JournalWriter::create(storage, dir, generation, snapshot_hash);
    }
    let bytes = storage.read(&path).map_err(|e| VaultError::io("read", &path, e))?;
    if bytes.len() < HEADER_LEN {
        // Crash while the journal was being created: it holds no frame.
        report.tail_cut = Some(TailCut {
            journal: name,
            offset: 0,
            bytes_removed: bytes.len() as u64,
            first_lost_seq: 1,
            reason: format!("torn journal header ({} of {HEADER_LEN} bytes)", bytes.len()),
        });
        return JournalWriter::create(storage, dir, generation, snapshot_hash);
    }
    match frame::parse_header(&bytes) {
        Ok(g) if g == generation => {}
        Ok(g) => report.header_damaged = Some(format!("header says generation {g}, file name says {generation}")),
        Err(e) => report.header_damaged = Some(e),
    }

    let mut offset = HEADER_LEN;
    let mut seq = 0u64;
    let mut last_hash = snapshot_hash;
    let cut_reason = loop {
        let (ct, next) = match frame::next_frame(&bytes, offset) {
            FrameSlice::End => break None,
            FrameSlice::Bad(reason) => break Some(reason),
            FrameSlice::Frame { ciphertext, next } => (ciphertext, next),
        };
        let plain = match envelope::decrypt(identity, ct) {
            Ok(p) => p,
            Err(e) => break Some(format!("frame does not decrypt: {e}")),
        };
        let payload: FramePayload = match serde_json::from_slice(&plain) {
            Ok(p) => p,
            Err(e) => break Some(format!("frame is not valid JSON: {e}")),
        };
        if payload.generation != generation {
            break Some(format!("frame belongs to generation {}", payload.generation));
        }
        if payload.seq != seq + 1 {
            break Some(format!("frame has sequence {}, expected {}", payload.seq, seq + 1));
        }
        if payload.prev_sha256 != hex::encode(last_hash) {
            break Some("frame does not chain to the previous one".into());
        }
        let tx = conn.transaction()?;
        applier.apply(&tx, &payload.entries).map_err(|e| VaultError::Replay {
            generation,
            seq: payload.seq,
            reason: e.0,
        })?;
        tx.commit()?;
        seq += 1;
        last_hash = frame::sha256(ct);
        offset = next;
    };
    report.frames_replayed = seq;
    if let Some(reason) = cut_reason {
        let mut f = storage.open_append(&path).map_err(|e| VaultError::io("open", &path, e))?;
        f.truncate(offset as u64).map_err(|e| VaultError::io("truncate", &path, e))?;
        f.sync().map_err(|e| VaultError::io("fsync", &path, e))?;
        report.tail_cut = Some(TailCut {
            journal: name,
            offset: offset as u64,
            bytes_removed: (bytes.len() - offset) as u64,
            first_lost_seq: seq + 1,
            reason,
        });
    }
    JournalWriter::reopen(storage, path, offset as u64, seq, last_hash)
}
