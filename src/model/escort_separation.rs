//! R14, escort and separation by sex (docs/domain.md, Hard rules): a girl
//! travelling under the programme has a female escort, and a shelter keeps
//! children apart by sex and age.
//!
//! **Escort.** The reintegration plan (F6 for an unaccompanied or separated
//! child, F7 for a family) says who escorts the child (`escort_sex`, and
//! `no_escort_reason` when the child travels with their family or does not
//! travel). A girl has a female escort or none needed; so does a child
//! whose sex is recorded as other or unknown, because a female escort is
//! the arrangement that is safe whichever reading is right. A boy may have
//! any escort, but the plan still says which, so the record can be
//! checked. [`plan_save`] refuses a save that gives a girl a male escort;
//! [`before_arrival`] refuses the move to `reintegration` (the child
//! travels, arrives and is handed over) while the plan does not say who
//! escorts the child or gives a girl no female escort. The plans' version
//! 2 added the escort fields, so a move made before that version's date is
//! not judged by them (`FormDef::version_date`): it keeps its meaning when
//! another device imports it.
//!
//! **Separation in shelters.** A facility's minimum-standards check (F5)
//! that passes while children are not separated by sex and age is refused
//! ([`separation_not_ensured`], next to R6's list of failed items). A child
//! placed in a facility whose latest check says they are not separated is
//! a task, not a refusal ([`separation_tasks`]): the placement records
//! where the child is, and refusing it would leave the record wrong while
//! the child stays there; the task asks to separate the children or move
//! the child, and ends with a later check that says separation is ensured
//! or with the end of the placement.

use chrono::{Days, NaiveDate};
use serde_json::{Map, Value};

use crate::model::event::Event;
use crate::model::forms;
use crate::model::lifecycle::{CaseFacts, RuleViolation};
use crate::model::tasks::{Task, TaskKind};
use crate::model::violation::ViolationCode;

/// The rule code of every refusal here.
pub const RULE: &str = "R14";

/// The escort a girl may have: a woman among the escorts, or none needed.
const SAFE_FOR_A_GIRL: &[&str] = &["female", "none_needed"];

/// Care arrangements (`care_arrangement_type`) that place a child in a
/// facility with other children.
const FACILITY_CARE: &[&str] =
    &["temporary_care_facility", "residential_care_long_term", "supervised_independent_living"];

/// F5 provider types that are facilities (where `sex_age_separation` applies).
const FACILITY_CHECK: &[&str] = &["state_facility", "ngo_facility", "supervised_independent_living"];

/// Days a child may stay in a facility that does not separate children
/// before the task is overdue: time to separate them or move the child.
const SEPARATION_DAYS: u64 = 3;

/// The reintegration plan of the case's type.
fn plan_form(f: &CaseFacts) -> &'static str {
    if f.is_uasc() {
        "reintegration_uasc"
    } else {
        "reintegration_family"
    }
}

/// Who the girl's rule protects, as the refusal names them; `None` for a boy.
fn needs_female_escort(f: &CaseFacts) -> Option<ViolationCode> {
    match f.str_value("registration_bia", "sex") {
        Some("male") => None,
        Some("female") => Some(ViolationCode::GirlMaleEscortOnly),
        _ => Some(ViolationCode::ChildMaleEscortOnly),
    }
}

fn male_escort_for(code: ViolationCode) -> RuleViolation {
    RuleViolation::new(RULE, code, &[])
}

/// R14 on a save of a reintegration plan that writes the escort: a girl (or
/// a child whose sex is other or unknown) is not given a male escort only.
/// A save that leaves the escort alone is not held to it.
pub fn plan_save(f: &CaseFacts, form: &str, values: &Map<String, Value>) -> Option<RuleViolation> {
    if !matches!(form, "reintegration_uasc" | "reintegration_family") {
        return None;
    }
    let escort = values.get("escort_sex").and_then(Value::as_str)?;
    let who = needs_female_escort(f)?;
    (!SAFE_FOR_A_GIRL.contains(&escort)).then(|| male_escort_for(who))
}

/// R14 on the move to `reintegration`: the plan says who escorts the child,
/// and a girl's escort is female (or none is needed). A move made before
/// the plan's version with the escort fields took effect is not judged.
pub fn before_arrival(f: &CaseFacts, e: &Event) -> Option<RuleViolation> {
    let plan = plan_form(f);
    let def = forms::registry().get(plan)?;
    if !def.version_applies_on(crate::model::lifecycle::event_date(e)) {
        return None;
    }
    match (f.str_value(plan, "escort_sex"), needs_female_escort(f)) {
        (None, _) => Some(RuleViolation::new(RULE, ViolationCode::EscortNotRecorded, &[("plan", &plan)])),
        (Some(escort), Some(who)) if !SAFE_FOR_A_GIRL.contains(&escort) => Some(male_escort_for(who)),
        _ => None,
    }
}

/// R14 beside R6's list of failed items: a facility check that would pass
/// while children are not separated by sex and age.
pub fn separation_not_ensured(failed: &[&str]) -> Option<RuleViolation> {
    failed.contains(&"sex_age_separation").then(|| RuleViolation::new(RULE, ViolationCode::ChildrenNotSeparated, &[]))
}

fn item_str<'a>(item: &'a Value, field: &str) -> Option<&'a str> {
    item.get(field).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

fn item_date(item: &Value, field: &str) -> Option<NaiveDate> {
    let s = item.get(field)?.as_str()?;
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

/// Where the child lives now, when it is a facility: its name (if the
/// record gives one) and the day the placement began (if known). The latest
/// placement (F17) decides; a case with no placement record reads F1's
/// care arrangement.
fn current_facility(f: &CaseFacts) -> Option<(Option<String>, Option<NaiveDate>)> {
    let latest = f
        .items("placement")
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some(((item_date(p, "start_date")?, i), p)))
        .max_by_key(|(key, _)| *key)
        .map(|(_, p)| p);
    match latest {
        Some(p) => {
            let placed = item_str(p, "care_arrangement").is_some_and(|c| FACILITY_CARE.contains(&c));
            (placed && item_date(p, "end_date").is_none())
                .then(|| (item_str(p, "facility_name").map(str::to_string), item_date(p, "start_date")))
        }
        None => f
            .str_value("registration_bia", "care_arrangement")
            .is_some_and(|c| FACILITY_CARE.contains(&c))
            .then_some((None, None)),
    }
}

/// R14 in shelters: a child placed in a facility whose latest check (F5)
/// says children are not separated by sex and age. Due three days after
/// the later of that check and the placement, listed at once, until a
/// later check says separation is ensured or the placement ends. The check
/// is the facility's by name when the placement names one, else the
/// case's latest facility check.
pub fn separation_tasks(f: &CaseFacts, today: NaiveDate) -> Vec<Task> {
    let Some((facility, since)) = current_facility(f) else {
        return Vec::new();
    };
    let same = |check: &Value| match (&facility, item_str(check, "facility_name")) {
        (None, _) => true,
        (Some(want), Some(name)) => want.to_lowercase() == name.to_lowercase(),
        (Some(_), None) => false,
    };
    let latest = f
        .items("temporary_care")
        .iter()
        .enumerate()
        .filter(|(_, c)| item_str(c, "provider_type").is_some_and(|t| FACILITY_CHECK.contains(&t)) && same(c))
        .filter_map(|(i, c)| Some(((item_date(c, "date")?, i), c)))
        .max_by_key(|(key, _)| *key);
    let Some(((checked, _), check)) = latest else {
        return Vec::new();
    };
    if check.get("sex_age_separation").and_then(Value::as_bool) != Some(false) {
        return Vec::new();
    }
    let due = checked.max(since.unwrap_or(checked)) + Days::new(SEPARATION_DAYS);
    let name = facility.as_deref().or_else(|| item_str(check, "facility_name")).unwrap_or("the facility");
    vec![Task {
        case_id: f.case_id,
        kind: TaskKind::SeparationBySex,
        due,
        overdue_days: if today > due { (today - due).num_days() } else { 0 },
        title: format!(
            "Children are not separated by sex and age at {name} (check of {checked}): separate them or move the child"
        ),
    }]
}
