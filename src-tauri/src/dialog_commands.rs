//! Choosing files with the system's open and save dialogs.
//!
//! The dialog is opened here, on the Rust side (`tauri-plugin-dialog`), never
//! by the window: the window asks for "a bundle to open" or "a place to save
//! `name`", and gets back the path the person chose, or nothing when they
//! cancelled. Every path is remembered in [`Picked`], and the commands that
//! read or write a file accept only a path the person chose this way, a file
//! next to one they chose, or a file directly in one of the drive shortcuts
//! of the Sync screen ([`crate::sync_commands::places`]): the window cannot
//! make the app read or write anywhere else.
//!
//! Test hook (debug builds only, like the other `FIELDCASE_TEST_*`
//! variables): with `FIELDCASE_TEST_DIALOG_DIR` set, no dialog opens; the
//! answer is the content of the file `next-path` in that folder, which the
//! end-to-end run writes before it clicks "Choose…", and which is removed
//! once read (no file: the person cancelled).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;

use crate::dto::UiError;
use crate::errors::ShellCode;
use crate::session::Session;

/// A path chosen in a dialog during this run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Chosen {
    /// A file to open or to save.
    File,
    /// A folder.
    Folder,
}

/// The paths chosen in a dialog during this run.
static PICKED: Mutex<Vec<(PathBuf, Chosen)>> = Mutex::new(Vec::new());

/// Remember a path the person chose.
pub(crate) fn remember(path: &Path, what: Chosen) {
    let mut picked = PICKED.lock().unwrap_or_else(|p| p.into_inner());
    if !picked.iter().any(|(p, w)| p == path && *w == what) {
        picked.push((path.to_path_buf(), what));
    }
}

/// Whether the window may name `path`: chosen in a dialog, directly in a
/// folder chosen in one, beside a file chosen in one (a receipt next to the
/// request it answers), or directly in a drive shortcut.
pub(crate) fn allowed(path: &Path) -> bool {
    let parent = path.parent();
    let picked = PICKED.lock().unwrap_or_else(|p| p.into_inner());
    let by_dialog = picked.iter().any(|(p, what)| {
        p == path
            || match what {
                Chosen::Folder => Some(p.as_path()) == parent,
                Chosen::File => p.parent() == parent,
            }
    });
    by_dialog || parent.is_some_and(|dir| crate::sync_commands::places().iter().any(|p| Path::new(&p.path) == dir))
}

/// Refuse a path the person did not choose (see [`allowed`]).
pub(crate) fn check_chosen(path: &Path) -> Result<(), UiError> {
    if allowed(path) {
        Ok(())
    } else {
        Err(UiError::new(
            ShellCode::NotChosen,
            format!("{} was not chosen: use Choose file… or a drive shortcut", path.display()),
        ))
    }
}

/// What a dialog is for: the filter it shows and whether it opens, saves or
/// picks a folder.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Purpose {
    /// Open a bundle (`.fcb`).
    OpenBundle,
    /// Open an enrollment request (`.json`).
    OpenRequest,
    /// Open a photo or a scanned document for a case.
    OpenAttachment,
    /// Save a file under a suggested name.
    Save,
    /// Choose a folder (report exports, the sync folder).
    Folder,
}

impl Purpose {
    fn parse(kind: &str) -> Result<Self, UiError> {
        Ok(match kind {
            "bundle" => Purpose::OpenBundle,
            "request" => Purpose::OpenRequest,
            "attachment" => Purpose::OpenAttachment,
            "save" => Purpose::Save,
            "folder" => Purpose::Folder,
            other => return Err(UiError::new(ShellCode::BadInput, format!("unknown kind of dialog {other:?}"))),
        })
    }
}

/// The answer of the test hook, when it is on (debug builds only).
#[cfg(debug_assertions)]
fn test_answer() -> Option<Option<PathBuf>> {
    let dir = std::env::var_os("FIELDCASE_TEST_DIALOG_DIR").filter(|d| !d.is_empty())?;
    let file = Path::new(&dir).join("next-path");
    let answer = std::fs::read_to_string(&file).ok().map(|s| PathBuf::from(s.trim())).filter(|p| p.is_absolute());
    let _ = std::fs::remove_file(&file);
    Some(answer)
}

#[cfg(not(debug_assertions))]
fn test_answer() -> Option<Option<PathBuf>> {
    None
}

/// Show the dialog (blocking: call off the main thread) and return the path
/// chosen, remembered for the commands that follow.
fn show(app: &AppHandle, purpose: Purpose, file_name: Option<&str>, start: Option<&Path>) -> Option<PathBuf> {
    let chosen = match test_answer() {
        Some(answer) => answer,
        None => {
            let mut d = app.dialog().file();
            if let Some(dir) = start.filter(|d| d.is_dir()) {
                d = d.set_directory(dir);
            }
            if let Some(name) = file_name.filter(|n| !n.is_empty()) {
                d = d.set_file_name(name);
            }
            let picked = match purpose {
                Purpose::OpenBundle => d.add_filter("Fieldcase bundle", &["fcb"]).blocking_pick_file(),
                Purpose::OpenRequest => d.add_filter("Enrollment request", &["json"]).blocking_pick_file(),
                Purpose::OpenAttachment => d
                    .add_filter("Photo or document", &["jpg", "jpeg", "png", "gif", "webp", "pdf"])
                    .blocking_pick_file(),
                Purpose::Save => d.blocking_save_file(),
                Purpose::Folder => d.blocking_pick_folder(),
            };
            picked.and_then(|p| p.into_path().ok())
        }
    };
    let chosen = chosen.filter(|p| p.is_absolute())?;
    remember(&chosen, if purpose == Purpose::Folder { Chosen::Folder } else { Chosen::File });
    Some(chosen)
}

/// Run [`show`] on a blocking thread: async commands run on the async
/// runtime, and a blocking dialog must not hold one of its workers.
async fn show_async(
    app: AppHandle,
    purpose: Purpose,
    file_name: Option<String>,
    start: Option<PathBuf>,
) -> Option<PathBuf> {
    tauri::async_runtime::spawn_blocking(move || show(&app, purpose, file_name.as_deref(), start.as_deref()))
        .await
        .ok()
        .flatten()
}

/// Open the system's dialog: `kind` is `bundle` or `request` (a file to
/// open), `save` (where to save `file_name`) or `folder`; `start` is the
/// folder it opens in. `None` when the person cancelled.
#[tauri::command]
pub async fn choose_path(
    app: AppHandle,
    kind: String,
    file_name: Option<String>,
    start: Option<String>,
) -> Result<Option<String>, UiError> {
    let purpose = Purpose::parse(&kind)?;
    if purpose == Purpose::OpenAttachment {
        return Err(UiError::new(ShellCode::BadInput, "attachments are added with add_attachment_file"));
    }
    let start = start.map(PathBuf::from).filter(|p| p.is_absolute());
    Ok(show_async(app, purpose, file_name, start).await.map(|p| p.display().to_string()))
}

/// The type of an attachment, from its file name: the kinds the case
/// workspace shows (photos, PDF).
pub(crate) fn attachment_mime(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        _ => return None,
    })
}

/// Choose a photo or document in the system's dialog and attach it to
/// `case`: the bytes go from the file into the encrypted blob store, never
/// through the window. Returns the file's name, or `None` when cancelled.
#[tauri::command]
pub async fn add_attachment_file(
    app: AppHandle,
    session: State<'_, Session>,
    case: String,
) -> Result<Option<String>, UiError> {
    let Some(path) = show_async(app, Purpose::OpenAttachment, None, None).await else {
        return Ok(None);
    };
    let mime = attachment_mime(&path).ok_or_else(|| {
        UiError::new(ShellCode::BadAttachment, "only photos (JPEG, PNG, GIF, WebP) and PDF files can be attached")
    })?;
    let bytes = crate::sync_commands::read_limited(&path, fieldcase::model::store::MAX_ATTACHMENT_BYTES)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
    crate::commands::add_attachment(session, case, name.clone(), mime.into(), encoded).await?;
    Ok(Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_chosen_paths_and_their_neighbours_are_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let chosen = dir.path().join("in/request.json");
        let neighbour = dir.path().join("in/receipt.fcb");
        let elsewhere = dir.path().join("other/x.fcb");
        assert!(!allowed(&chosen));
        assert_eq!(check_chosen(&chosen).unwrap_err().code, "not_chosen");
        remember(&chosen, Chosen::File);
        assert!(allowed(&chosen) && allowed(&neighbour));
        assert!(check_chosen(&neighbour).is_ok());
        assert!(!allowed(&elsewhere) && !allowed(Path::new("/etc/passwd")));
        // A chosen folder: itself and files directly in it, not below it,
        // and not beside it.
        let folder = dir.path().join("exports");
        remember(&folder, Chosen::Folder);
        assert!(allowed(&folder) && allowed(&folder.join("report.csv")));
        assert!(!allowed(&folder.join("deeper/report.csv")));
        assert!(!allowed(&dir.path().join("beside-exports.csv")));
    }

    #[test]
    fn attachments_are_photos_and_pdf() {
        assert_eq!(attachment_mime(Path::new("/x/Scan.PDF")), Some("application/pdf"));
        assert_eq!(attachment_mime(Path::new("/x/p.jpeg")), Some("image/jpeg"));
        assert_eq!(attachment_mime(Path::new("/x/notes.txt")), None);
        assert_eq!(attachment_mime(Path::new("/x/noext")), None);
    }

    #[test]
    fn dialog_kinds_are_checked() {
        assert_eq!(Purpose::parse("bundle").unwrap(), Purpose::OpenBundle);
        assert_eq!(Purpose::parse("../etc").unwrap_err().code, "bad_input");
    }
}
