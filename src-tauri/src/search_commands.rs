//! Search and family-tracing commands for the case list's search box and the
//! case workspace's tracing panel: thin wrappers over `fieldcase::search`
//! (the FTS5 + name-key index the projection keeps), converted to small
//! records written to ui/src/lib/bindings/ by `cargo test -p fieldcase-desktop`.

use std::collections::BTreeMap;

use fieldcase::search::{self, query::Query, query::SearchError, visible};
use serde::{Deserialize, Serialize};
use tauri::State;
use ts_rs::TS;

use crate::session::{Session, UiError};

/// Most hits the search box shows; the list is for picking a child, not for
/// browsing the whole office.
const SEARCH_LIMIT: usize = 100;

macro_rules! search_dto {
    ($item:item) => {
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
        #[ts(export, export_to = "../../ui/src/lib/bindings/")]
        $item
    };
}

search_dto! {
/// One word of the query and what it matched in a case.
pub struct MatchedTermDto {
    /// The query word (folded).
    pub term: String,
    /// Where: `name`, `case_number`, `location`, `caseworker`, `relative`.
    pub field: String,
    /// The recorded word it matched.
    pub matched: String,
    /// How: `exact`, `spelling_variant`, `prefix`, `similar`.
    pub how: String,
}
}

search_dto! {
/// One search result, best first.
pub struct SearchHitDto {
    /// Case id (UUID).
    pub case_id: String,
    /// Higher is better; only the order is meaningful.
    pub score: f64,
    /// What each query word matched.
    pub matched: Vec<MatchedTermDto>,
}
}

search_dto! {
/// One part of a tracing or duplicate score.
pub struct ScorePartDto {
    /// What was compared: `name`, `mother`, `age`, `place_of_birth`, ...
    pub part: String,
    /// What was found, as a stable code the window translates
    /// (`explain.<code>`; the list is in bindings/explanation-codes.json).
    pub code: String,
    /// The values compared, by the names the code gives.
    pub params: BTreeMap<String, String>,
    /// The same in English, from the library (the fallback).
    pub detail: String,
    /// Points given (negative when the part disagrees).
    pub points: f64,
}
}

search_dto! {
/// A possible family link between the open case and another one.
pub struct TraceMatchDto {
    /// `sought_relative`, `sibling` or `sought_by`.
    pub kind: String,
    /// The other case's id.
    pub case_id: String,
    /// Its number.
    pub case_number: String,
    /// The other child's name.
    pub name: String,
    /// The person sought, when the match is about a tracing request.
    pub sought_name: Option<String>,
    /// 0..100.
    pub score: f64,
    /// How the score was made.
    pub parts: Vec<ScorePartDto>,
}
}

impl From<search::Hit> for SearchHitDto {
    fn from(h: search::Hit) -> Self {
        SearchHitDto {
            case_id: h.case_id,
            score: h.score,
            matched: h
                .matched
                .into_iter()
                .map(|m| MatchedTermDto { term: m.term, field: m.field, matched: m.matched, how: m.how })
                .collect(),
        }
    }
}

impl From<search::TraceMatch> for TraceMatchDto {
    fn from(m: search::TraceMatch) -> Self {
        TraceMatchDto {
            kind: m.kind,
            case_id: m.case_id,
            case_number: m.case_number,
            name: m.name,
            sought_name: m.sought_name,
            score: m.score,
            parts: m.parts.into_iter().map(ScorePartDto::from).collect(),
        }
    }
}

impl From<search::ScorePart> for ScorePartDto {
    fn from(p: search::ScorePart) -> Self {
        ScorePartDto { part: p.part, code: p.code, params: p.params, detail: p.detail, points: p.points }
    }
}

pub(crate) fn ui_error(e: SearchError) -> UiError {
    match e {
        SearchError::Store(e) => UiError::from(e),
        e => UiError::coded(&e),
    }
}

/// Run the search box's text (names in any spelling, case number, filters
/// such as `age:10-14`) and return hits best first.
pub fn search_in(store: &fieldcase::model::store::CaseStore, text: &str) -> Result<Vec<SearchHitDto>, UiError> {
    let mut q = Query::parse(text).map_err(ui_error)?;
    q.limit = SEARCH_LIMIT;
    // The library's view: only the cases the person may see (docs/visibility.md).
    Ok(visible::search_for(store, &q).map_err(ui_error)?.hits.into_iter().map(SearchHitDto::from).collect())
}

/// Search the cases (see [`search_in`]).
#[tauri::command]
pub async fn search_cases(session: State<'_, Session>, query: String) -> Result<Vec<SearchHitDto>, UiError> {
    session.with_store(|s| search_in(s, &query))
}

/// Tracing matches for a case (id or number), best first.
pub fn trace_in(store: &fieldcase::model::store::CaseStore, case: &str) -> Result<Vec<TraceMatchDto>, UiError> {
    let id = store.find_case(case)?;
    Ok(visible::trace_for(store, id).map_err(ui_error)?.matches.into_iter().map(TraceMatchDto::from).collect())
}

/// Family-tracing matches for the open case.
#[tauri::command]
pub async fn trace_case(session: State<'_, Session>, case_id: String) -> Result<Vec<TraceMatchDto>, UiError> {
    session.with_store(|s| trace_in(s, &case_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{store, values};
    use fieldcase::model::store::CaseStore;
    use serde_json::json;
    use uuid::Uuid;

    fn child(s: &mut CaseStore, given: &str, family: &str, age: u32, place: &str, mother: &str) -> Uuid {
        let c = s.create_case("uasc", "Agadez").expect("case");
        let v = json!({
            "given_names": given, "family_name": family, "sex": "male", "age_years": age,
            "place_of_origin": place,
            "family_members": [{"name": mother, "relationship": "mother"}],
        });
        s.save_form(c, "registration_bia", None, values(v)).expect("registration");
        c
    }

    /// Every explanation code with the parameters it gives.
    fn explanation_codes() -> BTreeMap<&'static str, Vec<&'static str>> {
        search::explain::EXPLANATIONS.iter().map(|(code, params, _)| (*code, params.to_vec())).collect()
    }

    #[test]
    fn writes_the_list_of_every_explanation_code_for_the_window() {
        let json = serde_json::to_string_pretty(&explanation_codes()).expect("json") + "\n";
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings/explanation-codes.json");
        if std::fs::read_to_string(&path).ok().as_deref() != Some(json.as_str()) {
            std::fs::write(&path, &json).expect("write explanation-codes.json");
        }
        let codes = explanation_codes();
        assert_eq!(codes["same_given_name"], ["a", "b"]);
        assert_eq!(codes["mother_differs"], Vec::<&str>::new());
    }

    #[test]
    fn search_finds_a_spelling_variant_and_says_what_matched() {
        let (_tmp, mut s) = store();
        let mohamed = child(&mut s, "Mohamed", "Diallo", 15, "Labé", "Mariam Diallo");
        let other = child(&mut s, "Fatoumata", "Camara", 12, "Kankan", "Aissatou Camara");
        let hits = search_in(&s, "Muhammad").expect("search");
        assert_eq!(hits.first().map(|h| h.case_id.clone()), Some(mohamed.to_string()), "{hits:#?}");
        assert!(
            hits[0].matched.iter().any(|m| m.matched == "Mohamed" && m.how == "spelling_variant" && m.field == "name"),
            "{:?}",
            hits[0].matched
        );
        assert!(hits.iter().all(|h| h.case_id != other.to_string()), "{hits:#?}");
        let err = search_in(&s, "colour:red").expect_err("unknown filter");
        assert_eq!(err.code, "search_unknown_filter");
    }

    #[test]
    fn trace_returns_the_sought_brother_with_explained_parts() {
        let (_tmp, mut s) = store();
        let seeker = child(&mut s, "Mohamed", "Diallo", 16, "Labé", "Kadiatou Bah");
        let brother = child(&mut s, "Ibrahim", "Jallow", 12, "Labe", "Khadija Ba");
        s.save_form(
            seeker,
            "family_tracing",
            Some(Uuid::now_v7()),
            values(json!({"relative": {"name": "Ibrahima Diallo"}, "relationship": "brother", "relative_sex": "male", "relative_age": 12})),
        )
        .expect("tracing request");
        let matches = trace_in(&s, &seeker.to_string()).expect("trace");
        let first = matches.first().expect("a match");
        assert_eq!(first.case_id, brother.to_string(), "{matches:#?}");
        assert_eq!(first.kind, "sought_relative");
        assert!(first.parts.iter().any(|p| p.part == "mother" && p.points > 0.0), "{:?}", first.parts);
        assert!(first.parts.iter().all(|p| !p.detail.is_empty()));
        // Each part comes as a code the window translates, with its values.
        let mother = first.parts.iter().find(|p| p.part == "mother").expect("mother part");
        assert_eq!(mother.code, "same_mother", "{mother:?}");
        assert_eq!(mother.params["a"], "Kadiatou Bah", "{mother:?}");
        assert_eq!(mother.params["b"], "Khadija Ba", "{mother:?}");
        let err = trace_in(&s, "no-such-case").expect_err("unknown case");
        assert!(!err.code.is_empty());
    }
}
