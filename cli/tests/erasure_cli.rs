//! Erasure through the `fieldcase` binary: the supervisor requests on their
//! device, the data manager approves at the office, and the case is then
//! shown only as a tombstone.
#[path = "common/cli.rs"]
mod cli;
#[path = "../../tests/sync_common.rs"]
mod common;

use cli::{ok, run};
use common::*;
use serde_json::Value;

#[test]
fn request_on_one_device_approve_on_another_then_only_the_tombstone_is_shown() {
    let t = tempfile::tempdir().unwrap();
    let (office_dir, sup_dir) = (t.path().join("office"), t.path().join("sup"));
    let mut office = office(&office_dir);
    let mut sup = device(&sup_dir, "sam", "supervisor");
    enroll(&mut office, &mut sup);
    let x = new_case(&mut sup, "Qzainabmarker");
    let number = sup.case_detail(x).unwrap().summary.case_number;
    sup.lock().unwrap();

    // A reason outside the list is refused with the list.
    let out = run(&sup_dir, &["case", "erase", &number, "--reason", "because"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("opened_in_error"));
    let said = ok(run(&sup_dir, &["case", "erase", &number, "--reason", "legal_order"]));
    assert!(said.contains("needs the approval of a data manager"), "{said}");
    // The requester cannot approve.
    let out = run(&sup_dir, &["case", "erase", &number, "--approve"]);
    assert_eq!(out.status.code(), Some(1));

    let mut sup = reopen(&sup_dir);
    up(&mut sup, &mut office);
    office.lock().unwrap();
    let said = ok(run(&office_dir, &["case", "erase", &x.to_string(), "--approve"]));
    assert!(said.contains(" (legal_order; requested by sam as supervisor, approved by"), "{said}");

    let out = run(&office_dir, &["case", "show", &x.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("was erased on") && stderr.contains("legal_order"), "{stderr}");
    assert!(!ok(run(&office_dir, &["case", "list"])).contains(&number));
    let list: Value = serde_json::from_str(&ok(run(&office_dir, &["case", "erasures", "--json"]))).unwrap();
    assert_eq!(list[0]["case_id"], x.to_string());
    assert_eq!(list[0]["approved_role"], "data_manager");
    assert!(!list.to_string().contains("Qzainabmarker"));
}
