//! `init`, `status`, `checkpoint`, `passwd`. (Owned by the vault work.)
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct InitArgs {
    /// Device / user name shown in the audit trail.
    #[arg(long)]
    pub name: Option<String>,
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
    let dirs = directories::ProjectDirs::from("org", "Fieldcase", "fieldcase")
        .ok_or_else(|| anyhow::anyhow!("no home directory; pass --vault DIR"))?;
    Ok(dirs.data_dir().join("vault"))
}

pub fn init(_dir: &Path, _args: InitArgs) -> anyhow::Result<()> {
    anyhow::bail!("init: not built yet")
}
pub fn status(_dir: &Path, _args: StatusArgs) -> anyhow::Result<()> {
    anyhow::bail!("status: not built yet")
}
pub fn checkpoint(_dir: &Path) -> anyhow::Result<()> {
    anyhow::bail!("checkpoint: not built yet")
}
pub fn passwd(_dir: &Path) -> anyhow::Result<()> {
    anyhow::bail!("passwd: not built yet")
}
