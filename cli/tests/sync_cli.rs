//! The sync commands end to end through the `fieldcase` binary.
#[path = "common/cli.rs"]
mod cli;

use cli::{ok, run, PASS};
use fieldcase::model::store::CaseStore;
use fieldcase::vault::{SecretString, VaultOptions};
use serde_json::{json, Value};

#[test]
fn office_and_device_sync_through_the_cli() {
    let t = tempfile::tempdir().unwrap();
    let (o, d) = (t.path().join("office"), t.path().join("device"));
    let f = |n: &str| t.path().join(n).to_str().unwrap().to_string();
    ok(run(&o, &["init", "--office", "--name", "Agadez"]));
    ok(run(&d, &["init", "--name", "amina"]));
    let rcpt = ok(run(&o, &["recipient"]));
    assert!(rcpt.trim().starts_with("age1"), "{rcpt}");

    ok(run(&d, &["enroll", "request", "--out", &f("req.json")]));
    let bad_role = run(&o, &["enroll", "approve", &f("req.json"), "--role", "supervisor", "--out", &f("enr.fcb")]);
    assert!(!bad_role.status.success());
    ok(run(&o, &["enroll", "approve", &f("req.json"), "--role", "caseworker", "--out", &f("enr.fcb")]));
    ok(run(&d, &["import", &f("enr.fcb")]));

    {
        let opts = VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() };
        let mut s = CaseStore::open_with(&d, &SecretString::from(PASS.to_string()), &opts).unwrap();
        let c = s.create_case("uasc", "Agadez").unwrap();
        s.save_form(c, "registration_bia", None, json!({"given_names": "Fatima"}).as_object().unwrap().clone())
            .unwrap();
        s.lock().unwrap();
    }
    ok(run(&d, &["export", "--out", &f("up.fcb")]));
    let v: Value = serde_json::from_str(&ok(run(&o, &["verify", &f("up.fcb"), "--json"]))).unwrap();
    assert_eq!(v["preview"]["new_events"], 2);
    let v: Value = serde_json::from_str(&ok(run(&o, &["import", &f("up.fcb"), "--dry-run", "--json"]))).unwrap();
    assert_eq!(v["dry_run"], true);
    let v: Value = serde_json::from_str(&ok(run(&o, &["import", &f("up.fcb"), "--json"]))).unwrap();
    assert_eq!(v["summary"]["new"], 2);
    let again = ok(run(&o, &["import", &f("up.fcb")]));
    assert!(again.contains("already imported"), "{again}");

    // A refused bundle: non-zero exit, the reason on stderr.
    std::fs::write(f("junk.fcb"), b"not a bundle").unwrap();
    let out = run(&o, &["import", &f("junk.fcb")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one-line reason: {err}");
    assert!(err.contains("not an age file") && err.contains("nothing was changed"), "{err}");
    let out = run(&o, &["import", &f("junk.fcb"), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);

    // Office → device, then revoke.
    let status = ok(run(&d, &["enroll", "request", "--out", &f("req2.json")]));
    assert!(status.contains("public keys"));
    let req: Value = serde_json::from_slice(&std::fs::read(f("req2.json")).unwrap()).unwrap();
    let id = req["device_id"].as_str().unwrap().to_string();
    ok(run(&o, &["export", "--device", &id, "--out", &f("down.fcb")]));
    ok(run(&d, &["import", &f("down.fcb")]));
    ok(run(&o, &["revoke", &id]));
    assert!(!run(&o, &["export", "--device", &id, "--out", &f("down2.fcb")]).status.success());
}
