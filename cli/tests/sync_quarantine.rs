//! Quarantine (docs/bundle-format.md §6.1): an event whose signature and
//! origin are valid but which the office's rules refuse is held with its
//! reason, the rest of its bundle applied; the device's next bundles do not
//! stall on it, and the office reports the refusal back to the device.
#[path = "common/cli.rs"]
mod cli;
#[path = "../../tests/sync_common.rs"]
mod sync_common;

use fieldcase::model::lifecycle::Stage;
use fieldcase::model::store::CaseStore;
use fieldcase::sync;
use serde_json::json;
use sync_common::*;
use uuid::Uuid;

fn child(s: &mut CaseStore, given: &str, family: &str) -> Uuid {
    let c = s.create_case("uasc", "Agadez").unwrap();
    s.save_form(
        c,
        "registration_bia",
        None,
        values(json!({"given_names": given, "family_name": family, "age_years": 16})),
    )
    .unwrap();
    c
}

fn newest(s: &CaseStore, case: Uuid) -> Uuid {
    let me = s.vault().device().device_id;
    s.case_events(case).unwrap().into_iter().filter(|e| e.device_id == me).max_by_key(|e| e.device_seq).unwrap().id
}

fn family_name(s: &mut CaseStore, case: Uuid, name: &str) -> Uuid {
    s.save_form(case, "registration_bia", None, values(json!({"family_name": name}))).unwrap();
    newest(s, case)
}

/// A supervisor changes the case's legitimate basis to consent (none is
/// recorded yet) while the caseworker, offline, registers the child on the
/// basis she saw: her stage change is valid where it was made and refused
/// at the office (R4), and so is her next stage change, made on top of it.
#[test]
fn a_refused_event_is_held_the_rest_applied_and_reported_back() {
    let t = tempfile::tempdir().unwrap();
    let (o_dir, a_dir) = (t.path().join("o"), t.path().join("a"));
    let mut o = office(&o_dir);
    let mut a = device(&a_dir, "amina", "caseworker");
    let mut s = device(&t.path().join("s"), "sara", "supervisor");
    enroll(&mut o, &mut a);
    enroll(&mut o, &mut s);
    let case = a.create_case("uasc", "Agadez").unwrap();
    let reg = json!({"given_names": "Amina", "family_name": "Issoufou", "sex": "female", "age_years": 15,
                     "legitimate_basis": "vital_interests", "risk_level": "medium"});
    a.save_form(case, "registration_bia", None, values(reg)).unwrap();
    let other = child(&mut a, "Moussa", "Keita");
    up(&mut a, &mut o);
    down(&mut o, &mut s);
    s.save_form(case, "registration_bia", None, values(json!({"legitimate_basis": "consent"}))).unwrap();
    up(&mut s, &mut o);
    std::thread::sleep(std::time::Duration::from_millis(5));

    // Offline: two stage changes (the second on top of the first), an edit
    // of the same case (made on top of its stage, so on top of both), an
    // edit of another case and a new case.
    a.change_stage(case, Stage::Registered, "registration complete").unwrap();
    let refused = newest(&a, case);
    a.change_stage(case, Stage::BiaInProgress, "BIA opened").unwrap();
    let dependant = newest(&a, case);
    assert!(a.case_events(case).unwrap().iter().any(|e| e.id == dependant && e.base.contains(&refused)));
    let edit = family_name(&mut a, case, "Issoufou Bah");
    let kept = family_name(&mut a, other, "Keita Bah");
    let third = child(&mut a, "Mariama", "Sow");
    let bundle = sync::export_for_office(&mut a, &mut |_| {}).unwrap();
    let report = sync::import_bundle(&mut o, &bundle, false, &mut |_| {}).expect("the rest is applied");

    let codes: Vec<(Uuid, &str)> = report.quarantined.iter().map(|(id, r)| (*id, r.code.as_str())).collect();
    assert_eq!(
        codes,
        vec![(refused, "rule_violated"), (dependant, "depends_on_refused"), (edit, "depends_on_refused")],
        "{report:?}"
    );
    assert!(o.case_events(other).unwrap().iter().any(|e| e.id == kept), "the other case's edit is applied");
    assert!(!o.case_events(third).unwrap().is_empty(), "the new case is applied");
    assert!(!o.case_events(case).unwrap().iter().any(|e| [refused, dependant, edit].contains(&e.id)));
    assert_eq!(o.facts(case).unwrap().stage, Stage::Identified);
    let held = sync::quarantine::list(&o).unwrap();
    assert_eq!(held.iter().map(|q| q.event_id).collect::<Vec<_>>(), vec![refused, dependant, edit]);
    let a_id = a.vault().device().device_id;
    assert!(held.iter().all(|q| q.device_id == a_id && q.bundle_id == report.bundle_id && q.sender == a_id));
    assert_eq!(held[0].refusal.params["violations"][0]["rule"], "R4", "{:?}", held[0].refusal);
    assert_eq!(held[1].refusal.params["event"], refused.to_string());
    assert!(held[0].refusal.text.contains("consent"), "{}", held[0].refusal.text);
    // Each broken rule is kept with its code, for the interfaces to translate.
    let broken = held[0].refusal.violations();
    assert!(broken.iter().all(|v| !v.code.is_empty() && v.rule == "R4"), "{broken:?}");

    // Re-importing the same bundle changes nothing.
    let before = full_dump(&o);
    assert!(sync::import_bundle(&mut o, &bundle, false, &mut |_| {}).unwrap().replay);
    assert_eq!(full_dump(&o), before);

    // The device's next bundle, before it heard back, carries the held
    // events again: known, not a refusal of the bundle.
    family_name(&mut a, other, "Keita");
    let again = up(&mut a, &mut o);
    assert!(again.quarantined.is_empty(), "{again:?}");
    assert_eq!(sync::quarantine::list(&o).unwrap().len(), 3);

    // The office acknowledges the held events (it holds them) and reports
    // the refusals; the device lists them.
    let back = down(&mut o, &mut a);
    assert_eq!(back.refusals_reported, 3, "{back:?}");
    let mine = sync::quarantine::refused_events(&a).unwrap();
    assert_eq!(mine.iter().map(|n| n.event_id).collect::<Vec<_>>(), vec![refused, dependant, edit]);
    assert_eq!(mine[0].code, "rule_violated");
    assert_eq!(mine[0].case_id, case);
    assert_eq!(mine[1].params.value()["event"], refused.to_string());
    // The device reads the office's broken rules with their codes.
    let reported: Vec<fieldcase::model::lifecycle::RuleViolation> =
        serde_json::from_value(mine[0].params.value()["violations"].clone()).unwrap();
    assert_eq!(
        reported.iter().map(|v| v.code.as_str()).collect::<Vec<_>>(),
        broken.iter().map(|v| v.code.as_str()).collect::<Vec<_>>()
    );
    // The device withdrew them: its case is as the office shows it, and
    // each refused change is kept, as signed, to redo it from.
    assert!(!a.case_events(case).unwrap().iter().any(|e| [refused, dependant, edit].contains(&e.id)));
    assert_eq!(a.facts(case).unwrap().stage, Stage::Identified);
    assert_eq!(sync::quarantine::refused_event(&a, refused).unwrap().map(|e| e.id), Some(refused));
    // Nothing of the device's is pending any more: its next bundle carries
    // only what it makes next, and a change to the same case, no longer
    // made on top of the refused one, is applied.
    let redo = family_name(&mut a, case, "Issoufou Bah");
    let latest = family_name(&mut a, other, "Keita Barry");
    let next = up(&mut a, &mut o);
    assert_eq!(next.summary.received, 2, "{next:?}");
    assert!(next.quarantined.is_empty(), "{next:?}");
    assert!(o.case_events(other).unwrap().iter().any(|e| e.id == latest));
    assert!(o.case_events(case).unwrap().iter().any(|e| e.id == redo));
    assert_eq!(sync::quarantine::list(&o).unwrap().len(), 3);
    // The office's next bundle repeats the refusals: nothing changes.
    let again = down(&mut o, &mut a);
    assert_eq!(again.refusals_reported, 0, "{again:?}");

    // The quarantine survives lock and unlock, on both sides.
    o.lock().unwrap();
    a.lock().unwrap();
    let mut o = reopen(&o_dir);
    let mut a = reopen(&a_dir);
    assert_eq!(sync::quarantine::list(&o).unwrap(), held);
    assert_eq!(sync::quarantine::refused_events(&a).unwrap(), mine);
    // Reopened, the device does not reuse a withdrawn event's sequence (the
    // office holds that event: it would be equivocation).
    let after = family_name(&mut a, other, "Keita");
    assert!(up(&mut a, &mut o).quarantined.is_empty());
    assert!(o.case_events(other).unwrap().iter().any(|e| e.id == after));

    // The same lists through the CLI: the data manager's and the device's.
    o.lock().unwrap();
    a.lock().unwrap();
    let listed: serde_json::Value =
        serde_json::from_str(&cli::ok(cli::run(&o_dir, &["quarantine", "list", "--json"]))).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 3);
    assert_eq!(listed[0]["event_id"], refused.to_string());
    assert_eq!(listed[0]["refusal"]["code"], "rule_violated");
    let text = cli::ok(cli::run(&o_dir, &["quarantine", "list"]));
    assert!(text.contains("3 events in quarantine") && text.contains("[depends_on_refused]"), "{text}");
    let text = cli::ok(cli::run(&a_dir, &["quarantine", "refused"]));
    assert!(text.contains("refused 3 of this device's changes") && text.contains("R4"), "{text}");
    let none = cli::ok(cli::run(&a_dir, &["quarantine", "list"]));
    assert!(none.contains("No event in quarantine"), "{none}");
}

/// A device whose newest event was refused and withdrawn does not sign
/// its next event with that event's sequence after a reopen: the office
/// holds the refused one there and would refuse the bundle (equivocation).
#[test]
fn a_withdrawn_events_sequence_is_not_reused_after_a_reopen() {
    let t = tempfile::tempdir().unwrap();
    let a_dir = t.path().join("a");
    let mut o = office(&t.path().join("o"));
    let mut a = device(&a_dir, "amina", "caseworker");
    let mut s = device(&t.path().join("s"), "sara", "supervisor");
    enroll(&mut o, &mut a);
    enroll(&mut o, &mut s);
    let case = a.create_case("uasc", "Agadez").unwrap();
    let reg = json!({"given_names": "Amina", "family_name": "Issoufou", "sex": "female", "age_years": 15,
                     "legitimate_basis": "vital_interests"});
    a.save_form(case, "registration_bia", None, values(reg)).unwrap();
    up(&mut a, &mut o);
    down(&mut o, &mut s);
    s.save_form(case, "registration_bia", None, values(json!({"legitimate_basis": "consent"}))).unwrap();
    up(&mut s, &mut o);
    std::thread::sleep(std::time::Duration::from_millis(5));
    a.change_stage(case, Stage::Registered, "registration complete").unwrap();
    let refused = a.case_events(case).unwrap().into_iter().max_by_key(|e| e.device_seq).unwrap();
    assert_eq!(up(&mut a, &mut o).quarantined.len(), 1);
    assert_eq!(down(&mut o, &mut a).refusals_reported, 1);
    a.lock().unwrap();
    let mut a = reopen(&a_dir);
    let next = family_name(&mut a, case, "Issoufou Bah");
    let report = up(&mut a, &mut o);
    assert!(report.quarantined.is_empty(), "{report:?}");
    let e = o.case_events(case).unwrap().into_iter().find(|e| e.id == next).expect("applied at the office");
    assert_eq!(e.device_seq, refused.device_seq + 1);
}

/// Erasing a case takes its held and refused changes with it (they hold
/// its values), on the office and on the device; the held ones stay
/// counted as received, so the device's sync goes on.
#[test]
fn erasing_a_case_removes_its_held_and_refused_changes() {
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("o"));
    let mut a = device(&t.path().join("a"), "amina", "caseworker");
    let mut s = device(&t.path().join("s"), "sara", "supervisor");
    enroll(&mut o, &mut a);
    enroll(&mut o, &mut s);
    let case = a.create_case("uasc", "Agadez").unwrap();
    let reg = json!({"given_names": "Amina", "family_name": "Issoufou", "sex": "female", "age_years": 15,
                     "legitimate_basis": "vital_interests"});
    a.save_form(case, "registration_bia", None, values(reg)).unwrap();
    up(&mut a, &mut o);
    down(&mut o, &mut s);
    s.save_form(case, "registration_bia", None, values(json!({"legitimate_basis": "consent"}))).unwrap();
    up(&mut s, &mut o);
    std::thread::sleep(std::time::Duration::from_millis(5));
    a.change_stage(case, Stage::Registered, "registration complete").unwrap();
    assert_eq!(up(&mut a, &mut o).quarantined.len(), 1);
    assert_eq!(down(&mut o, &mut a).refusals_reported, 1);

    s.request_erasure(case, "opened_in_error").unwrap();
    up(&mut s, &mut o);
    o.approve_erasure(case).unwrap();
    assert!(sync::quarantine::list(&o).unwrap().is_empty(), "the held change went with the case");
    down(&mut o, &mut a);
    assert!(sync::quarantine::refused_events(&a).unwrap().is_empty(), "the refused change went with the case");
    // The device syncs on: nothing of it is pending or resent.
    let other = child(&mut a, "Mariama", "Sow");
    let r = up(&mut a, &mut o);
    assert!(r.quarantined.is_empty(), "{r:?}");
    assert!(!o.case_events(other).unwrap().is_empty());
    assert_eq!(r.summary.received, 2, "only the new case travels: {r:?}");
}

/// A device quarantines an office bundle's event its own rules refuse, the
/// same way: the supervisor changed the legitimate basis to consent on her
/// device (not yet sent) before the caseworker registered the child on the
/// basis the office had; the office applied the registration, the
/// supervisor's device holds it, applies the rest and syncs on.
#[test]
fn a_device_holds_an_office_event_its_own_rules_refuse() {
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("o"));
    let mut a = device(&t.path().join("a"), "amina", "caseworker");
    let mut s = device(&t.path().join("s"), "sara", "supervisor");
    enroll(&mut o, &mut a);
    enroll(&mut o, &mut s);
    let case = a.create_case("uasc", "Agadez").unwrap();
    let reg = json!({"given_names": "Amina", "family_name": "Issoufou", "sex": "female", "age_years": 15,
                     "legitimate_basis": "vital_interests"});
    a.save_form(case, "registration_bia", None, values(reg)).unwrap();
    up(&mut a, &mut o);
    down(&mut o, &mut s);
    s.save_form(case, "registration_bia", None, values(json!({"legitimate_basis": "consent"}))).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    a.change_stage(case, Stage::Registered, "registration complete").unwrap();
    let registered = newest(&a, case);
    let other = child(&mut a, "Mariama", "Sow");
    assert!(up(&mut a, &mut o).quarantined.is_empty(), "the office had no reason to refuse it");

    let report = down(&mut o, &mut s);
    let codes: Vec<(Uuid, &str)> = report.quarantined.iter().map(|(id, r)| (*id, r.code.as_str())).collect();
    assert_eq!(codes, vec![(registered, "rule_violated")], "{report:?}");
    assert!(!s.case_events(other).unwrap().is_empty(), "the rest of the bundle is applied");
    let held = sync::quarantine::list(&s).unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!((held[0].event_id, held[0].device_id), (registered, a.vault().device().device_id));
    assert_eq!(held[0].sender, o.vault().device().device_id);
    // The supervisor's device syncs on both ways; the office reports
    // nothing to the caseworker (only the office's own refusals travel).
    assert!(up(&mut s, &mut o).quarantined.is_empty());
    let again = down(&mut o, &mut s);
    assert!(again.quarantined.is_empty(), "held once, known after: {again:?}");
    assert_eq!(down(&mut o, &mut a).refusals_reported, 0);
}

/// Set the legitimate basis to consent (sent at once), then record the
/// consent offline; meanwhile the caseworker registers the child on the
/// basis she saw. Her stage change reaches the office first and is held
/// (R4: consent basis, no consent); when the consent arrives, made before
/// her change, the office applies the held change by itself, and sends it
/// back to her device, which had withdrawn it when told of the refusal.
#[test]
fn a_held_event_is_applied_when_the_change_it_needed_arrives() {
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("o"));
    let mut a = device(&t.path().join("a"), "amina", "caseworker");
    let mut s = device(&t.path().join("s"), "sara", "supervisor");
    enroll(&mut o, &mut a);
    enroll(&mut o, &mut s);
    let case = a.create_case("uasc", "Agadez").unwrap();
    let reg = json!({"given_names": "Amina", "family_name": "Issoufou", "sex": "female", "age_years": 15,
                     "legitimate_basis": "vital_interests"});
    a.save_form(case, "registration_bia", None, values(reg)).unwrap();
    up(&mut a, &mut o);
    down(&mut o, &mut s);
    s.save_form(case, "registration_bia", None, values(json!({"legitimate_basis": "consent"}))).unwrap();
    up(&mut s, &mut o);
    std::thread::sleep(std::time::Duration::from_millis(5));
    let consent = json!({"consent": {"by": "child", "method": "signature", "date": "2026-05-20"}});
    s.save_form(case, "registration_bia", None, values(consent)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5));
    a.change_stage(case, Stage::Registered, "registration complete").unwrap();
    let registered = newest(&a, case);
    let held = up(&mut a, &mut o);
    assert_eq!(held.quarantined.len(), 1, "{held:?}");
    assert_eq!(held.quarantined[0].0, registered);
    // The office tells her; her device withdraws the change.
    assert_eq!(down(&mut o, &mut a).refusals_reported, 1);
    assert_eq!(a.facts(case).unwrap().stage, Stage::Identified);
    assert_eq!(sync::quarantine::refused_events(&a).unwrap().len(), 1);

    // The consent arrives: the held change is accepted and applied.
    let report = up(&mut s, &mut o);
    assert_eq!(report.released, 1, "{report:?}");
    assert!(report.release_failed.is_none());
    assert!(sync::quarantine::list(&o).unwrap().is_empty());
    assert!(o.case_events(case).unwrap().iter().any(|e| e.id == registered));
    assert_eq!(o.facts(case).unwrap().stage, Stage::Registered);
    // Her device gets it back and no longer lists it as refused.
    let back = down(&mut o, &mut a);
    assert_eq!(back.refusals_reported, 0, "{back:?}");
    assert!(a.case_events(case).unwrap().iter().any(|e| e.id == registered));
    assert_eq!(a.facts(case).unwrap().stage, Stage::Registered);
    assert!(sync::quarantine::refused_events(&a).unwrap().is_empty());
    // And both sync on.
    let next = family_name(&mut a, case, "Issoufou Bah");
    assert!(up(&mut a, &mut o).quarantined.is_empty());
    assert!(o.case_events(case).unwrap().iter().any(|e| e.id == next));
}

/// A supervisor's assignment outside her team is held; the data manager's
/// retry keeps it held and says why, until the caseworker it concerns is
/// put in her team; then the retry applies it. Only a data manager may.
#[test]
fn the_data_manager_retries_a_held_event() {
    let t = tempfile::tempdir().unwrap();
    let o_dir = t.path().join("o");
    let mut o = office(&o_dir);
    let mut b = device(&t.path().join("b"), "bakary", "caseworker");
    let mut s = device(&t.path().join("s"), "sara", "supervisor");
    enroll(&mut o, &mut b);
    enroll(&mut o, &mut s);
    let case = child(&mut b, "Ousmane", "Keita");
    up(&mut b, &mut o);
    down(&mut o, &mut s);
    sync::teams::set_team(&mut o, "sara", Some("north")).unwrap();
    s.assign(case, "bakary").unwrap();
    let assigned = newest(&s, case);
    let report = up(&mut s, &mut o);
    assert_eq!(report.quarantined.len(), 1, "{report:?}");

    // Not a data manager: refused, nothing changes.
    let e = sync::quarantine::retry(&mut s, assigned).unwrap_err();
    assert!(matches!(e, sync::quarantine::QuarantineError::NotDataManager { .. }), "{e:?}");
    let e = sync::quarantine::discard(&mut s, assigned, "no").unwrap_err();
    assert!(matches!(e, sync::quarantine::QuarantineError::NotDataManager { .. }), "{e:?}");
    let unknown = Uuid::now_v7();
    let e = sync::quarantine::retry(&mut o, unknown).unwrap_err();
    assert!(matches!(e, sync::quarantine::QuarantineError::NotHeld(id) if id == unknown), "{e:?}");

    let before = full_dump(&o);
    match sync::quarantine::retry(&mut o, assigned).unwrap() {
        sync::quarantine::Retried::Held { refusal } => {
            assert_eq!(refusal.code, "hidden");
            assert_eq!(refusal.params["reason"], "not_in_team");
        }
        other => panic!("applied outside her team: {other:?}"),
    }
    assert_eq!(full_dump(&o), before, "a refused retry changes nothing");
    assert_eq!(o.case_access(case).unwrap().unwrap().caseworker, None);

    // Bakary joins her team: the retry, through the CLI, applies it.
    sync::teams::set_team(&mut o, "bakary", Some("north")).unwrap();
    o.lock().unwrap();
    let text = cli::ok(cli::run(&o_dir, &["quarantine", "retry", &assigned.to_string()]));
    assert!(text.contains("Applied event"), "{text}");
    let o = reopen(&o_dir);
    assert!(sync::quarantine::list(&o).unwrap().is_empty());
    assert_eq!(o.case_access(case).unwrap().unwrap().caseworker.as_deref(), Some("bakary"));
    assert!(o.case_events(case).unwrap().iter().any(|e| e.id == assigned));
}

/// The data manager discards a held event with a reason: it leaves the
/// quarantine, an audit record keeps who, when and why (not its values),
/// it is still counted as received (the device does not send it again,
/// and the same event arriving again is known), and the device is told.
#[test]
fn the_data_manager_discards_a_held_event_with_an_audit_record() {
    let t = tempfile::tempdir().unwrap();
    let o_dir = t.path().join("o");
    let mut o = office(&o_dir);
    let mut a = device(&t.path().join("a"), "amina", "caseworker");
    let mut s = device(&t.path().join("s"), "sara", "supervisor");
    enroll(&mut o, &mut a);
    enroll(&mut o, &mut s);
    let case = a.create_case("uasc", "Agadez").unwrap();
    let reg = json!({"given_names": "Amina", "family_name": "Issoufou", "sex": "female", "age_years": 15,
                     "legitimate_basis": "vital_interests"});
    a.save_form(case, "registration_bia", None, values(reg)).unwrap();
    up(&mut a, &mut o);
    down(&mut o, &mut s);
    s.save_form(case, "registration_bia", None, values(json!({"legitimate_basis": "consent"}))).unwrap();
    up(&mut s, &mut o);
    std::thread::sleep(std::time::Duration::from_millis(5));
    a.change_stage(case, Stage::Registered, "registration complete").unwrap();
    let refused = newest(&a, case);
    // Exported twice before hearing back: the second bundle carries it again.
    let first = sync::export_for_office(&mut a, &mut |_| {}).unwrap();
    assert_eq!(sync::import_bundle(&mut o, &first, false, &mut |_| {}).unwrap().quarantined.len(), 1);

    let e = sync::quarantine::discard(&mut o, refused, "   ").unwrap_err();
    assert!(matches!(e, sync::quarantine::QuarantineError::Reason), "{e:?}");
    let d = sync::quarantine::discard(&mut o, refused, "made on the old basis; redo after consent").unwrap();
    assert_eq!(d.discarded_by, "Office");
    assert_eq!(d.held.event_id, refused);
    assert!(sync::quarantine::list(&o).unwrap().is_empty());
    assert_eq!(sync::quarantine::discarded(&o).unwrap(), vec![d.clone()]);
    assert!(!o.case_events(case).unwrap().iter().any(|e| e.id == refused));
    let e = sync::quarantine::discard(&mut o, refused, "again").unwrap_err();
    assert!(matches!(e, sync::quarantine::QuarantineError::NotHeld(_)), "{e:?}");

    // The same event arriving again is known: not held again, not applied.
    let again = up(&mut a, &mut o);
    assert!(again.quarantined.is_empty(), "{again:?}");
    assert!(sync::quarantine::list(&o).unwrap().is_empty());
    assert!(!o.case_events(case).unwrap().iter().any(|e| e.id == refused));
    // The device is told (the refusal stays refused) and withdraws it; its
    // next bundle no longer carries it.
    assert_eq!(down(&mut o, &mut a).refusals_reported, 1);
    assert_eq!(a.facts(case).unwrap().stage, Stage::Identified);
    let redo = family_name(&mut a, case, "Issoufou Bah");
    let next = up(&mut a, &mut o);
    assert_eq!(next.summary.received, 1, "{next:?}");
    assert!(o.case_events(case).unwrap().iter().any(|e| e.id == redo));

    // The audit record through the CLI, and it survives a reopen.
    o.lock().unwrap();
    let listed: serde_json::Value =
        serde_json::from_str(&cli::ok(cli::run(&o_dir, &["quarantine", "discarded", "--json"]))).unwrap();
    assert_eq!(listed[0]["event_id"], refused.to_string());
    assert_eq!(listed[0]["reason"], "made on the old basis; redo after consent");
    assert_eq!(listed[0]["refusal"]["code"], "rule_violated");
    let out = cli::run(&o_dir, &["quarantine", "discard", &Uuid::now_v7().to_string(), "--reason", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not held in quarantine"));
}
