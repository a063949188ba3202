//! Validation of saved values against a form definition, with field-level errors.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::condition::is_empty_value;
use super::{FieldDef, FieldType, FormDef};

/// What is wrong with one value; stable machine codes the UI can translate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldErrorCode {
    /// The form (or list item) has no field of that name.
    UnknownField,
    /// The JSON kind does not match the field type (e.g. a number for a text).
    WrongType,
    /// An enum or multi-enum value is not in the field's list.
    NotInList,
    /// A date is not a real `YYYY-MM-DD` date.
    BadDate,
    /// A datetime is not RFC 3339.
    BadDatetime,
    /// A number is below `min` or above `max`.
    OutOfRange,
    /// A person reference is not `{"name", "role"?, "organisation"?}` with a name.
    BadPersonRef,
    /// A signature/consent is not `{"by", "method", "date"}` with a known method.
    BadConsent,
    /// An attachment is not `{"blob", "name", "mime"}`.
    BadAttachment,
    /// A multi-enum lists the same value twice.
    DuplicateValue,
    /// A required field is empty in a complete form.
    Required,
    /// A field required by a condition on another field is empty in a complete form.
    ConditionallyRequired,
    /// A value is given for a field that its `shown_if` condition hides.
    NotApplicable,
    /// A list has fewer items than `min_items` in a complete form.
    TooFewItems,
}

/// One problem with one field; `field` is a path such as `family_members[1].relationship`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// Field path.
    pub field: String,
    /// Machine code.
    pub code: FieldErrorCode,
    /// English sentence naming the field label and the problem.
    pub message: String,
}

const CONSENT_METHODS: [&str; 3] = ["signature", "thumbprint", "witnessed_verbal"];

/// Partial save: every given value belongs to a known field, has the right type
/// and a listed option. Empty values (null, "", []) are allowed: they clear a field.
pub fn validate_values(def: &FormDef, values: &Map<String, Value>) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    check_level(&def.fields, values, "", Mode::Partial, &mut errors);
    finish(errors)
}

/// Complete form: [`validate_values`] plus required and conditionally required
/// fields present, list minimum sizes, and no values in hidden fields.
/// Conditions on another form of the case are not enforced here; use
/// [`validate_complete_in_case`] for them.
pub fn validate_complete(def: &FormDef, values: &Map<String, Value>) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    check_level(&def.fields, values, "", Mode::Complete(None), &mut errors);
    finish(errors)
}

/// [`validate_complete`] that also enforces conditions on other forms of the
/// case; `case_values` maps `form_id.field` to the current value (the shape of
/// `CaseFacts::values`). A field missing from it counts as empty.
pub fn validate_complete_in_case(
    def: &FormDef,
    values: &Map<String, Value>,
    case_values: &BTreeMap<String, Value>,
) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    check_level(&def.fields, values, "", Mode::Complete(Some(case_values)), &mut errors);
    finish(errors)
}

fn finish(errors: Vec<FieldError>) -> Result<(), Vec<FieldError>> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[derive(Clone, Copy)]
enum Mode<'a> {
    Partial,
    Complete(Option<&'a BTreeMap<String, Value>>),
}

fn err(errors: &mut Vec<FieldError>, path: &str, field: &FieldDef, code: FieldErrorCode, what: String) {
    errors.push(FieldError { field: path.to_string(), code, message: format!("{} ({path}): {what}", field.labels.en) });
}

/// JSON kind for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a true/false value",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn check_level(
    fields: &[FieldDef],
    values: &Map<String, Value>,
    prefix: &str,
    mode: Mode<'_>,
    errors: &mut Vec<FieldError>,
) {
    for (name, value) in values {
        let path = format!("{prefix}{name}");
        match fields.iter().find(|f| &f.name == name) {
            None => errors.push(FieldError {
                field: path.clone(),
                code: FieldErrorCode::UnknownField,
                message: format!("{path}: this form has no field of that name"),
            }),
            Some(field) => check_value(field, value, &path, mode, errors),
        }
    }
    let Mode::Complete(case) = mode else { return };
    for field in fields {
        let path = format!("{prefix}{}", field.name);
        let value = values.get(&field.name);
        let empty = is_empty_value(value);
        let shown = match &field.shown_if {
            None => true,
            // A cross-form condition without case values is not enforced.
            Some(c) => c.eval(values, case).unwrap_or(true),
        };
        if !shown {
            if !empty {
                let cond = field.shown_if.as_ref().map(|c| c.field.as_str()).unwrap_or_default();
                err(
                    errors,
                    &path,
                    field,
                    FieldErrorCode::NotApplicable,
                    format!("must be empty here: it only applies depending on {cond}"),
                );
            }
            continue;
        }
        if empty {
            if field.required {
                err(errors, &path, field, FieldErrorCode::Required, "is required".into());
            } else if let Some(cond) = &field.required_if {
                if cond.eval(values, case) == Some(true) {
                    err(
                        errors,
                        &path,
                        field,
                        FieldErrorCode::ConditionallyRequired,
                        format!("is required given the value of {}", cond.field),
                    );
                }
            }
            continue;
        }
        if let (Some(min), Some(Value::Array(items))) = (field.min_items, value) {
            if items.len() < min {
                err(
                    errors,
                    &path,
                    field,
                    FieldErrorCode::TooFewItems,
                    format!("needs at least {min} entries, has {}", items.len()),
                );
            }
        }
    }
}

fn check_value(field: &FieldDef, value: &Value, path: &str, mode: Mode<'_>, errors: &mut Vec<FieldError>) {
    // Null, "" and [] clear a field in a partial save; whether a complete form
    // may leave it empty is decided by `check_level`. An empty object is not a
    // clearing value: it is checked (and rejected) as a malformed record.
    if !value.is_object() && is_empty_value(Some(value)) {
        return;
    }
    let wrong = |errors: &mut Vec<FieldError>, expected: &str| {
        err(errors, path, field, FieldErrorCode::WrongType, format!("expected {expected}, got {}", kind(value)));
    };
    match field.field_type {
        FieldType::Text | FieldType::Longtext => {
            if !value.is_string() {
                wrong(errors, "text");
            }
        }
        FieldType::Bool => {
            if !value.is_boolean() {
                wrong(errors, "true or false");
            }
        }
        FieldType::Date => match value.as_str() {
            None => wrong(errors, "a date \"YYYY-MM-DD\""),
            Some(s) if !is_date(s) => {
                err(errors, path, field, FieldErrorCode::BadDate, format!("{s:?} is not a date in the form YYYY-MM-DD"))
            }
            Some(_) => {}
        },
        FieldType::Datetime => match value.as_str() {
            None => wrong(errors, "a date and time (RFC 3339)"),
            Some(s) if chrono::DateTime::parse_from_rfc3339(s).is_err() => err(
                errors,
                path,
                field,
                FieldErrorCode::BadDatetime,
                format!("{s:?} is not a date and time such as 2026-03-01T14:30:00Z"),
            ),
            Some(_) => {}
        },
        FieldType::Number => match value.as_f64() {
            None => wrong(errors, "a number"),
            Some(n) => {
                let low = field.min.is_some_and(|m| n < m);
                let high = field.max.is_some_and(|m| n > m);
                if low || high {
                    let range = match (field.min, field.max) {
                        (Some(a), Some(b)) => format!("between {a} and {b}"),
                        (Some(a), None) => format!("at least {a}"),
                        (None, Some(b)) => format!("at most {b}"),
                        (None, None) => String::new(),
                    };
                    err(
                        errors,
                        path,
                        field,
                        FieldErrorCode::OutOfRange,
                        format!("{n} is out of range: must be {range}"),
                    );
                }
            }
        },
        FieldType::Enum => match value.as_str() {
            None => wrong(errors, "one value of the list"),
            Some(s) => check_option(field, s, path, errors),
        },
        FieldType::MultiEnum => match value.as_array() {
            None => wrong(errors, "a list of values"),
            Some(items) => {
                let mut seen = BTreeSet::new();
                for item in items {
                    match item.as_str() {
                        None => wrong(errors, "a list of text values"),
                        Some(s) => {
                            check_option(field, s, path, errors);
                            if !seen.insert(s) {
                                err(errors, path, field, FieldErrorCode::DuplicateValue, format!("lists {s:?} twice"));
                            }
                        }
                    }
                }
            }
        },
        FieldType::ListText => match value.as_array() {
            Some(items) if items.iter().all(Value::is_string) => {}
            _ => wrong(errors, "a list of text"),
        },
        FieldType::PersonRef => {
            if let Some(problem) = person_ref_problem(value) {
                err(errors, path, field, FieldErrorCode::BadPersonRef, problem);
            }
        }
        FieldType::Consent => {
            if let Some(problem) = consent_problem(value) {
                err(errors, path, field, FieldErrorCode::BadConsent, problem);
            }
        }
        FieldType::Attachment => {
            if let Some(problem) = attachment_problem(value) {
                err(errors, path, field, FieldErrorCode::BadAttachment, problem);
            }
        }
        FieldType::GroupList => match value.as_array() {
            None => wrong(errors, "a list of entries"),
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    match item.as_object() {
                        None => err(
                            errors,
                            &format!("{path}[{i}]"),
                            field,
                            FieldErrorCode::WrongType,
                            format!("entry {i} should be an object, got {}", kind(item)),
                        ),
                        Some(obj) => check_level(&field.fields, obj, &format!("{path}[{i}]."), mode, errors),
                    }
                }
            }
        },
    }
}

fn check_option(field: &FieldDef, s: &str, path: &str, errors: &mut Vec<FieldError>) {
    if field.option(s).is_none() {
        err(errors, path, field, FieldErrorCode::NotInList, format!("{s:?} is not one of the allowed values"));
    }
}

/// A real calendar date written exactly `YYYY-MM-DD`.
fn is_date(s: &str) -> bool {
    s.len() == 10 && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

fn non_empty_str(obj: &Map<String, Value>, key: &str) -> bool {
    obj.get(key).and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty())
}

/// Keys outside `allowed`, for strict shapes (a typo would silently lose data).
fn extra_keys(obj: &Map<String, Value>, allowed: &[&str]) -> Option<String> {
    let extra: Vec<&str> = obj.keys().map(String::as_str).filter(|k| !allowed.contains(k)).collect();
    (!extra.is_empty()).then(|| format!("unexpected keys {extra:?} (allowed: {allowed:?})"))
}

fn person_ref_problem(v: &Value) -> Option<String> {
    let Some(obj) = v.as_object() else {
        return Some(format!("expected a person {{\"name\", \"role\", \"organisation\"}}, got {}", kind(v)));
    };
    if let Some(e) = extra_keys(obj, &["name", "role", "organisation"]) {
        return Some(e);
    }
    if !non_empty_str(obj, "name") {
        return Some("a person needs a non-empty \"name\"".into());
    }
    for key in ["role", "organisation"] {
        if obj.get(key).is_some_and(|x| !x.is_string() && !x.is_null()) {
            return Some(format!("\"{key}\" must be text"));
        }
    }
    None
}

fn consent_problem(v: &Value) -> Option<String> {
    let Some(obj) = v.as_object() else {
        return Some(format!("expected {{\"by\", \"method\", \"date\"}}, got {}", kind(v)));
    };
    if let Some(e) = extra_keys(obj, &["by", "method", "date", "supersedes"]) {
        return Some(e);
    }
    if !non_empty_str(obj, "by") {
        return Some("needs a non-empty \"by\" (who signed or consented)".into());
    }
    match obj.get("method").and_then(Value::as_str) {
        Some(m) if CONSENT_METHODS.contains(&m) => {}
        _ => return Some(format!("\"method\" must be one of {CONSENT_METHODS:?}")),
    }
    if !obj.get("date").and_then(Value::as_str).is_some_and(is_date) {
        return Some("\"date\" must be a date YYYY-MM-DD".into());
    }
    if obj.get("supersedes").is_some_and(|x| !x.is_string()) {
        return Some("\"supersedes\" must be the id of the record it replaces".into());
    }
    None
}

fn attachment_problem(v: &Value) -> Option<String> {
    let Some(obj) = v.as_object() else {
        return Some(format!("expected {{\"blob\", \"name\", \"mime\"}}, got {}", kind(v)));
    };
    if let Some(e) = extra_keys(obj, &["blob", "name", "mime"]) {
        return Some(e);
    }
    for key in ["blob", "name", "mime"] {
        if !non_empty_str(obj, key) {
            return Some(format!("needs a non-empty \"{key}\""));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::forms::registry;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().expect("object").clone()
    }

    #[test]
    fn empty_values_clear_fields_in_partial_save() {
        let def = registry().get("case_note").unwrap();
        assert!(validate_values(def, &map(json!({"subject": "", "note_type": null, "attachments": []}))).is_ok());
    }

    #[test]
    fn message_names_label_and_problem() {
        let def = registry().get("case_note").unwrap();
        let errs = validate_values(def, &map(json!({"note_type": "gossip"}))).unwrap_err();
        assert_eq!(errs[0].field, "note_type");
        assert!(errs[0].message.starts_with("Type (note_type)"), "{}", errs[0].message);
        assert!(errs[0].message.contains("gossip"));
    }

    #[test]
    fn sub_field_errors_have_paths() {
        let def = registry().get("bid").unwrap();
        let errs =
            validate_values(def, &map(json!({"dissent": [{"member": {"name": "A"}, "reasons": 5}]}))).unwrap_err();
        assert_eq!(errs[0].field, "dissent[0].reasons");
        assert_eq!(errs[0].code, FieldErrorCode::WrongType);
    }

    #[test]
    fn cross_form_condition_only_with_case_values() {
        let def = registry().get("bid").unwrap();
        let mut case = BTreeMap::new();
        case.insert("registration_bia.child_status".to_string(), json!("unaccompanied"));
        let without = validate_complete(def, &Map::new()).unwrap_err();
        assert!(!without.iter().any(|e| e.field == "guardian_view"));
        let with = validate_complete_in_case(def, &Map::new(), &case).unwrap_err();
        assert!(with.iter().any(|e| e.field == "guardian_view" && e.code == FieldErrorCode::ConditionallyRequired));
    }
}
