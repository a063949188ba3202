//! Recording case data without the app: `case new` and `form save` through
//! the `fieldcase` binary, with the library's checks (values, roles) and
//! nothing written when they refuse.
#[path = "common/cli.rs"]
mod cli;
#[path = "../../tests/sync_common.rs"]
mod common;

use cli::{ok, run};
use common::*;
use serde_json::{json, Value};

#[test]
fn a_case_registered_and_filled_from_json_files() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("v");
    device(&dir, "amina", "caseworker").lock().unwrap();
    let file = |name: &str, v: Value| {
        let p = t.path().join(name);
        std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
        p.display().to_string()
    };

    // Refused values register nothing.
    let bad = file("bad.json", json!({"given_names": "Awet", "sex": "unknown-value"}));
    let out = run(&dir, &["case", "new", "--type", "uasc", "--office", "Agadez", "--values", &bad]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sex"), "{}", String::from_utf8_lossy(&out.stderr));
    let listed: Value = serde_json::from_str(&ok(run(&dir, &["case", "list", "--json"]))).unwrap();
    assert_eq!(listed["cases"].as_array().unwrap().len(), 0, "a refused registration left a case");
    let out = run(&dir, &["case", "new", "--type", "alien", "--office", "Agadez"]);
    assert_eq!(out.status.code(), Some(1));
    let not_json = t.path().join("not.json");
    std::fs::write(&not_json, "given_names,Awet\n").unwrap();
    let out =
        run(&dir, &["case", "new", "--type", "uasc", "--office", "Agadez", "--values", not_json.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not JSON"));

    let good =
        file("reg.json", json!({"given_names": "Awet", "family_name": "Tesfay", "sex": "male", "age_years": 15}));
    let said = ok(run(&dir, &["case", "new", "--type", "uasc", "--office", "Agadez", "--values", &good]));
    let number = said.split_whitespace().nth(2).unwrap().to_owned();
    assert!(number.starts_with("AGA-"), "{said}");

    let concern = file(
        "concern.json",
        json!({"concern_type": "physical_violence", "identified_date": "2026-11-02", "stage_identified": "registration",
               "urgent": true, "status": "open"}),
    );
    let said = ok(run(&dir, &["form", "save", &number, "protection_concern", "--values", &concern]));
    assert!(said.contains("saved protection_concern item"), "{said}");
    let out = run(
        &dir,
        &["form", "save", &number, "registration_bia", "--values", &good, "--item", &uuid::Uuid::now_v7().to_string()],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a list form"));
    let out = run(&dir, &["form", "save", &number, "no_such_form", "--values", &good]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("form list"));

    let detail: Value = serde_json::from_str(&ok(run(&dir, &["case", "show", &number, "--json"]))).unwrap();
    let text = detail.to_string();
    assert!(text.contains("Tesfay") && text.contains("physical_violence"), "{text}");
    assert!(ok(run(&dir, &["form", "list"])).contains("protection_concern"));

    // A viewer may record nothing: refused by the library, nothing written.
    let vdir = t.path().join("viewer");
    device(&vdir, "vera", "viewer").lock().unwrap();
    let out = run(&vdir, &["case", "new", "--type", "uasc", "--office", "Agadez", "--values", &good]);
    assert_eq!(out.status.code(), Some(1));
    let listed: Value = serde_json::from_str(&ok(run(&vdir, &["case", "list", "--json"]))).unwrap();
    assert_eq!(listed["cases"].as_array().unwrap().len(), 0);
}
