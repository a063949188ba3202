//! `fieldcase search|trace|duplicates|merge|split` against a vault filled
//! through the library.
#[path = "common/cli.rs"]
mod cli;
#[path = "../../tests/sync_common.rs"]
mod sync_common;
use std::path::Path;
use std::process::Output;

use cli::run;
use serde_json::{json, Value};
use sync_common::device;

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

#[test]
fn search_trace_duplicates_merge_split_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    // sync_common::pass() is PASS, so the CLI opens this vault.
    let mut s = device(&dir, "dm", "data_manager");
    s.set_actor("amina", fieldcase::model::event::Role::Caseworker).expect("set_actor");
    let mut number = Vec::new();
    for (g, f) in [("Abdoulaye", "Diallo"), ("Abdullahi", "Jallow"), ("Fatima", "Camara")] {
        let c = s.create_case("uasc", "Agadez").unwrap();
        let v = json!({"given_names": g, "family_name": f, "sex": "male", "age_years": 15, "place_of_origin": "Labé"});
        s.save_form(c, "registration_bia", None, v.as_object().unwrap().clone()).unwrap();
        number.push(s.case_detail(c).unwrap().summary.case_number);
    }
    drop(s);

    // The vault is a data manager's: hits without the person columns
    // (docs/visibility.md).
    let view = json_of(&run(&dir, &["search", "abdallah", "age:14-16", "--json"]));
    let hits = &view["hits"];
    assert_eq!(hits.as_array().unwrap().len(), 2, "{view}");
    assert_eq!(view["withheld"], "metadata_only");
    assert_eq!(hits[0]["given_names"], "");
    assert_eq!(hits[0]["matched"], json!([]));
    assert!(!view.to_string().contains("Abdoulaye") && !view.to_string().contains("Abdullahi"), "{view}");
    let bad = run(&dir, &["search", "colour:red"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown filter"));

    let pairs = json_of(&run(&dir, &["duplicates", "--json"]))["pairs"].clone();
    assert_eq!(pairs.as_array().unwrap().len(), 1, "{pairs}");
    // Tracing shows the names of the people matched: not the data manager's.
    let trace = run(&dir, &["trace", &number[0], "--json"]);
    assert_eq!(trace.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&trace.stderr).contains("not open to you"));

    // The data manager's other review decision: two different children.
    // Report indicator 25b counts the flagged children until then (a
    // merge below is still allowed: the decision can be revised).
    let pending = |dir: &Path| {
        let r = json_of(&run(dir, &["report", "--json", "--no-suppress"]));
        r["indicators"].as_array().unwrap().iter().find(|i| i["id"] == "25b").unwrap()["total"]["value"].clone()
    };
    assert_eq!(pending(&dir), json!(2.0));
    let same = run(&dir, &["not-duplicate", &number[0], "--other", &number[0]]);
    assert_eq!(same.status.code(), Some(1));
    let reviewed = run(&dir, &["not-duplicate", &number[1], "--other", &number[0]]);
    assert!(reviewed.status.success(), "{}", String::from_utf8_lossy(&reviewed.stderr));
    assert_eq!(pending(&dir), json!(0.0));
    // The reviewed pair is no longer listed, unless asked for.
    assert!(json_of(&run(&dir, &["duplicates", "--json"]))["pairs"].as_array().unwrap().is_empty());
    assert_eq!(json_of(&run(&dir, &["duplicates", "--all", "--json"]))["pairs"].as_array().unwrap().len(), 1);

    let merged = run(&dir, &["merge", &number[1], "--into", &number[0]]);
    assert!(merged.status.success(), "{}", String::from_utf8_lossy(&merged.stderr));
    assert!(json_of(&run(&dir, &["duplicates", "--json"]))["pairs"].as_array().unwrap().is_empty());
    let hits = json_of(&run(&dir, &["search", "abdullahi", "--json"]))["hits"].clone();
    assert!(hits.as_array().unwrap().iter().any(|h| !h["merged_into"].is_null()), "{hits}");
    let again = run(&dir, &["merge", &number[1], "--into", &number[0]]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already merged"));
    assert!(run(&dir, &["split", &number[1]]).status.success());
    // Split back: the pair is found again, and reviewed (the split says so).
    assert_eq!(json_of(&run(&dir, &["duplicates", "--all", "--json"]))["pairs"].as_array().unwrap().len(), 1);
    assert!(json_of(&run(&dir, &["duplicates", "--json"]))["pairs"].as_array().unwrap().is_empty());
}

/// A caseworker types a name as another agency spells it, one word beyond
/// recognition: the child is listed, each word explained.
#[test]
fn search_output_explains_a_partial_match_word_by_word() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut s = device(&dir, "amina", "caseworker");
    for (g, f) in [("Ali Hussein", "Warsame"), ("Dawit", "Woldemichael")] {
        let c = s.create_case("uasc", "Agadez").unwrap();
        let v = json!({"given_names": g, "family_name": f, "sex": "male", "age_years": 12});
        s.save_form(c, "registration_bia", None, v.as_object().unwrap().clone()).unwrap();
    }
    drop(s);
    let out = run(&dir, &["search", "Cali", "Xuseen", "Qwertzuiop"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Ali Hussein Warsame"), "{text}");
    assert!(text.contains("[2 of 3 words]"), "{text}");
    assert!(text.contains("cali→Ali (name, spelling variant)"), "{text}");
    assert!(text.contains("qwertzuiop: no match"), "{text}");
    assert!(text.contains("1 hit(s)"), "{text}");
    let out = run(&dir, &["search", "Dawit", "Wolde", "Michael"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("wolde→Woldemichael (name, compound)"), "{text}");
}
