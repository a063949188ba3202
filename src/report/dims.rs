//! The disaggregation dimensions (docs/reports.md, Disaggregation) and how each case falls
//! into exactly one category of each (missing data has its own category, so
//! the categories of a dimension always add up to the total).
use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};

use super::load::CaseData;
use super::value::Val;
use super::Geography;

/// The dimensions every indicator is broken down by, in report order.
pub const DIMENSIONS: &[&str] = &[
    "sex",
    "age_band_registration",
    "age_band_period_end",
    "disability",
    "nationality",
    "child_status",
    "case_type",
    "trafficking",
    "legal_status",
    "risk_level",
    "office",
];

/// The dimension of the corridor a case's current area belongs to.
pub const CORRIDOR: &str = "corridor";

/// Name of the dimension of the administrative area at `level`
/// (`admin_area_region`, …).
pub fn admin_area_dimension(level: crate::model::forms::AreaLevel) -> String {
    let name = serde_json::to_value(level).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    format!("admin_area_{name}")
}

/// How many nationalities are shown by name; the rest are `other`.
pub const TOP_NATIONALITIES: usize = 5;

const AGE_BANDS: &[&str] = &["0-4", "5-9", "10-14", "15-17", "18+", "unknown"];
const LEGAL_STATUS: &[&str] = &[
    "asylum_seeker",
    "refugee",
    "migrant_irregular",
    "migrant_regular",
    "vot_presumed",
    "vot_identified",
    "stateless",
    "idp",
    "returnee",
    "host_community",
    "other",
    "unknown",
];

/// The categories of every dimension, in a fixed order, for these cases.
#[derive(Clone)]
pub(crate) struct Categories {
    /// Dimension names: [`DIMENSIONS`], then corridor and area.
    pub names: Vec<String>,
    pub lists: Vec<Vec<String>>,
    top_nationalities: Vec<String>,
    geo: Geography,
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

impl Categories {
    pub fn new(cases: &[&CaseData], geo: &Geography) -> Categories {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for c in cases {
            if let Some(n) = first_nationality(c) {
                *counts.entry(n).or_default() += 1;
            }
        }
        let mut ranked: Vec<(&str, usize)> = counts.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let top: Vec<String> = ranked.iter().take(TOP_NATIONALITIES).map(|(n, _)| n.to_string()).collect();
        let mut offices: Vec<String> = cases.iter().map(|c| c.office.clone()).collect();
        offices.sort();
        offices.dedup();
        let mut nationality = top.clone();
        nationality.extend(strings(&["other", "unknown"]));
        let lists = vec![
            strings(&["female", "male", "other_unknown"]),
            strings(AGE_BANDS),
            strings(AGE_BANDS),
            strings(&["yes", "no", "not_screened"]),
            nationality,
            strings(&["unaccompanied", "separated", "accompanied", "unknown"]),
            strings(&["uasc", "accompanied_child_at_risk", "family_with_children", "other"]),
            strings(&["presumed_or_identified", "not_identified"]),
            strings(LEGAL_STATUS),
            strings(&["high", "medium", "low", "unknown"]),
            offices,
        ];
        let mut lists = lists;
        // Every corridor and every area of the level the configuration has
        // (retired ones included: old records still fall in them), so a
        // report's categories do not depend on which cases it holds.
        let mut corridors: Vec<String> = Vec::new();
        for a in &geo.areas.areas {
            for c in &a.corridors {
                if !corridors.contains(c) {
                    corridors.push(c.clone());
                }
            }
        }
        corridors.push("unknown".into());
        let mut areas: Vec<String> =
            geo.areas.areas.iter().filter(|a| a.level == geo.level).map(|a| a.code.clone()).collect();
        areas.push("unknown".into());
        lists.push(corridors);
        lists.push(areas);
        let mut names: Vec<String> = strings(DIMENSIONS);
        names.push(CORRIDOR.into());
        names.push(admin_area_dimension(geo.level));
        Categories { names, lists, top_nationalities: top, geo: geo.clone() }
    }

    /// The category index of each dimension for one case.
    pub fn of(&self, c: &CaseData, period_end: NaiveDate) -> Vec<usize> {
        let reg = registration_date(c);
        let area = c.str("registration_bia", "current_admin_area");
        let path = area.map(|code| self.geo.areas.path(code)).unwrap_or_default();
        let corridor = path.first().and_then(|country| country.corridors.first()).cloned();
        let at_level = path.iter().find(|a| a.level == self.geo.level).map(|a| a.code.clone());
        let names: [String; 13] = [
            match c.sex.as_deref() {
                Some("female") => "female",
                Some("male") => "male",
                _ => "other_unknown",
            }
            .to_string(),
            age_band(age_at(c, reg)).to_string(),
            age_band(age_at(c, period_end)).to_string(),
            disability(c).to_string(),
            match first_nationality(c) {
                Some(n) if self.top_nationalities.iter().any(|t| t == n) => n.to_string(),
                Some(_) => "other".into(),
                None => "unknown".into(),
            },
            c.str("registration_bia", "child_status").unwrap_or("unknown").to_string(),
            c.case_type.clone(),
            if is_vot(c) { "presumed_or_identified" } else { "not_identified" }.to_string(),
            c.str("registration_bia", "legal_status").unwrap_or("unknown").to_string(),
            c.risk_level.clone().unwrap_or_else(|| "unknown".into()),
            c.office.clone(),
            // A case without an area, or placed only above the level, is
            // "unknown" there.
            corridor.unwrap_or_else(|| "unknown".into()),
            at_level.unwrap_or_else(|| "unknown".into()),
        ];
        names
            .iter()
            .zip(&self.lists)
            .map(|(name, list)| {
                // A value outside the list (an older form version) goes to the
                // list's last category ("unknown"/"other") so sums still hold.
                list.iter().position(|x| x == name).unwrap_or(list.len() - 1)
            })
            .collect()
    }
}

/// The registration date: the form's `registration_date`, else the day the
/// case was created.
pub(crate) fn registration_date(c: &CaseData) -> NaiveDate {
    c.date("registration_bia", "registration_date").unwrap_or(c.created)
}

/// Age in whole years on `day`: from the date of birth, else from the age
/// recorded at registration plus the years since; a disputed age is the
/// declared one (R13, [`crate::model::age::child_age`]).
pub(crate) fn age_at(c: &CaseData, day: NaiveDate) -> Option<i64> {
    let known = crate::model::age::child_age(c);
    if let Some(dob) = known.date_of_birth {
        let mut years = i64::from(day.year() - dob.year());
        if (day.month(), day.day()) < (dob.month(), dob.day()) {
            years -= 1;
        }
        return (years >= 0).then_some(years);
    }
    let age = known.age_years?;
    let elapsed = (day - registration_date(c)).num_days().max(0) / 365;
    Some(age.floor() as i64 + elapsed)
}

fn age_band(age: Option<i64>) -> &'static str {
    match age {
        Some(0..=4) => "0-4",
        Some(5..=9) => "5-9",
        Some(10..=14) => "10-14",
        Some(15..=17) => "15-17",
        Some(18..) => "18+",
        _ => "unknown",
    }
}

/// CFM (Washington Group/UNICEF Child Functioning Module): a functional
/// difficulty is "a lot of difficulty" or "cannot do at all" in any domain
/// (the module's standard cut-off); no responses = not screened.
fn disability(c: &CaseData) -> &'static str {
    match c.value("registration_bia", "cfm_responses") {
        Some(Val::List(rows)) if !rows.is_empty() => {
            let difficulty = rows.iter().any(|r| {
                matches!(r.get("rating").and_then(Val::as_str), Some("a_lot_of_difficulty" | "cannot_do_at_all"))
            });
            if difficulty {
                "yes"
            } else {
                "no"
            }
        }
        _ => "not_screened",
    }
}

fn first_nationality(c: &CaseData) -> Option<&str> {
    match c.value("registration_bia", "nationality")? {
        Val::List(a) => a.first().and_then(Val::as_str),
        v => v.as_str(),
    }
}

/// Victim of trafficking presumed or identified: the legal status says so,
/// or trafficking is a recorded protection concern.
pub(crate) fn is_vot(c: &CaseData) -> bool {
    matches!(c.str("registration_bia", "legal_status"), Some("vot_presumed" | "vot_identified"))
        || c.has_option("registration_bia", "protection_concerns", "trafficking")
}
