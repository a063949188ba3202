//! Every file operation of the vault goes through [`Storage`], so tests can put
//! a fault-injecting layer ([`FaultStorage`]) between the vault and the disk to
//! simulate a full disk or a crash after any step.
use std::any::Any;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// An open file the vault writes to.
pub trait StorageFile: Send {
    /// Write all of `buf` at the end of what was written so far.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Make what was written durable (`fdatasync`).
    fn sync(&mut self) -> io::Result<()>;
    /// Cut the file to `len` bytes (used to remove a partly written frame).
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}

/// A file opened for reading: the snapshot is decrypted from it as a stream,
/// so unlocking never holds the whole ciphertext in memory.
pub trait StorageReader: Read + Seek + Send {}

impl<T: Read + Seek + Send> StorageReader for T {}

/// File-system operations used by the vault.
pub trait Storage: Send + Sync + fmt::Debug {
    /// Whole contents of a file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Open a file for streaming reads (with seeking).
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn StorageReader>>;
    /// Whether a file or directory exists.
    fn exists(&self, path: &Path) -> bool;
    /// Size of a file in bytes.
    fn len(&self, path: &Path) -> io::Result<u64>;
    /// Names of the entries of a directory.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Create a directory and its parents (owner-only permissions on Unix).
    fn create_dir(&self, dir: &Path) -> io::Result<()>;
    /// Create (or truncate) a file for writing (owner-only permissions on Unix).
    fn create(&self, path: &Path) -> io::Result<Box<dyn StorageFile>>;
    /// Open an existing file for appending.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn StorageFile>>;
    /// Atomically replace `to` with `from`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Delete a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Make the directory entries of `dir` durable (after create/rename/remove).
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Take an exclusive advisory lock on `path` (created if missing), held
    /// until the returned value is dropped. `Ok(None)` means another process
    /// holds it.
    fn lock(&self, path: &Path) -> io::Result<Option<Box<dyn Any + Send>>>;
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealStorage;

struct RealFile(File);

impl StorageFile for RealFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        use std::io::Seek;
        self.0.set_len(len)?;
        // Files from `create` are not in append mode: move the write position
        // back too, or the next write would leave a hole of zeros.
        self.0.seek(io::SeekFrom::Start(len)).map(|_| ())
    }
}

fn private_file(opts: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts
}

impl Storage for RealStorage {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        fs::read(path)
    }
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn StorageReader>> {
        Ok(Box::new(File::open(path)?))
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
    fn len(&self, path: &Path) -> io::Result<u64> {
        Ok(fs::metadata(path)?.len())
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }
    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        let mut b = fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir)
    }
    fn create(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let f = private_file(OpenOptions::new().write(true).create(true).truncate(true)).open(path)?;
        Ok(Box::new(RealFile(f)))
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let f = OpenOptions::new().append(true).open(path)?;
        Ok(Box::new(RealFile(f)))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        #[cfg(unix)]
        {
            File::open(dir)?.sync_all()
        }
        #[cfg(not(unix))]
        {
            // Windows cannot open a directory for syncing; renames are
            // journaled by NTFS (MoveFileEx is durable once it returns).
            let _ = dir;
            Ok(())
        }
    }
    fn lock(&self, path: &Path) -> io::Result<Option<Box<dyn Any + Send>>> {
        let f = private_file(OpenOptions::new().write(true).create(true).truncate(false)).open(path)?;
        match f.try_lock() {
            Ok(()) => Ok(Some(Box::new(f))),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => Err(e),
        }
    }
}

/// Counters and triggers of a [`FaultStorage`].
#[derive(Debug, Default)]
struct FaultState {
    /// Mutating operations performed so far (create, write, sync, truncate,
    /// rename, remove, sync_dir, create_dir).
    steps: u64,
    /// Fail every mutating operation from this step number on (1-based).
    crash_at: Option<u64>,
    /// Bytes that may still be written before writes fail with "no space".
    write_budget: Option<u64>,
    /// Set once the simulated crash happened.
    crashed: bool,
    /// One line per mutating operation, for test diagnostics.
    log: Vec<String>,
}

/// A [`Storage`] over the real file system that can simulate a full disk
/// (writes fail with "no space left" after a byte budget, the last write
/// being partly done, as a real full disk does) and a crash (every mutating
/// operation from step K on fails, so the files are left exactly as they were
/// after step K-1). For tests and fault drills.
///
/// A simulated crash does not lose writes that were not yet fsynced (the
/// page cache still holds them); torn writes are covered by the journal
/// truncation tests instead.
#[derive(Debug, Clone, Default)]
pub struct FaultStorage {
    state: Arc<Mutex<FaultState>>,
}

impl FaultStorage {
    /// A storage that behaves like [`RealStorage`] until told otherwise.
    pub fn new() -> Self {
        Self::default()
    }
    /// Let `k` more mutating operations succeed, then fail every one after
    /// (a crash after step `k` counted from now).
    pub fn crash_after(&self, k: u64) {
        let mut s = self.lock_state();
        s.crash_at = Some(s.steps + k + 1);
        s.crashed = false;
    }
    /// Let `bytes` more bytes be written, then fail writes with "no space left".
    pub fn fail_writes_after(&self, bytes: u64) {
        self.lock_state().write_budget = Some(bytes);
    }
    /// Remove every trigger (the disk works again).
    pub fn heal(&self) {
        let mut s = self.lock_state();
        s.crash_at = None;
        s.write_budget = None;
        s.crashed = false;
    }
    /// Mutating operations performed so far.
    pub fn steps(&self) -> u64 {
        self.lock_state().steps
    }
    /// Whether the simulated crash has happened.
    pub fn crashed(&self) -> bool {
        self.lock_state().crashed
    }
    /// The mutating operations performed so far, one line each.
    pub fn log(&self) -> Vec<String> {
        self.lock_state().log.clone()
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, FaultState> {
        // A panic while holding this lock can only come from a test assertion;
        // the state is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Count one mutating operation; fail it if the crash point is reached.
    fn step(&self, what: &str, path: &Path) -> io::Result<()> {
        let mut s = self.lock_state();
        s.steps += 1;
        let n = s.steps;
        if s.crashed || s.crash_at.is_some_and(|k| n >= k) {
            s.crashed = true;
            return Err(io::Error::other(format!("simulated crash before step {n} ({what} {})", path.display())));
        }
        s.log.push(format!("{n}: {what} {}", path.display()));
        Ok(())
    }

    /// How many of `len` bytes may be written now; `None` = all.
    fn take_budget(&self, len: usize) -> Option<usize> {
        let mut s = self.lock_state();
        match s.write_budget {
            None => None,
            Some(b) if b >= len as u64 => {
                s.write_budget = Some(b - len as u64);
                None
            }
            Some(b) => {
                s.write_budget = Some(0);
                Some(b as usize)
            }
        }
    }
}

fn no_space() -> io::Error {
    io::Error::new(io::ErrorKind::StorageFull, "no space left on device (simulated)")
}

struct FaultFile {
    inner: RealFile,
    path: PathBuf,
    faults: FaultStorage,
}

impl StorageFile for FaultFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.faults.step("write", &self.path)?;
        match self.faults.take_budget(buf.len()) {
            None => self.inner.write_all(buf),
            Some(part) => {
                self.inner.write_all(&buf[..part])?;
                Err(no_space())
            }
        }
    }
    fn sync(&mut self) -> io::Result<()> {
        self.faults.step("sync", &self.path)?;
        self.inner.sync()
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.faults.step("truncate", &self.path)?;
        self.inner.truncate(len)
    }
}

impl Storage for FaultStorage {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        RealStorage.read(path)
    }
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn StorageReader>> {
        RealStorage.open_read(path)
    }
    fn exists(&self, path: &Path) -> bool {
        RealStorage.exists(path)
    }
    fn len(&self, path: &Path) -> io::Result<u64> {
        RealStorage.len(path)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        RealStorage.list(dir)
    }
    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        self.step("create_dir", dir)?;
        RealStorage.create_dir(dir)
    }
    fn create(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        self.step("create", path)?;
        let f = private_file(OpenOptions::new().write(true).create(true).truncate(true)).open(path)?;
        Ok(Box::new(FaultFile { inner: RealFile(f), path: path.to_owned(), faults: self.clone() }))
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let f = OpenOptions::new().append(true).open(path)?;
        Ok(Box::new(FaultFile { inner: RealFile(f), path: path.to_owned(), faults: self.clone() }))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.step("rename", from)?;
        RealStorage.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.step("remove", path)?;
        RealStorage.remove(path)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.step("sync_dir", dir)?;
        RealStorage.sync_dir(dir)
    }
    fn lock(&self, path: &Path) -> io::Result<Option<Box<dyn Any + Send>>> {
        RealStorage.lock(path)
    }
}

/// A [`Read`] + [`Seek`] wrapper that computes the SHA-256 of the whole
/// underlying file while it is read in any order: bytes are hashed only when
/// a read reaches past everything hashed so far, starting exactly there. The
/// age reader seeks to the end once (to authenticate the last chunk and learn
/// the plaintext length) and then reads front to back; with this wrapper the
/// snapshot's hash costs no second pass over the file. (Hashing on a second
/// thread was tried: no faster on the shared 2-core reference machine, whose
/// other core is rarely idle, and it costs a copy of every buffer.)
pub(crate) struct FrontierHasher<R> {
    inner: R,
    pos: u64,
    /// Bytes `0..frontier` have been hashed.
    frontier: u64,
    hasher: sha2::Sha256,
    /// The kind of the first I/O error, so a failing disk is reported as
    /// such even when the decryptor wraps the error in its own.
    pub(crate) failure: Option<io::ErrorKind>,
}

impl<R: Read + Seek> FrontierHasher<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self { inner, pos: 0, frontier: 0, hasher: sha2::Digest::new(), failure: None }
    }

    /// Read whatever was not yet hashed up to the end of the file, then return
    /// the SHA-256 and length of the whole file.
    pub(crate) fn finish(mut self) -> io::Result<([u8; 32], u64)> {
        self.seek(io::SeekFrom::Start(self.frontier))?;
        let mut buf = vec![0u8; 64 * 1024];
        while self.read(&mut buf)? > 0 {}
        Ok((sha2::Digest::finalize(self.hasher).into(), self.frontier))
    }

    fn note(&mut self, e: io::Error) -> io::Error {
        if self.failure.is_none() {
            self.failure = Some(e.kind());
        }
        e
    }
}

impl<R: Read + Seek> Read for FrontierHasher<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) => return Err(self.note(e)),
        };
        let (start, end) = (self.pos, self.pos + n as u64);
        if start <= self.frontier && self.frontier < end {
            let from = (self.frontier - start) as usize;
            sha2::Digest::update(&mut self.hasher, &buf[from..n]);
            self.frontier = end;
        }
        self.pos = end;
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for FrontierHasher<R> {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        match self.inner.seek(to) {
            Ok(p) => {
                self.pos = p;
                Ok(p)
            }
            Err(e) => Err(self.note(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    #[test]
    fn frontier_hasher_hashes_each_byte_once_in_file_order() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut h = FrontierHasher::new(io::Cursor::new(data.clone()));
        let mut buf = [0u8; 1000];
        // Like the age reader: the tail first, then front to back, with a
        // re-read of bytes already hashed in between.
        h.seek(io::SeekFrom::End(-1500)).unwrap();
        h.read_exact(&mut buf).unwrap();
        h.seek(io::SeekFrom::Start(0)).unwrap();
        h.read_exact(&mut buf).unwrap();
        h.seek(io::SeekFrom::Start(500)).unwrap();
        h.read_exact(&mut buf).unwrap();
        let (hash, len) = h.finish().unwrap();
        assert_eq!(len, data.len() as u64);
        assert_eq!(hash, <[u8; 32]>::from(sha2::Sha256::digest(&data)));
    }
}
