//! `fieldcase report`: the indicators of docs/reports.md for a period and
//! office, printed, or exported as JSON, CSV files or a DHIS2 dataValueSets
//! document. (Owned by the reports work.)
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{Datelike, NaiveDate};
use fieldcase::report::export::{self, Dhis2Mapping};
use fieldcase::report::{self, Cell, Measure, Report, ReportOptions};

#[derive(clap::Args)]
pub struct ReportArgs {
    /// First day of the period, YYYY-MM-DD (default: the first day of the
    /// month of --to).
    #[arg(long)]
    pub from: Option<NaiveDate>,
    /// Last day of the period, YYYY-MM-DD (default: today).
    #[arg(long)]
    pub to: Option<NaiveDate>,
    /// Only this office's cases (default: every office in the vault).
    #[arg(long)]
    pub office: Option<String>,
    /// Write one CSV file per indicator into this directory.
    #[arg(long, value_name = "DIR")]
    pub csv: Option<PathBuf>,
    /// Write a DHIS2 dataValueSets JSON file (the period must be a calendar
    /// month, quarter or year).
    #[arg(long, value_name = "FILE")]
    pub dhis2: Option<PathBuf>,
    /// DHIS2 mapping file (default: the one shipped, assets/dhis2-mapping.json,
    /// whose ids are placeholders).
    #[arg(long, value_name = "FILE")]
    pub dhis2_mapping: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Show cells of fewer than 5 children on screen or as --json (internal
    /// use only: the output can identify a child; never share it). Refused
    /// with --csv and --dhis2: files leave the machine.
    #[arg(long)]
    pub no_suppress: bool,
    /// The level of the breakdown by the child's current administrative
    /// area (areas of the country configuration): country, region or district.
    #[arg(long, value_name = "LEVEL", default_value = "region", value_parser = parse_level)]
    pub area_level: fieldcase::model::forms::AreaLevel,
}

fn parse_level(s: &str) -> Result<fieldcase::model::forms::AreaLevel, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("{s:?} is not an area level; use country, region or district"))
}

pub fn run(dir: &Path, args: ReportArgs) -> anyhow::Result<()> {
    if args.no_suppress && (args.csv.is_some() || args.dhis2.is_some()) {
        // The library refuses it too (export::ExportError::NotSuppressed);
        // saying so before the passphrase is asked spares the unlock.
        anyhow::bail!(
            "--no-suppress cannot be used with --csv or --dhis2: exported files leave the machine and must withhold small cells; drop --no-suppress"
        );
    }
    let passphrase = crate::vault_cmds::read_passphrase()?;
    let store = crate::vault_cmds::open_as(dir, &passphrase)
        .with_context(|| format!("cannot open the vault in {}", dir.display()))?;
    let to = args.to.unwrap_or_else(|| store.today());
    let from = args.from.unwrap_or_else(|| to.with_day(1).unwrap_or(to));
    let options = ReportOptions { from, to, office: args.office.clone(), suppress: !args.no_suppress };
    let geo = report::Geography::of_store(&store, args.area_level)?;
    let report = report::compute_for_store(&store, &options, &geo)?;
    if let Some(dir) = &args.csv {
        let files = export::write_csv(&report, dir)?;
        eprintln!("wrote {} CSV files to {}", files.len(), dir.display());
    }
    if let Some(file) = &args.dhis2 {
        let text = match &args.dhis2_mapping {
            Some(p) => std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
            None => export::DEFAULT_DHIS2_MAPPING.to_string(),
        };
        let mapping = Dhis2Mapping::parse(&text)?;
        let n = export::write_dhis2(&report, &mapping, file)?;
        eprintln!("wrote {n} DHIS2 data values to {}", file.display());
    }
    if args.no_suppress {
        eprintln!("WARNING: small cells are shown; this output can identify children. Internal use only.");
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if args.csv.is_none() && args.dhis2.is_none() {
        print_report(&report);
    }
    Ok(())
}

fn figure(measure: Measure, c: &Cell) -> String {
    if c.suppressed.is_some() {
        return "<5".into();
    }
    match (measure, c.value) {
        (_, None) => "–".into(),
        (Measure::Count, Some(v)) => format!("{v:.0}"),
        (Measure::Percent, Some(v)) => {
            format!("{v:.1}% ({}/{})", c.numerator.unwrap_or(0), c.denominator.unwrap_or(0))
        }
        (Measure::MedianDays, Some(v)) => format!("{v:.1} days (n={})", c.n.unwrap_or(0)),
        (Measure::Ratio, Some(v)) => {
            format!("{v:.2} ({} cases / {} caseworkers)", c.n.unwrap_or(0), c.denominator.unwrap_or(0))
        }
    }
}

fn print_report(r: &Report) {
    println!(
        "Fieldcase report {} to {}, {}{}",
        r.from,
        r.to,
        r.office.as_deref().unwrap_or("all offices"),
        if r.suppressed {
            format!(" (cells of 1–{} children withheld: <5)", r.threshold - 1)
        } else {
            " (NOT SUPPRESSED)".into()
        }
    );
    println!(
        "Left out of every count: {} merged/duplicate, {} erased. Denominators leave out cases closed as transferred, duplicate or opened in error.",
        r.exclusions.merged_or_duplicate, r.exclusions.erased
    );
    for ind in &r.indicators {
        println!();
        println!("{:>4}  {}: {}", ind.id, ind.title, figure(ind.measure, &ind.total));
        println!("      {}", ind.definition);
        for b in &ind.breakdowns {
            let cells: Vec<String> = b
                .cells
                .iter()
                .filter(|c| c.suppressed.is_some() || c.n.unwrap_or(0) > 0)
                .map(|c| format!("{} {}", c.category, figure(ind.measure, c)))
                .collect();
            if !cells.is_empty() {
                println!("      by {}: {}", b.dimension, cells.join("; "));
            }
        }
    }
}
