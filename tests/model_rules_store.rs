//! The lifecycle rules are enforced through the real store: when an event is
//! created locally and when a foreign signed event is imported.

use ed25519_dalek::SigningKey;
use fieldcase::model::demo;
use fieldcase::model::event::{Event, EventKind, Hlc, Role};
use fieldcase::model::lifecycle::Stage;
use fieldcase::model::store::{CaseStore, StoreError};
use fieldcase::vault::{InitOptions, SecretString, VaultOptions};
use serde_json::{json, Map, Value};
use uuid::Uuid;

fn store(dir: &std::path::Path) -> CaseStore {
    let opts = InitOptions { name: "amina".into(), role: "caseworker".into(), escrow: None };
    let options = VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() };
    CaseStore::init_with(dir, &SecretString::from("pass phrase".to_owned()), opts, &options).expect("init")
}

fn map(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn rules_of(e: StoreError) -> Vec<String> {
    match e {
        StoreError::RuleViolated { violations } => violations.into_iter().map(|v| v.rule).collect(),
        other => panic!("expected a rule violation, got {other}"),
    }
}

#[test]
fn local_events_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    s.set_clock(Some(1_780_000_000_000));
    let case = s.create_case("uasc", "Agadez").unwrap();
    // Registration guard: identity minimum and legitimate basis.
    assert!(rules_of(s.change_stage(case, Stage::Registered, "x").unwrap_err()).contains(&"R4".to_string()));
    s.save_form(
        case,
        "registration_bia",
        None,
        map(json!({
            "given_names": "Mamadou", "family_name": "Jallow", "sex": "male", "age_years": 16,
            "legitimate_basis": "vital_interests"
        })),
    )
    .unwrap();
    s.change_stage(case, Stage::Registered, "registered").unwrap();
    // A caseworker cannot record a BID decision nor skip stages.
    let err = s.save_form(case, "bid", None, map(json!({"panel_decision": "approves_recommendation"}))).unwrap_err();
    assert!(rules_of(err).contains(&"role".to_string()));
    let err = s.change_stage(case, Stage::BidDecided, "skip").unwrap_err();
    assert!(rules_of(err).contains(&"transition".to_string()));
    // Detention is never a care arrangement (the value list refuses it first).
    assert!(s.save_form(case, "registration_bia", None, map(json!({"care_arrangement": "detention"}))).is_err());
}

#[test]
fn imported_events_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    s.set_clock(Some(1_780_000_000_000));
    let case = s.create_case("uasc", "Agadez").unwrap();
    let key = SigningKey::from_bytes(&[42; 32]);
    let device = Uuid::from_u128(0xd2);
    s.trust_device(device, &key.verifying_key(), "tablet 2").unwrap();
    let foreign = |seq: u64, role: Role, kind: EventKind, form: Option<&str>, payload: Value| {
        let mut e = Event {
            id: Uuid::from_u128(0x100 + seq as u128),
            case_id: case,
            device_id: device,
            device_seq: seq,
            hlc: Hlc { millis: 1_780_000_100_000 + seq, counter: 0 },
            author: "tablet2".into(),
            role,
            kind,
            form: form.map(str::to_string),
            payload,
            base: vec![],
            sig: String::new(),
        };
        e.sign(&key);
        e
    };
    // A BID decision signed by a non-panel user is rejected.
    let decision = foreign(
        1,
        Role::Caseworker,
        EventKind::FormSaved,
        Some("bid"),
        json!({"values": {"panel_decision": "approves_recommendation"}}),
    );
    assert!(rules_of(s.import_events(vec![decision]).unwrap_err()).contains(&"role".to_string()));
    // A stage jump from another device is rejected too.
    let jump = foreign(1, Role::Supervisor, EventKind::StatusChanged, None, json!({"to": "closed", "reason": "x"}));
    assert!(rules_of(s.import_events(vec![jump]).unwrap_err()).contains(&"transition".to_string()));
    // A legitimate edit goes through.
    let ok = foreign(
        1,
        Role::Caseworker,
        EventKind::FormSaved,
        Some("registration_bia"),
        json!({"values": {"sex": "female"}}),
    );
    assert_eq!(s.import_events(vec![ok]).unwrap().new, 1);
}

#[test]
fn closed_demo_case_takes_no_note_until_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    demo::generate(&mut s, 40, 3).unwrap();
    // The demo's cases are its caseworkers': find one as a supervisor, then
    // act as its caseworker.
    s.set_actor("sup", Role::Supervisor).expect("set_actor");
    let closed = s.list_cases().unwrap().cases.into_iter().find(|c| c.stage == "closed").expect("a closed case");
    let caseworker = closed.caseworker.clone().expect("an assigned case");
    s.set_actor(&caseworker, Role::Caseworker).expect("set_actor");
    let note = map(json!({"note_type": "supervision", "subject": "review", "text": "reviewed"}));
    assert!(rules_of(s.add_note(closed.id, note.clone()).unwrap_err()).contains(&"closed".to_string()));
    // The one record a closed case takes: the contact after closure.
    let contact = map(json!({"note_type": "phone", "subject": "Final contact", "text": "called; all well"}));
    s.add_note(closed.id, contact).unwrap();
    // A caseworker cannot reopen; a supervisor can, then notes are accepted.
    assert!(s.change_stage(closed.id, Stage::Reopened, "breakdown").is_err());
    s.set_actor("sup", Role::Supervisor).expect("set_actor");
    s.change_stage(closed.id, Stage::Reopened, "breakdown").unwrap();
    s.set_actor(&caseworker, Role::Caseworker).expect("set_actor");
    s.add_note(closed.id, note).unwrap();
}

/// A referral's provider is a code of the office's service directory: an
/// unknown code is refused by the value list, a free-text provider by the
/// rule, a directory code accepted; the referral's label is the directory's.
#[test]
fn a_referral_picks_its_provider_from_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    let case = s.create_case("uasc", "Agadez").unwrap();
    s.save_form(
        case,
        "registration_bia",
        None,
        map(json!({"given_names": "Mamadou", "legitimate_basis": "vital_interests"})),
    )
    .unwrap();
    let referral = |extra: Value| {
        let mut v = json!({"referral_date": "2026-11-02", "service_type": "medical", "status": "pending",
            "consent_for_referral": {"by": "child", "method": "witnessed_verbal", "date": "2026-11-02"}});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        map(v)
    };
    let e = s.make_referral(case, referral(json!({"provider_id": "no_such_provider"}))).unwrap_err();
    assert!(matches!(&e, StoreError::Invalid { errors } if errors[0].field == "provider_id"), "{e}");
    let e = s.make_referral(case, referral(json!({"provider": "Partner NGO"}))).unwrap_err();
    assert_eq!(rules_of(e), ["referral", "referral"]);
    s.make_referral(case, referral(json!({"provider_id": "ner_agadez_health_centre"}))).unwrap();
    let label = s
        .forms()
        .value_list("service_provider")
        .unwrap()
        .options
        .iter()
        .find(|o| o.value == "ner_agadez_health_centre")
        .unwrap()
        .labels
        .en
        .clone();
    assert!(label.contains("Agadez regional health centre"), "{label}");

    // The provider offers the referral's service: the health centre gives
    // no legal aid. Refused with its own code, nothing recorded.
    let before = s.all_events().unwrap().len();
    let legal = |provider: &str| {
        let mut v = referral(json!({"provider_id": provider}));
        v.insert("service_type".into(), json!("legal_aid_asylum"));
        v
    };
    let e = s.make_referral(case, legal("ner_agadez_health_centre")).unwrap_err();
    assert_eq!(rules_of(e), ["provider_service"]);
    assert_eq!(s.all_events().unwrap().len(), before);
    let item = s.make_referral(case, legal("ner_niamey_legal_clinic")).unwrap();
    // Changing the service of a referral to one its provider does not
    // offer is refused too, judged on the referral as it would be.
    let e = s.save_form(case, "referral", Some(item), map(json!({"service_type": "medical"}))).unwrap_err();
    assert_eq!(rules_of(e), ["provider_service"]);
    s.save_form(case, "referral", Some(item), map(json!({"service_type": "guardianship_representation"}))).unwrap();
    s.save_form(case, "referral", Some(item), map(json!({"status": "implemented", "implemented_date": "2026-11-20"})))
        .unwrap();
}
