//! Test fixture for the desktop end-to-end sync steps
//! (tests/e2e/sync-steps.mjs); not part of the product.
//!
//! Given an office vault and two enrolled caseworker vaults (made and
//! enrolled with the `fieldcase` CLI), it plays the field work the CLI has no
//! commands for, through the public `CaseStore` and `sync` API: device A
//! registers a child and syncs; the office assigns the case to device B's
//! user and sends it to B; then A and B both set the protected field
//! `registration_bia.risk_level` offline, and only B's bundle reaches the
//! office. Importing A's next bundle at the office (done in the app) then
//! brings a protected-field conflict that a person must resolve. B's bundle
//! also brings a second registration of a girl with the same name, age and
//! place, which the Office screen lists as a suspected duplicate, and B's
//! change of the legitimate basis to consent (with no consent recorded).
//! A, unaware, then marks the case registered: the office's rules refuse
//! that change (R4), so A's next bundle has one change held in quarantine
//! for the data manager, while the rest of it is applied.
//!
//! Usage: FIELDCASE_PASSPHRASE=... e2e_sync_fixture OFFICE_DIR DEVICE_A_DIR DEVICE_B_DIR
//! Prints the case number on stdout.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use fieldcase::model::store::CaseStore;
use fieldcase::sync;
use fieldcase::vault::SecretString;
use serde_json::{json, Map, Value};

fn open(dir: &Path, pass: &SecretString) -> Result<CaseStore, String> {
    CaseStore::open(dir, pass).map_err(|e| format!("cannot open {}: {e}", dir.display()))
}

fn values(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn run() -> Result<String, String> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [office, dev_a, dev_b] = args.as_slice() else {
        return Err("usage: e2e_sync_fixture OFFICE_DIR DEVICE_A_DIR DEVICE_B_DIR".into());
    };
    let pass = SecretString::from(std::env::var("FIELDCASE_PASSPHRASE").map_err(|_| "set FIELDCASE_PASSPHRASE")?);
    let e = |x: &dyn std::fmt::Display| x.to_string();

    // Who the child is; B registers a girl with exactly these details again.
    let girl = values(json!({"given_names": "Mariama", "family_name": "Bah", "sex": "female", "age_years": 14,
        "place_of_origin": "Gao"}));

    // A registers the child and sends it to the office.
    let mut a = open(dev_a, &pass)?;
    let case = a.create_case("uasc", "Agadez").map_err(|x| e(&x))?;
    let mut registration = girl.clone();
    registration.insert("risk_level".into(), json!("medium"));
    registration.insert("legitimate_basis".into(), json!("vital_interests"));
    a.save_form(case, "registration_bia", None, registration).map_err(|x| e(&x))?;
    let up_a = sync::export_for_office(&mut a, &mut |_| {}).map_err(|x| e(&x))?;
    a.lock().map_err(|x| e(&x))?;

    // The office takes it in and assigns it to B's user, who gets it.
    let mut o = open(office, &pass)?;
    sync::import_bundle(&mut o, &up_a, false, &mut |_| {}).map_err(|x| e(&x))?;
    let mut b = open(dev_b, &pass)?;
    let b_user = b.vault().device().user_name.clone();
    let b_id = b.vault().device().device_id;
    o.assign(case, &b_user).map_err(|x| e(&x))?;
    let down_b = sync::export_for_device(&mut o, b_id, &mut |_| {}).map_err(|x| e(&x))?;
    sync::import_bundle(&mut b, &down_b, false, &mut |_| {}).map_err(|x| e(&x))?;

    // B also registers a girl of the same name, age and place as a new case
    // (the office's duplicate check will flag the pair for a data manager).
    let namesake = b.create_case("uasc", "Agadez").map_err(|x| e(&x))?;
    b.save_form(namesake, "registration_bia", None, girl).map_err(|x| e(&x))?;

    // Offline, both change the protected risk level; B syncs first.
    b.save_form(case, "registration_bia", None, values(json!({"risk_level": "high", "legitimate_basis": "consent"})))
        .map_err(|x| e(&x))?;
    let up_b = sync::export_for_office(&mut b, &mut |_| {}).map_err(|x| e(&x))?;
    b.lock().map_err(|x| e(&x))?;
    sync::import_bundle(&mut o, &up_b, false, &mut |_| {}).map_err(|x| e(&x))?;
    let number = o
        .list_cases()
        .map_err(|x| e(&x))?
        .cases
        .into_iter()
        .find(|c| c.id == case)
        .map(|c| c.case_number)
        .unwrap_or_default();
    o.lock().map_err(|x| e(&x))?;

    let mut a = open(dev_a, &pass)?;
    a.save_form(case, "registration_bia", None, values(json!({"risk_level": "low"}))).map_err(|x| e(&x))?;
    // Last, so the risk level edit does not build on it (and is applied).
    a.change_stage(case, fieldcase::model::lifecycle::Stage::Registered, "registration complete").map_err(|x| e(&x))?;
    a.lock().map_err(|x| e(&x))?;
    Ok(number)
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(number) => {
            println!("{number}");
            std::process::ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("e2e_sync_fixture: {msg}");
            std::process::ExitCode::FAILURE
        }
    }
}
