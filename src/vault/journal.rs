//! Appending frames to `journal-<generation>.log` (docs/vault-format.md §4).
use std::path::{Path, PathBuf};

use super::error::VaultError;
use super::frame::{self, HEADER_LEN};
use super::storage::{Storage, StorageFile};

/// File name of the journal of `generation`.
pub fn journal_file_name(generation: u64) -> String {
    format!("journal-{generation}.log")
}

/// The generation in a journal file name, if it is one.
pub fn parse_journal_file_name(name: &str) -> Option<u64> {
    let g = name.strip_prefix("journal-")?.strip_suffix(".log")?;
    if g.is_empty() || !g.bytes().all(|b| b.is_ascii_digit()) || (g.len() > 1 && g.starts_with('0')) {
        return None;
    }
    g.parse().ok()
}

/// The open journal of the current generation and where its chain stands.
pub(crate) struct JournalWriter {
    pub(crate) path: PathBuf,
    file: Box<dyn StorageFile>,
    /// Bytes in the file, all of them valid (header + whole frames).
    pub(crate) len: u64,
    /// Sequence number of the last frame (0 = none yet).
    pub(crate) seq: u64,
    /// Hash the next frame chains to.
    pub(crate) last_hash: [u8; 32],
    /// Set when a failed append could not be undone: appending more would
    /// put frames after garbage, where recovery would never reach them.
    pub(crate) broken: bool,
    /// Whether its frames carry tags (`FCJRNL02`). Only a journal of vault
    /// format 2, reopened while its upgrade is being finished, has none.
    pub(crate) tagged: bool,
}

impl JournalWriter {
    /// Create a fresh journal for `generation` (header, fsync, directory fsync).
    pub(crate) fn create(
        storage: &dyn Storage,
        dir: &Path,
        generation: u64,
        snapshot_hash: [u8; 32],
    ) -> Result<Self, VaultError> {
        let path = dir.join(journal_file_name(generation));
        let mut file = storage.create(&path).map_err(|e| VaultError::io("create", &path, e))?;
        file.write_all(&frame::encode_header(generation)).map_err(|e| VaultError::io("write", &path, e))?;
        file.sync().map_err(|e| VaultError::io("fsync", &path, e))?;
        // Also makes a preceding snapshot rename durable (same directory).
        storage.sync_dir(dir).map_err(|e| VaultError::io("fsync directory", dir, e))?;
        Ok(Self { path, file, len: HEADER_LEN as u64, seq: 0, last_hash: snapshot_hash, broken: false, tagged: true })
    }

    /// Reopen an existing, already validated journal for appending.
    pub(crate) fn reopen(
        storage: &dyn Storage,
        path: PathBuf,
        (len, seq, last_hash): (u64, u64, [u8; 32]),
        tagged: bool,
    ) -> Result<Self, VaultError> {
        let file = storage.open_append(&path).map_err(|e| VaultError::io("open", &path, e))?;
        Ok(Self { path, file, len, seq, last_hash, broken: false, tagged })
    }

    /// Append one frame with its tag and fsync it (an untagged journal
    /// gets the frame without the tag). On failure the file is cut back
    /// to its previous length so the journal still ends on a whole frame.
    pub(crate) fn append(&mut self, ciphertext: &[u8], tag: &[u8; frame::TAG_LEN]) -> Result<(), VaultError> {
        if self.broken {
            return Err(VaultError::JournalBroken { path: self.path.clone() });
        }
        let bytes = frame::encode_frame(ciphertext, self.tagged.then_some(tag));
        let result = self.file.write_all(&bytes).and_then(|()| self.file.sync());
        if let Err(e) = result {
            let err = VaultError::io("write", &self.path, e);
            if self.undo_to(self.len).is_err() {
                self.broken = true;
            }
            return Err(err);
        }
        self.len += bytes.len() as u64;
        self.seq += 1;
        self.last_hash = frame::sha256(ciphertext);
        Ok(())
    }

    /// Remove the last appended frame (used if the database commit fails
    /// after the frame was written), restoring the chain state.
    pub(crate) fn remove_last(&mut self, old_len: u64, old_seq: u64, old_hash: [u8; 32]) {
        if self.undo_to(old_len).is_err() {
            self.broken = true;
        }
        self.len = old_len;
        self.seq = old_seq;
        self.last_hash = old_hash;
    }

    fn undo_to(&mut self, len: u64) -> std::io::Result<()> {
        self.file.truncate(len)?;
        self.file.sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_names_round_trip_and_reject_lookalikes() {
        assert_eq!(parse_journal_file_name(&journal_file_name(12)), Some(12));
        for bad in ["journal-.log", "journal-01.log", "journal-1.log.tmp", "journal-x.log", "journal-1"] {
            assert_eq!(parse_journal_file_name(bad), None, "{bad}");
        }
    }
}
