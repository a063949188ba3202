//! Read-only loading of the projection rows the indicators need: one query per
//! table, only the fields the indicators read, so a 50,000-case office report
//! stays in memory-friendly bounds and in one pass.
use std::collections::HashMap;

use chrono::NaiveDate;
use rusqlite::{params, Connection};
use serde_json::Value;

/// The (form, field) pairs of non-repeating forms the indicators read.
const CASE_FIELDS: &[(&str, &str)] = &[
    ("registration_bia", "registration_date"),
    ("registration_bia", "child_status"),
    ("registration_bia", "nationality"),
    ("registration_bia", "legal_status"),
    ("registration_bia", "protection_concerns"),
    ("registration_bia", "cfm_responses"),
    ("registration_bia", "care_arrangement"),
    ("registration_bia", "bia_completed_on"),
    ("registration_bia", "consent"),
    ("registration_bia", "consent_scopes"),
    ("registration_bia", "views_not_obtained_reason"),
    ("registration_bia", "trafficking_indicators"),
    ("bid", "panel_decision"),
    ("bid", "panel_date"),
    ("bid", "decided_solution"),
    ("bid", "pre_return_checklist"),
    ("bid", "child_interview"),
    ("bid", "child_heard_alone"),
    ("closure_transfer", "closure_reason"),
    ("closure_transfer", "transition_plan"),
    ("closure_transfer", "transfer_consent"),
    ("closure_transfer", "transfer_to"),
];

/// The (form, field) pairs of repeating forms (list items) the indicators read.
const ITEM_FIELDS: &[(&str, &str)] = &[
    ("family_tracing", "tracing_status"),
    ("family_tracing", "date_family_located"),
    ("verification", "relationship_verified"),
    ("temporary_care", "provider_type"),
    ("temporary_care", "date"),
    ("temporary_care", "result"),
    ("follow_up_visit", "visit_date"),
    ("follow_up_visit", "visit_due"),
    ("follow_up_visit", "child_seen"),
    ("follow_up_visit", "method"),
    ("follow_up_visit", "remigration_intention"),
    ("follow_up_visit", "not_seen_reason"),
    ("follow_up_visit", "new_concerns"),
    ("referral", "referral_date"),
    ("referral", "status"),
    ("referral", "implemented_date"),
    ("referral", "consent_for_referral"),
    ("case_note", "note_type"),
    ("case_note", "note_datetime"),
];

/// One list item: when it was created and the values the indicators read.
#[derive(Debug, Clone, Default)]
pub(crate) struct Item {
    pub created_millis: i64,
    pub values: HashMap<&'static str, Value>,
}

impl Item {
    pub fn str(&self, field: &str) -> Option<&str> {
        self.values.get(field).and_then(Value::as_str)
    }
    pub fn date(&self, field: &str) -> Option<NaiveDate> {
        self.values.get(field).and_then(parse_date)
    }
    pub fn bool(&self, field: &str) -> Option<bool> {
        self.values.get(field).and_then(Value::as_bool)
    }
}

/// One case as the indicators see it.
#[derive(Debug, Clone, Default)]
pub(crate) struct CaseData {
    pub id: String,
    pub case_type: String,
    pub office: String,
    pub stage: String,
    pub caseworker: Option<String>,
    pub risk_level: Option<String>,
    pub sex: Option<String>,
    pub age_years: Option<f64>,
    pub date_of_birth: Option<NaiveDate>,
    pub merged: bool,
    pub erased: bool,
    pub created: NaiveDate,
    /// Non-repeating form values by (form, field).
    pub values: HashMap<(&'static str, &'static str), Value>,
    /// List items by form, in creation order.
    pub items: HashMap<&'static str, Vec<Item>>,
    /// Stage changes (to, date) in order; the registration first.
    pub stages: Vec<(String, NaiveDate)>,
    /// When the case was first rated high risk (any form), if ever.
    pub first_high: Option<i64>,
    /// Oldest write among the heads of the case's unresolved conflicts.
    pub oldest_conflict: Option<i64>,
    /// When the transition plan was last written (its heads' oldest write).
    pub transition_plan_written: Option<i64>,
}

impl CaseData {
    pub fn value<'a>(&'a self, form: &'a str, field: &'a str) -> Option<&'a Value> {
        // The map is covariant in its key: look up with borrowed names.
        let values: &HashMap<(&str, &str), Value> = &self.values;
        values.get(&(form, field)).filter(|v| !v.is_null())
    }
    pub fn str<'a>(&'a self, form: &'a str, field: &'a str) -> Option<&'a str> {
        self.value(form, field).and_then(Value::as_str)
    }
    pub fn date(&self, form: &str, field: &str) -> Option<NaiveDate> {
        self.value(form, field).and_then(parse_date)
    }
    pub fn items(&self, form: &str) -> &[Item] {
        self.items.get(form).map(Vec::as_slice).unwrap_or(&[])
    }
    /// Whether a multi-enum field holds `option`.
    pub fn has_option(&self, form: &str, field: &str, option: &str) -> bool {
        match self.value(form, field) {
            Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(option)),
            Some(Value::String(s)) => s == option,
            _ => false,
        }
    }
}

/// Parse a stored date or datetime value to its date.
pub(crate) fn parse_date(v: &Value) -> Option<NaiveDate> {
    let s = v.as_str()?;
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

/// The UTC date of an HLC timestamp.
pub(crate) fn date_of_millis(millis: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(millis).map(|d| d.date_naive()).unwrap_or_default()
}

fn static_pair(
    table: &'static [(&'static str, &'static str)],
    form: &str,
    field: &str,
) -> Option<(&'static str, &'static str)> {
    table.iter().copied().find(|(f, n)| *f == form && *n == field)
}

fn in_list(names: impl Iterator<Item = &'static str>) -> String {
    let mut names: Vec<&str> = names.collect();
    names.sort_unstable();
    names.dedup();
    // The names are compile-time constants from this file, never user input.
    names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(",")
}

/// Load every case of `office` (all offices when `None`), merged and erased
/// ones included (the indicators decide what to leave out).
pub(crate) fn load(conn: &Connection, office: Option<&str>) -> rusqlite::Result<Vec<CaseData>> {
    let mut cases = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    {
        let mut stmt = conn.prepare(
            "SELECT id, case_type, office, stage, caseworker, risk_level, sex, age_years, date_of_birth,
                    merged_into, erased, created_millis
             FROM cases WHERE ?1 IS NULL OR office = ?1",
        )?;
        let mut rows = stmt.query(params![office])?;
        while let Some(r) = rows.next()? {
            let age: Option<String> = r.get(7)?;
            let dob: Option<String> = r.get(8)?;
            let c = CaseData {
                id: r.get(0)?,
                case_type: r.get(1)?,
                office: r.get(2)?,
                stage: r.get(3)?,
                caseworker: r.get(4)?,
                risk_level: r.get(5)?,
                sex: r.get(6)?,
                age_years: age.and_then(|a| a.parse::<f64>().ok()),
                date_of_birth: dob.and_then(|d| NaiveDate::parse_from_str(d.get(..10)?, "%Y-%m-%d").ok()),
                merged: r.get::<_, Option<String>>(9)?.is_some(),
                erased: r.get::<_, i64>(10)? != 0,
                created: date_of_millis(r.get(11)?),
                ..CaseData::default()
            };
            index.insert(c.id.clone(), cases.len());
            cases.push(c);
        }
    }
    if cases.is_empty() {
        return Ok(cases);
    }
    // Non-repeating values.
    {
        let sql = format!(
            "SELECT case_id, form, field, value FROM field_values WHERE item = '' AND field IN ({})",
            in_list(CASE_FIELDS.iter().map(|(_, f)| *f))
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let case: String = r.get(0)?;
            let Some(&i) = index.get(&case) else { continue };
            let form: String = r.get(1)?;
            let field: String = r.get(2)?;
            let Some(key) = static_pair(CASE_FIELDS, &form, &field) else {
                continue;
            };
            let Some(text) = r.get::<_, Option<String>>(3)? else {
                continue;
            };
            // A value the projection wrote is canonical JSON; skip anything else
            // rather than fail the whole report.
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                cases[i].values.insert(key, v);
            }
        }
    }
    // List items: creation order first, then their values.
    {
        let forms = in_list(ITEM_FIELDS.iter().map(|(f, _)| *f));
        let mut item_pos: HashMap<(usize, &'static str, String), usize> = HashMap::new();
        let sql = format!(
            "SELECT case_id, form, item, created_millis FROM items WHERE form IN ({forms}) ORDER BY case_id, form, seq"
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let case: String = r.get(0)?;
            let Some(&i) = index.get(&case) else { continue };
            let form: String = r.get(1)?;
            let Some((form, _)) = ITEM_FIELDS.iter().copied().find(|(f, _)| *f == form) else {
                continue;
            };
            let list = cases[i].items.entry(form).or_default();
            item_pos.insert((i, form, r.get(2)?), list.len());
            list.push(Item { created_millis: r.get(3)?, values: HashMap::new() });
        }
        let sql = format!(
            "SELECT case_id, form, item, field, value FROM field_values WHERE item <> '' AND form IN ({forms}) AND field IN ({})",
            in_list(ITEM_FIELDS.iter().map(|(_, f)| *f))
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let case: String = r.get(0)?;
            let Some(&i) = index.get(&case) else { continue };
            let form: String = r.get(1)?;
            let field: String = r.get(3)?;
            let Some((form, field)) = static_pair(ITEM_FIELDS, &form, &field) else {
                continue;
            };
            let Some(&pos) = item_pos.get(&(i, form, r.get::<_, String>(2)?)) else {
                continue;
            };
            let Some(text) = r.get::<_, Option<String>>(4)? else {
                continue;
            };
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                if let Some(item) = cases[i].items.get_mut(form).and_then(|l| l.get_mut(pos)) {
                    item.values.insert(field, v);
                }
            }
        }
    }
    // Stage history.
    {
        let mut stmt = conn.prepare("SELECT case_id, to_stage, hlc_millis FROM stage_history ORDER BY case_id, seq")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let case: String = r.get(0)?;
            let Some(&i) = index.get(&case) else { continue };
            cases[i].stages.push((r.get(1)?, date_of_millis(r.get(2)?)));
        }
    }
    // First high-risk rating: the projection keeps only the current value, so
    // the rating's time comes from the events that wrote it. The LIKE is a
    // cheap pre-filter on canonical JSON; each hit is parsed and checked.
    {
        let mut stmt = conn.prepare(
            "SELECT case_id, hlc_millis, json FROM events
             WHERE kind IN ('form.saved', 'visit.recorded', 'conflict.resolved') AND json LIKE '%\"high\"%'",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let case: String = r.get(0)?;
            let Some(&i) = index.get(&case) else { continue };
            let millis: i64 = r.get(1)?;
            let json: String = r.get(2)?;
            let Ok(e) = serde_json::from_str::<Value>(&json) else {
                continue;
            };
            let payload = &e["payload"];
            let rated_high = payload["values"]["risk_level"].as_str() == Some("high")
                || (payload["field"].as_str() == Some("risk_level") && payload["value"].as_str() == Some("high"));
            if rated_high {
                let c = &mut cases[i];
                c.first_high = Some(c.first_high.map_or(millis, |m| m.min(millis)));
            }
        }
    }
    // Unresolved conflicts: their age is the oldest competing write.
    {
        let mut stmt = conn.prepare(
            "SELECT h.case_id, min(h.hlc_millis) FROM field_heads h
             JOIN conflicts c ON c.case_id = h.case_id AND c.form = h.form AND c.item = h.item AND c.field = h.field
             GROUP BY h.case_id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let case: String = r.get(0)?;
            let Some(&i) = index.get(&case) else { continue };
            cases[i].oldest_conflict = r.get(1)?;
        }
        let mut stmt = conn.prepare(
            "SELECT case_id, min(hlc_millis) FROM field_heads
             WHERE form = 'closure_transfer' AND item = '' AND field = 'transition_plan' GROUP BY case_id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let case: String = r.get(0)?;
            let Some(&i) = index.get(&case) else { continue };
            cases[i].transition_plan_written = r.get(1)?;
        }
    }
    Ok(cases)
}
