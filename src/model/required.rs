//! What must be recorded before a case enters each stage: one table,
//! [`REQUIRED_BEFORE`], read by `lifecycle::check` for every stage change
//! (locally and at import), so the library — not a screen — refuses a
//! transition whose forms are incomplete.
//!
//! Each row names the stage entered (and, where it matters, the stage
//! left), the fields that must hold a value, grouped under the rule that
//! asks for them, and the forms whose *conditional* fields (`required_if`
//! in `assets/forms/*.json`: a guardian's name once a guardian is
//! appointed, a transition plan for a closure as `turned_18`, …) must be
//! filled whenever their condition holds. A refusal names the rule and
//! every missing field (`form.field`). What the guards of
//! `lifecycle::TRANSITIONS` check beyond presence (a value that must be
//! `approved`, a relative verified, R1's safeguards) stays in the guards.

use serde_json::{Map, Value};

use crate::model::forms::{self, FieldErrorCode};
use crate::model::lifecycle::{present, CaseFacts, RuleViolation, Stage};
use crate::model::violation::ViolationCode;

/// The rule code of a conditional field left empty.
pub const CONDITIONAL_RULE: &str = "required";

/// Fields that must hold a value, under the rule that asks for them. A
/// field written `"form.a|form.b"` is satisfied by either.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// Rule code (`"R5"`, `"R11"`, `"registration"`, …).
    pub rule: &'static str,
    /// `form.field` (or alternatives joined by `|`).
    pub fields: &'static [&'static str],
}

/// Which forms' conditional fields are checked: named forms, or the
/// reintegration plan of the case's type (F6 for an unaccompanied or
/// separated child, F7 for a family).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormRef {
    /// This form.
    Form(&'static str),
    /// This form but these fields (asked at a later stage).
    Except(&'static str, &'static [&'static str]),
    /// These display sections of this form (F1 is filled in two steps:
    /// registration, then the assessment).
    Sections(&'static str, &'static [&'static str]),
    /// `reintegration_uasc` or `reintegration_family`, by case type.
    ReintegrationPlan,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Required {
    /// The stage entered.
    pub to: Stage,
    /// The stage left, when the row is for one transition only.
    pub from: Option<Stage>,
    /// Fields that must hold a value.
    pub fields: &'static [Fields],
    /// Forms whose conditional fields must be filled when their condition holds.
    pub conditional: &'static [FormRef],
}

const F1: FormRef = FormRef::Form("registration_bia");
/// F1's registration part: what registering a child records.
const F1_REGISTRATION: FormRef =
    FormRef::Sections("registration_bia", &["registration", "identity", "current_location", "consent"]);
const BID: FormRef = FormRef::Form("bid");
const PLAN: FormRef = FormRef::ReintegrationPlan;
const CLOSURE: FormRef = FormRef::Form("closure_transfer");
const CASE_PLAN: FormRef = FormRef::Form("case_plan");
const AGE: FormRef = FormRef::Form("age_assessment");

const fn row(to: Stage, from: Option<Stage>, fields: &'static [Fields], conditional: &'static [FormRef]) -> Required {
    Required { to, from, fields, conditional }
}

const SUBMISSION: &[Fields] = &[Fields { rule: "transition", fields: &["bid.submission_report"] }];

/// The table: for every stage a case can enter, what must be recorded
/// first (DOMAIN §2.2's guards column, field by field). Rows are matched
/// on `to` and, when set, `from`; every matching row applies.
pub static REQUIRED_BEFORE: &[Required] = &[
    row(
        Stage::Registered,
        None,
        &[
            Fields {
                rule: "registration",
                fields: &[
                    "registration_bia.given_names|registration_bia.family_name",
                    "registration_bia.sex",
                    "registration_bia.age_years",
                ],
            },
            Fields { rule: "R4", fields: &["registration_bia.legitimate_basis"] },
        ],
        &[F1_REGISTRATION],
    ),
    row(Stage::BiaInProgress, None, &[], &[F1_REGISTRATION]),
    row(
        Stage::BiaCompleted,
        None,
        &[
            Fields { rule: "R5", fields: &["registration_bia.risk_level"] },
            Fields { rule: "bia", fields: &["registration_bia.protection_concerns", "registration_bia.bid_required"] },
        ],
        &[F1, AGE],
    ),
    // F1 is checked whole when the assessment is signed; later stages
    // check the forms they complete.
    row(Stage::Tracing, None, &[], &[]),
    row(Stage::FamilyAssessment, None, &[], &[]),
    row(Stage::Verification, None, &[], &[]),
    row(Stage::BidPending, Some(Stage::BiaCompleted), SUBMISSION, &[BID]),
    row(Stage::BidPending, Some(Stage::Tracing), SUBMISSION, &[BID]),
    row(Stage::BidPending, Some(Stage::Verification), SUBMISSION, &[BID]),
    row(Stage::BidPending, Some(Stage::BidDecided), &[], &[FormRef::Except("bid", &["pre_return_checklist"])]),
    // R1's pre-return checklist is due before the return is implemented,
    // not at the decision.
    row(Stage::BidDecided, None, &[], &[FormRef::Except("bid", &["pre_return_checklist"])]),
    row(
        Stage::SolutionInProgress,
        Some(Stage::BiaCompleted),
        &[Fields {
            rule: "transition",
            fields: &["reintegration_family.plan_date", "reintegration_family.risk_mitigation"],
        }],
        &[PLAN],
    ),
    row(Stage::SolutionInProgress, Some(Stage::Verification), &[], &[]),
    row(Stage::SolutionInProgress, Some(Stage::BidDecided), &[], &[BID]),
    row(Stage::Reintegration, None, &[], &[PLAN]),
    row(Stage::FollowUp, None, &[], &[PLAN]),
    row(Stage::ClosurePending, Some(Stage::BidPending), &[], &[BID]),
    // R11's closure form is checked by its guard (the reason decides what
    // else it needs); here its conditional fields.
    row(Stage::ClosurePending, None, &[], &[CLOSURE, CASE_PLAN]),
    row(Stage::Closed, None, &[], &[CLOSURE]),
    row(Stage::TransferredOut, None, &[], &[CLOSURE]),
    row(Stage::SuspendedLostContact, None, &[], &[]),
    row(Stage::Duplicate, None, &[], &[]),
    row(Stage::Reopened, None, &[], &[]),
];

/// The rows that apply to moving from `from` to `to`.
pub fn rows_for(from: Stage, to: Stage) -> impl Iterator<Item = &'static Required> {
    REQUIRED_BEFORE.iter().filter(move |r| r.to == to && r.from.is_none_or(|f| f == from))
}

fn field_present(f: &CaseFacts, spec: &str) -> bool {
    spec.split('|').any(|one| match one.split_once('.') {
        Some((form, field)) => f.value(form, field).is_some(),
        None => false,
    })
}

/// The current values of one non-repeating form of the case.
fn form_values(f: &CaseFacts, form: &str) -> Map<String, Value> {
    let prefix = format!("{form}.");
    f.values
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(&prefix).filter(|_| present(v)).map(|n| (n.to_string(), v.clone())))
        .collect()
}

/// Part of a form.
#[derive(Clone, Copy)]
enum Part {
    Sections(&'static [&'static str]),
    Except(&'static [&'static str]),
}

/// The conditional fields of `form` (of that part only, when given) whose
/// condition holds but which are empty, as `form.field` paths.
fn missing_conditional(f: &CaseFacts, form: &str, sections: Option<Part>) -> Vec<String> {
    let Some(def) = forms::registry().get(form) else { return Vec::new() };
    let values = form_values(f, form);
    let Err(errors) = forms::validate_complete_in_case(def, &values, &f.values) else { return Vec::new() };
    let in_sections = |path: &str| {
        let top = path.split(['.', '[']).next().unwrap_or(path);
        match sections {
            None => true,
            Some(Part::Sections(list)) => {
                def.sections.iter().any(|s| list.contains(&s.id.as_str()) && s.fields.iter().any(|x| x == top))
            }
            Some(Part::Except(fields)) => !fields.contains(&top),
        }
    };
    errors
        .into_iter()
        .filter(|e| e.code == FieldErrorCode::ConditionallyRequired && in_sections(&e.field))
        .map(|e| format!("{form}.{}", e.field))
        .collect()
}

/// Every violation of the table for moving the case to `to`: one per rule
/// that has missing fields, naming them.
pub fn violations(f: &CaseFacts, to: Stage) -> Vec<RuleViolation> {
    let mut by_rule: Vec<(&str, Vec<String>)> = Vec::new();
    let mut push = |rule: &'static str, field: String| match by_rule.iter_mut().find(|(r, _)| *r == rule) {
        Some((_, v)) => {
            if !v.contains(&field) {
                v.push(field)
            }
        }
        None => by_rule.push((rule, vec![field])),
    };
    for row in rows_for(f.stage, to) {
        for group in row.fields {
            for spec in group.fields {
                if !field_present(f, spec) {
                    push(group.rule, spec.replace('|', " or "));
                }
            }
        }
        for form in row.conditional {
            let (name, sections) = match form {
                FormRef::Form(n) => (*n, None),
                FormRef::Sections(n, s) => (*n, Some(Part::Sections(s))),
                FormRef::Except(n, s) => (*n, Some(Part::Except(s))),
                FormRef::ReintegrationPlan if f.is_uasc() => ("reintegration_uasc", None),
                FormRef::ReintegrationPlan => ("reintegration_family", None),
            };
            for field in missing_conditional(f, name, sections) {
                push(CONDITIONAL_RULE, field);
            }
        }
    }
    by_rule
        .into_iter()
        .map(|(rule, fields)| {
            RuleViolation::new(rule, ViolationCode::RequiredBeforeStage, &[("to", &to), ("fields", &fields.join(", "))])
        })
        .collect()
}
