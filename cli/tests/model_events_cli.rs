//! `fieldcase case list|show|history [--json]` and `fieldcase tasks [--json]`
//! against a vault filled through the library.
#[path = "common/cli.rs"]
mod cli;

use std::process::Output;

use cli::{run, PASS};
use fieldcase::model::event::Role;
use fieldcase::model::store::CaseStore;
use fieldcase::vault::{InitOptions, SecretString, VaultOptions};
use serde_json::{json, Value};
use tempfile::TempDir;

fn stdout_json(out: &Output) -> Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

fn filled_vault(tmp: &TempDir) -> std::path::PathBuf {
    let dir = tmp.path().join("v");
    let opts = InitOptions { name: "amina".into(), role: "caseworker".into(), escrow: None };
    let vault_opts = VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() };
    let mut s = CaseStore::init_with(&dir, &SecretString::from(PASS.to_string()), opts, &vault_opts).unwrap();
    s.set_clock(Some(1_780_000_000_000));
    let case = s.create_case("uasc", "Agadez").unwrap();
    let values = json!({"given_names": "Amina", "family_name": "Issoufou", "sex": "female", "age_years": 15});
    s.save_form(case, "registration_bia", None, values.as_object().unwrap().clone()).unwrap();
    s.set_actor("sara", Role::Supervisor).expect("set_actor");
    s.assign(case, "amina").unwrap();
    s.lock().unwrap();
    dir
}

#[test]
fn case_commands_print_tables_and_json() {
    let tmp = TempDir::new().unwrap();
    let dir = filled_vault(&tmp);

    let out = run(&dir, &["case", "list"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("AGA-2026-00001") && text.contains("Amina Issoufou") && text.contains("identified"),
        "{text}"
    );

    let list = stdout_json(&run(&dir, &["case", "list", "--json"]));
    assert_eq!(list["cases"][0]["case_number"], "AGA-2026-00001");
    assert_eq!(list["cases"][0]["caseworker"], "amina");
    assert_eq!(list["hidden"], json!([]));

    let show = run(&dir, &["case", "show", "AGA-2026-00001"]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(show.status.success() && text.contains("[registration_bia]") && text.contains("Issoufou"), "{text}");
    // The library's next steps, with the rule that blocks registration (no
    // legitimate basis recorded), as the app shows them.
    let next = &text[text.find("Next steps:").expect("next steps listed")..];
    assert!(next.contains("→ registered (caseworker, supervisor): blocked") && next.contains("R4"), "{next}");
    let detail = stdout_json(&run(&dir, &["case", "show", "AGA-2026-00001", "--json"]));
    assert_eq!(detail["summary"]["sex"], "female");
    assert!(detail["fields"].as_array().unwrap().iter().any(|f| f["field"] == "age_years" && f["status"] == "ok"));

    let history = stdout_json(&run(&dir, &["case", "history", "AGA-2026-00001", "--json"]));
    assert_eq!(history["chain_verified"], true);
    assert_eq!(history["entries"].as_array().unwrap().len(), 3);
    assert_eq!(history["entries"][2]["role"], "supervisor");
    let text = String::from_utf8_lossy(&run(&dir, &["case", "history", "AGA-2026-00001"]).stdout).to_string();
    assert!(text.contains("audit chain verified (3 entries)"), "{text}");

    assert!(stdout_json(&run(&dir, &["tasks", "--json"]))["tasks"].is_array());
    assert!(run(&dir, &["tasks"]).status.success());

    let missing = run(&dir, &["case", "show", "AGA-2026-99999"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no case AGA-2026-99999"));
}
