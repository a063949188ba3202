//! The sync folder in the app (docs/bundle-format.md §12): the folder is
//! a setting of the vault (kept in it, never in the webview), and while the
//! app is open and the vault unlocked a watcher thread runs
//! [`folder::sync_folder_once`] every [`INTERVAL`]. The Sync screen reads
//! the last sync, what came in and what was refused with
//! [`sync_folder_status`].

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use fieldcase::model::store::CaseStore;
use fieldcase::sync::folder::{self, FolderError, FolderFile};
use tauri::{AppHandle, Manager as _, State};

use crate::session::{Session, UiError};
use crate::sync_dto::{FolderFileView, FolderImportView, FolderView};

/// How often the watcher looks at the folder: a change is synced within
/// seconds, and a look with nothing new costs a directory listing and a
/// few queries.
pub const INTERVAL: Duration = Duration::from_secs(2);

/// What the watcher saw last in this run (not kept: the vault keeps the
/// last sync itself).
#[derive(Default)]
pub struct FolderWatch {
    last: Mutex<(Option<String>, Option<UiError>)>,
}

impl FolderWatch {
    fn set(&self, checked: String, error: Option<UiError>) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = (Some(checked), error);
    }

    fn get(&self) -> (Option<String>, Option<UiError>) {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn folder_error(e: FolderError) -> UiError {
    match e {
        FolderError::Store(s) => UiError::from(s),
        e => UiError::coded(&e),
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// One pass over the vault's folder, if it has one.
pub fn pass(store: &mut CaseStore) -> Result<bool, UiError> {
    let Some(dir) = folder::folder(store)? else { return Ok(false) };
    folder::sync_folder_once(store, &dir).map_err(folder_error)?;
    Ok(true)
}

fn files(list: Vec<FolderFile>) -> Vec<FolderFileView> {
    list.into_iter()
        .map(|f| FolderFileView { file: f.file, reason: f.reason, code: f.code, params: f.params })
        .collect()
}

/// The screen's view of the folder.
pub fn view(store: &CaseStore, watch: (Option<String>, Option<UiError>)) -> Result<FolderView, UiError> {
    let st = folder::status(store)?;
    let last = st.last.unwrap_or_default();
    let n = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
    Ok(FolderView {
        folder: folder::folder(store)?.map(|p| p.display().to_string()),
        last_sync: st.last_sync,
        last_checked: watch.0,
        error: watch.1,
        imported: last
            .imported
            .into_iter()
            .filter(|i| !i.replay)
            .map(|i| FolderImportView {
                file: i.file,
                sender_name: i.sender_name,
                new_events: n(i.new_events),
                new_cases: n(i.new_cases),
                updated_cases: n(i.updated_cases),
                quarantined: n(i.quarantined),
            })
            .collect(),
        written: n(last.written.len()),
        refused: files(st.refused),
        incomplete: files(st.incomplete),
    })
}

/// Choose the folder (an absolute path to an existing folder), or forget
/// it with `None`.
pub fn set(store: &mut CaseStore, path: Option<&str>) -> Result<(), UiError> {
    let dir = match path.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => {
            let p = PathBuf::from(p);
            if !p.is_absolute() {
                return Err(UiError::new(
                    crate::errors::ShellCode::BadInput,
                    format!("{} is not a full path (it must start with /)", p.display()),
                ));
            }
            Some(p)
        }
        None => None,
    };
    folder::set_folder(store, dir.as_deref()).map_err(folder_error)
}

/// Start the watcher: every [`INTERVAL`], while the vault is unlocked and
/// has a folder, one pass. A locked vault is skipped silently; a failure
/// (the folder gone, a stick pulled out) is kept for the screen and the
/// watcher goes on.
pub fn spawn_watcher(handle: AppHandle) {
    let spawned = std::thread::Builder::new().name("sync-folder".into()).spawn(move || loop {
        std::thread::sleep(INTERVAL);
        let session = handle.state::<Session>();
        let watch = handle.state::<FolderWatch>();
        match session.with_store(pass) {
            Ok(true) => watch.set(now(), None),
            Ok(false) => {}
            Err(e) if e.code == "locked" => {}
            Err(e) => watch.set(now(), Some(e)),
        }
    });
    if let Err(e) = spawned {
        eprintln!("fieldcase: the sync folder watcher could not start: {e}");
    }
}

/// The folder, the last sync, what came in and what was refused.
#[tauri::command]
pub async fn sync_folder_status(
    session: State<'_, Session>,
    watch: State<'_, FolderWatch>,
) -> Result<FolderView, UiError> {
    let seen = watch.get();
    session.with_store(|s| view(s, seen))
}

/// Choose (`path`) or forget (`null`) the vault's sync folder.
#[tauri::command]
pub async fn sync_folder_set(
    session: State<'_, Session>,
    watch: State<'_, FolderWatch>,
    path: Option<String>,
) -> Result<FolderView, UiError> {
    let seen = watch.get();
    session.with_store(|s| {
        // A folder chosen in the dialog (or a drive shortcut); the one the
        // vault already keeps may be saved again.
        if let Some(p) = path.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            let p = std::path::Path::new(p);
            if folder::folder(s)?.as_deref() != Some(p) {
                crate::dialog_commands::check_chosen(p)?;
            }
        }
        set(s, path.as_deref())?;
        view(s, seen)
    })
}

/// Sync with the folder now, without waiting for the watcher.
#[tauri::command]
pub async fn sync_folder_now(
    session: State<'_, Session>,
    watch: State<'_, FolderWatch>,
) -> Result<FolderView, UiError> {
    let result = session.with_store(pass);
    match &result {
        Ok(_) => watch.set(now(), None),
        Err(e) if e.code != "locked" => watch.set(now(), Some(e.clone())),
        Err(_) => {}
    }
    result?;
    let seen = watch.get();
    session.with_store(|s| view(s, seen))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldcase::model::event::Role;
    use fieldcase::sync;
    use fieldcase::vault::{InitOptions, SecretString, VaultOptions};

    fn make(dir: &std::path::Path, name: &str, role: &str) -> CaseStore {
        CaseStore::init_with(
            dir,
            &SecretString::from("correct horse battery staple".to_owned()),
            InitOptions { name: name.into(), role: role.into(), escrow: None },
            &VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() },
        )
        .unwrap()
    }

    #[test]
    fn the_folder_is_a_vault_setting_and_the_view_shows_what_came_in_and_what_was_refused() {
        let t = tempfile::tempdir().unwrap();
        let shared = t.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        let mut o = make(&t.path().join("o"), "Office", "data_manager");
        sync::make_office(&mut o, "Agadez").unwrap();
        let mut a = make(&t.path().join("a"), "amina", "caseworker");
        let req = sync::enrollment_request(&a).unwrap();
        let b = sync::approve_enrollment(&mut o, &serde_json::to_vec(&req).unwrap(), Role::Caseworker, &mut |_| {})
            .unwrap();
        sync::import_bundle(&mut a, &b, false, &mut |_| {}).unwrap();

        // No folder: no pass, an empty view.
        assert!(!pass(&mut a).unwrap());
        assert_eq!(view(&a, (None, None)).unwrap().folder, None);
        assert_eq!(set(&mut a, Some("relative/dir")).unwrap_err().code, "bad_input");
        assert_eq!(set(&mut a, Some(t.path().join("missing").to_str().unwrap())).unwrap_err().code, "folder_missing");
        set(&mut a, Some(shared.to_str().unwrap())).unwrap();
        set(&mut o, Some(shared.to_str().unwrap())).unwrap();

        a.create_case("uasc", "Agadez").unwrap();
        assert!(pass(&mut a).unwrap());
        assert_eq!(view(&a, (None, None)).unwrap().written, 1);
        assert!(pass(&mut o).unwrap());
        let v = view(&o, (Some("now".into()), None)).unwrap();
        assert_eq!(v.folder.as_deref(), Some(shared.to_str().unwrap()));
        assert!(v.last_sync.is_some());
        assert_eq!(v.imported.len(), 1, "{v:?}");
        assert_eq!((v.imported[0].new_cases, v.imported[0].sender_name.as_str()), (1, "amina"));
        assert!(v.refused.is_empty() && v.incomplete.is_empty());

        // A bundle for another vault dropped in the folder: refused, named.
        let dev = a.vault().device().device_id.to_string();
        let wrong = sync::export_for_office(&mut a, &mut |_| {}).unwrap();
        std::fs::write(shared.join(&dev).join("to-device").join("x.fcb"), &wrong).unwrap();
        assert!(pass(&mut a).unwrap());
        let v = view(&a, (None, None)).unwrap();
        assert_eq!(v.refused.len(), 1, "{v:?}");
        assert!(v.refused[0].file.ends_with("to-device/x.fcb"));

        // Forgetting the folder stops the passes.
        set(&mut a, None).unwrap();
        assert!(!pass(&mut a).unwrap());
    }
}
