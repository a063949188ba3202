//! Tracing inquiries: a relative asking after a child who has no case yet
//! is recorded (model::inquiry) and matched against registered children
//! and other inquiries with explained scores (search::inquiry), within the
//! need-to-know rules.
#[path = "common/cli.rs"]
mod cli;
#[path = "../../tests/sync_common.rs"]
mod common;

use common::*;
use fieldcase::model::error::StoreError;
use fieldcase::model::event::Role;
use fieldcase::model::lifecycle::Stage;
use fieldcase::model::visibility::HiddenReason;
use fieldcase::search::inquiry::{match_inquiry_for, InquiryMatch};
use fieldcase::search::SearchError;
use serde_json::json;

fn register_mohamed(s: &mut fieldcase::model::store::CaseStore) -> uuid::Uuid {
    let c = s.create_case("uasc", "Agadez").unwrap();
    s.save_form(
        c,
        "registration_bia",
        None,
        values(json!({
            "given_names": "Mohamed Abdullahi",
            "family_name": "Hassan",
            "sex": "male",
            "age_years": 12,
            "place_of_origin": "Kismayo",
            "separation_place": "Bosaso",
            "family_members": [
                {"name": "Faadumo Cali Warsame", "relationship": "mother", "sex": "female"}
            ]
        })),
    )
    .unwrap();
    c
}

fn inquiry_by_mother() -> serde_json::Map<String, serde_json::Value> {
    values(json!({
        "inquiry_date": "2026-11-20",
        "inquirer_name": "Fadumo Ali Warsame",
        "inquirer_relationship": "mother",
        "inquirer_contact": "via the Red Crescent office, Bosaso",
        "sought_given_names": "Mohammed Abdulahi",
        "sought_family_name": "Hasan",
        "sought_sex": "male",
        "sought_age": 12,
        "place_of_origin": "Kismaayo",
        "last_seen_place": "Bosaso",
        "last_seen_date": "2026-06-02",
        "description": "thin, a scar on the left eyebrow",
        "status": "open"
    }))
}

fn part<'a>(m: &'a InquiryMatch, name: &str) -> Option<&'a fieldcase::search::ScorePart> {
    m.parts.iter().find(|p| p.part == name)
}

#[test]
fn an_inquiry_with_variant_spellings_matches_the_registered_child_and_another_inquiry_with_reasons() {
    let t = tempfile::tempdir().unwrap();
    let mut s = device(&t.path().join("d"), "amina", "caseworker");
    let child = register_mohamed(&mut s);
    let (inq, number) = s.new_inquiry("Agadez", inquiry_by_mother()).unwrap();
    assert!(number.starts_with("AGA-INQ-"), "{number}");
    // Somali orthography, asked by an uncle.
    let (uncle, _) = s
        .new_inquiry(
            "Agadez",
            values(json!({
                "inquiry_date": "2026-11-25",
                "inquirer_name": "Cumar Xasan",
                "inquirer_relationship": "uncle",
                "sought_given_names": "Maxamed Cabdullaahi",
                "sought_family_name": "Xasan",
                "sought_sex": "male",
                "sought_age": 13,
                "place_of_origin": "Kismayo",
                "last_seen_place": "Bosaso",
                "status": "open"
            })),
        )
        .unwrap();
    let (other, _) = s
        .new_inquiry(
            "Agadez",
            values(json!({
                "inquiry_date": "2026-11-26",
                "inquirer_name": "Tesfaye Gebremariam",
                "inquirer_relationship": "father",
                "sought_given_names": "Aster",
                "sought_family_name": "Tesfaye",
                "sought_sex": "female",
                "sought_age": 9,
                "status": "open"
            })),
        )
        .unwrap();

    let view = match_inquiry_for(&s, inq).unwrap();
    assert!(view.hidden.is_empty());
    let to_child = view.matches.iter().find(|m| m.id == child).expect("the registered child is matched");
    assert_eq!(to_child.kind, "registered_child");
    assert!(to_child.score >= 60.0, "{to_child:?}");
    let name = part(to_child, "name").expect("the name part is explained");
    assert!(name.detail.contains("Mohammed Abdulahi Hasan") && name.detail.contains("Mohamed Abdullahi"), "{name:?}");
    assert!(name.points > 30.0, "variant spellings still agree: {name:?}");
    let mother = part(to_child, "inquirer").expect("the inquirer is compared with the recorded mother");
    assert!(mother.points > 0.0 && mother.detail.contains("Faadumo Cali Warsame"), "{mother:?}");
    // The same, as a code and values an interface translates.
    assert_eq!(mother.code, "inquirer_is_mother", "{mother:?}");
    assert!(mother.params["parent"].contains("Faadumo Cali Warsame"), "{mother:?}");
    assert_eq!(name.code, "sought_name", "{name:?}");
    assert!(name.params["registered"].contains("Mohamed Abdullahi"), "{name:?}");
    assert!(part(to_child, "place_of_origin").is_some_and(|p| p.points > 0.0));
    let to_uncle = view.matches.iter().find(|m| m.id == uncle).expect("the other inquiry is matched");
    assert_eq!(to_uncle.kind, "other_inquiry");
    assert!(part(to_uncle, "name").is_some_and(|p| p.points > 30.0), "{to_uncle:?}");
    assert!(!view.matches.iter().any(|m| m.id == other), "a different child is not a match: {:?}", view.matches);
    // Scores add up to what the parts say.
    for m in &view.matches {
        let sum: f64 = m.parts.iter().map(|p| p.points).sum();
        assert!((m.score - sum.clamp(0.0, 100.0)).abs() < 1e-9);
    }
    // The unrelated inquiry matches nothing.
    assert!(match_inquiry_for(&s, other).unwrap().matches.is_empty());

    // Inquiries are not cases of children: not in the case list, tasks or search.
    let list = s.list_cases().unwrap();
    assert_eq!(list.cases.len(), 1);
    assert_eq!(list.cases[0].id, child);
    assert!(s.tasks(s.today()).unwrap().tasks.iter().all(|t| t.case_id == child));
    let hits = fieldcase::search::visible::search_text_for(&s, "Hasan").unwrap();
    assert!(hits.hits.iter().all(|h| h.case_id == child.to_string()), "{:?}", hits.hits);
    assert_eq!(s.list_inquiries().unwrap().inquiries.len(), 3);

    // Matched: the status says to what.
    let e = s.update_inquiry(inq, values(json!({"status": "matched"}))).unwrap_err();
    assert!(
        matches!(&e, StoreError::RuleViolated { violations } if violations.iter().any(|v| v.rule == "inquiry" && v.message.contains("matched_to"))),
        "{e}"
    );
    let case_number = s.case_detail(child).unwrap().summary.case_number;
    s.update_inquiry(inq, values(json!({"status": "matched", "matched_to": case_number}))).unwrap();
    let shown = s.inquiry(inq).unwrap();
    assert_eq!(shown.status, "matched");
    assert_eq!(shown.values["matched_to"], json!(case_number));
}

#[test]
fn an_incomplete_inquiry_and_a_lifecycle_move_are_refused_with_the_rule_named() {
    let t = tempfile::tempdir().unwrap();
    let mut s = device(&t.path().join("d"), "amina", "caseworker");
    let child = register_mohamed(&mut s);
    let before = full_dump(&s);
    let mut v = inquiry_by_mother();
    v.remove("inquirer_name");
    v.remove("sought_given_names");
    let e = s.new_inquiry("Agadez", v).unwrap_err();
    match &e {
        StoreError::RuleViolated { violations } => {
            let v = violations.iter().find(|v| v.rule == "inquiry").expect("rule inquiry");
            assert!(v.message.contains("inquirer_name") && v.message.contains("sought_given_names"), "{v:?}");
        }
        other => panic!("{other}"),
    }
    assert_eq!(full_dump(&s), before, "a refused inquiry recorded nothing");

    let (inq, _) = s.new_inquiry("Agadez", inquiry_by_mother()).unwrap();
    // No lifecycle, no other form.
    let e = s.change_stage(inq, Stage::Registered, "").unwrap_err();
    assert!(matches!(&e, StoreError::RuleViolated { violations } if violations[0].rule == "inquiry"), "{e}");
    let e = s.save_form(inq, "case_note", None, values(json!({"subject": "x"}))).unwrap_err();
    assert!(matches!(&e, StoreError::RuleViolated { violations } if violations[0].rule == "inquiry"), "{e}");
    // And the inquiry form is not part of a child's case.
    let e = s.save_form(child, "inquiry", None, inquiry_by_mother()).unwrap_err();
    assert!(matches!(&e, StoreError::RuleViolated { violations } if violations[0].rule == "inquiry"), "{e}");
    // A case id is not an inquiry.
    assert!(matches!(s.update_inquiry(child, values(json!({"status": "closed"}))), Err(StoreError::NotFound { .. })));
}

#[test]
fn an_inquiry_is_seen_only_by_those_the_need_to_know_rules_allow() {
    let t = tempfile::tempdir().unwrap();
    let mut s = device(&t.path().join("d"), "amina", "caseworker");
    register_mohamed(&mut s);
    let (inq, _) = s.new_inquiry("Agadez", inquiry_by_mother()).unwrap();

    // Another caseworker: not hers, so hidden and counted.
    s.set_actor("bakary", Role::Caseworker).unwrap();
    let list = s.list_inquiries().unwrap();
    assert!(list.inquiries.is_empty());
    assert_eq!(list.hidden[0].reason, HiddenReason::NotAssigned);
    assert_eq!(list.hidden[0].count, 1);
    assert!(matches!(s.inquiry(inq), Err(StoreError::Hidden { .. })));
    assert!(matches!(
        s.update_inquiry(inq, values(json!({"status": "closed", "closure_reason": "x"}))),
        Err(StoreError::Hidden { .. })
    ));

    // A supervisor sees it, and its matches.
    s.set_actor("chief", Role::Supervisor).unwrap();
    assert_eq!(s.list_inquiries().unwrap().inquiries.len(), 1);
    assert!(!match_inquiry_for(&s, inq).unwrap().matches.is_empty());

    // The data manager sees its metadata only, and no matches (names).
    s.set_actor("office", Role::DataManager).unwrap();
    let shown = s.inquiry(inq).unwrap();
    assert!(!shown.values.contains_key("inquirer_name") && !shown.values.contains_key("sought_given_names"));
    assert!(shown.hidden_fields.iter().any(|(f, r)| f == "inquirer_contact" && *r == HiddenReason::MetadataOnly));
    assert_eq!(shown.values.get("status"), Some(&json!("open")));
    assert!(matches!(match_inquiry_for(&s, inq), Err(SearchError::Hidden(HiddenReason::MetadataOnly))));
}

#[test]
fn the_cli_records_lists_and_matches_an_inquiry() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("v");
    let mut s = device(&dir, "amina", "caseworker");
    let child = register_mohamed(&mut s);
    let case_number = s.case_detail(child).unwrap().summary.case_number;
    s.lock().unwrap();
    let file = t.path().join("inq.json");
    std::fs::write(&file, serde_json::to_vec(&serde_json::Value::Object(inquiry_by_mother())).unwrap()).unwrap();
    let said = cli::ok(cli::run(&dir, &["inquiry", "new", "--office", "Agadez", "--values", file.to_str().unwrap()]));
    let number = said.split_whitespace().nth(2).unwrap().to_owned();
    assert!(number.starts_with("AGA-INQ-"), "{said}");
    let listed = cli::ok(cli::run(&dir, &["inquiry", "list"]));
    assert!(listed.contains(&number) && listed.contains("Mohammed Abdulahi Hasan"), "{listed}");
    let matched = cli::ok(cli::run(&dir, &["inquiry", "match", &number]));
    assert!(matched.contains(&case_number) && matched.contains("registered_child"), "{matched}");
    assert!(matched.contains("inquirer") && matched.contains("Faadumo Cali Warsame"), "{matched}");
    // Refused values write nothing and say why.
    std::fs::write(&file, br#"{"status": "matched"}"#).unwrap();
    let out = cli::run(&dir, &["inquiry", "update", &number, "--values", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("matched_to"), "{}", String::from_utf8_lossy(&out.stderr));
    // Not a case of a child.
    let cases = cli::ok(cli::run(&dir, &["case", "list"]));
    assert!(!cases.contains(&number), "{cases}");
}
