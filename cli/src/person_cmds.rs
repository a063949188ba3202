//! `fieldcase person`: add a further person to the vault (their own
//! passphrase, key and role) and list the people (docs/vault-format.md §2.2).
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use fieldcase::model::event::Role;
use fieldcase::sync;

use crate::vault_cmds::{open_store, read_new_passphrase, NEW_PASSPHRASE_ENV};

#[derive(clap::Subcommand)]
pub enum PersonCommand {
    /// Add a person with their own passphrase (FIELDCASE_NEW_PASSPHRASE or
    /// a prompt) and role. On the office vault they are enrolled at once;
    /// on a device they record nothing until the office has enrolled them
    /// (--request-out writes their enrollment request).
    Add {
        /// Their user name (unique on this vault and in the office's roster).
        #[arg(long)]
        user: String,
        /// Their role: caseworker, supervisor, bid_panel, data_manager, viewer.
        #[arg(long)]
        role: String,
        /// Write their enrollment request for the office to this file.
        #[arg(long, value_name = "FILE")]
        request_out: Option<PathBuf>,
    },
    /// List the people of this vault and whether the office has enrolled them.
    List,
    /// Remove a person from this vault (as its first person, whose
    /// passphrase unlocks): their files are deleted and the vault's keys
    /// changed, so their old files open nothing written from now on. On
    /// the office vault they are revoked in the roster too; on a device,
    /// ask the office to revoke them (`fieldcase revoke ID`).
    Remove {
        /// Their user name.
        user: String,
    },
}

pub fn person(dir: &Path, cmd: PersonCommand) -> anyhow::Result<()> {
    match cmd {
        PersonCommand::Add { user, role, request_out } => {
            let role: Role = role.parse()?;
            if let Some(out) = &request_out {
                if out.exists() {
                    anyhow::bail!("{} already exists; choose another file name", out.display());
                }
            }
            let mut store = open_store(dir)?;
            let passphrase = read_new_passphrase(NEW_PASSPHRASE_ENV, &[&user])?;
            let record = store.add_person(&user, role, &passphrase)?;
            println!("Added {} ({}), signer id {}", record.user, record.role, record.id);
            if sync::is_office(&store)? {
                println!("  enrolled in this office's roster; they unlock with their own passphrase");
            } else if let Some(out) = request_out {
                store.switch_person(&user, &passphrase)?;
                let req = sync::enrollment_request(&store)?;
                fieldcase::fsutil::write_new_file(&out, &serde_json::to_vec_pretty(&req)?)
                    .with_context(|| format!("cannot write {}", out.display()))?;
                println!("  wrote their enrollment request {}: give it to the office data manager", out.display());
            } else {
                println!("  they record nothing until the office enrolls them: `fieldcase --as {user} enroll request`");
            }
            store.lock()?;
        }
        PersonCommand::Remove { user } => {
            let passphrase = crate::vault_cmds::read_passphrase()?;
            let mut store = crate::vault_cmds::open_as(dir, &passphrase)
                .with_context(|| format!("cannot open the vault in {}", dir.display()))?;
            let office = sync::is_office(&store)?;
            let removed = sync::people::remove_person(&mut store, &user, &passphrase)?;
            println!(
                "Removed {} ({}), signer id {}; the vault's keys were changed",
                removed.user, removed.role, removed.id
            );
            if office {
                println!("  revoked in this office's roster: devices refuse their later events");
            } else {
                println!("  ask the office to revoke them: `fieldcase revoke {}`", removed.id);
            }
            store.lock()?;
        }
        PersonCommand::List => {
            let store = open_store(dir)?;
            let roster = sync::exchange::roster(&store)?;
            let status = |id| match roster.as_ref().map(|r| r.roster.device(id)) {
                None => "no office",
                Some(None) => "not enrolled",
                Some(Some(d)) if d.revoked_at.is_some() => "revoked",
                Some(Some(_)) => "enrolled",
            };
            let d = store.vault().device();
            println!("{}\t{}\t{}\t{} (first person)", d.device_id, d.user_name, d.role, status(d.device_id));
            for p in store.people()? {
                println!("{}\t{}\t{}\t{}", p.id, p.user, p.role, status(p.id));
            }
            store.lock()?;
        }
    }
    Ok(())
}
