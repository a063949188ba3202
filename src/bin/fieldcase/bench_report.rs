//! The `report` line of `fieldcase bench`: time to compute every indicator
//! over 50,000 cases (10,000 with --quick). (Owned by the reports work.)
//!
//! Creating 50,000 cases through the store takes minutes (every event is
//! signed, rule-checked and projected), so the bench writes synthetic rows
//! straight into the projection tables of an in-memory SQLite database with
//! the real schema: it measures the report (load + indicators +
//! suppression), not case creation or unlock.
use std::time::Instant;

use chrono::NaiveDate;
use fieldcase::model::projection;
use fieldcase::report::{self, ReportOptions};
use rusqlite::{params, Connection};

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

/// A small deterministic generator (no need for cryptographic quality).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[(self.next() as usize) % list.len()]
    }
}

const STAGES: &[&str] = &[
    "registered",
    "bia_in_progress",
    "bia_completed",
    "tracing",
    "family_assessment",
    "verification",
    "bid_pending",
    "bid_decided",
    "solution_in_progress",
    "reintegration",
    "follow_up",
    "closed",
];

fn day_millis(d: NaiveDate) -> i64 {
    d.and_hms_opt(10, 0, 0).map(|t| t.and_utc().timestamp_millis()).unwrap_or_default()
}

/// Fill `conn` with `n` synthetic cases: case rows, ~20 field values, stage
/// history, follow-up visits, a referral, a tracing item and one event each.
pub fn populate(conn: &mut Connection, n: usize) -> anyhow::Result<()> {
    projection::migrate(conn)?;
    let tx = conn.transaction()?;
    let base = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default();
    let mut g = Lcg(42);
    {
        let mut case = tx.prepare(
            "INSERT INTO cases VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, ?7, 'Given', 'Family', ?8, ?9, NULL, 0, 0, ?10, ?10, 0, NULL, NULL, 0, 10)",
        )?;
        let mut fv = tx.prepare("INSERT INTO field_values VALUES (?1, ?2, ?3, ?4, ?5, 1, 'ok', 'e')")?;
        let mut it = tx.prepare("INSERT INTO items VALUES (?1, ?2, ?3, 'form.saved', ?4, 'e', ?5, 0, 'cw')")?;
        let mut sh =
            tx.prepare("INSERT INTO stage_history VALUES (?1, ?2, 'e', NULL, ?3, '', ?4, 0, 'cw', 'caseworker')")?;
        let mut ev = tx.prepare("INSERT INTO events VALUES (?1, ?2, 'dev', ?3, ?4, 0, 'form.saved', ?5)")?;
        for i in 0..n {
            let id = format!("{:08x}-0000-4000-8000-{:012x}", i, i);
            let reg = base + chrono::Days::new(g.next() % 900);
            let reg_ms = day_millis(reg);
            let depth = 1 + (g.next() as usize) % STAGES.len();
            let stage = STAGES[depth - 1];
            let risk = g.pick(&["high", "medium", "low"]);
            let case_type = g.pick(&["uasc", "uasc", "accompanied_child_at_risk", "family_with_children"]);
            let office = g.pick(&["Agadez", "Niamey", "Arlit"]);
            // Where the child is now: a district of the sample's areas, so
            // the report's area and corridor breakdowns have cases in them.
            let area = match office {
                "Agadez" => "ner_agadez_agadez",
                "Niamey" => "ner_niamey_1",
                _ => "ner_agadez_arlit",
            };
            case.execute(params![
                id,
                format!("AGZ-{i:06}"),
                case_type,
                office,
                stage,
                format!("cw{}", g.next() % 200),
                risk,
                g.pick(&["female", "male", "other_unknown"]),
                (g.next() % 18).to_string(),
                reg_ms
            ])?;
            let values: Vec<(&str, &str, String)> = vec![
                ("registration_bia", "registration_date", format!("\"{reg}\"")),
                ("registration_bia", "current_admin_area", format!("\"{area}\"")),
                ("registration_bia", "nationality", format!("[\"{}\"]", g.pick(&["NGA", "MLI", "GIN", "CIV", "SEN", "GMB", "BFA"]))),
                ("registration_bia", "child_status", format!("\"{}\"", g.pick(&["unaccompanied", "separated", "accompanied"]))),
                ("registration_bia", "legal_status", format!("\"{}\"", g.pick(&["asylum_seeker", "migrant_irregular", "vot_presumed"]))),
                ("registration_bia", "care_arrangement", format!("\"{}\"", g.pick(&["foster_care", "temporary_care_facility", "kinship_extended_family"]))),
                ("registration_bia", "bia_completed_on", format!("\"{}\"", reg + chrono::Days::new(g.next() % 30))),
                ("registration_bia", "protection_concerns", format!("[\"{}\"]", g.pick(&["neglect", "deprived_of_liberty", "child_labour"]))),
                ("registration_bia", "cfm_responses", format!("[{{\"domain\":\"seeing\",\"rating\":\"{}\"}}]", g.pick(&["no_difficulty", "a_lot_of_difficulty"]))),
                ("registration_bia", "risk_level", format!("\"{risk}\"")),
                ("registration_bia", "given_names", "\"Given\"".into()),
                ("registration_bia", "family_name", "\"Family\"".into()),
                ("registration_bia", "child_views", "\"a long free text paragraph of the child's views, several sentences long, as caseworkers write them\"".into()),
                ("registration_bia", "wellbeing_safety", "\"some_concern\"".into()),
                ("registration_bia", "wellbeing_health", "\"no_concern\"".into()),
                ("bid", "panel_decision", "\"approves_recommendation\"".into()),
                ("bid", "panel_date", format!("\"{}\"", reg + chrono::Days::new(100))),
                ("bid", "decided_solution", "\"return_reintegration\"".into()),
                ("closure_transfer", "closure_reason", format!("\"{}\"", g.pick(&["goals_met", "lost_contact", "turned_18"]))),
            ];
            for (form, field, v) in &values {
                fv.execute(params![id, form, "", field, v])?;
            }
            for (seq, stage) in STAGES.iter().take(depth).enumerate() {
                sh.execute(params![id, seq as i64, stage, reg_ms + seq as i64 * 20 * 86_400_000])?;
            }
            let t0 = reg + chrono::Days::new(depth as u64 * 20);
            for k in 0..4 {
                let item = format!("{id}-v{k}");
                it.execute(params![id, "follow_up_visit", item, k, reg_ms])?;
                let visit = t0 + chrono::Days::new(30 * (k as u64 + 1));
                fv.execute(params![id, "follow_up_visit", item, "visit_date", format!("\"{visit}\"")])?;
                fv.execute(params![id, "follow_up_visit", item, "child_seen", "true"])?;
            }
            let item = format!("{id}-r");
            it.execute(params![id, "referral", item, 0, reg_ms])?;
            fv.execute(params![id, "referral", item, "referral_date", format!("\"{reg}\"")])?;
            fv.execute(params![id, "referral", item, "status", "\"implemented\""])?;
            fv.execute(params![
                id,
                "referral",
                item,
                "implemented_date",
                format!("\"{}\"", reg + chrono::Days::new(12))
            ])?;
            let item = format!("{id}-t");
            it.execute(params![id, "family_tracing", item, 0, reg_ms])?;
            fv.execute(params![id, "family_tracing", item, "tracing_status", "\"in_progress\""])?;
            ev.execute(params![
                format!("{id}-e"),
                id,
                i as i64,
                reg_ms,
                format!("{{\"form\":\"registration_bia\",\"kind\":\"form.saved\",\"payload\":{{\"values\":{{\"risk_level\":\"{risk}\"}}}}}}")
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Populate and time one report over the last year of the synthetic data.
pub fn measure(quick: bool) -> anyhow::Result<ReportBench> {
    let cases = if quick { 10_000 } else { 50_000 };
    let mut conn = Connection::open_in_memory()?;
    populate(&mut conn, cases)?;
    let options = ReportOptions {
        from: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default(),
        to: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap_or_default(),
        office: None,
        suppress: true,
    };
    let started = Instant::now();
    let cpu = crate::bench::process_cpu_ms().unwrap_or_default();
    let r = report::compute(&conn, &options)?;
    let report_ms = started.elapsed().as_secs_f64() * 1000.0;
    let report_cpu_ms = crate::bench::process_cpu_ms().unwrap_or_default() - cpu;
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
        let mut conn = Connection::open_in_memory().unwrap();
        populate(&mut conn, 300).unwrap();
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
    /// `cargo test --release --bin fieldcase -- --ignored report_figure --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check; run on demand in release"]
    fn report_figure() {
        print(&measure(false).unwrap());
    }
}
