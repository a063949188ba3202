//! Checkpoint: fold the journal into a new snapshot (docs/vault-format.md §5).
//!
//! Steps, each durable before the next, so a crash between any two leaves a
//! vault that unlocks with every acknowledged commit:
//! 1. record generation g+1 in the database and serialise it;
//! 2. write the segments whose plaintext changed to `segments/<g+1>-<i>.age`
//!    (then fsync each), reuse the previous files for the others, fsync
//!    `segments/`;
//! 3. encrypt the manifest to `snapshot.age.tmp`, fsync;
//! 4. rename over `snapshot.age` (the commit point: old snapshot, its
//!    segments and journal g stay valid until here);
//! 5. create `journal-<g+1>.log` with its header, fsync it and the directory
//!    (which also makes the rename durable);
//! 6. delete `journal-<g>.log` (now stale: recovery would ignore it anyway);
//! 7. delete the segment files the new manifest does not list.
use super::error::VaultError;
use super::journal::{parse_journal_file_name, JournalWriter};
use super::recovery::RecoveryReport;
use super::segments;
use super::snapshot::{self, SNAPSHOT_FILE, SNAPSHOT_TMP};
use super::Vault;

impl Vault {
    /// The checkpoint steps. On an error before the rename nothing changed
    /// (memory or disk); after it, the vault has moved to the new generation
    /// and the next commit creates the missing journal.
    pub(crate) fn run_checkpoint(&mut self) -> Result<(), VaultError> {
        self.run_checkpoint_with(false)
    }

    /// [`run_checkpoint`](Self::run_checkpoint); with `rewrite_all`, every
    /// segment is written anew (under the current keys) instead of reusing
    /// the files of unchanged slices: what a key change needs.
    pub(crate) fn run_checkpoint_with(&mut self, rewrite_all: bool) -> Result<(), VaultError> {
        let storage_arc = self.storage.clone();
        let storage = &*storage_arc;
        let dir = &self.dir.clone();
        let old_gen = self.generation;
        let new_gen = old_gen + 1;

        snapshot::set_generation(&self.conn, new_gen)?;
        let previous = if rewrite_all { None } else { self.segments.as_ref() };
        let keys = (&self.keys.recipients[..], &self.keys.vault_key);
        let written = snapshot::write_segmented(storage, dir, &self.db, keys, previous, new_gen);
        let written = match written {
            Ok(w) => w,
            Err(e) => {
                self.abandon_checkpoint(old_gen, &[]);
                return Err(e);
            }
        };
        if let Err(e) = storage.rename(&dir.join(SNAPSHOT_TMP), &dir.join(SNAPSHOT_FILE)) {
            self.abandon_checkpoint(old_gen, &written.new_files);
            return Err(VaultError::io("rename", dir.join(SNAPSHOT_TMP), e));
        }

        // From here on snapshot.age holds generation g+1 (once the directory
        // is synced), so memory moves to it whatever happens next.
        self.generation = new_gen;
        self.db.file.mark_clean(&written.written_chunks);
        self.snapshot_hash = written.sha256;
        self.snapshot_size = written.size;
        self.segments = Some(written.set);
        self.journal = None;
        self.journal = Some(JournalWriter::create(storage, dir, new_gen, written.sha256)?);

        remove_stale_journals(self)?;
        // The journal creation above fsynced the directory, so the rename is
        // durable and the old segments are no longer needed by anything.
        segments::remove_unreferenced(storage, dir, self.segments.as_ref(), &mut RecoveryReport::default())
    }

    /// Undo step 1 after a failure before the rename and drop the temp
    /// file and the segment files written for the new generation.
    fn abandon_checkpoint(&mut self, old_gen: u64, new_files: &[std::path::PathBuf]) {
        // Setting a value in an in-memory table only fails if SQLite is out
        // of memory; the generation row is then rewritten by the next
        // checkpoint before it is ever serialised again.
        let _ = snapshot::set_generation(&self.conn, old_gen);
        let tmp = self.dir.join(SNAPSHOT_TMP);
        if self.storage.exists(&tmp) {
            // Best effort: a leftover temp file is removed at the next unlock.
            let _ = self.storage.remove(&tmp);
        }
        // Best effort too: unreferenced segment files are removed at unlock.
        segments::remove_files(&*self.storage, new_files);
    }
}

/// Delete the journals older than the current generation.
fn remove_stale_journals(v: &Vault) -> Result<(), VaultError> {
    let names = v.storage.list(&v.dir).map_err(|e| VaultError::io("list", &v.dir, e))?;
    for name in names {
        if parse_journal_file_name(&name).is_some_and(|g| g < v.generation) {
            let p = v.dir.join(&name);
            v.storage.remove(&p).map_err(|e| VaultError::io("remove", &p, e))?;
        }
    }
    Ok(())
}
