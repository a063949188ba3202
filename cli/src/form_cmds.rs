//! `case new` and `form save|list`: recording case data without the app,
//! for scripting and migration from spreadsheets. The library checks
//! everything (forms, value lists, the role, the lifecycle rules) exactly
//! as for the app; a refused save writes nothing.
use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::{Map, Value};

use crate::vault_cmds::open_store;

/// Largest values file read (a form's values are a few kilobytes).
const MAX_VALUES_FILE: u64 = 1 << 20;

#[derive(clap::Subcommand)]
pub enum FormCommand {
    /// Save values of a form of a case from a JSON object (field name to
    /// value, as `case show --json` gives them). For a repeating form,
    /// without --item a new item is added; with --item that item is
    /// changed. Prints the item id of a repeating form.
    Save {
        /// The case (its number or id).
        case: String,
        /// The form id (`form list`).
        form: String,
        /// JSON file of the values; `-` reads standard input.
        #[arg(long, value_name = "FILE")]
        values: PathBuf,
        /// The item of a repeating form to change.
        #[arg(long)]
        item: Option<uuid::Uuid>,
    },
    /// The forms, their ids and fields.
    List {
        #[arg(long)]
        json: bool,
    },
}

/// Read a JSON object of form values from `path` (`-`: standard input).
pub fn read_values(path: &Path) -> anyhow::Result<Map<String, Value>> {
    let bytes = if path == Path::new("-") {
        let mut b = Vec::new();
        std::io::stdin().take(MAX_VALUES_FILE + 1).read_to_end(&mut b).context("cannot read standard input")?;
        anyhow::ensure!(b.len() as u64 <= MAX_VALUES_FILE, "the values are larger than {MAX_VALUES_FILE} bytes");
        b
    } else {
        fieldcase::fsutil::read_limited(path, MAX_VALUES_FILE)?
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => anyhow::bail!("{}: the values must be one JSON object (field name to value)", path.display()),
        Err(e) => anyhow::bail!("{}: not JSON: {e}", path.display()),
    }
}

pub fn form(dir: &Path, cmd: FormCommand) -> anyhow::Result<()> {
    match cmd {
        FormCommand::List { json } => {
            let forms: Vec<_> = fieldcase::model::forms::registry().all().collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&forms)?);
            } else {
                for f in forms {
                    let kind = if f.repeating { "list" } else { "form" };
                    println!("{:<28} {kind:<4}  {} (v{})", f.id, f.title.en, f.version);
                    let fields: Vec<&str> = f.fields.iter().map(|d| d.name.as_str()).collect();
                    println!("    {}", fields.join(", "));
                }
            }
            Ok(())
        }
        FormCommand::Save { case, form, values, item } => {
            let values = read_values(&values)?;
            let mut store = open_store(dir)?;
            let id = store.find_case(&case)?;
            let repeating = fieldcase::model::forms::registry()
                .get(&form)
                .with_context(|| format!("no form {form:?}: see `fieldcase form list`"))?
                .repeating;
            let item = match (repeating, item) {
                (true, None) => Some(uuid::Uuid::now_v7()),
                (false, Some(_)) => anyhow::bail!("{form} is not a list form: it has no items"),
                (_, item) => item,
            };
            store.save_form(id, &form, item, values)?;
            match item {
                Some(i) => println!("saved {form} item {i} of case {case}"),
                None => println!("saved {form} of case {case}"),
            }
            store.lock()?;
            Ok(())
        }
    }
}
