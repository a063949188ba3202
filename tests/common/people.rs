//! Enrolled people in tests (docs/vault-format.md §2.2): add a person with a
//! passphrase the policy accepts, switch to them, and have the office enroll
//! a person hosted on a device. Included with `#[path]`.
#![allow(dead_code)]
use fieldcase::model::event::Role;
use fieldcase::model::people::PersonRecord;
use fieldcase::model::store::CaseStore;
use fieldcase::sync;
use fieldcase::vault::SecretString;

/// The passphrase a test gives person `user` (long, unrelated words).
pub fn passphrase_of(user: &str) -> SecretString {
    SecretString::from(format!("quarry lantern {user} velvet orbit"))
}

/// Add `user` with `role` on `store` (on an office vault this enrolls
/// them in its roster too).
pub fn add_person(store: &mut CaseStore, user: &str, role: Role) -> PersonRecord {
    store.add_person(user, role, &passphrase_of(user)).expect("add person")
}

/// Switch `store` to person `user` with their passphrase.
pub fn switch(store: &mut CaseStore, user: &str) {
    store.switch_person(user, &passphrase_of(user)).expect("switch person");
}

/// Add `user` on the office vault and switch to them there.
pub fn act_on_office_as(office: &mut CaseStore, user: &str, role: Role) {
    if !office.people().unwrap().iter().any(|p| p.user == user) {
        add_person(office, user, role);
    }
    switch(office, user);
}

/// Add `user` on the enrolled device `dev`, have `office` enroll them
/// (request signed by their key, naming `dev` as host) and import the
/// enrollment on `dev`. Leaves `dev` switched to them.
pub fn enroll_person(office: &mut CaseStore, dev: &mut CaseStore, user: &str, role: Role) -> PersonRecord {
    let record = add_person(dev, user, role);
    switch(dev, user);
    let req = sync::enrollment_request(dev).expect("person's request");
    let bundle =
        sync::approve_enrollment(office, &serde_json::to_vec(&req).unwrap(), role, &mut |_| {}).expect("approve");
    sync::import_bundle(dev, &bundle, false, &mut |_| {}).expect("import the person's enrollment");
    record
}
