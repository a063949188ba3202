//! Requests to a partner abroad and their answers (docs/bundle-format.md
//! §11): what a request carries (checked by decrypting it with the
//! partner's key), the consent rule, a round trip between two offices,
//! withdrawal on the partner's side (checked in its vault's files), the
//! partner's receipt, and hostile or replayed answers and receipts.
#[path = "common/cli.rs"]
mod cli_common;
#[path = "../../tests/sync_common.rs"]
mod sync_common;

use std::io::Read;
use std::path::Path;

use chrono::{Days, NaiveDate};
use fieldcase::model::error::StoreError;
use fieldcase::model::event::Role;
use fieldcase::model::store::CaseStore;
use fieldcase::model::tasks::TaskKind;
use fieldcase::sync::format::{self, BundleParts};
use fieldcase::sync::partner_request::{self as pr, Imported, RequestError};
use fieldcase::sync::{self, partners, ImportError};
use fieldcase::vault::SecretString;
use serde_json::{json, Value};
use sync_common::*;
use uuid::Uuid;

/// What the child disclosed: must never leave the office in a request.
const DISCLOSURE: &str = "disclosure-marker: my uncle sold me to the smugglers";
/// A case note's text.
const NOTE: &str = "note-marker-4471 the child cried when speaking of home";
/// Another relative, not the one the request is about.
const OTHER_RELATIVE: &str = "otherrelative-marker Yusuf";
/// Office A's supervisor's passphrase: she sends the requests.
const SARA: &str = "quarry lantern sara velvet orbit";
/// Office B's supervisor's passphrase: she answers.
const OMAR: &str = "quarry lantern omar velvet orbit";
/// The relative the request is about.
const RELATIVE: &str = "Amina Idris";

struct World {
    t: tempfile::TempDir,
    a: CaseStore,
    b: CaseStore,
    c: CaseStore,
    /// A's caseworker, who registered the case.
    d: CaseStore,
    case: Uuid,
    relative: Uuid,
}

fn key_hex(s: &CaseStore) -> String {
    hex::encode(s.vault().device_verifying_key().as_bytes())
}

/// `of` adds `other` as a partner, with the fingerprint `other` shows.
fn add_partner(of: &mut CaseStore, other: &CaseStore, name: &str) {
    let card = partners::card(other).expect("card");
    partners::add(of, name, "SDN", &card.recipient, &card.signing_key, &partners::grouped(&card.fingerprint))
        .expect("add partner");
}

/// Office A (requesting) with a case registered by its caseworker: the
/// child's disclosure, a case note, two relatives in tracing (the request
/// is about one), and with `consent` the child's consent covering
/// cross-border sharing and tracing. Office B is A's partner (each lists
/// the other); office C is a partner of A only.
fn world(consent: bool) -> World {
    let t = tempfile::tempdir().unwrap();
    let mut a = office(&t.path().join("a"));
    let mut b = office(&t.path().join("b"));
    let mut c = office(&t.path().join("c"));
    let mut d = device(&t.path().join("d"), "amina", "caseworker");
    enroll(&mut a, &mut d);
    let case = new_case(&mut d, "Fatima");
    let mut reg = values(json!({
        "family_name": "Haroun",
        "fears_about_return": DISCLOSURE,
        "journey_harm": ["violence_experienced"],
        "wants_tracing": "yes",
        "legitimate_basis": "consent",
    }));
    if consent {
        reg.insert("consent".into(), json!({"by": "Fatima", "method": "signature", "date": "2026-01-10"}));
        reg.insert("consent_scopes".into(), json!(["case_management", "cross_border_transfer", "tracing_disclosure"]));
    }
    d.save_form(case, "registration_bia", None, reg).expect("registration");
    let relative = Uuid::new_v4();
    let tracing = |name: &str, relationship: &str| {
        values(json!({
            "relative": {"name": name}, "relationship": relationship, "last_known_location": "Nyala",
            "child_consents_contact": true, "tracing_status": "not_started", "tracing_safety_check": "safe",
        }))
    };
    d.save_form(case, "family_tracing", Some(relative), tracing(RELATIVE, "mother")).expect("relative");
    d.save_form(case, "family_tracing", Some(Uuid::new_v4()), tracing(OTHER_RELATIVE, "uncle")).expect("other");
    d.add_note(
        case,
        values(json!({"note_datetime": "2026-01-11T10:00:00Z", "author": {"name": "amina"}, "note_type": "contact",
                      "subject": "first talk", "text": NOTE})),
    )
    .expect("note");
    up(&mut d, &mut a);
    add_partner(&mut a, &b, "Partner B");
    add_partner(&mut a, &c, "Partner C");
    add_partner(&mut b, &a, "Office A");
    add_partner(&mut c, &a, "Office A");
    // A data manager sees case metadata only, so may not see or send what a
    // request carries (need-to-know): the office's supervisor sends.
    let e = pr::preview(&a, case, "family_tracing", Some(relative), chrono::Utc::now().date_naive()).unwrap_err();
    assert!(matches!(&e, RequestError::Sync(sync::SyncError::Store(StoreError::Hidden { .. }))), "{e}");
    a.add_person("sara", Role::Supervisor, &SecretString::from(SARA.to_string())).expect("add supervisor");
    a.switch_person("sara", &SecretString::from(SARA.to_string())).expect("switch to the supervisor");
    // Likewise on B: its supervisor reads and answers what it receives.
    b.add_person("omar", Role::Supervisor, &SecretString::from(OMAR.to_string())).expect("add supervisor");
    b.switch_person("omar", &SecretString::from(OMAR.to_string())).expect("switch to the supervisor");
    World { t, a, b, c, d, case, relative }
}

fn send(w: &mut World) -> pr::Sent {
    pr::send(&mut w.a, w.case, "family_tracing", Some(w.relative), "Partner B", &mut |_| {}).expect("send")
}

/// The age plaintext of a bundle, decrypted with the transport key of the
/// vault in `dir` (read from its identity file with the passphrase, not
/// through Fieldcase's reader), as (member path, bytes).
fn decrypt_with_vault_key(dir: &Path, bundle: &[u8]) -> Vec<(String, Vec<u8>)> {
    fn decrypt(id: &dyn age::Identity, bytes: &[u8]) -> Vec<u8> {
        let d = age::Decryptor::new(bytes).expect("an age file");
        let mut r = d.decrypt(std::iter::once(id)).expect("decrypts");
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        out
    }
    let scrypt = age::scrypt::Identity::new(pass());
    let identity: Value =
        serde_json::from_slice(&decrypt(&scrypt, &std::fs::read(dir.join("identity.age")).unwrap())).unwrap();
    let transport: age::x25519::Identity = identity["age_identity"].as_str().unwrap().parse().unwrap();
    let plain = decrypt(&transport, bundle);
    let mut archive = tar::Archive::new(&plain[..]);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).unwrap();
            (path, bytes)
        })
        .collect()
}

#[test]
fn a_tracing_request_carries_only_its_kinds_fields() {
    let mut w = world(true);
    let today = chrono::Utc::now().date_naive();
    let preview = pr::preview(&w.a, w.case, "family_tracing", Some(w.relative), today).expect("preview");
    assert!(preview.blocked_by.is_empty(), "{:?}", preview.blocked_by);
    let sent = send(&mut w);
    assert_eq!(sent.preview, preview, "what is sent is what the preview showed");

    let members = decrypt_with_vault_key(&w.t.path().join("b"), &sent.bundle);
    let names: Vec<&str> = members.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(names, ["manifest.json", "manifest.sig", "events.jsonl", "partner.json"]);
    assert!(members[2].1.is_empty(), "no events travel in a request");
    let all: Vec<u8> = members.iter().flat_map(|(_, b)| b.clone()).collect();
    let text = String::from_utf8_lossy(&all);
    // What the kind shares is there…
    assert!(text.contains("Fatima") && text.contains(RELATIVE) && text.contains("Nyala"));
    // …and nothing else of the case.
    for absent in [DISCLOSURE, NOTE, OTHER_RELATIVE, "violence_experienced", "consent_scopes", "tracing_safety_check"] {
        assert!(!text.contains(absent), "the request carries {absent:?}");
    }
    assert!(!text.contains(&w.case.to_string()), "the case id does not travel");
    let doc: pr::RequestDoc = serde_json::from_slice(&members[3].1).unwrap();
    assert_eq!(doc.shared, preview.shared);
    let fields: Vec<String> = doc.shared.iter().map(|s| format!("{}.{}", s.form, s.field)).collect();
    assert_eq!(
        fields,
        [
            "registration_bia.given_names",
            "registration_bia.family_name",
            "family_tracing.relative",
            "family_tracing.relationship",
            "family_tracing.last_known_location"
        ]
    );
    // Encrypted to the partner only: another office cannot open it.
    assert!(matches!(
        pr::import(&mut w.c, &sent.bundle, true, &mut |_| {}),
        Err(RequestError::Refused(ImportError::WrongRecipient))
    ));
    // The case records the request: status sent, due date, the field names.
    let facts = w.a.facts(w.case).unwrap();
    let rec = &facts.items("partner_request")[0];
    assert_eq!(rec["request_status"], "sent");
    assert_eq!(rec["due_date"], json!((today + Days::new(30)).to_string()));
    assert_eq!(rec["shared_fields"].as_array().unwrap().len(), fields.len());
}

#[test]
fn a_request_without_consent_is_refused_with_the_rule_named() {
    let mut w = world(false);
    let before = full_dump(&w.a);
    let err = pr::send(&mut w.a, w.case, "family_tracing", Some(w.relative), "Partner B", &mut |_| {}).unwrap_err();
    let RequestError::Rules(v) = &err else { panic!("expected a rule refusal, got {err}") };
    assert!(v.iter().any(|r| r.rule == "R4"), "{v:?}");
    assert!(err.to_string().contains("R4"), "the message names the rule: {err}");
    assert_eq!(full_dump(&w.a), before, "nothing recorded, no sequence used");
    // The same rule guards the record itself, whoever writes it (and every
    // vault that imports it): a request record made without the API.
    let record = values(json!({
        "request_id": "x", "request_kind": "family_tracing", "partner": "Partner B", "request_status": "sent",
        "sent_date": "2026-03-01", "due_date": "2026-03-31", "sent_by": {"name": "Office"},
        "shared_fields": ["registration_bia.given_names"], "about_item": w.relative.to_string(),
    }));
    let err = w.a.save_form(w.case, "partner_request", Some(Uuid::new_v4()), record).unwrap_err();
    assert!(
        matches!(&err, fieldcase::model::error::StoreError::RuleViolated { violations } if violations.iter().any(|v| v.rule == "R4")),
        "{err}"
    );
    assert_eq!(full_dump(&w.a), before);

    // With consent, an unsafe tracing check still refuses a tracing request (R8).
    let mut w = world(true);
    w.d.save_form(w.case, "family_tracing", Some(w.relative), values(json!({"tracing_safety_check": "unsafe_other"})))
        .expect("the caseworker records the safety check");
    up(&mut w.d, &mut w.a);
    let err = pr::send(&mut w.a, w.case, "family_tracing", Some(w.relative), "Partner B", &mut |_| {}).unwrap_err();
    assert!(matches!(&err, RequestError::Rules(v) if v.iter().any(|r| r.rule == "R8")), "{err}");
    // A kind that contacts no relative needs only the consent.
    pr::send(&mut w.a, w.case, "follow_up_report", None, "Partner B", &mut |_| {}).expect("follow-up request");
}

#[test]
fn a_full_round_trip_between_two_offices() {
    let mut w = world(true);
    let sent = send(&mut w);
    let today = chrono::Utc::now().date_naive();

    // B: the request arrives as a task with the shared values, read only.
    let before = full_dump(&w.b);
    let dry = pr::import(&mut w.b, &sent.bundle, true, &mut |_| {}).expect("dry run");
    assert_eq!(full_dump(&w.b), before, "a dry run changes nothing");
    assert!(matches!(dry, Imported::Request { replay: false, .. }));
    let got = pr::import(&mut w.b, &sent.bundle, false, &mut |_| {}).expect("request import");
    assert!(
        matches!(&got, Imported::Request { partner, kind, replay: false, .. } if partner == "Office A" && kind == "family_tracing")
    );
    let again = pr::import(&mut w.b, &sent.bundle, false, &mut |_| {}).expect("replayed request");
    assert!(matches!(again, Imported::Request { replay: true, .. }));
    let inbox = pr::received_requests(&w.b, today).unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].status, "received");
    assert_eq!(inbox[0].shared, sent.preview.shared);
    assert_eq!(inbox[0].withheld, None);
    // B's data manager sees that a request came, not what it carries.
    w.b.switch_person("Office", &pass()).expect("to the data manager");
    let seen = pr::received_requests(&w.b, today).unwrap();
    assert!(seen[0].shared.is_empty(), "the shared values are withheld from the data manager");
    assert_eq!(seen[0].withheld, Some(fieldcase::model::visibility::HiddenReason::MetadataOnly));
    w.b.switch_person("omar", &SecretString::from(OMAR.to_string())).expect("back to the supervisor");
    let late = today + Days::new(31);
    assert_eq!(pr::received_requests(&w.b, late).unwrap()[0].status, "overdue");
    // The ordinary import points at the right command.
    assert!(matches!(sync::import_bundle(&mut w.b, &sent.bundle, false, &mut |_| {}), Err(ImportError::WrongKind(_))));

    // A: the request is a task, due then overdue.
    let due_task = |s: &CaseStore, day: NaiveDate| {
        s.tasks(day).unwrap().tasks.into_iter().filter(|t| t.case_id == w.case).map(|t| t.kind).collect::<Vec<_>>()
    };
    assert!(!due_task(&w.a, today).contains(&TaskKind::PartnerRequestDue));
    assert!(due_task(&w.a, today + Days::new(25)).contains(&TaskKind::PartnerRequestDue));
    assert!(due_task(&w.a, late).contains(&TaskKind::PartnerRequestOverdue));

    // B answers: only the kind's answer fields.
    let bad = values(json!({"tracing_status": "family_located", "fears_about_return": "x"}));
    assert!(matches!(pr::answer(&mut w.b, sent.request_id, bad, &mut |_| {}), Err(RequestError::Invalid(_))));
    let answer = values(
        json!({"tracing_status": "family_located", "date_family_located": "2026-02-01", "relative_alive": "alive"}),
    );
    let bundle = pr::answer(&mut w.b, sent.request_id, answer, &mut |_| {}).expect("answer");
    assert!(matches!(
        pr::answer(&mut w.b, sent.request_id, values(json!({"relative_alive": "alive"})), &mut |_| {}),
        Err(RequestError::AlreadyAnswered(_))
    ));

    // A imports the answer into the case.
    let r = pr::import(&mut w.a, &bundle, false, &mut |_| {}).expect("answer import");
    assert_eq!(
        r,
        Imported::Answer {
            request_id: sent.request_id,
            case_id: w.case,
            partner: "Partner B".into(),
            author: "omar".into()
        }
    );
    let facts = w.a.facts(w.case).unwrap();
    let rec = &facts.items("partner_request")[0];
    assert_eq!(rec["request_status"], "answered");
    assert_eq!(rec["answer_mode"], "fieldcase");
    assert_eq!(rec["answered_by"]["organisation"], "Partner B");
    assert!(rec["answer"].as_array().unwrap().contains(&json!({"field": "tracing_status", "value": "family_located"})));
    // The answer is reviewed, not written into the case's tracing record.
    let relative = facts.items("family_tracing").iter().find(|i| i["_item"] == json!(w.relative.to_string())).unwrap();
    assert_eq!(relative["tracing_status"], "not_started");
    // History: the request and the answer, each signed and chained.
    let history = w.a.history(w.case).unwrap();
    let requests: Vec<_> = history.entries.iter().filter(|e| e.form.as_deref() == Some("partner_request")).collect();
    assert_eq!(requests.len(), 2, "the request and its answer");
    assert!(requests[0].summary.contains("request sent to Partner B"), "{}", requests[0].summary);
    // The history names who answered, for which partner, and how.
    assert!(
        requests[1].summary.contains("answer from omar") && requests[1].summary.contains("of Partner B: signed answer"),
        "{}",
        requests[1].summary
    );
    assert!(w.a.verify_history(w.case).is_ok());
    let list = pr::sent_requests(&w.a, late).unwrap();
    assert_eq!((list[0].status.as_str(), list[0].answer_mode.as_deref()), ("answered", Some("fieldcase")));
    assert!(!due_task(&w.a, late).contains(&TaskKind::PartnerRequestOverdue), "an answered request is no task");

    // The answer survives lock and unlock.
    let a_dir = w.t.path().join("a");
    let a = std::mem::replace(&mut w.a, office(&w.t.path().join("a2")));
    a.lock().unwrap();
    let a = reopen(&a_dir);
    assert_eq!(a.facts(w.case).unwrap().items("partner_request")[0]["request_status"], "answered");
}

#[test]
fn a_partner_without_fieldcase_gets_a_printout_and_its_answer_is_recorded_by_hand() {
    let mut w = world(true);
    partners::add_on_paper(&mut w.a, "Paper partner", "TCD").expect("add on paper");
    let sent = pr::send(&mut w.a, w.case, "relationship_verification", Some(w.relative), "Paper partner", &mut |_| {})
        .expect("send");
    assert!(sent.bundle.is_empty(), "no bundle for a partner without Fieldcase");
    let text = sent.printout.expect("a printout");
    assert!(text.starts_with(pr::PLAINTEXT_NOTICE), "the plaintext notice comes first");
    assert!(text.contains(RELATIVE) && text.contains(&sent.request_id.to_string()));
    for absent in [DISCLOSURE, NOTE, OTHER_RELATIVE] {
        assert!(!text.contains(absent), "the printout carries {absent:?}");
    }
    // Only the kind's answer fields, valid for its answer form.
    let before = full_dump(&w.a);
    for bad in [json!({"tracing_status": "verified"}), json!({"relationship_verified": "yes"})] {
        let err = pr::record_by_hand(&mut w.a, sent.request_id, "M. Osman", values(bad)).unwrap_err();
        assert!(matches!(err, RequestError::Invalid(_)), "{err}");
    }
    assert_eq!(full_dump(&w.a), before);
    let answer = values(json!({"relationship_verified": true, "verification_outcome": "verified"}));
    pr::record_by_hand(&mut w.a, sent.request_id, "M. Osman", answer).expect("by hand");
    let rec = w.a.facts(w.case).unwrap().items("partner_request")[0].clone();
    assert_eq!(rec["answer_mode"], "by_hand");
    assert_eq!(rec["answered_by"], json!({"name": "M. Osman", "organisation": "Paper partner"}));
    let history = w.a.history(w.case).unwrap();
    let last = history.entries.iter().rfind(|e| e.form.as_deref() == Some("partner_request")).unwrap();
    assert_eq!(last.summary, "answer from M. Osman of Paper partner: recorded by hand, no signature");
    assert!(matches!(
        pr::record_by_hand(&mut w.a, sent.request_id, "M. Osman", values(json!({"verification_outcome": "verified"}))),
        Err(RequestError::AlreadyAnswered(_))
    ));
    // A withdrawal of a printed request makes no bundle.
    let other = pr::send(&mut w.a, w.case, "follow_up_report", None, "Paper partner", &mut |_| {}).expect("send");
    assert_eq!(pr::withdraw(&mut w.a, other.request_id, "case closed", &mut |_| {}).expect("withdraw"), None);
}

#[test]
fn a_printed_request_comes_as_pdf_with_the_notice_or_not_at_all() {
    let mut w = world(true);
    partners::add_on_paper(&mut w.a, "Paper partner", "TCD").expect("add on paper");
    // Only for a partner without Fieldcase.
    let e = pr::send_printed_pdf(&mut w.a, w.case, "family_tracing", Some(w.relative), "Partner B").unwrap_err();
    assert!(matches!(e, RequestError::Invalid(_)), "{e}");
    let sent =
        pr::send_printed_pdf(&mut w.a, w.case, "family_tracing", Some(w.relative), "Paper partner").expect("pdf");
    let pdf = sent.pdf.expect("the PDF");
    assert!(pdf.starts_with(b"%PDF-"));
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("(CONFIDENTIAL - PLAIN TEXT: this page holds personal data of a child."), "the notice");
    assert!(text.contains(&format!("(Request {}", sent.request_id)), "the request it prints");
    assert!(text.contains(&format!("({RELATIVE})")) || text.contains(RELATIVE), "what it shares");
    for absent in [DISCLOSURE, NOTE, OTHER_RELATIVE] {
        assert!(!text.contains(absent), "the PDF carries {absent:?}");
    }
    // A name the PDF's font cannot print: refused, nothing recorded.
    let arabic = Uuid::new_v4();
    w.d.save_form(
        w.case,
        "family_tracing",
        Some(arabic),
        values(json!({"relative": {"name": "أمينة إدريس"}, "relationship": "aunt", "last_known_location": "Nyala",
            "child_consents_contact": true, "tracing_status": "not_started", "tracing_safety_check": "safe"})),
    )
    .expect("relative");
    up(&mut w.d, &mut w.a);
    let before = full_dump(&w.a);
    let e = pr::send_printed_pdf(&mut w.a, w.case, "family_tracing", Some(arabic), "Paper partner").unwrap_err();
    assert!(matches!(e, RequestError::Pdf(_)) && e.to_string().contains("text version"), "{e}");
    assert_eq!(full_dump(&w.a), before, "a request that cannot be printed is not recorded");
    // The text version still goes.
    let sent = pr::send(&mut w.a, w.case, "family_tracing", Some(arabic), "Paper partner", &mut |_| {}).expect("text");
    assert!(sent.printout.is_some_and(|t| t.contains("أمينة إدريس")));
}

/// Every file of a vault folder decrypted with its own keys, concatenated:
/// journal frames one by one, other age files whole (as tests/erasure.rs).
fn vault_plaintext(dir: &Path) -> Vec<u8> {
    fn decrypt(id: &dyn age::Identity, bytes: &[u8]) -> Option<Vec<u8>> {
        let d = age::Decryptor::new(bytes).ok()?;
        let mut r = d.decrypt(std::iter::once(id)).ok()?;
        let mut out = Vec::new();
        r.read_to_end(&mut out).ok()?;
        Some(out)
    }
    let scrypt = age::scrypt::Identity::new(pass());
    let identity: Value =
        serde_json::from_slice(&decrypt(&scrypt, &std::fs::read(dir.join("identity.age")).unwrap()).unwrap()).unwrap();
    let vault_id: age::x25519::Identity = identity["vault_age_identity"].as_str().unwrap().parse().unwrap();
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut opened = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&p).unwrap();
            if name == "identity.age" {
                continue;
            }
            if name.starts_with("journal-") && !name.ends_with(".tag") {
                let mut rest = &bytes[16.min(bytes.len())..];
                while rest.len() >= 4 {
                    let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                    if rest.len() < 4 + len {
                        break;
                    }
                    if let Some(p) = decrypt(&vault_id, &rest[4..4 + len]) {
                        out.extend(p);
                        opened += 1;
                    }
                    rest = &rest[4 + len..];
                    // A frame's tag follows it (docs/vault-format.md §4).
                    rest = &rest[32.min(rest.len())..];
                }
            } else if let Some(p) = decrypt(&vault_id, &bytes) {
                out.extend(p);
                opened += 1;
            }
        }
    }
    assert!(opened > 0, "the scan read nothing");
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn a_withdrawn_request_is_erased_on_the_partner_side() {
    let mut w = world(true);
    let sent = send(&mut w);
    pr::import(&mut w.b, &sent.bundle, false, &mut |_| {}).expect("request import");
    let b_dir = w.t.path().join("b");
    // The scan must see the request while B holds it, or it proves nothing.
    let b = std::mem::replace(&mut w.b, office(&w.t.path().join("b2")));
    b.lock().unwrap();
    assert!(contains(&vault_plaintext(&b_dir), RELATIVE), "B's files hold the request before the withdrawal");
    w.b = reopen(&b_dir);

    assert!(matches!(pr::withdraw(&mut w.a, sent.request_id, " ", &mut |_| {}), Err(RequestError::Invalid(_))));
    let withdrawal = pr::withdraw(&mut w.a, sent.request_id, "the child no longer wants tracing", &mut |_| {})
        .expect("withdraw")
        .expect("a partner with Fieldcase gets a bundle");
    let rec = w.a.facts(w.case).unwrap().items("partner_request")[0].clone();
    assert_eq!(rec["request_status"], "withdrawn");
    assert_eq!(pr::sent_requests(&w.a, chrono::Utc::now().date_naive()).unwrap()[0].status, "withdrawn");

    // B deletes what it received, keeping a tombstone.
    let r = pr::import(&mut w.b, &withdrawal, false, &mut |_| {}).expect("withdrawal import");
    assert!(matches!(r, Imported::Withdrawn { replay: false, .. }));
    let inbox = pr::received_requests(&w.b, chrono::Utc::now().date_naive()).unwrap();
    assert_eq!(inbox[0].status, "withdrawn");
    assert!(inbox[0].shared.is_empty(), "the shared values are deleted");
    assert!(matches!(
        pr::answer(&mut w.b, sent.request_id, values(json!({"relative_alive": "alive"})), &mut |_| {}),
        Err(RequestError::Withdrawn(_))
    ));
    let again = pr::import(&mut w.b, &withdrawal, false, &mut |_| {}).expect("again");
    assert!(matches!(again, Imported::Withdrawn { replay: true, .. }));
    // The request received again after its withdrawal is not kept.
    assert!(matches!(
        pr::import(&mut w.b, &sent.bundle, false, &mut |_| {}),
        Ok(Imported::Request { replay: true, .. })
    ));
    assert!(pr::received_requests(&w.b, chrono::Utc::now().date_naive()).unwrap()[0].shared.is_empty());

    // Nothing of what the request carried is left in B's files.
    let b = std::mem::replace(&mut w.b, office(&w.t.path().join("b3")));
    b.lock().unwrap();
    let plain = vault_plaintext(&b_dir);
    for gone in [RELATIVE, "Fatima", "Nyala"] {
        assert!(!contains(&plain, gone), "{gone:?} is still in B's vault files");
    }
    assert!(contains(&plain, &sent.request_id.to_string()), "the tombstone is kept");
}

/// A partner bundle made from scratch in `sender`'s name, signed with
/// `key`, encrypted to `to`, carrying `doc` as partner.json.
fn forged(sender: &CaseStore, key: &ed25519_dalek::SigningKey, to: &CaseStore, doc: &Value) -> Vec<u8> {
    forged_kind(sender, key, to, doc, format::BundleKind::PartnerAnswer)
}

/// [`forged`] of any partner kind.
fn forged_kind(
    sender: &CaseStore,
    key: &ed25519_dalek::SigningKey,
    to: &CaseStore,
    doc: &Value,
    kind: format::BundleKind,
) -> Vec<u8> {
    let dev = sender.vault().device();
    let manifest = format::Manifest {
        format: format::FORMAT.into(),
        version: format::VERSION_PARTNER,
        bundle_id: Uuid::now_v7(),
        kind,
        sender: format::Sender {
            device_id: dev.device_id,
            name: dev.device_name.clone(),
            signing_key: key_hex(sender),
            recipient: sync::recipient(sender),
        },
        recipients: vec![sync::recipient(to)],
        office_id: dev.device_id,
        created_hlc: Default::default(),
        sender_seq: 1000,
        prev_bundle_sha256: None,
        version_vector: Default::default(),
        acks: Default::default(),
        received: Default::default(),
        members: Vec::new(),
        counts: Default::default(),
        refused: Vec::new(),
    };
    let r: age::x25519::Recipient = sync::recipient(to).parse().unwrap();
    let bytes = serde_json::to_vec(doc).unwrap();
    let parts = BundleParts { manifest, events: &[], roster: None, receipt: Some(&bytes), config: None };
    format::write_bundle(parts, key, &[r], &mut |_| {}).unwrap().0
}

#[test]
fn hostile_and_replayed_answers_are_refused_with_the_vault_unchanged() {
    let mut w = world(true);
    let sent = send(&mut w);
    pr::import(&mut w.b, &sent.bundle, false, &mut |_| {}).expect("request import");
    let doc = |values: Value| {
        json!({"format": pr::ANSWER_FORMAT, "version": 1, "request_id": sent.request_id,
               "author": {"user": "osman", "role": "caseworker"}, "answered_at": "2026-02-02T10:00:00Z",
               "values": values})
    };
    let good = doc(json!({"tracing_status": "family_located"}));
    let stranger = office(&w.t.path().join("s"));
    let before = full_dump(&w.a);
    let refused = |w: &mut World, bundle: &[u8]| {
        let err = pr::import(&mut w.a, bundle, false, &mut |_| {}).unwrap_err();
        assert_eq!(full_dump(&w.a), before, "refused ({err}) but the vault changed");
        err
    };
    // A stranger (no partner of A) signing in its own name.
    let e = {
        let f = forged(&stranger, stranger.vault().device_key(), &w.a, &good);
        refused(&mut w, &f)
    };
    assert!(matches!(e, RequestError::Refused(ImportError::WrongKind(_))), "{e}");
    // Signed in B's name with another key (forged signature).
    let e = {
        let f = forged(&w.b, w.c.vault().device_key(), &w.a, &good);
        refused(&mut w, &f)
    };
    assert!(matches!(e, RequestError::Refused(ImportError::BadSignature { .. })), "{e}");
    // C, a partner of A, answering a request sent to B.
    let e = {
        let f = forged(&w.c, w.c.vault().device_key(), &w.a, &good);
        refused(&mut w, &f)
    };
    assert!(matches!(e, RequestError::WrongPartner { .. }), "{e}");
    // B's key, but a field the kind's answer does not carry, or a bad value.
    let e = {
        let f = forged(&w.b, w.b.vault().device_key(), &w.a, &doc(json!({"fears_about_return": "x"})));
        refused(&mut w, &f)
    };
    assert!(matches!(e, RequestError::Invalid(_)), "{e}");
    let e = {
        let f = forged(&w.b, w.b.vault().device_key(), &w.a, &doc(json!({"tracing_status": "gone"})));
        refused(&mut w, &f)
    };
    assert!(matches!(e, RequestError::Invalid(_)), "{e}");
    // An answer to a request A never sent.
    let mut unknown = good.clone();
    unknown["request_id"] = json!(Uuid::new_v4());
    let e = {
        let f = forged(&w.b, w.b.vault().device_key(), &w.a, &unknown);
        refused(&mut w, &f)
    };
    assert!(matches!(e, RequestError::UnknownRequest(_)), "{e}");
    // An unknown member in partner.json.
    let mut extra = good.clone();
    extra["case_id"] = json!(w.case);
    let e = {
        let f = forged(&w.b, w.b.vault().device_key(), &w.a, &extra);
        refused(&mut w, &f)
    };
    assert!(matches!(e, RequestError::Refused(ImportError::Malformed { .. })), "{e}");
    // The real answer, altered on the way.
    let answer = pr::answer(&mut w.b, sent.request_id, values(json!({"relative_alive": "dead"})), &mut |_| {}).unwrap();
    let mut cut = answer.clone();
    cut.truncate(cut.len() - 20);
    refused(&mut w, &cut);

    // The real answer is taken once; its copy is refused as a replay.
    pr::import(&mut w.a, &answer, false, &mut |_| {}).expect("the answer");
    let after = full_dump(&w.a);
    let e = pr::import(&mut w.a, &answer, false, &mut |_| {}).unwrap_err();
    assert!(matches!(e, RequestError::Replay(_)), "{e}");
    assert_eq!(full_dump(&w.a), after);
    // A second answer (another bundle) to an answered request.
    let second = forged(&w.b, w.b.vault().device_key(), &w.a, &good);
    let e = pr::import(&mut w.a, &second, false, &mut |_| {}).unwrap_err();
    assert!(matches!(e, RequestError::AlreadyAnswered(_)), "{e}");
    assert_eq!(full_dump(&w.a), after);
}

#[test]
fn a_receipt_round_trip_marks_the_request_received() {
    let mut w = world(true);
    let sent = send(&mut w);
    let today = chrono::Utc::now().date_naive();
    assert_eq!(pr::sent_requests(&w.a, today).unwrap()[0].status, "sent");
    // No receipt for a request B does not hold.
    assert!(matches!(pr::receipt(&mut w.b, sent.request_id, &mut |_| {}), Err(RequestError::UnknownRequest(_))));
    pr::import(&mut w.b, &sent.bundle, false, &mut |_| {}).expect("request import");
    let receipt = pr::receipt(&mut w.b, sent.request_id, &mut |_| {}).expect("receipt");

    // Encrypted to A only, signed by B: C cannot open it, and the ordinary
    // sync import points at the right command.
    assert!(matches!(
        pr::import(&mut w.c, &receipt, true, &mut |_| {}),
        Err(RequestError::Refused(ImportError::WrongRecipient))
    ));
    assert!(matches!(sync::import_bundle(&mut w.a, &receipt, true, &mut |_| {}), Err(ImportError::WrongKind(_))));
    let members = decrypt_with_vault_key(&w.t.path().join("a"), &receipt);
    let doc: pr::ReceiptDoc = serde_json::from_slice(&members[3].1).unwrap();
    assert_eq!(doc.request_id, sent.request_id);
    let manifest: Value = serde_json::from_slice(&members[0].1).unwrap();
    assert_eq!(manifest["kind"], "partner_receipt");
    assert_eq!(manifest["version"], json!(format::VERSION_PARTNER_RECEIPT));
    let text = String::from_utf8_lossy(&members[3].1);
    assert!(!text.contains(RELATIVE) && !text.contains("Fatima"), "a receipt carries no shared value");

    // A: a dry run changes nothing, the import records `received`.
    let before = full_dump(&w.a);
    let dry = pr::import(&mut w.a, &receipt, true, &mut |_| {}).expect("dry run");
    assert!(matches!(dry, Imported::Receipt { changed: true, .. }));
    assert_eq!(full_dump(&w.a), before);
    let got = pr::import(&mut w.a, &receipt, false, &mut |_| {}).expect("receipt import");
    assert_eq!(
        got,
        Imported::Receipt { request_id: sent.request_id, case_id: w.case, partner: "Partner B".into(), changed: true }
    );
    let rec = w.a.facts(w.case).unwrap().items("partner_request")[0].clone();
    assert_eq!(rec["request_status"], "received");
    assert_eq!(rec["received_date"], json!(today.to_string()));
    assert_eq!(pr::sent_requests(&w.a, today).unwrap()[0].status, "received");
    let late = today + Days::new(31);
    assert_eq!(pr::sent_requests(&w.a, late).unwrap()[0].status, "overdue", "received is still waiting");
    let kinds: Vec<_> = w.a.tasks(late).unwrap().tasks.into_iter().map(|t| t.kind).collect();
    assert!(kinds.contains(&TaskKind::PartnerRequestOverdue), "a received request is still a task");
    let history = w.a.history(w.case).unwrap();
    let requests: Vec<_> = history.entries.iter().filter(|e| e.form.as_deref() == Some("partner_request")).collect();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].summary, format!("the partner's receipt: request received on {today}"));
    assert!(w.a.verify_history(w.case).is_ok());

    // The same receipt again is a replay: refused, nothing changes.
    let after = full_dump(&w.a);
    assert!(matches!(pr::import(&mut w.a, &receipt, false, &mut |_| {}), Err(RequestError::Replay(_))));
    assert_eq!(full_dump(&w.a), after);
    // A receipt written again (another bundle) is a reported no-op.
    let again = pr::receipt(&mut w.b, sent.request_id, &mut |_| {}).expect("receipt again");
    let r = pr::import(&mut w.a, &again, false, &mut |_| {}).expect("second receipt");
    assert!(matches!(r, Imported::Receipt { changed: false, .. }));
    assert_eq!(full_dump(&w.a), after);

    // The answer is taken from `received` as from `sent`.
    let answer =
        pr::answer(&mut w.b, sent.request_id, values(json!({"tracing_status": "family_located"})), &mut |_| {})
            .expect("answer");
    pr::import(&mut w.a, &answer, false, &mut |_| {}).expect("answer import");
    assert_eq!(pr::sent_requests(&w.a, late).unwrap()[0].status, "answered");
}

#[test]
fn forged_and_replayed_receipts_are_refused_with_the_vault_unchanged() {
    let mut w = world(true);
    let sent = send(&mut w);
    pr::import(&mut w.b, &sent.bundle, false, &mut |_| {}).expect("request import");
    let doc = |request_id: Uuid, request_bundle: Uuid| {
        json!({"format": pr::RECEIPT_FORMAT, "version": 1, "request_id": request_id,
               "request_bundle": request_bundle, "received_at": "2026-02-02T10:00:00Z"})
    };
    let bundle_id = |bundle: &[u8]| {
        let m = decrypt_with_vault_key(&w.t.path().join("b"), bundle);
        let v: Value = serde_json::from_slice(&m[0].1).unwrap();
        v["bundle_id"].as_str().unwrap().parse::<Uuid>().unwrap()
    };
    let request_bundle = bundle_id(&sent.bundle);
    let good = doc(sent.request_id, request_bundle);
    let kind = format::BundleKind::PartnerReceipt;
    let stranger = office(&w.t.path().join("s"));
    let before = full_dump(&w.a);
    let refused = |w: &mut World, bundle: &[u8]| {
        let err = pr::import(&mut w.a, bundle, false, &mut |_| {}).unwrap_err();
        assert_eq!(full_dump(&w.a), before, "refused ({err}) but the vault changed");
        err
    };
    // A stranger signing in its own name.
    let f = forged_kind(&stranger, stranger.vault().device_key(), &w.a, &good, kind);
    let e = refused(&mut w, &f);
    assert!(matches!(e, RequestError::Refused(ImportError::WrongKind(_))), "{e}");
    // In B's name, signed with C's key.
    let f = forged_kind(&w.b, w.c.vault().device_key(), &w.a, &good, kind);
    let e = refused(&mut w, &f);
    assert!(matches!(e, RequestError::Refused(ImportError::BadSignature { .. })), "{e}");
    // C, a partner of A, acknowledging a request sent to B.
    let f = forged_kind(&w.c, w.c.vault().device_key(), &w.a, &good, kind);
    let e = refused(&mut w, &f);
    assert!(matches!(e, RequestError::WrongPartner { .. }), "{e}");
    // B's key, but a request A never sent, or another bundle than the one sent.
    let f = forged_kind(&w.b, w.b.vault().device_key(), &w.a, &doc(Uuid::new_v4(), request_bundle), kind);
    let e = refused(&mut w, &f);
    assert!(matches!(e, RequestError::UnknownRequest(_)), "{e}");
    let f = forged_kind(&w.b, w.b.vault().device_key(), &w.a, &doc(sent.request_id, Uuid::new_v4()), kind);
    let e = refused(&mut w, &f);
    assert!(matches!(e, RequestError::Refused(ImportError::Malformed { .. })), "{e}");
    // An unknown key in partner.json, and a bad date.
    let mut extra = good.clone();
    extra["shared"] = json!([]);
    let f = forged_kind(&w.b, w.b.vault().device_key(), &w.a, &extra, kind);
    assert!(matches!(refused(&mut w, &f), RequestError::Refused(ImportError::Malformed { .. })));
    let mut bad_date = good.clone();
    bad_date["received_at"] = json!("yesterday");
    let f = forged_kind(&w.b, w.b.vault().device_key(), &w.a, &bad_date, kind);
    assert!(matches!(refused(&mut w, &f), RequestError::Refused(ImportError::Malformed { .. })));
    // The real receipt, altered on the way.
    let receipt = pr::receipt(&mut w.b, sent.request_id, &mut |_| {}).expect("receipt");
    let mut cut = receipt.clone();
    cut.truncate(cut.len() - 20);
    refused(&mut w, &cut);

    // Taken once; replayed, refused; after a withdrawal, refused.
    let second = pr::receipt(&mut w.b, sent.request_id, &mut |_| {}).expect("another receipt");
    pr::import(&mut w.a, &receipt, false, &mut |_| {}).expect("the receipt");
    let after = full_dump(&w.a);
    assert!(matches!(pr::import(&mut w.a, &receipt, false, &mut |_| {}), Err(RequestError::Replay(_))));
    assert_eq!(full_dump(&w.a), after);
    let withdrawal = pr::withdraw(&mut w.a, sent.request_id, "found another way", &mut |_| {}).unwrap().unwrap();
    let after = full_dump(&w.a);
    assert!(matches!(pr::import(&mut w.a, &second, false, &mut |_| {}), Err(RequestError::Withdrawn(_))));
    assert_eq!(full_dump(&w.a), after);
    // And B writes no receipt for a request withdrawn.
    pr::import(&mut w.b, &withdrawal, false, &mut |_| {}).expect("withdrawal import");
    assert!(matches!(pr::receipt(&mut w.b, sent.request_id, &mut |_| {}), Err(RequestError::Withdrawn(_))));
}

#[test]
fn a_partner_is_added_only_with_the_fingerprint_of_its_keys() {
    let t = tempfile::tempdir().unwrap();
    let mut a = office(&t.path().join("a"));
    let b = office(&t.path().join("b"));
    let c = office(&t.path().join("c"));
    let card = partners::card(&b).unwrap();
    // C's recipient swapped in on the way: the fingerprint B read out differs.
    let before = full_dump(&a);
    let err =
        partners::add(&mut a, "B", "SDN", &sync::recipient(&c), &card.signing_key, &card.fingerprint).unwrap_err();
    assert!(matches!(err, partners::PartnerError::Fingerprint { .. }), "{err}");
    assert_eq!(full_dump(&a), before);
    let serial = sync::exchange::roster(&a).unwrap().unwrap().roster.serial;
    partners::add(&mut a, "B", "SDN", &card.recipient, &card.signing_key, &card.fingerprint.to_uppercase()).unwrap();
    let roster = sync::exchange::roster(&a).unwrap().unwrap();
    assert_eq!(roster.roster.serial, serial + 1, "the roster is signed again");
    assert_eq!(partners::list(&a).unwrap()[0].name, "B");
    // The office's devices receive the list with the roster.
    let mut d = device(&t.path().join("d"), "amina", "caseworker");
    enroll(&mut a, &mut d);
    assert_eq!(partners::list(&d).unwrap().len(), 1);
}

#[test]
fn hostile_requests_and_withdrawals_are_refused_on_the_partner_side() {
    let mut w = world(true);
    add_partner(&mut w.b, &w.c, "Partner C");
    let sent = send(&mut w);
    let members = decrypt_with_vault_key(&w.t.path().join("b"), &sent.bundle);
    let mut doc: Value = serde_json::from_slice(&members[3].1).unwrap();
    let before = full_dump(&w.b);
    let refused = |w: &mut World, bundle: &[u8]| {
        let err = pr::import(&mut w.b, bundle, false, &mut |_| {}).unwrap_err();
        assert_eq!(full_dump(&w.b), before, "refused ({err}) but the vault changed");
        err
    };
    // A request in A's name carrying more than its kind shares.
    let mut more = doc.clone();
    more["shared"]
        .as_array_mut()
        .unwrap()
        .push(json!({"form": "registration_bia", "field": "fears_about_return", "value": DISCLOSURE}));
    let f = forged_kind(&w.a, w.a.vault().device_key(), &w.b, &more, format::BundleKind::PartnerRequest);
    assert!(matches!(refused(&mut w, &f), RequestError::Refused(ImportError::Malformed { .. })));
    // A request from an office that is not B's partner.
    let stranger = office(&w.t.path().join("s"));
    let f = forged_kind(&stranger, stranger.vault().device_key(), &w.b, &doc, format::BundleKind::PartnerRequest);
    assert!(matches!(refused(&mut w, &f), RequestError::Refused(ImportError::WrongKind(_))));
    // The real request is kept; C, another partner of B, cannot withdraw it.
    pr::import(&mut w.b, &sent.bundle, false, &mut |_| {}).expect("request");
    let before = full_dump(&w.b);
    let withdrawal =
        json!({"format": pr::WITHDRAWAL_FORMAT, "version": 1, "request_id": sent.request_id, "reason": "x"});
    let f = forged_kind(&w.c, w.c.vault().device_key(), &w.b, &withdrawal, format::BundleKind::PartnerWithdrawal);
    let err = pr::import(&mut w.b, &f, false, &mut |_| {}).unwrap_err();
    assert!(matches!(err, RequestError::Refused(ImportError::Malformed { .. })), "{err}");
    assert_eq!(full_dump(&w.b), before);
    assert_eq!(pr::received_requests(&w.b, chrono::Utc::now().date_naive()).unwrap()[0].shared, sent.preview.shared);
    // A second request with the same id from another partner is refused too.
    doc["from"]["office_name"] = json!("C");
    let f = forged_kind(&w.c, w.c.vault().device_key(), &w.b, &doc, format::BundleKind::PartnerRequest);
    assert!(pr::import(&mut w.b, &f, false, &mut |_| {}).is_err());
    assert_eq!(full_dump(&w.b), before);
}

/// The commands of README, end to end on two office vaults: preview, send,
/// import, the task, answer (values on standard input), answer import.
#[test]
fn the_command_line_round_trip() {
    use cli_common::{ok, run, PASS};
    let World { t, a, b, c, d, case, relative } = world(true);
    for s in [a, b, c, d] {
        s.lock().unwrap();
    }
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    let (case, relative) = (case.to_string(), relative.to_string());
    // Requests are seen and sent by the supervisor (the data manager sees
    // metadata only).
    let run_sara = |dir: &Path, args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_fieldcase"))
            .arg("--vault")
            .arg(dir)
            .args(args)
            .env("FIELDCASE_AS", "sara")
            .env("FIELDCASE_PASSPHRASE", SARA)
            .env("FIELDCASE_TEST_SCRYPT_LOG_N", "10")
            .output()
            .expect("run fieldcase")
    };
    assert!(!run(&a, &["request", "preview", &case, "--kind", "family_tracing", "--about", &relative])
        .status
        .success());
    let preview = ok(run_sara(&a, &["request", "preview", &case, "--kind", "family_tracing", "--about", &relative]));
    assert!(preview.contains(RELATIVE) && !preview.contains(DISCLOSURE) && !preview.contains("REFUSED"), "{preview}");
    let req = t.path().join("req.fcb");
    let req_s = req.to_str().unwrap();
    let out = ok(run_sara(
        &a,
        &[
            "request",
            "send",
            &case,
            "--kind",
            "family_tracing",
            "--about",
            &relative,
            "--to",
            "Partner B",
            "--out",
            req_s,
        ],
    ));
    let id =
        out.split("Wrote request ").nth(1).and_then(|r| r.split_whitespace().next()).expect("request id").to_string();
    let rcpt = t.path().join("rcpt.fcb");
    let got = ok(run(&b, &["request", "import", req_s, "--receipt", rcpt.to_str().unwrap()]));
    assert!(got.contains("Received family_tracing request") && got.contains("Wrote the receipt"), "{got}");
    assert!(ok(run(&a, &["answer", "import", rcpt.to_str().unwrap()])).contains("Partner B received request"));
    let list: Value = serde_json::from_str(&ok(run(&a, &["request", "list", "--json"]))).unwrap();
    assert_eq!(list["sent"][0]["status"], "received");
    assert!(ok(run(&b, &["tasks"])).contains(&format!("family_tracing request {id} from Office A")));
    let ans = t.path().join("ans.fcb");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fieldcase"))
        .args(["--vault", b.to_str().unwrap(), "request", "answer", &id, "--out", ans.to_str().unwrap()])
        .env("FIELDCASE_PASSPHRASE", PASS)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), br#"{"tracing_status": "family_located"}"#).unwrap();
    ok(child.wait_with_output().unwrap());
    assert!(ok(run(&a, &["answer", "import", ans.to_str().unwrap()])).contains("recorded in case"));
    let list: Value = serde_json::from_str(&ok(run(&a, &["request", "list", "--json"]))).unwrap();
    assert_eq!(list["sent"][0]["status"], "answered");
    // The answer cannot be imported twice.
    assert!(!run(&a, &["answer", "import", ans.to_str().unwrap()]).status.success());
    // A partner without Fieldcase: the request as PDF on standard output.
    ok(run(&a, &["partner", "add", "--name", "Paper partner", "--country", "TCD", "--on-paper"]));
    let out = run_sara(&a, &["request", "send", &case, "--kind", "follow_up_report", "--to", "Paper partner", "--pdf"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.stdout.starts_with(b"%PDF-") && String::from_utf8_lossy(&out.stdout).contains("(CONFIDENTIAL - PLAIN TEXT")
    );
}
