//! Tasks due on a case: the follow-up schedule after reintegration, BIA
//! deadlines, high-risk contact, case reviews, closure approval, turning 18
//! (docs/domain.md, Deadlines and tasks), the final contact after
//! closure, the intervention an unresolved protection concern needs, and
//! the verification a spontaneous reunification needs after the fact, and
//! the case plan (due by risk level, approval, reviews), the review of
//! the child's status after a change of care arrangement (R15), and a
//! placement in a facility that does not separate children by sex and age
//! (R14, `model::escort_separation`).
//!
//! Everything is computed from [`CaseFacts`] and a given `today`, so tasks
//! are never stored and cannot go stale.

use chrono::{Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::model::age::child_age;
use crate::model::lifecycle::{CaseFacts, Stage};

/// What a task is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// A scheduled follow-up visit is due (within the next 14 days or in its grace period).
    FollowUpDue,
    /// A scheduled follow-up visit is past its grace period with no visit or attempt recorded.
    FollowUpOverdue,
    /// The child turns 18 within 6 (or 3) months, or has turned 18, and no transition plan exists.
    Turning18,
    /// The BIA must be completed (72 h after registration; 24 h at high risk).
    BiaDue,
    /// High risk: weekly contact (§3.0).
    HighRiskResponse,
    /// The next case review date (BIA `next_review_date`) is near or past.
    CaseReview,
    /// A closure request waits for a supervisor.
    ClosureApproval,
    /// Final contact about 3 months after closure (CPIMS+ practice).
    FinalContact,
    /// A protection concern that is not resolved needs its intervention by a date.
    ConcernIntervention,
    /// A spontaneous reunification: verify the adult and assess the reunification.
    VerifyReunification,
    /// The case plan is due (3 days, 1 week or 2 weeks after the assessment by risk level).
    CasePlanDue,
    /// A case plan waits for a supervisor's approval.
    CasePlanApproval,
    /// The case plan's review date is near or past.
    CasePlanReview,
    /// A request to a partner abroad waits for its answer, due within a week
    /// (docs/bundle-format.md §11.6).
    PartnerRequestDue,
    /// A request to a partner abroad is past its due date with no answer.
    PartnerRequestOverdue,
    /// R15: the care arrangement changed; review whether the child is
    /// unaccompanied, separated or accompanied.
    StatusReview,
    /// R14: the child is placed in a facility whose latest check says
    /// children are not separated by sex and age.
    SeparationBySex,
}

/// One thing to do on a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// The case.
    pub case_id: Uuid,
    /// What it is.
    pub kind: TaskKind,
    /// When it is due.
    pub due: NaiveDate,
    /// Days past the due date when overdue (0 when not overdue).
    pub overdue_days: i64,
    /// One line for the task list.
    pub title: String,
}

/// One visit of the default monitoring schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduledVisit {
    /// Visit number, 1–10.
    pub number: u32,
    /// Due date.
    pub due: NaiveDate,
    /// Grace period in days.
    pub grace_days: u64,
}

impl ScheduledVisit {
    /// The last day the visit is on time.
    pub fn deadline(&self) -> NaiveDate {
        self.due + Days::new(self.grace_days)
    }
}

/// The default schedule (docs/domain.md, Deadlines and tasks) from the arrival/reunification date
/// `t0`: visit 1 at +14 days (grace 7), 2–4 at +1/+2/+3 months (7), 5–7 at
/// +6/+9/+12 months (14), 8–10 at +18/+24/+30 months (21).
pub fn follow_up_schedule(t0: NaiveDate) -> Vec<ScheduledVisit> {
    let mut out = vec![ScheduledVisit { number: 1, due: t0 + Days::new(14), grace_days: 7 }];
    let months: [(u32, u64); 9] = [(1, 7), (2, 7), (3, 7), (6, 14), (9, 14), (12, 14), (18, 21), (24, 21), (30, 21)];
    for (i, (m, grace)) in months.into_iter().enumerate() {
        let due = t0.checked_add_months(Months::new(m)).unwrap_or(t0);
        out.push(ScheduledVisit { number: i as u32 + 2, due, grace_days: grace });
    }
    out
}

fn parse_date(v: &Value) -> Option<NaiveDate> {
    let s = v.as_str()?;
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

fn item_date(item: &Value, field: &str) -> Option<NaiveDate> {
    item.get(field).and_then(parse_date)
}

/// Match recorded visits to the schedule: first by `visit_due` equal to the
/// scheduled date, then by `visit_date` falling between the visit's window
/// opening (due − grace) and the next visit's window opening. A documented
/// failed attempt counts (§2.5: "no visit (or documented attempt)").
/// Returns, per scheduled visit, the index of the matched recorded visit.
pub fn match_visits(schedule: &[ScheduledVisit], visits: &[Value]) -> Vec<Option<usize>> {
    let mut used = vec![false; visits.len()];
    let mut matched: Vec<Option<usize>> = vec![None; schedule.len()];
    for (s, slot) in schedule.iter().zip(matched.iter_mut()) {
        if let Some(i) = (0..visits.len()).find(|&i| !used[i] && item_date(&visits[i], "visit_due") == Some(s.due)) {
            used[i] = true;
            *slot = Some(i);
        }
    }
    for n in 0..schedule.len() {
        if matched[n].is_some() {
            continue;
        }
        let open = schedule[n].due - Days::new(schedule[n].grace_days);
        let close = schedule.get(n + 1).map(|next| next.due - Days::new(next.grace_days));
        let mut candidates: Vec<(NaiveDate, usize)> = (0..visits.len())
            .filter(|&i| !used[i])
            .filter_map(|i| item_date(&visits[i], "visit_date").map(|d| (d, i)))
            .filter(|(d, _)| *d >= open && close.is_none_or(|c| *d < c))
            .collect();
        candidates.sort();
        if let Some((_, i)) = candidates.first() {
            used[*i] = true;
            matched[n] = Some(*i);
        }
    }
    matched
}

/// The date of the 18th birthday: from the date of birth, else estimated from
/// the age at registration (birthday assumed half a year after the
/// registration date's anniversary — the middle of the possible range).
/// The age is read by [`child_age`]: a disputed age counts from what the
/// child declared (R13).
pub fn eighteenth_birthday(facts: &CaseFacts) -> Option<NaiveDate> {
    let known = child_age(facts);
    if let Some(dob) = known.date_of_birth {
        return dob.checked_add_months(Months::new(18 * 12));
    }
    let age = known.age_years?;
    let reg = facts
        .value("registration_bia", "registration_date")
        .and_then(parse_date)
        .or_else(|| facts.stage_dates.first().map(|(_, d)| *d))?;
    // Whole months until 18, minus half a year for the unknown birthday.
    let months = ((18.0 - age.floor()) * 12.0) as i64 - 6;
    if months >= 0 {
        reg.checked_add_months(Months::new(months as u32))
    } else {
        reg.checked_sub_months(Months::new((-months) as u32))
    }
}

/// When the case plan is due: the assessment date (`bia_completed_on`, else
/// the day the case entered `bia_completed`) plus 3 days at high risk, 7 at
/// medium or not rated, 14 at low (docs/domain.md, Deadlines and tasks).
pub fn case_plan_due(facts: &CaseFacts) -> Option<NaiveDate> {
    let assessed = facts
        .value("registration_bia", "bia_completed_on")
        .and_then(parse_date)
        .or_else(|| facts.last_entered(Stage::BiaCompleted))?;
    let days = match facts.str_value("registration_bia", "risk_level") {
        Some("high") => 3,
        Some("low") => 14,
        _ => 7,
    };
    Some(assessed + Days::new(days))
}

fn days(a: NaiveDate, b: NaiveDate) -> i64 {
    (b - a).num_days()
}

/// Requests to partners abroad still waiting for their answer: due from a
/// week before their due date, overdue after it. Answered and withdrawn
/// requests are not tasks.
pub fn partner_request_tasks(facts: &CaseFacts, today: NaiveDate) -> Vec<Task> {
    let mut out = Vec::new();
    for r in facts.items(crate::model::partner_kinds::REQUEST_FORM) {
        let s = |k: &str| r.get(k).and_then(Value::as_str);
        if !matches!(s("request_status"), Some("sent" | "received")) {
            continue;
        }
        let Some(due) = s("due_date").and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()) else {
            continue;
        };
        if today + Days::new(7) < due {
            continue;
        }
        let overdue = today > due;
        let kind = s("request_kind").unwrap_or("request");
        let partner = s("partner").unwrap_or("a partner");
        out.push(Task {
            case_id: facts.case_id,
            kind: if overdue { TaskKind::PartnerRequestOverdue } else { TaskKind::PartnerRequestDue },
            due,
            overdue_days: if overdue { days(due, today).max(0) } else { 0 },
            title: format!("Answer to the {} request from {partner}", kind.replace('_', " ")),
        });
    }
    out
}

/// R15: a change of care arrangement prompts a review of the child's status
/// (unaccompanied, separated, accompanied). Every placement record that
/// began for another reason than being the first arrangement recorded is a
/// change; its review is due a week after the change (listed at once) until
/// the record holds the date the status was reviewed. A latest placement
/// that has ended with no arrangement recorded after it is a change too:
/// the new arrangement is to be recorded and the status reviewed, due a
/// week after the end.
pub fn status_review_tasks(facts: &CaseFacts, today: NaiveDate) -> Vec<Task> {
    let mut out = Vec::new();
    let latest = facts
        .items("placement")
        .iter()
        .filter_map(|p| Some((item_date(p, "start_date")?, p)))
        .max_by_key(|(start, _)| *start)
        .map(|(_, p)| p);
    if let Some(ended) = latest.and_then(|p| item_date(p, "end_date")) {
        let due = ended + Days::new(7);
        out.push(Task {
            case_id: facts.case_id,
            kind: TaskKind::StatusReview,
            due,
            overdue_days: if today > due { days(due, today) } else { 0 },
            title: format!("Care arrangement ended on {ended}: record the new one and review the child's status"),
        });
    }
    for p in facts.items("placement") {
        let s = |k: &str| p.get(k).and_then(Value::as_str);
        if s("change_reason").is_none_or(|r| r == "first_arrangement") || item_date(p, "status_reviewed_date").is_some()
        {
            continue;
        }
        let Some(start) = item_date(p, "start_date") else {
            continue;
        };
        let due = start + Days::new(7);
        let arrangement = s("care_arrangement").unwrap_or("a new arrangement").replace('_', " ");
        out.push(Task {
            case_id: facts.case_id,
            kind: TaskKind::StatusReview,
            due,
            overdue_days: if today > due { days(due, today) } else { 0 },
            title: format!("Care changed on {start} ({arrangement}): review the child's status"),
        });
    }
    out
}

/// A visit of a follow-up schedule as the country configuration gives it
/// (docs/configuration.md §4): its offset from the reference date, in
/// days or months (one of them 0), and its grace period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisitOffset {
    /// Days after the reference date.
    pub days: u32,
    /// Months after the reference date.
    pub months: u32,
    /// Grace period in days.
    pub grace_days: u32,
}

/// The schedule from `t0` with these offsets, numbered from 1.
pub fn schedule_from(t0: NaiveDate, offsets: &[VisitOffset]) -> Vec<ScheduledVisit> {
    offsets
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let due = t0.checked_add_months(Months::new(o.months)).unwrap_or(t0) + Days::new(u64::from(o.days));
            ScheduledVisit { number: i as u32 + 1, due, grace_days: u64::from(o.grace_days) }
        })
        .collect()
}

/// Every task of one case on `today`, follow-up visits by the default
/// schedule ([`follow_up_schedule`]).
pub fn tasks_for(facts: &CaseFacts, today: NaiveDate) -> Vec<Task> {
    tasks_for_with(facts, today, None)
}

/// [`tasks_for`] with the follow-up schedule of the vault's country
/// configuration (`None`: the default).
pub fn tasks_for_with(facts: &CaseFacts, today: NaiveDate, offsets: Option<&[VisitOffset]>) -> Vec<Task> {
    let mut out = Vec::new();
    let task = |kind, due: NaiveDate, overdue: bool, title: String| Task {
        case_id: facts.case_id,
        kind,
        due,
        overdue_days: if overdue { days(due, today).max(0) } else { 0 },
        title,
    };
    let risk_high = facts.str_value("registration_bia", "risk_level") == Some("high");

    if facts.stage == Stage::Closed {
        if facts.bool_value("closure_transfer", "final_contact_planned") == Some(true) {
            // Done once a contact with the child is noted after the closure.
            let contacted_since = |closed: NaiveDate| {
                facts.items("case_note").iter().any(|n| {
                    n.get("note_type").and_then(Value::as_str).is_some_and(crate::model::lifecycle::is_contact_note)
                        && item_date(n, "note_datetime").is_some_and(|d| d >= closed)
                })
            };
            if let Some(closed) = facts.last_entered(Stage::Closed).filter(|c| !contacted_since(*c)) {
                let due = closed.checked_add_months(Months::new(3)).unwrap_or(closed);
                if today >= due - Days::new(14) {
                    out.push(task(
                        TaskKind::FinalContact,
                        due,
                        today > due,
                        "Final contact ~3 months after closure".into(),
                    ));
                }
            }
        }
        return out;
    }
    if !facts.stage.is_open() {
        return out;
    }
    out.extend(partner_request_tasks(facts, today));

    // BIA deadline (§2.3): 72 h after registration, 24 h if high risk.
    if matches!(facts.stage, Stage::Identified | Stage::Registered | Stage::BiaInProgress) {
        let start = facts
            .value("registration_bia", "registration_date")
            .and_then(parse_date)
            .or_else(|| facts.last_entered(Stage::Registered))
            .or_else(|| facts.stage_dates.first().map(|(_, d)| *d));
        if let Some(start) = start {
            let (hours, n) = if risk_high { ("24 h", 1) } else { ("72 h", 3) };
            let due = start + Days::new(n);
            out.push(task(
                TaskKind::BiaDue,
                due,
                today > due,
                format!("Complete the BIA (due {hours} after registration)"),
            ));
        }
    }

    // High risk: weekly contact while the case is active.
    if risk_high && facts.stage != Stage::ClosurePending && facts.stage != Stage::SuspendedLostContact {
        let mut last = facts.stage_dates.first().map(|(_, d)| *d);
        for v in facts.items("follow_up_visit") {
            if v.get("child_seen").and_then(Value::as_bool) == Some(true) {
                last = last.max(item_date(v, "visit_date"));
            }
        }
        for n in facts.items("case_note") {
            let t = n.get("note_type").and_then(Value::as_str).unwrap_or_default();
            if crate::model::lifecycle::is_contact_note(t) {
                last = last.max(item_date(n, "note_datetime"));
            }
        }
        if let Some(last) = last {
            let due = last + Days::new(7);
            if today >= due - Days::new(2) {
                out.push(task(
                    TaskKind::HighRiskResponse,
                    due,
                    today > due,
                    "High risk: weekly contact with the child".into(),
                ));
            }
        }
    }

    // Protection concerns: an unresolved concern's intervention is due by
    // its date; an urgent one is listed at once, any other from a week before.
    for c in facts.items("protection_concern") {
        if c.get("status").and_then(Value::as_str) == Some("resolved") {
            continue;
        }
        let Some(by) = item_date(c, "intervention_by") else {
            continue;
        };
        let urgent = c.get("urgent").and_then(Value::as_bool) == Some(true);
        if urgent || today >= by - Days::new(7) {
            let what = c.get("concern_type").and_then(Value::as_str).unwrap_or("protection concern");
            let prefix = if urgent { "Urgent: " } else { "" };
            out.push(task(
                TaskKind::ConcernIntervention,
                by,
                today > by,
                format!("{prefix}intervention for {what} due by {by}"),
            ));
        }
    }

    // R7's exception: a spontaneous reunification is verified after the
    // fact. Due a week after it, until a verification with an outcome
    // dated on or after the reunification is recorded.
    for r in facts.items("reunification") {
        if r.get("reunification_type").and_then(Value::as_str) != Some("spontaneous") {
            continue;
        }
        let Some(on) = item_date(r, "reunification_date") else {
            continue;
        };
        let verified_since = facts.items("verification").iter().any(|v| {
            v.get("verification_outcome").is_some_and(|o| !o.is_null())
                && item_date(v, "verification_date").is_some_and(|d| d >= on)
        });
        if !verified_since {
            let due = on + Days::new(7);
            out.push(task(
                TaskKind::VerifyReunification,
                due,
                today > due,
                format!("Spontaneous reunification on {on}: verify the adult and assess the reunification"),
            ));
        }
    }

    // Case plan (docs/domain.md, Deadlines and tasks): due after the assessment, 3 days
    // at high risk, 1 week at medium, 2 weeks at low; a case not rated is
    // given a week. Listed until approval is requested (again after the
    // supervisor returns it), from the assessment until the solution is
    // under way.
    if matches!(
        facts.stage,
        Stage::BiaCompleted
            | Stage::Tracing
            | Stage::FamilyAssessment
            | Stage::Verification
            | Stage::BidPending
            | Stage::BidDecided
            | Stage::SolutionInProgress
    ) {
        if let Some(due) = case_plan_due(facts) {
            match facts.str_value("case_plan", "approval_status") {
                Some("approved") => {}
                Some("requested") => out.push(task(
                    TaskKind::CasePlanApproval,
                    due,
                    false,
                    "Supervisor: approve or return the case plan".into(),
                )),
                returned => {
                    let again = if returned == Some("returned") { " (returned: revise it)" } else { "" };
                    out.push(task(TaskKind::CasePlanDue, due, today > due, format!("Case plan due by {due}{again}")));
                }
            }
        }
    }
    if let Some(review) = facts.value("case_plan", "next_review_date").and_then(parse_date) {
        let reviewed = facts
            .value("case_plan", "reviews")
            .and_then(Value::as_array)
            .is_some_and(|rs| rs.iter().any(|r| item_date(r, "review_date").is_some_and(|d| d >= review)));
        if !reviewed && today >= review - Days::new(7) && facts.stage.is_open() {
            out.push(task(TaskKind::CasePlanReview, review, today > review, "Case plan review".into()));
        }
    }

    out.extend(status_review_tasks(facts, today));
    out.extend(crate::model::escort_separation::separation_tasks(facts, today));

    // Case review date.
    if let Some(review) = facts.value("registration_bia", "next_review_date").and_then(parse_date) {
        if today >= review - Days::new(7) && !matches!(facts.stage, Stage::ClosurePending) {
            out.push(task(TaskKind::CaseReview, review, today > review, "Case review".into()));
        }
    }

    if facts.stage == Stage::ClosurePending {
        if let Some(since) = facts.last_entered(Stage::ClosurePending) {
            let due = since + Days::new(7);
            out.push(task(
                TaskKind::ClosureApproval,
                due,
                today > due,
                "Supervisor: approve or reject the closure".into(),
            ));
        }
    }

    // Follow-up schedule from the reintegration date.
    if matches!(facts.stage, Stage::Reintegration | Stage::FollowUp) {
        if let Some(t0) = facts.last_entered(Stage::Reintegration) {
            let schedule = offsets.map_or_else(|| follow_up_schedule(t0), |o| schedule_from(t0, o));
            let visits = facts.items("follow_up_visit");
            let matched = match_visits(&schedule, visits);
            for (s, m) in schedule.iter().zip(&matched) {
                if m.is_some() {
                    continue;
                }
                if today > s.deadline() {
                    out.push(task(
                        TaskKind::FollowUpOverdue,
                        s.due,
                        true,
                        format!("Follow-up visit {} overdue (due {}, grace {} days)", s.number, s.due, s.grace_days),
                    ));
                } else if today + Days::new(14) >= s.due {
                    out.push(task(TaskKind::FollowUpDue, s.due, false, format!("Follow-up visit {} due", s.number)));
                }
            }
        }
    }

    // Turning 18 (§4.7): alerts 6 and 3 months before, until a transition plan exists.
    if facts.value("closure_transfer", "transition_plan").is_none() {
        if let Some(bday) = eighteenth_birthday(facts) {
            let six = bday.checked_sub_months(Months::new(6)).unwrap_or(bday);
            let three = bday.checked_sub_months(Months::new(3)).unwrap_or(bday);
            let age = child_age(facts);
            let est = match (age.declared_under_r13, age.date_of_birth.is_none()) {
                (true, _) => " (declared age: the age is in doubt)",
                (false, true) => " (estimated)",
                (false, false) => "",
            };
            if today >= bday {
                out.push(task(
                    TaskKind::Turning18,
                    bday,
                    true,
                    format!("Turned 18 on {bday}{est}: transition plan missing"),
                ));
            } else if today >= three {
                out.push(task(
                    TaskKind::Turning18,
                    three,
                    false,
                    format!("Turns 18 on {bday}{est} (3 months): prepare the transition plan"),
                ));
            } else if today >= six {
                out.push(task(
                    TaskKind::Turning18,
                    six,
                    false,
                    format!("Turns 18 on {bday}{est} (6 months): plan the transition"),
                ));
            }
        }
    }
    out
}
