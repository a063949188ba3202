//! The `report` line of `fieldcase bench`: time to compute every indicator
//! over 50,000 cases (10,000 with --quick). (Owned by the reports work.)
//!
//! Creating 50,000 cases through the store takes minutes (every event is
//! signed, rule-checked and projected), so the library's test kit
//! (`fieldcase::testkit::report_projection`) writes synthetic rows straight
//! into the projection tables of an in-memory SQLite database with the
//! real schema: the bench measures the report (load + indicators +
//! suppression), not case creation or unlock.
use std::time::Instant;

use chrono::NaiveDate;
use fieldcase::report::{self, ReportOptions};
use fieldcase::testkit::{self, Connection};

/// The report figure of the bench.
#[derive(serde::Serialize, Default, Debug, Clone)]
pub struct ReportBench {
    /// Cases in the synthetic projection.
    pub cases: usize,
    /// Time to compute every indicator with suppression (target < 2,000 ms).
    pub report_ms: f64,
    /// CPU time of the same, every thread of the process (the report reads
    /// on one thread while another parses, and computes the indicators on
    /// two): the figure to compare when other work shares the machine.
    /// 10 ms resolution.
    pub report_cpu_ms: f64,
    /// Indicators computed.
    pub indicators: usize,
}

/// Populate and time one report over the last year of the synthetic data.
pub fn measure(quick: bool) -> anyhow::Result<ReportBench> {
    let cases = if quick { 10_000 } else { 50_000 };
    let conn = testkit::report_projection(cases)?;
    let options = ReportOptions {
        from: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default(),
        to: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap_or_default(),
        office: None,
        suppress: true,
    };
    let started = Instant::now();
    let cpu = crate::process_cpu_ms().unwrap_or_default();
    let r = report::compute(&conn, &options)?;
    let report_ms = started.elapsed().as_secs_f64() * 1000.0;
    let report_cpu_ms = crate::process_cpu_ms().unwrap_or_default() - cpu;
    Ok(ReportBench { cases, report_ms, report_cpu_ms, indicators: r.indicators.len() })
}

/// Time one report (every indicator, suppression on) over the 12 months
/// ending `to` on an existing projection (the bench's demo vaults), in ms.
pub fn time_on(conn: &Connection, to: NaiveDate) -> anyhow::Result<f64> {
    let options = ReportOptions { from: to - chrono::Days::new(364), to, office: None, suppress: true };
    let started = Instant::now();
    std::hint::black_box(report::compute(conn, &options)?);
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

/// The line printed for this section alone (the bench's table prints its own row).
#[cfg_attr(not(test), allow(dead_code))]
pub fn print(r: &ReportBench) {
    println!();
    println!(
        "report, all {} indicators @{} cases {:>8.1} ms, {:.1} ms CPU (target < 2000 ms; synthetic projection rows)",
        r.indicators, r.cases, r.report_ms, r.report_cpu_ms
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_projection_yields_figures() {
        let conn = testkit::report_projection(300).unwrap();
        let options = ReportOptions {
            from: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
            office: None,
            suppress: false,
        };
        let r = report::compute(&conn, &options).unwrap();
        assert_eq!(r.indicator("1").unwrap().total.n, Some(300));
        assert!(r.indicator("21").unwrap().total.n.unwrap() > 0);
        // Every case is placed in an area of the sample configuration.
        let by_area = r.indicator("1").unwrap().breakdown("admin_area_region").unwrap();
        let placed: u64 = by_area.cells.iter().filter(|c| c.category != "unknown").filter_map(|c| c.n).sum();
        assert_eq!(placed, 300);
        let by_corridor = r.indicator("1").unwrap().breakdown("corridor").unwrap();
        assert!(by_corridor.cells.iter().any(|c| c.category == "A" && c.n == Some(300)), "{by_corridor:?}");
    }

    /// Prints the figure without the rest of the bench (no time assertion):
    /// `cargo test --release -p fieldcase-bench -- --ignored report_figure --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check; run on demand in release"]
    fn report_figure() {
        print(&measure(false).unwrap());
    }
}
