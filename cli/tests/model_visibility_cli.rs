//! Need-to-know through the `fieldcase` binary: a reporting viewer's vault
//! lists cases without names and refuses case records and search, without
//! a word of the case's data (docs/visibility.md).
#[path = "common/cli.rs"]
mod cli;

use cli::{run, PASS};
use fieldcase::model::event::Role;
use fieldcase::model::store::CaseStore;
use fieldcase::vault::{InitOptions, SecretString, VaultOptions};
use serde_json::{json, Value};

#[test]
fn a_viewer_vault_lists_cases_without_names_and_refuses_records() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let opts = InitOptions { name: "m.and.e".into(), role: "viewer".into(), escrow: None };
    let vault_opts = VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() };
    let mut s = CaseStore::init_with(&dir, &SecretString::from(PASS.to_string()), opts, &vault_opts).unwrap();
    s.set_clock(Some(1_780_000_000_000));
    s.set_actor("amina", Role::Caseworker).expect("set_actor");
    let case = s.create_case("uasc", "Agadez").unwrap();
    let values = json!({"given_names": "Mariama", "family_name": "Keita", "sex": "female", "age_years": 13,
        "date_of_birth": "2013-02-01", "age_basis": "document"});
    s.save_form(case, "registration_bia", None, values.as_object().unwrap().clone()).unwrap();
    let number = s.case_detail(case).unwrap().summary.case_number;
    s.lock().unwrap();
    let private = ["Mariama", "Keita", "2013-02-01", "amina"];

    let out = run(&dir, &["case", "list", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["cases"][0]["case_number"], number.as_str());
    assert_eq!(list["cases"][0]["hidden"], "aggregates_only");
    let table = run(&dir, &["case", "list"]);
    for text in [String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&table.stdout)] {
        for p in private {
            assert!(!text.contains(p), "the viewer's list shows {p:?}: {text}");
        }
    }

    for args in [&["case", "show", number.as_str()][..], &["case", "history", number.as_str()], &["search", "mariama"]]
    {
        let out = run(&dir, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("not open to you") && stderr.contains("aggregate"), "{args:?}: {stderr}");
        for p in private {
            assert!(!stderr.contains(p) && !String::from_utf8_lossy(&out.stdout).contains(p), "{args:?} leaks {p:?}");
        }
    }
}
