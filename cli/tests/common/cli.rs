//! Running the `fieldcase` binary in the CLI tests.
#![allow(dead_code)]
use std::path::Path;
use std::process::{Command, Output};

/// The passphrase every test vault uses (`sync_common::pass()` too).
pub const PASS: &str = "correct horse battery staple";

/// `fieldcase --vault DIR ARGS…` with the test passphrase in the
/// environment and a low scrypt work factor for vaults it creates.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fieldcase"))
        .arg("--vault")
        .arg(dir)
        .args(args)
        .env("FIELDCASE_PASSPHRASE", PASS)
        .env("FIELDCASE_TEST_SCRYPT_LOG_N", "10")
        .output()
        .expect("run fieldcase")
}

/// Standard output of a run that must have succeeded.
pub fn ok(out: Output) -> String {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}
