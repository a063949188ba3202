//! Writing files that leave the vault (bundles, enrollment requests,
//! receipts, report exports): always a *new* file, never through a symlink,
//! never over an existing file, never half-written under its final name.
//!
//! How ([`write_new_file`]):
//! 1. the bytes go to a fresh hidden temporary file beside the destination,
//!    opened with `O_CREAT|O_EXCL` (`OpenOptions::create_new`), which refuses
//!    any existing path and does not follow a symlink placed there;
//! 2. it is fsynced, then renamed to the destination with
//!    `renameat2(RENAME_NOREPLACE)` on Linux: the kernel refuses the rename
//!    when the destination exists (a file, a directory or a symlink, dangling
//!    or not) and never replaces it, so a check-then-rename race cannot
//!    overwrite a file created meanwhile;
//! 3. the directory is fsynced (the rename is durable only then; USB sticks
//!    are often pulled right after).
//!
//! A file system without `RENAME_NOREPLACE` (some FUSE mounts), and other
//! systems than Linux, get the fallback: the destination itself is opened
//! with `create_new`, written and fsynced, and removed again if writing
//! fails. It keeps "never replace, never follow a symlink"; only a crash in
//! the middle can leave a short file there (bundles are authenticated, so a
//! short one is refused on import).
//!
//! A hard link (`link(2)`, which also never replaces) was not chosen for
//! step 2: FAT and exFAT, what most USB sticks carry, have no hard links,
//! while they do support `RENAME_NOREPLACE`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Why a new file could not be written. Nothing is left behind in any case.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The destination exists (a file, a folder or a symlink).
    #[error("{} already exists: choose another name", path.display())]
    AlreadyExists {
        /// The destination.
        path: PathBuf,
    },
    /// The folder the file should go in does not exist.
    #[error("the folder of {} does not exist: create it or choose another place", path.display())]
    NoSuchFolder {
        /// The destination.
        path: PathBuf,
    },
    /// The disk (or USB stick) is full.
    #[error("not enough space to write {}: free some space or use another disk", path.display())]
    DiskFull {
        /// The destination.
        path: PathBuf,
    },
    /// Any other I/O failure.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The destination.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

// Each failure's stable code for the interfaces (crate::codes).
crate::error_codes! { WriteError {
    WriteError::AlreadyExists { path } => "file_exists" { path = path.display() };
    WriteError::NoSuchFolder { path } => "no_such_folder" { path = path.display() };
    WriteError::DiskFull { path } => "disk_full" { path = path.display() };
    WriteError::Io { path, .. } => "file_unwritable" { path = path.display() };
} }

impl WriteError {
    fn from_io(path: &Path, source: std::io::Error) -> WriteError {
        let path = path.to_path_buf();
        match source.kind() {
            std::io::ErrorKind::AlreadyExists => WriteError::AlreadyExists { path },
            std::io::ErrorKind::StorageFull => WriteError::DiskFull { path },
            _ => WriteError::Io { path, source },
        }
    }
}

/// Why a file built on demand ([`build_new_file`]) was not written.
#[derive(Debug, thiserror::Error)]
pub enum BuildFileError<E: std::error::Error + 'static> {
    /// The destination was occupied (found before building) or the write
    /// failed.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Building the bytes failed; nothing was written.
    #[error(transparent)]
    Build(E),
}

/// Write a new file whose bytes are built only once the destination is
/// known to be free: an occupied `path` (a symlink included) is refused
/// before `build` runs, so no bundle is built (and recorded as sent) for a
/// file that cannot be written; then [`write_new_file`]. Returns how many
/// bytes were written. Every interface writes bundle files through this
/// (`fieldcase export`, `transfer`, `enroll approve`; the app's sync and
/// office screens).
pub fn build_new_file<E: std::error::Error + 'static>(
    path: &Path,
    build: impl FnOnce() -> Result<Vec<u8>, E>,
) -> Result<u64, BuildFileError<E>> {
    if occupied(path) {
        return Err(WriteError::AlreadyExists { path: path.to_path_buf() }.into());
    }
    let bytes = build().map_err(BuildFileError::Build)?;
    write_new_file(path, &bytes)?;
    Ok(bytes.len() as u64)
}

/// Why a file could not be read by [`read_limited`].
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Missing, unreadable, or not a regular file.
    #[error("cannot read {}: {reason}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Larger than what the caller expects such a file to be.
    #[error("{} is {size} bytes, more than {limit}: is it the right file?", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
}

// Each failure's stable code for the interfaces (crate::codes).
crate::error_codes! { ReadError {
    ReadError::Unreadable { path, .. } => "file_unreadable" { path = path.display() };
    ReadError::TooLarge { path, size, limit } => "file_too_large" { path = path.display(), size, limit };
} }

/// Read a whole regular file of at most `limit` bytes. The size is checked
/// before reading, so a wrong pick (a disk image, a video) is refused
/// without being read; the read itself is capped too, so a file that grows
/// meanwhile is refused as well.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    use std::io::Read as _;
    let unreadable = |reason: String| ReadError::Unreadable { path: path.to_path_buf(), reason };
    let meta = std::fs::metadata(path).map_err(|e| unreadable(e.to_string()))?;
    if !meta.is_file() {
        return Err(unreadable("not a file".into()));
    }
    let too_large = |size| ReadError::TooLarge { path: path.to_path_buf(), size, limit };
    if meta.len() > limit {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    let file = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| unreadable(e.to_string()))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Whether anything (even a dangling symlink) is at `path`.
pub fn occupied(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// Write `bytes` to the new file `path` (see the module documentation).
/// Refuses an existing path, a symlink included, and leaves it untouched.
pub fn write_new_file(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let parent = match path.parent() {
        Some(p) if p.as_os_str().is_empty() => Path::new("."),
        Some(p) => p,
        None => return Err(WriteError::NoSuchFolder { path: path.to_path_buf() }),
    };
    if !parent.is_dir() {
        return Err(WriteError::NoSuchFolder { path: path.to_path_buf() });
    }
    let Some(name) = path.file_name() else {
        return Err(WriteError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
        });
    };
    // Fail early (and without writing a temporary file) in the common case;
    // the rename below is what guarantees it.
    if occupied(path) {
        return Err(WriteError::AlreadyExists { path: path.to_path_buf() });
    }
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.part", uuid::Uuid::new_v4().simple()));
    let tmp = parent.join(tmp_name);
    write_created(&tmp, bytes).map_err(|e| WriteError::from_io(path, e))?;
    match rename_no_replace(&tmp, path) {
        Ok(()) => {}
        Err(e) if rename_flag_unsupported(&e) => {
            let _ = std::fs::remove_file(&tmp);
            return write_in_place(path, bytes);
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(WriteError::from_io(path, e));
        }
    }
    if let Ok(d) = std::fs::File::open(parent) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The fallback: `create_new` on the destination itself, removed again if
/// writing fails.
fn write_in_place(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write_created(path, bytes).map_err(|e| WriteError::from_io(path, e))
}

/// Create `path` (never an existing one, never through a symlink), write,
/// fsync; on failure remove what was created.
fn write_created(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
    let written = f.write_all(bytes).and_then(|()| f.sync_all());
    if let Err(e) = written {
        drop(f);
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn rename_no_replace(from: &Path, to: &Path) -> std::io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE).map_err(std::io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn rename_no_replace(_from: &Path, _to: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// The errors by which a file system (or kernel) says it has no
/// `RENAME_NOREPLACE`.
fn rename_flag_unsupported(e: &std::io::Error) -> bool {
    #[cfg(target_os = "linux")]
    {
        use rustix::io::Errno;
        if let Some(code) = e.raw_os_error() {
            let errno = Errno::from_raw_os_error(code);
            return errno == Errno::INVAL || errno == Errno::NOSYS || errno == Errno::OPNOTSUPP;
        }
    }
    e.kind() == std::io::ErrorKind::Unsupported
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn writes_a_new_file_and_leaves_no_temporary_file() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("out.fcb");
        write_new_file(&p, b"bundle bytes").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"bundle bytes");
        assert_eq!(entries(t.path()), vec!["out.fcb"]);
    }

    #[test]
    fn a_built_file_is_not_built_for_an_occupied_destination() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("out.fcb");
        std::fs::write(&p, b"the first export").unwrap();
        let mut built = false;
        let e = build_new_file::<std::io::Error>(&p, || {
            built = true;
            Ok(b"second".to_vec())
        })
        .unwrap_err();
        assert!(matches!(e, BuildFileError::Write(WriteError::AlreadyExists { .. })), "{e:?}");
        assert!(!built, "nothing is built for a file that cannot be written");
        let q = t.path().join("new.fcb");
        let failed = build_new_file(&q, || Err(std::io::Error::other("no bundle"))).unwrap_err();
        assert!(matches!(failed, BuildFileError::Build(_)));
        assert!(!occupied(&q), "a failed build writes nothing");
        assert_eq!(build_new_file::<std::io::Error>(&q, || Ok(b"bytes".to_vec())).unwrap(), 5);
        assert_eq!(std::fs::read(&q).unwrap(), b"bytes");
    }

    #[test]
    fn read_limited_refuses_large_files_and_folders_before_reading() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("request.json");
        std::fs::write(&p, b"0123456789").unwrap();
        assert_eq!(read_limited(&p, 10).unwrap(), b"0123456789");
        let e = read_limited(&p, 9).unwrap_err();
        assert!(matches!(e, ReadError::TooLarge { size: 10, limit: 9, .. }), "{e:?}");
        assert!(matches!(read_limited(t.path(), 100).unwrap_err(), ReadError::Unreadable { .. }));
        assert!(matches!(read_limited(&t.path().join("missing"), 100).unwrap_err(), ReadError::Unreadable { .. }));
    }

    #[test]
    fn an_existing_file_is_refused_and_left_untouched() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("out.fcb");
        std::fs::write(&p, b"the first export").unwrap();
        let e = write_new_file(&p, b"a second one").unwrap_err();
        assert!(matches!(e, WriteError::AlreadyExists { .. }), "{e:?}");
        assert!(e.to_string().contains("already exists: choose another name"), "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), b"the first export");
        assert_eq!(entries(t.path()), vec!["out.fcb"]);
        // The fallback path refuses it too.
        assert!(matches!(write_in_place(&p, b"x").unwrap_err(), WriteError::AlreadyExists { .. }));
        assert_eq!(std::fs::read(&p).unwrap(), b"the first export");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_at_the_destination_is_refused_and_its_target_untouched() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("victim");
        std::fs::write(&target, b"not yours").unwrap();
        let link = t.path().join("out.fcb");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = write_new_file(&link, b"bundle").unwrap_err();
        assert!(matches!(e, WriteError::AlreadyExists { .. }), "{e:?}");
        assert_eq!(std::fs::read(&target).unwrap(), b"not yours");
        assert_eq!(std::fs::read_link(&link).unwrap(), target);
        // A dangling symlink is refused too: nothing is created at its target.
        let dangling = t.path().join("dangling.fcb");
        let nowhere = t.path().join("nowhere");
        std::os::unix::fs::symlink(&nowhere, &dangling).unwrap();
        assert!(matches!(write_new_file(&dangling, b"x").unwrap_err(), WriteError::AlreadyExists { .. }));
        assert!(matches!(write_in_place(&dangling, b"x").unwrap_err(), WriteError::AlreadyExists { .. }));
        assert!(!occupied(&nowhere));
        assert_eq!(entries(t.path()), vec!["dangling.fcb", "out.fcb", "victim"]);
    }

    /// The race the check alone cannot close: a file that appears after the
    /// early check is still not replaced by the rename.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_rename_itself_never_replaces() {
        let t = tempfile::tempdir().unwrap();
        let tmp = t.path().join(".x.part");
        let p = t.path().join("x");
        std::fs::write(&tmp, b"new").unwrap();
        std::fs::write(&p, b"old").unwrap();
        let e = rename_no_replace(&tmp, &p).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
    }

    #[test]
    fn a_missing_folder_is_named() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("no-such-folder").join("x.fcb");
        let e = write_new_file(&p, b"x").unwrap_err();
        assert!(matches!(e, WriteError::NoSuchFolder { .. }), "{e:?}");
    }

    #[test]
    fn the_fallback_writes_a_new_file() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("plain.csv");
        write_in_place(&p, b"a,b\n").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"a,b\n");
    }
}
