//! Files the window names: absolute, chosen paths only; bounded reads;
//! new files written whole and never over another; and the folders and
//! files the pickers suggest ([`sync_places`], [`sync_find_files`]).

use super::*;

/// Largest bundle the app reads into memory: the library's limit on a
/// bundle (it enforces its own limits on what is inside); this stops a
/// wrong pick (a disk image, a video) from being read whole.
pub(crate) const MAX_BUNDLE_FILE: u64 = sync::format::MAX_BUNDLE_BYTES;

/// Largest enrollment request file.
pub(super) const MAX_REQUEST_FILE: u64 = sync::format::MAX_REQUEST_BYTES;

/// A path the UI gave: absolute, so that it never depends on the app's
/// working directory, and one the person chose in a dialog or through a
/// drive shortcut ([`crate::dialog_commands::allowed`]).
pub(crate) fn absolute(path: &str) -> Result<PathBuf, UiError> {
    let p = PathBuf::from(path.trim());
    if path.trim().is_empty() {
        return Err(UiError::new(crate::errors::ShellCode::NoPath, "choose a file first"));
    }
    if !p.is_absolute() {
        return Err(bad_input(format!("{path:?} is not a full path (it must start with /)")));
    }
    crate::dialog_commands::check_chosen(&p)?;
    Ok(p)
}

pub(crate) fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, UiError> {
    use fieldcase::fsutil::ReadError;
    fieldcase::fsutil::read_limited(path, limit).map_err(|e: ReadError| UiError::coded(&e))
}

/// Write a new file through [`fieldcase::fsutil::write_new_file`]: never
/// over an existing file or through a symlink, never half-written under its
/// final name, durable when this returns (USB sticks are often pulled right
/// after).
pub(super) fn write_new_file(path: &Path, bytes: &[u8]) -> Result<WrittenFile, UiError> {
    fieldcase::fsutil::write_new_file(path, bytes).map_err(write_error)?;
    Ok(WrittenFile { path: path.display().to_string(), bytes: bytes.len() as u64 })
}

/// Build a bundle and write it to the new file `out` through the
/// library's [`fieldcase::fsutil::build_new_file`] (an occupied
/// destination is refused before anything is built).
pub(crate) fn built_file<E: std::error::Error + 'static>(
    out: &Path,
    build: impl FnOnce() -> Result<Vec<u8>, E>,
    build_error: fn(E) -> UiError,
) -> Result<WrittenFile, UiError> {
    use fieldcase::fsutil::BuildFileError;
    match fieldcase::fsutil::build_new_file(out, build) {
        Ok(bytes) => Ok(WrittenFile { path: out.display().to_string(), bytes }),
        Err(BuildFileError::Write(e)) => Err(write_error(e)),
        Err(BuildFileError::Build(e)) => Err(build_error(e)),
    }
}

/// The window's code for each way writing a new file fails.
pub(crate) fn write_error(e: fieldcase::fsutil::WriteError) -> UiError {
    UiError::coded(&e)
}

/// Refuse an occupied destination (a symlink included) before building a
/// bundle; the write refuses it anyway.
pub(super) fn check_free(out: &Path) -> Result<(), UiError> {
    if fieldcase::fsutil::occupied(out) {
        return Err(write_error(fieldcase::fsutil::WriteError::AlreadyExists { path: out.to_path_buf() }));
    }
    Ok(())
}

/// Folders where bundles are usually exchanged: mounted removable drives
/// (`/media/USER/*`, `/run/media/USER/*`, `/media/*`) first, then the home
/// folder and its Documents/Downloads.
pub fn places() -> Vec<SyncPlace> {
    let mut out = Vec::new();
    let user = std::env::var("USER").unwrap_or_default();
    let mut roots = vec![PathBuf::from("/run/media").join(&user), PathBuf::from("/media").join(&user)];
    roots.push(PathBuf::from("/media"));
    for root in roots {
        let Ok(entries) = std::fs::read_dir(&root) else { continue };
        let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
        dirs.sort();
        for d in dirs {
            // /media/USER itself is a root above, not a drive.
            if d.file_name().is_some_and(|n| n == std::ffi::OsStr::new(&user)) && root == Path::new("/media") {
                continue;
            }
            let s = d.display().to_string();
            if !out.iter().any(|p: &SyncPlace| p.path == s) {
                out.push(SyncPlace { path: s, kind: "usb".into() });
            }
        }
    }
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from).filter(|h| h.is_dir()) {
        for d in [home.join("Documents"), home.join("Downloads"), home.clone()] {
            if d.is_dir() {
                out.push(SyncPlace { path: d.display().to_string(), kind: "home".into() });
            }
        }
    }
    out
}

/// Files ending in `ext` directly inside `dirs`, newest first.
pub fn find_files(dirs: &[String], ext: &str) -> Vec<FoundFile> {
    let mut out = Vec::new();
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(d) else { continue };
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().and_then(|x| x.to_str()) != Some(ext) {
                continue;
            }
            let Ok(meta) = e.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let modified_millis = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as u64);
            out.push(FoundFile {
                path: path.display().to_string(),
                name: e.file_name().to_string_lossy().into_owned(),
                bytes: meta.len(),
                modified_millis,
            });
        }
    }
    out.sort_by(|a, b| b.modified_millis.cmp(&a.modified_millis).then(a.path.cmp(&b.path)));
    out.dedup_by(|a, b| a.path == b.path);
    out
}

/// Folders where bundles are usually exchanged (USB drives first).
#[tauri::command]
pub async fn sync_places() -> Result<Vec<SyncPlace>, UiError> {
    Ok(places())
}

/// Bundle (`fcb`) or request (`json`) files in the suggested folders and `extra`.
#[tauri::command]
pub async fn sync_find_files(kind: String, extra: Option<String>) -> Result<Vec<FoundFile>, UiError> {
    let ext = match kind.as_str() {
        "bundle" => "fcb",
        "request" => "json",
        _ => return Err(bad_input(format!("unknown file kind {kind:?}"))),
    };
    let mut dirs: Vec<String> = places().into_iter().map(|p| p.path).collect();
    if let Some(e) = extra.filter(|e| !e.trim().is_empty()) {
        dirs.insert(0, absolute(&e)?.display().to_string());
    }
    Ok(find_files(&dirs, ext))
}
