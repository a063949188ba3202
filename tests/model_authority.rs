//! Roles enforced where the data is (issue 20, bullet 2): every permission
//! of the role table (`model::roles`) is refused to a role without it both
//! when the change is made on the device and when a signed event claiming
//! it is imported; a caseworker cannot take over another person's case;
//! the office sends each device what its person may see, panel devices
//! included.
#[path = "sync_common.rs"]
mod common;
#[path = "common/raw_tar.rs"]
mod raw_tar;

use std::io::Write as _;

use base64::Engine as _;
use common::*;
use ed25519_dalek::Signer as _;
use fieldcase::codes::Coded as _;
use fieldcase::model::error::StoreError;
use fieldcase::model::event::{Event, EventKind, Hlc, Role};
use fieldcase::model::lifecycle::Stage;
use fieldcase::model::projection;
use fieldcase::model::roles::{self, Action};
use fieldcase::model::store::CaseStore;
use fieldcase::model::visibility::HiddenReason;
use fieldcase::sync::format::MANIFEST_DOMAIN;
use fieldcase::sync::{self, ImportError};
use raw_tar::{raw, tar_of};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use uuid::Uuid;

const T0: u64 = 1_780_000_000_000; // 2026-05-28

fn dump(s: &CaseStore) -> String {
    projection::dump(s.vault().conn()).unwrap()
}

/// The role refusal `rule` (a `RuleViolated` naming it), or `Forbidden`
/// when `rule` is "forbidden".
fn is_refusal(e: &StoreError, rule: &str) -> bool {
    match e {
        StoreError::Forbidden { .. } => rule == "forbidden",
        StoreError::RuleViolated { violations } => violations.iter().any(|v| v.rule == rule),
        _ => false,
    }
}

/// Amina's device (a caseworker) with one registered case at high risk, and
/// a second vault (the office's, as the model sees it) that trusts her
/// device and holds the same events.
struct Pair {
    _t: TempDir,
    amina: CaseStore,
    office: CaseStore,
    case: Uuid,
}

fn pair() -> Pair {
    let t = TempDir::new().unwrap();
    let mut amina = device(&t.path().join("a"), "amina", "caseworker");
    let mut office = device(&t.path().join("o"), "sara", "supervisor");
    amina.set_clock(Some(T0));
    office.set_clock(Some(T0));
    let (id, key) = (amina.vault().device().device_id, amina.vault().first_person_verifying_key());
    office.trust_device(id, &key, "amina's laptop").unwrap();
    let case = new_case(&mut amina, "Mariama");
    amina.save_form(case, "registration_bia", None, values(json!({"risk_level": "high"}))).unwrap();
    office.import_events(amina.all_events().unwrap()).unwrap();
    Pair { _t: t, amina, office, case }
}

/// An event signed by `by`'s device key claiming `author` and `role`, as a
/// hostile or misconfigured device could send it.
fn forged(
    by: &CaseStore,
    case: Uuid,
    author: &str,
    role: Role,
    kind: EventKind,
    form: Option<&str>,
    payload: Value,
) -> Event {
    let mut e = Event {
        id: Uuid::now_v7(),
        case_id: case,
        device_id: by.vault().device().device_id,
        device_seq: 1_000,
        hlc: Hlc { millis: T0 + 60_000, counter: 0 },
        author: author.into(),
        role,
        kind,
        form: form.map(str::to_string),
        payload,
        base: vec![],
        sig: String::new(),
    };
    e.sign(by.signer_key());
    e
}

/// One row per permission: a role without it, and the event that would
/// need it.
struct Row {
    action: Action,
    role: Role,
    kind: EventKind,
    form: Option<&'static str>,
    payload: Value,
    rule: &'static str,
}

fn rows(other_case: Uuid) -> Vec<Row> {
    let row = |action, role, kind, form, payload, rule| Row { action, role, kind, form, payload, rule };
    let sig = json!({"by": "amina", "method": "signature", "date": "2026-05-28"});
    vec![
        row(
            Action::RecordCaseData,
            Role::DataManager,
            EventKind::FormSaved,
            Some("registration_bia"),
            json!({"values": {"given_names": "Awa"}}),
            "role",
        ),
        row(
            Action::RecordCaseData,
            Role::DataManager,
            EventKind::NoteAdded,
            Some("case_note"),
            json!({"item": Uuid::now_v7(), "values": {"text": "seen"}}),
            "role",
        ),
        row(
            Action::RecordBidDecision,
            Role::Supervisor,
            EventKind::FormSaved,
            Some("bid"),
            json!({"values": {"decision_reasons": "safe family"}}),
            "role",
        ),
        row(
            Action::ApproveBia,
            Role::Caseworker,
            EventKind::FormSaved,
            Some("registration_bia"),
            json!({"values": {"bia_approval_status": "approved"}}),
            "role",
        ),
        row(
            Action::LowerHighRisk,
            Role::Caseworker,
            EventKind::FormSaved,
            Some("registration_bia"),
            json!({"values": {"risk_level": "medium"}}),
            "R5",
        ),
        row(
            Action::ApprovePlan,
            Role::Caseworker,
            EventKind::FormSaved,
            Some("reintegration_uasc"),
            json!({"values": {"signatures": [{"signatory": "supervisor", "signature": sig}]}}),
            "role",
        ),
        row(
            Action::ApprovePlan,
            Role::Caseworker,
            EventKind::FormSaved,
            Some("case_plan"),
            json!({"values": {"approval_status": "approved", "approval_date": "2026-05-28"}}),
            "role",
        ),
        row(
            Action::ApprovePlan,
            Role::Caseworker,
            EventKind::FormSaved,
            Some("case_plan"),
            json!({"values": {"approval_status": "returned", "approval_comments": "Add a school goal"}}),
            "role",
        ),
        row(
            Action::ApproveClosure,
            Role::Caseworker,
            EventKind::FormSaved,
            Some("closure_transfer"),
            json!({"values": {"closure_approval": sig}}),
            "R11",
        ),
        row(
            Action::AssignAny,
            Role::Caseworker,
            EventKind::CaseAssigned,
            None,
            json!({"caseworker": "bakary"}),
            "role",
        ),
        // The panel member assigning the case to themself (the user name
        // the loop below gives the role).
        row(
            Action::AssignSelf,
            Role::BidPanel,
            EventKind::CaseAssigned,
            None,
            json!({"caseworker": "bid_panel-user"}),
            "role",
        ),
        row(
            Action::ResolveConflict,
            Role::Caseworker,
            EventKind::ConflictResolved,
            None,
            json!({"form": "registration_bia", "field": "given_names", "value": "Awa"}),
            "forbidden",
        ),
        row(
            Action::MergeDuplicates,
            Role::Supervisor,
            EventKind::CaseMerged,
            None,
            json!({"duplicate_of": other_case}),
            "role",
        ),
        row(
            Action::MergeDuplicates,
            Role::Caseworker,
            EventKind::CaseNotDuplicate,
            None,
            json!({"other": other_case}),
            "role",
        ),
        row(Action::Transfer, Role::Supervisor, EventKind::CaseTransferred, None, json!({"to": "Niamey"}), "role"),
        row(
            Action::Erase,
            Role::Caseworker,
            EventKind::CaseErasureRequested,
            None,
            json!({"reason": "opened_in_error"}),
            "role",
        ),
    ]
}

#[test]
fn every_permission_is_refused_to_a_role_without_it_locally_and_at_import() {
    let mut p = pair();
    let other = new_case(&mut p.amina, "Awa");
    p.office.import_events(p.amina.all_events().unwrap()).unwrap();
    let rows = rows(other);
    // Every action of the table has a row (a new action needs one).
    for action in roles::PERMISSIONS.iter().flat_map(|(_, a)| a.iter()) {
        assert!(rows.iter().any(|r| r.action == *action), "no refusal test for {action:?}");
    }
    for r in rows {
        assert!(!roles::may(r.role, r.action), "{:?} is not a role without {:?}", r.role, r.action);
        // A caseworker acting on her own case; other roles see every case
        // (the panel none that is not submitted to it).
        let user = if r.role == Role::Caseworker { "amina".to_string() } else { format!("{}-user", r.role) };
        // Locally: the person who unlocked acts with the role. The panel
        // sees no case not submitted to it, which refuses first.
        let before = dump(&p.amina);
        p.amina.set_actor(&user, r.role).expect("set_actor");
        let base = match (r.kind, r.form) {
            (EventKind::FormSaved, Some(form)) => {
                let field = r.payload["values"].as_object().unwrap().keys().next().unwrap().clone();
                p.amina.heads(p.case, form, None, &field).unwrap()
            }
            (EventKind::ConflictResolved, _) => p.amina.heads(p.case, "registration_bia", None, "given_names").unwrap(),
            _ => Vec::new(),
        };
        let err = p.amina.record(p.case, r.kind, r.form, r.payload.clone(), base.clone()).unwrap_err();
        let hidden = matches!(err, StoreError::Hidden { reason: HiddenReason::NotOnPanelAgenda, .. });
        assert!(is_refusal(&err, r.rule) || (r.role == Role::BidPanel && hidden), "{:?} locally: {err}", r.action);
        assert_eq!(dump(&p.amina), before, "{:?}: a refused change leaves the vault as it was", r.action);
        p.amina.set_actor("amina", Role::Caseworker).expect("set_actor");
        // At import: the same change, signed by a trusted device.
        let mut e = forged(&p.amina, p.case, &user, r.role, r.kind, r.form, r.payload.clone());
        e.base = base;
        e.sign(p.amina.signer_key());
        let before = dump(&p.office);
        let err = p.office.import_events(vec![e]).unwrap_err();
        assert!(is_refusal(&err, r.rule), "{:?} at import: {err}", r.action);
        assert_eq!(dump(&p.office), before, "{:?}: a refused import leaves the vault as it was", r.action);
    }
}

#[test]
fn only_case_data_roles_register_a_case_locally_and_at_import() {
    let mut p = pair();
    for role in [Role::DataManager, Role::BidPanel, Role::Viewer] {
        p.amina.set_actor("someone", role).expect("set_actor");
        let before = dump(&p.amina);
        let err = p.amina.create_case("uasc", "Agadez").unwrap_err();
        assert!(matches!(err, StoreError::Forbidden { .. }), "{role}: {err}");
        assert_eq!((err.code(), err.params().get("role").cloned()), ("forbidden", Some(role.as_str().to_string())));
        assert_eq!(dump(&p.amina), before);
        let e = forged(
            &p.amina,
            Uuid::now_v7(),
            "someone",
            role,
            EventKind::CaseRegistered,
            None,
            json!({"case_type": "uasc", "case_number": "AGA-2026-00099", "office": "Agadez"}),
        );
        let err = p.office.import_events(vec![e]).unwrap_err();
        assert!(matches!(err, StoreError::Forbidden { .. }), "{role} at import: {err}");
    }
}

#[test]
fn a_caseworker_assigns_only_themself_to_a_case_they_registered_and_nobody_has() {
    let mut p = pair();
    // Her own, unassigned: she may take it (and repeat it).
    p.amina.assign(p.case, "amina").unwrap();
    p.amina.assign(p.case, "amina").unwrap();
    // A supervisor hands it to bakary: she cannot take it back.
    p.amina.set_actor("sara", Role::Supervisor).expect("set_actor");
    p.amina.assign(p.case, "bakary").unwrap();
    p.amina.set_actor("amina", Role::Caseworker).expect("set_actor");
    let err = p.amina.assign(p.case, "amina").unwrap_err();
    assert!(is_refusal(&err, "assignment"), "{err}");
    // Nor may bakary take a case amina registered that nobody has.
    let other = new_case(&mut p.amina, "Awa");
    p.amina.set_actor("bakary", Role::Caseworker).expect("set_actor");
    let err = p.amina.assign(other, "bakary").unwrap_err();
    assert!(matches!(err, StoreError::Hidden { reason: HiddenReason::NotAssigned, .. }), "{err}");
    // The same at import, where no local visibility applies: the rule does.
    p.office.import_events(p.amina.all_events().unwrap()).unwrap();
    let e = forged(
        &p.amina,
        other,
        "bakary",
        Role::Caseworker,
        EventKind::CaseAssigned,
        None,
        json!({"caseworker": "bakary"}),
    );
    let err = p.office.import_events(vec![e]).unwrap_err();
    assert!(is_refusal(&err, "assignment"), "{err}");
    assert_eq!(p.office.case_state(other).unwrap().caseworker, None);
}

// ------------------------------------------------------------------ over sync

fn encrypt(to: &age::x25519::Recipient, plain: &[u8]) -> Vec<u8> {
    let enc = age::Encryptor::with_recipients(std::iter::once(to as &dyn age::Recipient)).unwrap();
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).unwrap();
    w.write_all(plain).unwrap();
    w.finish().unwrap();
    out
}

/// A correctly signed device → office bundle of `events`, as `sender`
/// would write it with a modified build.
fn hand_built_bundle(sender: &CaseStore, office: &CaseStore, events: &[Event]) -> Vec<u8> {
    let jsonl: Vec<u8> = events
        .iter()
        .flat_map(|e| {
            let mut l = serde_json::to_vec(e).unwrap();
            l.push(b'\n');
            l
        })
        .collect();
    let m = json!({
        "format": "fieldcase-bundle", "version": [1, 0], "bundle_id": Uuid::now_v7(), "kind": "device_to_office",
        "sender": {"device_id": sender.vault().device().device_id, "name": "x", "signing_key": "00", "recipient": "age1x"},
        "recipients": [], "office_id": office.vault().device().device_id, "created_hlc": {"millis": 0, "counter": 0},
        "sender_seq": 100, "prev_bundle_sha256": null,
        "members": [{"path": "events.jsonl", "sha256": hex::encode(Sha256::digest(&jsonl)), "size": jsonl.len()}],
    });
    let m = serde_json::to_vec(&m).unwrap();
    let mut signed = MANIFEST_DOMAIN.to_vec();
    signed.extend_from_slice(&m);
    let sig = base64::engine::general_purpose::STANDARD.encode(sender.vault().device_key().sign(&signed).to_bytes());
    let to: age::x25519::Recipient = sync::recipient(office).parse().unwrap();
    encrypt(&to, &tar_of(&[raw("manifest.json", m), raw("manifest.sig", sig.into_bytes()), raw("events.jsonl", jsonl)]))
}

#[test]
fn a_caseworkers_self_assignment_of_anothers_case_is_refused_and_leaks_nothing() {
    let t = TempDir::new().unwrap();
    let mut o = office(&t.path().join("o"));
    let mut amina = device(&t.path().join("a"), "amina", "caseworker");
    let mut bakary = device(&t.path().join("b"), "bakary", "caseworker");
    enroll(&mut o, &mut amina);
    enroll(&mut o, &mut bakary);
    let hers = new_case(&mut amina, "Mariama");
    let his = new_case(&mut bakary, "Ousmane");
    up(&mut amina, &mut o);
    up(&mut bakary, &mut o);
    down(&mut o, &mut bakary);
    assert!(bakary.case_access(hers).unwrap().is_none(), "bakary's device never had amina's case");

    // Locally his vault has no such case to take.
    assert!(bakary.assign(hers, "bakary").is_err());
    // A modified build sends the office a signed self-assignment.
    let seq = bakary.all_events().unwrap().iter().map(|e| e.device_seq).max().unwrap() + 1;
    let mut e = Event {
        id: Uuid::now_v7(),
        case_id: hers,
        device_id: bakary.vault().device().device_id,
        device_seq: seq,
        hlc: Hlc { millis: chrono::Utc::now().timestamp_millis() as u64, counter: 0 },
        author: "bakary".into(),
        role: Role::Caseworker,
        kind: EventKind::CaseAssigned,
        form: None,
        payload: json!({"caseworker": "bakary"}),
        base: vec![],
        sig: String::new(),
    };
    e.sign(bakary.signer_key());
    let bundle = hand_built_bundle(&bakary, &o, &[e.clone()]);
    let result = sync::import_bundle(&mut o, &bundle, false, &mut |_| {});
    // Refused, or (once refused events are quarantined) kept aside: in
    // either case not applied.
    if let Err(err) = &result {
        assert!(matches!(err, ImportError::Rejected(s) if is_refusal(s, "assignment")), "{err}");
    }
    assert!(!o.case_events(hers).unwrap().iter().any(|x| x.id == e.id), "the self-assignment is not applied");
    assert_eq!(o.case_state(hers).unwrap().caseworker, None);

    // The office's next bundle to bakary carries nothing of her case.
    let out = sync::export_for_device(&mut o, bakary.vault().device().device_id, &mut |_| {}).unwrap();
    sync::import_bundle(&mut bakary, &out, false, &mut |_| {}).unwrap();
    assert!(bakary.case_access(hers).unwrap().is_none(), "amina's case never reaches bakary's device");
    assert!(bakary.all_events().unwrap().iter().all(|x| x.case_id != hers));
    assert!(bakary.case_access(his).unwrap().is_some());
}

/// A case taken by `s` (a supervisor: they may do every step) from
/// registration to the BID panel's agenda, through the lifecycle's rules.
fn submitted_case(s: &mut CaseStore, given: &str) -> Uuid {
    let case = s.create_case("uasc", "Agadez").unwrap();
    s.save_form(
        case,
        "registration_bia",
        None,
        values(json!({"given_names": given, "family_name": "Keita", "sex": "female", "age_years": 13,
                      "legitimate_basis": "vital_interests"})),
    )
    .unwrap();
    s.change_stage(case, Stage::Registered, "registered").unwrap();
    s.change_stage(case, Stage::BiaInProgress, "BIA opened").unwrap();
    s.save_form(
        case,
        "registration_bia",
        None,
        values(json!({"risk_level": "medium", "protection_concerns": ["neglect"], "bid_required": true,
            "bid_direction": "separation_from_parents",
            "child_views": "Wants to stay in school.", "heard_alone": true,
            "bia_approval": {"by": "sara", "method": "signature", "date": "2026-05-28"},
            "bia_approval_status": "approved"})),
    )
    .unwrap();
    s.change_stage(case, Stage::BiaCompleted, "BIA signed").unwrap();
    s.save_form(
        case,
        "bid",
        None,
        values(json!({"submission_report": "No family traced; durable solution needed.",
                      "child_interview": "2026-05-20", "child_heard_alone": true,
                      "criteria_views": "Wants to stay in school."})),
    )
    .unwrap();
    s.change_stage(case, Stage::BidPending, "direct referral").unwrap();
    case
}

#[test]
fn the_panel_device_receives_the_submitted_case_records_the_decision_and_the_office_imports_it() {
    let t = TempDir::new().unwrap();
    let mut o = office(&t.path().join("o"));
    let mut sara = device(&t.path().join("s"), "sara", "supervisor");
    let mut panel = device(&t.path().join("p"), "chair", "bid_panel");
    let mut viewer = device(&t.path().join("v"), "analyst", "viewer");
    for d in [&mut sara, &mut panel, &mut viewer] {
        enroll(&mut o, d);
    }
    let submitted = submitted_case(&mut sara, "Mariama");
    let not_submitted = new_case(&mut sara, "Awa");
    up(&mut sara, &mut o);
    down(&mut o, &mut panel);
    down(&mut o, &mut viewer);
    let received: Vec<Uuid> = panel.list_cases().unwrap().cases.iter().map(|c| c.id).collect();
    assert_eq!(received, vec![submitted], "the panel device holds the case submitted to the panel");
    assert!(panel.case_access(not_submitted).unwrap().is_none(), "and no other case");
    assert!(panel.all_events().unwrap().iter().all(|e| e.case_id != not_submitted));
    // A viewer's device holds no case events (aggregates only).
    assert_eq!(viewer.case_count().unwrap(), 0);

    // The panel records its decision on its own device.
    let members: Vec<Value> = (0..3)
        .map(|i| {
            json!({"member": {"name": format!("Member {i}"), "role": "panel", "organisation": "UNHCR"},
                        "organisation": "UNHCR", "role": if i == 0 {"chair"} else {"member"}, "voting": true,
                        "conflict_of_interest_declared": false, "present": true})
        })
        .collect();
    panel
        .save_form(
            submitted,
            "bid",
            None,
            values(json!({"panel_members": members, "panel_decision": "approves_recommendation",
                          "decided_solution": "local_integration", "decision_reasons": "stable, safe placement"})),
        )
        .unwrap();
    let decision = panel.all_events().unwrap().last().unwrap().clone();
    assert_eq!((decision.role, decision.kind), (Role::BidPanel, EventKind::FormSaved));
    let report = up(&mut panel, &mut o);
    assert_eq!(report.summary.new, 1, "the office imports the decision");
    let at_office = o.case_state(submitted).unwrap();
    assert_eq!(at_office.heads_of("bid", None, "decision_reasons"), vec![decision.id]);
    // The panel keeps the case after deciding it, and the decided case
    // reaches the supervisor's device.
    down(&mut o, &mut panel);
    assert!(panel.case_access(submitted).unwrap().is_some());
    down(&mut o, &mut sara);
    assert_eq!(sara.case_state(submitted).unwrap().heads_of("bid", None, "decision_reasons"), vec![decision.id]);
}

// ------------------------------------------------------------------ rules the shells used to hold

#[test]
fn next_steps_come_from_the_library_gate_and_only_for_a_case_the_reader_may_open() {
    let mut p = pair();
    let steps = p.amina.next_steps(p.case).unwrap();
    let registered = steps.iter().find(|n| n.to == Stage::Registered).expect("registration is a next step");
    assert!(registered.roles.contains(&Role::Caseworker));
    // The child's sex and age and the legitimate basis are missing.
    let rules: Vec<&str> = registered.blocked_by.iter().map(|v| v.rule.as_str()).collect();
    assert!(rules.contains(&"registration") && rules.contains(&"R4"), "{rules:?}");
    p.amina
        .save_form(
            p.case,
            "registration_bia",
            None,
            values(json!({"sex": "female", "age_years": 13, "legitimate_basis": "vital_interests"})),
        )
        .unwrap();
    let steps = p.amina.next_steps(p.case).unwrap();
    assert!(steps.iter().find(|n| n.to == Stage::Registered).unwrap().blocked_by.is_empty());
    // The probe is never committed.
    let events = p.amina.all_events().unwrap().len();
    p.amina.next_steps(p.case).unwrap();
    assert_eq!(p.amina.all_events().unwrap().len(), events);
    // Another caseworker learns nothing of the case.
    p.amina.set_actor("bakary", Role::Caseworker).expect("set_actor");
    let err = p.amina.next_steps(p.case).unwrap_err();
    assert!(matches!(err, StoreError::Hidden { reason: HiddenReason::NotAssigned, .. }), "{err}");
    // A stable code and parameters a screen translates, naming only the id.
    assert_eq!(err.code(), "hidden");
    let params = err.params();
    assert_eq!(params.get("reason").map(String::as_str), Some("not_assigned"));
    assert_eq!(params.get("case"), Some(&p.case.to_string()));
    assert!(!format!("{params:?}{err}").contains("Mariama"));
}

#[test]
fn an_empty_or_oversized_attachment_is_refused_by_the_library() {
    let mut p = pair();
    let before = dump(&p.amina);
    let err = p.amina.add_attachment(p.case, "empty.jpg", "image/jpeg", b"").unwrap_err();
    assert!(matches!(err, StoreError::EmptyAttachment), "{err}");
    let big = vec![7u8; fieldcase::model::store::MAX_ATTACHMENT_BYTES as usize + 1];
    let err = p.amina.add_attachment(p.case, "scan.pdf", "application/pdf", &big).unwrap_err();
    assert!(matches!(err, StoreError::AttachmentTooLarge { .. }), "{err}");
    assert_eq!(dump(&p.amina), before);
    assert_eq!(
        fieldcase::model::store::MAX_ATTACHMENT_BYTES,
        fieldcase::sync::format::MAX_ATTACHMENT_BYTES,
        "a case takes no attachment a bundle would not carry"
    );
    let ok = vec![7u8; 1024];
    // R4 (DOMAIN §4.6): a photo only under a consent scoped photo_use; a
    // refused photo leaves no event and no blob.
    let err = p.amina.add_attachment(p.case, "photo.jpg", "image/jpeg", &ok).unwrap_err();
    assert!(
        matches!(&err, StoreError::RuleViolated { violations } if violations.iter().any(|v| v.rule == "R4" && v.message.contains("photo_use"))),
        "{err}"
    );
    assert_eq!(dump(&p.amina), before);
    let blobs = std::fs::read_dir(p.amina.vault().dir().join("blobs")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(blobs, 0, "the refused photo's blob was removed");
    // A document that is not an image needs no photo scope.
    p.amina.add_attachment(p.case, "school-report.pdf", "application/pdf", &ok).unwrap();
    p.amina
        .save_form(
            p.case,
            "registration_bia",
            None,
            values(json!({"legitimate_basis": "consent",
                "consent": {"by": "Mariama", "method": "signature", "date": "2026-01-10"},
                "consent_scopes": ["case_management", "photo_use"]})),
        )
        .unwrap();
    p.amina.add_attachment(p.case, "photo.jpg", "image/jpeg", &ok).unwrap();
    // Withdrawn (a new consent without the scope, R10): no new photo.
    p.amina
        .save_form(
            p.case,
            "registration_bia",
            None,
            values(json!({"consent": {"by": "Mariama", "method": "signature", "date": "2026-02-01"},
            "consent_scopes": ["case_management"]})),
        )
        .unwrap();
    let err = p.amina.add_attachment(p.case, "photo2.png", "IMAGE/PNG", &ok).unwrap_err();
    assert!(matches!(&err, StoreError::RuleViolated { .. }), "{err}");
}
