//! Helpers shared by the sync tests (included with `#[path]`; as a test
//! crate of its own it only checks that an office and a device can be made).
#![allow(dead_code)]
use std::path::Path;

use fieldcase::model::event::Role;
use fieldcase::model::projection;
use fieldcase::model::store::CaseStore;
use fieldcase::sync;
use fieldcase::vault::{InitOptions, SecretString, VaultOptions};
use serde_json::{json, Map, Value};
use uuid::Uuid;

pub fn pass() -> SecretString {
    SecretString::from("correct horse battery staple".to_owned())
}

pub fn options() -> VaultOptions {
    VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() }
}

pub fn office(dir: &Path) -> CaseStore {
    let mut s = CaseStore::init_with(
        dir,
        &pass(),
        InitOptions { name: "Office".into(), role: "data_manager".into(), escrow: None },
        &options(),
    )
    .expect("init office");
    sync::make_office(&mut s, "Agadez").expect("make office");
    s
}

pub fn device(dir: &Path, user: &str, role: &str) -> CaseStore {
    CaseStore::init_with(dir, &pass(), InitOptions { name: user.into(), role: role.into(), escrow: None }, &options())
        .expect("init device")
}

pub fn reopen(dir: &Path) -> CaseStore {
    CaseStore::open_with(dir, &pass(), &options()).expect("open")
}

/// Enroll `dev` with `office` (request → approve → import the enrollment).
pub fn enroll(office: &mut CaseStore, dev: &mut CaseStore) {
    let req = sync::enrollment_request(dev).expect("request");
    let role: Role = dev.vault().device().role.parse().expect("role");
    let bundle =
        sync::approve_enrollment(office, &serde_json::to_vec(&req).unwrap(), role, &mut |_| {}).expect("approve");
    sync::import_bundle(dev, &bundle, false, &mut |_| {}).expect("import enrollment");
}

/// Device → office.
pub fn up(dev: &mut CaseStore, office: &mut CaseStore) -> sync::ImportReport {
    let b = sync::export_for_office(dev, &mut |_| {}).expect("export");
    sync::import_bundle(office, &b, false, &mut |_| {}).expect("office import")
}

/// Office → device.
pub fn down(office: &mut CaseStore, dev: &mut CaseStore) -> sync::ImportReport {
    let id = dev.vault().device().device_id;
    let b = sync::export_for_device(office, id, &mut |_| {}).expect("export");
    sync::import_bundle(dev, &b, false, &mut |_| {}).expect("device import")
}

pub fn values(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("object")
}

pub fn new_case(s: &mut CaseStore, given: &str) -> Uuid {
    let c = s.create_case("uasc", "Agadez").expect("create");
    s.save_form(c, "registration_bia", None, values(json!({"given_names": given}))).expect("save");
    c
}

/// Events + projection dump, plus the sync state and trust tables: what
/// "unchanged" means for a hostile import.
pub fn full_dump(s: &CaseStore) -> String {
    let conn = s.vault().conn();
    let mut out = projection::dump(conn).expect("dump");
    out.push_str(&format!("{:?}", projection::sync_state(conn, "").expect("sync state")));
    let mut st = conn.prepare("SELECT device_id, verifying_key, name FROM devices ORDER BY device_id").unwrap();
    let rows: Vec<(String, String, String)> =
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect();
    out.push_str(&format!("{rows:?}"));
    out
}

#[test]
fn an_office_and_a_device_can_be_made() {
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("o"));
    let mut d = device(&t.path().join("d"), "amina", "caseworker");
    assert!(sync::is_office(&o).unwrap());
    assert!(!sync::is_office(&d).unwrap());
    enroll(&mut o, &mut d);
}
