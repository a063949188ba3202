//! Suspected duplicate cases: the list, a merge, and a "not the same
//! child" review.

use super::*;

/// Suspected duplicate cases still awaiting a decision, most likely first
/// (merged pairs and pairs marked "not the same child" left out).
pub fn duplicates(store: &mut CaseStore) -> Result<Vec<DuplicateEntry>, UiError> {
    // The library runs the whole review sequence (pass, flags for the
    // reports, pairs still awaiting a decision, need-to-know).
    let queue =
        fieldcase::search::duplicate_review::review_queue(store, false).map_err(crate::search_commands::ui_error)?;
    let index = summary_index(store)?;
    let name = |id: &str| Uuid::parse_str(id).ok().and_then(|u| index.get(&u)).and_then(child_name);
    Ok(queue
        .view
        .pairs
        .into_iter()
        .map(|p| DuplicateEntry {
            name_a: name(&p.case_a),
            name_b: name(&p.case_b),
            explanation: p.explanation(),
            parts: p.parts_by_weight().into_iter().map(Into::into).collect(),
            case_a: p.case_a,
            number_a: p.number_a,
            case_b: p.case_b,
            number_b: p.number_b,
            score: p.score,
        })
        .collect())
}

/// Merge case `duplicate` into case `into` (a `case.merged` event; nothing is deleted).
pub fn merge_cases(store: &mut CaseStore, duplicate: Uuid, into: Uuid) -> Result<(), UiError> {
    fieldcase::search::merge::merge(store, duplicate, into).map_err(merge_error)?;
    Ok(())
}

/// Record that cases `case` and `other` are two different children (a
/// signed `case.not_duplicate` review; the pair is no longer listed).
pub fn mark_not_duplicate(store: &mut CaseStore, case: Uuid, other: Uuid) -> Result<(), UiError> {
    fieldcase::search::merge::not_duplicate(store, case, other).map_err(merge_error)?;
    Ok(())
}

/// A merge, split or review the library refused: its code, or the case
/// store's refusal with its rule details.
pub(super) fn merge_error(e: fieldcase::search::merge::MergeError) -> UiError {
    match e {
        fieldcase::search::merge::MergeError::Store(s) => UiError::from(s),
        e => UiError::coded(&e),
    }
}

/// Office: suspected duplicate cases.
#[tauri::command]
pub async fn office_duplicates(session: State<'_, Session>) -> Result<Vec<DuplicateEntry>, UiError> {
    session.with_store(duplicates)
}

/// Office: record that two suspected duplicates are different children.
#[tauri::command]
pub async fn office_not_duplicate(session: State<'_, Session>, case: String, other: String) -> Result<(), UiError> {
    let (case, other) = (parse_uuid(&case, "case")?, parse_uuid(&other, "case")?);
    session.with_store(|s| mark_not_duplicate(s, case, other))
}

/// Office: merge case `duplicate` into `into`.
#[tauri::command]
pub async fn office_merge(session: State<'_, Session>, duplicate: String, into: String) -> Result<(), UiError> {
    let (duplicate, into) = (parse_uuid(&duplicate, "case")?, parse_uuid(&into, "case")?);
    session.with_store(|s| merge_cases(s, duplicate, into))
}
