//! Search index kept by the projection, queries, tracing and duplicates on a
//! real (low-scrypt) vault.
#[path = "sync_common.rs"]
mod sync_common;

use fieldcase::model::store::CaseStore;
use fieldcase::search::{self, duplicates, query::Query};
use serde_json::json;
use sync_common::*;
use uuid::Uuid;

fn child(s: &mut CaseStore, given: &str, family: &str, sex: &str, age: u32, place: &str, mother: Option<&str>) -> Uuid {
    let c = s.create_case("uasc", "Agadez").unwrap();
    let mut v =
        json!({"given_names": given, "family_name": family, "sex": sex, "age_years": age, "place_of_origin": place});
    if let Some(m) = mother {
        v["family_members"] = json!([{"name": m, "relationship": "mother"}]);
    }
    s.save_form(c, "registration_bia", None, values(v)).unwrap();
    c
}

fn names_of(hits: &[search::Hit]) -> Vec<String> {
    hits.iter().map(|h| format!("{} {}", h.given_names, h.family_name)).collect()
}

#[test]
fn search_finds_spelling_variants_filters_and_follows_edits() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = device(dir.path(), "amina", "caseworker");
    let mohamed = child(&mut s, "Mohamed", "Diallo", "male", 15, "Labé", Some("Mariam Diallo"));
    let _fatou = child(&mut s, "Fatoumata", "Camara", "female", 12, "Kankan", None);
    let ibra = child(&mut s, "Ibrahima", "Sow", "male", 16, "Mamou", None);
    let conn = s.vault().conn();

    let hits = search::query::search_text(conn, "Muhammad Jallow").unwrap();
    assert_eq!(names_of(&hits)[0], "Mohamed Diallo", "{hits:#?}");
    assert!(
        hits[0].matched.iter().any(|m| m.how == "spelling_variant" && m.matched == "Diallo"),
        "{:?}",
        hits[0].matched
    );
    // Arabic script and a prefix.
    assert_eq!(names_of(&search::query::search_text(conn, "محمد").unwrap()), vec!["Mohamed Diallo"]);
    assert_eq!(names_of(&search::query::search_text(conn, "fatou").unwrap()), vec!["Fatoumata Camara"]);
    // Filters.
    assert_eq!(names_of(&search::query::search_text(conn, "age:10-13").unwrap()), vec!["Fatoumata Camara"]);
    assert_eq!(names_of(&search::query::search_text(conn, "location:labe").unwrap()), vec!["Mohamed Diallo"]);
    assert!(search::query::search_text(conn, "ibrahim sex:female").unwrap().is_empty());
    assert!(matches!(search::query::search_text(conn, "colour:red"), Err(search::SearchError::UnknownFilter(_))));
    assert!(matches!(search::query::search_text(conn, "age:ten"), Err(search::SearchError::BadAge(_))));
    let number = s.case_detail(ibra).unwrap().summary.case_number.clone();
    let hits = search::search(conn, &Query::parse(&format!("case:{number}")).unwrap()).unwrap();
    assert_eq!(names_of(&hits), vec!["Ibrahima Sow"]);
    // Mother's name is searchable (ranked as a relative).
    let hits = search::query::search_text(conn, "mariam").unwrap();
    assert_eq!(hits[0].case_id, mohamed.to_string());
    assert_eq!(hits[0].matched[0].field, "relative");

    // An edit goes through the projection hook: old name gone, new name found.
    s.save_form(ibra, "registration_bia", None, values(json!({"given_names": "Ousmane"}))).unwrap();
    let conn = s.vault().conn();
    assert!(search::query::search_text(conn, "ibrahima").unwrap().is_empty());
    assert_eq!(names_of(&search::query::search_text(conn, "Usman").unwrap()), vec!["Ousmane Sow"]);

    // After reopening (snapshot + journal replay) the index is still there.
    drop(s);
    let s = reopen(dir.path());
    assert_eq!(names_of(&search::query::search_text(s.vault().conn(), "osman").unwrap()), vec!["Ousmane Sow"]);
}

#[test]
fn index_missing_from_an_older_vault_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = device(dir.path(), "amina", "caseworker");
    child(&mut s, "Aïssatou", "Barry", "female", 14, "Labé", None);
    child(&mut s, "Lamine", "Keïta", "male", 17, "Kayes", None);
    let conn = s.vault().conn();
    conn.execute_batch("DROP TABLE search_fts; DROP TABLE search_docs; DROP TABLE name_keys; DROP TABLE search_meta;")
        .unwrap();
    // A commit on the old database creates the tables for its case only...
    let third = child(&mut s, "Moussa", "Traoré", "male", 16, "Ségou", None);
    let conn = s.vault().conn();
    // ...and the first search rebuilds everything.
    assert_eq!(names_of(&search::query::search_text(conn, "aisha bari").unwrap()), vec!["Aïssatou Barry"]);
    assert_eq!(names_of(&search::query::search_text(conn, "keita").unwrap()), vec!["Lamine Keïta"]);
    assert_eq!(search::query::search_text(conn, "musa trawally").unwrap()[0].case_id, third.to_string());
}

#[test]
fn trace_finds_sought_sibling_and_requests_with_explained_scores() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = device(dir.path(), "amina", "caseworker");
    let seeker = child(&mut s, "Mohamed", "Diallo", "male", 16, "Labé", Some("Kadiatou Bah"));
    // The brother he is looking for, registered elsewhere under another spelling.
    let brother = child(&mut s, "Ibrahim", "Jallow", "male", 12, "Labe", Some("Khadija Ba"));
    // An unrelated boy of the same name from another place and mother.
    let other = child(&mut s, "Ibrahima", "Diallo", "male", 17, "Conakry", Some("Fatoumata Sylla"));
    let item = Uuid::now_v7();
    s.save_form(
        seeker,
        "family_tracing",
        Some(item),
        values(json!({"relative": {"name": "Ibrahima Diallo"}, "relationship": "brother", "relative_sex": "male", "relative_age": 12})),
    )
    .unwrap();
    let conn = s.vault().conn();
    let matches = search::trace(conn, &seeker.to_string()).unwrap();
    let first = &matches[0];
    assert_eq!(first.case_id, brother.to_string(), "{matches:#?}");
    assert_eq!(first.kind, "sought_relative");
    assert!(first.parts.iter().any(|p| p.part == "mother" && p.points > 0.0), "{:?}", first.parts);
    assert!(first.parts.iter().any(|p| p.part == "age" && p.points > 0.0));
    if let Some(o) = matches.iter().find(|m| m.case_id == other.to_string() && m.kind == "sought_relative") {
        assert!(o.score < first.score, "the namesake ranks below the brother: {matches:#?}");
    }
    // The same mother makes them siblings too.
    assert!(matches.iter().any(|m| m.kind == "sibling" && m.case_id == brother.to_string()));
    // Seen from the brother's case: someone is looking for him.
    let back = search::trace(conn, &brother.to_string()).unwrap();
    assert!(back.iter().any(|m| m.kind == "sought_by" && m.case_id == seeker.to_string()), "{back:#?}");
}

#[test]
fn duplicates_on_demand_and_merge_split_keep_history() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = device(dir.path(), "amina", "caseworker");
    let a = child(&mut s, "Mohamed", "Diallo", "male", 15, "Labé", Some("Mariam Bah"));
    let b = child(&mut s, "Mahamat", "Jallow", "male", 16, "Labe", Some("Maryam Ba"));
    let sibling = child(&mut s, "Ibrahima", "Diallo", "male", 13, "Labé", Some("Mariam Bah"));
    let pairs = duplicates::find_duplicates(s.vault().conn()).unwrap();
    assert_eq!(pairs.len(), 1, "{pairs:#?}");
    let ids = [pairs[0].case_a.clone(), pairs[0].case_b.clone()];
    assert!(ids.contains(&a.to_string()) && ids.contains(&b.to_string()));
    assert!(!ids.contains(&sibling.to_string()));
    assert!(pairs[0].parts.iter().any(|p| p.part == "given_name" && p.points > 0.0));
    assert!(!pairs[0].explanation().is_empty());
    let of_b = duplicates::duplicates_of(s.vault().conn(), &b.to_string()).unwrap();
    assert_eq!(of_b.len(), 1);

    let events_before = s.case_events(b).unwrap().len();
    s.set_actor("dm", fieldcase::model::event::Role::DataManager).expect("set_actor");
    search::merge::merge(&mut s, b, a).unwrap();
    let d = s.case_detail(b).unwrap();
    assert_eq!(d.summary.stage, "duplicate");
    assert!(duplicates::find_duplicates(s.vault().conn()).unwrap().is_empty(), "a merged pair is not suspected again");
    let hits = search::query::search_text(s.vault().conn(), "mahamat").unwrap();
    // The merged case is still found, below the case it was merged into.
    assert_eq!(hits[0].case_id, a.to_string());
    assert_eq!(hits[1].case_id, b.to_string());
    assert_eq!(hits[1].merged_into.as_deref(), Some(a.to_string().as_str()));
    assert!(matches!(search::merge::merge(&mut s, b, a), Err(search::merge::MergeError::AlreadyMerged { .. })));
    assert!(matches!(search::merge::merge(&mut s, sibling, b), Err(search::merge::MergeError::TargetMerged { .. })));

    search::merge::split(&mut s, b).unwrap();
    let d = s.case_detail(b).unwrap();
    assert_eq!(d.summary.stage, "identified");
    assert_eq!(s.case_events(b).unwrap().len(), events_before + 4, "merge and split are events; nothing deleted");
    assert!(matches!(search::merge::split(&mut s, b), Err(search::merge::MergeError::NotMerged(_))));
    assert_eq!(duplicates::find_duplicates(s.vault().conn()).unwrap().len(), 1);
}

#[test]
fn caseworker_may_not_merge() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = device(dir.path(), "amina", "caseworker");
    let a = child(&mut s, "Awa", "Sow", "female", 15, "Kolda", None);
    let b = child(&mut s, "Hawa", "Sowe", "female", 15, "Kolda", None);
    assert!(search::merge::merge(&mut s, b, a).is_err());
    assert_eq!(s.case_detail(b).unwrap().summary.stage, "identified");
}

/// Every index row of every case, without the document numbers (which
/// follow the order cases were indexed in).
fn index_rows(conn: &rusqlite::Connection) -> Vec<String> {
    // Each row as its text columns joined by `sep`.
    let rows = |sql: &str, sep: &str| -> Vec<String> {
        let mut st = conn.prepare(sql).unwrap();
        let n = st.column_count();
        let mut rows = st.query([]).unwrap();
        let mut out = Vec::new();
        while let Some(r) = rows.next().unwrap() {
            out.push((0..n).map(|i| r.get::<_, String>(i).unwrap()).collect::<Vec<_>>().join(sep));
        }
        out
    };
    let mut out = rows(
        "SELECT d.case_id, d.person, f.case_number, f.names, f.keys, f.locations, f.caseworker, f.relatives
         FROM search_docs d JOIN search_fts f ON f.rowid = d.doc ORDER BY d.case_id",
        " | ",
    );
    out.extend(rows("SELECT case_id, key, role, item FROM name_keys ORDER BY case_id, key, role, item", " / "));
    out
}

fn doc_of(conn: &rusqlite::Connection, case: Uuid) -> i64 {
    conn.query_row("SELECT doc FROM search_docs WHERE case_id = ?1", [case.to_string()], |r| r.get(0)).unwrap()
}

/// A commit that does not change a case's person (a note) leaves its index
/// rows alone; one that does (a new name, a new relative) rewrites them;
/// either way the rows are those a rebuild from the projection gives.
#[test]
fn index_rows_after_commits_are_those_of_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = device(dir.path(), "amina", "caseworker");
    let awa = child(&mut s, "Awa", "Coulibaly", "female", 13, "Sikasso", Some("Kadiatou Coulibaly"));
    let sekou = child(&mut s, "Sékou", "Touré", "male", 16, "Kankan", None);
    let before = index_rows(s.vault().conn());
    let awa_doc = doc_of(s.vault().conn(), awa);

    let note = json!({
        "note_datetime": "2026-03-01T10:00:00Z",
        "author": {"name": "amina", "role": "caseworker", "organisation": "Test"},
        "note_type": "phone", "subject": "Call", "text": "Spoke with the carer."
    });
    s.add_note(awa, values(note)).unwrap();
    assert_eq!(index_rows(s.vault().conn()), before, "a note changes no index row");
    assert_eq!(doc_of(s.vault().conn(), awa), awa_doc, "and the case keeps its document");

    s.save_form(sekou, "registration_bia", None, values(json!({"given_names": "Lansana"}))).unwrap();
    s.save_form(
        awa,
        "registration_bia",
        None,
        values(json!({"family_members": [{"name": "Kadiatou Coulibaly", "relationship": "mother"},
                                          {"name": "Bakary Coulibaly", "relationship": "father"}]})),
    )
    .unwrap();
    let conn = s.vault().conn();
    assert_eq!(names_of(&search::query::search_text(conn, "lansana").unwrap()), vec!["Lansana Touré"]);
    assert!(search::query::search_text(conn, "sekou").unwrap().is_empty());
    assert_eq!(search::query::search_text(conn, "bakary").unwrap()[0].case_id, awa.to_string());
    let incremental = index_rows(conn);
    assert_ne!(incremental, before);
    search::index::rebuild(conn).unwrap();
    assert_eq!(index_rows(conn), incremental);
}

/// A query matching most of a name still finds the child, below full
/// matches, each word explained; filters stay strict; compounds and
/// Somali spelling match across how they were written.
#[test]
fn partial_matches_are_ranked_and_explained_per_word() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = device(dir.path(), "amina", "caseworker");
    let ali = child(&mut s, "Ali Hussein", "Warsame", "male", 11, "Baidoa", None);
    let _other = child(&mut s, "Ali", "Omar", "male", 11, "Baidoa", None);
    let wolde = child(&mut s, "Dawit", "Woldemichael", "male", 9, "Mekelle", None);
    let conn = s.vault().conn();

    // Somali spelling with marks in only one word, whole name.
    let hits = search::query::search_text(conn, "Cali Xuseen Warsame").unwrap();
    assert_eq!(hits[0].case_id, ali.to_string(), "{hits:#?}");
    assert_eq!((hits[0].words_matched, hits[0].words), (3, 3));
    assert!(hits[0].matched.iter().all(|m| m.is_match()), "{:?}", hits[0].matched);

    // One word spelt beyond recognition: the child is still found, with
    // the word shown as unmatched.
    let hits = search::query::search_text(conn, "Ali Hussein Qwertzuiop").unwrap();
    assert_eq!(hits[0].case_id, ali.to_string(), "{hits:#?}");
    assert_eq!((hits[0].words_matched, hits[0].words), (2, 3));
    let unmatched: Vec<&str> = hits[0].matched.iter().filter(|m| !m.is_match()).map(|m| m.term.as_str()).collect();
    assert_eq!(unmatched, vec!["qwertzuiop"]);
    assert_eq!(hits[0].matched.len(), 3, "every word explained, in query order");
    assert_eq!(hits[0].matched[2].how, search::query::UNMATCHED);
    // Ali Omar matches one word of three: not plausible enough.
    assert!(hits.iter().all(|h| h.words_matched >= 2), "{hits:#?}");

    // Filters stay strict for partial matches too.
    assert!(search::query::search_text(conn, "Ali Hussein Qwertzuiop age:3").unwrap().is_empty());
    assert!(search::query::search_text(conn, "Ali Hussein Qwertzuiop location:mekelle").unwrap().is_empty());

    // A compound written split finds it written joined, and says so.
    let hits = search::query::search_text(conn, "Dawit Wolde Michael").unwrap();
    assert_eq!(hits[0].case_id, wolde.to_string(), "{hits:#?}");
    assert_eq!(hits[0].words_matched, 3);
    assert_eq!(hits[0].matched[2].how, "compound", "{:?}", hits[0].matched);
    assert_eq!(hits[0].matched[2].matched, "Woldemichael");
    // And in Ge'ez script.
    let hits = search::query::search_text(conn, "ዳዊት ወልደሚካኤል").unwrap();
    assert_eq!(hits[0].case_id, wolde.to_string(), "{hits:#?}");

    // Nothing plausible: empty.
    assert!(search::query::search_text(conn, "Qwertzuiop Asdfghjkl").unwrap().is_empty());
}

/// The office sets the duplicate threshold; the pass uses it; a value a
/// score cannot take is refused, and only people who run the pass may set
/// it.
#[test]
fn the_office_duplicate_threshold_is_set_and_used() {
    use fieldcase::model::event::Role;
    use fieldcase::search::duplicate_review;
    let dir = tempfile::tempdir().unwrap();
    let mut s = device(dir.path(), "dm", "data_manager");
    s.set_actor("amina", Role::Caseworker).unwrap();
    // Same name, sex, age and place: a likely duplicate.
    child(&mut s, "Aminata", "Konaté", "female", 12, "Kayes", None);
    child(&mut s, "Aminata", "Konate", "female", 12, "Kayes", None);
    // Same name only: a namesake as likely as a duplicate.
    let a = s.create_case("uasc", "Agadez").unwrap();
    s.save_form(a, "registration_bia", None, values(json!({"given_names": "Omar", "family_name": "Sylla"}))).unwrap();
    let b = s.create_case("uasc", "Agadez").unwrap();
    s.save_form(b, "registration_bia", None, values(json!({"given_names": "Omar", "family_name": "Sylla"}))).unwrap();
    assert!(matches!(duplicate_review::set_threshold(&mut s, 0.6), Err(search::SearchError::ThresholdNotYours(_))));

    s.set_actor("dm", Role::DataManager).unwrap();
    let conn = s.vault().conn();
    assert_eq!(duplicates::office_threshold(conn).unwrap(), duplicates::DEFAULT_OFFICE_THRESHOLD);
    let pairs = duplicates::find_duplicates(conn).unwrap();
    assert_eq!(pairs.len(), 1, "{pairs:#?}");
    assert!(pairs[0].parts.iter().any(|p| p.part == "place_of_origin"));

    duplicate_review::set_threshold(&mut s, duplicates::THRESHOLD).unwrap();
    let conn = s.vault().conn();
    assert_eq!(duplicates::office_threshold(conn).unwrap(), duplicates::THRESHOLD);
    assert_eq!(duplicates::find_duplicates(conn).unwrap().len(), 2);
    for bad in [0.3, 1.5, f64::NAN] {
        assert!(matches!(duplicate_review::set_threshold(&mut s, bad), Err(search::SearchError::BadThreshold(_))));
    }
    assert_eq!(duplicates::office_threshold(s.vault().conn()).unwrap(), duplicates::THRESHOLD);
}
