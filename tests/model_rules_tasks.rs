//! Tasks: follow-up schedule and overdue visits, BIA deadlines,
//! high-risk contact, turning 18 (docs/domain.md, Deadlines and tasks). Fixed dates only.

use chrono::NaiveDate;
use fieldcase::model::lifecycle::{CaseFacts, Stage};
use fieldcase::model::tasks::{eighteenth_birthday, follow_up_schedule, match_visits, tasks_for, TaskKind};
use serde_json::{json, Value};
use uuid::Uuid;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn facts(stage: Stage) -> CaseFacts {
    CaseFacts::new(Uuid::from_u128(1), "uasc", stage)
}

fn set(f: &mut CaseFacts, key: &str, v: Value) {
    f.values.insert(key.into(), v);
}

fn visit(date: &str) -> Value {
    json!({"visit_date": date, "child_seen": true, "method": "scheduled_home_visit"})
}

fn overdue(f: &CaseFacts, today: &str) -> usize {
    tasks_for(f, d(today)).iter().filter(|t| t.kind == TaskKind::FollowUpOverdue).count()
}

fn kinds(f: &CaseFacts, today: &str) -> Vec<(TaskKind, NaiveDate, i64)> {
    tasks_for(f, d(today)).into_iter().map(|t| (t.kind, t.due, t.overdue_days)).collect()
}

#[test]
fn default_schedule_matches_domain() {
    let s = follow_up_schedule(d("2026-01-31"));
    let dues: Vec<String> = s.iter().map(|v| v.due.to_string()).collect();
    assert_eq!(
        dues,
        [
            "2026-02-14",
            "2026-02-28",
            "2026-03-31",
            "2026-04-30",
            "2026-07-31",
            "2026-10-31",
            "2027-01-31",
            "2027-07-31",
            "2028-01-31",
            "2028-07-31"
        ]
    );
    let graces: Vec<u64> = s.iter().map(|v| v.grace_days).collect();
    assert_eq!(graces, [7, 7, 7, 7, 14, 14, 14, 21, 21, 21]);
}

fn in_follow_up(t0: &str) -> CaseFacts {
    let mut f = facts(Stage::FollowUp);
    f.stage_dates = vec![(Stage::Reintegration, d(t0)), (Stage::FollowUp, d(t0))];
    set(&mut f, "registration_bia.age_years", json!(12));
    set(&mut f, "registration_bia.registration_date", json!("2025-10-01"));
    f
}

#[test]
fn follow_up_due_then_overdue_after_grace() {
    let f = in_follow_up("2026-03-01");
    // Visit 1 due 2026-03-15, grace 7 → overdue from 2026-03-23.
    assert_eq!(kinds(&f, "2026-03-02"), vec![(TaskKind::FollowUpDue, d("2026-03-15"), 0)]);
    assert_eq!(
        kinds(&f, "2026-03-22"),
        vec![(TaskKind::FollowUpDue, d("2026-03-15"), 0), (TaskKind::FollowUpDue, d("2026-04-01"), 0)]
    );
    let k = kinds(&f, "2026-03-23");
    assert_eq!(k[0], (TaskKind::FollowUpOverdue, d("2026-03-15"), 8));
    // Visit 2 (2026-04-01) shows as due within 14 days.
    assert!(k.contains(&(TaskKind::FollowUpDue, d("2026-04-01"), 0)));
}

#[test]
fn recorded_visit_clears_the_task_late_visit_counts() {
    let mut f = in_follow_up("2026-03-01");
    f.items.insert("follow_up_visit".into(), vec![visit("2026-03-16")]);
    assert_eq!(kinds(&f, "2026-03-23"), vec![(TaskKind::FollowUpDue, d("2026-04-01"), 0)]);
    assert_eq!(overdue(&f, "2026-04-09"), 1);
    // Visit 2 made late (after grace) still counts once done.
    f.items.get_mut("follow_up_visit").unwrap().push(visit("2026-04-20"));
    assert_eq!(overdue(&f, "2026-04-21"), 0);
    // A documented failed attempt counts too.
    f.items
        .get_mut("follow_up_visit")
        .unwrap()
        .push(json!({"visit_date": "2026-05-02", "method": "attempt_failed", "child_seen": false}));
    assert_eq!(overdue(&f, "2026-05-12"), 0);
}

#[test]
fn visits_matched_by_visit_due_first() {
    let s = follow_up_schedule(d("2026-03-01"));
    // Visit 3's record was made very late (during visit 4's window) but names its due date.
    let visits =
        vec![visit("2026-03-15"), visit("2026-04-01"), json!({"visit_due": "2026-05-01", "visit_date": "2026-05-30"})];
    let m = match_visits(&s, &visits);
    assert_eq!(&m[..4], &[Some(0), Some(1), Some(2), None]);
}

#[test]
fn overdue_list_over_thirty_months_and_none_when_closed() {
    let f = in_follow_up("2024-01-01");
    let overdue: Vec<_> =
        tasks_for(&f, d("2026-12-01")).into_iter().filter(|t| t.kind == TaskKind::FollowUpOverdue).collect();
    assert_eq!(overdue.len(), 10);
    assert_eq!(overdue[9].due, d("2026-07-01"));
    assert_eq!(overdue[9].overdue_days, 153);
    let mut closed = f.clone();
    closed.stage = Stage::Closed;
    assert!(tasks_for(&closed, d("2026-12-01")).is_empty());
    let mut before = f;
    before.stage = Stage::SolutionInProgress;
    assert!(!tasks_for(&before, d("2026-12-01")).iter().any(|t| t.kind == TaskKind::FollowUpOverdue));
}

#[test]
fn bia_due_72h_or_24h_for_high_risk() {
    let mut f = facts(Stage::Registered);
    set(&mut f, "registration_bia.registration_date", json!("2026-06-01"));
    set(&mut f, "registration_bia.age_years", json!(16));
    assert_eq!(kinds(&f, "2026-06-02"), vec![(TaskKind::BiaDue, d("2026-06-04"), 0)]);
    assert_eq!(kinds(&f, "2026-06-06"), vec![(TaskKind::BiaDue, d("2026-06-04"), 2)]);
    set(&mut f, "registration_bia.risk_level", json!("high"));
    let k = kinds(&f, "2026-06-03");
    assert!(k.contains(&(TaskKind::BiaDue, d("2026-06-02"), 1)), "{k:?}");
    f.stage = Stage::BiaCompleted;
    assert!(!kinds(&f, "2026-06-03").iter().any(|t| t.0 == TaskKind::BiaDue));
}

#[test]
fn high_risk_weekly_contact() {
    let mut f = facts(Stage::Tracing);
    f.stage_dates = vec![(Stage::Identified, d("2026-06-01"))];
    set(&mut f, "registration_bia.risk_level", json!("high"));
    set(&mut f, "registration_bia.age_years", json!(16));
    set(&mut f, "registration_bia.registration_date", json!("2026-06-01"));
    f.items.insert("case_note".into(), vec![json!({"note_type": "phone", "note_datetime": "2026-06-10T09:00:00Z"})]);
    assert!(!kinds(&f, "2026-06-12").iter().any(|t| t.0 == TaskKind::HighRiskResponse));
    assert!(kinds(&f, "2026-06-19").contains(&(TaskKind::HighRiskResponse, d("2026-06-17"), 2)));
    set(&mut f, "registration_bia.risk_level", json!("medium"));
    assert!(!kinds(&f, "2026-06-19").iter().any(|t| t.0 == TaskKind::HighRiskResponse));
}

#[test]
fn turning_18_alerts_six_and_three_months_before() {
    let mut f = facts(Stage::Tracing);
    set(&mut f, "registration_bia.date_of_birth", json!("2009-01-01"));
    assert_eq!(eighteenth_birthday(&f), Some(d("2027-01-01")));
    assert!(kinds(&f, "2026-06-30").is_empty());
    assert_eq!(kinds(&f, "2026-07-01"), vec![(TaskKind::Turning18, d("2026-07-01"), 0)]);
    assert_eq!(kinds(&f, "2026-10-05"), vec![(TaskKind::Turning18, d("2026-10-01"), 0)]);
    assert_eq!(kinds(&f, "2027-01-11"), vec![(TaskKind::Turning18, d("2027-01-01"), 10)]);
    // A transition plan ends the alerts.
    set(&mut f, "closure_transfer.transition_plan", json!("Aftercare at 18"));
    assert!(kinds(&f, "2026-10-05").is_empty());
}

#[test]
fn turning_18_from_estimated_age() {
    let mut f = facts(Stage::Tracing);
    set(&mut f, "registration_bia.age_years", json!(16));
    set(&mut f, "registration_bia.registration_date", json!("2026-03-01"));
    // 16 at registration: 18th birthday estimated 1.5 years later.
    assert_eq!(eighteenth_birthday(&f), Some(d("2027-09-01")));
    let t = tasks_for(&f, d("2027-04-01"));
    assert_eq!(t.len(), 1);
    assert!(t[0].title.contains("estimated"));
}

fn concern_tasks(f: &CaseFacts, today: &str) -> Vec<(NaiveDate, i64, String)> {
    tasks_for(f, d(today))
        .into_iter()
        .filter(|t| t.kind == TaskKind::ConcernIntervention)
        .map(|t| (t.due, t.overdue_days, t.title))
        .collect()
}

#[test]
fn unresolved_protection_concerns_need_their_intervention_by_its_date() {
    let mut f = facts(Stage::BiaCompleted);
    let concern = |urgent: bool, by: &str, status: &str| {
        json!({"concern_type": "child_labour", "urgent": urgent, "intervention_needed": "Remove from work",
               "intervention_by": by, "status": status})
    };
    f.items.insert("protection_concern".into(), vec![concern(false, "2026-05-20", "open")]);
    // Not urgent: listed from a week before its date, overdue after it.
    assert!(concern_tasks(&f, "2026-05-12").is_empty());
    assert_eq!(concern_tasks(&f, "2026-05-13")[0].0, d("2026-05-20"));
    assert_eq!(concern_tasks(&f, "2026-05-23")[0].1, 3);
    // Urgent: listed at once, and says so.
    f.items.insert("protection_concern".into(), vec![concern(true, "2026-05-20", "in_progress")]);
    let t = concern_tasks(&f, "2026-05-01");
    assert_eq!(t.len(), 1);
    assert!(t[0].2.starts_with("Urgent"), "{}", t[0].2);
    // Resolved: nothing to do.
    f.items.insert("protection_concern".into(), vec![concern(true, "2026-05-20", "resolved")]);
    assert!(concern_tasks(&f, "2026-06-01").is_empty());
}

#[test]
fn a_spontaneous_reunification_creates_a_task_to_verify_and_assess() {
    let mut f = facts(Stage::SolutionInProgress);
    let reunification = |kind: &str| json!({"reunification_date": "2026-04-01", "reunification_type": kind});
    let verify = |f: &CaseFacts, today: &str| -> Vec<(NaiveDate, i64)> {
        tasks_for(f, d(today))
            .into_iter()
            .filter(|t| t.kind == TaskKind::VerifyReunification)
            .map(|t| (t.due, t.overdue_days))
            .collect()
    };
    // After verification: nothing to do.
    f.items.insert("reunification".into(), vec![reunification("after_verification")]);
    assert!(verify(&f, "2026-04-02").is_empty());
    // Spontaneous: due a week after, overdue after that.
    f.items.insert("reunification".into(), vec![reunification("spontaneous")]);
    assert_eq!(verify(&f, "2026-04-02"), [(d("2026-04-08"), 0)]);
    assert_eq!(verify(&f, "2026-04-10"), [(d("2026-04-08"), 2)]);
    // A verification from before the reunification does not count; one after it does.
    f.items.insert(
        "verification".into(),
        vec![json!({"verification_date": "2026-03-15", "verification_outcome": "further_tracing"})],
    );
    assert_eq!(verify(&f, "2026-04-02").len(), 1);
    f.items
        .get_mut("verification")
        .unwrap()
        .push(json!({"verification_date": "2026-04-05", "verification_outcome": "verified"}));
    assert!(verify(&f, "2026-04-10").is_empty());
}

#[test]
fn the_case_plan_is_due_by_risk_level_after_the_assessment() {
    let plan_due = |risk: Option<&str>, plan: Option<Value>| -> Vec<(TaskKind, NaiveDate, i64)> {
        let mut f = facts(Stage::BidPending);
        set(&mut f, "registration_bia.bia_completed_on", json!("2026-05-01"));
        if let Some(r) = risk {
            set(&mut f, "registration_bia.risk_level", json!(r));
        }
        if let Some(status) = plan {
            set(&mut f, "case_plan.approval_status", status);
        }
        kinds(&f, "2026-05-10")
            .into_iter()
            .filter(|(k, ..)| matches!(k, TaskKind::CasePlanDue | TaskKind::CasePlanApproval))
            .collect()
    };
    // High: 3 days (overdue by 6 on 05-10); medium and not rated: a week; low: two weeks.
    assert_eq!(plan_due(Some("high"), None), [(TaskKind::CasePlanDue, d("2026-05-04"), 6)]);
    assert_eq!(plan_due(Some("medium"), None), [(TaskKind::CasePlanDue, d("2026-05-08"), 2)]);
    assert_eq!(plan_due(None, None), [(TaskKind::CasePlanDue, d("2026-05-08"), 2)]);
    assert_eq!(plan_due(Some("low"), None), [(TaskKind::CasePlanDue, d("2026-05-15"), 0)]);
    // Requested: the supervisor's turn; returned: due again; approved: nothing.
    assert_eq!(plan_due(Some("low"), Some(json!("requested"))), [(TaskKind::CasePlanApproval, d("2026-05-15"), 0)]);
    assert_eq!(plan_due(Some("high"), Some(json!("returned"))), [(TaskKind::CasePlanDue, d("2026-05-04"), 6)]);
    assert!(plan_due(Some("high"), Some(json!("approved"))).is_empty());
    // Before the assessment there is no plan to make.
    let mut f = facts(Stage::BiaInProgress);
    set(&mut f, "registration_bia.risk_level", json!("high"));
    assert!(kinds(&f, "2026-05-10").iter().all(|(k, ..)| *k != TaskKind::CasePlanDue));
}

#[test]
fn a_case_plan_review_is_a_task_until_it_is_recorded() {
    let mut f = facts(Stage::BidPending);
    set(&mut f, "case_plan.approval_status", json!("approved"));
    set(&mut f, "case_plan.next_review_date", json!("2026-06-01"));
    let review = |f: &CaseFacts, today: &str| {
        kinds(f, today).into_iter().filter(|(k, ..)| *k == TaskKind::CasePlanReview).count()
    };
    assert_eq!(review(&f, "2026-05-20"), 0);
    assert_eq!(review(&f, "2026-05-26"), 1);
    set(
        &mut f,
        "case_plan.reviews",
        json!([{"review_date": "2026-06-02", "progress": "On track", "plan_changed": false}]),
    );
    assert_eq!(review(&f, "2026-06-05"), 0);
}

#[test]
fn a_planned_final_contact_is_due_until_a_contact_after_closure_is_noted() {
    let mut f = facts(Stage::Closed);
    f.stage_dates = vec![(Stage::Closed, d("2026-03-01"))];
    set(&mut f, "closure_transfer.final_contact_planned", json!(true));
    // Due three months after closure, listed from two weeks before.
    assert!(kinds(&f, "2026-05-01").is_empty());
    assert_eq!(kinds(&f, "2026-05-20"), vec![(TaskKind::FinalContact, d("2026-06-01"), 0)]);
    assert_eq!(kinds(&f, "2026-06-11"), vec![(TaskKind::FinalContact, d("2026-06-01"), 10)]);
    // A note made before the closure, or not of a contact, does not count.
    f.items.insert(
        "case_note".into(),
        vec![
            json!({"note_type": "phone", "note_datetime": "2026-02-20T09:00:00Z"}),
            json!({"note_type": "supervision", "note_datetime": "2026-06-05T09:00:00Z"}),
        ],
    );
    assert_eq!(kinds(&f, "2026-06-11").len(), 1);
    f.items.get_mut("case_note").unwrap().push(json!({"note_type": "phone", "note_datetime": "2026-06-08T09:00:00Z"}));
    assert!(kinds(&f, "2026-06-11").is_empty(), "the final contact is done");
}

fn placement(reason: &str, start: &str) -> Value {
    json!({"care_arrangement": "kinship_extended_family", "caregiver": {"name": "Aunt"},
           "start_date": start, "change_reason": reason})
}

#[test]
fn r15_a_change_of_care_arrangement_asks_for_a_status_review() {
    let mut f = facts(Stage::Tracing);
    // The first arrangement recorded is not a change.
    f.items.insert("placement".into(), vec![placement("first_arrangement", "2026-03-01")]);
    assert!(kinds(&f, "2026-03-02").is_empty());
    // A move is: the review is listed at once, due a week after the move.
    f.items.get_mut("placement").unwrap().push(placement("placement_breakdown", "2026-05-10"));
    assert_eq!(kinds(&f, "2026-05-10"), vec![(TaskKind::StatusReview, d("2026-05-17"), 0)]);
    assert_eq!(kinds(&f, "2026-05-20"), vec![(TaskKind::StatusReview, d("2026-05-17"), 3)]);
    let t = tasks_for(&f, d("2026-05-10"));
    assert!(t[0].title.contains("2026-05-10") && t[0].title.contains("kinship extended family"), "{}", t[0].title);
    // Recording the review ends it.
    f.items.get_mut("placement").unwrap()[1]["status_reviewed_date"] = json!("2026-05-12");
    f.items.get_mut("placement").unwrap()[1]["status_after_review"] = json!("separated");
    assert!(kinds(&f, "2026-05-20").is_empty());
    // The latest arrangement ended and nothing is recorded after it: the
    // change is still to be recorded, and the status reviewed.
    f.items.get_mut("placement").unwrap()[1]["end_date"] = json!("2026-06-20");
    assert_eq!(kinds(&f, "2026-06-21"), vec![(TaskKind::StatusReview, d("2026-06-27"), 0)]);
    let t = tasks_for(&f, d("2026-06-21"));
    assert!(t[0].title.contains("ended on 2026-06-20"), "{}", t[0].title);
    // An ended arrangement followed by a later one is not.
    let mut next = placement("reunification", "2026-06-20");
    next["status_reviewed_date"] = json!("2026-06-22");
    f.items.get_mut("placement").unwrap().push(next);
    assert!(kinds(&f, "2026-06-21").is_empty());
    // A closed case has no review to do.
    f.items.get_mut("placement").unwrap().push(placement("reunification", "2026-06-01"));
    f.stage = Stage::Closed;
    assert!(kinds(&f, "2026-06-02").is_empty());
}

#[test]
fn r13_a_disputed_age_counts_from_the_declared_age() {
    let mut f = facts(Stage::Tracing);
    set(&mut f, "registration_bia.registration_date", json!("2026-03-01"));
    // Assessed as 17 and recorded so, with a document date of birth.
    set(&mut f, "registration_bia.age_years", json!(17));
    set(&mut f, "registration_bia.date_of_birth", json!("2008-09-01"));
    assert_eq!(eighteenth_birthday(&f), Some(d("2026-09-01")));
    set(&mut f, "age_assessment.declared_age", json!(15));
    set(&mut f, "age_assessment.assessed_age", json!(17));
    set(&mut f, "age_assessment.benefit_of_doubt", json!(false));
    set(&mut f, "age_assessment.disputed", json!(false));
    // Not disputed: the assessment's declared age changes nothing.
    assert_eq!(eighteenth_birthday(&f), Some(d("2026-09-01")));
    assert_eq!(kinds(&f, "2026-10-01"), vec![(TaskKind::Turning18, d("2026-09-01"), 30)]);
    // Disputed: 15 at registration, so 18 two and a half years later (the
    // middle of the possible year); the disputed date of birth no
    // longer counts.
    set(&mut f, "age_assessment.disputed", json!(true));
    assert_eq!(eighteenth_birthday(&f), Some(d("2028-09-01")));
    assert!(kinds(&f, "2026-10-01").is_empty(), "no turning-18 alert for a child of 15");
    let t = tasks_for(&f, d("2028-04-01"));
    assert_eq!(t.len(), 1);
    assert!(t[0].title.contains("declared age"), "{}", t[0].title);
    // The benefit of the doubt alone does the same; a declared date of
    // birth is used when there is one.
    set(&mut f, "age_assessment.disputed", json!(false));
    set(&mut f, "age_assessment.benefit_of_doubt", json!(true));
    set(&mut f, "age_assessment.declared_date_of_birth", json!("2010-12-31"));
    assert_eq!(eighteenth_birthday(&f), Some(d("2028-12-31")));
    // With no assessment, an age basis of `disputed` keeps the age said at
    // registration and drops the date of birth.
    let mut g = facts(Stage::Tracing);
    set(&mut g, "registration_bia.registration_date", json!("2026-03-01"));
    set(&mut g, "registration_bia.age_years", json!(16));
    set(&mut g, "registration_bia.date_of_birth", json!("2008-09-01"));
    set(&mut g, "registration_bia.age_basis", json!("disputed"));
    assert_eq!(eighteenth_birthday(&g), Some(d("2027-09-01")));
    // A child who declares an older age than recorded is not made older:
    // the doubt reads as the younger age.
    set(&mut g, "age_assessment.declared_age", json!(19));
    set(&mut g, "age_assessment.disputed", json!(true));
    assert_eq!(eighteenth_birthday(&g), Some(d("2027-09-01")));
    set(&mut g, "age_assessment.declared_date_of_birth", json!("2006-01-01"));
    assert_eq!(eighteenth_birthday(&g), Some(d("2027-09-01")));
    set(&mut g, "age_assessment.declared_date_of_birth", json!("2011-01-01"));
    assert_eq!(eighteenth_birthday(&g), Some(d("2029-01-01")));
}

fn facility_check(name: &str, date: &str, separated: bool) -> Value {
    json!({"provider_type": "ngo_facility", "facility_name": name, "date": date,
           "sex_age_separation": separated, "result": if separated { "meets" } else { "does_not_meet" }})
}

#[test]
fn r14_a_child_placed_where_children_are_not_separated_by_sex_and_age_is_a_task() {
    let mut f = facts(Stage::BiaCompleted);
    f.items.insert(
        "placement".into(),
        vec![json!({"care_arrangement": "temporary_care_facility", "facility_name": "Agadez reception centre",
                    "start_date": "2026-03-01", "change_reason": "first_arrangement"})],
    );
    // No check of the facility says anything yet: no task (R6's checklist
    // is filled at placement).
    assert!(kinds(&f, "2026-03-02").is_empty());
    // Another facility's check does not speak for this one.
    f.items.insert("temporary_care".into(), vec![facility_check("Niamey centre", "2026-03-02", false)]);
    assert!(kinds(&f, "2026-03-03").is_empty());
    // This facility's check says children are not separated: listed at
    // once, due three days after the check, overdue after.
    f.items.get_mut("temporary_care").unwrap().push(facility_check("agadez reception centre ", "2026-03-04", false));
    assert_eq!(kinds(&f, "2026-03-04"), vec![(TaskKind::SeparationBySex, d("2026-03-07"), 0)]);
    assert_eq!(kinds(&f, "2026-03-09"), vec![(TaskKind::SeparationBySex, d("2026-03-07"), 2)]);
    let t = tasks_for(&f, d("2026-03-04"));
    assert!(t[0].title.contains("Agadez reception centre") && t[0].title.contains("2026-03-04"), "{}", t[0].title);
    // A later check that says separation is ensured ends it.
    f.items.get_mut("temporary_care").unwrap().push(facility_check("Agadez reception centre", "2026-03-06", true));
    assert!(kinds(&f, "2026-03-09").is_empty());
    // So does the end of the placement (the child moved: R15's review is
    // the task then).
    f.items.get_mut("temporary_care").unwrap().pop();
    f.items.get_mut("placement").unwrap()[0]["end_date"] = json!("2026-03-08");
    let left: Vec<TaskKind> = kinds(&f, "2026-03-09").into_iter().map(|(k, _, _)| k).collect();
    assert_eq!(left, vec![TaskKind::StatusReview]);
    // A case with no placement record reads the care arrangement of the
    // registration, and then any facility check of the case.
    let mut g = facts(Stage::Tracing);
    set(&mut g, "registration_bia.care_arrangement", json!("temporary_care_facility"));
    g.items.insert("temporary_care".into(), vec![facility_check("Sfax shelter", "2026-04-01", false)]);
    assert_eq!(kinds(&g, "2026-04-01"), vec![(TaskKind::SeparationBySex, d("2026-04-04"), 0)]);
    set(&mut g, "registration_bia.care_arrangement", json!("kinship_extended_family"));
    assert!(kinds(&g, "2026-04-01").is_empty());
}
