//! Device → office → second device: enrollment, export/import, need-to-know,
//! acknowledgements, replay, dry run, revocation.
#[path = "sync_common.rs"]
mod common;
#[path = "common/people.rs"]
mod people;

use common::*;
use fieldcase::model::projection;
use fieldcase::sync::{self, ImportError};
use serde_json::json;

#[test]
fn device_to_office_to_second_device() {
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("o"));
    let mut a = device(&t.path().join("a"), "amina", "caseworker");
    let mut b = device(&t.path().join("b"), "bakary", "caseworker");
    enroll(&mut o, &mut a);
    enroll(&mut o, &mut b);

    let c1 = new_case(&mut a, "Fatima");
    let _private = new_case(&mut a, "Idrissa");
    let r = up(&mut a, &mut o);
    assert_eq!(r.preview.new_cases.len(), 2);
    assert_eq!(r.summary.new, 4);

    // Nothing is visible to B until the office assigns a case to bakary.
    let r = down(&mut o, &mut b);
    assert_eq!(r.summary.new, 0);
    o.assign(c1, "bakary").unwrap();
    let r = down(&mut o, &mut b);
    assert_eq!(r.preview.new_cases, vec![c1]);
    assert_eq!(b.case_count().unwrap(), 1, "need-to-know: only the assigned case");

    // B edits, the office relays it to A (A created the case, so it sees it).
    b.save_form(c1, "registration_bia", None, values(json!({"family_name": "Diallo"}))).unwrap();
    up(&mut b, &mut o);
    let r = down(&mut o, &mut a);
    assert!(r.summary.new >= 2, "assignment and B's edit reach A: {r:?}");
    let a_view = projection::dump(a.vault().conn()).unwrap();
    // The office vault is a data manager's, who sees metadata only
    // (docs/visibility.md): compare as a supervisor.
    people::act_on_office_as(&mut o, "sup", fieldcase::model::event::Role::Supervisor);
    let o_case = o.case_detail(c1).unwrap();
    let a_case = a.case_detail(c1).unwrap();
    assert_eq!(format!("{:?}", o_case.fields), format!("{:?}", a_case.fields));
    assert!(a_view.contains("Diallo"));

    // Acknowledged events are not sent again.
    let again = sync::export_for_office(&mut a, &mut |_| {}).unwrap();
    let r = sync::import_bundle(&mut o, &again, false, &mut |_| {}).unwrap();
    assert_eq!(r.summary.received, 0, "A sends nothing the office acknowledged");
    // Nor does the office resend what B confirmed.
    up(&mut b, &mut o);
    let r = down(&mut o, &mut b);
    assert_eq!(r.summary.received, 0, "B already has everything it may see: {r:?}");
}

#[test]
fn replay_is_a_noop_and_older_bundles_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("o"));
    let mut a = device(&t.path().join("a"), "amina", "caseworker");
    enroll(&mut o, &mut a);
    new_case(&mut a, "Fatima");
    let b1 = sync::export_for_office(&mut a, &mut |_| {}).unwrap();
    new_case(&mut a, "Moussa");
    let b2 = sync::export_for_office(&mut a, &mut |_| {}).unwrap();
    sync::import_bundle(&mut o, &b2, false, &mut |_| {}).unwrap();
    let before = full_dump(&o);
    let r = sync::import_bundle(&mut o, &b2, false, &mut |_| {}).unwrap();
    assert!(r.replay);
    assert_eq!(full_dump(&o), before);
    let e = sync::import_bundle(&mut o, &b1, false, &mut |_| {}).unwrap_err();
    assert!(matches!(e, ImportError::SequenceBackwards { last: 2, got: 1, .. }), "{e}");
    assert_eq!(full_dump(&o), before);
}

#[test]
fn dry_run_previews_and_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("o"));
    let mut a = device(&t.path().join("a"), "amina", "caseworker");
    enroll(&mut o, &mut a);
    new_case(&mut a, "Fatima");
    let bundle = sync::export_for_office(&mut a, &mut |_| {}).unwrap();
    let before = full_dump(&o);
    let r = sync::verify_bundle(&mut o, &bundle, &mut |_| {}).unwrap();
    assert!(r.dry_run && !r.replay);
    assert_eq!(r.preview.new_cases.len(), 1);
    assert_eq!(r.preview.new_events, 2);
    assert_eq!(full_dump(&o), before);
    let r = sync::import_bundle(&mut o, &bundle, false, &mut |_| {}).unwrap();
    assert_eq!(r.summary.new, 2);
    assert_ne!(full_dump(&o), before);
}

#[test]
fn import_survives_reopen_and_revocation_stops_a_device() {
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("o"));
    let mut a = device(&t.path().join("a"), "amina", "caseworker");
    enroll(&mut o, &mut a);
    new_case(&mut a, "Fatima");
    up(&mut a, &mut o);
    let dump = full_dump(&o);
    o.lock().unwrap();
    let mut o = reopen(&t.path().join("o"));
    assert_eq!(full_dump(&o), dump, "sync state and events survive a reopen");
    new_case(&mut a, "Late");
    let late = sync::export_for_office(&mut a, &mut |_| {}).unwrap();
    sync::revoke(&mut o, a.vault().device().device_id).unwrap();
    let before = full_dump(&o);
    let e = sync::import_bundle(&mut o, &late, false, &mut |_| {}).unwrap_err();
    assert!(matches!(e, ImportError::RevokedSender { .. }), "{e}");
    assert_eq!(full_dump(&o), before);
    assert!(sync::export_for_device(&mut o, a.vault().device().device_id, &mut |_| {}).is_err());
}

#[test]
fn role_is_fixed_at_enrollment() {
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("o"));
    let a = device(&t.path().join("a"), "amina", "caseworker");
    let req = serde_json::to_vec(&sync::enrollment_request(&a).unwrap()).unwrap();
    let e = sync::approve_enrollment(&mut o, &req, fieldcase::model::event::Role::Supervisor, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("asked for role caseworker"), "{e}");
    // An altered request fails its self-signature.
    let mut v: serde_json::Value = serde_json::from_slice(&req).unwrap();
    v["user"] = json!("mallory");
    let e = sync::approve_enrollment(
        &mut o,
        &serde_json::to_vec(&v).unwrap(),
        fieldcase::model::event::Role::Caseworker,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("self-signature"), "{e}");
}

#[test]
fn a_bundle_larger_than_one_journal_frame_imports_completely() {
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("o"));
    let mut a = device(&t.path().join("a"), "amina", "caseworker");
    enroll(&mut o, &mut a);
    let marks = "x".repeat(2900);
    for round in 0..6 {
        let mut b = a.batch();
        for i in 0..1000 {
            let c = b.create_case("uasc", "Agadez").unwrap();
            b.save_form(
                c,
                "registration_bia",
                None,
                values(json!({"distinguishing_marks": format!("{round}-{i}-{marks}")})),
            )
            .unwrap();
        }
        b.commit().unwrap();
    }
    let events = a.all_events().unwrap();
    let bytes: usize = events.iter().map(|e| e.to_json().to_string().len()).sum();
    // More than one journal frame can hold (16 MiB), so one commit would fail.
    assert!(bytes > 17 * 1024 * 1024, "the test needs a bundle over the frame limit ({bytes} bytes)");
    let r = up(&mut a, &mut o);
    assert_eq!(r.summary.new, events.len());
    assert_eq!(o.all_events().unwrap(), events);
    let dump = full_dump(&o);
    o.lock().unwrap();
    assert_eq!(full_dump(&reopen(&t.path().join("o"))), dump);
}

/// A device's work over weeks: the same cases edited again and again, so
/// in time order every case's events are spread over the whole bundle. The
/// office commits such a bundle in several journal frames cut case by case
/// (each frame re-reading and re-writing every case it touches made a
/// large merge slow); its projection is the device's, row for row, and
/// stays so after a replay of the frames.
#[test]
fn a_multi_frame_bundle_of_interleaved_cases_projects_as_on_the_device() {
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("o"));
    let mut a = device(&t.path().join("a"), "amina", "caseworker");
    enroll(&mut o, &mut a);
    let marks = "x".repeat(2900);
    let mut b = a.batch();
    let cases: Vec<_> = (0..600).map(|_| b.create_case("uasc", "Agadez").unwrap()).collect();
    b.commit().unwrap();
    for round in 0..5 {
        let mut b = a.batch();
        for (i, c) in cases.iter().enumerate() {
            let v = json!({"distinguishing_marks": format!("{round}-{i}-{marks}"), "place_of_origin": format!("town {round}")});
            b.save_form(*c, "registration_bia", None, values(v)).unwrap();
        }
        b.commit().unwrap();
    }
    let events = a.all_events().unwrap();
    let bytes: usize = events.iter().map(|e| e.to_json().to_string().len()).sum();
    assert!(
        bytes > 2 * fieldcase::model::store::IMPORT_FRAME_BYTES,
        "the test needs a bundle of several frames ({bytes} bytes)"
    );
    let r = up(&mut a, &mut o);
    assert_eq!(r.summary.new, events.len());
    let dump = projection::dump(o.vault().conn()).unwrap();
    assert_eq!(dump, projection::dump(a.vault().conn()).unwrap(), "the office projects the events as the device did");
    o.lock().unwrap();
    assert_eq!(projection::dump(reopen(&t.path().join("o")).vault().conn()).unwrap(), dump);
}

#[test]
fn preview_reports_suspected_duplicates_and_conflicts() {
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("o"));
    let mut a = device(&t.path().join("a"), "amina", "caseworker");
    let mut b = device(&t.path().join("b"), "bakary", "caseworker");
    enroll(&mut o, &mut a);
    enroll(&mut o, &mut b);
    let c = new_case(&mut a, "Fatima");
    a.save_form(c, "registration_bia", None, values(json!({"family_name": "Diallo", "risk_level": "medium"}))).unwrap();
    up(&mut a, &mut o);
    let twin = new_case(&mut b, " fatima ");
    b.save_form(twin, "registration_bia", None, values(json!({"family_name": "DIALLO"}))).unwrap();
    let bundle = sync::export_for_office(&mut b, &mut |_| {}).unwrap();
    let r = sync::verify_bundle(&mut o, &bundle, &mut |_| {}).unwrap();
    assert_eq!(r.suspected_duplicates.len(), 1, "{r:?}");
    assert_eq!(r.suspected_duplicates[0].existing_case, c);
    assert_eq!(r.suspected_duplicates[0].new_case, twin);

    // A concurrent protected edit shows up as a protected conflict.
    o.assign(c, "bakary").unwrap();
    down(&mut o, &mut b);
    a.save_form(c, "registration_bia", None, values(json!({"risk_level": "high"}))).unwrap();
    b.save_form(c, "registration_bia", None, values(json!({"risk_level": "low", "given_names": "Fati"}))).unwrap();
    up(&mut a, &mut o);
    let bundle = sync::export_for_office(&mut b, &mut |_| {}).unwrap();
    let r = sync::verify_bundle(&mut o, &bundle, &mut |_| {}).unwrap();
    assert!(r.preview.conflicts.iter().any(|x| x.case == c && x.field == "risk_level" && x.protected), "{r:?}");
}
