//! `demo`, `case list|show|history`, `tasks`. (Owned by the case-model work.)
use std::path::Path;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Number of synthetic cases to create.
    #[arg(long, default_value_t = 200)]
    pub cases: usize,
    /// Random seed; the same seed gives the same cases.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(clap::Subcommand)]
pub enum CaseCommand {
    /// List cases.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one case.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// The audit trail of one case.
    History {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
pub struct TasksArgs {
    #[arg(long)]
    pub json: bool,
}

pub fn demo(_dir: &Path, _args: DemoArgs) -> anyhow::Result<()> {
    anyhow::bail!("demo: not built yet")
}
pub fn case(_dir: &Path, _cmd: CaseCommand) -> anyhow::Result<()> {
    anyhow::bail!("case: not built yet")
}
pub fn tasks(_dir: &Path, _args: TasksArgs) -> anyhow::Result<()> {
    anyhow::bail!("tasks: not built yet")
}
