//! An office and four devices over many rounds of random offline edits
//! (including concurrent edits of the same fields), with bundles randomly
//! lost, duplicated and reordered, and with changes the office's rules
//! refuse (a stage change made on a legitimate basis a supervisor changed
//! meanwhile): those are held in quarantine, never stall a device's sync,
//! and are reported back to the device that made them. After everyone has
//! synced, every device holds exactly the cases it may see, with the same
//! events and projection as the office (its refused changes withdrawn),
//! and every protected conflict is visible.
#[path = "sync_common.rs"]
mod common;
#[path = "common/people.rs"]
mod people;

use std::collections::BTreeSet;

use common::*;
use fieldcase::model::store::CaseStore;
use fieldcase::sync::{self, ImportError};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;
use uuid::Uuid;

const USERS: [(&str, &str); 4] =
    [("amina", "caseworker"), ("bakary", "caseworker"), ("chidi", "caseworker"), ("sara", "supervisor")];

fn random_edit(rng: &mut StdRng, s: &mut CaseStore, user: &str, keep: Uuid) {
    let cases: Vec<Uuid> = s.list_cases().unwrap().cases.into_iter().map(|c| c.id).collect();
    match (rng.gen_range(0..10), cases.choose(rng)) {
        (0..=1, _) | (_, None) => {
            if user != "sara" {
                new_case(s, &format!("{user}-{}", rng.gen::<u16>()));
            }
        }
        (2..=4, Some(c)) => {
            let _ = s.save_form(
                *c,
                "registration_bia",
                None,
                values(json!({"given_names": format!("{user}{}", rng.gen::<u8>())})),
            );
        }
        // `keep` holds the deliberate protected conflict: a later write by
        // someone who saw both values would settle it.
        // Refusals: a caseworker registers a child on the legitimate basis
        // she sees while the supervisor, elsewhere, changes it to consent
        // (none recorded): the office refuses the stage change (R4).
        (8, Some(c)) if *c != keep => {
            if user == "sara" {
                let _ = s.save_form(*c, "registration_bia", None, values(json!({"legitimate_basis": "consent"})));
            } else {
                let basis = json!({"legitimate_basis": "vital_interests", "sex": "male", "age_years": 14});
                let _ = s.save_form(*c, "registration_bia", None, values(basis));
                let _ = s.change_stage(*c, fieldcase::model::lifecycle::Stage::Registered, "registered");
            }
        }
        (5..=7, Some(c)) if *c != keep => {
            let level = ["low", "medium", "high"][rng.gen_range(0..3)];
            // Refused locally when a rule forbids it (e.g. lowering from high): no event.
            let _ = s.save_form(*c, "registration_bia", None, values(json!({"risk_level": level})));
        }
        (_, Some(c)) => {
            let _ = s.add_note(*c, values(json!({"text": format!("note by {user}")})));
        }
    }
}

/// Import, accepting only the refusals loss/duplication/reordering cause.
fn deliver(to: &mut CaseStore, bundle: &[u8]) {
    match sync::import_bundle(to, bundle, false, &mut |_| {}) {
        Ok(_) | Err(ImportError::SequenceBackwards { .. }) => {}
        Err(e) => panic!("unexpected refusal: {e}"),
    }
}

fn run(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("office"));
    let mut devs: Vec<CaseStore> = USERS.iter().map(|(u, r)| device(&t.path().join(u), u, r)).collect();
    for d in &mut devs {
        enroll(&mut o, d);
    }
    // A sure protected conflict: amina's case, seen by bakary, both set the
    // risk level offline.
    let shared = new_case(&mut devs[0], "Shared");
    up(&mut devs[0], &mut o);
    o.assign(shared, "bakary").unwrap();
    down(&mut o, &mut devs[1]);
    devs[0].save_form(shared, "registration_bia", None, values(json!({"risk_level": "medium"}))).unwrap();
    devs[1].save_form(shared, "registration_bia", None, values(json!({"risk_level": "high"}))).unwrap();
    // A sure refusal: amina registers a child on the basis she saw while
    // the supervisor changed it to consent.
    let refused = new_case(&mut devs[0], "Refused");
    let basis = json!({"legitimate_basis": "vital_interests", "sex": "female", "age_years": 15});
    devs[0].save_form(refused, "registration_bia", None, values(basis)).unwrap();
    up(&mut devs[0], &mut o);
    down(&mut o, &mut devs[3]);
    devs[3].save_form(refused, "registration_bia", None, values(json!({"legitimate_basis": "consent"}))).unwrap();
    up(&mut devs[3], &mut o);
    std::thread::sleep(std::time::Duration::from_millis(5));
    devs[0].change_stage(refused, fieldcase::model::lifecycle::Stage::Registered, "registered").unwrap();

    let mut to_office: Vec<Vec<u8>> = Vec::new();
    let mut to_device: Vec<(usize, Vec<u8>)> = Vec::new();
    for _round in 0..8 {
        for (i, d) in devs.iter_mut().enumerate() {
            for _ in 0..rng.gen_range(0..4) {
                random_edit(&mut rng, d, USERS[i].0, shared);
            }
            if rng.gen_bool(0.7) {
                to_office.push(sync::export_for_office(d, &mut |_| {}).unwrap());
            }
        }
        // The office assigns new cases once, to a random caseworker.
        for c in o.list_cases().unwrap().cases {
            if c.caseworker.is_none() {
                o.assign(c.id, USERS[rng.gen_range(0..3)].0).unwrap();
            }
        }
        for (i, d) in devs.iter().enumerate() {
            if rng.gen_bool(0.7) {
                to_device
                    .push((i, sync::export_for_device(&mut o, d.vault().device().device_id, &mut |_| {}).unwrap()));
            }
        }
        // The post: loss, duplication, reordering.
        let mut post: Vec<(Option<usize>, Vec<u8>)> =
            to_office.drain(..).map(|b| (None, b)).chain(to_device.drain(..).map(|(i, b)| (Some(i), b))).collect();
        let dups: Vec<_> = post.iter().filter(|_| rng.gen_bool(0.2)).cloned().collect();
        post.extend(dups);
        post.shuffle(&mut rng);
        for (to, bundle) in post {
            if rng.gen_bool(0.25) {
                continue; // lost
            }
            match to {
                None => deliver(&mut o, &bundle),
                Some(i) => deliver(&mut devs[i], &bundle),
            }
        }
    }
    // Everyone syncs, twice (the second pass carries the office's
    // acknowledgements and the other devices' last changes).
    for _ in 0..2 {
        for d in &mut devs {
            up(d, &mut o);
        }
        for d in &mut devs {
            down(&mut o, d);
        }
    }

    // Read the office's register as a supervisor: its own data-manager
    // identity sees metadata only (docs/visibility.md).
    people::act_on_office_as(&mut o, "sup", fieldcase::model::event::Role::Supervisor);
    let office_cases: Vec<_> = o.list_cases().unwrap().cases;
    let held = sync::quarantine::list(&o).unwrap();
    assert!(held.iter().any(|q| q.case_id == refused), "seed {seed}: the sure refusal is held");
    let mut protected_seen = 0;
    for (i, d) in devs.iter().enumerate() {
        let (user, role) = USERS[i];
        let me = d.vault().device().device_id;
        // Every change of this device the office holds is reported back,
        // and nothing else.
        let mine: BTreeSet<Uuid> = held.iter().filter(|q| q.device_id == me).map(|q| q.event_id).collect();
        let told: BTreeSet<Uuid> =
            sync::quarantine::refused_events(d).unwrap().into_iter().map(|n| n.event_id).collect();
        assert_eq!(told, mine, "seed {seed}: {user} is told of exactly its refused changes");
        // What this device's own rules held of the office's events.
        let its_own_held: BTreeSet<Uuid> = sync::quarantine::list(d).unwrap().into_iter().map(|q| q.event_id).collect();
        let may_see: BTreeSet<Uuid> = office_cases
            .iter()
            .filter(|c| {
                role == "supervisor"
                    || c.caseworker.as_deref() == Some(user)
                    || o.case_events(c.id).unwrap().first().is_some_and(|e| e.device_id == me)
            })
            .map(|c| c.id)
            .collect();
        let has: BTreeSet<Uuid> = d.list_cases().unwrap().cases.into_iter().map(|c| c.id).collect();
        assert_eq!(has, may_see, "seed {seed}: {user} holds exactly the cases it may see");
        for c in &has {
            // The device holds the office's events (or has held them in its
            // own quarantine) and nothing more: it withdrew its refused ones.
            let on_device: BTreeSet<Uuid> = d.case_events(*c).unwrap().iter().map(|e| e.id).collect();
            let at_office: BTreeSet<Uuid> = o.case_events(*c).unwrap().iter().map(|e| e.id).collect();
            let missing: Vec<&Uuid> =
                at_office.iter().filter(|id| !on_device.contains(id) && !its_own_held.contains(id)).collect();
            assert!(missing.is_empty(), "seed {seed}: {user}, case {c}: office events missing {missing:?}");
            let extra: Vec<&Uuid> = on_device.difference(&at_office).collect();
            assert!(extra.is_empty(), "seed {seed}: {user}, case {c}: events the office does not apply {extra:?}");
            assert!(on_device.is_disjoint(&mine), "seed {seed}: {user}, case {c}: a refused change not withdrawn");
            assert_eq!(
                d.case_events(*c).unwrap(),
                o.case_events(*c).unwrap(),
                "seed {seed}: {user}, case {c}: same events"
            );
            let (dd, od) = (d.case_detail(*c).unwrap(), o.case_detail(*c).unwrap());
            assert_eq!(
                format!("{:?}", (&dd.summary, &dd.fields, &dd.items, &dd.stage_history)),
                format!("{:?}", (&od.summary, &od.fields, &od.items, &od.stage_history)),
                "seed {seed}: {user}, case {c}: same projection"
            );
            for f in &dd.fields {
                if f.heads.len() > 1 && fieldcase::model::store::is_protected(&f.form, &f.field) {
                    protected_seen += 1;
                    assert!(f.value.is_none(), "protected conflict resolved silently: {f:?}");
                    assert!(dd.summary.needs_review);
                }
            }
        }
    }
    assert!(protected_seen > 0, "seed {seed}: the protected conflict is visible on the devices");
}

#[test]
fn office_and_four_devices_converge_despite_lost_duplicated_reordered_bundles() {
    for seed in 1..=3 {
        run(seed);
    }
}
