//! `fieldcase person` and `--as` end to end through the binary.
#[path = "common/cli.rs"]
mod cli;

use std::path::Path;
use std::process::{Command, Output};

use cli::{ok, run};

const SARA: &str = "quarry lantern sara velvet orbit";

/// `fieldcase --vault DIR ARGS…` with `pass` as the unlocking passphrase
/// and `new` as the new one.
fn run_with(dir: &Path, pass: &str, new: Option<&str>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fieldcase"));
    c.arg("--vault").arg(dir).args(args).env("FIELDCASE_PASSPHRASE", pass).env("FIELDCASE_TEST_SCRYPT_LOG_N", "10");
    if let Some(n) = new {
        c.env("FIELDCASE_NEW_PASSPHRASE", n);
    }
    c.output().expect("run fieldcase")
}

#[test]
fn a_person_is_added_enrolled_and_unlocks_with_their_own_passphrase() {
    let t = tempfile::tempdir().unwrap();
    let (o, d) = (t.path().join("office"), t.path().join("device"));
    let f = |n: &str| t.path().join(n).to_str().unwrap().to_string();
    ok(run(&o, &["init", "--office", "--name", "Agadez"]));
    ok(run(&d, &["init", "--name", "amina"]));
    ok(run(&d, &["enroll", "request", "--out", &f("req.json")]));
    ok(run(&o, &["enroll", "approve", &f("req.json"), "--role", "caseworker", "--out", &f("enr.fcb")]));
    ok(run(&d, &["import", &f("enr.fcb")]));

    // A weak passphrase adds nobody.
    let weak = run_with(&d, cli::PASS, Some("sara"), &["person", "add", "--user", "sara", "--role", "supervisor"]);
    assert_eq!(weak.status.code(), Some(1));
    let out = ok(run_with(
        &d,
        cli::PASS,
        Some(SARA),
        &["person", "add", "--user", "sara", "--role", "supervisor", "--request-out", &f("sara.json")],
    ));
    assert!(out.contains("Added sara (supervisor)"), "{out}");
    let list = ok(run(&d, &["person", "list"]));
    assert!(list.lines().any(|l| l.contains("sara") && l.ends_with("not enrolled")), "{list}");

    ok(run(&o, &["enroll", "approve", &f("sara.json"), "--role", "supervisor", "--out", &f("sara.fcb")]));
    ok(run(&d, &["import", &f("sara.fcb")]));
    let list = ok(run_with(&d, SARA, None, &["person", "list"]));
    assert!(list.lines().any(|l| l.contains("sara") && l.ends_with("\tenrolled")), "{list}");

    // --as takes only that person's passphrase.
    ok(run_with(&d, SARA, None, &["--as", "sara", "case", "list"]));
    let wrong = run_with(&d, cli::PASS, None, &["--as", "sara", "case", "list"]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("wrong passphrase"));

    // passwd changes the passphrase of whoever unlocked.
    let out = ok(run_with(&d, SARA, Some("sara's second long passphrase here"), &["passwd"]));
    assert!(out.contains("Passphrase of sara changed"), "{out}");
    assert_eq!(run_with(&d, SARA, None, &["case", "list"]).status.code(), Some(1));
    ok(run_with(&d, "sara's second long passphrase here", None, &["--as", "sara", "case", "list"]));
    ok(run(&d, &["case", "list"]));

    // A second device under a taken user name needs the office's word.
    let d2 = t.path().join("device2");
    ok(run(&d2, &["init", "--name", "amina"]));
    ok(run(&d2, &["enroll", "request", "--out", &f("req2.json")]));
    let refused = run(&o, &["enroll", "approve", &f("req2.json"), "--role", "caseworker", "--out", &f("e2.fcb")]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--additional-device-of"));
    ok(run(
        &o,
        &[
            "enroll",
            "approve",
            &f("req2.json"),
            "--role",
            "caseworker",
            "--additional-device-of",
            "amina",
            "--out",
            &f("e2.fcb"),
        ],
    ));
}
