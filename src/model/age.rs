//! Rule R13: a disputed or doubtful age keeps the child's protections.
//!
//! Every rule that depends on the child's age (turning 18, closure as
//! `turned_18`, the age bands of the reports) reads the age through
//! [`child_age`], never the registration's `age_years` or `date_of_birth`
//! directly. When the age assessment (form `age_assessment`) says the age is
//! disputed or that the benefit of the doubt applies, or the registration's
//! `age_basis` is `disputed`, the child is taken at the age they declared:
//! an assessment that made them older cannot end a protection early while
//! the doubt lasts.

use chrono::NaiveDate;
use serde_json::Value;

use crate::model::lifecycle::CaseFacts;

/// The age the rules use, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChildAge {
    /// A date of birth the rules may count from (none when only an age in
    /// years is known, or when the recorded one is in dispute).
    pub date_of_birth: Option<NaiveDate>,
    /// The age in years at registration.
    pub age_years: Option<f64>,
    /// True when R13 applies: the age is the declared one because the age
    /// is disputed or the benefit of the doubt applies.
    pub declared_under_r13: bool,
}

/// The values [`child_age`] reads, looked up by `(form, field)`. Lets the
/// reports, which hold a case in another shape, apply the same rule.
pub trait AgeSource {
    /// The current value of `form.field`, if it holds something.
    fn age_value(&self, form: &str, field: &str) -> Option<Value>;
}

impl AgeSource for CaseFacts {
    fn age_value(&self, form: &str, field: &str) -> Option<Value> {
        self.value(form, field).cloned()
    }
}

/// Whether R13 applies to the case: its age is disputed or the benefit of
/// the doubt was given.
pub fn age_in_doubt(case: &impl AgeSource) -> bool {
    let yes = |field: &str| case.age_value("age_assessment", field).and_then(|v| v.as_bool()) == Some(true);
    yes("disputed")
        || yes("benefit_of_doubt")
        || case.age_value("registration_bia", "age_basis").as_ref().and_then(Value::as_str) == Some("disputed")
}

fn date(v: Option<Value>) -> Option<NaiveDate> {
    let v = v?;
    NaiveDate::parse_from_str(v.as_str()?.get(..10)?, "%Y-%m-%d").ok()
}

fn years(v: Option<Value>) -> Option<f64> {
    v?.as_f64().filter(|a| (0.0..=25.0).contains(a))
}

/// The child's age as every age rule must read it (R13).
///
/// Without doubt: the registration's date of birth and age. In doubt: the
/// declared date of birth and age of the age assessment, else the
/// registration's age in years (what the child said at registration when no
/// assessment is recorded) — never a date of birth that is itself disputed;
/// and never older than the registration's age in years.
pub fn child_age(case: &impl AgeSource) -> ChildAge {
    let reg_age = years(case.age_value("registration_bia", "age_years"));
    if !age_in_doubt(case) {
        return ChildAge {
            date_of_birth: date(case.age_value("registration_bia", "date_of_birth")),
            age_years: reg_age,
            declared_under_r13: false,
        };
    }
    let declared_dob = date(case.age_value("age_assessment", "declared_date_of_birth"));
    let declared_age = years(case.age_value("age_assessment", "declared_age"));
    // A child who declares an older age than the one recorded is not made
    // older by R13: the doubt always reads as the younger age.
    let registered_on = date(case.age_value("registration_bia", "registration_date"));
    let declared_years = match (declared_dob, registered_on) {
        (Some(dob), Some(on)) => on.years_since(dob).map(f64::from),
        (Some(_), None) => None,
        (None, _) => declared_age,
    };
    if let (Some(declared), Some(recorded)) = (declared_years, reg_age) {
        if declared.floor() > recorded.floor() {
            return ChildAge { date_of_birth: None, age_years: Some(recorded), declared_under_r13: true };
        }
    }
    ChildAge { date_of_birth: declared_dob, age_years: declared_age.or(reg_age), declared_under_r13: true }
}
