//! People, not names (docs/vault-format.md §2.2, docs/bundle-format.md §7):
//! further people on a vault with their own passphrase, key and role,
//! enrolled by the office one by one; switching person with a passphrase;
//! sync of a device hosting several people; set_actor only where no office
//! rules; a user name enrolled once.
#[path = "sync_common.rs"]
mod common;
#[path = "common/people.rs"]
mod people;
#[path = "common/raw_tar.rs"]
mod raw_tar;

use std::path::Path;

use common::*;
use fieldcase::model::error::StoreError;
use fieldcase::model::event::Role;
use fieldcase::model::store::CaseStore;
use fieldcase::sync::{self, SyncError};
use fieldcase::vault::{KvApplier, SecretString, Vault, VaultError};
use people::*;
use serde_json::json;

fn wrong() -> SecretString {
    SecretString::from("not anybody's passphrase at all".to_owned())
}

/// An office and an enrolled caseworker device "amina".
fn world(root: &Path) -> (CaseStore, CaseStore) {
    let mut o = office(&root.join("o"));
    let mut d = device(&root.join("d"), "amina", "caseworker");
    enroll(&mut o, &mut d);
    (o, d)
}

#[test]
fn a_second_person_enrolled_by_the_office_switches_with_their_passphrase() {
    let t = tempfile::tempdir().unwrap();
    let (mut o, mut d) = world(t.path());
    let device_id = d.vault().device().device_id;

    // Added on the device, not yet enrolled: switching works, recording
    // does not (the office would refuse it and stall the device's sync).
    let sara = add_person(&mut d, "sara", Role::Supervisor);
    assert_ne!(sara.id, device_id);
    switch(&mut d, "sara");
    assert_eq!(d.actor(), ("sara", Role::Supervisor));
    let before = full_dump(&d);
    let e = d.create_case("uasc", "Agadez").unwrap_err();
    assert!(matches!(e, StoreError::PersonNotEnrolled { .. }), "{e}");
    assert_eq!(full_dump(&d), before, "a refused change leaves nothing");

    // Enrolled by the office (her request signed by her key, naming the
    // device as host), she records under her own signer id and key.
    let req = sync::enrollment_request(&d).unwrap();
    assert_eq!((req.device_id, req.host, req.role), (sara.id, Some(device_id), Role::Supervisor));
    let bundle =
        sync::approve_enrollment(&mut o, &serde_json::to_vec(&req).unwrap(), Role::Supervisor, &mut |_| {}).unwrap();
    sync::import_bundle(&mut d, &bundle, false, &mut |_| {}).unwrap();
    let roster = sync::exchange::roster(&d).unwrap().unwrap();
    assert_eq!(roster.roster.device(sara.id).unwrap().host, Some(device_id));
    let c = d.create_case("uasc", "Agadez").unwrap();
    let events = d.case_events(c).unwrap();
    let key = fieldcase::model::event::parse_verifying_key(&sara.signing_key).unwrap();
    assert!(!events.is_empty());
    for e in &events {
        assert_eq!((e.device_id, e.author.as_str(), e.role), (sara.id, "sara", Role::Supervisor));
        e.verify(&key).expect("signed with sara's own key");
        assert!(e.verify(&d.vault().first_person_verifying_key()).is_err(), "not with the first person's key");
    }
    assert_eq!(events.iter().map(|e| e.device_seq).collect::<Vec<_>>(), (1..=events.len() as u64).collect::<Vec<_>>());

    // A wrong passphrase is refused and changes nothing.
    let before = full_dump(&d);
    let e = d.switch_person("amina", &wrong()).unwrap_err();
    assert!(matches!(e, StoreError::Vault(VaultError::WrongPassphrase { .. })), "{e}");
    let e = d.switch_person("sara", &wrong()).unwrap_err();
    assert!(matches!(e, StoreError::Vault(VaultError::WrongPassphrase { .. })), "{e}");
    assert!(matches!(d.switch_person("nobody", &pass()).unwrap_err(), StoreError::UnknownPerson { .. }));
    assert_eq!((d.actor(), d.signer_id()), (("sara", Role::Supervisor), sara.id));
    assert_eq!(full_dump(&d), before);

    // Back to the device's first person, with her passphrase.
    d.switch_person("amina", &pass()).unwrap();
    assert_eq!((d.actor(), d.signer_id()), (("amina", Role::Caseworker), device_id));
    let mine = new_case(&mut d, "Mariama");
    for e in d.case_events(mine).unwrap() {
        assert_eq!((e.device_id, e.author.as_str(), e.role), (device_id, "amina", Role::Caseworker));
        e.verify(&d.vault().first_person_verifying_key()).unwrap();
    }
}

#[test]
fn unlocking_with_a_persons_passphrase_opens_the_vault_as_that_person() {
    let t = tempfile::tempdir().unwrap();
    let (mut o, mut d) = world(t.path());
    let sara = enroll_person(&mut o, &mut d, "sara", Role::Supervisor);
    let c = d.create_case("uasc", "Agadez").unwrap();
    d.lock().unwrap();

    let dir = t.path().join("d");
    let d = CaseStore::open_with(&dir, &passphrase_of("sara"), &options()).unwrap();
    assert_eq!((d.actor(), d.signer_id()), (("sara", Role::Supervisor), sara.id));
    assert_eq!(
        d.case_events(c).unwrap().len(),
        d.case_events(c).unwrap().iter().filter(|e| e.device_id == sara.id).count()
    );
    d.lock().unwrap();
    let d = CaseStore::open_with(&dir, &pass(), &options()).unwrap();
    assert_eq!(d.actor(), ("amina", Role::Caseworker));
    d.lock().unwrap();
    let e = CaseStore::open_with(&dir, &wrong(), &options()).err().expect("refused");
    assert!(matches!(e, StoreError::Vault(VaultError::WrongPassphrase { .. })), "{e}");
}

#[test]
fn a_device_that_switched_person_keeps_syncing() {
    let t = tempfile::tempdir().unwrap();
    let (mut o, mut d) = world(t.path());
    let sara = enroll_person(&mut o, &mut d, "sara", Role::Supervisor);
    let amina_id = d.vault().device().device_id;
    for round in 0..2 {
        // Both people record; the device exports both people's events.
        switch(&mut d, "sara");
        let by_sara = new_case(&mut d, &format!("Sara{round}"));
        d.switch_person("amina", &pass()).unwrap();
        let by_amina = new_case(&mut d, &format!("Amina{round}"));
        let r = up(&mut d, &mut o);
        assert!(r.summary.new >= 4, "round {round}: {r:?}");
        let at_office = o.all_events().unwrap();
        for (case, signer) in [(by_sara, sara.id), (by_amina, amina_id)] {
            let evs: Vec<_> = at_office.iter().filter(|e| e.case_id == case).collect();
            assert!(!evs.is_empty() && evs.iter().all(|e| e.device_id == signer), "round {round}");
        }
        // The office's bundle back imports on the device.
        let r = down(&mut o, &mut d);
        assert_eq!(r.summary.new, 0, "round {round}: the device's own people's events are not sent back: {r:?}");
    }
    // Another device's caseworker's change to amina's case reaches the
    // device through the office (visibility: union of its people).
    let mut b = device(&t.path().join("b"), "bakary", "caseworker");
    enroll(&mut o, &mut b);
    let theirs = new_case(&mut b, "Bakary");
    up(&mut b, &mut o);
    people::act_on_office_as(&mut o, "chief", Role::Supervisor);
    o.assign(theirs, "sara").unwrap();
    let r = down(&mut o, &mut d);
    assert!(
        r.preview.new_cases.contains(&theirs),
        "a case assigned to the hosted supervisor reaches the device: {r:?}"
    );
    assert_eq!(sync::export_for_office(&mut d, &mut |_| {}).map(|b| !b.is_empty()).ok(), Some(true));
    // Bundles go to and come from devices, not the people they host.
    assert!(matches!(
        sync::export_for_device(&mut o, sara.id, &mut |_| {}).unwrap_err(),
        SyncError::Enrollment(m) if m.contains("export for that device")
    ));
}

#[test]
fn set_actor_is_refused_where_an_office_rules() {
    let t = tempfile::tempdir().unwrap();
    let (mut o, mut d) = world(t.path());
    for s in [&mut o, &mut d] {
        let before = s.actor().0.to_owned();
        let e = s.set_actor("chief", Role::Supervisor).unwrap_err();
        assert!(matches!(e, StoreError::ActorFixed), "{e}");
        assert_eq!(s.actor().0, before);
    }
    // A vault of no office (demo, rule tests) may still act as anyone.
    let mut loose = device(&t.path().join("loose"), "amina", "caseworker");
    loose.set_actor("chief", Role::Supervisor).unwrap();
    assert_eq!(loose.actor(), ("chief", Role::Supervisor));
}

#[test]
fn a_user_name_is_enrolled_to_one_key_unless_the_office_says_it_is_another_device() {
    let t = tempfile::tempdir().unwrap();
    let (mut o, _d) = world(t.path());
    let mut second = device(&t.path().join("d2"), "amina", "caseworker");
    let req = serde_json::to_vec(&sync::enrollment_request(&second).unwrap()).unwrap();
    let before = full_dump(&o);
    let e = sync::approve_enrollment(&mut o, &req, Role::Caseworker, &mut |_| {}).unwrap_err();
    assert!(matches!(&e, SyncError::Enrollment(m) if m.contains("already enrolled")), "{e}");
    assert_eq!(full_dump(&o), before, "a refused enrollment changes nothing");
    // The flag must name the same user.
    assert!(sync::approve_enrollment_with(&mut o, &req, Role::Caseworker, Some("bakary"), &mut |_| {}).is_err());
    let b = sync::approve_enrollment_with(&mut o, &req, Role::Caseworker, Some("amina"), &mut |_| {}).unwrap();
    sync::import_bundle(&mut second, &b, false, &mut |_| {}).unwrap();

    // Another role under the same name is refused even with the flag.
    let third = device(&t.path().join("d3"), "amina", "supervisor");
    let req = serde_json::to_vec(&sync::enrollment_request(&third).unwrap()).unwrap();
    assert!(sync::approve_enrollment_with(&mut o, &req, Role::Supervisor, Some("amina"), &mut |_| {}).is_err());

    // A person hosted on a device is checked the same way.
    let mut d4 = device(&t.path().join("d4"), "zara", "caseworker");
    enroll(&mut o, &mut d4);
    add_person(&mut d4, "amina", Role::Caseworker);
    switch(&mut d4, "amina");
    let req = serde_json::to_vec(&sync::enrollment_request(&d4).unwrap()).unwrap();
    assert!(sync::approve_enrollment(&mut o, &req, Role::Caseworker, &mut |_| {}).is_err());

    // On the office itself, adding a person enrolls them: a taken name is refused.
    let e = o.add_person("zara", Role::Caseworker, &passphrase_of("zara")).unwrap_err();
    assert!(matches!(e, StoreError::PersonExists { .. }), "{e}");
    let chief = add_person(&mut o, "chief", Role::Supervisor);
    let held = sync::exchange::roster(&o).unwrap().unwrap();
    assert_eq!(held.roster.device(chief.id).unwrap().host, Some(held.roster.office_id));
}

#[test]
fn a_weak_passphrase_or_a_taken_name_adds_no_person() {
    let t = tempfile::tempdir().unwrap();
    let (_o, mut d) = world(t.path());
    let weak = SecretString::from("sara".to_owned());
    assert!(matches!(d.add_person("sara", Role::Supervisor, &weak).unwrap_err(), StoreError::WeakPassphrase(_)));
    assert!(matches!(
        d.add_person("amina", Role::Supervisor, &passphrase_of("amina")).unwrap_err(),
        StoreError::PersonExists { .. }
    ));
    assert!(d.people().unwrap().is_empty());
    assert!(!t.path().join("d/people").exists() || std::fs::read_dir(t.path().join("d/people")).unwrap().count() == 0);
}

#[test]
fn a_passphrase_change_of_one_person_keeps_the_other_able_to_unlock() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("d");
    let (mut o, mut d) = world(t.path());
    enroll_person(&mut o, &mut d, "sara", Role::Supervisor);
    let c = d.create_case("uasc", "Agadez").unwrap();
    d.switch_person("amina", &pass()).unwrap();
    let new_owner = SecretString::from("amina's brand new passphrase, long".to_owned());
    // The first person's change rotates the vault keys.
    let old_identity = std::fs::read(dir.join("identity.age")).unwrap();
    d.change_passphrase(&pass(), &new_owner).unwrap();
    assert_ne!(std::fs::read(dir.join("identity.age")).unwrap(), old_identity);
    d.lock().unwrap();
    let mut d = CaseStore::open_with(&dir, &passphrase_of("sara"), &options()).expect("sara still unlocks");
    assert_eq!(d.actor().0, "sara");
    assert!(!d.case_events(c).unwrap().is_empty());

    // Sara's own change: her old passphrase opens nothing any more, the
    // first person's still works.
    let sara_new = SecretString::from("sara picks another long passphrase".to_owned());
    let old_file: Vec<_> = std::fs::read_dir(dir.join("people")).unwrap().map(|e| e.unwrap().path()).collect();
    d.change_passphrase(&passphrase_of("sara"), &sara_new).unwrap();
    d.lock().unwrap();
    assert!(CaseStore::open_with(&dir, &passphrase_of("sara"), &options()).is_err());
    let d = CaseStore::open_with(&dir, &sara_new, &options()).unwrap();
    assert_eq!(d.actor().0, "sara");
    d.lock().unwrap();
    let d = CaseStore::open_with(&dir, &new_owner, &options()).unwrap();
    assert_eq!(d.actor().0, "amina");
    d.lock().unwrap();
    assert_eq!(old_file.len(), 2, "one person file and one keys file");
}

#[test]
fn an_old_vault_without_people_still_opens() {
    let t = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/vault-v3");
    let dir = t.path().join("v3");
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            std::fs::create_dir_all(dir.join(e.file_name())).unwrap();
            for f in std::fs::read_dir(e.path()).unwrap() {
                let f = f.unwrap();
                std::fs::copy(f.path(), dir.join(e.file_name()).join(f.file_name())).unwrap();
            }
        } else {
            std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
    }
    let pass = SecretString::from("fieldcase test vector v3".to_owned());
    let e = Vault::open_as_with(&dir, &wrong(), None, Box::new(KvApplier), &options()).unwrap_err();
    assert!(matches!(e, VaultError::WrongPassphrase { .. }), "{e}");
    let v = Vault::open_as_with(&dir, &pass, None, Box::new(KvApplier), &options()).unwrap();
    assert!(v.person().is_none());
    assert_eq!(v.device().device_name, "Vector Device");
    let _ = json!({});
}

#[test]
fn a_revoked_person_records_nothing_and_the_device_keeps_syncing() {
    let t = tempfile::tempdir().unwrap();
    let (mut o, mut d) = world(t.path());
    let sara = enroll_person(&mut o, &mut d, "sara", Role::Supervisor);
    new_case(&mut d, "Before");
    up(&mut d, &mut o);
    sync::revoke(&mut o, sara.id).unwrap();
    down(&mut o, &mut d);
    let e = d.create_case("uasc", "Agadez").unwrap_err();
    assert!(matches!(&e, StoreError::PersonNotEnrolled { reason, .. } if reason.contains("revoked")), "{e}");
    d.switch_person("amina", &pass()).unwrap();
    new_case(&mut d, "After");
    let r = up(&mut d, &mut o);
    assert!(r.summary.new >= 2, "{r:?}");
}

/// Unlock `dir` with `pass` through the real file system.
fn opens_as(dir: &Path, pass: &SecretString) -> Option<String> {
    CaseStore::open_with(dir, pass, &options()).ok().map(|s| {
        let user = s.actor().0.to_owned();
        s.lock().unwrap();
        user
    })
}

/// A vault of no office with a further person "sara", through `faults`.
fn faulty_pair(dir: &Path) -> (CaseStore, fieldcase::vault::FaultStorage) {
    let faults = fieldcase::vault::FaultStorage::new();
    let opts = fieldcase::vault::VaultOptions { storage: std::sync::Arc::new(faults.clone()), ..options() };
    let init = fieldcase::vault::InitOptions { name: "amina".into(), role: "caseworker".into(), escrow: None };
    let mut s = CaseStore::init_with(dir, &pass(), init, &opts).unwrap();
    new_case(&mut s, "Mariama");
    s.put_blob(b"a photo").unwrap();
    add_person(&mut s, "sara", Role::Supervisor);
    (s, faults)
}

#[test]
fn a_crash_at_any_step_of_a_persons_passphrase_change_leaves_a_passphrase_that_opens() {
    let t = tempfile::tempdir().unwrap();
    let new = SecretString::from("sara picks another long passphrase".to_owned());
    for k in 0.. {
        let dir = t.path().join(format!("v{k}"));
        let (mut s, faults) = faulty_pair(&dir);
        switch(&mut s, "sara");
        faults.crash_after(k);
        let result = s.change_passphrase(&passphrase_of("sara"), &new);
        let crashed = faults.crashed();
        assert_eq!(result.is_err(), crashed, "step {k}: {result:?}");
        drop(s);
        faults.heal();
        let (old_opens, new_opens) = (opens_as(&dir, &passphrase_of("sara")), opens_as(&dir, &new));
        assert!(old_opens.is_some() || new_opens.is_some(), "step {k}: sara is locked out");
        assert!([&old_opens, &new_opens].iter().all(|u| u.as_deref().is_none_or(|u| u == "sara")), "step {k}");
        assert_eq!(opens_as(&dir, &pass()).as_deref(), Some("amina"), "step {k}");
        if !crashed {
            assert_eq!((old_opens, new_opens.as_deref()), (None, Some("sara")));
            break;
        }
    }
}

#[test]
fn a_crash_at_any_step_of_the_first_persons_passphrase_change_locks_no_person_out() {
    let t = tempfile::tempdir().unwrap();
    let new = SecretString::from("amina's brand new passphrase, long".to_owned());
    for k in 0.. {
        let dir = t.path().join(format!("v{k}"));
        let (mut s, faults) = faulty_pair(&dir);
        faults.crash_after(k);
        let result = s.change_passphrase(&pass(), &new);
        let crashed = faults.crashed();
        assert_eq!(result.is_err(), crashed, "step {k}: {result:?}");
        drop(s);
        faults.heal();
        // Sara first: her unlock may be the one that finishes the change.
        assert_eq!(opens_as(&dir, &passphrase_of("sara")).as_deref(), Some("sara"), "step {k}");
        let owner = [opens_as(&dir, &pass()), opens_as(&dir, &new)];
        assert!(owner.iter().any(|u| u.as_deref() == Some("amina")), "step {k}: the first person is locked out");
        assert_eq!(opens_as(&dir, &passphrase_of("sara")).as_deref(), Some("sara"), "step {k}, after the owner");
        if !crashed {
            assert_eq!(owner, [None, Some("amina".to_owned())]);
            break;
        }
    }
}

#[test]
fn the_first_person_changes_the_vault_passphrase_after_switching_in() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("d");
    let (mut o, mut d) = world(t.path());
    enroll_person(&mut o, &mut d, "sara", Role::Supervisor);
    d.lock().unwrap();
    // Unlocked by sara, then switched to amina with her passphrase.
    let mut d = CaseStore::open_with(&dir, &passphrase_of("sara"), &options()).unwrap();
    d.switch_person("amina", &pass()).unwrap();
    let new = SecretString::from("amina's brand new passphrase, long".to_owned());
    assert!(d.change_passphrase(&passphrase_of("sara"), &new).is_err(), "the old passphrase must be amina's");
    d.change_passphrase(&pass(), &new).unwrap();
    d.lock().unwrap();
    assert_eq!(opens_as(&dir, &pass()), None);
    assert_eq!(opens_as(&dir, &new).as_deref(), Some("amina"));
    assert_eq!(opens_as(&dir, &passphrase_of("sara")).as_deref(), Some("sara"));
}

/// One random change by whoever is recording on `s` (refusals by the case
/// rules are fine: they leave nothing).
fn random_edit(rng: &mut rand::rngs::StdRng, s: &mut CaseStore) {
    use rand::seq::SliceRandom as _;
    use rand::Rng as _;
    let (user, role) = (s.actor().0.to_owned(), s.actor().1);
    let cases: Vec<uuid::Uuid> = s.list_cases().unwrap().cases.into_iter().map(|c| c.id).collect();
    match (rng.gen_range(0..6), cases.choose(rng)) {
        (0..=1, _) | (_, None) if role == Role::Caseworker => {
            new_case(s, &format!("{user}-{}", rng.gen::<u16>()));
        }
        (2..=3, Some(c)) => {
            let v = values(json!({"given_names": format!("{user}{}", rng.gen::<u8>())}));
            let _ = s.save_form(*c, "registration_bia", None, v);
        }
        (_, Some(c)) => {
            let _ = s.add_note(*c, values(json!({"text": format!("note by {user}")})));
        }
        _ => {}
    }
}

/// A shared device whose three people switch at random, and a second
/// device, over rounds of offline work with bundles lost, duplicated and
/// reordered: after everyone has synced, the office holds every person's
/// events, and the shared device holds every case one of its people may
/// see, with the office's events and projection.
#[test]
fn a_shared_device_whose_people_switch_converges_with_the_office() {
    use rand::seq::SliceRandom as _;
    use rand::{Rng as _, SeedableRng as _};
    for seed in 1..=2u64 {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let t = tempfile::tempdir().unwrap();
        let (mut o, mut d) = world(t.path());
        let chidi = enroll_person(&mut o, &mut d, "chidi", Role::Caseworker);
        let sara = enroll_person(&mut o, &mut d, "sara", Role::Supervisor);
        let mut b = device(&t.path().join("b"), "bakary", "caseworker");
        enroll(&mut o, &mut b);
        let (d_id, b_id) = (d.vault().device().device_id, b.vault().device().device_id);
        let mut post: Vec<(bool, Vec<u8>)> = Vec::new();
        for _round in 0..6 {
            for _ in 0..rng.gen_range(1..5) {
                match ["amina", "chidi", "sara"].choose(&mut rng).unwrap() {
                    &"amina" => d.switch_person("amina", &pass()).unwrap(),
                    who => switch(&mut d, who),
                }
                random_edit(&mut rng, &mut d);
            }
            for _ in 0..rng.gen_range(0..3) {
                random_edit(&mut rng, &mut b);
            }
            for c in o.list_cases().unwrap().cases {
                if c.caseworker.is_none() {
                    // The office's supervisor assigns (the office's first
                    // person, a data manager, may not).
                    people::act_on_office_as(&mut o, "chief", Role::Supervisor);
                    o.assign(c.id, ["amina", "chidi", "bakary"].choose(&mut rng).unwrap()).unwrap();
                }
            }
            post.push((true, sync::export_for_office(&mut d, &mut |_| {}).unwrap()));
            post.push((true, sync::export_for_office(&mut b, &mut |_| {}).unwrap()));
            post.push((false, sync::export_for_device(&mut o, d_id, &mut |_| {}).unwrap()));
            let dups: Vec<_> = post.iter().filter(|_| rng.gen_bool(0.2)).cloned().collect();
            post.extend(dups);
            post.shuffle(&mut rng);
            for (to_office, bundle) in post.drain(..) {
                if rng.gen_bool(0.25) {
                    continue; // lost
                }
                let target = if to_office { &mut o } else { &mut d };
                match sync::import_bundle(target, &bundle, false, &mut |_| {}) {
                    Ok(_) | Err(fieldcase::sync::ImportError::SequenceBackwards { .. }) => {}
                    Err(e) => panic!("seed {seed}: unexpected refusal: {e}"),
                }
            }
        }
        for _ in 0..2 {
            up(&mut d, &mut o);
            up(&mut b, &mut o);
            down(&mut o, &mut d);
        }
        // The office holds every event of the shared device's people.
        let at_office: std::collections::BTreeSet<uuid::Uuid> = o.all_events().unwrap().iter().map(|e| e.id).collect();
        let on_d = d.all_events().unwrap();
        let signers: std::collections::BTreeSet<uuid::Uuid> = on_d.iter().map(|e| e.device_id).collect();
        assert!(on_d.iter().all(|e| at_office.contains(&e.id)), "seed {seed}");
        assert!(signers.contains(&sara.id) && signers.contains(&chidi.id) && signers.contains(&d_id), "seed {seed}");
        // Its supervisor may see every case, so bakary's work reaches it.
        assert!(b.all_events().unwrap().is_empty() || signers.contains(&b_id), "seed {seed}");
        // The shared device hosts a supervisor: it holds every case, the
        // same as the office, read as supervisors on both.
        switch(&mut d, "sara");
        people::act_on_office_as(&mut o, "chief", Role::Supervisor);
        let office_cases: std::collections::BTreeSet<uuid::Uuid> =
            o.list_cases().unwrap().cases.into_iter().map(|c| c.id).collect();
        let d_cases: std::collections::BTreeSet<uuid::Uuid> =
            d.list_cases().unwrap().cases.into_iter().map(|c| c.id).collect();
        assert_eq!(d_cases, office_cases, "seed {seed}");
        for c in &d_cases {
            assert_eq!(d.case_events(*c).unwrap(), o.case_events(*c).unwrap(), "seed {seed}, case {c}");
            let (dd, od) = (d.case_detail(*c).unwrap(), o.case_detail(*c).unwrap());
            assert_eq!(
                format!("{:?}", (&dd.summary, &dd.fields, &dd.items, &dd.stage_history)),
                format!("{:?}", (&od.summary, &od.fields, &od.items, &od.stage_history)),
                "seed {seed}, case {c}"
            );
        }
    }
}

#[test]
fn a_bundle_whose_sender_is_a_hosted_person_is_refused() {
    use base64::Engine as _;
    use ed25519_dalek::Signer as _;
    use sha2::Digest as _;
    use std::io::Write as _;
    let t = tempfile::tempdir().unwrap();
    let (mut o, mut d) = world(t.path());
    let sara = enroll_person(&mut o, &mut d, "sara", Role::Supervisor);
    // Well formed and signed by sara's own (enrolled) key, but a person
    // sends no bundles: her events travel in her host's.
    let events: Vec<u8> = Vec::new();
    let m = serde_json::to_vec(&json!({
        "format": "fieldcase-bundle", "version": [1, 0], "bundle_id": uuid::Uuid::now_v7(), "kind": "device_to_office",
        "sender": {"device_id": sara.id, "name": "x", "signing_key": "00", "recipient": "age1x"},
        "recipients": [], "office_id": o.vault().device().device_id, "created_hlc": {"millis": 0, "counter": 0},
        "sender_seq": 1, "prev_bundle_sha256": null,
        "members": [{"path": "events.jsonl", "sha256": hex::encode(sha2::Sha256::digest(&events)), "size": 0}],
    }))
    .unwrap();
    let mut signed = fieldcase::sync::format::MANIFEST_DOMAIN.to_vec();
    signed.extend_from_slice(&m);
    let sig = base64::engine::general_purpose::STANDARD.encode(d.signer_key().sign(&signed).to_bytes());
    let tar = raw_tar::tar_of(&[
        raw_tar::raw("manifest.json", m),
        raw_tar::raw("manifest.sig", sig.into_bytes()),
        raw_tar::raw("events.jsonl", events),
    ]);
    let to: age::x25519::Recipient = sync::recipient(&o).parse().unwrap();
    let enc = age::Encryptor::with_recipients(std::iter::once(&to as &dyn age::Recipient)).unwrap();
    let mut bundle = Vec::new();
    let mut w = enc.wrap_output(&mut bundle).unwrap();
    w.write_all(&tar).unwrap();
    w.finish().unwrap();
    let before = full_dump(&o);
    let e = sync::import_bundle(&mut o, &bundle, false, &mut |_| {}).unwrap_err();
    assert!(matches!(e, fieldcase::sync::ImportError::UnknownSender { sender } if sender == sara.id), "{e}");
    assert_eq!(full_dump(&o), before);
}

/// Decrypt a passphrase-wrapped age file.
fn scrypt_open(path: &Path, passphrase: &SecretString) -> Vec<u8> {
    use std::io::Read as _;
    let bytes = std::fs::read(path).unwrap();
    let dec = age::Decryptor::new_buffered(&bytes[..]).unwrap();
    let id = age::scrypt::Identity::new(passphrase.clone());
    let mut out = Vec::new();
    dec.decrypt(std::iter::once(&id as &dyn age::Identity)).unwrap().read_to_end(&mut out).unwrap();
    out
}

/// Decrypt an age file with an X25519 identity.
fn age_open(path: &Path, id: &age::x25519::Identity) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let bytes = std::fs::read(path).unwrap();
    let dec = age::Decryptor::new_buffered(&bytes[..]).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    dec.decrypt(std::iter::once(id as &dyn age::Identity))
        .map_err(|e| e.to_string())?
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[test]
fn a_further_persons_files_hold_no_key_of_the_first_person() {
    let t = tempfile::tempdir().unwrap();
    let (mut o, mut d) = world(t.path());
    let sara = enroll_person(&mut o, &mut d, "sara", Role::Supervisor);
    d.switch_person("amina", &pass()).unwrap();
    let amina_secret = hex::encode(d.vault().first_person_key().expect("amina unlocked").to_bytes());
    let device_secret = hex::encode(d.vault().device_key().to_bytes());
    assert_ne!(amina_secret, device_secret, "a new vault parts its device key from its first person's key");
    d.lock().unwrap();

    // What sara's passphrase opens, read from the files as a thief who
    // learnt it would: her own file, then the vault keys it unlocks.
    let dir = t.path().join("d");
    let person: serde_json::Value =
        serde_json::from_slice(&scrypt_open(&dir.join(format!("people/{}.age", sara.id)), &passphrase_of("sara")))
            .unwrap();
    let person_key: age::x25519::Identity = person["person_identity"].as_str().unwrap().parse().unwrap();
    let keys = age_open(&dir.join(format!("people/{}.keys.age", sara.id)), &person_key).unwrap();
    let keys_text = String::from_utf8(keys).unwrap();
    let keys: serde_json::Value = serde_json::from_str(&keys_text).unwrap();
    assert_eq!(keys["version"], 3);
    assert_eq!(keys["signing_key"], "", "no first person's key in a further person's keys file");
    assert_eq!(keys["device_key"], device_secret.as_str(), "she syncs: she holds the device key");
    for text in [&keys_text, &person.to_string()] {
        assert!(!text.contains(&amina_secret), "amina's event key is in sara's files");
    }
    // identity.age, amina's own, holds both.
    let identity: serde_json::Value = serde_json::from_slice(&scrypt_open(&dir.join("identity.age"), &pass())).unwrap();
    assert_eq!(
        (identity["signing_key"].as_str(), identity["device_key"].as_str()),
        (Some(&*amina_secret), Some(&*device_secret))
    );

    // Opened by sara, the vault cannot sign as amina until amina's own
    // passphrase is given; then it can, and her events verify with her key.
    let mut d = CaseStore::open_with(&dir, &passphrase_of("sara"), &options()).unwrap();
    assert!(d.vault().first_person_key().is_none());
    let e = d.switch_person("amina", &wrong()).unwrap_err();
    assert!(matches!(e, StoreError::Vault(VaultError::WrongPassphrase { .. })), "{e}");
    assert!(d.vault().first_person_key().is_none());
    d.switch_person("amina", &pass()).unwrap();
    let c = new_case(&mut d, "Mariama");
    for e in d.case_events(c).unwrap() {
        e.verify(&d.vault().first_person_verifying_key()).unwrap();
        assert!(e.verify(&d.vault().device_verifying_key()).is_err(), "events are not signed with the device key");
    }
    // And the device still syncs both ways.
    up(&mut d, &mut o);
    down(&mut o, &mut d);
}

#[test]
fn a_removed_person_opens_nothing_written_after_with_their_old_files() {
    let t = tempfile::tempdir().unwrap();
    let (mut o, mut d) = world(t.path());
    let sara = enroll_person(&mut o, &mut d, "sara", Role::Supervisor);
    let dir = t.path().join("d");
    let keep = t.path().join("sara-files");
    std::fs::create_dir(&keep).unwrap();
    for f in [format!("{}.age", sara.id), format!("{}.keys.age", sara.id)] {
        std::fs::copy(dir.join("people").join(&f), keep.join(&f)).unwrap();
    }
    // The vault identity in her keys file opens the snapshot, for now.
    let old_vault_identity = {
        let person: serde_json::Value =
            serde_json::from_slice(&scrypt_open(&keep.join(format!("{}.age", sara.id)), &passphrase_of("sara")))
                .unwrap();
        let person_key: age::x25519::Identity = person["person_identity"].as_str().unwrap().parse().unwrap();
        let keys: serde_json::Value =
            serde_json::from_slice(&age_open(&keep.join(format!("{}.keys.age", sara.id)), &person_key).unwrap())
                .unwrap();
        keys["vault_age_identity"].as_str().unwrap().parse::<age::x25519::Identity>().unwrap()
    };
    assert!(age_open(&dir.join("snapshot.age"), &old_vault_identity).is_ok());
    // Only the first person removes, with her passphrase.
    let e = d.remove_person("sara", &pass()).unwrap_err();
    assert!(matches!(e, StoreError::NotFirstPerson { .. }), "{e}");
    d.switch_person("amina", &pass()).unwrap();
    let e = d.remove_person("sara", &wrong()).unwrap_err();
    assert!(matches!(e, StoreError::Vault(VaultError::WrongPassphrase { .. })), "{e}");
    assert_eq!(d.people().unwrap().len(), 1, "a refused removal removes nothing");
    let removed = d.remove_person("sara", &pass()).unwrap();
    assert_eq!(removed.id, sara.id);
    assert!(removed.removed_at.is_some());
    assert!(d.people().unwrap().is_empty());
    assert!(!dir.join("people").join(format!("{}.age", sara.id)).exists());
    let c = new_case(&mut d, "Written after");
    d.lock().unwrap();

    let e = CaseStore::open_with(&dir, &passphrase_of("sara"), &options()).err().expect("sara is gone");
    assert!(matches!(e, StoreError::Vault(VaultError::WrongPassphrase { .. })), "{e}");
    // Her old files put back (a copy she kept) open nothing: the vault's
    // keys changed at her removal.
    for f in std::fs::read_dir(&keep).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), dir.join("people").join(f.file_name())).unwrap();
    }
    assert!(CaseStore::open_with(&dir, &passphrase_of("sara"), &options()).is_err(), "old files opened the vault");
    // Nor does the vault identity they hold decrypt the snapshot now.
    assert!(
        age_open(&dir.join("snapshot.age"), &old_vault_identity).is_err(),
        "old vault keys still open the snapshot"
    );
    let mut d = CaseStore::open_with(&dir, &pass(), &options()).unwrap();
    assert!(d.case_detail(c).is_ok(), "the first person keeps everything");
    up(&mut d, &mut o);
}

#[test]
fn revoking_a_device_revokes_the_people_it_hosts_and_an_office_revokes_whom_it_removes() {
    let t = tempfile::tempdir().unwrap();
    let (mut o, mut d) = world(t.path());
    let sara = enroll_person(&mut o, &mut d, "sara", Role::Supervisor);
    let device_id = d.vault().device().device_id;
    people::act_on_office_as(&mut o, "chief", Role::Supervisor);
    let chief = o.people().unwrap().into_iter().find(|p| p.user == "chief").unwrap();
    o.switch_person(&o.vault().device().user_name.clone(), &pass()).unwrap();
    sync::revoke(&mut o, device_id).unwrap();
    let roster = sync::exchange::roster(&o).unwrap().unwrap().roster;
    for id in [device_id, sara.id] {
        assert!(roster.device(id).unwrap().revoked_at.is_some(), "{id} not revoked");
    }
    assert!(roster.device(chief.id).unwrap().revoked_at.is_none(), "a person of another host is untouched");

    let removed = sync::people::remove_person(&mut o, "chief", &pass()).unwrap();
    assert_eq!(removed.id, chief.id);
    let roster = sync::exchange::roster(&o).unwrap().unwrap().roster;
    assert!(roster.device(chief.id).unwrap().revoked_at.is_some(), "removed on the office: revoked");
    assert!(o.people().unwrap().is_empty());
}
