//! The kinds of request an office sends to a partner abroad
//! (docs/bundle-format.md §11.2), loaded from
//! `assets/requests/partner_request_kinds.json`: which fields each kind
//! shares, the consent it needs, its answer form and its due days.
//!
//! Kinds are data like the forms, so what leaves the office for each kind
//! is read and reviewed in one file. [`shared_values`] is the one function
//! that picks the values a request carries: the preview and the bundle both
//! call it, so the preview is exactly what is sent.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::model::forms;
use crate::model::lifecycle::{CaseFacts, RuleViolation};
use crate::model::violation::ViolationCode;

/// `format` of the kinds file.
pub const KINDS_FORMAT: &str = "fieldcase-partner-request-kinds";
/// The form a request is recorded with in the case.
pub const REQUEST_FORM: &str = "partner_request";
const EMBEDDED_KINDS: &str = include_str!("../../assets/requests/partner_request_kinds.json");

/// The fields of one form a kind shares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    /// The form.
    pub form: String,
    /// Whether the fields are of the one record (list item) the request is
    /// about, rather than of the form's single set of values.
    #[serde(default)]
    pub item: bool,
    /// The field names.
    pub fields: Vec<String>,
}

/// One kind of request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestKind {
    /// Machine name, e.g. `family_tracing`.
    pub id: String,
    /// Labels by language.
    pub labels: std::collections::BTreeMap<String, String>,
    /// Days the partner has to answer.
    pub due_days: u32,
    /// Consent scopes the child's or guardian's consent must cover (R4).
    pub consent_scopes: Vec<String>,
    /// Whether the request is about a relative whose tracing safety check
    /// must say `safe` (R8).
    #[serde(default)]
    pub tracing_safety_check: bool,
    /// The repeating form of the record the request is about, when a share
    /// is of one record.
    #[serde(default)]
    pub item_form: Option<String>,
    /// What it shares.
    pub shares: Vec<Share>,
    /// The form the answer's fields belong to.
    pub answer_form: String,
    /// The fields the answer may carry.
    pub answer_fields: Vec<String>,
}

impl RequestKind {
    /// The English label (the id when there is none).
    pub fn label(&self) -> &str {
        self.labels.get("en").map_or(self.id.as_str(), String::as_str)
    }

    /// Whether the kind is about one record of `item_form`.
    pub fn needs_item(&self) -> bool {
        self.shares.iter().any(|s| s.item)
    }

    /// Whether `form.field` is one of the fields this kind shares.
    pub fn shares_field(&self, form: &str, field: &str) -> bool {
        self.shares.iter().any(|s| s.form == form && s.fields.iter().any(|f| f == field))
    }
}

#[derive(Deserialize)]
struct KindsFile {
    format: String,
    version: u32,
    kinds: Vec<RequestKind>,
}

/// Parse and check a kinds file against the form registry: every form and
/// field it names exists, every consent scope is in the `consent_scope`
/// list, a record share names the kind's `item_form`.
pub fn parse_kinds(text: &str) -> Result<Vec<RequestKind>, String> {
    let file: KindsFile = serde_json::from_str(text).map_err(|e| format!("request kinds: {e}"))?;
    if file.format != KINDS_FORMAT || file.version != 1 {
        return Err(format!("request kinds: not a version-1 {KINDS_FORMAT}"));
    }
    let reg = forms::registry();
    let scopes = reg.value_list("consent_scope").ok_or("no consent_scope value list")?;
    let mut seen = std::collections::BTreeSet::new();
    for k in &file.kinds {
        let bad = |why: String| format!("request kind {}: {why}", k.id);
        if !forms::is_snake_case(&k.id) || !seen.insert(k.id.as_str()) {
            return Err(bad("id is not snake_case or is given twice".into()));
        }
        if k.due_days == 0 {
            return Err(bad("due_days is 0".into()));
        }
        for s in &k.consent_scopes {
            if !scopes.options.iter().any(|o| &o.value == s) {
                return Err(bad(format!("unknown consent scope {s}")));
            }
        }
        if !k.consent_scopes.iter().any(|s| s == "cross_border_transfer") {
            return Err(bad("every kind needs the cross_border_transfer consent scope".into()));
        }
        for share in &k.shares {
            let def = reg.get(&share.form).ok_or_else(|| bad(format!("unknown form {}", share.form)))?;
            if share.item && (k.item_form.as_deref() != Some(share.form.as_str()) || !def.repeating) {
                return Err(bad(format!(
                    "{} is shared by record but is not the kind's repeating item_form",
                    share.form
                )));
            }
            if !share.item && def.repeating {
                return Err(bad(format!("{} is a repeating form: share one record (\"item\": true)", share.form)));
            }
            for f in &share.fields {
                def.field(f).ok_or_else(|| bad(format!("unknown field {}.{f}", share.form)))?;
            }
        }
        if k.tracing_safety_check && k.item_form.as_deref() != Some("family_tracing") {
            return Err(bad("the tracing safety check is of a family_tracing record".into()));
        }
        let answer = reg.get(&k.answer_form).ok_or_else(|| bad(format!("unknown answer form {}", k.answer_form)))?;
        for f in &k.answer_fields {
            answer.field(f).ok_or_else(|| bad(format!("unknown answer field {}.{f}", k.answer_form)))?;
        }
    }
    Ok(file.kinds)
}

/// The kinds compiled into the binary. An error here is a broken asset
/// (caught by the tests), reported rather than a panic.
pub fn kinds() -> Result<&'static [RequestKind], String> {
    static KINDS: OnceLock<Result<Vec<RequestKind>, String>> = OnceLock::new();
    KINDS.get_or_init(|| parse_kinds(EMBEDDED_KINDS)).as_ref().map(Vec::as_slice).map_err(Clone::clone)
}

/// One kind by id.
pub fn kind(id: &str) -> Option<&'static RequestKind> {
    kinds().ok()?.iter().find(|k| k.id == id)
}

/// One value a request carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedValue {
    /// The form.
    pub form: String,
    /// The field.
    pub field: String,
    /// Its value in the case.
    pub value: Value,
}

/// The record `item` of `form` in the case, without its bookkeeping key.
fn item_values(facts: &CaseFacts, form: &str, item: Uuid) -> Option<Map<String, Value>> {
    let id = item.to_string();
    facts
        .items(form)
        .iter()
        .filter_map(Value::as_object)
        .find(|o| o.get("_item").and_then(Value::as_str) == Some(&id))
        .cloned()
}

/// What a request of `kind` about record `item` would carry: the kind's
/// fields that have a value, in the kinds file's order. Nothing else of the
/// case is ever read into a request.
pub fn shared_values(facts: &CaseFacts, kind: &RequestKind, item: Option<Uuid>) -> Result<Vec<SharedValue>, String> {
    let mut out = Vec::new();
    for share in &kind.shares {
        let record = if share.item {
            let item =
                item.ok_or_else(|| format!("a {} request is about one {} record: name it", kind.id, share.form))?;
            Some(
                item_values(facts, &share.form, item)
                    .ok_or_else(|| format!("the case has no {} record {item}", share.form))?,
            )
        } else {
            None
        };
        for f in &share.fields {
            let v = match &record {
                Some(r) => r.get(f),
                None => facts.value(&share.form, f),
            };
            if let Some(v) = v.filter(|v| !v.is_null()) {
                out.push(SharedValue { form: share.form.clone(), field: f.clone(), value: v.clone() });
            }
        }
    }
    Ok(out)
}

/// The rules a request of `kind` about record `item` must meet before it
/// leaves the office: R4 (the child's or guardian's consent, covering every
/// scope the kind needs) and, for kinds about a relative, R8 (the tracing
/// safety check says safe; the child objects neither to tracing nor to the
/// contact). Empty: the request may be sent.
pub fn consent_violations(facts: &CaseFacts, kind: &RequestKind, item: Option<Uuid>) -> Vec<RuleViolation> {
    let mut v = Vec::new();
    if facts.value("registration_bia", "consent").is_none_or(Value::is_null) {
        v.push(RuleViolation::new("R4", ViolationCode::PartnerRequestNoConsent, &[("kind", &kind.id)]));
    }
    let scopes: Vec<&str> = facts
        .value("registration_bia", "consent_scopes")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let missing: Vec<&str> = kind.consent_scopes.iter().map(String::as_str).filter(|s| !scopes.contains(s)).collect();
    if !missing.is_empty() {
        v.push(RuleViolation::new(
            "R4",
            ViolationCode::PartnerRequestScopeMissing,
            &[("scopes", &missing.join(", ")), ("kind", &kind.id)],
        ));
    }
    if kind.tracing_safety_check {
        if facts.str_value("registration_bia", "wants_tracing") == Some("no") {
            v.push(RuleViolation::new("R8", ViolationCode::ChildRefusesTracing, &[]));
        }
        let record = item.and_then(|i| item_values(facts, "family_tracing", i));
        match record {
            None => v.push(RuleViolation::new("R8", ViolationCode::PartnerRequestNoTracingRecord, &[])),
            Some(r) => {
                if r.get("tracing_safety_check").and_then(Value::as_str) != Some("safe") {
                    v.push(RuleViolation::new("R8", ViolationCode::PartnerRequestTracingUnsafe, &[]));
                }
                if r.get("child_consents_contact").and_then(Value::as_bool) == Some(false) {
                    v.push(RuleViolation::new("R8", ViolationCode::ChildObjectsToContact, &[]));
                }
            }
        }
    }
    v
}

/// Check an answer's values: only the kind's `answer_fields`, each valid
/// for its answer form. Returns a message naming the first problem.
pub fn check_answer(kind: &RequestKind, values: &Map<String, Value>) -> Result<(), String> {
    if values.is_empty() {
        return Err("the answer holds no values".into());
    }
    if let Some(k) = values.keys().find(|k| !kind.answer_fields.contains(k)) {
        return Err(format!("{k} is not a field a {} answer carries ({})", kind.id, kind.answer_fields.join(", ")));
    }
    let def = forms::registry().get(&kind.answer_form).ok_or("the answer form is unknown")?;
    forms::validate_values(def, values)
        .map_err(|errors| errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))
}

/// One answer value as the `partner_request` form's `answer` list holds it:
/// the field and its value as JSON text (the list keeps values of any form
/// in one sub-field).
pub fn answer_items(values: &Map<String, Value>) -> Value {
    Value::Array(
        values
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                serde_json::json!({"field": k, "value": text})
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_kinds_load_and_name_real_fields() {
        let ks = kinds().expect("kinds");
        let ids: Vec<&str> = ks.iter().map(|k| k.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "family_tracing",
                "family_assessment",
                "relationship_verification",
                "reintegration_handover",
                "follow_up_report"
            ]
        );
        let tracing = kind("family_tracing").unwrap();
        assert!(tracing.consent_scopes.iter().any(|s| s == "tracing_disclosure"));
        assert!(tracing.needs_item() && tracing.tracing_safety_check);
    }

    #[test]
    fn a_kind_naming_an_unknown_field_or_scope_is_refused() {
        let good = EMBEDDED_KINDS;
        let bad_field = good.replacen("\"relative_sex\"", "\"relative_secret\"", 1);
        assert!(parse_kinds(&bad_field).unwrap_err().contains("unknown field"));
        let bad_scope = good.replacen("\"tracing_disclosure\"", "\"everything\"", 1);
        assert!(parse_kinds(&bad_scope).unwrap_err().contains("unknown consent scope"));
        // A share of a repeating form must be of one record.
        let whole = good.replacen("\"item\": true", "\"item\": false", 1);
        assert!(parse_kinds(&whole).unwrap_err().contains("repeating form"));
    }
}
