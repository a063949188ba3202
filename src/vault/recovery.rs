//! Unlock-time recovery: clean up after an interrupted checkpoint, replay the
//! journal of the snapshot's generation, cut a torn or corrupt tail, and say
//! what was done (docs/vault-format.md §6).
use std::path::Path;

use rusqlite::Connection;
use serde::Serialize;

use super::blob::BLOB_DIR;
use super::error::VaultError;
use super::frame::{self, FramePayload, FrameSlice, HEADER_LEN};
use super::identity::Keys;
use super::journal::{journal_file_name, parse_journal_file_name, JournalWriter};
use super::mac;
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
    /// Vault files found modified outside Fieldcase (they fail their tag or
    /// their place in the chain): what was found, what was done, and what
    /// can be recovered. Nothing from them was applied.
    pub tampered: Vec<Tampering>,
    /// Journal bytes set aside (`journal-<g>.log.rejected…`) by this or an
    /// earlier unlock because they were modified outside Fieldcase. Listed
    /// at every unlock until someone who has investigated removes them.
    pub rejected_files: Vec<String>,
}

/// A vault file found modified outside Fieldcase at unlock
/// (docs/vault-format.md §6 and §9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tampering {
    /// The file, relative to the vault directory.
    pub file: String,
    /// What fails.
    pub reason: String,
    /// What unlocking did about it.
    pub action: String,
    /// What can be recovered, and how.
    pub recovery: String,
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
    /// What a person must be told about files modified outside Fieldcase,
    /// one sentence each (empty when there is nothing): what was found and
    /// done and what can be recovered, and the files set aside earlier.
    /// Every shell shows these after unlocking, whatever it was opened for.
    pub fn tamper_warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .tampered
            .iter()
            .map(|t| {
                format!(
                    "Vault files were modified outside Fieldcase: {} ({}); {}. {}",
                    t.file, t.reason, t.action, t.recovery
                )
            })
            .collect();
        if self.tampered.is_empty() && !self.rejected_files.is_empty() {
            out.push(format!(
                "Journal bytes modified outside Fieldcase were set aside earlier and not applied: {}. \
                 Remove them from the vault folder once investigated.",
                self.rejected_files.join(", ")
            ));
        }
        out
    }

    /// True when the last session ended cleanly and nothing was repaired.
    pub fn is_clean(&self) -> bool {
        self.tail_cut.is_none()
            && self.header_damaged.is_none()
            && self.stale_journals.is_empty()
            && self.newer_journals.is_empty()
            && self.temp_files_removed.is_empty()
            && self.stale_segments.is_empty()
            && !self.journal_created
            && self.tampered.is_empty()
            && self.rejected_files.is_empty()
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

/// What a reader says of commits lost with a journal's end.
const LOST_COMMITS: &str = "Commits this device made since its last checkpoint and did not export may be lost; \
    everything it exported is held by the office, and the next bundle from the office brings back \
    what the office holds for this device's cases.";

/// Replay the journal of `generation` into `conn` and return the writer
/// positioned after the last good frame. Frames must carry a valid tag
/// under the vault key (a journal of vault format 2 has none and is read
/// only while `keys.accept_untagged`); a frame that fails, and everything
/// after it, is not applied: a torn end (a crash while appending) is cut,
/// anything else is set aside in `<journal>.rejected` and reported as
/// modified outside Fieldcase.
pub(crate) fn replay(
    storage: &dyn Storage,
    dir: &Path,
    conn: &mut Connection,
    applier: &dyn Applier,
    keys: &Keys,
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
            _ if is_rejected_name(&name) => report.rejected_files.push(name),
            _ => {}
        }
    }
    if let Some(newer) = report.newer_journals.first() {
        // A checkpoint creates journal g+1 only after snapshot g+1 is in
        // place: an older snapshot was put back over a newer one.
        return Err(VaultError::Tampered {
            path: dir.join(super::snapshot::SNAPSHOT_FILE),
            reason: format!("it is older than {newer}: an older copy of the snapshot was put back"),
            recovery: format!(
                "The vault was not opened, so nothing was lost yet. Put back the snapshot.age and segments/ that \
                 belong with {newer} (from the copy they were taken from), or restore the whole vault folder \
                 from one backup."
            ),
        });
    }

    // A checkpoint deletes the previous journal only after this one is
    // durable, and never shortens it below its header: so without an older
    // journal beside it, a missing or headless journal was removed or
    // emptied by someone, not by a crash (format 2 vaults excepted: their
    // upgrade trusts what it finds).
    let removed_by_someone = report.stale_journals.is_empty() && !keys.accept_untagged;
    let name = journal_file_name(generation);
    let path = dir.join(&name);
    if !storage.exists(&path) {
        report.journal_created = true;
        if removed_by_someone {
            let side = set_aside(storage, dir, &name, &[], report)?;
            report.tampered.push(Tampering {
                file: name.clone(),
                reason: "the journal is missing".into(),
                action: format!("an empty journal was created; {side} records the finding"),
                recovery: LOST_COMMITS.into(),
            });
        }
        return JournalWriter::create(storage, dir, generation, snapshot_hash);
    }
    let bytes = storage.read(&path).map_err(|e| VaultError::io("read", &path, e))?;
    if bytes.len() < HEADER_LEN {
        // Crash while the journal was being created: it holds no frame.
        report.tail_cut = Some(TailCut {
            journal: name.clone(),
            offset: 0,
            bytes_removed: bytes.len() as u64,
            first_lost_seq: 1,
            reason: format!("torn journal header ({} of {HEADER_LEN} bytes)", bytes.len()),
        });
        if removed_by_someone {
            let side = set_aside(storage, dir, &name, &bytes, report)?;
            report.tampered.push(Tampering {
                file: name,
                reason: format!("the journal was cut to {} bytes", bytes.len()),
                action: format!("an empty journal was created; what was left of it was moved to {side}"),
                recovery: LOST_COMMITS.into(),
            });
        }
        return JournalWriter::create(storage, dir, generation, snapshot_hash);
    }
    // Whether frames carry tags: always in a format-3 vault, whatever the
    // header says (an attacker could write an old header); in a vault
    // being upgraded, as its header says.
    let tagged = match frame::parse_header(&bytes) {
        Ok((g, tagged)) => {
            if g != generation {
                report.header_damaged = Some(format!("header says generation {g}, file name says {generation}"));
            }
            tagged || !keys.accept_untagged
        }
        Err(e) => {
            report.header_damaged = Some(e);
            !keys.accept_untagged
        }
    };
    let tag_keys = keys.tag_keys();
    let identities = keys.vault_identities();

    let mut offset = HEADER_LEN;
    let mut seq = 0u64;
    let mut last_hash = snapshot_hash;
    // (reason, whether the frame is complete and authenticated or not a torn end)
    let stop: Option<(String, bool)> = loop {
        let (ct, tag, next) = match frame::next_frame(&bytes, offset, tagged) {
            FrameSlice::End => break None,
            FrameSlice::Bad(reason) => break Some((reason, false)),
            FrameSlice::Frame { ciphertext, tag, next } => (ciphertext, tag, next),
        };
        if tagged && !mac::frame_tag_ok(&tag_keys, generation, seq + 1, ct, tag) {
            // A crash can only tear the last frame, and what it leaves is
            // short or zeros; a complete frame with a wrong tag, or one
            // with frames after it, was written by someone else.
            let torn = next == bytes.len() && looks_torn(ct, tag);
            break Some(("its tag does not match: this vault's key did not write it".into(), !torn));
        }
        let plain = match super::envelope::decrypt(&identities, ct) {
            Ok(p) => p,
            Err(e) => break Some((format!("frame does not decrypt: {e}"), tagged)),
        };
        let payload: FramePayload = match serde_json::from_slice(&plain) {
            Ok(p) => p,
            Err(e) => break Some((format!("frame is not valid JSON: {e}"), tagged)),
        };
        if payload.generation != generation {
            break Some((format!("frame belongs to generation {}", payload.generation), tagged));
        }
        if payload.seq != seq + 1 {
            break Some((format!("frame has sequence {}, expected {}", payload.seq, seq + 1), tagged));
        }
        if payload.prev_sha256 != hex::encode(last_hash) {
            break Some(("frame does not chain to the previous one".into(), tagged));
        }
        // No signature check here: a tagged frame was written by this
        // vault's own process, which checked every event before its
        // first commit (docs/vault-format.md §9).
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
    if let Some((reason, tampered)) = stop {
        if tampered {
            let side = set_aside(storage, dir, &name, &bytes[offset..], report)?;
            report.tampered.push(Tampering {
                file: name.clone(),
                reason: format!("frame {} at byte {offset}: {reason}", seq + 1),
                action: format!(
                    "the journal from byte {offset} on ({} bytes) was not applied; it was moved to {side}",
                    bytes.len() - offset
                ),
                recovery: LOST_COMMITS.into(),
            });
        }
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
    JournalWriter::reopen(storage, path, (offset as u64, seq, last_hash), tagged)
}

/// Whether a last frame that fails its tag looks like an interrupted
/// append rather than a frame someone wrote: file systems that extend a
/// file before its data reaches the disk leave zeros where it was cut.
fn looks_torn(ciphertext: &[u8], tag: &[u8]) -> bool {
    let zeros = |b: &[u8]| b.iter().all(|&x| x == 0);
    zeros(tag) || ciphertext.len() >= 32 && zeros(&ciphertext[ciphertext.len() - 32..])
}

/// Whether `name` is a file [`set_aside`] wrote.
fn is_rejected_name(name: &str) -> bool {
    name.split_once(".log.rejected").is_some_and(|(j, _)| parse_journal_file_name(&format!("{j}.log")).is_some())
}

/// Keep the bytes of a journal that failed authentication, for whoever
/// investigates, in `<journal>.rejected` (or `-2`, `-3`, … if taken):
/// ciphertext and framing as they were, never plaintext. Its presence
/// keeps later unlocks reporting the finding. Returns the name.
fn set_aside(
    storage: &dyn Storage,
    dir: &Path,
    journal: &str,
    bytes: &[u8],
    report: &mut RecoveryReport,
) -> Result<String, VaultError> {
    let mut name = format!("{journal}.rejected");
    let mut n = 1;
    while storage.exists(&dir.join(&name)) {
        n += 1;
        name = format!("{journal}.rejected-{n}");
    }
    super::write_file_atomically(storage, dir, &name, bytes)?;
    report.rejected_files.push(name.clone());
    Ok(name)
}
