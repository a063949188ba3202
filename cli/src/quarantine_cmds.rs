//! `quarantine list`, `retry`, `discard`, `discarded` and `refused`: the
//! events held in quarantine here and the data manager's decisions on
//! them, and the refusals of this device's own events its office reported
//! (docs/bundle-format.md §6.1). Call `fieldcase::sync::quarantine`, print.
use std::path::Path;

use fieldcase::sync::quarantine::{self, Retried};
use uuid::Uuid;

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
    /// Data manager: check a held event again against the vault as it is
    /// now; applied if the rules accept it, else kept with the reason.
    Retry {
        /// The held event's id (`quarantine list`).
        event: Uuid,
    },
    /// Data manager: remove a held event without applying it; the reason
    /// is kept in the audit record (`quarantine discarded`).
    Discard {
        /// The held event's id (`quarantine list`).
        event: Uuid,
        /// Why it is discarded.
        #[arg(long)]
        reason: String,
    },
    /// The events a data manager discarded: who, when, why.
    Discarded {
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
    let mut store = open_store(dir)?;
    match cmd {
        QuarantineCommand::Retry { event } => match quarantine::retry(&mut store, event)? {
            Retried::Applied => println!("Applied event {event}: the rules accept it now; it is no longer held"),
            Retried::Held { refusal } => {
                println!("Still held: event {event} is refused by the rules as the case stands now");
                println!("    [{}] {}", refusal.code, refusal.text);
            }
        },
        QuarantineCommand::Discard { event, reason } => {
            let d = quarantine::discard(&mut store, event, &reason)?;
            println!(
                "Discarded event {event} ({} by {}, case {}); the audit record keeps your reason",
                d.held.kind, d.held.author, d.held.case_id
            );
        }
        QuarantineCommand::Discarded { json } => {
            let list = quarantine::discarded(&store)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("No held event was discarded");
            } else {
                println!("{} discarded events:", list.len());
                for d in &list {
                    println!(
                        "  {} case {} {} by {} ({}), discarded by {} at {}: {}",
                        d.held.event_id,
                        d.held.case_id,
                        d.held.kind,
                        d.held.author,
                        d.held.role,
                        d.discarded_by,
                        d.discarded_at,
                        d.reason
                    );
                    println!("    was held for [{}] {}", d.held.refusal.code, d.held.refusal.text);
                }
            }
        }
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
