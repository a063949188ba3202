//! Validation of saved values: generated complete values for every form pass
//! and survive a JSON round trip; each error code is produced by the bad value
//! it names.

use std::collections::BTreeSet;

use fieldcase::model::forms::{
    registry, validate_complete, validate_values, FieldDef, FieldErrorCode, FieldType, FormDef,
};
use serde_json::{json, Map, Value};

/// Deterministic value for a field; `variant` picks among the options so that
/// several variants together reach fields behind conditions.
fn value_for(field: &FieldDef, variant: usize) -> Value {
    match field.field_type {
        FieldType::Text => json!(format!("Sample {} {variant}", field.name)),
        FieldType::Longtext => {
            json!(format!("Notes for {}.\nSecond line, variant {variant}; accents: é à — عربي", field.name))
        }
        FieldType::Date => json!(format!("2026-0{}-1{}", 1 + variant % 9, variant % 10)),
        FieldType::Datetime => json!("2026-03-14T10:30:00+01:00"),
        FieldType::Enum => json!(field.options[variant % field.options.len()].value),
        FieldType::MultiEnum => {
            let n = field.options.len();
            let picked: BTreeSet<usize> = [variant % n, (variant + 1) % n, (variant * 7 + 3) % n].into_iter().collect();
            Value::Array(picked.into_iter().map(|i| json!(field.options[i].value)).collect())
        }
        FieldType::Bool => json!([true, false][variant % 2]),
        FieldType::Number => {
            let lo = field.min.unwrap_or(0.0);
            let hi = field.max.unwrap_or(lo + 100.0);
            json!((lo + (variant as f64 + 1.0)).min(hi))
        }
        FieldType::PersonRef => {
            json!({"name": "Aïssatou Diallo", "role": "caseworker", "organisation": "Agadez office"})
        }
        FieldType::Consent => {
            let method = ["signature", "thumbprint", "witnessed_verbal"][variant % 3];
            json!({"by": "Moussa Traoré", "method": method, "date": "2026-03-14"})
        }
        FieldType::Attachment => {
            json!({"blob": format!("blob-{variant}"), "name": "scan.pdf", "mime": "application/pdf"})
        }
        FieldType::ListText => json!(["Mohamed", "Muhammad", "Mahamat"]),
        FieldType::GroupList => {
            let n = field.min_items.unwrap_or(1).max(2);
            Value::Array((0..n).map(|i| Value::Object(fill(&field.fields, variant + i))).collect())
        }
    }
}

/// Every field filled, then fields hidden by their `shown_if` dropped.
fn fill(fields: &[FieldDef], variant: usize) -> Map<String, Value> {
    let mut values: Map<String, Value> =
        fields.iter().enumerate().map(|(i, f)| (f.name.clone(), value_for(f, variant + i))).collect();
    for f in fields {
        if let Some(c) = &f.shown_if {
            if c.eval(&values.clone(), None) == Some(false) {
                values.remove(&f.name);
            }
        }
    }
    values
}

fn form(id: &str) -> &'static FormDef {
    registry().get(id).unwrap_or_else(|| panic!("form {id}"))
}

#[test]
fn generated_values_are_complete_and_round_trip_for_every_form() {
    const VARIANTS: usize = 16;
    for def in registry().all() {
        let mut covered = BTreeSet::new();
        for variant in 0..VARIANTS {
            let values = fill(&def.fields, variant);
            if let Err(errors) = validate_complete(def, &values) {
                panic!(
                    "{} variant {variant}: {errors:#?}\nvalues: {}",
                    def.id,
                    serde_json::to_string_pretty(&values).unwrap()
                );
            }
            let text = serde_json::to_string(&values).unwrap();
            let back: Map<String, Value> = serde_json::from_str(&text).unwrap();
            assert_eq!(back, values, "{} variant {variant} changed in a round trip", def.id);
            validate_complete(def, &back).unwrap();
            covered.extend(values.keys().cloned());
        }
        let missing: Vec<&str> = def.fields.iter().map(|f| f.name.as_str()).filter(|n| !covered.contains(*n)).collect();
        assert!(missing.is_empty(), "{}: generator never filled {missing:?}", def.id);
    }
}

#[test]
fn generator_is_deterministic() {
    for def in registry().all() {
        assert_eq!(fill(&def.fields, 3), fill(&def.fields, 3));
    }
}

/// The single error of a partial save of `values` on form `id`.
fn one_error(id: &str, values: Value, complete: bool) -> (String, FieldErrorCode, String) {
    let values = values.as_object().unwrap().clone();
    let result = if complete { validate_complete(form(id), &values) } else { validate_values(form(id), &values) };
    let errors = result.expect_err("must be rejected");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let e = errors.into_iter().next().unwrap();
    (e.field, e.code, e.message)
}

/// A complete, valid registration to break one field at a time.
fn valid_registration() -> Map<String, Value> {
    let mut values = fill(&form("registration_bia").fields, 0);
    values.insert("interpreter_needed".into(), json!(false));
    for k in [
        "interpreter_offer",
        "interpreter",
        "interpreter_sex",
        "interpreter_affiliation",
        "interpreter_link",
        "interpreter_confidentiality_pledge",
    ] {
        values.remove(k);
    }
    validate_complete(form("registration_bia"), &values).expect("base registration is valid");
    values
}

#[test]
fn code_unknown_field() {
    let (field, code, msg) = one_error("case_note", json!({"colour": "red"}), false);
    assert_eq!((field.as_str(), code), ("colour", FieldErrorCode::UnknownField));
    assert!(msg.contains("colour"));
}

#[test]
fn code_wrong_type() {
    let (field, code, msg) = one_error("registration_bia", json!({"age_years": "fifteen"}), false);
    assert_eq!((field.as_str(), code), ("age_years", FieldErrorCode::WrongType));
    assert!(msg.contains("Age (years)") && msg.contains("number"), "{msg}");
    let (_, code, _) = one_error("registration_bia", json!({"orphan": "yes"}), false);
    assert_eq!(code, FieldErrorCode::WrongType);
    let (_, code, _) = one_error("registration_bia", json!({"other_names": ["Ali", 3]}), false);
    assert_eq!(code, FieldErrorCode::WrongType);
    let (field, code, _) = one_error("bid", json!({"panel_members": ["chair"]}), false);
    assert_eq!((field.as_str(), code), ("panel_members[0]", FieldErrorCode::WrongType));
}

#[test]
fn code_not_in_list() {
    let (field, code, msg) = one_error("registration_bia", json!({"risk_level": "extreme"}), false);
    assert_eq!((field.as_str(), code), ("risk_level", FieldErrorCode::NotInList));
    assert!(msg.contains("Risk level") && msg.contains("extreme"));
    // R6: detention is not a care arrangement.
    let (_, code, _) = one_error("registration_bia", json!({"care_arrangement": "detention"}), false);
    assert_eq!(code, FieldErrorCode::NotInList);
    let (_, code, _) = one_error("registration_bia", json!({"nationality": ["GIN", "Atlantis"]}), false);
    assert_eq!(code, FieldErrorCode::NotInList);
    let (field, code, _) =
        one_error("family_tracing", json!({"tracing_actions": [{"action_type": "telepathy"}]}), false);
    assert_eq!((field.as_str(), code), ("tracing_actions[0].action_type", FieldErrorCode::NotInList));
}

#[test]
fn code_bad_date() {
    for bad in ["14/03/2026", "2026-02-30", "2026-3-1", "yesterday"] {
        let (field, code, msg) = one_error("registration_bia", json!({"date_of_birth": bad}), false);
        assert_eq!((field.as_str(), code), ("date_of_birth", FieldErrorCode::BadDate), "{bad}");
        assert!(msg.contains("Date of birth"));
    }
    assert!(
        validate_values(form("registration_bia"), json!({"date_of_birth": "2010-01-01"}).as_object().unwrap()).is_ok()
    );
}

#[test]
fn code_bad_datetime() {
    let (field, code, _) = one_error("case_note", json!({"note_datetime": "2026-03-14 10:30"}), false);
    assert_eq!((field.as_str(), code), ("note_datetime", FieldErrorCode::BadDatetime));
}

#[test]
fn code_out_of_range() {
    let (field, code, msg) = one_error("registration_bia", json!({"age_years": -1}), false);
    assert_eq!((field.as_str(), code), ("age_years", FieldErrorCode::OutOfRange));
    assert!(msg.contains("-1"));
    let (_, code, _) = one_error("registration_bia", json!({"age_years": 40}), false);
    assert_eq!(code, FieldErrorCode::OutOfRange);
}

#[test]
fn code_bad_person_ref() {
    for bad in
        [json!("Amina"), json!({"role": "guardian"}), json!({"name": "Amina", "phone": "+227"}), json!({"name": "  "})]
    {
        let (field, code, _) = one_error("registration_bia", json!({"caseworker": bad}), false);
        assert_eq!((field.as_str(), code), ("caseworker", FieldErrorCode::BadPersonRef));
    }
}

#[test]
fn code_bad_consent() {
    for bad in [
        json!({"by": "child", "method": "email", "date": "2026-01-01"}),
        json!({"by": "child", "method": "signature"}),
        json!({"by": "", "method": "signature", "date": "2026-01-01"}),
        json!({"by": "child", "method": "signature", "date": "01/01/2026"}),
        json!(true),
    ] {
        let (field, code, _) = one_error("registration_bia", json!({"consent": bad}), false);
        assert_eq!((field.as_str(), code), ("consent", FieldErrorCode::BadConsent));
    }
}

#[test]
fn code_bad_attachment() {
    let (field, code, _) =
        one_error("registration_bia", json!({"photo": {"name": "face.jpg", "mime": "image/jpeg"}}), false);
    assert_eq!((field.as_str(), code), ("photo", FieldErrorCode::BadAttachment));
}

#[test]
fn code_duplicate_value() {
    let (field, code, _) = one_error("registration_bia", json!({"languages": ["fr", "wo", "fr"]}), false);
    assert_eq!((field.as_str(), code), ("languages", FieldErrorCode::DuplicateValue));
}

#[test]
fn code_required() {
    let mut values = valid_registration();
    values.remove("risk_level");
    let errors = validate_complete(form("registration_bia"), &values).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!((errors[0].field.as_str(), errors[0].code), ("risk_level", FieldErrorCode::Required));
    assert!(errors[0].message.contains("Risk level"));
    // An empty string or list counts as missing.
    values.insert("risk_level".into(), json!("high"));
    values.insert("protection_concerns".into(), json!([]));
    let errors = validate_complete(form("registration_bia"), &values).unwrap_err();
    assert_eq!(errors[0].code, FieldErrorCode::Required);
    // Partial saves do not demand required fields.
    assert!(validate_values(form("registration_bia"), &Map::new()).is_ok());
}

#[test]
fn code_conditionally_required() {
    // R3: a different interview language needs an interpreter offered to
    // the child; accepted, the interpreter and their link to the child are
    // required; declined by the child, none is.
    let mut values = valid_registration();
    values.insert("interpreter_needed".into(), json!(true));
    let errors = validate_complete(form("registration_bia"), &values).unwrap_err();
    let fields: BTreeSet<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, BTreeSet::from(["interpreter_offer"]), "{errors:#?}");
    values.insert("interpreter_offer".into(), json!("accepted"));
    let errors = validate_complete(form("registration_bia"), &values).unwrap_err();
    let fields: BTreeSet<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert!(fields.contains("interpreter") && fields.contains("interpreter_link"), "{errors:#?}");
    assert!(errors.iter().all(|e| e.code == FieldErrorCode::ConditionallyRequired));
    values.insert("interpreter_offer".into(), json!("declined_by_child"));
    validate_complete(form("registration_bia"), &values).expect("a child who declines has no interpreter");
    // R11: turned_18 needs a transition plan.
    let mut closure = fill(&form("closure_transfer").fields, 0);
    closure.insert("closure_reason".into(), json!("turned_18"));
    closure.remove("transition_plan");
    let errors = validate_complete(form("closure_transfer"), &closure).unwrap_err();
    assert_eq!((errors[0].field.as_str(), errors[0].code), ("transition_plan", FieldErrorCode::ConditionallyRequired));
    // Sub-field conditions are evaluated inside their own list item.
    let mut reg = valid_registration();
    reg.insert("cfm_responses".into(), json!([{"domain": "anxiety"}]));
    let errors = validate_complete(form("registration_bia"), &reg).unwrap_err();
    assert_eq!(
        (errors[0].field.as_str(), errors[0].code),
        ("cfm_responses[0].frequency", FieldErrorCode::ConditionallyRequired)
    );
}

#[test]
fn code_not_applicable() {
    // §4.6: a photo only with photo_use consent.
    let mut values = valid_registration();
    values.insert("consent_scopes".into(), json!(["case_management"]));
    values.insert("photo".into(), json!({"blob": "b", "name": "p.jpg", "mime": "image/jpeg"}));
    let errors = validate_complete(form("registration_bia"), &values).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!((errors[0].field.as_str(), errors[0].code), ("photo", FieldErrorCode::NotApplicable));
    values.insert("consent_scopes".into(), json!(["case_management", "photo_use"]));
    validate_complete(form("registration_bia"), &values).unwrap();
}

#[test]
fn code_too_few_items() {
    let mut values = fill(&form("bid").fields, 0);
    let one = values["options_considered"][0].clone();
    values.insert("options_considered".into(), json!([one]));
    let errors = validate_complete(form("bid"), &values).unwrap_err();
    assert_eq!((errors[0].field.as_str(), errors[0].code), ("options_considered", FieldErrorCode::TooFewItems));
    // R9: a panel of two is below quorum size.
    let mut values = fill(&form("bid").fields, 0);
    let members = values["panel_members"].as_array().unwrap()[..2].to_vec();
    values.insert("panel_members".into(), Value::Array(members));
    let errors = validate_complete(form("bid"), &values).unwrap_err();
    assert_eq!((errors[0].field.as_str(), errors[0].code), ("panel_members", FieldErrorCode::TooFewItems));
}

#[test]
fn error_codes_serialize_snake_case() {
    assert_eq!(serde_json::to_value(FieldErrorCode::NotInList).unwrap(), json!("not_in_list"));
    assert_eq!(serde_json::to_value(FieldErrorCode::ConditionallyRequired).unwrap(), json!("conditionally_required"));
}
