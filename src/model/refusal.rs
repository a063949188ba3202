//! Why a receiver's rules refused an imported event whose signature and
//! origin are valid: the reason kept with the event in quarantine and
//! reported back to the device that made it (docs/bundle-format.md §6.1).
//!
//! Only *rule* refusals are expressed here. An authentication or integrity
//! failure (bad signature, unknown device, equivocation, malformed event)
//! refuses the whole bundle and never becomes a [`Refusal`]: quarantine is
//! for events someone really made and the receiver's state forbids.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use std::collections::BTreeMap;

use crate::model::error::StoreError;
use crate::model::lifecycle::RuleViolation;

/// A rule refusal: a stable machine code, its parameters and an English
/// sentence (the shells translate by `code`, using `params`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// Stable code: one of [`CODES`].
    pub code: String,
    /// Parameters of the code (an object; see docs/bundle-format.md §6.1).
    #[serde(default)]
    pub params: Value,
    /// English text.
    pub text: String,
}

/// Every code a [`Refusal`] may carry.
pub const CODES: &[&str] = &[
    "rule_violated",
    "forbidden",
    "invalid_values",
    "unknown_form",
    "case_not_registered",
    "already_registered",
    "not_a_head",
    "no_conflict",
    "depends_on_refused",
    "hidden",
];

impl Refusal {
    /// The refusal of an event whose base names `refused`, an event held in
    /// quarantine: it was made on top of a change this vault does not have,
    /// so applying it would show a history nobody made.
    pub fn depends_on(refused: Uuid) -> Refusal {
        Refusal {
            code: "depends_on_refused".into(),
            params: json!({ "event": refused }),
            text: format!("made after event {refused}, which was refused; redo both once that one is corrected"),
        }
    }

    /// The broken rules of a `rule_violated` refusal, each with its code
    /// and parameters (empty for other codes, and for a malformed list).
    pub fn violations(&self) -> Vec<RuleViolation> {
        self.params.get("violations").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default()
    }

    /// The parameters of the code that are plain values (a role, a form,
    /// an event id…), as text: what a translated message of the code may
    /// use. Lists and objects (`violations`, `errors`) are left out.
    pub fn text_params(&self) -> BTreeMap<String, String> {
        let Some(obj) = self.params.as_object() else { return BTreeMap::new() };
        obj.iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k.clone(), s.clone())),
                Value::Number(n) => Some((k.clone(), n.to_string())),
                Value::Bool(b) => Some((k.clone(), b.to_string())),
                _ => None,
            })
            .collect()
    }

    /// The refusal an error of the rule check stands for, or `None` when the
    /// error is not a rule refusal (then the whole import is refused).
    pub fn from_rule_error(e: &StoreError) -> Option<Refusal> {
        let text = e.to_string();
        let (code, params) = match e {
            StoreError::RuleViolated { violations } => ("rule_violated", json!({ "violations": violations })),
            StoreError::Forbidden { role, action } => ("forbidden", json!({ "role": role, "action": action })),
            StoreError::Invalid { errors } => ("invalid_values", json!({ "errors": errors })),
            StoreError::UnknownForm { form } => ("unknown_form", json!({ "form": form })),
            StoreError::NotFound { case } => ("case_not_registered", json!({ "case": case })),
            // The rule check's only `Malformed` is a second registration;
            // the shape check (a real malformation) runs before it and
            // refuses the bundle.
            StoreError::Malformed { reason, .. } => ("already_registered", json!({ "reason": reason })),
            StoreError::NotAHead { form, field, event } => {
                ("not_a_head", json!({ "form": form, "field": field, "event": event }))
            }
            StoreError::NoConflict { form, field } => ("no_conflict", json!({ "form": form, "field": field })),
            // A supervisor acting outside their team (docs/visibility.md §7).
            StoreError::Hidden { case, reason } => ("hidden", json!({ "case": case, "reason": reason })),
            _ => return None,
        };
        Some(Refusal { code: code.into(), params, text })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::event::Role;

    #[test]
    fn every_rule_error_maps_to_a_listed_code_and_integrity_errors_do_not() {
        let rule = StoreError::Forbidden { role: Role::Caseworker, action: "close a case".into() };
        let r = Refusal::from_rule_error(&rule).expect("a rule refusal");
        assert_eq!(r.code, "forbidden");
        assert_eq!(r.params["action"], "close a case");
        assert!(CODES.contains(&r.code.as_str()));
        assert!(CODES.contains(&Refusal::depends_on(Uuid::nil()).code.as_str()));
        let forged = StoreError::UnknownDevice { device: Uuid::nil(), event: Uuid::nil() };
        assert!(Refusal::from_rule_error(&forged).is_none());
        let broken = StoreError::RuleViolated {
            violations: vec![RuleViolation::new(
                "R11",
                crate::model::violation::ViolationCode::LostContactTooRecent,
                &[("last", &"2026-01-02")],
            )],
        };
        let r = Refusal::from_rule_error(&broken).expect("a rule refusal");
        let kept: Refusal = serde_json::from_str(&serde_json::to_string(&r).expect("json")).expect("read back");
        let v = &kept.violations()[0];
        assert_eq!((v.code.as_str(), v.params["last"].as_str()), ("lost_contact_too_recent", "2026-01-02"));
        assert!(kept.text_params().is_empty(), "the list is not a text parameter");
        let forbidden = Refusal::from_rule_error(&rule).expect("a rule refusal");
        assert_eq!(forbidden.text_params()["role"], "caseworker");
        let twice = StoreError::Equivocation { device: Uuid::nil(), seq: 1, existing: Uuid::nil(), new: Uuid::nil() };
        assert!(Refusal::from_rule_error(&twice).is_none());
    }
}
