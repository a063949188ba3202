//! `fieldcase-desktop`: the Tauri 2 window around the `fieldcase` library.
//!
//! This crate holds no domain logic. Each command in [`commands`] is a few
//! lines that call the library and map its error to `{code, message}` for the
//! UI. The unlocked [`fieldcase::model::store::CaseStore`] lives only in
//! Tauri's managed state, in this process's memory; nothing about cases is
//! written to the webview's storage.
#![forbid(unsafe_code)]
// No console window on Windows release builds (harmless elsewhere).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

#[macro_use]
mod command_table;
mod commands;
mod commands_ts;
mod dialog_commands;
mod domain_ts;
mod dto;
mod errors;
mod folder_commands;
mod inquiry_commands;
mod partner_commands;
mod report_commands;
mod search_commands;
mod session;
mod sync_commands;
mod sync_dto;
#[cfg(test)]
mod test_support;

use std::path::PathBuf;

use session::Session;

/// mimalloc, as in the `fieldcase` CLI (see ARCHITECTURE.md, "Allocator").
#[global_allocator]
static ALLOCATOR: fieldcase_alloc::MiMalloc = fieldcase_alloc::MiMalloc;

/// Where the vault is: `--vault DIR` on the command line, else the
/// FIELDCASE_VAULT environment variable, else the platform data directory
/// (the same default as the `fieldcase` CLI).
fn vault_dir() -> PathBuf {
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        if a == "--vault" {
            if let Some(dir) = args.next() {
                return PathBuf::from(dir);
            }
        }
    }
    if let Some(dir) = std::env::var_os("FIELDCASE_VAULT").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    // Keep in step with the CLI's default_vault_dir (cli/src/vault_cmds.rs).
    fieldcase::vault::default_dir().unwrap_or_else(|| PathBuf::from("fieldcase-vault"))
}

/// A private directory for what WebKit keeps of a session (its caches and
/// storage), made empty for this run (owner-only, locked while in use) and
/// removed when the app exits, or by the next start if this run was
/// killed, so nothing the webview keeps survives a run. (Tauri's
/// `incognito` would keep it in memory instead, but WebKit's in-memory
/// sessions cannot be driven by WebDriver, so the end-to-end run could not
/// check the app at all; it checks this directory is gone instead.)
fn webview_data_dir() -> std::io::Result<(PathBuf, Box<dyn std::any::Any + Send>)> {
    use fieldcase::vault::{RealStorage, Storage};
    let tmp = std::env::temp_dir();
    // Directories of earlier runs that ended without cleaning up (killed):
    // their lock is free once their process is gone.
    if let Ok(entries) = std::fs::read_dir(&tmp) {
        for e in entries.flatten() {
            let path = e.path();
            let ours = e.file_name().to_string_lossy().starts_with(WEBVIEW_DIR_PREFIX) && path.is_dir();
            if ours && matches!(RealStorage.lock(&path.join(WEBVIEW_DIR_LOCK)), Ok(Some(_))) {
                let _ = std::fs::remove_dir_all(&path);
            }
        }
    }
    let dir = tmp.join(format!("{WEBVIEW_DIR_PREFIX}{}", uuid::Uuid::now_v7().simple()));
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(&dir)?;
    let lock = RealStorage
        .lock(&dir.join(WEBVIEW_DIR_LOCK))?
        .ok_or_else(|| std::io::Error::other("a new directory is locked already"))?;
    Ok((dir, lock))
}

/// Name prefix of the per-run webview data directories in the temp folder.
const WEBVIEW_DIR_PREFIX: &str = "fieldcase-webview-";
/// The lock file a running app holds inside its directory.
const WEBVIEW_DIR_LOCK: &str = "in-use.lock";

/// `generate_handler!` over the function paths of the command table.
macro_rules! register {
    ($($kind:ident $module:ident :: $name:ident [$($inject:tt)*] ($($arg:tt)*) -> $ret:ty;)*) => {
        tauri::generate_handler![$($module::$name),*]
    };
}

fn main() {
    fieldcase_alloc::keep_freed_memory();
    // Before any passphrase or key is in memory: no core file, no ptrace
    // or /proc/<pid>/mem by other processes (fieldcase::hardening).
    if let Err(e) = fieldcase::hardening::harden_process() {
        eprintln!("fieldcase: warning: {e}");
    }
    // Demo mode: `make run` starts the app on a demo vault of synthetic cases
    // and passes its passphrase so the unlock screen can show it. Never set
    // for a real vault.
    let demo_passphrase = std::env::var("FIELDCASE_DEMO_PASSPHRASE").ok().filter(|p| !p.is_empty());
    let session = Session::new(vault_dir(), demo_passphrase);
    let (webview_data, webview_lock) = match webview_data_dir() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("fieldcase: cannot create a private directory for the window's data: {e}");
            std::process::exit(1);
        }
    };
    let window_data = webview_data.clone();

    let app = tauri::Builder::default()
        .setup(move |app| {
            // The window of tauri.conf.json ("create": false), with its
            // data in this run's private directory.
            let config = app
                .config()
                .app
                .windows
                .iter()
                .find(|w| w.label == "main")
                .cloned()
                .ok_or("tauri.conf.json has no main window")?;
            tauri::WebviewWindowBuilder::from_config(app.handle(), &config)?
                .data_directory(window_data.clone())
                .build()?;
            // Syncs with the vault's sync folder while it is unlocked.
            folder_commands::spawn_watcher(app.handle().clone());
            Ok(())
        })
        .plugin(tauri_plugin_dialog::init())
        .manage(session)
        .manage(sync_commands::PendingImport::default())
        .manage(folder_commands::FolderWatch::default())
        .invoke_handler(command_table!(register))
        .build(tauri::generate_context!())
        .expect("the Tauri runtime could not start (is a display available?)");
    let code = app.run_return(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            // Lock on exit so the last changes are checkpointed and the keys
            // zeroized, whichever way the window was closed.
            use tauri::Manager;
            if let Err(e) = handle.state::<Session>().lock() {
                eprintln!("fieldcase: locking the vault on exit failed: {}", e.message);
            }
        }
    });
    // After the event loop and the webview are gone (WebKit writes into
    // its data directory until its context is dropped), remove the
    // directory; a file system that is slow to let go gets a few tries.
    drop(webview_lock);
    for attempt in 0..5 {
        match std::fs::remove_dir_all(&webview_data) {
            Ok(()) => break,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
            Err(e) if attempt == 4 => {
                eprintln!("fieldcase: removing the window's data {} failed: {e}", webview_data.display())
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
    std::process::exit(code);
}
