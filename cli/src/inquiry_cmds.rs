//! `inquiry new|update|list|show|match`: tracing inquiries (a relative
//! asking after a child who has no case yet). The library records,
//! checks, hides and matches; this prints.
use std::path::{Path, PathBuf};

use crate::case_cmds::print_hidden;
use crate::form_cmds::read_values;
use crate::vault_cmds::open_store;

#[derive(clap::Subcommand)]
pub enum InquiryCommand {
    /// Record an inquiry from a JSON object of its values (the fields of
    /// form `inquiry`: `fieldcase form list`). Prints its number.
    New {
        /// The office recording it.
        #[arg(long)]
        office: String,
        /// JSON file of the values; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        values: PathBuf,
    },
    /// Change values of an inquiry (e.g. `{"status": "matched",
    /// "matched_to": "AGA-2026-00012"}`).
    Update {
        /// The inquiry (its number or id).
        inquiry: String,
        /// JSON file of the values; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        values: PathBuf,
    },
    /// The inquiries you may see.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One inquiry's values.
    Show {
        /// The inquiry (its number or id).
        inquiry: String,
    },
    /// Registered children and other inquiries that may be the child
    /// sought, best first, each score explained part by part.
    Match {
        /// The inquiry (its number or id).
        inquiry: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn inquiry(dir: &Path, cmd: InquiryCommand) -> anyhow::Result<()> {
    match cmd {
        InquiryCommand::New { office, values } => {
            let values = read_values(&values)?;
            let mut store = open_store(dir)?;
            let (id, number) = store.new_inquiry(&office, values)?;
            println!("recorded inquiry {number} ({id})");
            store.lock()?;
        }
        InquiryCommand::Update { inquiry, values } => {
            let values = read_values(&values)?;
            let mut store = open_store(dir)?;
            let id = store.find_inquiry(&inquiry)?;
            store.update_inquiry(id, values)?;
            println!("saved inquiry {inquiry}");
            store.lock()?;
        }
        InquiryCommand::List { json } => {
            let store = open_store(dir)?;
            let list = store.list_inquiries()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            for i in &list.inquiries {
                let s = |k: &str| i.values.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                let sought = format!("{} {}", s("sought_given_names"), s("sought_family_name"));
                println!("{:<20} {:<8} {:<30} asked by {}", i.number, i.status, sought.trim(), s("inquirer_name"));
            }
            println!("{} inquiry(ies)", list.inquiries.len());
            print_hidden(&list.hidden, "inquiry(ies)");
        }
        InquiryCommand::Show { inquiry } => {
            let store = open_store(dir)?;
            let id = store.find_inquiry(&inquiry)?;
            println!("{}", serde_json::to_string_pretty(&store.inquiry(id)?)?);
        }
        InquiryCommand::Match { inquiry, json } => {
            let store = open_store(dir)?;
            let id = store.find_inquiry(&inquiry)?;
            let view = fieldcase::search::inquiry::match_inquiry_for(&store, id)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&view)?);
                return Ok(());
            }
            for m in &view.matches {
                println!("{:>5.1}  {:<16} {:<20} {}", m.score, m.kind, m.number, m.name);
                for p in &m.parts {
                    println!("         {:+6.1}  {:<16} {}", p.points, p.part, p.detail);
                }
            }
            println!("{} match(es)", view.matches.len());
            print_hidden(&view.hidden, "match(es)");
        }
    }
    Ok(())
}
