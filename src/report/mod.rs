//! Aggregate reports: the indicators of docs/reports.md computed read-only
//! from the projection, disaggregated by its dimensions, with small-cell
//! suppression, and exported as CSV or a DHIS2 dataValueSets document.
//!
//! Only counts, percentages, medians and ratios leave this module: no name,
//! date of birth, free text or case id is ever copied into a [`Report`].
//! See docs/reports.md for the definitions, the exclusion rules and the
//! suppression method.

mod dims;
pub mod export;
mod indicators;
mod load;
pub use load::ReportIndex;
mod of_store;
pub use of_store::compute_for_store;
mod suppress;
mod value;

use chrono::NaiveDate;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

pub use dims::{admin_area_dimension, CORRIDOR, DIMENSIONS};
pub use indicators::{definitions, Definition};
pub use suppress::THRESHOLD;

/// Why a report could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The period ends before it starts.
    #[error("the period ends ({to}) before it starts ({from}); swap --from and --to")]
    EmptyPeriod {
        /// Start.
        from: NaiveDate,
        /// End.
        to: NaiveDate,
    },
    /// Reading the projection failed.
    #[error("could not read the case database: {0}")]
    Db(#[from] rusqlite::Error),
}

// Each failure's stable code for the interfaces (crate::codes).
crate::error_codes! { ReportError {
    ReportError::EmptyPeriod { from, to } => "report_empty_period" { from, to };
    ReportError::Db(_) => "database_error";
} }

/// What to report on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOptions {
    /// First day of the period (inclusive).
    pub from: NaiveDate,
    /// Last day of the period (inclusive).
    pub to: NaiveDate,
    /// Only this office's cases (all offices when `None`).
    pub office: Option<String>,
    /// Suppress small cells (default; turn off only for internal use).
    pub suppress: bool,
}

/// The places a report breaks cases down by: the administrative areas of
/// the effective country configuration (docs/configuration.md) and the
/// level of the `admin_area_<level>` breakdown. Each case falls in the area
/// of that level on the path of its current area
/// (`registration_bia.current_admin_area`), and in the corridor of its
/// country.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Geography {
    /// The areas (retired ones included).
    pub areas: crate::model::forms::AdminAreas,
    /// The level of the area breakdown.
    pub level: crate::model::forms::AreaLevel,
}

impl Geography {
    /// The sample configuration's areas, broken down by region.
    pub fn sample() -> Geography {
        Geography { areas: crate::country::sample().admin_areas(), level: crate::model::forms::AreaLevel::Region }
    }

    /// The areas of a vault's effective configuration at `level`.
    pub fn of_store(
        store: &crate::model::store::CaseStore,
        level: crate::model::forms::AreaLevel,
    ) -> Result<Geography, crate::model::error::StoreError> {
        Ok(Geography { areas: crate::country::effective(store)?.admin_areas(), level })
    }
}

/// How a figure is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// A number of children (or of referrals, for referral indicators).
    Count,
    /// numerator / denominator × 100.
    Percent,
    /// Median number of days; `n` is the number of children measured.
    MedianDays,
    /// Cases per caseworker: (weighted) cases ÷ caseworkers with ≥ 1 case.
    Ratio,
}

/// Why a cell shows no figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Suppression {
    /// One of its counts is between 1 and 4.
    SmallCell,
    /// Hidden so a suppressed cell of the same row cannot be worked out from
    /// the total and the other cells.
    Complementary,
}

/// One figure: the total of an indicator or one category of a breakdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Category (`"total"` for the indicator's total).
    pub category: String,
    /// The figure: a count, a percentage, a median in days or a ratio.
    pub value: Option<f64>,
    /// Percent: the numerator.
    pub numerator: Option<u64>,
    /// Percent: the denominator; ratio: caseworkers.
    pub denominator: Option<u64>,
    /// Children (or referrals) the figure is about.
    pub n: Option<u64>,
    /// Set when the figures were withheld.
    pub suppressed: Option<Suppression>,
}

/// An indicator's figures for one dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    /// Dimension name (`"sex"`, `"age_band_registration"`, …).
    pub dimension: String,
    /// One cell per category, in a fixed order; every child is in exactly one.
    pub cells: Vec<Cell>,
}

/// One computed indicator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicatorResult {
    /// `"1"` … `"25"`, with a letter for the parts of a multi-part indicator (`"3b"`).
    pub id: String,
    /// Short name.
    pub title: String,
    /// What is counted, as written in the report.
    pub definition: String,
    /// How it is measured.
    pub measure: Measure,
    /// The total.
    pub total: Cell,
    /// The disaggregations.
    pub breakdowns: Vec<Breakdown>,
}

/// Cases left out of every indicator, and why.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Exclusions {
    /// Merged into another case (or in the `duplicate` stage).
    pub merged_or_duplicate: u64,
    /// Erased on request or legal order (tombstones).
    pub erased: u64,
}

/// A computed report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// First day of the period.
    pub from: NaiveDate,
    /// Last day of the period.
    pub to: NaiveDate,
    /// Office, or `None` for all offices.
    pub office: Option<String>,
    /// Whether small cells were suppressed.
    pub suppressed: bool,
    /// The threshold: cells with 1 to `threshold - 1` children are withheld.
    pub threshold: u64,
    /// Cases left out of every count.
    pub exclusions: Exclusions,
    /// The indicators, in docs/reports.md order.
    pub indicators: Vec<IndicatorResult>,
}

impl Report {
    /// The indicator with this id.
    pub fn indicator(&self, id: &str) -> Option<&IndicatorResult> {
        self.indicators.iter().find(|i| i.id == id)
    }
}

impl IndicatorResult {
    /// The breakdown by this dimension.
    pub fn breakdown(&self, dimension: &str) -> Option<&Breakdown> {
        self.breakdowns.iter().find(|b| b.dimension == dimension)
    }
}

impl Breakdown {
    /// The cell of this category.
    pub fn cell(&self, category: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.category == category)
    }
}

/// Compute every indicator from the projection in `conn` (read-only),
/// areas and corridors those of the sample configuration by region
/// ([`compute_with`] for a vault's own).
pub fn compute(conn: &Connection, options: &ReportOptions) -> Result<Report, ReportError> {
    compute_with(conn, options, &Geography::sample())
}

/// [`compute`] with the areas of `geo` and its level.
pub fn compute_with(conn: &Connection, options: &ReportOptions, geo: &Geography) -> Result<Report, ReportError> {
    if options.to < options.from {
        return Err(ReportError::EmptyPeriod { from: options.from, to: options.to });
    }
    let cache = load::ReportCache::new(conn)?;
    let cases = load::load(conn, options.office.as_deref())?;
    // 25b: every case of a flagged duplicate pair still awaiting review. The
    // flags were stored when a pass or an import ran; re-running the pass
    // here would cost ~20 s at 50,000 cases.
    let pending: std::collections::HashSet<String> =
        crate::search::duplicate_review::pending_cases(conn)?.into_keys().collect();
    drop(cache);
    let mut report = indicators::compute(&cases, options, &pending, geo);
    // Freeing every case's values was ~7 % of a report: the figures do
    // not wait for it (if no thread can be started, it is freed here).
    let _ = std::thread::Builder::new().name("report-free".into()).spawn(move || drop(cases));
    report.suppressed = options.suppress;
    if options.suppress {
        for ind in &mut report.indicators {
            suppress::apply(ind);
        }
    }
    Ok(report)
}
