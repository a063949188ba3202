//! The app's one piece of state: which vault it is pointed at, and the
//! unlocked case store while the vault is open.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use fieldcase::model::store::{CaseStore, StoreError};
use fieldcase::vault::{SecretString, VaultError};
use serde::Serialize;

/// An error as the UI receives it: a stable `code` the UI translates, and
/// the library's own `message` (English, says what to do) as a fallback.
#[derive(Debug, Clone, Serialize)]
pub struct UiError {
    /// Stable machine code, e.g. `wrong_passphrase`.
    pub code: &'static str,
    /// Human message from the library.
    pub message: String,
}

impl UiError {
    fn new(code: &'static str, message: impl Into<String>) -> UiError {
        UiError { code, message: message.into() }
    }
}

impl From<StoreError> for UiError {
    fn from(e: StoreError) -> UiError {
        let code = match &e {
            StoreError::Vault(v) => match v {
                VaultError::WrongPassphrase { .. } => "wrong_passphrase",
                VaultError::EmptyPassphrase => "empty_passphrase",
                VaultError::NotAVault { .. } => "not_a_vault",
                VaultError::Busy { .. } => "vault_busy",
                VaultError::DiskFull { .. } => "disk_full",
                VaultError::MissingSnapshot { .. }
                | VaultError::CorruptSnapshot { .. }
                | VaultError::CorruptIdentity { .. } => "vault_damaged",
                _ => "vault_error",
            },
            _ => "store_error",
        };
        UiError::new(code, e.to_string())
    }
}

/// What the unlock screen needs before anything is decrypted.
#[derive(Debug, Clone, Serialize)]
pub struct VaultInfo {
    /// The vault directory.
    pub path: String,
    /// Whether a vault exists there (its identity file is present).
    pub exists: bool,
    /// Whether the vault is unlocked in this window now.
    pub unlocked: bool,
    /// The demo passphrase, only when the app was started in demo mode.
    pub demo_passphrase: Option<String>,
}

/// What the UI shows once the vault is open.
#[derive(Debug, Clone, Serialize)]
pub struct UnlockedInfo {
    /// Number of registered cases.
    pub case_count: usize,
    /// The device (vault) name given at init.
    pub device_name: String,
    /// Whether data is also encrypted to the office's escrow key.
    pub escrow_on: bool,
}

/// Managed state: the vault location and, while unlocked, the store.
pub struct Session {
    dir: PathBuf,
    demo_passphrase: Option<String>,
    store: Mutex<Option<CaseStore>>,
}

impl Session {
    /// A locked session on `dir`.
    pub fn new(dir: PathBuf, demo_passphrase: Option<String>) -> Session {
        Session { dir, demo_passphrase, store: Mutex::new(None) }
    }

    fn guard(&self) -> MutexGuard<'_, Option<CaseStore>> {
        // A panic while holding the lock cannot leave the Option half-written,
        // so a poisoned mutex is still usable.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// See [`VaultInfo`].
    pub fn info(&self) -> VaultInfo {
        VaultInfo {
            path: self.dir.display().to_string(),
            exists: self.dir.join(fieldcase::vault::IDENTITY_FILE).is_file(),
            unlocked: self.guard().is_some(),
            demo_passphrase: self.demo_passphrase.clone(),
        }
    }

    /// Unlock the vault. If it is already open (the window was reloaded),
    /// it is locked and opened again, so the passphrase is always checked.
    pub fn unlock(&self, passphrase: SecretString) -> Result<UnlockedInfo, UiError> {
        let mut guard = self.guard();
        if let Some(open) = guard.take() {
            open.lock()?;
        }
        let store = guard.insert(CaseStore::open(&self.dir, &passphrase)?);
        let device = store.vault().device();
        Ok(UnlockedInfo {
            case_count: store.case_count()?,
            device_name: device.device_name.clone(),
            escrow_on: device.escrow.is_some(),
        })
    }

    /// Lock: checkpoint, drop the database, zeroize keys. Locking a locked
    /// session is not an error.
    pub fn lock(&self) -> Result<(), UiError> {
        let store = self.guard().take();
        match store {
            Some(s) => Ok(s.lock()?),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldcase::vault::{InitOptions, VaultOptions};

    const PASS: &str = "right passphrase";

    /// A fresh vault with one case, made with a cheap scrypt work factor.
    fn vault() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().expect("temp dir");
        let options = VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() };
        let opts = InitOptions { name: "Test laptop".into(), ..InitOptions::default() };
        let mut store = CaseStore::init_with(tmp.path(), &SecretString::from(PASS), opts, &options).expect("init");
        store.create_case("uasc", "Agadez").expect("create case");
        store.lock().expect("lock");
        tmp
    }

    #[test]
    fn unlock_reports_cases_and_lock_closes() {
        let tmp = vault();
        let session = Session::new(tmp.path().to_path_buf(), Some("demo".into()));
        let info = session.info();
        assert!(info.exists && !info.unlocked);
        assert_eq!(info.demo_passphrase.as_deref(), Some("demo"));

        let u = session.unlock(SecretString::from(PASS)).expect("unlock");
        assert_eq!((u.case_count, u.device_name.as_str(), u.escrow_on), (1, "Test laptop", false));
        assert!(session.info().unlocked);
        session.lock().expect("lock");
        assert!(!session.info().unlocked);
        session.lock().expect("locking twice is fine");
    }

    #[test]
    fn wrong_passphrase_has_its_own_code_even_when_already_unlocked() {
        let tmp = vault();
        let session = Session::new(tmp.path().to_path_buf(), None);
        let e = session.unlock(SecretString::from("wrong".to_string())).expect_err("wrong passphrase");
        assert_eq!(e.code, "wrong_passphrase");
        assert!(!session.info().unlocked);

        session.unlock(SecretString::from(PASS)).expect("unlock");
        // A reloaded window must not get in with any passphrase.
        let e = session.unlock(SecretString::from("wrong".to_string())).expect_err("wrong passphrase");
        assert_eq!(e.code, "wrong_passphrase");
        assert!(!session.info().unlocked);
    }

    #[test]
    fn missing_vault_is_reported_not_created() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("nothing-here");
        let session = Session::new(dir.clone(), None);
        assert!(!session.info().exists);
        let e = session.unlock(SecretString::from(PASS)).expect_err("no vault");
        assert_eq!(e.code, "not_a_vault");
        assert!(!dir.join(fieldcase::vault::IDENTITY_FILE).exists());
    }
}
