//! Report commands for the Reports screen: compute the indicators for a
//! period and office, and write the CSV export. A few lines each around
//! `fieldcase::report`; the records they return are defined here and
//! written to ui/src/lib/bindings/ by `cargo test -p fieldcase-desktop`.
//!
//! Reports hold aggregates only (no names, dates of birth, free text or case
//! ids), so nothing returned or written here is case data. Suppression of
//! small cells is on unless the UI asks for the internal view.

use chrono::NaiveDate;
use fieldcase::report::{self, export, Cell, Measure, Report, ReportOptions, Suppression};
use serde::{Deserialize, Serialize};
use tauri::State;
use ts_rs::TS;

use crate::session::{Session, UiError};

macro_rules! report_dto {
    ($item:item) => {
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
        #[ts(export, export_to = "../../ui/src/lib/bindings/")]
        $item
    };
}

report_dto! {
/// One figure of a report (a total or a breakdown cell).
pub struct ReportCell {
    /// Category, `"total"` for the total.
    pub category: String,
    /// Count, percentage, median days or ratio; null when withheld or empty.
    pub value: Option<f64>,
    /// Percent: numerator.
    pub numerator: Option<u32>,
    /// Percent: denominator; ratio: caseworkers.
    pub denominator: Option<u32>,
    /// Children (or referrals) the figure is about.
    pub n: Option<u32>,
    /// `small_cell` or `complementary` when withheld.
    pub suppressed: Option<String>,
}
}

report_dto! {
/// An indicator's cells for one dimension.
pub struct ReportBreakdown {
    /// Dimension name.
    pub dimension: String,
    /// One cell per category.
    pub cells: Vec<ReportCell>,
}
}

report_dto! {
/// One indicator with its definition.
pub struct ReportIndicator {
    /// `"1"` … `"25c"`.
    pub id: String,
    /// Short name.
    pub title: String,
    /// What is counted.
    pub definition: String,
    /// `count`, `percent`, `median_days` or `ratio`.
    pub measure: String,
    /// The total.
    pub total: ReportCell,
    /// The breakdowns.
    pub breakdowns: Vec<ReportBreakdown>,
}
}

report_dto! {
/// A computed report.
pub struct ReportView {
    /// First day, YYYY-MM-DD.
    pub from: String,
    /// Last day, YYYY-MM-DD.
    pub to: String,
    /// Office, or null for all offices.
    pub office: Option<String>,
    /// Whether small cells were withheld.
    pub suppressed: bool,
    /// Cells of 1 to threshold − 1 children are withheld.
    pub threshold: u32,
    /// Cases left out as merged or duplicate.
    pub merged_or_duplicate: u32,
    /// Cases left out as erased.
    pub erased: u32,
    /// The indicators.
    pub indicators: Vec<ReportIndicator>,
}
}

fn small(v: Option<u64>) -> Option<u32> {
    v.map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

fn cell(c: &Cell) -> ReportCell {
    ReportCell {
        category: c.category.clone(),
        value: c.value,
        numerator: small(c.numerator),
        denominator: small(c.denominator),
        n: small(c.n),
        suppressed: c.suppressed.map(|s| match s {
            Suppression::SmallCell => "small_cell".to_string(),
            Suppression::Complementary => "complementary".to_string(),
        }),
    }
}

fn measure(m: Measure) -> String {
    match m {
        Measure::Count => "count",
        Measure::Percent => "percent",
        Measure::MedianDays => "median_days",
        Measure::Ratio => "ratio",
    }
    .to_string()
}

/// The screen's view of a report.
pub fn view(r: &Report) -> ReportView {
    ReportView {
        from: r.from.to_string(),
        to: r.to.to_string(),
        office: r.office.clone(),
        suppressed: r.suppressed,
        threshold: small(Some(r.threshold)).unwrap_or(5),
        merged_or_duplicate: small(Some(r.exclusions.merged_or_duplicate)).unwrap_or(0),
        erased: small(Some(r.exclusions.erased)).unwrap_or(0),
        indicators: r
            .indicators
            .iter()
            .map(|i| ReportIndicator {
                id: i.id.clone(),
                title: i.title.clone(),
                definition: i.definition.clone(),
                measure: measure(i.measure),
                total: cell(&i.total),
                breakdowns: i
                    .breakdowns
                    .iter()
                    .map(|b| ReportBreakdown {
                        dimension: b.dimension.clone(),
                        cells: b.cells.iter().map(cell).collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn options(from: &str, to: &str, office: Option<String>, suppress: bool) -> Result<ReportOptions, UiError> {
    let date = |s: &str| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| UiError::new(crate::errors::ShellCode::BadDate, format!("{s:?} is not a date (YYYY-MM-DD)")))
    };
    Ok(ReportOptions { from: date(from)?, to: date(to)?, office: office.filter(|o| !o.is_empty()), suppress })
}

/// The report over the vault's own areas (its effective country
/// configuration, by region), as `fieldcase report` computes it.
fn compute(session: &Session, o: &ReportOptions) -> Result<Report, UiError> {
    session.with_store(|s| {
        let geo = report::Geography::of_store(s, fieldcase::model::forms::AreaLevel::Region)
            .map_err(|e| UiError::coded(&e))?;
        report::compute_for_store(s, o, &geo).map_err(|e| UiError::coded(&e))
    })
}

/// Compute every indicator for the period and office.
#[tauri::command]
pub async fn report_compute(
    session: State<'_, Session>,
    from: String,
    to: String,
    office: Option<String>,
    suppress: bool,
) -> Result<ReportView, UiError> {
    let o = options(&from, &to, office, suppress)?;
    Ok(view(&compute(&session, &o)?))
}

/// Write one CSV file per indicator (always with small cells withheld: an
/// export leaves the device, and the library refuses any other) into `dir`;
/// returns the files written. Existing files are never replaced
/// (`file_exists`).
#[tauri::command]
pub async fn report_export_csv(
    session: State<'_, Session>,
    from: String,
    to: String,
    office: Option<String>,
    dir: String,
) -> Result<Vec<String>, UiError> {
    let dir = crate::sync_commands::absolute(&dir)?;
    let o = options(&from, &to, office, true)?;
    let r = compute(&session, &o)?;
    let files = export::write_csv(&r, &dir).map_err(|e| UiError::coded(&e))?;
    Ok(files.iter().map(|f| f.display().to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_checked() {
        assert!(options("2026-01-01", "2026-01-31", Some(String::new()), true).unwrap().office.is_none());
        assert_eq!(options("01/02/2026", "2026-01-31", None, true).unwrap_err().code, "bad_date");
    }

    /// The library's English title and definition of every indicator, for
    /// the window's catalogue test: `indicator.<id>.title`/`.definition`
    /// must exist in en, fr and ar, and the English must be the library's.
    #[test]
    fn writes_the_indicator_texts_for_the_window() {
        let texts: std::collections::BTreeMap<&str, serde_json::Value> = report::definitions()
            .iter()
            .map(|d| (d.id, serde_json::json!({ "title": d.title, "definition": d.definition })))
            .collect();
        let json = serde_json::to_string_pretty(&texts).expect("json") + "\n";
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings/indicators.json");
        if std::fs::read_to_string(&path).ok().as_deref() != Some(json.as_str()) {
            std::fs::write(&path, &json).expect("write indicators.json");
        }
        assert_eq!(texts.len(), report::definitions().len(), "indicator ids are unique");
    }
}
