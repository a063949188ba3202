//! The indicators of docs/reports.md: each one's definition (as printed in the
//! report) next to the code that computes it.
//!
//! Every indicator is computed as a list of observations, one per child (or
//! per referral/transfer for 20–21) with the child's disaggregation
//! categories, so every breakdown adds up to the total by construction.
use std::collections::{BTreeMap, HashSet};

use chrono::{Days, Months, NaiveDate, NaiveTime};
use serde_json::Value;
use uuid::Uuid;

use super::dims::{self, Categories};
use super::load::{date_of_millis, CaseData, Item};
use super::value::Val;
use super::{Breakdown, Cell, Exclusions, IndicatorResult, Measure, Report, ReportOptions};
use crate::model::lifecycle::{CaseFacts, Stage};
use crate::model::tasks;

/// An indicator's fixed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Definition {
    /// `"1"` … `"25c"`.
    pub id: &'static str,
    /// Short name.
    pub title: &'static str,
    /// What is counted: the text printed next to the figures.
    pub definition: &'static str,
    /// How it is measured.
    pub measure: Measure,
}

const fn def(id: &'static str, title: &'static str, definition: &'static str, measure: Measure) -> Definition {
    Definition { id, title, definition, measure }
}

use Measure::{Count, MedianDays, Percent, Ratio};

/// Every indicator, in report order. The common exclusions (merged,
/// duplicate, erased; closed as transferred/duplicate/opened in error) are
/// stated once in the report header and in docs/reports.md.
const DEFINITIONS: &[Definition] = &[
    def("1", "New registrations", "Children whose registration date (F1 registration_date, else the day the case was created) falls in the period; see the case_type breakdown.", Count),
    def("2", "Active caseload", "Cases open at the end of the period (any stage except closed, transferred out, duplicate); see the stage breakdown.", Count),
    def("3a", "Caseload per caseworker", "Cases open at period end ÷ caseworkers with at least one of them (the currently assigned caseworker).", Ratio),
    def("3b", "Risk-weighted caseload per caseworker", "As 3a with each case weighted by its risk level: high = 3, medium = 2, low or not rated = 1.", Ratio),
    def("4", "BIA timeliness", "Of UASC (case type uasc, or child status unaccompanied/separated) registered in the period: % with the BIA completed (bia_completed_on, else entry into bia_completed) ≤ 14 days after registration.", Percent),
    def("5", "High-risk response", "Of cases first rated high risk in the period (the first saved risk_level = high on any form): % with a contact note (contact, phone, home or office visit) or a follow-up visit within 24 hours after the rating.", Percent),
    def("6", "BID before return", "Of UASC returned in the period (entered reintegration with the BID's decided solution return_reintegration): % with an approving BID (approves_recommendation) whose panel date is on or before the return. Target 100%.", Percent),
    def("7", "Full pre-return safeguards", "Of UASC returned in the period (as 6): % whose BID pre-return checklist has all R1 items (a)–(f) done and dated on or before the return.", Percent),
    def("8", "Registration to BID", "Median days from registration to the BID decision (panel date, else entry into bid_decided), for BIDs decided in the period.", MedianDays),
    def("9", "Registration to durable solution", "Median days from registration to the implementation of the durable solution (entry into reintegration), for solutions implemented in the period.", MedianDays),
    def("10", "Tracing success", "Of children with tracing opened (entry into tracing, or a family tracing request sent to a partner abroad) at least 90 days before period end: % whose family was located by period end (a relative with tracing status family_located or later, or entry into family_assessment).", Percent),
    def("11", "Verification rate", "Of children with a located family by period end: % with a relative whose relationship_verified is true (counted per child).", Percent),
    def("12", "Reunification", "Of UASC active in the period: % reunified/returned (entry into reintegration) or placed in family-based temporary care (foster or kinship placement dated) in the period.", Percent),
    def("13", "Family-based care", "Of UASC open at period end with a recorded care arrangement: % in parents/kinship/foster/kafala/supervised independent living care (current F1 care_arrangement) rather than a facility or other arrangement.", Percent),
    def("14", "Children in detention", "Cases open at period end with the protection concern deprived_of_liberty recorded (F1 protection_concerns). Target 0.", Count),
    def("15", "Facility standards", "Of children open at period end with a temporary care placement: % whose current placement's latest F5 assessment result is meets.", Percent),
    def("16a", "Follow-up coverage at 6 months", "Of children reintegrated ≥ 6 months before period end: % with ≥ 5 completed visits (child seen) by period end.", Percent),
    def("16b", "Follow-up coverage at 12 months", "Of children reintegrated ≥ 12 months before period end: % with ≥ 7 completed visits (child seen) by period end.", Percent),
    def("17", "Long monitoring", "Of children reintegrated ≥ 30 months before period end: % with a visit (child seen) in the window of the +30-month visit (from 30 months − 21 days after reintegration) by period end.", Percent),
    def("18a", "Overdue follow-ups", "Cases in follow_up at period end with ≥ 1 scheduled visit (the follow-up schedule from reintegration) past its deadline and not done, or a follow-up report asked of a partner abroad past its due date and neither answered nor withdrawn.", Count),
    def("18b", "Overdue follow-ups (%)", "Of cases in follow_up at period end: % with ≥ 1 overdue visit or overdue follow-up report from a partner.", Percent),
    def("18c", "Days overdue", "Of cases with an overdue visit or partner report at period end: median days since the oldest missed deadline or due date.", MedianDays),
    def("19", "Child's views in BID", "Of BIDs decided in the period: % with the child interview recorded and the child heard alone, or a recorded reason the views were not obtained (F1 views_not_obtained_reason).", Percent),
    def("20", "Consent before sharing", "Of referrals made and transfers out in the period (counted each): % with matching consent dated on or before the sharing (the referral's consent, or F1 consent scope referral_sharing / cross_border_transfer; the transfer consent). Unit: referrals and transfers, not children; each is broken down by its child's categories.", Percent),
    def("21", "Referral completion", "Of referrals made in the period (counted each): % implemented (status implemented, implemented_date ≤ 30 days after the referral date and by period end). Unit: referrals, not children.", Percent),
    def("21b", "Service outcomes", "Referrals and services whose outcome (disposition) is dated in the period, by disposition (see the disposition breakdown). Unit: referrals, not children.", Count),
    def("21c", "Unmet service needs", "Of referrals whose outcome is dated in the period: % whose disposition is service_unavailable (the need could not be met; already_received_elsewhere is not counted as unmet), also by service type. Unit: referrals, not children.", Percent),
    def("22", "Breakdown", "Of children reunified/returned from 12 months before the period start to its end: % whose case was reopened, or who re-migrated (visit: remigration already_left or not seen because re_migrated), within 12 months of reintegration and by period end.", Percent),
    def("23a", "Closures", "Cases closed in the period, by closure reason (see the closure_reason breakdown).", Count),
    def("23b", "Closures with goals met", "Of cases closed in the period (outcome exclusions applied): % closed as goals_met or goals_substantially_met.", Percent),
    def("24", "Aged-out transition", "Of children whose 18th birthday (date of birth, else estimated as the lifecycle rules do) falls in the period: % with a transition plan written ≥ 3 months before the birthday.", Percent),
    def("25a", "Unresolved conflicts", "Cases with a field conflict still unresolved whose oldest competing write is more than 7 days before period end (current state of the database).", Count),
    def("25b", "Suspected duplicates pending", "Children in a flagged suspected duplicate pair still awaiting review: flagged by the latest duplicate check (`fieldcase duplicates` or the app's duplicates screen, score ≥ 0.5) or by an import since, and neither merged nor reviewed as different children (case.not_duplicate, or a merge split back). Each child counted once; current state of this vault, as of its latest check.", Count),
    def("25c", "Registrations later merged", "Of children registered in the period, merged cases included: % later merged into another case as duplicates.", Percent),
    def("26a", "Incidents", "Incidents (F19) whose date falls in the period, each counted; see the violence_type breakdown. Unit: incidents, not children.", Count),
    def("26b", "Incidents reported", "Of incidents dated in the period whose reporting is recorded: % reported (to the police, health or social services, the UN or an NGO, a community leader or other). Unit: incidents, not children.", Percent),
    def("27", "School attendance", "Of children aged 6-17 at period end, open at period end, with a schooling check (F20) on or before period end: % whose latest check says attending school or training.", Percent),
    def("28", "Case conferences", "Case conferences (F21, meetings other than the BID panel) held in the period, each counted; see the conference_type breakdown. Unit: conferences, not children.", Count),
];

/// Every indicator's id, title, definition and measure, in report order.
pub fn definitions() -> &'static [Definition] {
    DEFINITIONS
}

const CLOSED_STAGES: &[&str] = &["closed", "transferred_out", "duplicate"];
const FAMILY_BASED: &[&str] = &[
    "parents",
    "step_parent",
    "customary_caregiver",
    "adult_sibling",
    "kinship_extended_family",
    "foster_care",
    "emergency_foster_care",
    "kafala",
    "supervised_independent_living",
];
const LOCATED: &[&str] = &["family_located", "verification_pending", "verified", "verification_failed", "reunified"];
const CLOSURE_REASONS: &[&str] = &[
    "goals_met",
    "goals_substantially_met",
    "turned_18",
    "departed_durable_solution_no_partner",
    "relocated_no_partner",
    "lost_contact",
    "child_refuses_services",
    "death_of_child",
    "no_further_action_possible",
    "opened_in_error",
    "transferred",
    "duplicate",
    "other",
    "unknown",
];
/// F9 `disposition` values, in the form's order: the 21b breakdown.
const DISPOSITIONS: &[&str] = &[
    "service_received",
    "service_unavailable",
    "already_received_elsewhere",
    "declined_by_child_or_family",
    "not_eligible",
    "did_not_attend",
    "lost_contact",
];
const CONTACT_NOTES: &[&str] = &["contact", "phone", "home_visit", "office_visit"];

/// One observation: a child (or referral) in an indicator's population.
struct Obs {
    case: usize,
    num: bool,
    value: f64,
    group: Option<String>,
    extra: Option<usize>,
}

fn obs(case: usize, num: bool) -> Obs {
    Obs { case, num, value: 0.0, group: None, extra: None }
}

fn in_period(d: NaiveDate, o: &ReportOptions) -> bool {
    o.from <= d && d <= o.to
}

// ---- case facts the indicators share ----

fn stage_at(c: &CaseData, day: NaiveDate) -> Option<&str> {
    c.stages.iter().rev().find(|(_, d)| *d <= day).map(|(s, _)| s.as_str())
}

fn open_at(c: &CaseData, day: NaiveDate) -> bool {
    stage_at(c, day).is_some_and(|s| !CLOSED_STAGES.contains(&s))
}

fn active_in(c: &CaseData, o: &ReportOptions) -> bool {
    open_at(c, o.from) || c.stages.iter().any(|(s, d)| in_period(*d, o) && !CLOSED_STAGES.contains(&s.as_str()))
}

/// The kind of request to a partner abroad that opens tracing (10).
const PARTNER_TRACING: &str = "family_tracing";
/// The kind whose late answer is an overdue follow-up (18): the follow-up
/// of a child reintegrated in the partner's country, reported by it.
const PARTNER_FOLLOW_UP: &str = "follow_up_report";

/// The requests to partners abroad of `kind` in a case (docs/reports.md,
/// "Requests to partners abroad").
fn partner_requests<'a>(c: &'a CaseData, kind: &'a str) -> impl Iterator<Item = &'a Item> + 'a {
    c.items("partner_request").iter().filter(move |r| r.str("request_kind") == Some(kind))
}

/// The due dates, before `day`, of the follow-up reports asked of a
/// partner that were sent by `day` and neither answered nor withdrawn by
/// then: each is an overdue follow-up, as a missed visit is.
fn partner_reports_overdue(c: &CaseData, day: NaiveDate) -> impl Iterator<Item = NaiveDate> + '_ {
    partner_requests(c, PARTNER_FOLLOW_UP).filter_map(move |r| {
        let by = |field: &str| r.date(field).is_some_and(|d| d <= day);
        let due = r.date("due_date")?;
        (by("sent_date") && !by("answered_date") && !by("withdrawn_date") && due < day).then_some(due)
    })
}

/// When tracing was opened: entry into `tracing`, or a family tracing
/// request sent to a partner abroad (cross-border tracing: the partner
/// traces), whichever came first.
fn tracing_opened(c: &CaseData) -> Option<NaiveDate> {
    let request = partner_requests(c, PARTNER_TRACING).filter_map(|r| r.date("sent_date")).min();
    first_entered(c, "tracing").into_iter().chain(request).min()
}

fn first_entered(c: &CaseData, stage: &str) -> Option<NaiveDate> {
    c.stages.iter().find(|(s, _)| s == stage).map(|(_, d)| *d)
}

fn entries<'a>(c: &'a CaseData, stage: &str) -> impl Iterator<Item = NaiveDate> + 'a {
    let stage = stage.to_string();
    c.stages.iter().filter(move |(s, _)| *s == stage).map(|(_, d)| *d)
}

fn is_uasc(c: &CaseData) -> bool {
    c.case_type == "uasc" || matches!(c.str("registration_bia", "child_status"), Some("unaccompanied" | "separated"))
}

fn closure_reason(c: &CaseData) -> Option<&str> {
    c.str("closure_transfer", "closure_reason")
}

/// Left out of denominators: closed as transferred, duplicate or opened in
/// error, or transferred out.
/// The values of a shared value list, in its order (a breakdown's
/// categories; configuration additions are not in the built-in registry).
fn list_values(list: &str) -> Vec<&'static str> {
    crate::model::forms::registry()
        .value_list(list)
        .map(|l| l.options.iter().map(|o| o.value.as_str()).collect())
        .unwrap_or_default()
}

/// The options of a field's own list, in the form's order.
fn list_values_of(form: &str, field: &str) -> Vec<&'static str> {
    crate::model::forms::registry()
        .get(form)
        .and_then(|d| d.field(field))
        .map(|f| f.options.iter().map(|o| o.value.as_str()).collect())
        .unwrap_or_default()
}

fn excluded_from_denominators(c: &CaseData) -> bool {
    c.stage == "transferred_out" || matches!(closure_reason(c), Some("transferred" | "duplicate" | "opened_in_error"))
}

/// Outcome indicators also leave out deaths and relocations without a partner.
fn excluded_from_outcomes(c: &CaseData) -> bool {
    excluded_from_denominators(c) || matches!(closure_reason(c), Some("death_of_child" | "relocated_no_partner"))
}

/// When the durable solution was implemented (first entry into reintegration).
fn reintegrated(c: &CaseData) -> Option<NaiveDate> {
    first_entered(c, "reintegration")
}

fn bid_decided(c: &CaseData) -> Option<NaiveDate> {
    let stage = entries(c, "bid_decided").last()?;
    Some(c.date("bid", "panel_date").unwrap_or(stage))
}

fn is_return(c: &CaseData) -> bool {
    c.str("bid", "decided_solution") == Some("return_reintegration")
}

fn located_by(c: &CaseData, day: NaiveDate) -> bool {
    entries(c, "family_assessment").any(|d| d <= day)
        || c.items("family_tracing").iter().any(|i| {
            i.date("date_family_located")
                .map_or(i.str("tracing_status").is_some_and(|s| LOCATED.contains(&s)), |d| d <= day)
        })
}

fn seen_visits(c: &CaseData, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    c.items("follow_up_visit")
        .iter()
        .filter(|v| v.bool("child_seen") == Some(true))
        .filter_map(|v| v.date("visit_date"))
        .filter(|d| *d >= from && *d <= to)
        .collect()
}

fn consent_date(v: Option<&Val>) -> Option<NaiveDate> {
    v.and_then(|v| v.get("date")).and_then(super::load::parse_date)
}

fn months_before(d: NaiveDate, m: u32) -> NaiveDate {
    d.checked_sub_months(Months::new(m)).unwrap_or(NaiveDate::MIN)
}

fn months_after(d: NaiveDate, m: u32) -> NaiveDate {
    d.checked_add_months(Months::new(m)).unwrap_or(NaiveDate::MAX)
}

fn end_of_day_millis(d: NaiveDate) -> i64 {
    d.and_time(NaiveTime::MIN).and_utc().timestamp_millis() + 86_400_000 - 1
}

fn note_millis(i: &Item) -> i64 {
    i.str("note_datetime")
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map_or(i.created_millis, |d| d.timestamp_millis())
}

fn eighteenth_birthday(c: &CaseData) -> Option<NaiveDate> {
    let stage = Stage::parse(&c.stage).unwrap_or(Stage::Identified);
    let mut facts = CaseFacts::new(Uuid::nil(), &c.case_type, stage);
    if let Some(dob) = c.date_of_birth {
        facts.values.insert("registration_bia.date_of_birth".into(), Value::String(dob.to_string()));
    }
    if let Some(age) = c.age_years.and_then(serde_json::Number::from_f64) {
        facts.values.insert("registration_bia.age_years".into(), Value::Number(age));
    }
    if let Some(reg) = c.value("registration_bia", "registration_date") {
        facts.values.insert("registration_bia.registration_date".into(), reg.to_json());
    }
    // R13: the task rule reads a disputed age as the declared one.
    for (form, field) in [
        ("registration_bia", "age_basis"),
        ("age_assessment", "declared_age"),
        ("age_assessment", "declared_date_of_birth"),
        ("age_assessment", "disputed"),
        ("age_assessment", "benefit_of_doubt"),
    ] {
        if let Some(v) = c.value(form, field) {
            facts.values.insert(format!("{form}.{field}"), v.to_json());
        }
    }
    facts.stage_dates = c.stages.iter().filter_map(|(s, d)| Some((Stage::parse(s)?, *d))).collect();
    tasks::eighteenth_birthday(&facts)
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 { v[m] } else { (v[m - 1] + v[m]) / 2.0 })
}

// ---- aggregation ----

/// A count or percent cell from its counts (no observation list needed).
fn counted_cell(category: &str, measure: Measure, n: u64, num: u64) -> Cell {
    let mut c = Cell {
        category: category.into(),
        value: Some(n as f64),
        numerator: None,
        denominator: None,
        n: Some(n),
        suppressed: None,
    };
    if measure == Percent {
        c.numerator = Some(num);
        c.denominator = Some(n);
        c.value = (n > 0).then(|| (num as f64 * 1000.0 / n as f64).round() / 10.0);
    }
    c
}

fn cell(category: &str, measure: Measure, obs: &[&Obs]) -> Cell {
    let n = obs.len() as u64;
    let mut c = Cell {
        category: category.into(),
        value: None,
        numerator: None,
        denominator: None,
        n: Some(n),
        suppressed: None,
    };
    match measure {
        Count | Percent => return counted_cell(category, measure, n, obs.iter().filter(|o| o.num).count() as u64),
        MedianDays => c.value = median(obs.iter().map(|o| o.value).collect()),
        Ratio => {
            let groups: HashSet<&str> = obs.iter().filter_map(|o| o.group.as_deref()).collect();
            let weight: f64 = obs.iter().map(|o| o.value).sum();
            c.denominator = Some(groups.len() as u64);
            c.value = (!groups.is_empty()).then(|| (weight * 100.0 / groups.len() as f64).round() / 100.0);
        }
    }
    c
}

struct Ctx<'a> {
    cases: Vec<&'a CaseData>,
    dims: Vec<Vec<usize>>,
    cats: Categories,
    /// Per case: (left out of denominators, left out of outcomes), worked
    /// out once instead of once per indicator.
    excluded: Vec<(bool, bool)>,
}

impl Ctx<'_> {
    fn result(&self, id: &str, all: Vec<Obs>, extra: Option<(&str, &[&str])>) -> IndicatorResult {
        let d = DEFINITIONS.iter().find(|d| d.id == id).copied().unwrap_or(DEFINITIONS[0]);
        let refs: Vec<&Obs> = all.iter().collect();
        let mut breakdowns = Vec::new();
        if let Some((name, list)) = extra {
            let cells = list
                .iter()
                .enumerate()
                .map(|(k, cat)| {
                    let sub: Vec<&Obs> = refs.iter().copied().filter(|o| o.extra == Some(k)).collect();
                    cell(cat, d.measure, &sub)
                })
                .collect();
            breakdowns.push(Breakdown { dimension: name.into(), cells });
        }
        // One pass per dimension: bucket the observations by category (or
        // just count them, for counts and percentages).
        for (j, name) in self.cats.names.iter().enumerate() {
            let list = &self.cats.lists[j];
            if matches!(d.measure, Count | Percent) {
                let mut counts = vec![(0u64, 0u64); list.len()];
                for o in &all {
                    if let Some(k) = counts.get_mut(self.dims[o.case][j]) {
                        k.0 += 1;
                        k.1 += u64::from(o.num);
                    }
                }
                let cells =
                    list.iter().zip(&counts).map(|(cat, (n, num))| counted_cell(cat, d.measure, *n, *num)).collect();
                breakdowns.push(Breakdown { dimension: name.clone(), cells });
                continue;
            }
            let mut buckets: Vec<Vec<&Obs>> = vec![Vec::new(); list.len()];
            for o in &refs {
                if let Some(b) = buckets.get_mut(self.dims[o.case][j]) {
                    b.push(o);
                }
            }
            let cells = list.iter().zip(&buckets).map(|(cat, sub)| cell(cat, d.measure, sub)).collect();
            breakdowns.push(Breakdown { dimension: name.clone(), cells });
        }
        IndicatorResult {
            id: d.id.into(),
            title: d.title.into(),
            definition: d.definition.into(),
            measure: d.measure,
            total: cell("total", d.measure, &refs),
            breakdowns,
        }
    }

    /// Observations over the counted cases (not merged/erased, not
    /// transferred/duplicate/opened in error) that `f` selects.
    fn each(&self, outcome: bool, mut f: impl FnMut(usize, &CaseData) -> Option<Obs>) -> Vec<Obs> {
        self.cases
            .iter()
            .zip(&self.excluded)
            .enumerate()
            .filter(|(_, (_, (denominators, outcomes)))| !(if outcome { *outcomes } else { *denominators }))
            .filter_map(|(i, (c, _))| f(i, c))
            .collect()
    }
}

/// Compute every indicator over the loaded cases (no suppression).
///
/// `pending_duplicates` holds the ids of the cases in a suspected duplicate
/// pair not merged yet (indicator 25b).
pub(crate) fn compute(
    all: &[CaseData],
    o: &ReportOptions,
    pending_duplicates: &HashSet<String>,
    geo: &super::Geography,
) -> Report {
    let mut exclusions = Exclusions::default();
    for c in all {
        if c.erased {
            exclusions.erased += 1;
        } else if c.merged || c.stage == "duplicate" {
            exclusions.merged_or_duplicate += 1;
        }
    }
    let counted: Vec<&CaseData> = all.iter().filter(|c| !(c.erased || c.merged || c.stage == "duplicate")).collect();
    let cats = Categories::new(&counted, geo);
    let dims = counted.iter().map(|c| cats.of(c, o.to)).collect();
    let excluded = counted.iter().map(|c| (excluded_from_denominators(c), excluded_from_outcomes(c))).collect();
    let x = Ctx { cases: counted, dims, cats, excluded };
    // Two halves on two threads: the indicators are independent reads of
    // the same cases, and the report waits for both.
    let first_half = || {
        let mut out = Vec::new();
        registrations_and_caseload(&x, o, &mut out);
        first_response(&x, o, &mut out);
        returns(&x, o, &mut out);
        durations(&x, o, &mut out);
        tracing(&x, o, &mut out);
        family_and_liberty(&x, o, &mut out);
        out
    };
    let second_half = || {
        let mut out = Vec::new();
        care_and_follow_up(&x, o, &mut out);
        views_and_consent(&x, o, &mut out);
        referrals(&x, o, &mut out);
        outcomes(&x, o, &mut out);
        data_quality(&x, o, all, pending_duplicates, &mut out);
        incidents_school_conferences(&x, o, &mut out);
        out
    };
    let out = std::thread::scope(|s| {
        let first = s.spawn(first_half);
        let second = second_half();
        let mut out = first.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        out.extend(second);
        out
    });
    Report {
        from: o.from,
        to: o.to,
        office: o.office.clone(),
        suppressed: false,
        threshold: super::THRESHOLD,
        exclusions,
        indicators: out,
    }
}

/// 1–3: new registrations, the active caseload by stage, the caseload per caseworker.
fn registrations_and_caseload(x: &Ctx<'_>, o: &ReportOptions, out: &mut Vec<IndicatorResult>) {
    let to = o.to;

    // 1. New registrations.
    out.push(x.result("1", x.each(false, |i, c| in_period(dims::registration_date(c), o).then(|| obs(i, true))), None));

    // 2. Active caseload, by stage.
    let stages: Vec<&str> = Stage::ALL.iter().map(|s| s.as_str()).collect();
    let v = x.each(false, |i, c| {
        let s = stage_at(c, to).filter(|s| !CLOSED_STAGES.contains(s))?;
        Some(Obs { extra: stages.iter().position(|x| *x == s), ..obs(i, true) })
    });
    out.push(x.result("2", v, Some(("stage", &stages))));

    // 3. Caseload per caseworker.
    for (id, weighted) in [("3a", false), ("3b", true)] {
        let v = x.each(false, |i, c| {
            if !open_at(c, to) {
                return None;
            }
            let w = match (weighted, c.risk_level.as_deref()) {
                (false, _) => 1.0,
                (true, Some("high")) => 3.0,
                (true, Some("medium")) => 2.0,
                (true, _) => 1.0,
            };
            Some(Obs { value: w, group: c.caseworker.clone(), ..obs(i, true) })
        });
        out.push(x.result(id, v, None));
    }
}

/// 4–5: BIA timeliness and the response to a high-risk rating.
fn first_response(x: &Ctx<'_>, o: &ReportOptions, out: &mut Vec<IndicatorResult>) {
    let to = o.to;
    // 4. BIA timeliness.
    let v = x.each(false, |i, c| {
        let reg = dims::registration_date(c);
        if !is_uasc(c) || !in_period(reg, o) {
            return None;
        }
        let done = c.date("registration_bia", "bia_completed_on").or_else(|| first_entered(c, "bia_completed"));
        Some(obs(i, done.is_some_and(|d| d <= to && (d - reg).num_days() <= 14)))
    });
    out.push(x.result("4", v, None));

    // 5. High-risk response.
    let v = x.each(false, |i, c| {
        let rated = c.first_high?;
        if !in_period(date_of_millis(rated), o) {
            return None;
        }
        let limit = rated + 24 * 3_600_000;
        let note = c.items("case_note").iter().any(|n| {
            n.str("note_type").is_some_and(|t| CONTACT_NOTES.contains(&t)) && (rated..=limit).contains(&note_millis(n))
        });
        let rated_day = date_of_millis(rated);
        let visit = c.items("follow_up_visit").iter().any(|v| {
            v.date("visit_date").is_some_and(|d| d >= rated_day && end_of_day_millis(d) - 86_400_000 < limit)
                && v.str("method") != Some("attempt_failed")
        });
        Some(obs(i, note || visit))
    });
    out.push(x.result("5", v, None));
}

/// 6–7: returns decided by the BID panel, and the pre-return checklist done.
fn returns(x: &Ctx<'_>, o: &ReportOptions, out: &mut Vec<IndicatorResult>) {
    // 6 and 7. Returns.
    let returned = |c: &CaseData| -> Option<NaiveDate> {
        let t0 = reintegrated(c)?;
        (is_uasc(c) && is_return(c) && in_period(t0, o)).then_some(t0)
    };
    let v = x.each(true, |i, c| {
        let t0 = returned(c)?;
        let approved = c.str("bid", "panel_decision") == Some("approves_recommendation")
            && bid_decided(c).is_some_and(|d| d <= t0);
        Some(obs(i, approved))
    });
    out.push(x.result("6", v, None));
    let v = x.each(true, |i, c| {
        let t0 = returned(c)?;
        let list = match c.value("bid", "pre_return_checklist") {
            Some(Val::List(a)) => &a[..],
            _ => &[],
        };
        let all_done = ["a_", "b_", "c_", "d_", "e_", "f_"].iter().all(|p| {
            list.iter().any(|row| {
                row.get("item").and_then(Val::as_str).is_some_and(|s| s.starts_with(p))
                    && row.get("done").and_then(Val::as_bool) == Some(true)
                    && row.get("date").and_then(super::load::parse_date).is_some_and(|d| d <= t0)
            })
        });
        Some(obs(i, all_done))
    });
    out.push(x.result("7", v, None));
}

/// 8–9: days from registration to the BID and to a durable solution.
fn durations(x: &Ctx<'_>, o: &ReportOptions, out: &mut Vec<IndicatorResult>) {
    // 8. Registration to BID.
    let v = x.each(false, |i, c| {
        let d = bid_decided(c).filter(|d| in_period(*d, o))?;
        Some(Obs { value: (d - dims::registration_date(c)).num_days().max(0) as f64, ..obs(i, true) })
    });
    out.push(x.result("8", v, None));

    // 9. Registration to solution.
    let v = x.each(false, |i, c| {
        let d = reintegrated(c).filter(|d| in_period(*d, o))?;
        Some(Obs { value: (d - dims::registration_date(c)).num_days().max(0) as f64, ..obs(i, true) })
    });
    out.push(x.result("9", v, None));
}

/// 10–11: tracing success and verification.
fn tracing(x: &Ctx<'_>, o: &ReportOptions, out: &mut Vec<IndicatorResult>) {
    let to = o.to;
    // 10. Tracing success.
    let v = x.each(true, |i, c| {
        let opened = tracing_opened(c)?;
        ((to - opened).num_days() >= 90).then(|| obs(i, located_by(c, to)))
    });
    out.push(x.result("10", v, None));

    // 11. Verification rate.
    let v = x.each(true, |i, c| {
        if !located_by(c, to) {
            return None;
        }
        Some(obs(i, c.items("verification").iter().any(|v| v.bool("relationship_verified") == Some(true))))
    });
    out.push(x.result("11", v, None));
}

/// 12–14: reunification, family-based care, detention.
fn family_and_liberty(x: &Ctx<'_>, o: &ReportOptions, out: &mut Vec<IndicatorResult>) {
    let to = o.to;
    // 12. Reunification.
    let v = x.each(true, |i, c| {
        if !is_uasc(c) || !active_in(c, o) {
            return None;
        }
        let reunified = entries(c, "reintegration").any(|d| in_period(d, o));
        let family_care = c.items("temporary_care").iter().any(|p| {
            matches!(p.str("provider_type"), Some("foster_family" | "kinship_foster"))
                && p.date("date").is_some_and(|d| in_period(d, o))
        });
        Some(obs(i, reunified || family_care))
    });
    out.push(x.result("12", v, None));

    // 13. Family-based care.
    let v = x.each(true, |i, c| {
        if !is_uasc(c) || !open_at(c, to) {
            return None;
        }
        let care = c.str("registration_bia", "care_arrangement")?;
        Some(obs(i, FAMILY_BASED.contains(&care)))
    });
    out.push(x.result("13", v, None));

    // 14. Detention.
    let v = x.each(false, |i, c| {
        (open_at(c, to) && c.has_option("registration_bia", "protection_concerns", "deprived_of_liberty"))
            .then(|| obs(i, true))
    });
    out.push(x.result("14", v, None));
}

/// 15–18: facility standards, follow-up coverage, long monitoring, overdue follow-ups.
fn care_and_follow_up(x: &Ctx<'_>, o: &ReportOptions, out: &mut Vec<IndicatorResult>) {
    let to = o.to;
    // 15. Facility standards.
    let v = x.each(false, |i, c| {
        if !open_at(c, to) {
            return None;
        }
        let placements = c.items("temporary_care");
        let latest = placements
            .iter()
            .filter(|p| p.date("date").is_none_or(|d| d <= to))
            .max_by_key(|p| (p.date("date"), p.created_millis))?;
        Some(obs(i, latest.str("result") == Some("meets")))
    });
    out.push(x.result("15", v, None));

    // 16. Follow-up coverage.
    for (id, months, visits) in [("16a", 6, 5), ("16b", 12, 7)] {
        let v = x.each(true, |i, c| {
            let t0 = reintegrated(c).filter(|t0| *t0 <= months_before(to, months))?;
            Some(obs(i, seen_visits(c, t0, to).len() >= visits))
        });
        out.push(x.result(id, v, None));
    }

    // 17. Long monitoring.
    let v = x.each(true, |i, c| {
        let t0 = reintegrated(c).filter(|t0| *t0 <= months_before(to, 30))?;
        let window = months_after(t0, 30) - Days::new(21);
        Some(obs(i, seen_visits(c, window, to).iter().any(|d| *d >= window)))
    });
    out.push(x.result("17", v, None));

    // 18. Overdue follow-ups.
    let overdue_days = |c: &CaseData| -> Option<Option<i64>> {
        if stage_at(c, to) != Some("follow_up") {
            return None;
        }
        let t0 = reintegrated(c)?;
        let schedule = tasks::follow_up_schedule(t0);
        let visits: Vec<Value> = c
            .items("follow_up_visit")
            .iter()
            .filter(|v| v.date("visit_date").is_none_or(|d| d <= to))
            .map(|v| Value::Object(v.fields().map(|(k, x)| (k.to_string(), x.to_json())).collect()))
            .collect();
        let matched = tasks::match_visits(&schedule, &visits);
        let oldest = schedule
            .iter()
            .zip(&matched)
            .filter(|(s, m)| m.is_none() && s.deadline() < to)
            .map(|(s, _)| s.deadline())
            .chain(partner_reports_overdue(c, to))
            .min();
        Some(oldest.map(|d| (to - d).num_days()))
    };
    // Matched once per case for the three parts.
    let overdue: Vec<Option<Option<i64>>> = x.cases.iter().map(|c| overdue_days(c)).collect();
    let v = x.each(false, |i, _| overdue[i]?.map(|_| obs(i, true)));
    out.push(x.result("18a", v, None));
    let v = x.each(false, |i, _| overdue[i].map(|d| obs(i, d.is_some())));
    out.push(x.result("18b", v, None));
    let v = x.each(false, |i, _| overdue[i]?.map(|d| Obs { value: d as f64, ..obs(i, true) }));
    out.push(x.result("18c", v, None));
}

/// 19–20: the child's views in the BID, consent before sharing.
fn views_and_consent(x: &Ctx<'_>, o: &ReportOptions, out: &mut Vec<IndicatorResult>) {
    // 19. Child's views in BID.
    let v = x.each(false, |i, c| {
        bid_decided(c).filter(|d| in_period(*d, o))?;
        let interviewed = c.value("bid", "child_interview").is_some();
        let alone = c.value("bid", "child_heard_alone").and_then(Val::as_bool) == Some(true);
        let reason = c.value("registration_bia", "views_not_obtained_reason").is_some();
        Some(obs(i, (interviewed && alone) || reason))
    });
    out.push(x.result("19", v, None));

    // 20. Consent before sharing (each referral and transfer).
    let mut v = Vec::new();
    for (i, c) in x.cases.iter().enumerate() {
        let f1_consent = consent_date(c.value("registration_bia", "consent"));
        let scoped = |scope: &str, day: NaiveDate| {
            c.has_option("registration_bia", "consent_scopes", scope) && f1_consent.is_some_and(|d| d <= day)
        };
        for r in c.items("referral") {
            let Some(day) = r.date("referral_date").filter(|d| in_period(*d, o)) else {
                continue;
            };
            let own = consent_date(r.get("consent_for_referral")).is_some_and(|d| d <= day);
            v.push(obs(i, own || scoped("referral_sharing", day)));
        }
        if let Some(day) = entries(c, "transferred_out").find(|d| in_period(*d, o)) {
            let own = consent_date(c.value("closure_transfer", "transfer_consent")).is_some_and(|d| d <= day);
            v.push(obs(i, own || scoped("cross_border_transfer", day)));
        }
    }
    out.push(x.result("20", v, None));
}

/// 21–21c: referral completion, service outcomes, unmet needs.
fn referrals(x: &Ctx<'_>, o: &ReportOptions, out: &mut Vec<IndicatorResult>) {
    let to = o.to;
    // 21. Referral completion (each referral).
    let mut v = Vec::new();
    for (i, c) in x.cases.iter().enumerate() {
        if excluded_from_denominators(c) {
            continue;
        }
        for r in c.items("referral") {
            let Some(day) = r.date("referral_date").filter(|d| in_period(*d, o)) else {
                continue;
            };
            let done = r.str("status") == Some("implemented")
                && r.date("implemented_date").is_some_and(|d| d <= to && (d - day).num_days() <= 30);
            v.push(obs(i, done));
        }
    }
    out.push(x.result("21", v, None));

    // 21b/21c. Service outcomes and unmet needs (each referral with an
    // outcome dated in the period).
    let (mut outcomes, mut unmet) = (Vec::new(), Vec::new());
    // The service list of the forms (configuration additions included
    // where the registry has them): which needs go unmet.
    let service_types = list_values("service_type");
    for (i, c) in x.cases.iter().enumerate() {
        if excluded_from_denominators(c) {
            continue;
        }
        for r in c.items("referral") {
            if !r.date("disposition_date").is_some_and(|d| in_period(d, o)) {
                continue;
            }
            // Saved values are validated against the form's list, which
            // DISPOSITIONS copies (a test compares them).
            let Some(k) = r.str("disposition").and_then(|d| DISPOSITIONS.iter().position(|x| *x == d)) else {
                continue;
            };
            outcomes.push(Obs { extra: Some(k), ..obs(i, true) });
            let service = r.str("service_type").and_then(|s| service_types.iter().position(|x| *x == s));
            unmet.push(Obs { extra: service, ..obs(i, DISPOSITIONS[k] == "service_unavailable") });
        }
    }
    out.push(x.result("21b", outcomes, Some(("disposition", DISPOSITIONS))));
    out.push(x.result("21c", unmet, Some(("service_type", &service_types))));
}

/// 22–24: breakdown after reintegration, closures, aged-out transition.
fn outcomes(x: &Ctx<'_>, o: &ReportOptions, out: &mut Vec<IndicatorResult>) {
    let to = o.to;
    // 22. Breakdown.
    let v = x.each(true, |i, c| {
    let t0 = reintegrated(c).filter(|t0| *t0 >= months_before(o.from, 12) && *t0 <= to)?;
    let limit = months_after(t0, 12).min(to);
    let reopened = entries(c, "reopened").any(|d| d >= t0 && d <= limit);
    let remigrated = c.items("follow_up_visit").iter().any(|v| {
        v.date("visit_date").is_some_and(|d| d >= t0 && d <= limit)
            && (v.str("remigration_intention") == Some("already_left")
                || matches!(v.get("not_seen_reason"), Some(Val::List(a)) if a.iter().any(|r| r.as_str() == Some("re_migrated"))))
    });
    Some(obs(i, reopened || remigrated))
    });
    out.push(x.result("22", v, None));

    // 23. Closures.
    let mut v = Vec::new();
    for (i, c) in x.cases.iter().enumerate() {
        if entries(c, "closed").any(|d| in_period(d, o)) {
            let reason = closure_reason(c).unwrap_or("unknown");
            let k = CLOSURE_REASONS.iter().position(|r| *r == reason).unwrap_or(CLOSURE_REASONS.len() - 1);
            v.push(Obs { extra: Some(k), ..obs(i, true) });
        }
    }
    out.push(x.result("23a", v, Some(("closure_reason", CLOSURE_REASONS))));
    let v = x.each(true, |i, c| {
        entries(c, "closed").find(|d| in_period(*d, o))?;
        Some(obs(i, matches!(closure_reason(c), Some("goals_met" | "goals_substantially_met"))))
    });
    out.push(x.result("23b", v, None));

    // 24. Aged-out transition.
    let v = x.each(false, |i, c| {
        let birthday = eighteenth_birthday(c).filter(|d| in_period(*d, o))?;
        let deadline = months_before(birthday, 3);
        Some(obs(i, c.transition_plan_written.is_some_and(|m| date_of_millis(m) <= deadline)))
    });
    out.push(x.result("24", v, None));
}

/// 25a–25c: unresolved conflicts, suspected duplicates pending, registrations later merged.
fn data_quality(
    x: &Ctx<'_>,
    o: &ReportOptions,
    all: &[CaseData],
    pending_duplicates: &HashSet<String>,
    out: &mut Vec<IndicatorResult>,
) {
    let to = o.to;
    // 25a. Unresolved conflicts.
    let v = x.each(false, |i, c| {
        let oldest = date_of_millis(c.oldest_conflict?);
        ((to - oldest).num_days() > 7).then(|| obs(i, true))
    });
    out.push(x.result("25a", v, None));

    // 25b. Suspected duplicates pending: each child once, so it can be
    // disaggregated like the others. Merged cases are not in `x.cases`, and
    // the pass leaves them out of its pairs anyway.
    let v = x.each(false, |i, c| pending_duplicates.contains(&c.id).then(|| obs(i, true)));
    out.push(x.result("25b", v, None));

    // 25c. Registrations later merged: the one indicator over merged cases,
    // counted with the same dimensions (their categories computed alike).
    let mut merged = BTreeMap::new();
    for c in all.iter().filter(|c| !c.erased) {
        if in_period(dims::registration_date(c), o) {
            merged.insert(c.id.as_str(), (c, c.merged || c.stage == "duplicate"));
        }
    }
    let with_merged: Vec<&CaseData> = merged.values().map(|(c, _)| *c).collect();
    let x25 = Ctx {
        dims: with_merged.iter().map(|c| x.cats.of(c, to)).collect(),
        excluded: vec![(false, false); with_merged.len()],
        cases: with_merged,
        cats: x.cats.clone(),
    };
    let v = merged.values().enumerate().map(|(i, (_, m))| obs(i, *m)).collect();
    out.push(x25.result("25c", v, None));
}

/// 26–28: incidents, school attendance, case conferences.
fn incidents_school_conferences(x: &Ctx<'_>, o: &ReportOptions, out: &mut Vec<IndicatorResult>) {
    let to = o.to;
    // 26a/26b. Incidents (F19) dated in the period, each counted; by
    // type of violence, and how many were reported.
    let violence_types = list_values("violence_type");
    let (mut incidents, mut reported) = (Vec::new(), Vec::new());
    for (i, c) in x.cases.iter().enumerate() {
        if excluded_from_denominators(c) {
            continue;
        }
        for r in c.items("incident") {
            if !r.date("incident_date").is_some_and(|d| in_period(d, o)) {
                continue;
            }
            let k = r.str("violence_type").and_then(|v| violence_types.iter().position(|x| *x == v));
            incidents.push(Obs { extra: k, ..obs(i, true) });
            if let Some(was) = r.bool("reported") {
                reported.push(obs(i, was));
            }
        }
    }
    out.push(x.result("26a", incidents, Some(("violence_type", &violence_types))));
    out.push(x.result("26b", reported, None));

    // 27. School attendance: children of school age (6-17 at period
    // end) open at period end, by their latest schooling check (F20)
    // on or before period end.
    let v = x.each(false, |i, c| {
        if !open_at(c, to) || !dims::age_at(c, to).is_some_and(|a| (6..=17).contains(&a)) {
            return None;
        }
        let latest = c
            .items("education")
            .iter()
            .filter_map(|r| Some((r.date("checked_date").filter(|d| *d <= to)?, r.bool("attending")?)))
            .max_by_key(|(d, _)| *d)?;
        Some(obs(i, latest.1))
    });
    out.push(x.result("27", v, None));

    // 28. Case conferences (F21) held in the period, each counted; by type.
    let conference_types = list_values_of("case_conference", "conference_type");
    let mut v = Vec::new();
    for (i, c) in x.cases.iter().enumerate() {
        if excluded_from_denominators(c) {
            continue;
        }
        for r in c.items("case_conference") {
            if r.date("conference_date").is_some_and(|d| in_period(d, o)) {
                let k = r.str("conference_type").and_then(|t| conference_types.iter().position(|x| *x == t));
                v.push(Obs { extra: k, ..obs(i, true) });
            }
        }
    }
    out.push(x.result("28", v, Some(("conference_type", &conference_types))));
}
