//! Duplicates at import and a merge made at the office reaching the device.
#[path = "sync_common.rs"]
mod sync_common;

use fieldcase::model::store::CaseStore;
use fieldcase::search;
use serde_json::json;
use sync_common::*;
use uuid::Uuid;

fn child(s: &mut CaseStore, given: &str, family: &str, age: u32) -> Uuid {
    let c = s.create_case("uasc", "Agadez").unwrap();
    s.save_form(
        c,
        "registration_bia",
        None,
        values(json!({"given_names": given, "family_name": family, "sex": "male", "age_years": age, "place_of_origin": "Labé"})),
    )
    .unwrap();
    c
}

#[test]
fn duplicate_suspected_at_import_merge_at_office_syncs_to_device() {
    let od = tempfile::tempdir().unwrap();
    let dd = tempfile::tempdir().unwrap();
    let mut office = office(od.path());
    let mut dev = device(dd.path(), "amina", "caseworker");
    enroll(&mut office, &mut dev);
    let first = child(&mut dev, "Abdoulaye", "Diallo", 16);
    let report = up(&mut dev, &mut office);
    assert!(report.suspected_duplicates.is_empty(), "{:?}", report.suspected_duplicates);

    // Re-registered at a transit hub under another spelling.
    let second = child(&mut dev, "Abdullahi", "Jallow", 16);
    let report = up(&mut dev, &mut office);
    assert_eq!(report.suspected_duplicates.len(), 1, "{:?}", report.suspected_duplicates);
    let s = &report.suspected_duplicates[0];
    assert_eq!((s.new_case, s.existing_case), (second, first));
    assert!(s.reason.contains("given name"), "{}", s.reason);
    // The parts of the score carry their explanation codes for the window.
    assert!(s.score > 0.0 && !s.parts.is_empty(), "{s:?}");
    assert!(s.parts.iter().all(|p| search::explain::params_of(&p.code).is_some()), "{:?}", s.parts);

    search::merge::merge(&mut office, second, first).unwrap();
    down(&mut office, &mut dev);
    assert_eq!(dev.case_detail(second).unwrap().summary.stage, "duplicate");
    let hit = &search::query::search_text(dev.vault().conn(), "abdallah").unwrap();
    let merged = hit.iter().find(|h| h.case_id == second.to_string()).expect("still searchable");
    assert_eq!(merged.merged_into.as_deref(), Some(first.to_string().as_str()));
    assert!(search::duplicates::find_duplicates(dev.vault().conn()).unwrap().is_empty());

    search::merge::split(&mut office, second).unwrap();
    down(&mut office, &mut dev);
    assert_eq!(dev.case_detail(second).unwrap().summary.stage, "identified");
    assert_eq!(search::duplicates::find_duplicates(dev.vault().conn()).unwrap().len(), 1);
}
