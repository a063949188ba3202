//! The form definitions in assets/forms: schema, value lists, labels, names,
//! conditions, field coverage of the forms F1–F11 and protected fields.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use fieldcase::model::forms::{is_protected, is_snake_case, registry, FieldDef, FieldType, Sensitivity, FORM_IDS};
use serde_json::Value;

fn forms_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/forms")
}

fn read_json(name: &str) -> Value {
    let text = std::fs::read_to_string(forms_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn schema() -> Value {
    read_json("schema.json")
}

#[test]
fn every_definition_validates_against_the_schema() {
    let schema = schema();
    let validator = jsonschema::draft202012::new(&schema).expect("schema.json is a valid 2020-12 schema");
    for id in FORM_IDS {
        let def = read_json(&format!("{id}.json"));
        let errors: Vec<String> =
            validator.iter_errors(&def).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{id}.json does not match schema.json:\n{}", errors.join("\n"));
    }
}

#[test]
fn schema_rejects_broken_definitions() {
    // The schema must be able to fail, or the test above proves nothing.
    let schema = schema();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let good = read_json("case_note.json");
    type Mutation = Box<dyn Fn(&mut Value)>;
    let mutations: Vec<(&str, Mutation)> = vec![
        (
            "missing French label",
            Box::new(|d| {
                d["fields"][0]["labels"].as_object_mut().unwrap().remove("fr");
            }),
        ),
        ("camelCase name", Box::new(|d| d["fields"][0]["name"] = "noteDate".into())),
        ("unknown type", Box::new(|d| d["fields"][0]["type"] = "colour".into())),
        (
            "enum without options",
            Box::new(|d| {
                d["fields"][2].as_object_mut().unwrap().remove("options");
            }),
        ),
        ("bad sensitivity", Box::new(|d| d["fields"][0]["sensitivity"] = "secret".into())),
        ("version as text", Box::new(|d| d["version"] = "1".into())),
        (
            "condition with two operators",
            Box::new(|d| {
                d["fields"][0]["required_if"] = serde_json::json!({"field": "a", "equals": "x", "not_empty": true})
            }),
        ),
    ];
    assert!(validator.is_valid(&good));
    for (what, mutate) in mutations {
        let mut bad = good.clone();
        mutate(&mut bad);
        assert!(!validator.is_valid(&bad), "schema accepted a definition with {what}");
    }
}

#[test]
fn value_lists_file_validates_and_has_every_domain_list() {
    let schema = schema();
    let mut sub = schema["$defs"]["value_lists"].clone();
    sub["$defs"] = schema["$defs"].clone();
    sub["$schema"] = schema["$schema"].clone();
    let validator = jsonschema::draft202012::new(&sub).unwrap();
    let lists = read_json("value_lists.json");
    let errors: Vec<String> = validator.iter_errors(&lists).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let reg = registry();
    for name in [
        "risk_level",
        "protection_concerns",
        "separation_cause",
        "care_arrangement_type",
        "relationship",
        "child_status",
        "legal_status",
        "tracing_status",
        "tracing_action_type",
        "service_type",
        "durable_solution",
        "bid_panel_decision",
        "closure_reason",
        "cfm_domain",
        "cfm_difficulty",
        "cfm_frequency",
        "consent_scope",
        "legitimate_basis",
        "nationality",
        "languages",
    ] {
        let list = reg.value_list(name).unwrap_or_else(|| panic!("value list {name} missing"));
        assert!(!list.options.is_empty(), "{name} is empty");
    }
    // R6: detention is never a care arrangement.
    assert!(reg.value_list("care_arrangement_type").unwrap().options.iter().all(|o| o.value != "detention"));
    // The demo's corridors (docs/domain.md, Demo data) are covered.
    let nat: BTreeSet<&str> = reg.value_list("nationality").unwrap().options.iter().map(|o| o.value.as_str()).collect();
    for c in [
        "GIN",
        "CIV",
        "MLI",
        "GMB",
        "NGA",
        "SEN",
        "CMR",
        "BFA",
        "SDN",
        "GTM",
        "HND",
        "SLV",
        "MEX",
        "NIC",
        "VEN",
        "ECU",
        "HTI",
        "ETH",
        "SOM",
        "ERI",
        "unknown",
        "stateless",
    ] {
        assert!(nat.contains(c), "nationality {c}");
    }
    let langs: BTreeSet<&str> = reg.value_list("languages").unwrap().options.iter().map(|o| o.value.as_str()).collect();
    for l in [
        "fr", "en", "ff", "mnk", "bm", "sus", "wo", "ha", "ar", "es", "quc", "mam", "kek", "cak", "ht", "om", "am",
        "ti", "so",
    ] {
        assert!(langs.contains(l), "language {l}");
    }
}

fn walk<'a>(fields: &'a [FieldDef], prefix: &str, out: &mut Vec<(String, &'a FieldDef)>) {
    for f in fields {
        let path = format!("{prefix}{}", f.name);
        out.push((path.clone(), f));
        walk(&f.fields, &format!("{path}."), out);
    }
}

fn all_fields(form: &str) -> Vec<(String, &'static FieldDef)> {
    let mut out = Vec::new();
    walk(&registry().get(form).unwrap().fields, "", &mut out);
    out
}

fn has_arabic(s: &str) -> bool {
    s.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c))
}

#[test]
fn every_field_and_option_has_three_real_labels() {
    for def in registry().all() {
        // A later version says from when it applies, so the rules that read
        // its new fields leave older records their meaning.
        assert!(def.version >= 1, "{}", def.id);
        assert_eq!(def.version > 1, def.version_date.is_some(), "{}: version {} and its date", def.id, def.version);
        assert!(has_arabic(&def.title.ar), "{} title", def.id);
        let mut same_fr = 0;
        let mut total = 0;
        for (path, f) in all_fields(&def.id) {
            for (lang, text) in [("en", &f.labels.en), ("fr", &f.labels.fr), ("ar", &f.labels.ar)] {
                assert!(!text.trim().is_empty(), "{}.{path} has no {lang} label", def.id);
            }
            assert!(has_arabic(&f.labels.ar), "{}.{path}: Arabic label {:?} is not Arabic", def.id, f.labels.ar);
            total += 1;
            if f.labels.fr == f.labels.en {
                same_fr += 1;
            }
            // A provider of the office's directory is named as the office
            // wrote it (an organisation's name), not translated.
            let names = f.options_ref.as_deref() == Some(fieldcase::model::forms::SERVICE_PROVIDER_LIST);
            for o in f.options.iter().filter(|_| !names) {
                assert!(!o.labels.en.is_empty() && !o.labels.fr.is_empty(), "{}.{path}={}", def.id, o.value);
                assert!(has_arabic(&o.labels.ar), "{}.{path}={}: Arabic label {:?}", def.id, o.value, o.labels.ar);
            }
        }
        // Some words are the same in both languages ("Date", "Type"), but a
        // form mostly copied from English is not translated.
        assert!(same_fr * 5 < total, "{}: {same_fr} of {total} French labels equal the English", def.id);
    }
}

#[test]
fn names_are_unique_snake_case_and_enums_have_values() {
    for def in registry().all() {
        assert!(is_snake_case(&def.id));
        let fields = all_fields(&def.id);
        let mut seen = BTreeSet::new();
        for (path, f) in &fields {
            assert!(is_snake_case(&f.name), "{}.{path}", def.id);
            assert!(seen.insert(path.clone()), "{}.{path} twice", def.id);
            if matches!(f.field_type, FieldType::Enum | FieldType::MultiEnum) {
                assert!(!f.options.is_empty(), "{}.{path}: empty value list", def.id);
                let values: BTreeSet<&str> = f.options.iter().map(|o| o.value.as_str()).collect();
                assert_eq!(values.len(), f.options.len(), "{}.{path}: repeated value", def.id);
            } else {
                assert!(f.options.is_empty() && f.options_ref.is_none(), "{}.{path}", def.id);
            }
            if f.field_type == FieldType::GroupList {
                assert!(!f.fields.is_empty(), "{}.{path}", def.id);
            }
        }
    }
}

#[test]
fn every_condition_refers_to_an_existing_field() {
    let reg = registry();
    for def in reg.all() {
        for (path, f) in all_fields(&def.id) {
            for c in f.required_if.iter().chain(f.shown_if.iter()) {
                let exists = match c.field.split_once('.') {
                    Some((form, name)) => reg.get(form).and_then(|d| d.field(name)).is_some(),
                    None => {
                        // Same level: the form's top level, or the sub-fields of the same group.
                        let parent = path.rsplit_once('.').map(|(p, _)| p);
                        match parent {
                            None => def.field(&c.field).is_some(),
                            Some(group) => def.field_path(group).and_then(|g| g.sub_field(&c.field)).is_some(),
                        }
                    }
                };
                assert!(exists, "{}.{path}: condition on unknown field {}", def.id, c.field);
            }
        }
    }
}

/// The core fields of forms F1–F11 (assets/forms/README.md), field by field:
/// `name/Sensitivity` (N, S, P). Every one must exist with that sensitivity;
/// fields written "a / b" are two fields.
const DOMAIN_FIELDS: [(&str, &str); 11] = [
    ("registration_bia", "case_id/N case_type/N identification_date/N registration_date/N identification_source/N caseworker/N \
      interview_language/N interpreter/S given_names/S family_name/S other_names/S name_given_after_separation/S sex/S \
      date_of_birth/S age_years/S age_basis/S nationality/S place_of_origin/S ethnicity_clan/S languages/N religion/S \
      identity_documents/S photo/S distinguishing_marks/S child_status/P orphan/S legal_status/S separation_date/S \
      separation_place/S separation_cause/S separation_cause_other/S journey_countries/S journey_harm/S \
      trafficking_indicators/S family_members/S care_arrangement/P caregiver/S guardian_appointed/P guardian/S \
      wellbeing_safety/S wellbeing_health/S wellbeing_nutrition/S wellbeing_psychosocial/S wellbeing_education/S \
      wellbeing_documentation/S wellbeing_family_relationships/S wellbeing_community/S cfm_responses/S \
      protection_concerns/S risk_level/P risk_reasons/S immediate_actions/S child_views/S heard_alone/S \
      views_not_obtained_reason/S wants_tracing/S wants_reunification/S fears_about_return/S caregiver_views/S consent/P \
      bia_recommended_actions/N bid_required/P bid_direction/S bia_completed_on/N bia_approval/P next_review_date/N"),
    ("family_tracing", "relative/S relative_alive/S lived_with_before/S last_known_location/S phone/S child_consents_contact/P \
      tracing_status/P tracing_safety_check/S tracing_actions/S date_family_located/S assessment_date/N assessor/N \
      household_members/S willingness/P capacity/P safeguarding_concerns/S circumstances_of_departure/S economic_situation/S \
      access_services/N family_needs/S family_views/S assessment_recommendation/P"),
    ("verification", "relative/S verification_date/N method/N child_knows_adult/S information_matches/S relationship_verified/P \
      adult_wants_child/P adult_able_to_care/P child_wishes_reunification/P alternate_caregiver/S verification_outcome/P verified_by/P"),
    ("bid", "bid_id/N version/N bid_purpose/N bid_location/N priority/N submission_report/S child_interview/S criteria_safety/S \
      criteria_socioeconomic/S criteria_care/S criteria_views/S criteria_integration/S criteria_family_unity/S \
      options_considered/S caseworker_recommendation/S guardian_view/S guardian_present/S panel_date/N panel_members/S \
      panel_decision/P decided_solution/P decision_reasons/P dissent/P follow_up_actions/S pre_return_checklist/P \
      communicated_to_child/S review_right/N chair_signature/P"),
    ("temporary_care", "provider_type/N registered_authorised/N safeguarding_policy/N staff_vetting/N carer_training/N \
      not_detention/N sex_age_separation/N sibling_unity/N staff_child_ratio/N individual_case_file/N health_access/N \
      education_access/N recreation/N privacy_belongings/N information_language/N complaints_mechanism/N contact_family/N \
      carer_matching/N foster_home_visit/N max_stay_review/N assessor/N date/N result/P"),
    ("reintegration_uasc", "bid_ref/P plan_date/S author/S receiving_actor/S arrival_arrangements/S care_on_return/P \
      family_preparation/S actions/S education_plan/N risk_mitigation/S monitoring_schedule/N child_participation/S signatures/P"),
    ("reintegration_family", "bid_ref/P plan_date/S author/S receiving_actor/S arrival_arrangements/S care_on_return/P \
      family_preparation/S actions/S education_plan/N risk_mitigation/S monitoring_schedule/N child_participation/S signatures/P \
      household_members/S household_vulnerabilities/S per_child_needs/S economic_reintegration/S housing/S community_acceptance/S"),
    ("follow_up_visit", "visit_due/N visit_date/N follow_up_type/N method/N child_seen/S seen_alone/S not_seen_reason/S \
      care_arrangement_observed/P wellbeing_safety/S wellbeing_family_relations/S wellbeing_health/S \
      wellbeing_education_attendance/S wellbeing_psychosocial/S wellbeing_economic/S wellbeing_community_acceptance/S \
      wellbeing_documentation/S new_concerns/S risk_level/P plan_progress/N remigration_intention/S child_views/S \
      caregiver_views/S next_visit_date/N recommend_closure/N"),
    ("referral", "referral_date/N service_type/N urgency/N internal_external/N provider/S reason/S expected_outcome/S \
      consent_for_referral/P information_shared/S caregiver_informed/S status/N implemented_date/S feedback/S satisfaction/N"),
    ("case_note", "note_datetime/N author/N note_type/N subject/S text/S restricted/S linked_record/N attachments/S"),
    ("closure_transfer", "closure_reason/P closure_details/S situation_at_closure/S care_at_closure/P permanent/P \
      discussed_with_child/S discussed_with_caregiver/S child_knows_whom_to_contact/N transition_plan/S \
      final_contact_planned/N closure_approval/P transfer_to/S transfer_reason/N transfer_consent/P transfer_status/P"),
];

#[test]
fn every_domain_field_exists_with_its_sensitivity() {
    for (form, spec) in DOMAIN_FIELDS {
        let def = registry().get(form).unwrap_or_else(|| panic!("form {form}"));
        for item in spec.split_whitespace() {
            let (name, sens) = item.split_once('/').unwrap();
            let field = def.field(name).unwrap_or_else(|| panic!("{form}: DOMAIN field {name} missing"));
            let want = match sens {
                "N" => Sensitivity::Normal,
                "S" => Sensitivity::Sensitive,
                _ => Sensitivity::Protected,
            };
            assert_eq!(field.sensitivity, want, "{form}.{name}");
        }
    }
}

#[test]
fn protected_fields_are_exactly_the_expected_ones() {
    // The core protected fields, plus the parts of the consent and approval
    // records that the core list folds into one protected field (source,
    // scopes, basis, approval status).
    let expected: BTreeMap<&str, &str> = BTreeMap::from([
        ("registration_bia", "child_status current_address care_arrangement guardian_appointed risk_level consent consent_source consent_scopes legitimate_basis consent_withheld_info bid_required bia_approval bia_approval_status"),
        ("family_tracing", "child_consents_contact tracing_status willingness capacity assessment_recommendation"),
        ("verification", "relationship_verified adult_wants_child adult_able_to_care child_wishes_reunification verification_outcome verified_by"),
        ("bid", "panel_decision decided_solution decision_reasons dissent pre_return_checklist chair_signature"),
        ("temporary_care", "result"),
        ("reintegration_uasc", "bid_ref care_on_return signatures"),
        ("reintegration_family", "bid_ref care_on_return signatures"),
        ("follow_up_visit", "care_arrangement_observed risk_level"),
        ("referral", "consent_for_referral"),
        ("case_note", ""),
        ("protection_concern", ""),
        ("reunification", "reunification_type verified_adult"),
        ("case_plan", "approval_status"),
        ("closure_transfer", "closure_reason care_at_closure permanent closure_approval transfer_consent transfer_status"),
        ("partner_request", ""),
        ("caregiver", "caregiver_address willing_to_continue"),
        ("placement", "care_arrangement status_after_review"),
        ("age_assessment", "benefit_of_doubt disputed"),
        ("incident", "perpetrator_relationship reported reported_to not_reported_reason description"),
        ("education", ""),
        ("case_conference", ""),
        ("inquiry", "inquirer_contact"),
    ]);
    for def in registry().all() {
        let got: BTreeSet<&str> = def.protected_fields().collect();
        let want: BTreeSet<&str> = expected[def.id.as_str()].split_whitespace().collect();
        assert_eq!(got, want, "protected fields of {}", def.id);
        for name in &want {
            assert!(is_protected(&def.id, name));
        }
    }
}

#[test]
fn temporary_care_checklist_marks_mandatory_items() {
    let def = registry().get("temporary_care").unwrap();
    let mandatory: BTreeSet<&str> =
        def.fields.iter().filter(|f| f.mandatory == Some(true)).map(|f| f.name.as_str()).collect();
    for m in [
        "provider_type",
        "registered_authorised",
        "safeguarding_policy",
        "staff_vetting",
        "carer_training",
        "not_detention",
        "sex_age_separation",
        "sibling_unity",
        "individual_case_file",
        "health_access",
        "education_access",
        "information_language",
        "complaints_mechanism",
        "carer_matching",
        "foster_home_visit",
        "max_stay_review",
    ] {
        assert!(mandatory.contains(m), "{m} must be mandatory");
    }
    for o in ["recreation", "privacy_belongings", "contact_family", "staff_child_ratio"] {
        assert!(!mandatory.contains(o), "{o} is not mandatory");
    }
    assert_eq!(def.field("sex_age_separation").unwrap().applies.as_deref(), Some("facility"));
    assert_eq!(def.field("carer_matching").unwrap().applies.as_deref(), Some("foster"));
    // Each checklist item has an evidence text.
    for f in def.fields.iter().filter(|f| f.field_type == FieldType::Bool) {
        assert!(def.field(&format!("{}_evidence", f.name)).is_some(), "{} evidence", f.name);
    }
}

#[test]
fn definitions_round_trip_through_serde() {
    for def in registry().all() {
        let text = serde_json::to_string(def).unwrap();
        let back: fieldcase::model::forms::FormDef = serde_json::from_str(&text).unwrap();
        assert_eq!(&back, def);
    }
}

#[test]
fn sections_when_present_cover_every_field_once() {
    let mut with_sections = 0;
    for def in registry().all() {
        if def.sections.is_empty() {
            continue;
        }
        with_sections += 1;
        let placed: Vec<&str> = def.sections.iter().flat_map(|s| s.fields.iter().map(String::as_str)).collect();
        let fields: Vec<&str> = def.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(placed, fields, "{}: sections must list every field once, in display order", def.id);
    }
    assert!(with_sections >= 1, "registration_bia has sections");
}

#[test]
fn current_location_is_picked_from_the_sample_administrative_areas() {
    let reg = registry();
    let areas = reg.admin_areas().expect("the embedded registry has the sample areas");
    let field = reg.get("registration_bia").unwrap().field("current_admin_area").unwrap();
    assert_eq!(field.field_type, FieldType::Enum);
    // Every option is an area code, labelled with its whole path.
    assert_eq!(field.options.len(), areas.areas.len());
    for o in &field.options {
        let path = areas.path(&o.value);
        assert!(!path.is_empty(), "{} is not an area", o.value);
        assert!(o.labels.fr.starts_with(&path[0].labels.fr), "{}: {}", o.value, o.labels.fr);
        assert!(has_arabic(&o.labels.ar), "{}", o.value);
    }
    // The sample configuration covers the three demo corridors.
    let corridors: BTreeSet<&str> = areas.areas.iter().flat_map(|a| a.corridors.iter().map(String::as_str)).collect();
    assert_eq!(corridors, BTreeSet::from(["A", "B", "C"]));
    assert!(areas.is_within("ner_agadez_arlit", "ner"));
    // Address and phone are where the child can be found: never in a list.
    assert_eq!(reg.sensitivity("registration_bia", "current_address"), Some(Sensitivity::Protected));
    assert_eq!(reg.sensitivity("registration_bia", "current_phone"), Some(Sensitivity::Sensitive));
}

#[test]
fn value_lists_may_not_shadow_the_administrative_areas() {
    use fieldcase::model::forms::FormRegistry;
    let lists = r#"{"version":1,"lists":{"admin_area":{"labels":{"en":"a","fr":"a","ar":"أ"},"options":[{"value":"x","labels":{"en":"x","fr":"x","ar":"س"}}]}}}"#;
    let areas =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/config/admin_areas.json"))
            .unwrap();
    let err = FormRegistry::from_sources_with_areas(lists, Some(&areas), &[]).unwrap_err().to_string();
    assert!(err.contains("admin_area"), "{err}");
    assert!(FormRegistry::from_sources_with_areas(r#"{"version":1,"lists":{}}"#, Some(&areas), &[]).is_ok());
}

/// R14: version 2 of the reintegration plans records the escort as a value
/// the library can check, and says from when (older records keep their
/// meaning: the free text stays, and no rule reads the new field for
/// events made before that day).
#[test]
fn reintegration_plans_record_the_escort_from_version_2() {
    use fieldcase::model::forms::{validate_complete, validate_values, FieldErrorCode};
    for form in ["reintegration_uasc", "reintegration_family"] {
        let def = registry().get(form).unwrap();
        assert_eq!(def.version, 2, "{form}");
        let from = def.version_date.expect("version 2 has a date");
        assert!(def.version_applies_on(from) && !def.version_applies_on(from.pred_opt().unwrap()));
        let escort = def.field("escort_sex").unwrap();
        assert!(escort.required, "{form}.escort_sex");
        assert_eq!(escort.rules, ["R14"]);
        assert_eq!(escort.sensitivity, Sensitivity::Sensitive);
        let options: Vec<&str> = escort.options.iter().map(|o| o.value.as_str()).collect();
        assert_eq!(options, ["female", "male", "none_needed"]);
        assert!(def.field("arrival_arrangements").is_some(), "the free text stays for old records");
        let bad = serde_json::json!({"escort_sex": "a cousin"});
        let errors = validate_values(def, bad.as_object().unwrap()).unwrap_err();
        assert_eq!(errors[0].code, FieldErrorCode::NotInList);
        // The reason goes with "none needed", and only with it.
        let reason_errors = |v: serde_json::Value| -> Vec<FieldErrorCode> {
            validate_complete(def, v.as_object().unwrap())
                .err()
                .unwrap_or_default()
                .into_iter()
                .filter(|e| e.field == "no_escort_reason")
                .map(|e| e.code)
                .collect()
        };
        assert_eq!(
            reason_errors(serde_json::json!({"escort_sex": "none_needed"})),
            [FieldErrorCode::ConditionallyRequired]
        );
        assert!(reason_errors(serde_json::json!({"escort_sex": "none_needed", "no_escort_reason": "no_journey"}))
            .is_empty());
        assert_eq!(
            reason_errors(serde_json::json!({"escort_sex": "female", "no_escort_reason": "no_journey"})),
            [FieldErrorCode::NotApplicable]
        );
    }
}
