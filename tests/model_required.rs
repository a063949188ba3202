//! The table of what must be recorded before each stage
//! (`model::required::REQUIRED_BEFORE`): every stage a case can enter has
//! a row, every row's fields and conditional fields refuse the move with
//! the rule and the missing fields named, and the store applies it.
#[path = "sync_common.rs"]
mod common;

use common::*;
use fieldcase::model::error::StoreError;
use fieldcase::model::lifecycle::{CaseFacts, Stage};
use fieldcase::model::required::{rows_for, violations, FormRef, REQUIRED_BEFORE};
use serde_json::{json, Value};
use uuid::Uuid;

fn facts(case_type: &str, stage: Stage) -> CaseFacts {
    CaseFacts::new(Uuid::from_u128(7), case_type, stage)
}

fn set(f: &mut CaseFacts, key: &str, v: Value) {
    f.values.insert(key.to_string(), v);
}

/// A value of a condition's trigger and the field it then requires, per
/// form: `(form, trigger key, trigger value, field required)`.
fn trigger(form: &FormRef, case_type: &str) -> (&'static str, &'static str, Value, &'static str) {
    match form {
        FormRef::Sections("registration_bia", _) => {
            ("registration_bia", "registration_bia.interpreter_offer", json!("accepted"), "interpreter_affiliation")
        }
        FormRef::Form("registration_bia") => {
            ("registration_bia", "registration_bia.guardian_appointed", json!(true), "guardian_appointment_date")
        }
        FormRef::Form("age_assessment") => {
            ("age_assessment", "age_assessment.assessment_date", json!("2026-05-02"), "assessed_by")
        }
        FormRef::Form("bid") | FormRef::Except("bid", _) => ("bid", "bid.priority", json!("high"), "priority_reasons"),
        FormRef::Form("closure_transfer") => {
            ("closure_transfer", "closure_transfer.closure_reason", json!("lost_contact"), "last_contact_date")
        }
        FormRef::Form("case_plan") => {
            ("case_plan", "case_plan.approval_status", json!("returned"), "approval_comments")
        }
        FormRef::ReintegrationPlan => (
            if case_type == "uasc" { "reintegration_uasc" } else { "reintegration_family" },
            "registration_bia.age_years",
            json!(12),
            "education_plan",
        ),
        other => panic!("no trigger for {other:?}: add one"),
    }
}

#[test]
fn every_stage_a_case_can_enter_has_a_row() {
    for to in Stage::ALL.into_iter().filter(|s| *s != Stage::Identified) {
        let from = REQUIRED_BEFORE.iter().find(|r| r.to == to).and_then(|r| r.from).unwrap_or(Stage::Reopened);
        assert!(rows_for(from, to).next().is_some(), "no row for entering {to}");
    }
}

#[test]
fn each_rows_fields_are_named_with_their_rule_until_recorded() {
    for row in REQUIRED_BEFORE.iter().filter(|r| !r.fields.is_empty()) {
        let from = row.from.unwrap_or(Stage::Identified);
        let mut f = facts("family_with_children", from);
        let v = violations(&f, row.to);
        for group in row.fields {
            let found = v.iter().find(|x| x.rule == group.rule).unwrap_or_else(|| panic!("{:?}: {v:?}", row.to));
            for spec in group.fields {
                assert!(found.message.contains(&spec.replace('|', " or ")), "{}: {found:?}", row.to);
            }
            for spec in group.fields {
                let first = spec.split('|').next().unwrap();
                set(&mut f, first, json!("x"));
            }
        }
        let left: Vec<_> = violations(&f, row.to).into_iter().filter(|x| x.rule != "required").collect();
        assert!(left.is_empty(), "{}: {left:?}", row.to);
    }
}

#[test]
fn each_rows_conditional_fields_are_required_when_their_condition_holds() {
    for row in REQUIRED_BEFORE {
        for form in row.conditional {
            for case_type in ["uasc", "family_with_children"] {
                let from = row.from.unwrap_or(Stage::Identified);
                let mut f = facts(case_type, from);
                let (form_id, key, value, field) = trigger(form, case_type);
                let path = format!("{form_id}.{field}");
                let missing = |f: &CaseFacts| {
                    violations(f, row.to).into_iter().any(|v| v.rule == "required" && v.message.contains(&path))
                };
                assert!(!missing(&f), "{} from {from}: {path} asked without its condition", row.to);
                set(&mut f, key, value.clone());
                assert!(missing(&f), "{} from {from}: {path} not asked when {key} = {value}", row.to);
                set(&mut f, &path, json!("recorded"));
                assert!(!missing(&f), "{} from {from}: {path} still asked once recorded", row.to);
            }
        }
    }
}

#[test]
fn the_pre_return_checklist_is_asked_before_the_return_not_at_the_decision() {
    let mut f = facts("uasc", Stage::BidPending);
    set(&mut f, "bid.decided_solution", json!("return_reintegration"));
    let asks = |f: &CaseFacts, to| violations(f, to).iter().any(|v| v.message.contains("bid.pre_return_checklist"));
    assert!(!asks(&f, Stage::BidDecided));
    f.stage = Stage::BidDecided;
    assert!(asks(&f, Stage::SolutionInProgress));
}

#[test]
fn the_store_refuses_a_move_naming_the_rule_and_the_missing_fields() {
    let t = tempfile::tempdir().unwrap();
    let mut s = device(&t.path().join("d"), "amina", "caseworker");
    let case = s.create_case("uasc", "Agadez").unwrap();
    s.save_form(
        case,
        "registration_bia",
        None,
        values(json!({"given_names": "Yonas", "age_years": 15, "legitimate_basis": "vital_interests",
            "interpreter_needed": true, "interpreter_offer": "accepted",
            "interpreter": {"name": "Selam Haile"}, "interpreter_sex": "female",
            "interpreter_link": "none_professional", "interpreter_confidentiality_pledge": true})),
    )
    .unwrap();
    let before = full_dump(&s);
    let e = s.change_stage(case, Stage::Registered, "registered").unwrap_err();
    let StoreError::RuleViolated { violations } = &e else { panic!("{e}") };
    let by = |rule: &str| violations.iter().find(|v| v.rule == rule).map(|v| v.message.clone()).unwrap_or_default();
    assert!(by("registration").contains("registration_bia.sex"), "{violations:?}");
    assert!(by("required").contains("registration_bia.interpreter_affiliation"), "{violations:?}");
    // Each names the condition by its code, with the stage and fields as parameters.
    let v = violations.iter().find(|v| v.rule == "required").unwrap();
    assert_eq!(v.code, "required_before_stage");
    assert_eq!(v.params["to"], "registered");
    assert!(v.params["fields"].contains("registration_bia.interpreter_affiliation"), "{v:?}");
    assert_eq!(full_dump(&s), before, "a refused move wrote nothing");
    s.save_form(
        case,
        "registration_bia",
        None,
        values(json!({"sex": "male", "interpreter_affiliation": "Court interpreters' roster"})),
    )
    .unwrap();
    s.change_stage(case, Stage::Registered, "registered").unwrap();
}
