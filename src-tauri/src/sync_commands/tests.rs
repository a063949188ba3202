//! The sync and office commands' tests: whole flows between an office and
//! its devices in temporary vaults, through the helpers the commands call.

use super::*;
use crate::test_support::values;
use fieldcase::vault::{InitOptions, SecretString, VaultOptions};
use serde_json::json;

fn pass() -> SecretString {
    SecretString::from("sync screen test passphrase".to_string())
}

fn make(dir: &Path, name: &str, role: &str) -> CaseStore {
    let options = VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() };
    let opts = InitOptions { name: name.into(), role: role.into(), escrow: None };
    CaseStore::init_with(dir, &pass(), opts, &options).expect("init")
}

fn office(dir: &Path) -> CaseStore {
    let mut o = make(dir, "Agadez office", "data_manager");
    sync::make_office(&mut o, "Agadez").expect("make office");
    o
}

/// Switch the office vault to person `user` with their passphrase,
/// adding them (enrolled in the office's roster) the first time. The
/// office's own first person is "Agadez office".
fn act_as(o: &mut CaseStore, user: &str, role: Role) {
    if user == o.vault().device().user_name {
        o.switch_person(user, &pass()).expect("switch back");
        return;
    }
    let theirs = SecretString::from(format!("quarry lantern {user} velvet orbit"));
    if !o.people().unwrap().iter().any(|p| p.user == user) {
        o.add_person(user, role, &theirs).expect("add person");
    }
    o.switch_person(user, &theirs).expect("switch person");
}

fn quiet() -> impl FnMut(Progress) {
    |_| {}
}

/// Enroll `dev` through the files the screens write and read.
fn enroll_by_files(o: &mut CaseStore, dev: &mut CaseStore, tmp: &Path) {
    let name = dev.vault().device().device_name.clone();
    let req = tmp.join(format!("req-{name}.json"));
    write_enrollment_request(dev, &req).expect("request");
    let view = read_request(o, &req).expect("read request");
    assert_eq!((view.user.as_str(), view.role.as_str(), view.already_enrolled), (name.as_str(), "caseworker", false));
    let bundle = tmp.join(format!("enroll-{name}.fcb"));
    approve(o, &req, &view.role, None, &bundle, &mut quiet()).expect("approve");
    let path = bundle.display().to_string();
    let bytes = std::fs::read(&bundle).unwrap();
    let p = preview_import(dev, &path, &bytes, &mut quiet()).expect("preview enrollment");
    assert_eq!((p.kind.as_str(), p.dry_run), ("enrollment", true));
    assert!(!overview(dev).unwrap().enrolled, "a preview must not enroll");
    apply_import(dev, &path, &bytes, &mut quiet()).expect("apply enrollment");
    assert!(overview(dev).unwrap().enrolled);
}

/// A second device of an enrolled user name is refused unless the data
/// manager says on the Office screen that it is the same person's.
/// A case another office transfers: previewed like any bundle, then
/// accepted from the previewed bytes with the receipt written as a new
/// file; an occupied receipt path takes nothing over.
#[test]
fn a_transfer_is_accepted_from_the_preview_and_its_receipt_written() {
    let t = tempfile::tempdir().unwrap();
    let mut from = make(&t.path().join("niamey"), "Niamey office", "data_manager");
    sync::make_office(&mut from, "Niamey").expect("make office");
    let mut to = office(&t.path().join("agadez"));
    act_as(&mut from, "sani", Role::Caseworker);
    let case = from.create_case("uasc", "Niamey").unwrap();
    from.save_form(
        case,
        "registration_bia",
        None,
        values(json!({"given_names": "Ibrahim", "legitimate_basis": "consent",
            "consent": {"by": "Ibrahim", "method": "signature", "date": "2026-11-02"},
            "consent_scopes": ["case_management", "cross_border_transfer"]})),
    )
    .unwrap();
    from.save_form(
        case,
        "closure_transfer",
        None,
        values(json!({"transfer_consent": {"by": "Ibrahim", "method": "signature", "date": "2026-11-03"}})),
    )
    .unwrap();
    act_as(&mut from, "Niamey office", Role::DataManager);
    let key: String = to.vault().device_verifying_key().as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let bundle = t.path().join("transfer.fcb");
    transfer_out(&mut from, case, &sync::recipient(&to), &key, &bundle, &mut quiet()).expect("transfer");
    let (path, bytes) = (bundle.display().to_string(), std::fs::read(&bundle).unwrap());

    let p = preview_import(&mut to, &path, &bytes, &mut quiet()).expect("preview");
    assert_eq!(p.transfer.as_ref().map(|x| x.status.as_str()), Some("requested"));
    let taken = |s: &CaseStore| s.list_cases().unwrap().cases.iter().any(|c| c.id == case);
    assert!(!taken(&to), "a preview takes nothing over");

    let occupied = t.path().join("occupied.fcb");
    std::fs::write(&occupied, b"keep").unwrap();
    let e =
        answer_transfer_to(&mut to, &path, &bytes, transfer::Decision::Accept, &occupied, &mut quiet()).unwrap_err();
    assert_eq!(e.code, "file_exists");
    assert!(!taken(&to) && std::fs::read(&occupied).unwrap() == b"keep");

    let receipt = t.path().join("receipt.fcb");
    let done =
        answer_transfer_to(&mut to, &path, &bytes, transfer::Decision::Accept, &receipt, &mut quiet()).expect("accept");
    assert!(done.accepted && taken(&to));
    assert_eq!(done.receipt.path, receipt.display().to_string());
    let r = std::fs::read(&receipt).unwrap();
    assert_eq!(done.receipt.bytes, r.len() as u64);
    let back = apply_import(&mut from, &receipt.display().to_string(), &r, &mut quiet()).expect("receipt");
    assert_eq!(back.transfer.map(|x| x.status), Some("accepted".to_string()));
}

#[test]
fn a_second_device_of_a_user_needs_the_data_managers_word() {
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("o"));
    let mut first = make(&t.path().join("d1"), "amina", "caseworker");
    enroll_by_files(&mut o, &mut first, t.path());
    let second = make(&t.path().join("d2"), "amina", "caseworker");
    let req = t.path().join("second.json");
    write_enrollment_request(&second, &req).expect("request");
    let view = read_request(&o, &req).expect("read request");
    assert!(view.user_enrolled_elsewhere && !view.already_enrolled);
    let e = approve(&mut o, &req, "caseworker", None, &t.path().join("a.fcb"), &mut quiet()).unwrap_err();
    assert!(!t.path().join("a.fcb").exists());
    assert_eq!(e.code, "enrollment_refused", "{e:?}");
    approve(&mut o, &req, "caseworker", Some("amina"), &t.path().join("b.fcb"), &mut quiet()).expect("approve");
    assert!(read_request(&o, &req).unwrap().already_enrolled);
}

/// The Office screen lists a suspected pair until a data manager says
/// the two are different children; a caseworker may not say so.
#[test]
fn held_change_decisions_are_the_data_managers_with_stable_codes() {
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("o"));
    let unknown = Uuid::now_v7();
    let e = retry_held(&mut o, unknown).unwrap_err();
    assert_eq!(e.code, "not_held", "{e:?}");
    let e = discard_held(&mut o, unknown, " ").unwrap_err();
    assert_eq!(e.code, "reason_required", "{e:?}");
    act_as(&mut o, "sara", Role::Supervisor);
    let e = retry_held(&mut o, unknown).unwrap_err();
    assert_eq!((e.code.as_str(), e.params.get("role").map(String::as_str)), ("forbidden", Some("supervisor")));
    let e = discard_held(&mut o, unknown, "no").unwrap_err();
    assert_eq!(e.code, "forbidden", "{e:?}");
}

#[test]
fn a_pair_marked_not_the_same_child_leaves_the_list() {
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("o"));
    act_as(&mut o, "amina", Role::Caseworker);
    let fatima = json!({"given_names": "Fatima", "family_name": "Bello", "sex": "female", "age_years": 10,
        "place_of_origin": "Kano", "nationality": ["NGA"], "registration_date": "2026-03-02",
        "legitimate_basis": "vital_interests"});
    let register = |o: &mut CaseStore| {
        let c = o.create_case("uasc", "Agadez").unwrap();
        o.save_form(c, "registration_bia", None, values(fatima.clone())).unwrap();
        c
    };
    let (x, y) = (register(&mut o), register(&mut o));
    let is_pair = |d: &DuplicateEntry| {
        let mut p = [d.case_a.clone(), d.case_b.clone()];
        p.sort();
        let mut q = [x.to_string(), y.to_string()];
        q.sort();
        p == q
    };
    act_as(&mut o, "Agadez office", Role::DataManager);
    assert!(duplicates(&mut o).unwrap().iter().any(is_pair), "the two registrations are flagged");

    act_as(&mut o, "amina", Role::Caseworker);
    assert_eq!(mark_not_duplicate(&mut o, x, y).unwrap_err().code, "rule_violated");
    act_as(&mut o, "Agadez office", Role::DataManager);
    assert!(duplicates(&mut o).unwrap().iter().any(is_pair), "a refused review changes nothing");

    mark_not_duplicate(&mut o, x, y).unwrap();
    assert!(!duplicates(&mut o).unwrap().iter().any(is_pair), "a reviewed pair is no longer listed");
}

#[test]
fn export_then_preview_changes_nothing_and_apply_imports() {
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("o"));
    let mut a = make(&t.path().join("a"), "amina", "caseworker");
    enroll_by_files(&mut o, &mut a, t.path());
    let c = a.create_case("uasc", "Agadez").unwrap();
    a.save_form(c, "registration_bia", None, values(json!({"given_names": "Mariama", "family_name": "Bah"}))).unwrap();

    let out = t.path().join("up.fcb");
    let mut seen = Vec::new();
    let written = export_to_office(&mut a, &out, &mut |p| seen.push(p)).expect("export");
    assert_eq!(written.bytes, std::fs::metadata(&out).unwrap().len());
    assert!(seen.iter().any(|p| matches!(p, Progress::Encrypting { .. })), "{seen:?}");
    // A second export never overwrites the first file.
    assert_eq!(export_to_office(&mut a, &out, &mut quiet()).unwrap_err().code, "file_exists");

    let path = out.display().to_string();
    let bytes = std::fs::read(&out).unwrap();
    let p = preview_import(&mut o, &path, &bytes, &mut quiet()).expect("preview");
    assert!(p.dry_run && !p.replay);
    assert_eq!((p.kind.as_str(), p.sender_name.as_str(), p.new_cases.len()), ("device_to_office", "amina", 1));
    assert!(p.new_events >= 2, "{p:?}");
    assert_eq!(o.case_count().unwrap(), 0, "preview changed the vault");

    let r = apply_import(&mut o, &path, &bytes, &mut quiet()).expect("apply");
    assert!(!r.dry_run);
    assert_eq!(r.new_events, p.new_events);
    assert_eq!(o.case_count().unwrap(), 1);
    assert!(preview_import(&mut o, &path, &bytes, &mut quiet()).unwrap().replay, "importing twice is a reported no-op");

    let devices = devices(&o).unwrap();
    assert_eq!(devices.len(), 2);
    assert!(devices[0].is_office);
    assert_eq!(devices[1].name, "amina");
}

#[test]
fn protected_conflict_is_listed_with_each_value_and_resolved_by_choosing_one() {
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("o"));
    let mut a = make(&t.path().join("a"), "amina", "caseworker");
    let mut b = make(&t.path().join("b"), "bakary", "caseworker");
    enroll_by_files(&mut o, &mut a, t.path());
    enroll_by_files(&mut o, &mut b, t.path());
    let c = a.create_case("uasc", "Agadez").unwrap();
    a.save_form(c, "registration_bia", None, values(json!({"given_names": "Mariama", "risk_level": "medium"})))
        .unwrap();
    let up = sync::export_for_office(&mut a, &mut quiet()).unwrap();
    sync::import_bundle(&mut o, &up, false, &mut quiet()).unwrap();
    o.assign(c, "bakary").unwrap();
    let down = sync::export_for_device(&mut o, b.vault().device().device_id, &mut quiet()).unwrap();
    sync::import_bundle(&mut b, &down, false, &mut quiet()).unwrap();
    a.save_form(c, "registration_bia", None, values(json!({"risk_level": "low"}))).unwrap();
    b.save_form(c, "registration_bia", None, values(json!({"risk_level": "high"}))).unwrap();
    for d in [&mut a, &mut b] {
        let up = sync::export_for_office(d, &mut quiet()).unwrap();
        let report = sync::import_bundle(&mut o, &up, false, &mut quiet()).unwrap();
        let p = outcome(&o, "x", 0, &report).unwrap();
        assert!(p.conflicts.iter().all(|x| x.case_number.is_some()));
    }

    let list = conflicts(&o).unwrap();
    let risk = list.iter().find(|x| x.field == "risk_level").expect("risk level conflict listed");
    assert!(risk.protected && risk.shown_json.is_none(), "{risk:?}");
    // The office's data manager routes the queue without names
    // (docs/visibility.md); a supervisor sees who the child is.
    assert_eq!(risk.child_name, None);
    let mut who: Vec<(&str, Option<&str>, &str)> =
        risk.heads.iter().map(|h| (h.author.as_str(), h.device_name.as_deref(), h.value_json.as_str())).collect();
    who.sort();
    assert_eq!(who, vec![("amina", Some("amina"), "\"low\""), ("bakary", Some("bakary"), "\"high\"")]);
    assert!(risk.heads.iter().all(|h| h.value_labels.is_some()), "risk levels are options with labels");

    // The office's data manager routes it: a supervisor picks the value.
    let (case, item) = (Uuid::parse_str(&risk.case_id).unwrap(), None);
    let high = risk.heads.iter().find(|h| h.value_json == "\"high\"").unwrap();
    let e = resolve(&mut o, case, "registration_bia", item, "risk_level", Uuid::parse_str(&high.event).unwrap())
        .unwrap_err();
    assert_eq!(e.code, "forbidden");
    act_as(&mut o, "sara", Role::Supervisor);
    let seen = conflicts(&o).unwrap();
    let named = seen.iter().find(|x| x.field == "risk_level").and_then(|x| x.child_name.clone());
    assert_eq!(named.as_deref(), Some("Mariama"));
    // Only one of the values in conflict can be chosen.
    let e = resolve(&mut o, case, "registration_bia", item, "risk_level", Uuid::nil()).unwrap_err();
    assert_eq!(e.code, "conflict_changed");
    resolve(&mut o, case, "registration_bia", item, "risk_level", Uuid::parse_str(&high.event).unwrap())
        .expect("resolve");
    assert!(conflicts(&o).unwrap().iter().all(|x| x.field != "risk_level"), "resolved conflict still listed");
    let detail = o.case_detail(case).unwrap();
    let f = detail.fields.iter().find(|f| f.form == "registration_bia" && f.field == "risk_level").unwrap();
    assert_eq!(f.value, Some(json!("high")));
}

#[test]
fn refused_bundles_have_a_code_and_one_line_reason_and_change_nothing() {
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("o"));
    let mut a = make(&t.path().join("a"), "amina", "caseworker");
    let e = preview_import(&mut o, "x", b"not a bundle at all", &mut quiet()).unwrap_err();
    assert_eq!(e.code, "bundle_not_a_bundle");
    assert!(!e.message.contains('\n'));

    enroll_by_files(&mut o, &mut a, t.path());
    a.create_case("uasc", "Agadez").unwrap();
    let bundle = sync::export_for_office(&mut a, &mut quiet()).unwrap();
    let e = preview_import(&mut o, "x", &bundle[..bundle.len() / 2], &mut quiet()).unwrap_err();
    assert_eq!(e.code, "bundle_damaged", "{e:?}");
    // A device bundle imported on another device: wrong recipient.
    let mut other = make(&t.path().join("b"), "bakary", "caseworker");
    let e = apply_import(&mut other, "x", &bundle, &mut quiet()).unwrap_err();
    assert_eq!(e.code, "bundle_wrong_recipient", "{e:?}");
    assert_eq!(o.case_count().unwrap(), 0);
    // Office-only and device-only operations say which they need.
    assert_eq!(write_enrollment_request(&o, &t.path().join("r.json")).unwrap_err().code, "is_office");
    assert_eq!(devices(&other).unwrap().len(), 0);
}

#[test]
fn pending_import_is_released_only_for_the_previewed_path() {
    let p = PendingImport::default();
    p.put("/a.fcb".into(), vec![1, 2]);
    assert_eq!(p.take("/b.fcb"), None);
    assert_eq!(p.take("/a.fcb"), Some(vec![1, 2]));
    assert_eq!(p.take("/a.fcb"), None, "apply consumes the preview");
}

#[test]
fn paths_must_be_absolute_and_files_are_found_by_extension() {
    assert_eq!(absolute("").unwrap_err().code, "no_path");
    assert_eq!(absolute("relative/x.fcb").unwrap_err().code, "bad_input");
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("one.fcb"), b"x").unwrap();
    std::fs::write(t.path().join("req.json"), b"{}").unwrap();
    std::fs::create_dir(t.path().join("dir.fcb")).unwrap();
    let dirs = vec![t.path().display().to_string()];
    let found = find_files(&dirs, "fcb");
    assert_eq!(found.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), vec!["one.fcb"]);
    assert_eq!(find_files(&dirs, "json").len(), 1);
    let missing = t.path().join("no-such-folder").join("x.fcb");
    assert_eq!(write_new_file(&missing, b"x").unwrap_err().code, "no_such_folder");
}

/// A bundle never replaces a file or goes through a symlink: both are
/// refused with `file_exists` and left as they were.
#[test]
fn an_existing_file_or_symlink_is_never_written_over() {
    let t = tempfile::tempdir().unwrap();
    let existing = t.path().join("one.fcb");
    std::fs::write(&existing, b"first").unwrap();
    assert_eq!(write_new_file(&existing, b"second").unwrap_err().code, "file_exists");
    assert_eq!(std::fs::read(&existing).unwrap(), b"first");
    let victim = t.path().join("victim");
    std::fs::write(&victim, b"not yours").unwrap();
    let link = t.path().join("two.fcb");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    assert_eq!(write_new_file(&link, b"bundle").unwrap_err().code, "file_exists");
    assert_eq!(check_free(&link).unwrap_err().code, "file_exists");
    assert_eq!(std::fs::read(&victim).unwrap(), b"not yours");
    let fresh = t.path().join("three.fcb");
    assert_eq!(write_new_file(&fresh, b"bundle").unwrap().bytes, 6);
    assert_eq!(std::fs::read(&fresh).unwrap(), b"bundle");
}
