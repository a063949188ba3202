//! A SQLite VFS that keeps a database in memory as fixed-size chunks.
//!
//! Fieldcase's unlocked vault used to be a deserialized SQLite database in
//! memdb, which holds the whole database in one allocation: SQLite refuses
//! single allocations over 2 GiB, so no vault could hold more than about
//! 20,000 cases, and a checkpoint had to hash the whole image to find what
//! changed. A [`ChunkedFile`] instead holds the database as a list of
//! chunks of one size (the vault's snapshot segment size, 8 MiB), so:
//!
//! - there is no size limit but memory;
//! - a chunk is loaded from its [`ChunkSource`] (the vault's encrypted
//!   segment) the first time SQLite touches it, or earlier by
//!   [`ChunkedFile::prefetch`] on a background thread, so unlocking does
//!   not wait for the whole database to be decrypted;
//! - every write marks its chunk dirty, so a checkpoint re-encrypts exactly
//!   the chunks that changed ([`ChunkedFile::dirty_chunks`]).
//!
//! Nothing here touches the disk: journals and temporary files SQLite asks
//! for are plain in-memory files too, so no plaintext can reach a file.
//! Memory of dropped chunks and files is zeroized.
//!
//! Unsafe code: one call, registering the VFS with SQLite in [`attach`];
//! the callbacks themselves are rsqlite-vfs's typed wrappers around the safe
//! code below.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use rsqlite_vfs::{
    AccessMode, LockLevel, MemChunksFile, OpenAccess, OpenRequest, OpenedFile, OsCallback, SQLiteIoMethods, SQLiteVfs,
    SyncOptions, VfsError, VfsErrorCode, VfsFile, VfsResult, VfsStore,
};
use zeroize::Zeroize;

/// The name this VFS is registered under (pass it to
/// `Connection::open_with_flags_and_vfs` together with [`Attached::name`]).
pub const VFS_NAME: &str = "fieldcase-chunks";

/// Where chunks not yet in memory come from.
pub trait ChunkSource: Send + Sync {
    /// Fill `buf` with the bytes of chunk `index`; `buf.len()` is the
    /// chunk's length in the file (the chunk size, less for the last one).
    /// The message of an error is kept ([`ChunkedFile::failure`]) and SQLite
    /// gets an I/O error for the read that needed the chunk.
    fn load(&self, index: usize, buf: &mut [u8]) -> Result<(), String>;
}

enum Slot {
    /// Not in memory yet: the source has it.
    Stored,
    /// In memory, `chunk_size` bytes (zero past the end of the file);
    /// `dirty` once written since it was loaded or last marked clean.
    Loaded { data: Box<[u8]>, dirty: bool },
}

struct State {
    slots: Vec<Slot>,
    len: u64,
}

impl Drop for State {
    fn drop(&mut self) {
        for slot in &mut self.slots {
            if let Slot::Loaded { data, .. } = slot {
                data.zeroize();
            }
        }
    }
}

enum Fail {
    Load(String),
    NoMemory,
}

impl Fail {
    fn into_vfs(self) -> VfsError {
        match self {
            Fail::Load(m) => VfsError::new(VfsErrorCode::IoRead, m.into()),
            Fail::NoMemory => VfsError::new(VfsErrorCode::NoMemory, "no memory for another database chunk".into()),
        }
    }
    fn into_message(self) -> String {
        match self {
            Fail::Load(m) => m,
            Fail::NoMemory => "no memory for another database chunk".into(),
        }
    }
}

/// One database held as chunks of `chunk_size` bytes. Chunk `i` covers the
/// bytes `i * chunk_size ..` of the file, so a snapshot segment and a chunk
/// are the same thing.
pub struct ChunkedFile {
    chunk_size: usize,
    state: Mutex<State>,
    source: Option<Arc<dyn ChunkSource>>,
    failure: Mutex<Option<String>>,
}

impl std::fmt::Debug for ChunkedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkedFile").field("chunk_size", &self.chunk_size).field("len", &self.len()).finish()
    }
}

fn zeroed(size: usize) -> Result<Box<[u8]>, Fail> {
    let mut v = Vec::new();
    v.try_reserve_exact(size).map_err(|_| Fail::NoMemory)?;
    v.resize(size, 0);
    Ok(v.into_boxed_slice())
}

impl ChunkedFile {
    /// An empty file (a new database).
    ///
    /// # Panics
    /// If `chunk_size` is not a positive multiple of 512 (every SQLite page
    /// size divides such a chunk only if it is a multiple of the page size;
    /// callers use multiples of 4096).
    pub fn new(chunk_size: usize) -> Arc<Self> {
        Self::build(chunk_size, 0, None)
    }

    /// A file of `len` bytes whose chunks come from `source` when needed.
    ///
    /// # Panics
    /// As [`ChunkedFile::new`].
    pub fn with_source(chunk_size: usize, len: u64, source: Arc<dyn ChunkSource>) -> Arc<Self> {
        Self::build(chunk_size, len, Some(source))
    }

    fn build(chunk_size: usize, len: u64, source: Option<Arc<dyn ChunkSource>>) -> Arc<Self> {
        assert!(chunk_size > 0 && chunk_size.is_multiple_of(512), "chunk size {chunk_size} is not a multiple of 512");
        let count = len.div_ceil(chunk_size as u64) as usize;
        let slots = (0..count).map(|_| Slot::Stored).collect();
        let state = State { slots, len: if source.is_some() { len } else { 0 } };
        Arc::new(Self { chunk_size, state: Mutex::new(state), source, failure: Mutex::new(None) })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a chunk half-installed
        // (slots are replaced whole), so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes in the file.
    pub fn len(&self) -> u64 {
        self.lock().len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The chunk size.
    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// Number of chunks (the last one may be shorter).
    pub fn chunk_count(&self) -> usize {
        self.lock().slots.len()
    }

    /// Number of chunks in memory.
    pub fn loaded_count(&self) -> usize {
        self.lock().slots.iter().filter(|s| matches!(s, Slot::Loaded { .. })).count()
    }

    /// The first load failure, if a chunk could not be loaded.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn chunk_len(&self, len: u64, index: usize) -> usize {
        let start = index as u64 * self.chunk_size as u64;
        (len.saturating_sub(start)).min(self.chunk_size as u64) as usize
    }

    fn record(&self, message: &str) {
        let mut f = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        if f.is_none() {
            *f = Some(message.to_owned());
        }
    }

    fn load_from_source(&self, index: usize, len: usize) -> Result<Box<[u8]>, Fail> {
        let mut data = zeroed(self.chunk_size)?;
        let source = self.source.as_ref().ok_or_else(|| Fail::Load("a stored chunk has no source".into()))?;
        if let Err(m) = source.load(index, &mut data[..len]) {
            data.zeroize();
            self.record(&m);
            return Err(Fail::Load(m));
        }
        Ok(data)
    }

    /// Make chunk `index` resident (in memory) under the lock; its bytes
    /// and dirty flag.
    fn resident<'a>(&self, st: &'a mut State, index: usize) -> Result<(&'a mut [u8], &'a mut bool), Fail> {
        if matches!(st.slots[index], Slot::Stored) {
            let data = self.load_from_source(index, self.chunk_len(st.len, index))?;
            st.slots[index] = Slot::Loaded { data, dirty: false };
        }
        match &mut st.slots[index] {
            Slot::Loaded { data, dirty } => Ok((data, dirty)),
            Slot::Stored => unreachable!("loaded just above"),
        }
    }

    /// The pieces of `len` bytes at `offset`, chunk by chunk: chunk index,
    /// offset within the chunk, and the range of the caller's buffer.
    fn spans(&self, offset: u64, len: usize) -> impl Iterator<Item = (usize, usize, std::ops::Range<usize>)> + '_ {
        let cs = self.chunk_size as u64;
        let mut done = 0;
        std::iter::from_fn(move || {
            (done < len).then(|| {
                let pos = offset + done as u64;
                let within = (pos % cs) as usize;
                let take = (len - done).min(self.chunk_size - within);
                let span = ((pos / cs) as usize, within, done..done + take);
                done += take;
                span
            })
        })
    }

    /// Load chunk `index` if it is not in memory yet, decrypting outside the
    /// lock so SQLite keeps working meanwhile (a background prefetch).
    /// Returns whether this call loaded it.
    pub fn prefetch(&self, index: usize) -> Result<bool, String> {
        let len = {
            let st = self.lock();
            match st.slots.get(index) {
                Some(Slot::Stored) => self.chunk_len(st.len, index),
                _ => return Ok(false),
            }
        };
        let data = self.load_from_source(index, len).map_err(Fail::into_message)?;
        let mut st = self.lock();
        // Still stored means unchanged since `len` was read: only loading
        // replaces a stored slot, and truncation drops it instead.
        if let Some(slot @ Slot::Stored) = st.slots.get_mut(index) {
            *slot = Slot::Loaded { data, dirty: false };
            Ok(true)
        } else {
            let mut data = data;
            data.zeroize();
            Ok(false)
        }
    }

    /// Indices of the chunks written since loaded or last
    /// [`mark_clean`](Self::mark_clean)ed.
    pub fn dirty_chunks(&self) -> Vec<usize> {
        let st = self.lock();
        st.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, Slot::Loaded { dirty: true, .. }))
            .map(|(i, _)| i)
            .collect()
    }

    /// Mark chunks clean (their content is now stored elsewhere).
    pub fn mark_clean(&self, indices: &[usize]) {
        let mut st = self.lock();
        for &i in indices {
            if let Some(Slot::Loaded { dirty, .. }) = st.slots.get_mut(i) {
                *dirty = false;
            }
        }
    }

    /// Call `f` with the bytes of the given chunks (each as long as the
    /// chunk is in the file), loading any that are not in memory. The file
    /// is locked meanwhile, so `f` must not use the database.
    pub fn with_chunks<R>(&self, indices: &[usize], f: impl FnOnce(&[&[u8]]) -> R) -> Result<R, String> {
        let mut st = self.lock();
        for &i in indices {
            if i >= st.slots.len() {
                return Err(format!("chunk {i} is past the end of the file"));
            }
            self.resident(&mut st, i).map_err(Fail::into_message)?;
        }
        let len = st.len;
        let slices: Vec<&[u8]> = indices
            .iter()
            .map(|&i| match &st.slots[i] {
                Slot::Loaded { data, .. } => &data[..self.chunk_len(len, i)],
                Slot::Stored => unreachable!("made resident above"),
            })
            .collect();
        Ok(f(&slices))
    }

    /// Read at `offset`; returns the bytes read (fewer at the end of file).
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, String> {
        self.read_inner(buf, offset).map_err(Fail::into_message)
    }

    /// Write at `offset`, growing the file as needed.
    pub fn write_at(&self, buf: &[u8], offset: u64) -> Result<(), String> {
        self.write_inner(buf, offset).map_err(Fail::into_message)
    }

    fn read_inner(&self, buf: &mut [u8], offset: u64) -> Result<usize, Fail> {
        let mut st = self.lock();
        if offset >= st.len || buf.is_empty() {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(st.len - offset) as usize;
        for (index, within, range) in self.spans(offset, n) {
            let (data, _) = self.resident(&mut st, index)?;
            buf[range.clone()].copy_from_slice(&data[within..within + range.len()]);
        }
        Ok(n)
    }

    fn write_inner(&self, buf: &[u8], offset: u64) -> Result<(), Fail> {
        if buf.is_empty() {
            return Ok(());
        }
        let mut st = self.lock();
        let end = offset.checked_add(buf.len() as u64).ok_or(Fail::NoMemory)?;
        let cs = self.chunk_size as u64;
        let first = (offset / cs) as usize;
        let last = ((end - 1) / cs) as usize;
        // Every chunk the write touches is loaded (at its current length) or
        // allocated before any byte is written, so a failed load or
        // allocation leaves the file as it was; new chunks start zeroed.
        for i in first..(last + 1).min(st.slots.len()) {
            self.resident(&mut st, i)?;
        }
        // A write past the end also changes the last chunk's length.
        if end > st.len && !st.slots.is_empty() {
            let tail = st.slots.len() - 1;
            *self.resident(&mut st, tail)?.1 = true;
        }
        let more = (last + 1).saturating_sub(st.slots.len());
        st.slots.try_reserve(more).map_err(|_| Fail::NoMemory)?;
        while st.slots.len() <= last {
            st.slots.push(Slot::Loaded { data: zeroed(self.chunk_size)?, dirty: true });
        }
        for (index, within, range) in self.spans(offset, buf.len()) {
            let (data, dirty) = self.resident(&mut st, index)?;
            data[within..within + range.len()].copy_from_slice(&buf[range]);
            *dirty = true;
        }
        st.len = st.len.max(end);
        Ok(())
    }

    fn truncate_inner(&self, size: u64) -> Result<(), Fail> {
        let mut st = self.lock();
        if size == st.len {
            return Ok(());
        }
        if size > st.len {
            let mut at = st.len;
            drop(st);
            // Growing by truncate: the new bytes are zero, as if written.
            let grow = zeroed((size - at).min(self.chunk_size as u64) as usize)?;
            while at < size {
                let n = ((size - at) as usize).min(grow.len());
                self.write_inner(&grow[..n], at)?;
                at += n as u64;
            }
            return Ok(());
        }
        let cs = self.chunk_size as u64;
        let keep = size.div_ceil(cs) as usize;
        for mut slot in st.slots.drain(keep..) {
            if let Slot::Loaded { data, .. } = &mut slot {
                data.zeroize();
            }
        }
        let within = (size % cs) as usize;
        if within != 0 {
            let (data, dirty) = self.resident(&mut st, keep - 1)?;
            data[within..].zeroize();
            *dirty = true;
        }
        st.len = size;
        Ok(())
    }
}

/// A file registered under a unique name with the VFS; dropping it removes
/// the name (close the connection first).
#[derive(Debug)]
pub struct Attached {
    name: String,
}

impl Attached {
    /// The file name to open with [`VFS_NAME`].
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        if let Ok(reg) = registry() {
            reg.files.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.name);
        }
    }
}

/// Register `file` under a fresh name, registering the VFS with SQLite on
/// first use. Open the name with [`VFS_NAME`] to use it as a database.
pub fn attach(file: Arc<ChunkedFile>) -> Result<Attached, String> {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let reg = registry()?;
    let name = format!("/fieldcase-chunked-{}-{}.db", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    reg.files.lock().unwrap_or_else(|e| e.into_inner()).insert(name.clone(), file);
    Ok(Attached { name })
}

#[derive(Default)]
struct Registry {
    files: Mutex<HashMap<String, Arc<ChunkedFile>>>,
}

fn registry() -> Result<&'static Arc<Registry>, String> {
    static REGISTRY: OnceLock<Result<Arc<Registry>, String>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| {
            let reg = Arc::new(Registry::default());
            // SAFETY: `ChunkVfs` and `ChunkIo` use rsqlite-vfs's default
            // constructor and method table unchanged, so versions, layout and
            // app-data types agree. The registration is made permanent
            // (`into_raw`), so the VFS, its name and its data outlive every
            // connection. The `OnceLock` serialises this lookup-and-register,
            // and the name is ours alone. SQLite is built thread-safe, and the
            // app data is a `Mutex`-protected map, so callbacks may come from
            // any thread.
            let registered = unsafe { rsqlite_vfs::register_vfs::<ChunkIo, ChunkVfs>(VFS_NAME, reg.clone(), false) };
            registered
                .map(|r| {
                    let _ = r.into_raw();
                    reg
                })
                .map_err(|e| format!("cannot register the {VFS_NAME} SQLite VFS: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

thread_local! {
    static LAST_ERROR: RefCell<Option<VfsError>> = const { RefCell::new(None) };
}

enum Handle {
    Db(Arc<ChunkedFile>),
    /// A journal or temporary file: in memory, never on disk.
    Scratch(MemChunksFile),
}

impl VfsFile for Handle {
    fn read(&mut self, buf: &mut [u8], offset: u64) -> VfsResult<usize> {
        match self {
            Handle::Db(f) => f.read_inner(buf, offset).map_err(Fail::into_vfs),
            Handle::Scratch(f) => f.read(buf, offset),
        }
    }

    fn write(&mut self, buf: &[u8], offset: u64) -> VfsResult<()> {
        match self {
            Handle::Db(f) => f.write_inner(buf, offset).map_err(Fail::into_vfs),
            Handle::Scratch(f) => f.write(buf, offset),
        }
    }

    fn truncate(&mut self, size: u64) -> VfsResult<()> {
        match self {
            Handle::Db(f) => f.truncate_inner(size).map_err(Fail::into_vfs),
            Handle::Scratch(f) => f.truncate(size),
        }
    }

    fn sync(&mut self, _options: SyncOptions) -> VfsResult<()> {
        // Memory only: durability is the vault's journal and snapshot.
        Ok(())
    }

    fn size(&self) -> VfsResult<u64> {
        match self {
            Handle::Db(f) => Ok(f.len()),
            Handle::Scratch(f) => f.size(),
        }
    }

    // One connection per database, and the vault's lock file keeps other
    // processes out: SQLite's file locks have nothing to coordinate.
    fn lock(&mut self, _level: LockLevel) -> VfsResult<()> {
        Ok(())
    }

    fn unlock(&mut self, _level: LockLevel) -> VfsResult<()> {
        Ok(())
    }

    fn check_reserved_lock(&self) -> VfsResult<bool> {
        Ok(false)
    }
}

struct ChunkStore;

impl VfsStore for ChunkStore {
    type File = Handle;
    type AppData = Arc<Registry>;

    fn record_error(_data: &Self::AppData, error: VfsError) {
        LAST_ERROR.with(|e| *e.borrow_mut() = Some(error));
    }

    fn last_error(_data: &Self::AppData) -> Option<VfsError> {
        LAST_ERROR.with(|e| e.borrow().clone())
    }

    fn open_file(data: &Self::AppData, request: OpenRequest<'_>) -> VfsResult<OpenedFile<Handle>> {
        let access = OpenAccess::ReadWrite;
        if let Some(name) = request.filename {
            if let Some(f) = data.files.lock().unwrap_or_else(|e| e.into_inner()).get(name.path()) {
                return Ok(OpenedFile { file: Handle::Db(f.clone()), access });
            }
            if matches!(request.options.kind(), Some(rsqlite_vfs::FileKind::MainDb)) {
                return Err(VfsError::new(
                    VfsErrorCode::CantOpen,
                    format!("{} is not an attached chunked database", name.path()).into(),
                ));
            }
        }
        Ok(OpenedFile { file: Handle::Scratch(MemChunksFile::waiting_for_write()), access })
    }

    fn close_file(
        _data: &Self::AppData,
        _name: Option<&str>,
        file: Self::File,
        _options: rsqlite_vfs::OpenOptions,
    ) -> VfsResult<()> {
        if let Handle::Scratch(mut f) = file {
            // Journals hold page images: zero them before the memory goes.
            let len = f.size().unwrap_or(0);
            let zeros = vec![0u8; 64 * 1024];
            let mut at = 0;
            while at < len {
                let n = ((len - at) as usize).min(zeros.len());
                let _ = f.write(&zeros[..n], at);
                at += n as u64;
            }
        }
        Ok(())
    }

    fn access(data: &Self::AppData, name: &str, _mode: AccessMode) -> VfsResult<bool> {
        Ok(data.files.lock().unwrap_or_else(|e| e.into_inner()).contains_key(name))
    }

    fn full_pathname(_data: &Self::AppData, name: &str) -> VfsResult<String> {
        Ok(name.to_owned())
    }

    fn delete_file(_data: &Self::AppData, _name: &str, _sync_dir: bool) -> VfsResult<()> {
        // Scratch files live only as long as their handle.
        Ok(())
    }
}

struct ChunkIo;

impl SQLiteIoMethods for ChunkIo {
    type Store = ChunkStore;
}

struct ChunkVfs;

struct Os;

impl OsCallback for Os {
    fn sleep(&self, dur: Duration) {
        std::thread::sleep(dur);
    }

    fn random(&self, buf: &mut [u8]) -> usize {
        match getrandom::getrandom(buf) {
            Ok(()) => buf.len(),
            Err(_) => 0,
        }
    }

    fn epoch_timestamp_in_ms(&self) -> VfsResult<i64> {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| VfsError::new(VfsErrorCode::Error, e.to_string().into()))?;
        i64::try_from(since.as_millis()).map_err(|e| VfsError::new(VfsErrorCode::Error, e.to_string().into()))
    }
}

impl SQLiteVfs<ChunkIo> for ChunkVfs {
    type Os = Os;

    fn os(_data: &Arc<Registry>) -> &Os {
        &Os
    }
}

#[cfg(test)]
mod tests;
