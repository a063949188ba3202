//! `fieldcase report` against a vault filled through the library: text,
//! JSON, CSV and DHIS2 outputs, suppression on by default.
#[path = "common/cli.rs"]
mod cli;
#[path = "../../tests/sync_common.rs"]
mod sync_common;

use cli::run;
use fieldcase::model::event::Role;
use fieldcase::model::lifecycle::Stage;
use serde_json::{json, Value};
use sync_common::device;
use tempfile::TempDir;

/// Six children registered on 2026-06-01..06: five girls and one boy.
fn filled_vault(tmp: &TempDir) -> std::path::PathBuf {
    let dir = tmp.path().join("v");
    // sync_common::pass() is PASS, so the CLI opens this vault.
    let mut s = device(&dir, "amina", "caseworker");
    for i in 0..6u64 {
        s.set_clock(Some(1_780_272_000_000 + i * 86_400_000)); // 2026-06-01 + i days
        s.set_actor("amina", Role::Caseworker).expect("set_actor");
        let case = s.create_case("uasc", "Agadez").unwrap();
        let sex = if i == 0 { "male" } else { "female" };
        let values = json!({"given_names": "Halima", "family_name": "Sanogo", "sex": sex, "age_years": 15,
            "registration_date": format!("2026-06-{:02}", i + 1), "legitimate_basis": "vital_interests"});
        s.save_form(case, "registration_bia", None, values.as_object().unwrap().clone()).unwrap();
        s.change_stage(case, Stage::Registered, "registered").unwrap();
    }
    s.lock().unwrap();
    dir
}

#[test]
fn report_prints_exports_and_suppresses() {
    let tmp = TempDir::new().unwrap();
    let dir = filled_vault(&tmp);
    let june = ["report", "--from", "2026-06-01", "--to", "2026-06-30"];

    let out = run(&dir, &june);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("New registrations: 6"), "{text}");
    assert!(text.contains("male <5"), "{text}");
    assert!(!text.contains("Halima") && !text.contains("Sanogo"));

    let mut args = june.to_vec();
    args.push("--json");
    let out = run(&dir, &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["suppressed"], true);
    let i1 = r["indicators"].as_array().unwrap().iter().find(|i| i["id"] == "1").unwrap();
    assert_eq!(i1["total"]["value"], 6.0);
    let sex = i1["breakdowns"].as_array().unwrap().iter().find(|b| b["dimension"] == "sex").unwrap();
    assert!(sex["cells"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["category"] == "other_unknown" || !c["suppressed"].is_null()));

    let mut args = june.to_vec();
    args.extend(["--json", "--no-suppress"]);
    let out = run(&dir, &args);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["suppressed"], false);
    assert!(String::from_utf8_lossy(&out.stderr).contains("can identify children"));

    let csv_dir = tmp.path().join("csv");
    let dhis2 = tmp.path().join("dhis2.json");
    let mut args = june.to_vec();
    args.extend(["--csv", csv_dir.to_str().unwrap(), "--dhis2", dhis2.to_str().unwrap()]);
    let out = run(&dir, &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv_text = std::fs::read_to_string(csv_dir.join("indicator_01.csv")).unwrap();
    let mut rd = csv::Reader::from_reader(csv_text.as_bytes());
    assert!(rd.records().all(|r| r.is_ok()));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&dhis2).unwrap()).unwrap();
    assert_eq!(doc["period"], "202606");
    assert!(!doc.to_string().contains("Halima"));

    // A period DHIS2 cannot express is refused with the reason.
    let out = run(&dir, &["report", "--from", "2026-06-03", "--to", "2026-06-30", "--dhis2", dhis2.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("calendar month"));
}

/// Exported files leave the machine: `--no-suppress` is refused with
/// `--csv` and `--dhis2` (before the vault is even opened), and no file is
/// written; an existing export file is never replaced, nor a symlink followed.
#[test]
fn exports_refuse_no_suppress_and_never_overwrite() {
    let tmp = TempDir::new().unwrap();
    let dir = filled_vault(&tmp);
    let june = ["report", "--from", "2026-06-01", "--to", "2026-06-30"];
    let csv_dir = tmp.path().join("csv");
    let dhis2 = tmp.path().join("dhis2.json");
    for export in [["--csv", csv_dir.to_str().unwrap()], ["--dhis2", dhis2.to_str().unwrap()]] {
        let mut args = june.to_vec();
        args.extend(export);
        args.push("--no-suppress");
        let out = run(&dir, &args);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--no-suppress cannot be used with --csv or --dhis2"), "{err}");
    }
    assert!(!csv_dir.exists() && !dhis2.exists());

    // An existing DHIS2 file is refused and left as it was.
    std::fs::write(&dhis2, b"earlier export").unwrap();
    let mut args = june.to_vec();
    args.extend(["--dhis2", dhis2.to_str().unwrap()]);
    let out = run(&dir, &args);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists: choose another name"));
    assert_eq!(std::fs::read(&dhis2).unwrap(), b"earlier export");

    // A symlink where one CSV file goes: refused, its target untouched, and
    // no other CSV file left behind (all or nothing).
    std::fs::create_dir(&csv_dir).unwrap();
    let victim = tmp.path().join("victim.txt");
    std::fs::write(&victim, b"not a report").unwrap();
    std::os::unix::fs::symlink(&victim, csv_dir.join("indicator_05.csv")).unwrap();
    let mut args = june.to_vec();
    args.extend(["--csv", csv_dir.to_str().unwrap()]);
    let out = run(&dir, &args);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    assert_eq!(std::fs::read(&victim).unwrap(), b"not a report");
    let left: Vec<_> = std::fs::read_dir(&csv_dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("indicator_05.csv")], "only the symlink remains");
}
