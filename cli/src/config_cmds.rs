//! `fieldcase config`: the country configuration (docs/configuration.md)
//! — show the effective one, write it to a file to edit, and at the office
//! import the edited file (a data manager), which the devices then receive.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use fieldcase::country;

use crate::vault_cmds::open_store;

/// A configuration file is small; anything larger is a wrong pick.
const MAX_CONFIG_FILE: u64 = 8 * 1024 * 1024;

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// The effective configuration: where it comes from, its serial, its
    /// areas, offices and service providers.
    Show {
        /// Print the whole configuration as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the effective configuration to a new file, to edit and import.
    Export {
        /// The file to write (must not exist).
        file: PathBuf,
    },
    /// Office, data manager: check the edited file whole, sign it with the
    /// office key under the next serial; devices get it with their next bundle.
    Import {
        /// The JSON file (the format of docs/configuration.md).
        file: PathBuf,
    },
}

pub fn config(dir: &Path, cmd: ConfigCommand) -> anyhow::Result<()> {
    let mut store = open_store(dir)?;
    match cmd {
        ConfigCommand::Show { json } => {
            let held = country::held(&store)?;
            let effective = country::effective(&store)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&effective)?);
            } else {
                match &held {
                    Some(h) => {
                        println!("Country configuration serial {} from office {}", h.config.serial, h.config.office_id)
                    }
                    None => println!("Country configuration: the built-in sample (no configuration received)"),
                }
                let live = |retired: bool| if retired { " (retired)" } else { "" };
                println!("Administrative areas ({}):", effective.areas.len());
                for a in country::picker_areas(&effective) {
                    println!("  {}  {}", a.value, a.labels.en);
                }
                for a in effective.areas.iter().filter(|a| a.retired) {
                    println!("  {}  {}{}", a.code, a.labels.en, live(true));
                }
                println!("Offices ({}):", effective.offices.len());
                for o in &effective.offices {
                    println!("  {}  {} [{}]{}", o.code, o.name, o.area, live(o.retired));
                }
                println!("Service providers ({}):", effective.services.len());
                for p in &effective.services {
                    println!(
                        "  {}  {} [{}]: {}{}",
                        p.provider_id,
                        p.name,
                        p.area,
                        p.services.join(", "),
                        live(p.retired)
                    );
                }
                println!("Follow-up visits: {}", effective.follow_up_schedule.len());
            }
        }
        ConfigCommand::Export { file } => {
            let effective = country::effective(&store)?;
            fieldcase::fsutil::write_new_file(&file, &serde_json::to_vec_pretty(&effective)?)?;
            println!("Wrote the configuration (serial {}) to {}", effective.serial, file.display());
        }
        ConfigCommand::Import { file } => {
            let bytes = fieldcase::fsutil::read_limited(&file, MAX_CONFIG_FILE)?;
            let done = country::import_office(&mut store, &bytes)?;
            println!("Country configuration serial {} signed; devices get it with their next bundle", done.serial);
            for code in &done.retired {
                println!("  kept as retired (records may hold it): {code}");
            }
        }
    }
    store.lock()?;
    Ok(())
}
