//! Synthetic rows for the report figure of the bench: 50,000 cases with
//! what the indicators read (stages, forms, visits, referrals, tracing),
//! spread over 2024–2026 and the sample configuration's areas.
use chrono::NaiveDate;
use rusqlite::{params, Connection, Result};

use crate::model::projection;

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

/// An in-memory database with the projection's schema and `n` synthetic
/// cases: case rows, ~20 field values, stage history, follow-up visits, a
/// referral, a tracing item and one event row each (unsigned; no event
/// log). Deterministic: the same `n` gives the same rows.
pub fn report_projection(n: usize) -> Result<Connection> {
    let mut conn = Connection::open_in_memory()?;
    populate(&mut conn, n)?;
    Ok(conn)
}

fn populate(conn: &mut Connection, n: usize) -> Result<()> {
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
