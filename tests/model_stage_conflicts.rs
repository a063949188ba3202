//! Concurrent stage changes and who settles conflicts, on real
//! (low-work-factor) vaults: two devices move a case's stage offline and
//! exchange their events; the stage is then a conflict on both, identical,
//! until a person with the right role chooses. Every rule is checked when
//! the event is created and again when it is imported.

use std::path::Path;

use fieldcase::model::error::StoreError;
use fieldcase::model::event::{Event, EventKind, Hlc, Role};
use fieldcase::model::lifecycle::Stage;
use fieldcase::model::projection;
use fieldcase::model::store::CaseStore;
use fieldcase::vault::{InitOptions, SecretString, VaultOptions};
use serde_json::{json, Map, Value};
use tempfile::TempDir;
use uuid::Uuid;

const T0: u64 = 1_780_000_000_000; // 2026-05-28

fn store(dir: &Path, name: &str) -> CaseStore {
    let options = VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() };
    let opts = InitOptions { name: name.into(), role: "caseworker".into(), escrow: None };
    let pass = SecretString::from("correct horse battery staple".to_string());
    let mut s = CaseStore::init_with(dir, &pass, opts, &options).expect("init vault");
    s.set_clock(Some(T0));
    s
}

fn values(v: Value) -> Map<String, Value> {
    v.as_object().expect("an object").clone()
}

fn sync(from: &CaseStore, to: &mut CaseStore) {
    to.import_events(from.all_events().unwrap()).expect("sync import");
}

fn dump(s: &CaseStore) -> String {
    projection::dump(s.vault().conn()).unwrap()
}

fn rules_of(e: &StoreError) -> Vec<String> {
    match e {
        StoreError::RuleViolated { violations } => violations.iter().map(|v| v.rule.clone()).collect(),
        _ => Vec::new(),
    }
}

/// Devices A and B with one case both know, ready to leave `identified`.
fn two_devices(tmp: &TempDir) -> (CaseStore, CaseStore, Uuid) {
    let mut a = store(&tmp.path().join("a"), "amina");
    // B is Amina's second device: a caseworker sees and changes only the
    // cases assigned to her (docs/visibility.md).
    let mut b = store(&tmp.path().join("b"), "amina");
    let (ad, ak) = (a.vault().device().device_id, a.vault().first_person_verifying_key());
    let (bd, bk) = (b.vault().device().device_id, b.vault().first_person_verifying_key());
    a.trust_device(bd, &bk, "b").unwrap();
    b.trust_device(ad, &ak, "a").unwrap();
    let case = a.create_case("uasc", "Agadez").unwrap();
    let reg = json!({"given_names": "Amina", "family_name": "Issoufou", "sex": "female", "age_years": 15,
                     "legitimate_basis": "vital_interests", "risk_level": "medium"});
    a.save_form(case, "registration_bia", None, values(reg)).unwrap();
    a.add_note(case, values(json!({"text": "tried to call the child twice"}))).unwrap();
    sync(&a, &mut b);
    (a, b, case)
}

/// A registers the child while B, offline, suspends the case: both moves
/// are allowed from `identified`; after the exchange neither is applied.
fn forked(tmp: &TempDir) -> (CaseStore, CaseStore, Uuid) {
    let (mut a, mut b, case) = two_devices(tmp);
    a.set_clock(Some(T0 + 1_000));
    a.change_stage(case, Stage::Registered, "registration complete").unwrap();
    b.set_clock(Some(T0 + 2_000));
    b.change_stage(case, Stage::SuspendedLostContact, "child unreachable").unwrap();
    sync(&a, &mut b);
    sync(&b, &mut a);
    (a, b, case)
}

/// A signed copy of a local event with other contents, as a hostile or
/// badly configured device could send it.
fn forged(by: &CaseStore, kind: EventKind, role: Role, form: Option<&str>, payload: Value, base: Vec<Uuid>) -> Event {
    let mut e = by.all_events().unwrap().last().unwrap().clone();
    e.id = Uuid::now_v7();
    e.device_id = by.vault().device().device_id;
    e.device_seq = 1_000;
    e.hlc = Hlc { millis: T0 + 99_000, counter: 0 };
    e.kind = kind;
    e.role = role;
    e.form = form.map(str::to_string);
    e.payload = payload;
    e.base = base;
    e.sign(by.signer_key());
    e
}

#[test]
fn concurrent_stage_changes_are_a_stage_conflict_on_both_devices() {
    let tmp = TempDir::new().unwrap();
    let (a, b, case) = forked(&tmp);
    assert_eq!(dump(&a), dump(&b), "both devices show the same case");
    let s = &a.list_cases().unwrap().cases[0];
    assert!(s.needs_review, "the case list's review column flags it");
    assert_eq!(s.conflicts, 1);
    assert_eq!(s.stage, "identified", "neither concurrent change is applied");
    let detail = a.case_detail(case).unwrap();
    let steps: Vec<(Option<&str>, &str)> =
        detail.stage_history.iter().map(|h| (h.from.as_deref(), h.to.as_str())).collect();
    assert_eq!(steps, vec![(None, "identified")], "no transition between the two devices' stages");

    let conflict = a.stage_conflict(case).unwrap().expect("a stage conflict");
    assert_eq!(conflict.stage, "identified");
    assert_eq!(conflict.resolvers, vec![Role::Supervisor]);
    let heads: Vec<(&str, &str, Uuid)> =
        conflict.heads.iter().map(|h| (h.from.as_deref().unwrap(), h.to.as_str(), h.device_id)).collect();
    let (ad, bd) = (a.vault().device().device_id, b.vault().device().device_id);
    assert_eq!(heads, vec![("identified", "registered", ad), ("identified", "suspended_lost_contact", bd)]);
    assert_eq!(b.stage_conflict(case).unwrap(), Some(conflict));
    // The stage cannot move on until someone chooses.
    let facts = a.facts(case).unwrap();
    assert_eq!((facts.stage, facts.stage_conflict.len()), (Stage::Identified, 2));
}

#[test]
fn a_stage_change_while_in_conflict_is_refused_on_creation_and_import() {
    let tmp = TempDir::new().unwrap();
    let (mut a, mut b, case) = forked(&tmp);
    a.set_actor("sara", Role::Supervisor).expect("set_actor");
    let err = a.change_stage(case, Stage::Registered, "again").unwrap_err();
    assert_eq!(rules_of(&err), vec!["stage_conflict"], "{err}");
    // The same move made on top of both heads, signed by A, imported by B.
    let heads = a.case_state(case).unwrap().stage_heads();
    let e =
        forged(&a, EventKind::StatusChanged, Role::Supervisor, None, json!({"to": "registered", "reason": "x"}), heads);
    let before = dump(&b);
    let err = b.import_events(vec![e]).unwrap_err();
    assert_eq!(rules_of(&err), vec!["stage_conflict"], "{err}");
    assert_eq!(dump(&b), before);
}

#[test]
fn a_supervisor_settles_the_stage_and_both_devices_agree() {
    let tmp = TempDir::new().unwrap();
    let (mut a, mut b, case) = forked(&tmp);
    let conflict = a.stage_conflict(case).unwrap().unwrap();
    let suspended = conflict.heads.iter().find(|h| h.to == "suspended_lost_contact").unwrap().event;

    // Not a caseworker, not a data manager: refused before anything is signed
    // (a caseworker the case is not assigned to, and the panel before the
    // case is submitted to it, do not even see it).
    for role in [Role::Caseworker, Role::DataManager, Role::BidPanel] {
        a.set_actor("someone", role).expect("set_actor");
        let err = a.resolve_stage_conflict(case, suspended, "").unwrap_err();
        assert!(matches!(err, StoreError::Forbidden { .. } | StoreError::Hidden { .. }), "{role}: {err}");
    }
    a.set_actor("dina", Role::DataManager).expect("set_actor");
    let err = a.resolve_stage_conflict(case, suspended, "").unwrap_err();
    assert!(matches!(err, StoreError::Forbidden { .. }), "the data manager sees the case but may not choose: {err}");
    a.set_actor("sara", Role::Supervisor).expect("set_actor");
    // Only a head of the conflict can be chosen.
    let err = a.resolve_stage_conflict(case, Uuid::nil(), "").unwrap_err();
    assert!(matches!(err, StoreError::NotAHead { .. }), "{err}");
    a.resolve_stage_conflict(case, suspended, "no contact since the move").unwrap();
    assert_eq!(a.stage_conflict(case).unwrap(), None);
    let s = &a.list_cases().unwrap().cases[0];
    assert_eq!(
        (s.stage.as_str(), s.stage_before.as_deref(), s.needs_review, s.conflicts),
        ("suspended_lost_contact", Some("identified"), false, 0)
    );
    let steps: Vec<(Option<String>, String)> =
        a.case_detail(case).unwrap().stage_history.into_iter().map(|h| (h.from, h.to)).collect();
    assert_eq!(
        steps,
        vec![(None, "identified".into()), (Some("identified".into()), "suspended_lost_contact".into())],
        "the kept change applies; the other stays only in the event history"
    );
    assert!(a.history(case).unwrap().entries.iter().any(|h| h.summary == "resolved conflict on case.stage"));
    sync(&a, &mut b);
    assert_eq!(dump(&a), dump(&b));
    // Settled: nothing left to choose, and the stage moves again.
    assert!(matches!(a.resolve_stage_conflict(case, suspended, "").unwrap_err(), StoreError::NoConflict { .. }));
    a.change_stage(case, Stage::Identified, "child found").unwrap();
}

#[test]
fn a_stage_resolution_by_the_wrong_role_is_refused_on_import() {
    let tmp = TempDir::new().unwrap();
    let (a, mut b, case) = forked(&tmp);
    let conflict = a.stage_conflict(case).unwrap().unwrap();
    let heads: Vec<Uuid> = conflict.heads.iter().map(|h| h.event).collect();
    let kept = &conflict.heads[0];
    let payload = json!({"form": "case", "field": "stage", "value": kept.to, "chosen": kept.event});
    let before = dump(&b);
    for role in [Role::Caseworker, Role::DataManager, Role::BidPanel] {
        let e = forged(&a, EventKind::ConflictResolved, role, None, payload.clone(), heads.clone());
        let err = b.import_events(vec![e]).unwrap_err();
        assert!(matches!(err, StoreError::Forbidden { .. }), "{role}: {err}");
        assert_eq!(dump(&b), before);
    }
    // A supervisor's resolution must keep a head it names, with its stage.
    let mut bad = payload.clone();
    bad["value"] = json!("closed");
    let e = forged(&a, EventKind::ConflictResolved, Role::Supervisor, None, bad, heads.clone());
    assert_eq!(rules_of(&b.import_events(vec![e]).unwrap_err()), vec!["stage_conflict"]);
    let e = forged(&a, EventKind::ConflictResolved, Role::Supervisor, None, payload.clone(), vec![heads[1]]);
    assert_eq!(rules_of(&b.import_events(vec![e]).unwrap_err()), vec!["stage_conflict"], "saw no conflict");
    assert_eq!(dump(&b), before);
    let e = forged(&a, EventKind::ConflictResolved, Role::Supervisor, None, payload, heads);
    b.import_events(vec![e]).expect("a supervisor's resolution imports");
    assert_eq!(b.list_cases().unwrap().cases[0].stage, kept.to);
}

/// Two devices set different risk levels (a protected field).
fn protected_conflict(tmp: &TempDir) -> (CaseStore, CaseStore, Uuid) {
    let (mut a, mut b, case) = two_devices(tmp);
    a.save_form(case, "registration_bia", None, values(json!({"risk_level": "high"}))).unwrap();
    b.set_clock(Some(T0 + 5_000));
    b.save_form(case, "registration_bia", None, values(json!({"risk_level": "low"}))).unwrap();
    sync(&a, &mut b);
    sync(&b, &mut a);
    (a, b, case)
}

#[test]
fn a_data_manager_routes_protected_conflicts_but_cannot_pick_the_value() {
    let tmp = TempDir::new().unwrap();
    let (mut a, mut b, case) = protected_conflict(&tmp);
    let heads = a.heads(case, "registration_bia", None, "risk_level").unwrap();
    a.set_actor("dina", Role::DataManager).expect("set_actor");
    let queue = a.conflict_queue().unwrap();
    let risk = queue.iter().find(|q| q.field == "risk_level").expect("queued");
    assert!(risk.protected && risk.shown.is_none());
    assert_eq!((risk.resolvers.clone(), risk.actor_may_resolve), (vec![Role::Supervisor], false));
    let err = a.resolve_conflict_head(case, "registration_bia", None, "risk_level", heads[0]).unwrap_err();
    assert!(matches!(err, StoreError::Forbidden { role: Role::DataManager, .. }), "{err}");
    // And on import.
    let payload = json!({"form": "registration_bia", "field": "risk_level", "value": "high", "chosen": heads[0]});
    let e =
        forged(&a, EventKind::ConflictResolved, Role::DataManager, Some("registration_bia"), payload, heads.clone());
    let before = dump(&b);
    assert!(matches!(b.import_events(vec![e]).unwrap_err(), StoreError::Forbidden { role: Role::DataManager, .. }));
    assert_eq!(dump(&b), before);
}

#[test]
fn a_protected_conflict_is_settled_only_by_choosing_a_current_head() {
    let tmp = TempDir::new().unwrap();
    let (mut a, mut b, case) = protected_conflict(&tmp);
    let heads = a.heads(case, "registration_bia", None, "risk_level").unwrap();
    a.set_actor("sara", Role::Supervisor).expect("set_actor");
    // Created locally: a value that is no head's, or an event that is no head.
    let err = a.resolve_conflict(case, "registration_bia", None, "risk_level", json!("medium")).unwrap_err();
    assert_eq!(rules_of(&err), vec!["conflict"], "{err}");
    let err = a.resolve_conflict_head(case, "registration_bia", None, "risk_level", Uuid::nil()).unwrap_err();
    assert!(matches!(err, StoreError::NotAHead { .. }), "{err}");
    // Imported: no chosen head, a chosen head not among those resolved, a
    // value other than the chosen head's.
    let before = dump(&b);
    let cases = [
        (json!({"value": "high"}), "conflict"),
        (json!({"value": "high", "chosen": Uuid::nil()}), "not a head"),
        (json!({"value": "medium", "chosen": heads[0]}), "conflict"),
    ];
    for (extra, want) in cases {
        let mut payload = json!({"form": "registration_bia", "field": "risk_level"});
        payload.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let e =
            forged(&a, EventKind::ConflictResolved, Role::Supervisor, Some("registration_bia"), payload, heads.clone());
        let err = b.import_events(vec![e]).unwrap_err();
        let got = if matches!(err, StoreError::NotAHead { .. }) {
            "not a head".to_string()
        } else {
            rules_of(&err).join(",")
        };
        assert_eq!(got, want, "{err}");
        assert_eq!(dump(&b), before);
    }
    // Choosing a head settles it everywhere.
    let high = heads.iter().copied().find(|h| {
        a.case_detail(case)
            .unwrap()
            .fields
            .iter()
            .any(|f| f.field == "risk_level" && f.heads.iter().any(|x| x.event == *h && x.value == json!("high")))
    });
    a.resolve_conflict_head(case, "registration_bia", None, "risk_level", high.unwrap()).unwrap();
    sync(&a, &mut b);
    assert_eq!(dump(&a), dump(&b));
    let s = &b.list_cases().unwrap().cases[0];
    assert_eq!((s.risk_level.as_deref(), s.needs_review), (Some("high"), false));
}

#[test]
fn the_conflict_queue_lists_stage_conflicts_first_with_who_settles_them() {
    let tmp = TempDir::new().unwrap();
    let (mut a, b, case) = forked(&tmp);
    a.save_form(case, "registration_bia", None, values(json!({"given_names": "Aminatou"}))).unwrap();
    let mut b = b;
    b.save_form(case, "registration_bia", None, values(json!({"given_names": "Aminata"}))).unwrap();
    sync(&b, &mut a);
    a.set_actor("dina", Role::DataManager).expect("set_actor");
    let queue = a.conflict_queue().unwrap();
    let rows: Vec<(&str, &str, bool, Vec<Role>, bool)> = queue
        .iter()
        .map(|q| (q.form.as_str(), q.field.as_str(), q.protected, q.resolvers.clone(), q.actor_may_resolve))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("case", "stage", true, vec![Role::Supervisor], false),
            ("registration_bia", "given_names", false, vec![Role::Supervisor, Role::DataManager], true),
        ]
    );
    let mut stages: Vec<&Value> = queue[0].heads.iter().map(|h| &h.value).collect();
    stages.sort_by_key(|v| v.to_string());
    assert_eq!(stages, [&json!("registered"), &json!("suspended_lost_contact")]);
    // The import preview names the stage conflict too.
    let mut c = store(&tmp.path().join("c"), "chaibou");
    for s in [&a, &b] {
        c.trust_device(s.vault().device().device_id, &s.vault().first_person_verifying_key(), "x").unwrap();
    }
    let preview = c.prepare_import(a.all_events().unwrap(), &Default::default()).unwrap().preview;
    assert!(preview.conflicts.iter().any(|p| p.form == "case" && p.field == "stage" && p.protected && p.heads == 2));
}
