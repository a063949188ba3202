//! The app's one piece of state: which vault it is pointed at, and the
//! unlocked case store while the vault is open.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use fieldcase::model::event::Role;
use fieldcase::model::store::{CaseStore, StoreError};
use fieldcase::passphrase_policy;
use fieldcase::vault::{InitOptions, SecretString, VaultOptions};
use secrecy::ExposeSecret as _;

pub use crate::dto::{ActorDto, NewVault, UiError, UnlockedInfo, VaultInfo};
use crate::dto::{FieldErrorDto, ViolationDto};

impl From<StoreError> for UiError {
    fn from(e: StoreError) -> UiError {
        // The code and its parameters are the library's, so the app and the
        // CLI name a refusal the same way.
        let mut out = UiError::coded(&e);
        match &e {
            StoreError::Invalid { errors } => out.fields = errors.iter().map(FieldErrorDto::from).collect(),
            StoreError::RuleViolated { violations } => {
                out.violations = violations.iter().map(ViolationDto::from).collect()
            }
            _ => {}
        }
        out
    }
}

/// Managed state: the vault location and, while unlocked, the store.
pub struct Session {
    dir: PathBuf,
    demo_passphrase: Option<String>,
    options: VaultOptions,
    store: Mutex<Option<CaseStore>>,
}

impl Session {
    /// A locked session on `dir`.
    pub fn new(dir: PathBuf, demo_passphrase: Option<String>) -> Session {
        Session::with_options(dir, demo_passphrase, VaultOptions::default())
    }

    /// A locked session with technical vault settings (tests: cheap scrypt).
    pub fn with_options(dir: PathBuf, demo_passphrase: Option<String>, options: VaultOptions) -> Session {
        Session { dir, demo_passphrase, options, store: Mutex::new(None) }
    }

    fn guard(&self) -> MutexGuard<'_, Option<CaseStore>> {
        // A panic while holding the lock cannot leave the Option half-written,
        // so a poisoned mutex is still usable.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Run `f` on the open store; `locked` when the vault is not open (the
    /// idle timer may have locked it while the UI still showed a screen).
    pub fn with_store<R>(&self, f: impl FnOnce(&mut CaseStore) -> Result<R, UiError>) -> Result<R, UiError> {
        let mut guard = self.guard();
        match guard.as_mut() {
            // A damaged snapshot segment reaches SQLite as a bare "disk I/O
            // error"; say which part of the vault is damaged and what to do.
            Some(store) => f(store).map_err(|e| match store.vault().damage_behind(&e.message) {
                Some(damaged) => UiError::new(crate::errors::ShellCode::VaultDamaged, damaged.to_string()),
                None => e,
            }),
            None => Err(UiError::new(crate::errors::ShellCode::Locked, "the vault is locked; unlock it again")),
        }
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

    fn unlocked_info(store: &CaseStore) -> Result<UnlockedInfo, UiError> {
        let device = store.vault().device();
        // Whoever's passphrase unlocked: the vault's first person or one of
        // its further people (docs/vault-format.md §2.2).
        let (user, role) = store.actor();
        Ok(UnlockedInfo {
            case_count: u32::try_from(store.case_count()?).unwrap_or(u32::MAX),
            device_name: device.device_name.clone(),
            escrow_on: device.escrow.is_some(),
            user_name: user.to_string(),
            role: role.as_str().to_string(),
            tamper_warnings: store.vault().recovery_report().tamper_warnings(),
        })
    }

    /// Unlock the vault. If it is already open (the window was reloaded),
    /// it is locked and opened again, so the passphrase is always checked.
    pub fn unlock(&self, passphrase: SecretString) -> Result<UnlockedInfo, UiError> {
        let mut guard = self.guard();
        if let Some(open) = guard.take() {
            open.lock()?;
        }
        let store = guard.insert(CaseStore::open_with(&self.dir, &passphrase, &self.options)?);
        Session::unlocked_info(store)
    }

    /// First run: make a vault where none exists and leave it unlocked.
    /// Refuses to touch a directory that already holds one.
    pub fn create(&self, mut new: NewVault) -> Result<UnlockedInfo, UiError> {
        // Out of the DTO and into a zeroizing secret before anything can fail.
        let passphrase = SecretString::from(std::mem::take(&mut new.passphrase));
        if self.dir.join(fieldcase::vault::IDENTITY_FILE).exists() {
            return Err(UiError::new(
                crate::errors::ShellCode::VaultExists,
                format!("{} already holds a vault; unlock it instead", self.dir.display()),
            ));
        }
        let name = new.user_name.trim().to_string();
        if name.is_empty() {
            return Err(UiError::new(
                crate::errors::ShellCode::NameRequired,
                "give the name of the person using this device",
            ));
        }
        // The rule the CLI applies too; the window's meter only shows it.
        passphrase_policy::check(passphrase.expose_secret(), &[&name])
            .into_result()
            .map_err(|weak| UiError::new(crate::errors::ShellCode::WeakPassphrase, weak.to_string()))?;
        let role: Role = new.role.parse().map_err(|e: fieldcase::model::event::UnknownRole| {
            UiError::new(crate::errors::ShellCode::UnknownRole, e.to_string())
        })?;
        let escrow = new.escrow.take().map(|e| e.trim().to_string()).filter(|e| !e.is_empty());
        if let Some(e) = &escrow {
            // The vault checks the recipient too; this gives the UI its own code.
            if !e.starts_with("age1") {
                return Err(UiError::new(
                    crate::errors::ShellCode::BadEscrow,
                    "the escrow recipient is an age public key starting with age1",
                ));
            }
        }
        let opts = InitOptions { name, role: role.as_str().to_string(), escrow };
        let mut guard = self.guard();
        if let Some(open) = guard.take() {
            open.lock()?;
        }
        let store = guard.insert(CaseStore::init_with(&self.dir, &passphrase, opts, &self.options)?);
        Session::unlocked_info(store)
    }

    /// Who changes are recorded as now, and who owns the vault.
    pub fn actor(&self) -> Result<ActorDto, UiError> {
        self.with_store(|s| {
            let (user, role) = s.actor();
            let d = s.vault().device();
            Ok(ActorDto {
                user: user.to_string(),
                role: role.as_str().to_string(),
                owner_user: d.user_name.clone(),
                owner_role: d.role.clone(),
            })
        })
    }

    /// On a shared machine, switch the person recording (e.g. to the BID
    /// panel chair), checked with that person's passphrase
    /// ([`CaseStore::switch_person`]): their changes are signed with their
    /// own key and role. A wrong passphrase changes nothing. It lasts until
    /// switched again or the vault is locked.
    pub fn switch_person(&self, user: &str, passphrase: SecretString) -> Result<ActorDto, UiError> {
        let user = user.trim();
        if user.is_empty() {
            return Err(UiError::new(crate::errors::ShellCode::NameRequired, "say who is recording"));
        }
        self.with_store(|s| Ok(s.switch_person(user, &passphrase)?))?;
        self.actor()
    }

    /// Add a person to this vault with their own passphrase and role
    /// ([`CaseStore::add_person`]).
    pub fn add_person(&self, user: &str, role: &str, passphrase: SecretString) -> Result<(), UiError> {
        let user = user.trim();
        if user.is_empty() {
            return Err(UiError::new(crate::errors::ShellCode::NameRequired, "give the person's name"));
        }
        let role: Role = role.parse().map_err(|e: fieldcase::model::event::UnknownRole| {
            UiError::new(crate::errors::ShellCode::UnknownRole, e.to_string())
        })?;
        self.with_store(|s| Ok(s.add_person(user, role, &passphrase).map(|_| ())?))
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

    const PASS: &str = "right passphrase, okapi lantern";

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
        assert_eq!(u.role, "caseworker");
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

    /// A damaged snapshot segment reaches SQLite as a bare "disk I/O
    /// error": the window gets `vault_damaged` with the library's message
    /// naming the segment, whether the damage stops the unlock or only a
    /// later read (segments load lazily).
    #[test]
    fn a_damaged_segment_is_reported_as_a_damaged_vault() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let options = VaultOptions { snapshot_segment_bytes: 4096, prefetch: false, ..cheap() };
        let opts = InitOptions { name: "Test laptop".into(), ..InitOptions::default() };
        let mut store = CaseStore::init_with(tmp.path(), &SecretString::from(PASS), opts, &options).expect("init");
        fieldcase::model::demo::generate(&mut store, 15, 7).expect("demo cases");
        store.lock().expect("lock");
        let seg_dir = tmp.path().join(fieldcase::vault::SEGMENT_DIR);
        let mut files: Vec<_> =
            std::fs::read_dir(&seg_dir).expect("segments").map(|e| e.expect("entry").path()).collect();
        assert!(files.len() > 20, "{} segments", files.len());
        files.sort();
        // Damage the second half of the segments: one segment alone may
        // hold only free pages (erased rows are zeroed, not read), which no
        // query reads, and which one does depends on the demo's layout.
        let victims = &files[files.len() / 2..];
        for victim in victims {
            let mut bytes = std::fs::read(victim).expect("read");
            let n = bytes.len();
            bytes[n / 2] ^= 1;
            std::fs::write(victim, &bytes).expect("write");
        }

        let session = Session::with_options(tmp.path().to_path_buf(), None, options);
        let e = match session.unlock(SecretString::from(PASS)) {
            Err(e) => e,
            Ok(_) => session
                .with_store(|store| {
                    // Count every table through each of its b-trees, so
                    // every page is read.
                    store
                        .vault()
                        .tree_counts()
                        .map(drop)
                        .map_err(|e| UiError::new(crate::errors::ShellCode::Internal, e.to_string()))
                })
                .expect_err("reading every page needs the damaged segment"),
        };
        assert_eq!(e.code, "vault_damaged", "{e:?}");
        let named =
            victims.iter().filter_map(|v| v.file_name().and_then(|n| n.to_str())).any(|n| e.message.contains(n));
        assert!(named, "the message names no damaged segment: {}", e.message);
    }

    fn cheap() -> VaultOptions {
        VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() }
    }

    fn new_vault(passphrase: &str) -> NewVault {
        NewVault {
            user_name: "Awa Diallo".into(),
            role: "supervisor".into(),
            passphrase: passphrase.into(),
            escrow: None,
        }
    }

    #[test]
    fn first_run_creates_the_vault_once_and_leaves_it_open() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("vault");
        let session = Session::with_options(dir.clone(), None, cheap());
        assert_eq!(session.create(new_vault("short")).expect_err("short passphrase").code, "weak_passphrase");
        // Long enough but guessable, or made of the person's own name: the
        // library's policy refuses it, with how to fix it.
        let weak = session.create(new_vault("password1234")).expect_err("guessable passphrase");
        assert_eq!(weak.code, "weak_passphrase");
        assert!(
            weak.message.contains("too easy to guess") && weak.message.contains("unrelated words"),
            "{}",
            weak.message
        );
        assert_eq!(session.create(new_vault("diallodiallo")).expect_err("own name").code, "weak_passphrase");
        let mut bad_escrow = new_vault(PASS);
        bad_escrow.escrow = Some("not-a-key".into());
        assert_eq!(session.create(bad_escrow).expect_err("bad escrow").code, "bad_escrow");
        let mut bad_role = new_vault(PASS);
        bad_role.role = "boss".into();
        assert_eq!(session.create(bad_role).expect_err("bad role").code, "unknown_role");
        assert!(!dir.join(fieldcase::vault::IDENTITY_FILE).exists(), "refused attempts leave no vault behind");

        let u = session.create(new_vault(PASS)).expect("create");
        assert_eq!((u.case_count, u.user_name.as_str(), u.role.as_str()), (0, "Awa Diallo", "supervisor"));
        assert!(session.info().exists && session.info().unlocked);
        assert_eq!(session.create(new_vault(PASS)).expect_err("second vault").code, "vault_exists");
        session.lock().expect("lock");
        assert_eq!(session.with_store(|_| Ok(())).expect_err("locked").code, "locked");
        session.unlock(SecretString::from(PASS)).expect("the new vault opens with its passphrase");
    }

    #[test]
    fn switching_person_needs_their_passphrase_and_is_recorded_on_events() {
        const CHAIR: &str = "quarry lantern chair velvet orbit";
        let tmp = vault();
        let session = Session::with_options(tmp.path().to_path_buf(), None, cheap());
        session.unlock(SecretString::from(PASS)).expect("unlock");
        let code = |r: Result<(), UiError>| r.expect_err("refused").code;
        assert_eq!(code(session.add_person("Panel chair", "boss", SecretString::from(CHAIR))), "unknown_role");
        assert_eq!(
            code(session.add_person("Panel chair", "bid_panel", SecretString::from("chair"))),
            "weak_passphrase"
        );
        assert_eq!(code(session.add_person("  ", "bid_panel", SecretString::from(CHAIR))), "name_required");
        session.add_person("Panel chair", "bid_panel", SecretString::from(CHAIR)).expect("add");
        assert_eq!(code(session.add_person("Panel chair", "bid_panel", SecretString::from(CHAIR))), "person_exists");

        // Another person's passphrase, an unknown name: refused, nothing changes.
        let refused =
            |user: &str, pass: &str| session.switch_person(user, SecretString::from(pass)).expect_err("refused").code;
        assert_eq!(refused("Panel chair", PASS), "wrong_passphrase");
        assert_eq!(refused("Nobody", CHAIR), "unknown_person");
        assert_eq!(refused("  ", CHAIR), "name_required");
        assert_eq!(session.actor().expect("actor").user, "Test laptop");

        let a = session.switch_person("Panel chair", SecretString::from(CHAIR)).expect("switch");
        assert_eq!(
            (a.user.as_str(), a.role.as_str(), a.owner_role.as_str()),
            ("Panel chair", "bid_panel", "caseworker")
        );
        let case = session
            .with_store(|s| {
                // The case is not on the panel's agenda: the panel may not
                // see it (docs/visibility.md), so nothing about it is said.
                let id = s.all_events()?.iter().map(|e| e.case_id).find(|c| !c.is_nil()).expect("a case");
                s.add_note(id, serde_json::Map::new()).map_err(UiError::from).map(|_| id)
            })
            .expect_err("a panel member records no notes");
        assert_eq!(case.code, "hidden");
        // Back to the owner (who registered the case, so may see it), with
        // the owner's passphrase.
        assert_eq!(refused("Test laptop", CHAIR), "wrong_passphrase");
        session.switch_person("Test laptop", SecretString::from(PASS)).expect("back");
        let history = session
            .with_store(|s| {
                let id = s.list_cases()?.cases[0].id;
                let mut note = serde_json::Map::new();
                note.insert("subject".into(), serde_json::json!("School"));
                s.add_note(id, note)?;
                Ok(s.history(id)?.entries)
            })
            .expect("note by the caseworker");
        assert_eq!(history.last().map(|h| h.author.as_str()), Some("Test laptop"));
        // Locking forgets the switch: the owner records after the next unlock.
        session.switch_person("Panel chair", SecretString::from(CHAIR)).expect("switch");
        session.lock().expect("lock");
        session.unlock(SecretString::from(PASS)).expect("unlock");
        assert_eq!(session.actor().expect("actor").role, "caseworker");
        // The unlock screen takes any person's passphrase: the chair's
        // opens the vault as the chair.
        let u = session.unlock(SecretString::from(CHAIR)).expect("unlock as the chair");
        assert_eq!((u.user_name.as_str(), u.role.as_str()), ("Panel chair", "bid_panel"));
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
