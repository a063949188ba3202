//! A bundle is a standard age file around a standard ustar archive: the
//! stock `age` and `tar` tools read it with the escrow key
//! (`age -d -i key bundle | tar -t`).
use std::io::Write as _;
use std::process::{Command, Stdio};

use age::secrecy::ExposeSecret as _;
use fieldcase::model::store::CaseStore;
use fieldcase::sync;
use fieldcase::vault::{InitOptions, SecretString, VaultOptions};
use serde_json::json;

#[path = "sync_common.rs"]
mod common;

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok()
}

#[test]
fn stock_age_and_tar_list_a_bundle_with_the_escrow_key() {
    if !(have("age") && have("tar")) {
        let msg = "interop test needs age and tar on PATH (Debian: apt-get install age tar)";
        assert!(std::env::var_os("CI").is_none(), "{msg}; CI must not skip it");
        eprintln!("SKIPPED: {msg}");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let escrow = age::x25519::Identity::generate();
    let mut o = common::office(&t.path().join("o"));
    let opts =
        InitOptions { name: "amina".into(), role: "caseworker".into(), escrow: Some(escrow.to_public().to_string()) };
    let mut a = CaseStore::init_with(
        &t.path().join("a"),
        &SecretString::from("correct horse battery staple".to_owned()),
        opts,
        &VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() },
    )
    .unwrap();
    common::enroll(&mut o, &mut a);
    let c = a.create_case("uasc", "Agadez").unwrap();
    a.save_form(c, "registration_bia", None, json!({"given_names": "Fatima"}).as_object().unwrap().clone()).unwrap();
    let bundle = sync::export_for_office(&mut a, &mut |_| {}).unwrap();
    assert!(!bundle.windows(6).any(|w| w == b"Fatima"), "no plaintext in the bundle");
    let (key, file) = (t.path().join("escrow.key"), t.path().join("up.fcb"));
    std::fs::write(&key, format!("{}\n", escrow.to_string().expose_secret())).unwrap();
    std::fs::write(&file, &bundle).unwrap();

    let plain = Command::new("age").arg("-d").arg("-i").arg(&key).arg(&file).output().unwrap();
    assert!(plain.status.success(), "age -d: {}", String::from_utf8_lossy(&plain.stderr));
    let mut tar = Command::new("tar").arg("-t").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    tar.stdin.take().unwrap().write_all(&plain.stdout).unwrap();
    let listing = tar.wait_with_output().unwrap();
    assert!(listing.status.success());
    assert_eq!(String::from_utf8(listing.stdout).unwrap(), "manifest.json\nmanifest.sig\nevents.jsonl\n");
    // And the office, its addressee, imports it.
    assert_eq!(sync::import_bundle(&mut o, &bundle, false, &mut |_| {}).unwrap().summary.new, 2);
}
