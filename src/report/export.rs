//! Report exports: one CSV file per indicator (RFC 4180) and a DHIS2
//! dataValueSets JSON document built with a mapping file
//! (assets/dhis2-mapping.json, explained in docs/reports.md).
//!
//! Exports carry only what a [`Report`] holds: aggregate figures, category
//! names from closed value lists, office names and the indicator texts.
//!
//! Every export leaves the machine, so every export function refuses a
//! report computed without small-cell suppression
//! ([`ExportError::NotSuppressed`]): the rule is here, not in the CLI or the
//! app, so no caller can forget it. (The on-screen report may still show
//! small cells to its reader; it is not written anywhere.) Files are written
//! with [`crate::fsutil::write_new_file`]: never over an existing file,
//! never through a symlink.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Cell, IndicatorResult, Measure, Report};
use crate::fsutil::{self, WriteError};

/// The mapping file shipped with Fieldcase (placeholder ids: replace them
/// with the ids of the receiving DHIS2 instance).
pub const DEFAULT_DHIS2_MAPPING: &str = include_str!("../../assets/dhis2-mapping.json");

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The report was computed without small-cell suppression; exports
    /// leave the machine and must not identify a child.
    #[error("an export must withhold small cells (fewer than {} children): compute the report with suppression on (without --no-suppress)", super::THRESHOLD)]
    NotSuppressed,
    /// Creating the export folder failed.
    #[error("could not create the folder {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Writing a file failed (it exists already, the disk is full…).
    #[error(transparent)]
    Write(#[from] WriteError),
    /// JSON encoding failed.
    #[error("could not encode JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// CSV encoding failed.
    #[error("could not encode CSV: {0}")]
    Csv(#[from] csv::Error),
    /// The mapping file is not valid.
    #[error("the DHIS2 mapping file is not valid: {0}; see docs/reports.md for its format")]
    Mapping(String),
    /// DHIS2 periods are calendar months, quarters or years.
    #[error("DHIS2 needs a calendar month, quarter or year; {from} to {to} is none of these (e.g. --from 2026-01-01 --to 2026-03-31)")]
    Period {
        /// Start.
        from: NaiveDate,
        /// End.
        to: NaiveDate,
    },
    /// The office has no organisation unit in the mapping.
    #[error("the DHIS2 mapping has no organisation unit for {0:?}; add it under \"org_units\"")]
    OrgUnit(String),
}

// Each failure's stable code for the interfaces (crate::codes).
crate::error_codes! { ExportError {
    nested {
        ExportError::Write(w) => w: WriteError;
    }
    ExportError::NotSuppressed => "export_not_suppressed";
    ExportError::Folder { path, .. } => "export_folder" { path = path.display() };
    ExportError::Json(_) | ExportError::Csv(_) => "export_encoding";
    ExportError::Mapping(_) => "export_mapping";
    ExportError::Period { from, to } => "export_period" { from, to };
    ExportError::OrgUnit(office) => "export_org_unit" { office };
} }

fn require_suppressed(report: &Report) -> Result<(), ExportError> {
    if report.suppressed {
        Ok(())
    } else {
        Err(ExportError::NotSuppressed)
    }
}

fn num(v: Option<u64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

fn fig(v: Option<f64>) -> String {
    v.map(|x| if x.fract() == 0.0 { format!("{x:.0}") } else { format!("{x}") }).unwrap_or_default()
}

fn measure_name(m: Measure) -> &'static str {
    match m {
        Measure::Count => "count",
        Measure::Percent => "percent",
        Measure::MedianDays => "median_days",
        Measure::Ratio => "ratio",
    }
}

fn rows(ind: &IndicatorResult) -> impl Iterator<Item = (&str, &Cell)> {
    std::iter::once(("total", &ind.total))
        .chain(ind.breakdowns.iter().flat_map(|b| b.cells.iter().map(move |c| (b.dimension.as_str(), c))))
}

/// The CSV text of one indicator: a header, then the total and one row per
/// breakdown cell. Withheld figures are empty with `suppressed` set.
/// Refused for a report without suppression.
pub fn indicator_csv(report: &Report, ind: &IndicatorResult) -> Result<String, ExportError> {
    require_suppressed(report)?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "indicator",
        "title",
        "period_from",
        "period_to",
        "office",
        "measure",
        "dimension",
        "category",
        "value",
        "numerator",
        "denominator",
        "n",
        "suppressed",
        "definition",
    ])?;
    let office = report.office.clone().unwrap_or_else(|| "all".into());
    for (dimension, c) in rows(ind) {
        let suppressed = match c.suppressed {
            Some(super::Suppression::SmallCell) => "small_cell",
            Some(super::Suppression::Complementary) => "complementary",
            None => "",
        };
        w.write_record([
            ind.id.as_str(),
            ind.title.as_str(),
            &report.from.to_string(),
            &report.to.to_string(),
            &office,
            measure_name(ind.measure),
            dimension,
            c.category.as_str(),
            &fig(c.value),
            &num(c.numerator),
            &num(c.denominator),
            &num(c.n),
            suppressed,
            ind.definition.as_str(),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| ExportError::Csv(e.into_error().into()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The file name of an indicator's CSV (`indicator_03a.csv`).
pub fn csv_file_name(ind: &IndicatorResult) -> String {
    let digits: String = ind.id.chars().take_while(char::is_ascii_digit).collect();
    let rest: String = ind.id.chars().skip_while(char::is_ascii_digit).collect();
    format!("indicator_{digits:0>2}{rest}.csv")
}

/// Write one CSV per indicator into `dir` (created if missing). Returns the
/// files written. Refused for a report without suppression; an existing
/// file of the same name is refused and left as it was, and the files this
/// call had already written are removed again (all or nothing).
pub fn write_csv(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, ExportError> {
    require_suppressed(report)?;
    // Encode everything first: a CSV error then leaves no file.
    let files = report
        .indicators
        .iter()
        .map(|ind| Ok((dir.join(csv_file_name(ind)), indicator_csv(report, ind)?)))
        .collect::<Result<Vec<_>, ExportError>>()?;
    std::fs::create_dir_all(dir).map_err(|source| ExportError::Folder { path: dir.to_path_buf(), source })?;
    let mut out: Vec<PathBuf> = Vec::new();
    for (path, text) in files {
        if let Err(e) = fsutil::write_new_file(&path, text.as_bytes()) {
            for written in &out {
                let _ = std::fs::remove_file(written);
            }
            return Err(e.into());
        }
        out.push(path);
    }
    Ok(out)
}

/// Write the DHIS2 dataValueSets document of `report` to the new file
/// `path` (see [`dhis2_data_value_set`]); returns the number of data values.
pub fn write_dhis2(report: &Report, mapping: &Dhis2Mapping, path: &Path) -> Result<usize, ExportError> {
    let doc = dhis2_data_value_set(report, mapping)?;
    let n = doc["dataValues"].as_array().map_or(0, Vec::len);
    fsutil::write_new_file(path, serde_json::to_string_pretty(&doc)?.as_bytes())?;
    Ok(n)
}

/// Which DHIS2 data elements receive an indicator's figures.
#[derive(Debug, Clone, Deserialize)]
pub struct DataElements {
    /// The figure itself (count, percentage, median days, ratio).
    pub value: String,
    /// Percent indicators: the numerator.
    #[serde(default)]
    pub numerator: Option<String>,
    /// Percent indicators: the denominator.
    #[serde(default)]
    pub denominator: Option<String>,
}

/// The mapping of indicators and categories to DHIS2 ids.
#[derive(Debug, Clone, Deserialize)]
pub struct Dhis2Mapping {
    /// The data set the values belong to.
    pub data_set: String,
    /// Office name → organisation unit; `"*"` is used for all-office reports.
    pub org_units: BTreeMap<String, String>,
    /// Category option combo of totals.
    pub default_category_option_combo: String,
    /// Indicator id → `"total"` or dimension → data elements (DHIS2 gives
    /// each data element one category combination, so each disaggregation
    /// of an indicator is its own data element). Unmapped pairs are not
    /// exported.
    pub data_elements: BTreeMap<String, BTreeMap<String, DataElements>>,
    /// Dimension → category → category option combo. Unmapped dimensions
    /// (e.g. nationality, whose top-N changes) are not exported.
    pub category_option_combos: BTreeMap<String, BTreeMap<String, String>>,
}

impl Dhis2Mapping {
    /// Parse a mapping file.
    pub fn parse(text: &str) -> Result<Dhis2Mapping, ExportError> {
        serde_json::from_str(text).map_err(|e| ExportError::Mapping(e.to_string()))
    }
}

/// The DHIS2 period of a calendar month (`202601`), quarter (`2026Q1`) or
/// year (`2026`).
pub fn dhis2_period(from: NaiveDate, to: NaiveDate) -> Result<String, ExportError> {
    let bad = || ExportError::Period { from, to };
    if from.day() != 1 {
        return Err(bad());
    }
    let next = to.succ_opt().ok_or_else(bad)?;
    if next.day() != 1 {
        return Err(bad());
    }
    let months = (next.year() - from.year()) * 12 + next.month() as i32 - from.month() as i32;
    match months {
        1 => Ok(format!("{}{:02}", from.year(), from.month())),
        3 if (from.month() - 1).is_multiple_of(3) => Ok(format!("{}Q{}", from.year(), (from.month() - 1) / 3 + 1)),
        12 if from.month() == 1 => Ok(format!("{}", from.year())),
        _ => Err(bad()),
    }
}

/// A DHIS2 dataValueSets document of the report's shown figures (withheld
/// cells are left out: DHIS2 has no "suppressed" value). Refused for a
/// report without suppression.
pub fn dhis2_data_value_set(report: &Report, mapping: &Dhis2Mapping) -> Result<Value, ExportError> {
    require_suppressed(report)?;
    let period = dhis2_period(report.from, report.to)?;
    let office = report.office.clone().unwrap_or_else(|| "*".into());
    let org_unit = mapping.org_units.get(&office).ok_or_else(|| ExportError::OrgUnit(office.clone()))?;
    let mut values = Vec::new();
    for ind in &report.indicators {
        let Some(elements) = mapping.data_elements.get(&ind.id) else {
            continue;
        };
        for (dimension, c) in rows(ind) {
            if c.suppressed.is_some() {
                continue;
            }
            let Some(de) = elements.get(dimension) else {
                continue;
            };
            let coc = if dimension == "total" {
                Some(&mapping.default_category_option_combo)
            } else {
                mapping.category_option_combos.get(dimension).and_then(|m| m.get(&c.category))
            };
            let Some(coc) = coc else { continue };
            let mut push = |element: &str, value: String| {
                if !value.is_empty() {
                    values.push(json!({
                        "dataElement": element, "period": period, "orgUnit": org_unit,
                        "categoryOptionCombo": coc, "value": value,
                    }));
                }
            };
            push(&de.value, fig(c.value));
            if ind.measure == Measure::Percent {
                if let Some(e) = &de.numerator {
                    push(e, num(c.numerator));
                }
                if let Some(e) = &de.denominator {
                    push(e, num(c.denominator));
                }
            }
        }
    }
    Ok(json!({
        "dataSet": mapping.data_set,
        "period": period,
        "orgUnit": org_unit,
        "dataValues": values,
    }))
}
