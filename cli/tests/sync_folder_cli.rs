//! `fieldcase sync --folder DIR [--watch]` through the binary.
#[path = "common/cli.rs"]
mod cli;

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cli::{ok, run, PASS};
use serde_json::Value;

fn enrolled(t: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let (o, d, shared) = (t.join("office"), t.join("device"), t.join("shared"));
    std::fs::create_dir(&shared).unwrap();
    let f = |n: &str| t.join(n).to_str().unwrap().to_string();
    ok(run(&o, &["init", "--office", "--name", "Agadez"]));
    ok(run(&d, &["init", "--name", "amina"]));
    ok(run(&d, &["enroll", "request", "--out", &f("req.json")]));
    ok(run(&o, &["enroll", "approve", &f("req.json"), "--role", "caseworker", "--out", &f("enr.fcb")]));
    ok(run(&d, &["import", &f("enr.fcb")]));
    (o, d, shared)
}

#[test]
fn one_pass_each_way_and_an_unreadable_file_is_named() {
    let t = tempfile::tempdir().unwrap();
    let (o, d, shared) = enrolled(t.path());
    let folder = shared.to_str().unwrap();
    let reg = ok(run(&d, &["case", "new", "--type", "uasc", "--office", "Agadez"]));
    assert!(reg.contains("registered case"), "{reg}");

    let out = ok(run(&d, &["sync", "--folder", folder]));
    assert!(out.contains("wrote ") && out.contains("/to-office/"), "{out}");
    let out = ok(run(&o, &["sync", "--folder", folder]));
    assert!(out.contains("imported ") && out.contains("1 new cases"), "{out}");
    assert!(out.contains("/to-device/"), "the office left its answer: {out}");
    let list = ok(run(&o, &["case", "list", "--json"]));
    assert!(list.contains("AGA"), "the case is at the office: {list}");

    // A file that is no bundle, under a bundle's name: named with its reason.
    let dev_folder = std::fs::read_dir(&shared).unwrap().next().unwrap().unwrap().path();
    std::fs::write(dev_folder.join("to-office").join("x.fcb"), b"garbage that is long enough").unwrap();
    let out = ok(run(&o, &["sync", "--folder", folder, "--json"]));
    let r: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(r["incomplete"].as_array().unwrap().len(), 1, "{r}");
    // A missing folder is an error with its name.
    let out = run(&o, &["sync", "--folder", t.path().join("nowhere").to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}

#[cfg(unix)]
#[test]
fn watch_reacts_within_seconds_and_stops_on_ctrl_c() {
    let t = tempfile::tempdir().unwrap();
    let (o, d, shared) = enrolled(t.path());
    let folder = shared.to_str().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fieldcase"))
        .arg("--vault")
        .arg(&o)
        .args(["sync", "--folder", folder, "--watch", "--interval", "1", "--json"])
        .env("FIELDCASE_PASSPHRASE", PASS)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    ok(run(&d, &["case", "new", "--type", "uasc", "--office", "Agadez"]));
    ok(run(&d, &["sync", "--folder", folder]));
    let start = Instant::now();
    let mut imported = false;
    while !imported && start.elapsed() < Duration::from_secs(60) {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            let r: Value = serde_json::from_str(&line).unwrap();
            imported = r["imported"].as_array().is_some_and(|a| a.iter().any(|i| i["new_cases"] == 1));
        }
    }
    let waited = start.elapsed();
    let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    let status = child.wait().unwrap();
    assert!(imported, "the watching office did not import the device's bundle within {waited:?}");
    assert!(status.success(), "Ctrl-C ends the watch cleanly: {status:?}");
    // The vault was locked cleanly: it opens, and holds the case.
    let list = ok(run(&o, &["case", "list", "--json"]));
    assert!(list.contains("AGA"), "{list}");
}
