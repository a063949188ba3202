//! Reassignment: a supervisor or the office moves cases from one
//! caseworker to another, one or many, in one commit; the receiving
//! caseworker's device gets them at the next sync.
#[path = "sync_common.rs"]
mod common;
#[path = "common/people.rs"]
mod people;

use common::*;
use fieldcase::model::error::StoreError;
use fieldcase::model::event::Role;

#[test]
fn the_office_moves_a_caseworkers_cases_to_another_who_receives_them() {
    let t = tempfile::tempdir().unwrap();
    let mut o = office(&t.path().join("o"));
    let mut a = device(&t.path().join("a"), "amina", "caseworker");
    let mut b = device(&t.path().join("b"), "bakary", "caseworker");
    enroll(&mut o, &mut a);
    enroll(&mut o, &mut b);
    let cases: Vec<_> = ["Awa", "Binta", "Coumba"].iter().map(|n| new_case(&mut a, n)).collect();
    up(&mut a, &mut o);
    people::act_on_office_as(&mut o, "chief", Role::Supervisor);

    // One or many, all or none; only to an enrolled caseworker.
    assert_eq!(o.assign_cases(&cases, "amina").unwrap(), 3);
    assert_eq!(o.assign_cases(&cases[..1], "amina").unwrap(), 0, "already hers");
    let before = full_dump(&o);
    for nobody in ["nobody", "chief"] {
        let e = o.assign_cases(&cases, nobody).unwrap_err();
        assert!(matches!(&e, StoreError::NotACaseworker { user } if user == nobody), "{e}");
        assert_eq!(full_dump(&o), before, "a refused assignment wrote something");
    }

    let moved = o.reassign_all("amina", "bakary").unwrap();
    assert_eq!(moved.len(), 3);
    for c in &cases {
        assert_eq!(o.case_detail(*c).unwrap().summary.caseworker.as_deref(), Some("bakary"));
    }
    let r = down(&mut o, &mut b);
    for c in &cases {
        assert!(r.preview.new_cases.contains(c), "bakary's device receives {c}: {r:?}");
    }
    assert!(o.reassign_all("amina", "bakary").unwrap().is_empty(), "nothing left to move");

    // A caseworker reassigns nothing, not even the cases she registered.
    down(&mut o, &mut a);
    let before = full_dump(&a);
    let e = a.assign_cases(&cases, "amina").unwrap_err();
    assert!(
        matches!(e, StoreError::Forbidden { .. } | StoreError::Hidden { .. } | StoreError::RuleViolated { .. }),
        "{e}"
    );
    assert_eq!(full_dump(&a), before);
}
