//! Need-to-know (docs/visibility.md) through the library's views: what a
//! viewer, a data manager, the BID panel and caseworkers see of cases made
//! by other people (a demo register, or events synced from other vaults),
//! and changes to a case or note the person may not see being refused
//! without a word of its data.

use std::collections::BTreeSet;
use std::path::Path;

use fieldcase::model::demo;
use fieldcase::model::error::StoreError;
use fieldcase::model::event::Role;
use fieldcase::model::forms::{self, Sensitivity};
use fieldcase::model::projection;
use fieldcase::model::store::CaseStore;
use fieldcase::model::visibility::{HiddenCount, HiddenReason};
use fieldcase::report::ReportOptions;
use fieldcase::search::query::{Query, SearchError};
use fieldcase::search::visible;
use fieldcase::vault::{InitOptions, SecretString, VaultOptions};
use serde_json::{json, Map, Value};
use tempfile::TempDir;
use uuid::Uuid;

const T0: u64 = 1_780_000_000_000; // 2026-05-28

fn store(dir: &Path, name: &str, role: &str) -> CaseStore {
    let opts = InitOptions { name: name.into(), role: role.into(), escrow: None };
    let options = VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() };
    let mut s = CaseStore::init_with(dir, &SecretString::from("visibility test".to_owned()), opts, &options).unwrap();
    s.set_clock(Some(T0));
    s
}

fn values(v: Value) -> Map<String, Value> {
    v.as_object().expect("an object").clone()
}

/// Every vault trusts every other one's key.
fn trust_all(stores: &mut [&mut CaseStore]) {
    let keys: Vec<_> =
        stores.iter().map(|s| (s.vault().device().device_id, s.vault().first_person_verifying_key())).collect();
    for s in stores.iter_mut() {
        for (id, key) in &keys {
            if *id != s.vault().device().device_id {
                s.trust_device(*id, key, "peer").unwrap();
            }
        }
    }
}

fn sync(from: &CaseStore, to: &mut CaseStore) {
    to.import_events(from.all_events().unwrap()).expect("sync import");
}

/// A demo register (made by the demo's own caseworkers, supervisors, panel
/// and data manager) in a supervisor's vault, and every person name in it:
/// the children's and relatives' names as the supervisor sees them, and
/// the staff user names that authored events.
fn demo_register(tmp: &TempDir) -> (CaseStore, BTreeSet<String>) {
    let mut s = store(&tmp.path().join("office"), "sup.office", "supervisor");
    let summary = demo::generate(&mut s, 30, 5).unwrap();
    assert!(summary.refused.is_empty(), "{:#?}", summary.refused);
    let mut names = BTreeSet::new();
    for c in s.list_cases().unwrap().cases {
        names.extend(c.given_names.into_iter().chain(c.family_name).chain(c.caseworker));
        let state = s.case_state(c.id).unwrap();
        for reg in state.registers.values() {
            for w in reg.heads() {
                collect_names(&w.value, &mut names);
            }
        }
    }
    for e in s.all_events().unwrap() {
        names.insert(e.author.clone());
    }
    // Short or generic words would match the JSON keys, not a person.
    names.retain(|n| n.chars().count() >= 4 && !["demo", "caseworker"].contains(&n.as_str()));
    assert!(names.len() > 30, "the demo has names: {names:?}");
    (s, names)
}

fn collect_names(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if let (true, Value::String(s)) = (k == "name" || k.ends_with("_names") || k == "family_name", x) {
                    out.insert(s.clone());
                }
                collect_names(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_names(x, out)),
        _ => {}
    }
}

fn assert_no_name(json: &str, names: &BTreeSet<String>, what: &str) {
    for n in names {
        assert!(!json.contains(n.as_str()), "{what} shows {n:?}");
    }
}

#[test]
fn a_viewer_sees_case_metadata_and_reports_and_no_name_anywhere() {
    let tmp = TempDir::new().unwrap();
    let (mut s, names) = demo_register(&tmp);
    let total = s.case_count().unwrap();
    let case = s.list_cases().unwrap().cases[0].id;
    s.set_actor("m.and.e", Role::Viewer).expect("set_actor");

    let list = s.list_cases().unwrap();
    assert_eq!(list.cases.len(), total, "the viewer's list counts every case");
    assert!(list.cases.iter().all(|c| c.hidden == Some(HiddenReason::AggregatesOnly)));
    assert!(list.cases.iter().all(|c| c.given_names.is_none() && c.date_of_birth.is_none() && c.age_years.is_none()));
    assert_no_name(&serde_json::to_string(&list).unwrap(), &names, "the viewer's case list");

    let refused = |e: StoreError| matches!(e, StoreError::Hidden { reason: HiddenReason::AggregatesOnly, .. });
    assert!(refused(s.case_detail(case).unwrap_err()));
    assert!(refused(s.history(case).unwrap_err()));
    assert!(refused(s.verify_history(case).unwrap_err()));
    let tasks = s.tasks(demo::end_date()).unwrap();
    assert!(tasks.tasks.is_empty());
    assert!(tasks.hidden.iter().any(|h| h.reason == HiddenReason::AggregatesOnly && h.count > 0), "{tasks:?}");
    assert_no_name(&serde_json::to_string(&tasks).unwrap(), &names, "the viewer's tasks");

    // Search by a name the register holds: refused, not an empty answer.
    let a_name = names.iter().find(|n| n.chars().all(char::is_alphabetic)).unwrap().clone();
    let q = Query { words: vec![a_name.clone()], ..Query::default() };
    assert!(matches!(visible::search_for(&s, &q), Err(SearchError::Hidden(HiddenReason::AggregatesOnly))));
    assert!(matches!(visible::trace_for(&s, case), Err(SearchError::Hidden(_))));
    assert!(matches!(visible::visible_pairs(&s, Vec::new()), Err(SearchError::Hidden(_))));

    // Reports (aggregates) stay available.
    let whole = ReportOptions { from: demo::start_date(), to: demo::end_date(), office: None, suppress: false };
    let report = fieldcase::report::compute(s.vault().conn(), &whole).unwrap();
    assert_no_name(&serde_json::to_string(&report).unwrap(), &names, "the report");
}

#[test]
fn a_data_manager_sees_normal_fields_and_contested_ones_and_no_names_in_lists() {
    let tmp = TempDir::new().unwrap();
    let (mut s, names) = demo_register(&tmp);
    let full: Vec<_> = s.list_cases().unwrap().cases.iter().map(|c| s.case_detail(c.id).unwrap()).collect();
    s.set_actor("dm.country", Role::DataManager).expect("set_actor");
    let list = s.list_cases().unwrap();
    assert_eq!(list.cases.len(), full.len());
    assert!(list.cases.iter().all(|c| c.hidden == Some(HiddenReason::MetadataOnly) && c.family_name.is_none()));
    let mut contested_shown = 0;
    for sup in &full {
        let dm = s.case_detail(sup.summary.id).unwrap();
        for f in &dm.fields {
            let as_sup =
                sup.fields.iter().find(|x| (&x.form, x.item, &x.field) == (&f.form, f.item, &f.field)).unwrap();
            let normal = forms::sensitivity(&f.form, &f.field) == Some(Sensitivity::Normal);
            let contested = as_sup.heads.len() > 1;
            if normal || contested {
                assert_eq!(f.hidden, None, "{}.{}", f.form, f.field);
                assert_eq!(f.value, as_sup.value);
                contested_shown += usize::from(!normal);
            } else {
                assert_eq!(f.hidden, Some(HiddenReason::MetadataOnly), "{}.{}", f.form, f.field);
                assert!(f.value.is_none() && f.heads.is_empty());
            }
        }
    }
    assert!(contested_shown > 0, "the demo plants conflicts on sensitive fields");
    // Search: hits without person columns.
    let family = full.iter().find_map(|d| d.summary.family_name.clone()).expect("a family name");
    let q = Query { words: vec![family.clone()], ..Query::default() };
    let view = visible::search_for(&s, &q).unwrap();
    assert!(!view.hits.is_empty());
    assert_eq!(view.withheld, Some(HiddenReason::MetadataOnly));
    assert!(view.hits.iter().all(|h| h.given_names.is_empty() && h.family_name.is_empty() && h.matched.is_empty()));
    // Staff user names (with a dot) stay: the data manager reassigns cases.
    let people: BTreeSet<String> = names.iter().filter(|n| !n.contains('.')).cloned().collect();
    assert!(people.contains(&family));
    assert_no_name(&serde_json::to_string(&view).unwrap(), &people, "the data manager's search");
    assert_no_name(&serde_json::to_string(&list).unwrap(), &people, "the data manager's case list");
}

#[test]
fn the_panel_sees_exactly_the_cases_submitted_to_it() {
    let tmp = TempDir::new().unwrap();
    let (mut s, _) = demo_register(&tmp);
    let submitted: BTreeSet<Uuid> = s
        .list_cases()
        .unwrap()
        .cases
        .iter()
        .filter(|c| s.case_state(c.id).unwrap().stage_history.iter().any(|h| h.to == "bid_pending"))
        .map(|c| c.id)
        .collect();
    let total = s.case_count().unwrap();
    assert!(!submitted.is_empty() && submitted.len() < total, "the demo has cases on and off the agenda");
    s.set_actor("panel.chair", Role::BidPanel).expect("set_actor");
    let list = s.list_cases().unwrap();
    assert_eq!(list.cases.iter().map(|c| c.id).collect::<BTreeSet<_>>(), submitted);
    assert_eq!(
        list.hidden,
        vec![HiddenCount { reason: HiddenReason::NotOnPanelAgenda, count: total - submitted.len() }]
    );
}

/// amina registers a child and writes a restricted note and an ordinary
/// one; her supervisor sara and another caseworker bachir get the events.
struct Team {
    _tmp: TempDir,
    amina: CaseStore,
    sara: CaseStore,
    bachir: CaseStore,
    case: Uuid,
    restricted: Uuid,
}

const SECRET: &str = "Disclosed abuse by the uncle at the shelter";

fn team() -> Team {
    let tmp = TempDir::new().unwrap();
    let mut amina = store(&tmp.path().join("a"), "amina", "caseworker");
    let mut sara = store(&tmp.path().join("s"), "sara", "supervisor");
    let mut bachir = store(&tmp.path().join("b"), "bachir", "caseworker");
    trust_all(&mut [&mut amina, &mut sara, &mut bachir]);
    let case = amina.create_case("uasc", "Agadez").unwrap();
    amina.assign(case, "amina").unwrap();
    amina
        .save_form(
            case,
            "registration_bia",
            None,
            values(json!({"given_names": "Mariama", "family_name": "Keita", "sex": "female", "age_years": 13})),
        )
        .unwrap();
    let note = |subject: &str, text: &str, restricted: bool| {
        values(json!({"note_datetime": "2026-05-28T10:00:00Z", "author": {"name": "Amina"}, "note_type": "incident",
            "subject": subject, "text": text, "restricted": restricted}))
    };
    let restricted = amina.add_note(case, note("Disclosure", SECRET, true)).unwrap();
    amina.add_note(case, note("School", "Enrolled in grade 6", false)).unwrap();
    sync(&amina, &mut sara);
    sync(&amina, &mut bachir);
    Team { _tmp: tmp, amina, sara, bachir, case, restricted }
}

#[test]
fn a_caseworker_does_not_see_a_case_assigned_to_someone_else_and_cannot_touch_it() {
    let mut t = team();
    let list = t.bachir.list_cases().unwrap();
    assert!(list.cases.is_empty());
    assert_eq!(list.hidden, vec![HiddenCount { reason: HiddenReason::NotAssigned, count: 1 }]);
    assert_eq!(t.amina.list_cases().unwrap().cases.len(), 1);

    let before = projection::dump(t.bachir.vault().conn()).unwrap();
    let number = t.sara.case_detail(t.case).unwrap().summary.case_number;
    let errors = [
        t.bachir.case_detail(t.case).unwrap_err(),
        t.bachir.history(t.case).unwrap_err(),
        t.bachir.save_form(t.case, "registration_bia", None, values(json!({"family_name": "Kamara"}))).unwrap_err(),
        t.bachir.add_note(t.case, values(json!({"note_type": "contact"}))).unwrap_err(),
        t.bachir.assign(t.case, "bachir").unwrap_err(),
    ];
    for e in &errors {
        assert!(matches!(e, StoreError::Hidden { reason: HiddenReason::NotAssigned, .. }), "{e:?}");
        let message = e.to_string();
        for leak in ["Mariama", "Keita", "amina", number.as_str(), "female", "Agadez"] {
            assert!(!message.contains(leak), "{message:?} leaks {leak:?}");
        }
    }
    assert_eq!(projection::dump(t.bachir.vault().conn()).unwrap(), before, "nothing was written");
    let q = Query { words: vec!["mariama".into()], ..Query::default() };
    let view = visible::search_for(&t.bachir, &q).unwrap();
    assert!(view.hits.is_empty());
    assert_eq!(view.hidden, vec![HiddenCount { reason: HiddenReason::NotAssigned, count: 1 }]);
    assert!(!serde_json::to_string(&view).unwrap().contains("Keita"));
    assert!(matches!(visible::trace_for(&t.bachir, t.case), Err(SearchError::Store(StoreError::Hidden { .. }))));
}

#[test]
fn a_restricted_note_is_read_by_its_author_and_supervisors_only() {
    let mut t = team();
    // The supervisor hands the case over to bachir.
    t.sara.assign(t.case, "bachir").unwrap();
    sync(&t.sara, &mut t.bachir);
    sync(&t.sara, &mut t.amina);

    let notes = |d: &fieldcase::model::store::CaseDetail| d.items.iter().filter(|i| i.form == "case_note").count();
    let sup = t.sara.case_detail(t.case).unwrap();
    assert_eq!(notes(&sup), 2);
    assert!(serde_json::to_string(&sup).unwrap().contains(SECRET));
    assert!(sup.hidden.is_empty());

    let b = t.bachir.case_detail(t.case).unwrap();
    assert_eq!(notes(&b), 1, "bachir sees the ordinary note only");
    assert_eq!(b.hidden, vec![HiddenCount { reason: HiddenReason::RestrictedNote, count: 1 }]);
    assert!(b.fields.iter().all(|f| f.item != Some(t.restricted)));
    let json = serde_json::to_string(&b).unwrap();
    assert!(!json.contains(SECRET) && !json.contains(&t.restricted.to_string()), "{json}");
    let h = t.bachir.history(t.case).unwrap();
    assert!(h.entries.iter().all(|e| e.item != Some(t.restricted)));
    assert_eq!(h.hidden, vec![HiddenCount { reason: HiddenReason::RestrictedNote, count: 1 }]);
    assert_eq!(t.sara.history(t.case).unwrap().entries.len(), h.entries.len() + 1);
    let edit = t.bachir.save_form(t.case, "case_note", Some(t.restricted), values(json!({"restricted": false})));
    assert!(matches!(edit, Err(StoreError::Hidden { reason: HiddenReason::RestrictedNote, .. })), "{edit:?}");

    // amina registered the case, so keeps it after the handover, and her
    // own restricted note is hers to read.
    let a = t.amina.case_detail(t.case).unwrap();
    assert_eq!(notes(&a), 2);
    assert!(a.hidden.is_empty());
}
