//! The commands the UI may invoke (granted one by one in
//! capabilities/default.json). Each calls [`Session`] and nothing more.

use fieldcase::vault::SecretString;
use tauri::State;

use crate::session::{Session, UiError, UnlockedInfo, VaultInfo};

/// Where the vault is and whether it exists; the demo passphrase in demo mode.
#[tauri::command]
pub fn vault_info(session: State<'_, Session>) -> VaultInfo {
    session.info()
}

/// Unlock the vault with a passphrase. Async so the key derivation (scrypt,
/// about a second) runs off the window's main thread.
#[tauri::command]
pub async fn unlock(session: State<'_, Session>, passphrase: String) -> Result<UnlockedInfo, UiError> {
    session.unlock(SecretString::from(passphrase))
}

/// Lock the vault.
#[tauri::command]
pub async fn lock(session: State<'_, Session>) -> Result<(), UiError> {
    session.lock()
}
