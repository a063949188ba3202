//! `init`, `status`, `checkpoint`, `passwd`: read the passphrase, call the
//! library, print. A new passphrase (`init`, `passwd`) must pass
//! [`fieldcase::passphrase_policy`], the rule the desktop app applies too.
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use fieldcase::model::store::CaseStore;
use fieldcase::passphrase_policy;
use fieldcase::vault::{InitOptions, RecoveryReport, SecretString};
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

/// Environment variable holding the passphrase (else it is prompted for).
pub const PASSPHRASE_ENV: &str = "FIELDCASE_PASSPHRASE";
/// Environment variable holding the new passphrase for `passwd`.
pub const NEW_PASSPHRASE_ENV: &str = "FIELDCASE_NEW_PASSPHRASE";

#[derive(clap::Args)]
pub struct InitArgs {
    /// Your name, shown in the audit trail (default: the login name).
    #[arg(long)]
    pub name: Option<String>,
    /// Your role: caseworker, supervisor, bid_panel, data_manager or viewer.
    #[arg(long, default_value = "caseworker")]
    pub role: String,
    /// Office escrow recipient (age1...): every snapshot, frame and blob is also
    /// encrypted to it so the office can recover this device.
    #[arg(long)]
    pub escrow: Option<String>,
}

#[derive(clap::Args)]
pub struct StatusArgs {
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn default_vault_dir() -> anyhow::Result<PathBuf> {
    fieldcase::vault::default_dir().ok_or_else(|| anyhow::anyhow!("no home directory; pass --vault DIR"))
}

/// The passphrase from FIELDCASE_PASSPHRASE, else from a prompt. The
/// `String` either gives is moved, not copied, into the zeroizing
/// `SecretString`. (The environment's own copy is the caller's to protect:
/// prefer the prompt.)
pub fn read_passphrase() -> anyhow::Result<SecretString> {
    if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
        return Ok(SecretString::from(p));
    }
    let p = rpassword::prompt_password("Vault passphrase: ")
        .context("cannot read the passphrase from the terminal; set FIELDCASE_PASSPHRASE")?;
    Ok(SecretString::from(p))
}

/// A new passphrase from `env`, else prompted twice; refused unless the
/// passphrase policy accepts it (`personal`: the person's name and other
/// words an attacker would try first).
pub(crate) fn read_new_passphrase(env: &str, personal: &[&str]) -> anyhow::Result<SecretString> {
    let p = match std::env::var(env) {
        Ok(p) => SecretString::from(p),
        Err(_) => {
            // Both answers are secrets until compared: zeroized on every path.
            let mut a = Zeroizing::new(
                rpassword::prompt_password("New passphrase: ")
                    .with_context(|| format!("cannot read the passphrase from the terminal; set {env}"))?,
            );
            let b = Zeroizing::new(
                rpassword::prompt_password("Repeat it: ").context("cannot read the passphrase from the terminal")?,
            );
            if *a != *b {
                anyhow::bail!("the two passphrases differ; nothing was changed");
            }
            SecretString::from(std::mem::take(&mut *a))
        }
    };
    if p.expose_secret().is_empty() {
        anyhow::bail!("the passphrase is empty: choose a passphrase (several words are easiest to remember)");
    }
    passphrase_policy::check(p.expose_secret(), personal).into_result()?;
    Ok(p)
}

/// Debug builds (tests) honour FIELDCASE_TEST_SCRYPT_LOG_N, which makes
/// the key derivation cheap and so the passphrase easy to attack; say so
/// when it is in force for a vault being made. Release builds ignore it.
fn warn_test_scrypt() {
    if cfg!(debug_assertions) && std::env::var_os(fieldcase::vault::TEST_SCRYPT_ENV).is_some() {
        eprintln!(
            "warning: this is a debug (test) build and {} is set: the vault's key derivation is weakened; \
             never use such a vault for real data",
            fieldcase::vault::TEST_SCRYPT_ENV
        );
    }
}

pub fn init(dir: &Path, args: InitArgs) -> anyhow::Result<()> {
    let name = args
        .name
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "caseworker".into());
    let passphrase = read_new_passphrase(PASSPHRASE_ENV, &[&name])?;
    warn_test_scrypt();
    let opts = InitOptions { name, role: args.role, escrow: args.escrow };
    let store = CaseStore::init(dir, &passphrase, opts)
        .with_context(|| format!("cannot create a vault in {}", dir.display()))?;
    let device = store.vault().device().clone();
    store.lock()?;
    println!("Created vault {}", dir.display());
    println!("  device {} ({}), role {}", device.device_id, device.device_name, device.role);
    match &device.escrow {
        Some(r) => println!("  escrow ON: the office key {r} can also decrypt this vault"),
        None => println!("  escrow OFF: if the passphrase is lost, the data is lost"),
    }
    Ok(())
}

/// The person `--as` names (FIELDCASE_AS), set once by `main`.
static AS_PERSON: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// Remember the global `--as USER` for every unlock of this run.
pub fn set_person(user: Option<String>) {
    let _ = AS_PERSON.set(user);
}

/// Unlock `dir` with `passphrase` as the person `--as` names, or as
/// whoever the passphrase belongs to.
pub fn open_as(dir: &Path, passphrase: &SecretString) -> Result<CaseStore, fieldcase::model::error::StoreError> {
    CaseStore::open_as(dir, passphrase, AS_PERSON.get().and_then(|u| u.as_deref()))
}

/// Unlock the vault in `dir` for a command, after reading the passphrase.
/// Files found modified outside Fieldcase are said on stderr whatever the
/// command (status lists them in full).
pub fn open_store(dir: &Path) -> anyhow::Result<CaseStore> {
    let passphrase = read_passphrase()?;
    let store = open_as(dir, &passphrase).with_context(|| format!("cannot open the vault in {}", dir.display()))?;
    warn_tampering(store.vault().recovery_report());
    Ok(store)
}

fn warn_tampering(r: &RecoveryReport) {
    for w in r.tamper_warnings() {
        eprintln!("WARNING: {w} (see `fieldcase status`)");
    }
}

fn describe_recovery(r: &RecoveryReport) -> Vec<String> {
    let mut lines = Vec::new();
    for t in &r.tampered {
        lines.push(format!("MODIFIED OUTSIDE FIELDCASE: {} ({}); {}. {}", t.file, t.reason, t.action, t.recovery));
    }
    if !r.rejected_files.is_empty() {
        lines.push(format!(
            "set aside, not applied (modified outside Fieldcase; remove once investigated): {}",
            r.rejected_files.join(", ")
        ));
    }
    if let Some(t) = &r.tail_cut {
        lines.push(format!(
            "cut the end of {} at byte {} ({} bytes, from change {} on): {}",
            t.journal, t.offset, t.bytes_removed, t.first_lost_seq, t.reason
        ));
    }
    if let Some(h) = &r.header_damaged {
        lines.push(format!("journal header damaged ({h}); its changes were still replayed"));
    }
    if !r.stale_journals.is_empty() {
        lines.push(format!("removed journals already in the snapshot: {}", r.stale_journals.join(", ")));
    }
    if !r.newer_journals.is_empty() {
        lines.push(format!(
            "NOT applied, journals newer than the snapshot (was an old snapshot restored?): {}",
            r.newer_journals.join(", ")
        ));
    }
    if !r.stale_segments.is_empty() {
        lines.push(format!("removed snapshot segments no longer used: {}", r.stale_segments.join(", ")));
    }
    if !r.temp_files_removed.is_empty() {
        lines.push(format!("removed unfinished temporary files: {}", r.temp_files_removed.join(", ")));
    }
    if r.journal_created {
        lines.push("the journal was missing (crash during a checkpoint) and was started again".into());
    }
    lines
}

pub fn status(dir: &Path, args: StatusArgs) -> anyhow::Result<()> {
    let passphrase = read_passphrase()?;
    let mut store = open_as(dir, &passphrase).with_context(|| format!("cannot open the vault in {}", dir.display()))?;
    // Status checks every segment of the database, not only those read so
    // far. A damaged one leaves counts unreadable: say which and stop.
    if let Err(damaged) = store.wait_loaded() {
        return Err(anyhow::Error::new(damaged).context(format!("the vault in {} is damaged", dir.display())));
    }
    let cases = store.case_count()?;
    let vault = store.vault();
    let device = vault.device();
    let stats = vault.stats();
    let report = vault.recovery_report();
    let tables = vault.table_counts()?;
    if args.json {
        let j = serde_json::json!({
            "vault": dir,
            "device": {
                "device_id": device.device_id,
                "device_name": device.device_name,
                "user_name": device.user_name,
                "role": device.role,
                "created": device.created,
                "verifying_key": hex::encode(vault.device_verifying_key().as_bytes()),
                "event_key": hex::encode(vault.first_person_verifying_key().as_bytes()),
                "keys_parted": vault.device_verifying_key() != vault.first_person_verifying_key(),
                "recipient": vault.recipient(),
            },
            "escrow": { "on": device.escrow.is_some(), "recipient": device.escrow },
            "generation": stats.generation,
            "journal_frames": stats.journal_frames,
            "journal_bytes": stats.journal_bytes,
            "snapshot_bytes": stats.snapshot_bytes,
            "database_bytes": stats.database_bytes,
            "database_segments": stats.database_chunks,
            "recovery": report,
            "recovery_clean": report.is_clean(),
            "cases": cases,
            "tables": tables.iter().map(|(n, c)| serde_json::json!({"name": n, "rows": c})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&j)?);
    } else {
        println!("Vault       {}", dir.display());
        println!("Device      {} ({})", device.device_name, device.device_id);
        println!("User, role  {}, {}", device.user_name, device.role);
        match &device.escrow {
            Some(r) => println!("Escrow      ON ({r})"),
            None => println!("Escrow      OFF (a lost passphrase means lost data)"),
        }
        if vault.device_verifying_key() == vault.first_person_verifying_key() {
            // Identity version 2 and older: the device key is the first
            // person's event key, and every further person holds it.
            println!("Keys        one key signs {}'s changes and the device's bundles (a vault made before Fieldcase parted them): a further person on this device could sign as {}; ask the office to enroll a new vault to part them", device.user_name, device.user_name);
        }
        println!("Generation  {}", stats.generation);
        println!("Journal     {} changes, {} bytes", stats.journal_frames, stats.journal_bytes);
        println!("Snapshot    {} bytes", stats.snapshot_bytes);
        println!(
            "Database    {} MB in {} segments, every one readable",
            stats.database_bytes / 1_000_000,
            stats.database_chunks
        );
        let lines = describe_recovery(report);
        if lines.is_empty() {
            println!("Recovery    clean ({} changes replayed)", report.frames_replayed);
        } else {
            println!("Recovery    {} changes replayed; repaired:", report.frames_replayed);
            for l in lines {
                println!("              - {l}");
            }
        }
        println!("Cases       {cases}");
        let t: Vec<String> = tables.iter().map(|(n, c)| format!("{n} {c}")).collect();
        println!("Tables      {}", t.join(", "));
    }
    // Status only reads; no checkpoint (dropping does no I/O).
    drop(store);
    Ok(())
}

pub fn checkpoint(dir: &Path) -> anyhow::Result<()> {
    let passphrase = read_passphrase()?;
    let store = open_as(dir, &passphrase).with_context(|| format!("cannot open the vault in {}", dir.display()))?;
    let before = store.vault().stats();
    let current = store.vault().snapshot_is_current();
    store.lock().context("checkpoint failed; every saved change is still in the journal")?;
    if current {
        println!("Nothing to do: the snapshot already holds everything (generation {}).", before.generation);
    } else if before.journal_frames == 0 {
        println!(
            "Checkpoint done: indexes added by this version saved in snapshot generation {}.",
            before.generation + 1
        );
    } else {
        println!(
            "Checkpoint done: {} changes folded into snapshot generation {}.",
            before.journal_frames,
            before.generation + 1
        );
    }
    Ok(())
}

pub fn passwd(dir: &Path) -> anyhow::Result<()> {
    let old = read_passphrase()?;
    let new = read_new_passphrase(NEW_PASSPHRASE_ENV, &[])?;
    warn_test_scrypt();
    let changed = (|| -> anyhow::Result<Option<String>> {
        let mut store = open_as(dir, &old)?;
        // A further person (docs/vault-format.md §2.2) changes their own
        // passphrase; the vault's first person the vault's.
        let person = (store.signer_id() != store.vault().device().device_id).then(|| store.actor().0.to_owned());
        store.change_passphrase(&old, &new)?;
        store.lock()?;
        Ok(person)
    })();
    match changed.with_context(|| format!("passphrase of {} not changed", dir.display()))? {
        Some(user) => println!("Passphrase of {user} changed; their old passphrase no longer opens their key file."),
        None => println!("Passphrase changed; the vault's files were re-encrypted under new keys."),
    }
    Ok(())
}
