//! `fieldcase bench`. (Owned by the vault work first, performance later.)

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Smaller sizes, finishes in under a minute.
    #[arg(long)]
    pub quick: bool,
    /// Print JSON with stable keys.
    #[arg(long)]
    pub json: bool,
}

pub fn run(_args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("bench: not built yet")
}
