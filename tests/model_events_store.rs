//! The case store end to end on real (low-work-factor) vaults: register
//! semantics across devices, forged and altered events, idempotent import,
//! the audit chain, form validation errors, roles, batches and the HLC.

use std::path::Path;

use fieldcase::model::error::StoreError;
use fieldcase::model::event::{Event, EventKind, Hlc, Role, SignatureError};
use fieldcase::model::lifecycle::Stage;
use fieldcase::model::projection::{self, FieldStatus};
use fieldcase::model::store::{may_resolve_protected, CaseStore, FieldView};
use fieldcase::vault::{InitOptions, SecretString, VaultOptions};
use serde_json::{json, Map, Value};
use tempfile::TempDir;
use uuid::Uuid;

const T0: u64 = 1_780_000_000_000; // 2026-05-28

fn options() -> VaultOptions {
    VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() }
}

fn pass() -> SecretString {
    SecretString::from("correct horse battery staple".to_string())
}

fn new_store(dir: &Path, name: &str, role: &str) -> CaseStore {
    let opts = InitOptions { name: name.into(), role: role.into(), escrow: None };
    let mut s = CaseStore::init_with(dir, &pass(), opts, &options()).expect("init vault");
    s.set_clock(Some(T0));
    s
}

fn values(v: Value) -> Map<String, Value> {
    v.as_object().expect("test values are an object").clone()
}

/// Two devices that trust each other.
fn pair(tmp: &TempDir) -> (CaseStore, CaseStore) {
    let mut a = new_store(&tmp.path().join("a"), "amina", "caseworker");
    // amina's second device: a caseworker sees only her own cases
    // (docs/visibility.md), and these tests are about two devices.
    let mut b = new_store(&tmp.path().join("b"), "amina", "caseworker");
    let (ad, ak) = (a.vault().device().device_id, a.vault().first_person_verifying_key());
    let (bd, bk) = (b.vault().device().device_id, b.vault().first_person_verifying_key());
    a.trust_device(bd, &bk, "b").unwrap();
    b.trust_device(ad, &ak, "a").unwrap();
    (a, b)
}

fn sync(from: &CaseStore, to: &mut CaseStore) {
    to.import_events(from.all_events().unwrap()).expect("sync import");
}

fn dump(s: &CaseStore) -> String {
    projection::dump(s.vault().conn()).unwrap()
}

fn field<'a>(fields: &'a [FieldView], form: &str, name: &str) -> &'a FieldView {
    fields.iter().find(|f| f.form == form && f.field == name && f.item.is_none()).expect("field present")
}

fn registered_case(s: &mut CaseStore) -> Uuid {
    let case = s.create_case("uasc", "Agadez").unwrap();
    s.save_form(
        case,
        "registration_bia",
        None,
        values(json!({"given_names": "Amina", "family_name": "Issoufou", "sex": "female", "age_years": 15})),
    )
    .unwrap();
    case
}

#[test]
fn saved_values_read_back_and_survive_reopen() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("v");
    let mut s = new_store(&dir, "amina", "caseworker");
    let case = registered_case(&mut s);
    let list = s.list_cases().unwrap().cases;
    assert_eq!(list.len(), 1);
    let c = &list[0];
    assert_eq!(c.case_number, "AGA-2026-00001");
    assert_eq!((c.given_names.as_deref(), c.sex.as_deref(), c.age_years), (Some("Amina"), Some("female"), Some(15.0)));
    assert_eq!(c.stage, "identified");
    assert!(!c.needs_review);
    let detail = s.case_detail(case).unwrap();
    let f = field(&detail.fields, "registration_bia", "family_name");
    assert_eq!((f.value.clone(), f.status, f.heads.len()), (Some(json!("Issoufou")), FieldStatus::Ok, 1));
    assert_eq!(s.find_case("AGA-2026-00001").unwrap(), case);
    assert_eq!(s.find_case(&case.to_string()).unwrap(), case);
    assert!(matches!(s.find_case("AGA-2026-99999"), Err(StoreError::NotFound { .. })));

    let before = dump(&s);
    let last = s.all_events().unwrap().last().unwrap().clone();
    s.lock().unwrap();
    let mut s = CaseStore::open_with(&dir, &pass(), &options()).unwrap();
    assert_eq!(dump(&s), before, "journal replay rebuilds the same projection");
    // The clock reads earlier than the stored events: the HLC still moves on,
    // and the device sequence continues.
    s.set_clock(Some(T0 - 60_000));
    s.assign(case, "amina").unwrap();
    let newest = s.all_events().unwrap().last().unwrap().clone();
    assert!(newest.hlc > last.hlc);
    assert_eq!(newest.device_seq, last.device_seq + 1);
    assert_eq!(s.list_cases().unwrap().cases[0].caseworker.as_deref(), Some("amina"));
}

#[test]
fn concurrent_normal_edits_merge_automatically_newest_wins() {
    let tmp = TempDir::new().unwrap();
    let (mut a, mut b) = pair(&tmp);
    let case = registered_case(&mut a);
    sync(&a, &mut b);
    a.set_clock(Some(T0 + 1_000));
    a.save_form(case, "registration_bia", None, values(json!({"given_names": "Aminatou"}))).unwrap();
    b.set_clock(Some(T0 + 2_000));
    b.save_form(case, "registration_bia", None, values(json!({"given_names": "Aminata"}))).unwrap();
    sync(&b, &mut a);
    sync(&a, &mut b);
    assert_eq!(dump(&a), dump(&b), "both devices converge");
    let f = field(&a.case_detail(case).unwrap().fields, "registration_bia", "given_names").clone();
    assert_eq!(f.status, FieldStatus::MergedAutomatically);
    assert_eq!(f.value, Some(json!("Aminata")), "newest by HLC is shown");
    assert_eq!(f.heads.len(), 2, "the other value stays one click away");
    let summary = &a.list_cases().unwrap().cases[0];
    assert_eq!((summary.needs_review, summary.conflicts), (false, 1));
    // An edit made on top of both heads ends the conflict.
    a.save_form(case, "registration_bia", None, values(json!({"given_names": "Aminata"}))).unwrap();
    let f = field(&a.case_detail(case).unwrap().fields, "registration_bia", "given_names").clone();
    assert_eq!((f.status, f.heads.len()), (FieldStatus::Ok, 1));
}

#[test]
fn protected_conflict_needs_review_until_an_allowed_role_resolves_it() {
    let tmp = TempDir::new().unwrap();
    let (mut a, mut b) = pair(&tmp);
    let case = registered_case(&mut a);
    sync(&a, &mut b);
    a.save_form(case, "registration_bia", None, values(json!({"risk_level": "high"}))).unwrap();
    b.set_clock(Some(T0 + 5_000));
    b.save_form(case, "registration_bia", None, values(json!({"risk_level": "medium"}))).unwrap();
    sync(&b, &mut a);
    let d = a.case_detail(case).unwrap();
    let f = field(&d.fields, "registration_bia", "risk_level");
    assert_eq!((f.status, f.value.clone(), f.heads.len()), (FieldStatus::NeedsReview, None, 2));
    assert!(d.summary.needs_review);
    assert_eq!(d.summary.risk_level, None, "nothing is picked for a protected field");

    // A caseworker may not settle it.
    let err = a.resolve_conflict(case, "registration_bia", None, "risk_level", json!("high")).unwrap_err();
    assert!(matches!(err, StoreError::Forbidden { role: Role::Caseworker, .. }), "{err}");
    // A supervisor may.
    a.set_actor("sara", Role::Supervisor).expect("set_actor");
    a.resolve_conflict(case, "registration_bia", None, "risk_level", json!("high")).unwrap();
    let d = a.case_detail(case).unwrap();
    let f = field(&d.fields, "registration_bia", "risk_level");
    assert_eq!((f.status, f.value.clone(), f.heads.len()), (FieldStatus::Ok, Some(json!("high")), 1));
    assert!(!d.summary.needs_review);
    assert_eq!(d.summary.risk_level.as_deref(), Some("high"));
    // The resolution travels and gives the same picture on the other device.
    sync(&a, &mut b);
    assert_eq!(dump(&a), dump(&b));
    // Nothing left to resolve.
    let err = a.resolve_conflict(case, "registration_bia", None, "risk_level", json!("low")).unwrap_err();
    assert!(matches!(err, StoreError::NoConflict { .. }), "{err}");
}

#[test]
fn resolution_by_caseworker_is_refused_on_import_too() {
    let tmp = TempDir::new().unwrap();
    let (mut a, mut b) = pair(&tmp);
    let case = registered_case(&mut a);
    sync(&a, &mut b);
    a.save_form(case, "registration_bia", None, values(json!({"risk_level": "high"}))).unwrap();
    b.save_form(case, "registration_bia", None, values(json!({"risk_level": "low"}))).unwrap();
    sync(&b, &mut a);
    // Forge a caseworker's resolution signed correctly by device A.
    let heads: Vec<Uuid> = field(&a.case_detail(case).unwrap().fields, "registration_bia", "risk_level")
        .heads
        .iter()
        .map(|h| h.event)
        .collect();
    let mut e = a.all_events().unwrap().last().unwrap().clone();
    e.id = Uuid::now_v7();
    e.device_id = a.vault().device().device_id;
    e.device_seq = 1_000;
    e.hlc = Hlc { millis: T0 + 99_000, counter: 0 };
    e.kind = EventKind::ConflictResolved;
    e.form = Some("registration_bia".into());
    e.payload = json!({"form": "registration_bia", "field": "risk_level", "value": "low"});
    e.base = heads;
    e.role = Role::Caseworker;
    e.sign(a.signer_key());
    let before = dump(&b);
    let err = b.import_events(vec![e]).unwrap_err();
    assert!(matches!(err, StoreError::Forbidden { .. }), "{err}");
    assert_eq!(dump(&b), before);
    assert!(may_resolve_protected(Role::BidPanel, "bid"));
    assert!(!may_resolve_protected(Role::Supervisor, "bid"));
    assert!(may_resolve_protected(Role::Supervisor, "registration_bia"));
    // The data manager routes protected conflicts but never picks the value.
    assert!(!may_resolve_protected(Role::DataManager, "registration_bia"));
    assert!(!may_resolve_protected(Role::Caseworker, "registration_bia"));
}

/// One genuine event of device B, for forging variants of it.
fn genuine(tmp: &TempDir) -> (CaseStore, CaseStore, Event) {
    let (mut a, mut b) = pair(tmp);
    let case = registered_case(&mut a);
    sync(&a, &mut b);
    b.save_form(case, "registration_bia", None, values(json!({"place_of_origin": "Zinder"}))).unwrap();
    let e = b.all_events().unwrap().into_iter().find(|e| e.device_id == b.vault().device().device_id).unwrap();
    (a, b, e)
}

#[test]
fn forged_and_altered_events_are_refused_with_a_clear_reason() {
    let tmp = TempDir::new().unwrap();
    let (mut a, b, e) = genuine(&tmp);
    let before = dump(&a);

    let mut garbled = e.clone();
    garbled.sig = "AAAA".into();
    let err = a.import_events(vec![garbled]).unwrap_err();
    assert!(matches!(err, StoreError::BadSignature { reason: SignatureError::Encoding, .. }), "{err}");

    let mut edited = e.clone();
    edited.payload["values"]["place_of_origin"] = json!("Tahoua");
    let err = a.import_events(vec![edited]).unwrap_err();
    assert!(matches!(err, StoreError::BadSignature { reason: SignatureError::Mismatch, .. }), "{err}");
    assert!(err.to_string().contains("signature does not match"), "{err}");

    let mut other_author = e.clone();
    other_author.author = "someone else".into();
    assert!(matches!(a.import_events(vec![other_author]), Err(StoreError::BadSignature { .. })));

    // Signed by B but claiming to come from A.
    let mut claims_a = e.clone();
    claims_a.device_id = a.vault().device().device_id;
    claims_a.device_seq = 500;
    claims_a.sign(b.signer_key());
    let err = a.import_events(vec![claims_a]).unwrap_err();
    assert!(matches!(err, StoreError::BadSignature { reason: SignatureError::Mismatch, .. }), "{err}");

    // A device nobody trusts.
    let stranger_dir = tmp.path().join("c");
    let c = new_store(&stranger_dir, "mallory", "caseworker");
    let mut from_c = e.clone();
    from_c.device_id = c.vault().device().device_id;
    from_c.sign(c.signer_key());
    let err = a.import_events(vec![from_c]).unwrap_err();
    assert!(matches!(err, StoreError::UnknownDevice { .. }), "{err}");

    // A good event mixed with a forged one: nothing is committed.
    let mut edited = e.clone();
    edited.payload["values"]["place_of_origin"] = json!("Tahoua");
    assert!(a.import_events(vec![e.clone(), edited]).is_err());
    assert_eq!(dump(&a), before, "refused imports change nothing");

    // Stamped years ahead: refused before it can drag the clock forward.
    let mut future = e.clone();
    future.hlc = Hlc { millis: 4_102_444_800_000, counter: 0 }; // 2100
    future.sign(b.signer_key());
    let err = a.import_events(vec![future]).unwrap_err();
    assert!(matches!(err, StoreError::FromTheFuture { .. }), "{err}");

    // The genuine event is accepted.
    let s = a.import_events(vec![e]).unwrap();
    assert_eq!((s.new, s.duplicates), (1, 0));
}

#[test]
fn equivocating_sequence_numbers_and_reused_ids_are_refused() {
    let tmp = TempDir::new().unwrap();
    let (mut a, b, e) = genuine(&tmp);
    // Same device, same sequence number, different (validly signed) content.
    let mut twin = e.clone();
    twin.id = Uuid::now_v7();
    twin.payload["values"]["place_of_origin"] = json!("Tahoua");
    twin.sign(b.signer_key());
    let err = a.import_events(vec![e.clone(), twin.clone()]).unwrap_err();
    assert!(matches!(err, StoreError::Equivocation { .. }), "{err}");
    a.import_events(vec![e.clone()]).unwrap();
    let err = a.import_events(vec![twin]).unwrap_err();
    assert!(matches!(err, StoreError::Equivocation { seq, .. } if seq == e.device_seq), "{err}");
    // Same id, different content, validly signed.
    let mut reused = e.clone();
    reused.payload["values"]["place_of_origin"] = json!("Maradi");
    reused.sign(b.signer_key());
    let err = a.import_events(vec![reused]).unwrap_err();
    assert!(matches!(err, StoreError::ConflictingEvent { .. }), "{err}");
}

#[test]
fn reimport_is_idempotent_and_order_does_not_matter() {
    let tmp = TempDir::new().unwrap();
    let (mut a, mut b) = pair(&tmp);
    let case = registered_case(&mut a);
    a.add_note(case, values(json!({"subject": "first contact", "text": "met at the bus station"}))).unwrap();
    sync(&a, &mut b);
    b.save_form(case, "registration_bia", None, values(json!({"given_names": "Aminata", "risk_level": "medium"})))
        .unwrap();
    a.save_form(case, "registration_bia", None, values(json!({"given_names": "Aminatou", "risk_level": "high"})))
        .unwrap();
    sync(&b, &mut a);
    let expected = dump(&a);
    let all = a.all_events().unwrap();
    let again = a.import_events(all.clone()).unwrap();
    assert_eq!((again.new, again.duplicates), (0, all.len()));
    assert_eq!(dump(&a), expected);

    // A third device imports everything reversed and duplicated, in one go.
    let mut c = new_store(&tmp.path().join("c"), "chef", "data_manager");
    for s in [&a, &b] {
        c.trust_device(s.vault().device().device_id, &s.vault().first_person_verifying_key(), "peer").unwrap();
    }
    let mut shuffled: Vec<Event> = all.iter().rev().cloned().collect();
    shuffled.extend(all.iter().step_by(2).cloned());
    let s = c.import_events(shuffled).unwrap();
    assert_eq!(s.new, all.len());
    assert_eq!(dump(&c), expected);
}

#[test]
fn audit_chain_records_who_and_detects_tampering() {
    let tmp = TempDir::new().unwrap();
    let mut s = new_store(&tmp.path().join("v"), "amina", "caseworker");
    let case = registered_case(&mut s);
    s.assign(case, "amina").unwrap();
    let h = s.history(case).unwrap().entries;
    assert_eq!(h.len(), 3);
    assert_eq!(h[0].kind, EventKind::CaseRegistered);
    assert_eq!(h[0].prev_hash, "0".repeat(64));
    assert_eq!(h[1].prev_hash, h[0].hash);
    assert_eq!((h[1].author.as_str(), h[1].role), ("amina", Role::Caseworker));
    assert_eq!(h[1].device_id, s.vault().device().device_id);
    assert!(h[1].fields.contains(&"given_names".to_string()));
    assert!(!h[1].summary.contains("Amina"), "audit entries never carry sensitive values");
    assert_eq!(s.verify_history(case).unwrap(), 3);

    let conn = s.vault().conn();
    conn.execute("UPDATE audit SET author = 'someone' WHERE seq = 1", []).unwrap();
    let err = s.verify_history(case).unwrap_err();
    assert!(err.to_string().contains("broken at entry 1"), "{err}");
    conn.execute("UPDATE audit SET author = 'amina' WHERE seq = 1", []).unwrap();
    s.verify_history(case).unwrap();

    conn.execute("UPDATE events SET json = replace(json, 'Issoufou', 'Moussa') WHERE kind = 'form.saved'", []).unwrap();
    let err = s.verify_history(case).unwrap_err();
    assert!(err.to_string().contains("fails verification"), "{err}");
}

#[test]
fn invalid_form_values_surface_as_field_errors_and_change_nothing() {
    let tmp = TempDir::new().unwrap();
    let mut s = new_store(&tmp.path().join("v"), "amina", "caseworker");
    let case = registered_case(&mut s);
    let before = dump(&s);
    let err = s.save_form(case, "registration_bia", None, values(json!({"age_years": "fifteen"}))).unwrap_err();
    match &err {
        StoreError::Invalid { errors } => assert!(errors.iter().any(|e| e.field == "age_years"), "{err}"),
        other => panic!("expected field errors, got {other}"),
    }
    assert!(err.to_string().contains("age_years"));
    let err = s.save_form(case, "registration_bia", None, values(json!({"no_such_field": 1}))).unwrap_err();
    assert!(matches!(&err, StoreError::Invalid { errors } if errors[0].field == "no_such_field"), "{err}");
    let err = s.save_form(case, "no_such_form", None, values(json!({"x": 1}))).unwrap_err();
    assert!(matches!(err, StoreError::UnknownForm { .. }), "{err}");
    let err = s.save_form(Uuid::now_v7(), "registration_bia", None, values(json!({"given_names": "X"}))).unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert_eq!(dump(&s), before);
}

#[test]
fn viewers_record_nothing() {
    let tmp = TempDir::new().unwrap();
    let mut s = new_store(&tmp.path().join("v"), "amina", "caseworker");
    let case = registered_case(&mut s);
    s.set_actor("mo", Role::Viewer).expect("set_actor");
    let err = s.assign(case, "mo").unwrap_err();
    assert!(matches!(err, StoreError::Forbidden { role: Role::Viewer, .. }), "{err}");
    assert!(matches!(s.create_case("uasc", "Agadez"), Err(StoreError::Forbidden { .. })));
}

#[test]
fn lifecycle_rules_are_checked_before_events_are_created() {
    let tmp = TempDir::new().unwrap();
    let mut s = new_store(&tmp.path().join("v"), "amina", "caseworker");
    let case = registered_case(&mut s);
    let err = s.change_stage(case, Stage::Closed, "test").unwrap_err();
    assert!(matches!(err, StoreError::RuleViolated { .. }), "{err}");
    assert_eq!(s.list_cases().unwrap().cases[0].stage, "identified");
}

#[test]
fn batch_commits_many_changes_in_one_frame_with_unique_case_numbers() {
    let tmp = TempDir::new().unwrap();
    let mut s = new_store(&tmp.path().join("v"), "amina", "caseworker");
    s.set_rng_seed(7);
    let frames = s.vault().stats().journal_frames;
    let mut b = s.batch();
    let mut ids = Vec::new();
    for i in 0..40u64 {
        b.set_clock(Some(T0 + i * 1000));
        let case = b.create_case("uasc", "Agadez").unwrap();
        b.save_form(case, "registration_bia", None, values(json!({"given_names": format!("Child {i}")}))).unwrap();
        b.add_note(case, values(json!({"subject": "s", "text": "t"}))).unwrap();
        ids.push(case);
    }
    // A rejected change inside a batch does not spoil the rest.
    assert!(b.save_form(ids[0], "registration_bia", None, values(json!({"age_years": "x"}))).is_err());
    assert_eq!(b.len(), 120);
    b.commit().unwrap();
    assert_eq!(s.vault().stats().journal_frames, frames + 1);
    let list = s.list_cases().unwrap().cases;
    assert_eq!(list.len(), 40);
    assert_eq!(list[0].case_number, "AGA-2026-00001");
    assert_eq!(list[39].case_number, "AGA-2026-00040");
    let seqs: Vec<u64> = s.all_events().unwrap().iter().map(|e| e.device_seq).collect();
    let mut sorted = seqs.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 120, "sequence numbers are unique, without the rejected change");
    for case in &ids {
        s.verify_history(*case).unwrap();
    }
}

#[test]
fn seeded_rng_and_fixed_clock_give_reproducible_ids() {
    let tmp = TempDir::new().unwrap();
    let mut ids = Vec::new();
    for name in ["x", "y"] {
        let mut s = new_store(&tmp.path().join(name), name, "caseworker");
        s.set_rng_seed(42);
        ids.push(s.create_case("family_with_children", "Tahoua").unwrap());
    }
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[0].get_version_num(), 7);
}

#[test]
fn imported_events_are_held_to_the_same_rules() {
    let tmp = TempDir::new().unwrap();
    let (mut a, b, e) = genuine(&tmp);
    a.import_events(vec![e.clone()]).unwrap();
    let before = dump(&a);
    // B's device signs a stage change its user could never make locally.
    let mut close = e.clone();
    close.id = Uuid::now_v7();
    close.device_seq = e.device_seq + 1;
    close.hlc = Hlc { millis: e.hlc.millis + 10, counter: 0 };
    close.kind = EventKind::StatusChanged;
    close.form = None;
    close.payload = json!({"to": "closed", "reason": "no longer needed"});
    close.base = vec![];
    close.sign(b.signer_key());
    let err = a.import_events(vec![close]).unwrap_err();
    assert!(matches!(err, StoreError::RuleViolated { .. }), "{err}");
    assert_eq!(dump(&a), before);
}

#[test]
fn a_simulated_device_can_contribute_concurrent_edits() {
    use fieldcase::model::event::DeviceSigner;
    use rand::SeedableRng;
    let tmp = TempDir::new().unwrap();
    let mut a = new_store(&tmp.path().join("a"), "amina", "caseworker");
    let case = registered_case(&mut a);
    let mut other = DeviceSigner::new(Uuid::from_u128(99), ed25519_dalek::SigningKey::from_bytes(&[9; 32]));
    a.trust_device(other.device_id, &other.verifying_key(), "office laptop").unwrap();
    let base = a.heads(case, "registration_bia", None, "given_names").unwrap();
    // Edit on the other device, then locally, both on top of the same base.
    other.set_clock(Some(T0 + 1));
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let e = other.sign_new(
        &mut rng,
        case,
        "bachir",
        Role::Caseworker,
        EventKind::FormSaved,
        Some("registration_bia"),
        json!({"values": {"given_names": "Aminata"}}),
        base,
    );
    a.set_clock(Some(T0 + 2));
    a.save_form(case, "registration_bia", None, values(json!({"given_names": "Aminatou"}))).unwrap();
    let s = a.import_events(vec![e]).unwrap();
    assert_eq!((s.new, s.cases.clone()), (1, vec![case]));
    let f = field(&a.case_detail(case).unwrap().fields, "registration_bia", "given_names").clone();
    assert_eq!((f.status, f.value), (FieldStatus::MergedAutomatically, Some(json!("Aminatou"))));
    a.verify_history(case).unwrap();
}

#[test]
fn an_offline_edit_made_before_a_concurrent_stage_change_is_accepted() {
    let tmp = TempDir::new().unwrap();
    let (mut a, mut b) = pair(&tmp);
    let case = registered_case(&mut a);
    sync(&a, &mut b);
    // The office marks the case a duplicate while B, offline, still edits it.
    a.set_actor("dina", Role::DataManager).expect("set_actor");
    a.set_clock(Some(T0 + 1_000));
    a.change_stage(case, Stage::Duplicate, "same child as AGA-2026-00007").unwrap();
    b.set_clock(Some(T0 + 2_000));
    b.save_form(case, "registration_bia", None, values(json!({"place_of_origin": "Zinder"}))).unwrap();
    // B's edit was made on an open case: it is kept, not refused.
    sync(&b, &mut a);
    sync(&a, &mut b);
    assert_eq!(dump(&a), dump(&b));
    let d = b.case_detail(case).unwrap();
    assert_eq!(d.summary.stage, "duplicate");
    assert_eq!(field(&d.fields, "registration_bia", "place_of_origin").value, Some(json!("Zinder")));
    // Once B has seen the merge, the case is read-only for it too.
    let err = b.save_form(case, "registration_bia", None, values(json!({"place_of_origin": "Maradi"}))).unwrap_err();
    assert!(matches!(err, StoreError::RuleViolated { .. }), "{err}");
    // An event that names no stage is judged against the current stage.
    let mut late = b.all_events().unwrap().into_iter().find(|e| e.device_id == b.vault().device().device_id).unwrap();
    late.id = Uuid::now_v7();
    late.device_seq = 77;
    late.hlc = Hlc { millis: T0 + 9_000, counter: 0 };
    late.base = vec![];
    late.sign(b.signer_key());
    assert!(matches!(a.import_events(vec![late]), Err(StoreError::RuleViolated { .. })));
}
