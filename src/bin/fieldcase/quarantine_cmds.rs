//! `quarantine list` and `quarantine refused`: the events held in
//! quarantine here, and the refusals of this device's own events its office
//! reported (docs/bundle-format.md §6.1). Read the lists, print.
use std::path::Path;

use fieldcase::sync::quarantine;

use crate::vault_cmds::open_store;

#[derive(clap::Subcommand)]
pub enum QuarantineCommand {
    /// Imported events this vault's rules refused, held with their reason
    /// (on the office: the data manager's list).
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// This device's own events its office refused: redo them correctly.
    Refused {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(dir: &Path, cmd: QuarantineCommand) -> anyhow::Result<()> {
    let store = open_store(dir)?;
    match cmd {
        QuarantineCommand::List { json } => {
            let held = quarantine::list(&store)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&held)?);
            } else if held.is_empty() {
                println!("No event in quarantine");
            } else {
                println!("{} events in quarantine (held, not applied):", held.len());
                for q in &held {
                    println!(
                        "  {} case {} {} by {} ({}), device {} #{}, bundle {} at {}",
                        q.event_id, q.case_id, q.kind, q.author, q.role, q.device_id, q.device_seq, q.bundle_id, q.at
                    );
                    println!("    [{}] {}", q.refusal.code, q.refusal.text);
                }
            }
        }
        QuarantineCommand::Refused { json } => {
            let refused = quarantine::refused_events(&store)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&refused)?);
            } else if refused.is_empty() {
                println!("The office refused none of this device's changes");
            } else {
                println!("The office refused {} of this device's changes; redo them correctly:", refused.len());
                for n in &refused {
                    println!(
                        "  case {}: {} by {} (#{}, event {}), refused at {}",
                        n.case_id, n.kind, n.author, n.device_seq, n.event_id, n.at
                    );
                    println!("    [{}] {}", n.code, n.text);
                }
            }
        }
    }
    store.lock()?;
    Ok(())
}
