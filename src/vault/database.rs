//! The unlocked database: a SQLite connection over a [`ChunkedFile`]
//! (crate `fieldcase-vfs`), the database held in memory as chunks of the
//! snapshot's segment size (docs/vault-format.md §7).
//!
//! Why not SQLite's memdb, as before: memdb keeps a database in one
//! allocation and SQLite refuses allocations over 2 GiB, which capped a
//! vault at about 20,000 cases; it also needs the whole image decrypted
//! before the first query, and a checkpoint had to hash the whole image to
//! find what changed. Here a chunk is one segment: it is decrypted when
//! SQLite first needs it or when the background prefetch reaches it, and
//! every write marks its chunk dirty, so a checkpoint encrypts exactly the
//! chunks written since the last one.
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use fieldcase_vfs::{Attached, ChunkedFile, VFS_NAME};
use rusqlite::{Connection, OpenFlags};

use super::error::VaultError;
use super::segments::SegmentSource;

/// SQLite's page cache for the vault database: 64 MiB. Reads that miss it
/// copy a page from the chunk in memory; SQLite's default (2 MB) made
/// searches over a large vault copy the same pages again and again.
const CACHE_KIB: i64 = 64 * 1024;

/// The chunked file behind the connection, where its chunks come from, and
/// the threads loading the rest.
pub(crate) struct DatabaseFile {
    pub(crate) file: Arc<ChunkedFile>,
    source: Option<Arc<SegmentSource>>,
    prefetch: Option<Prefetch>,
    /// Keeps the file's name registered; declared after everything that
    /// could use it, and the vault drops its connection before this.
    _attached: Attached,
}

/// Open a connection on `file`, set up for a database that lives only in
/// memory.
pub(crate) fn open(
    file: Arc<ChunkedFile>,
    source: Option<Arc<SegmentSource>>,
) -> Result<(Connection, DatabaseFile), VaultError> {
    let attached = fieldcase_vfs::attach(file.clone())
        .map_err(|e| VaultError::io("open", std::path::Path::new(VFS_NAME), std::io::Error::other(e)))?;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags_and_vfs(attached.name(), flags, VFS_NAME)?;
    // No other database may be attached to this connection (nor used by
    // `VACUUM INTO`, which attaches its target): a URI filename naming
    // another VFS would otherwise let SQL copy the decrypted database into
    // a plain file.
    conn.set_limit(rusqlite::limits::Limit::SQLITE_LIMIT_ATTACHED, 0)?;
    // journal_mode=MEMORY: the rollback journal is a memory buffer (the
    // vault's own journal is what makes commits durable). synchronous=OFF:
    // there is no disk to sync. locking_mode=EXCLUSIVE: one connection
    // ever uses the file, so SQLite may keep its page cache between
    // transactions instead of re-checking the file. temp_store=MEMORY and
    // secure_delete=ON are set by the vault (`configure`).
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF; PRAGMA locking_mode = EXCLUSIVE; PRAGMA cache_size = -{CACHE_KIB};"
    ))?;
    Ok((conn, DatabaseFile { file, source, prefetch: None, _attached: attached }))
}

impl DatabaseFile {
    /// Start loading every chunk not yet in memory on background threads,
    /// so that the first search after unlocking does not wait for them.
    pub(crate) fn start_prefetch(&mut self) {
        if self.source.is_some() && self.prefetch.is_none() && self.file.loaded_count() < self.file.chunk_count() {
            self.prefetch = Some(Prefetch::start(self.file.clone()));
        }
    }

    /// Wait until every chunk is in memory (or failed to load); then the
    /// first failure, if any.
    pub(crate) fn wait_loaded(&mut self) -> Result<(), VaultError> {
        self.start_prefetch(); // if it was not running (`VaultOptions::prefetch`)
        if let Some(p) = self.prefetch.take() {
            p.join();
        }
        match self.failure() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The first chunk that failed to load, as a vault error.
    pub(crate) fn failure(&self) -> Option<VaultError> {
        self.source.as_ref().and_then(|s| s.failure())
    }

    /// Bytes of the database.
    pub(crate) fn len(&self) -> u64 {
        self.file.len()
    }

    /// Chunks in memory and in all.
    pub(crate) fn loaded(&self) -> (u64, u64) {
        (self.file.loaded_count() as u64, self.file.chunk_count() as u64)
    }
}

/// Background threads loading chunks in order, stopped and joined when
/// dropped (a locked vault leaves no thread reading its files).
struct Prefetch {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Prefetch {
    fn start(file: Arc<ChunkedFile>) -> Prefetch {
        let stop = Arc::new(AtomicBool::new(false));
        let next = Arc::new(AtomicUsize::new(0));
        let count = file.chunk_count();
        let threads = (0..crate::parallel::threads_for(count, 1).min(8))
            .filter_map(|_| {
                let (file, stop, next) = (file.clone(), stop.clone(), next.clone());
                std::thread::Builder::new()
                    .name("vault-prefetch".into())
                    .spawn(move || {
                        while !stop.load(Ordering::Relaxed) {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= count {
                                break;
                            }
                            // A chunk that fails to load is recorded (and
                            // reported by the vault); the others still load.
                            // Any other failure (no memory) stops the thread.
                            if file.prefetch(i).is_err() && file.failure().is_none() {
                                break;
                            }
                        }
                    })
                    .ok() // no thread: SQLite loads chunks as it needs them
            })
            .collect();
        Prefetch { stop, threads }
    }

    fn join(mut self) {
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
