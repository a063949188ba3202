//! Case transfer between offices (docs/bundle-format.md §9): transfer bundle,
//! receipt, and the hostile cases (forged, wrong key, replayed receipt,
//! tampered transfer).
#[path = "common/cli.rs"]
mod cli_common;
#[path = "../../tests/sync_common.rs"]
mod sync_common;

use fieldcase::model::lifecycle::Stage;
use fieldcase::model::store::CaseStore;
use fieldcase::sync::format::{self, BundleParts};
use fieldcase::sync::transfer::{self, Decision, Receipt, TransferError};
use fieldcase::sync::{self, ImportError};
use serde_json::json;
use sync_common::*;
use uuid::Uuid;

fn key_hex(s: &CaseStore) -> String {
    hex::encode(s.vault().device_verifying_key().as_bytes())
}

struct World {
    _t: tempfile::TempDir,
    a: CaseStore,
    b: CaseStore,
    c: CaseStore,
    case: Uuid,
}

/// Office A with a caseworker device that registers a case and records the
/// transfer consent (R4), synced up to A; office B (receiver) and office C
/// (a stranger).
fn world() -> World {
    let t = tempfile::tempdir().unwrap();
    let mut a = office(&t.path().join("a"));
    let b = office(&t.path().join("b"));
    let c = office(&t.path().join("c"));
    let mut d = device(&t.path().join("d"), "amina", "caseworker");
    enroll(&mut a, &mut d);
    let case = new_case(&mut d, "Fatima");
    d.save_form(
        case,
        "closure_transfer",
        None,
        values(json!({"transfer_consent": {"by": "Fatima", "method": "signature", "date": "2026-01-10"}})),
    )
    .expect("consent");
    consent_to_transfer(&mut d, case);
    up(&mut d, &mut a);
    World { _t: t, a, b, c, case }
}

/// The child's consent with the scope a transfer needs (R4).
fn consent_to_transfer(s: &mut fieldcase::model::store::CaseStore, case: uuid::Uuid) {
    s.save_form(
        case,
        "registration_bia",
        None,
        values(json!({"legitimate_basis": "consent",
            "consent": {"by": "Fatima", "method": "signature", "date": "2026-01-10"},
            "consent_scopes": ["case_management", "cross_border_transfer"]})),
    )
    .expect("consent scopes");
}

fn send(w: &mut World) -> Vec<u8> {
    let to = sync::recipient(&w.b);
    let key = key_hex(&w.b);
    transfer::transfer_case(&mut w.a, w.case, &to, &key, &mut |_| {}).expect("transfer")
}

#[test]
fn accepted_transfer_moves_the_case_and_makes_it_read_only_at_the_sender() {
    let mut w = world();
    let bundle = send(&mut w);
    // The case stays open at the sender until the receipt.
    assert!(w.a.facts(w.case).unwrap().stage.is_open());
    // Preview on the receiver with the ordinary import --dry-run.
    let before_b = full_dump(&w.b);
    let preview = sync::import_bundle(&mut w.b, &bundle, true, &mut |_| {}).expect("preview");
    assert_eq!(preview.preview.new_cases, vec![w.case]);
    assert_eq!(full_dump(&w.b), before_b);
    // A plain import refuses: a transfer needs an answer.
    assert!(matches!(sync::import_bundle(&mut w.b, &bundle, false, &mut |_| {}), Err(ImportError::WrongKind(_))));
    assert_eq!(full_dump(&w.b), before_b);

    let (report, receipt) =
        transfer::answer_transfer(&mut w.b, &bundle, Decision::Accept, &mut |_| {}).expect("accept");
    assert_eq!(report.transfer.as_ref().unwrap().status, "accepted");
    assert_eq!(report.sender_key, key_hex(&w.a), "the sender's office key is reported for comparison");
    // B holds the full history, signatures checked at import, audit chain intact.
    let mut ea: Vec<Uuid> = w.a.case_events(w.case).unwrap().iter().map(|e| e.id).collect();
    let mut eb: Vec<Uuid> = w.b.case_events(w.case).unwrap().iter().map(|e| e.id).collect();
    ea.sort();
    eb.sort();
    assert_eq!(ea, eb);
    assert!(eb.len() >= 3);
    assert_eq!(w.b.verify_history(w.case).unwrap(), eb.len());
    assert!(w.b.facts(w.case).unwrap().stage.is_open());
    // B survives a reopen (journal replay re-verifies nothing is lost).
    let b_dir = w._t.path().join("b");
    let b = std::mem::replace(&mut w.b, office(&w._t.path().join("b2")));
    b.lock().unwrap();
    let b = reopen(&b_dir);
    assert_eq!(b.case_events(w.case).unwrap().len(), eb.len());

    // A imports the receipt.
    let r = sync::import_bundle(&mut w.a, &receipt, false, &mut |_| {}).expect("receipt");
    assert!(!r.replay);
    let facts = w.a.facts(w.case).unwrap();
    assert_eq!(facts.stage, Stage::TransferredOut);
    assert!(facts.stage.is_read_only());
    assert_eq!(facts.str_value("closure_transfer", "transfer_status"), Some("accepted"));
    assert!(w.a.verify_history(w.case).is_ok());
    // Read-only: a data manager's transfer field edit is refused now.
    assert!(w.a.save_form(w.case, "closure_transfer", None, values(json!({"transfer_status": "rejected"}))).is_err());
    let sent = transfer::sent_transfers(&w.a).unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].2, "accepted");

    // Replayed receipt: harmless no-op.
    let before = full_dump(&w.a);
    let again = sync::import_bundle(&mut w.a, &receipt, false, &mut |_| {}).expect("replay");
    assert!(again.replay);
    assert_eq!(full_dump(&w.a), before);
    // Replayed transfer at B: no-op preview, and answering again remakes the
    // same receipt (a lost receipt can be remade), which A treats as a replay.
    let mut b = b;
    let (_, receipt2) =
        transfer::answer_transfer(&mut b, &bundle, Decision::Accept, &mut |_| {}).expect("answer again");
    assert_eq!(b.case_events(w.case).unwrap().len(), eb.len());
    assert!(
        transfer::answer_transfer(&mut b, &bundle, Decision::Reject("changed my mind".into()), &mut |_| {}).is_err()
    );
    let r2 = sync::import_bundle(&mut w.a, &receipt2, false, &mut |_| {}).expect("remade receipt");
    assert!(r2.replay);
    assert_eq!(w.a.facts(w.case).unwrap().stage, Stage::TransferredOut);
}

#[test]
fn rejected_transfer_keeps_the_case_open_with_the_reason() {
    let mut w = world();
    let bundle = send(&mut w);
    // A second transfer while one is pending is refused.
    let to = sync::recipient(&w.c);
    assert!(matches!(
        transfer::transfer_case(&mut w.a, w.case, &to, &key_hex(&w.c), &mut |_| {}),
        Err(TransferError::Pending { .. })
    ));
    let (report, receipt) =
        transfer::answer_transfer(&mut w.b, &bundle, Decision::Reject("no capacity in Niamey".into()), &mut |_| {})
            .expect("reject");
    assert_eq!(report.transfer.as_ref().unwrap().status, "rejected");
    assert!(w.b.case_events(w.case).unwrap().is_empty(), "a rejected case is not kept");
    assert_eq!(w.b.case_count().unwrap(), 0);
    let r = sync::import_bundle(&mut w.a, &receipt, false, &mut |_| {}).expect("receipt");
    assert_eq!(r.transfer.as_ref().unwrap().reason, "no capacity in Niamey");
    let facts = w.a.facts(w.case).unwrap();
    assert!(facts.stage.is_open());
    assert_eq!(facts.str_value("closure_transfer", "transfer_status"), Some("rejected"));
    let sent = transfer::sent_transfers(&w.a).unwrap();
    assert_eq!((sent[0].2.as_str(), sent[0].3.as_str()), ("rejected", "no capacity in Niamey"));
    // The case can be offered elsewhere afterwards.
    transfer::transfer_case(&mut w.a, w.case, &to, &key_hex(&w.c), &mut |_| {}).expect("transfer to C");
}

/// A bundle made from scratch in the name of `sender` (its ids and keys in
/// the manifest), signed with `key`, encrypted to `to`.
fn bundle_from(
    sender: &CaseStore,
    key: &ed25519_dalek::SigningKey,
    to: &CaseStore,
    kind: format::BundleKind,
    events: &[fieldcase::model::event::Event],
    roster: Option<&[u8]>,
    receipt: Option<&[u8]>,
) -> Vec<u8> {
    let dev = sender.vault().device();
    let manifest = format::Manifest {
        format: format::FORMAT.into(),
        version: format::VERSION,
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
    format::write_bundle(BundleParts { manifest, events, roster, receipt, config: None }, key, &[r], &mut |_| {})
        .unwrap()
        .0
}

/// A receipt in B's name for `transfer`, signed with `key`, for A.
fn receipt_from(w: &World, key: &ed25519_dalek::SigningKey, transfer: Uuid, status: &str) -> Vec<u8> {
    let r = Receipt {
        format: transfer::RECEIPT_FORMAT.into(),
        transfer_bundle_id: transfer,
        case_id: w.case,
        status: status.into(),
        reason: "x".into(),
    };
    let bytes = serde_json::to_vec(&r).unwrap();
    bundle_from(&w.b, key, &w.a, format::BundleKind::Receipt, &[], None, Some(&bytes))
}

#[test]
fn forged_wrong_key_and_unknown_receipts_are_refused() {
    let mut w = world();
    let bundle = send(&mut w);
    let (report, receipt) =
        transfer::answer_transfer(&mut w.b, &bundle, Decision::Accept, &mut |_| {}).expect("accept");
    let tid = report.transfer.unwrap().transfer_bundle_id;
    let before = full_dump(&w.a);
    // In B's name but signed by a stranger office's key.
    let forged = receipt_from(&w, w.c.vault().device_key(), tid, "accepted");
    let e = sync::import_bundle(&mut w.a, &forged, false, &mut |_| {}).unwrap_err();
    assert!(matches!(e, ImportError::BadSignature { .. }), "{e}");
    assert_eq!(full_dump(&w.a), before);
    let forged_reject = receipt_from(&w, w.c.vault().device_key(), tid, "rejected");
    assert!(sync::import_bundle(&mut w.a, &forged_reject, false, &mut |_| {}).is_err());
    assert_eq!(full_dump(&w.a), before);
    // Signed by the right office but for a transfer A never made.
    let unknown = receipt_from(&w, w.b.vault().device_key(), Uuid::now_v7(), "accepted");
    let e = sync::import_bundle(&mut w.a, &unknown, false, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("unknown transfer"), "{e}");
    assert_eq!(full_dump(&w.a), before);
    // The genuine receipt still works; then a contradicting one (validly
    // signed by B) is refused and changes nothing.
    sync::import_bundle(&mut w.a, &receipt, false, &mut |_| {}).expect("genuine");
    let after = full_dump(&w.a);
    let contradiction = receipt_from(&w, w.b.vault().device_key(), tid, "rejected");
    let e = sync::import_bundle(&mut w.a, &contradiction, false, &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("already answered"), "{e}");
    assert_eq!(full_dump(&w.a), after);
    assert_eq!(w.a.facts(w.case).unwrap().stage, Stage::TransferredOut);
}

#[test]
fn receipt_checked_against_the_key_given_at_transfer() {
    let mut w = world();
    // A was told the wrong key for B (C's): B's genuine receipt is refused.
    let to = sync::recipient(&w.b);
    let bundle = transfer::transfer_case(&mut w.a, w.case, &to, &key_hex(&w.c), &mut |_| {}).expect("transfer");
    let (_, receipt) = transfer::answer_transfer(&mut w.b, &bundle, Decision::Accept, &mut |_| {}).expect("accept");
    let before = full_dump(&w.a);
    let e = sync::import_bundle(&mut w.a, &receipt, false, &mut |_| {}).unwrap_err();
    assert!(matches!(e, ImportError::BadSignature { .. }), "{e}");
    assert_eq!(full_dump(&w.a), before);
    assert!(w.a.facts(w.case).unwrap().stage.is_open());
}

#[test]
fn tampered_or_misdirected_transfer_is_refused_and_the_receiver_unchanged() {
    let mut w = world();
    let bundle = send(&mut w);
    let before = full_dump(&w.b);
    for at in [0, 20, bundle.len() / 2, bundle.len() - 5] {
        let mut bad = bundle.clone();
        bad[at] ^= 0x40;
        assert!(transfer::answer_transfer(&mut w.b, &bad, Decision::Accept, &mut |_| {}).is_err(), "flip at {at}");
        assert_eq!(full_dump(&w.b), before);
    }
    assert!(transfer::answer_transfer(&mut w.b, &bundle[..bundle.len() - 100], Decision::Accept, &mut |_| {}).is_err());
    assert_eq!(full_dump(&w.b), before);
    // Another office cannot read it.
    let before_c = full_dump(&w.c);
    let e = transfer::answer_transfer(&mut w.c, &bundle, Decision::Accept, &mut |_| {}).unwrap_err();
    assert!(matches!(e, TransferError::Refused(ImportError::WrongRecipient)), "{e}");
    assert_eq!(full_dump(&w.c), before_c);
    // In A's name with A's roster and the case's history, but signed by
    // another key than the one the roster names: refused.
    let roster = serde_json::to_vec(&sync::exchange::roster(&w.a).unwrap().unwrap()).unwrap();
    let events = w.a.case_events(w.case).unwrap();
    let resigned =
        bundle_from(&w.a, w.c.vault().device_key(), &w.b, format::BundleKind::Transfer, &events, Some(&roster), None);
    let e = transfer::answer_transfer(&mut w.b, &resigned, Decision::Accept, &mut |_| {}).unwrap_err();
    assert!(matches!(e, TransferError::Refused(ImportError::BadSignature { .. })), "{e}");
    assert_eq!(full_dump(&w.b), before);
    // Signed by A's key, but with an event forged in a device's name.
    let mut forged_events = events.clone();
    forged_events[0].payload = json!({"tampered": true});
    let forged = bundle_from(
        &w.a,
        w.a.vault().device_key(),
        &w.b,
        format::BundleKind::Transfer,
        &forged_events,
        Some(&roster),
        None,
    );
    assert!(transfer::answer_transfer(&mut w.b, &forged, Decision::Accept, &mut |_| {}).is_err());
    assert_eq!(full_dump(&w.b), before);
    // The genuine one still goes through.
    transfer::answer_transfer(&mut w.b, &bundle, Decision::Accept, &mut |_| {}).expect("genuine");
}

#[test]
fn only_open_cases_with_consent_can_be_transferred() {
    let t = tempfile::tempdir().unwrap();
    let mut a = office(&t.path().join("a"));
    let b = office(&t.path().join("b"));
    let mut d = device(&t.path().join("d"), "amina", "caseworker");
    enroll(&mut a, &mut d);
    let case = new_case(&mut d, "Omar");
    up(&mut d, &mut a);
    let before = full_dump(&a);
    let e = transfer::transfer_case(&mut a, case, &sync::recipient(&b), &key_hex(&b), &mut |_| {}).unwrap_err();
    assert!(matches!(e, TransferError::NoConsent(_)), "{e}");
    assert!(transfer::transfer_case(&mut a, case, "age1nonsense", &key_hex(&b), &mut |_| {}).is_err());
    assert!(transfer::transfer_case(&mut a, case, &sync::recipient(&b), "abcd", &mut |_| {}).is_err());
    assert_eq!(full_dump(&a), before);
}

mod cli {
    use std::path::Path;

    use fieldcase::model::lifecycle::Stage;
    use fieldcase::model::store::CaseStore;
    use fieldcase::vault::{SecretString, VaultOptions};
    use serde_json::{json, Value};

    use crate::cli_common::{ok, run, PASS};

    fn open(dir: &Path) -> CaseStore {
        let opts = VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() };
        CaseStore::open_with(dir, &SecretString::from(PASS.to_string()), &opts).unwrap()
    }

    #[test]
    fn transfer_accept_and_receipt_through_the_cli() {
        let t = tempfile::tempdir().unwrap();
        let (a, b, d) = (t.path().join("a"), t.path().join("b"), t.path().join("d"));
        let f = |n: &str| t.path().join(n).to_str().unwrap().to_string();
        ok(run(&a, &["init", "--office", "--name", "Agadez"]));
        ok(run(&b, &["init", "--office", "--name", "Niamey"]));
        ok(run(&d, &["init", "--name", "amina"]));
        ok(run(&d, &["enroll", "request", "--out", &f("req.json")]));
        ok(run(&a, &["enroll", "approve", &f("req.json"), "--role", "caseworker", "--out", &f("enr.fcb")]));
        ok(run(&d, &["import", &f("enr.fcb")]));
        let case = {
            let mut s = open(&d);
            let c = s.create_case("uasc", "Agadez").unwrap();
            s.save_form(c, "registration_bia", None, json!({"given_names": "Fatima"}).as_object().unwrap().clone())
                .unwrap();
            let consent = json!({"transfer_consent": {"by": "Fatima", "method": "signature", "date": "2026-01-10"}});
            s.save_form(c, "closure_transfer", None, consent.as_object().unwrap().clone()).unwrap();
            super::consent_to_transfer(&mut s, c);
            s.lock().unwrap();
            c
        };
        ok(run(&d, &["export", "--out", &f("up.fcb")]));
        ok(run(&a, &["import", &f("up.fcb")]));

        let to = ok(run(&b, &["recipient"])).trim().to_string();
        let key = ok(run(&b, &["transfer", "key"])).trim().to_string();
        assert_eq!(key.len(), 64, "{key}");
        let case_s = case.to_string();
        ok(run(&a, &["transfer", &case_s, "--to", &to, "--to-key", &key, "--out", &f("t.fcb")]));
        // Preview with the ordinary import; a plain import explains what to do.
        let v: Value = serde_json::from_str(&ok(run(&b, &["import", &f("t.fcb"), "--dry-run", "--json"]))).unwrap();
        assert_eq!(v["preview"]["new_cases"][0], case_s);
        assert_eq!(v["transfer"]["status"], "requested");
        let plain = run(&b, &["import", &f("t.fcb")]);
        assert!(!plain.status.success());
        assert!(String::from_utf8_lossy(&plain.stderr).contains("transfer accept"));
        let out = ok(run(&b, &["transfer", "accept", &f("t.fcb"), "--out", &f("r.fcb")]));
        assert!(out.contains("sending office signing key"), "{out}");
        let out = ok(run(&a, &["import", &f("r.fcb")]));
        assert!(out.contains("accepted"), "{out}");
        let s = open(&a);
        assert_eq!(s.facts(case).unwrap().stage, Stage::TransferredOut);
        s.lock().unwrap();
        let s = open(&b);
        assert!(s.verify_history(case).unwrap() >= 3);
        s.lock().unwrap();
    }
}

/// Issue 20: after office B accepts a case from office A, B's bundles to
/// its own devices carry events signed by A's devices. B's roster vouches
/// for those devices (§9.4), so B's devices take them; both offices and
/// their devices keep syncing, twice over.
#[test]
fn after_an_accepted_transfer_both_offices_keep_syncing_with_their_devices() {
    let t = tempfile::tempdir().unwrap();
    let p = |n: &str| t.path().join(n);
    let mut a = office(&p("a"));
    let mut b = office(&p("b"));
    let mut da = device(&p("da"), "amina", "caseworker");
    let mut sb = device(&p("sb"), "sara", "supervisor");
    let mut cb = device(&p("cb"), "bintou", "caseworker");
    enroll(&mut a, &mut da);
    enroll(&mut b, &mut sb);
    enroll(&mut b, &mut cb);
    let case = new_case(&mut da, "Fatima");
    da.save_form(
        case,
        "closure_transfer",
        None,
        values(json!({"transfer_consent": {"by": "Fatima", "method": "signature", "date": "2026-01-10"}})),
    )
    .expect("consent");
    consent_to_transfer(&mut da, case);
    up(&mut da, &mut a);
    let bundle = transfer::transfer_case(&mut a, case, &sync::recipient(&b), &key_hex(&b), &mut |_| {}).unwrap();
    let (_, receipt) = transfer::answer_transfer(&mut b, &bundle, Decision::Accept, &mut |_| {}).expect("accept");
    sync::import_bundle(&mut a, &receipt, false, &mut |_| {}).expect("receipt");
    // B's roster names A's devices as vouched signers, not as devices that
    // may send bundles.
    let roster = sync::exchange::roster(&b).unwrap().unwrap();
    let da_id = da.vault().device().device_id;
    assert!(roster.roster.device(da_id).is_none());
    assert!(roster.roster.vouched.iter().any(|v| v.device_id == da_id));
    let history = b.case_events(case).unwrap().len();
    for round in 0..2 {
        // B → its devices: the supervisor sees every case, so it receives
        // the transferred history signed by A's devices.
        down(&mut b, &mut sb);
        down(&mut b, &mut cb);
        assert!(sb.case_events(case).unwrap().len() >= history, "round {round}");
        // Work on B's side, including on the transferred case.
        new_case(&mut sb, &format!("Moussa {round}"));
        sb.save_form(case, "registration_bia", None, values(json!({"family_name": format!("Diallo {round}")})))
            .expect("the supervisor updates the transferred case");
        new_case(&mut cb, &format!("Awa {round}"));
        up(&mut sb, &mut b);
        up(&mut cb, &mut b);
        // A's side goes on as before.
        new_case(&mut da, &format!("Ibrahim {round}"));
        up(&mut da, &mut a);
        down(&mut a, &mut da);
    }
    down(&mut b, &mut sb);
    assert_eq!(sb.case_events(case).unwrap().len(), b.case_events(case).unwrap().len());
    assert_eq!(sb.verify_history(case).unwrap(), sb.case_events(case).unwrap().len());
    // A's device holds the case read-only, transferred out.
    assert_eq!(da.facts(case).unwrap().stage, Stage::TransferredOut);
}

/// R4: a transfer needs the transfer consent and, when the case rests on
/// the child's consent, its scope cross_border_transfer; refused before
/// any bundle is made, and again when the move is recorded.
#[test]
fn a_transfer_without_the_consent_scope_is_refused_with_r4() {
    let t = tempfile::tempdir().unwrap();
    let mut a = office(&t.path().join("a"));
    let b = office(&t.path().join("b"));
    let mut d = device(&t.path().join("d"), "amina", "caseworker");
    enroll(&mut a, &mut d);
    let case = new_case(&mut d, "Fatima");
    d.save_form(
        case,
        "closure_transfer",
        None,
        values(json!({"transfer_consent": {"by": "Fatima", "method": "signature", "date": "2026-01-10"}})),
    )
    .unwrap();
    d.save_form(
        case,
        "registration_bia",
        None,
        values(json!({"legitimate_basis": "consent",
            "consent": {"by": "Fatima", "method": "signature", "date": "2026-01-10"},
            "consent_scopes": ["case_management", "tracing_disclosure"]})),
    )
    .unwrap();
    up(&mut d, &mut a);
    let facts = a.facts(case).unwrap();
    let v = fieldcase::model::lifecycle::transfer_consent(&facts);
    assert!(v.iter().any(|x| x.rule == "R4" && x.message.contains("cross_border_transfer")), "{v:?}");
    let e = transfer::transfer_case(&mut a, case, &sync::recipient(&b), &key_hex(&b), &mut |_| {}).unwrap_err();
    assert!(matches!(e, transfer::TransferError::NoConsent(c) if c == case), "{e}");
    assert!(e.to_string().contains("cross_border_transfer"), "{e}");
    // A new consent (R10: a later one supersedes) with the scope: the transfer goes.
    d.save_form(
        case,
        "registration_bia",
        None,
        values(json!({"consent": {"by": "Fatima", "method": "signature", "date": "2026-02-01"},
            "consent_scopes": ["case_management", "cross_border_transfer"]})),
    )
    .unwrap();
    up(&mut d, &mut a);
    transfer::transfer_case(&mut a, case, &sync::recipient(&b), &key_hex(&b), &mut |_| {}).expect("transfer");
    // Another legitimate basis (documented best interests) needs no scope.
    let mut f = facts.clone();
    f.values.insert("registration_bia.legitimate_basis".into(), json!("vital_interests"));
    assert!(fieldcase::model::lifecycle::transfer_consent(&f).is_empty());
}
