//! Merging a duplicate case into another, and splitting it back.
//!
//! A merge deletes nothing: it is two signed events on the duplicate,
//! `case.merged` {"duplicate_of": target} and `status.changed` to
//! `duplicate` (data manager only, lifecycle §2), committed together. The
//! duplicate keeps its events, history and number; screens and search show
//! it as merged into the target. A split is the reverse, again as events:
//! `case.split` {"from": target} and `status.changed` back to the stage the
//! case had before the merge. Both are ordinary events, so they travel in
//! sync bundles like any other change.

use uuid::Uuid;

use crate::model::event::EventKind;
use crate::model::lifecycle::Stage;
use crate::model::store::{CaseStore, StoreError};

/// Why a merge or split was refused.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// Merging a case into itself.
    #[error("a case cannot be merged into itself")]
    SameCase,
    /// The duplicate is already merged.
    #[error("case {case} is already merged into {into}; split it first")]
    AlreadyMerged {
        /// The duplicate.
        case: Uuid,
        /// Where it is merged.
        into: Uuid,
    },
    /// The target is itself merged into another case.
    #[error("case {target} is itself merged into {into}: merge into {into} instead")]
    TargetMerged {
        /// The target asked for.
        target: Uuid,
        /// The case it was merged into.
        into: Uuid,
    },
    /// Splitting a case that is not merged.
    #[error("case {0} is not merged into another case")]
    NotMerged(Uuid),
    /// The merged case does not know the stage it had before (made by an
    /// older version); a supervisor must move it by hand.
    #[error("case {0} does not record its stage before the merge")]
    NoPreviousStage(Uuid),
    /// The store refused (rules, roles, storage).
    #[error(transparent)]
    Store(#[from] StoreError),
}

// Each refusal's stable code for the interfaces (crate::codes).
crate::error_codes! { MergeError {
    nested {
        MergeError::Store(s) => s: StoreError;
    }
    MergeError::SameCase => "merge_same_case";
    MergeError::AlreadyMerged { .. } => "merge_already_merged";
    MergeError::TargetMerged { .. } => "merge_target_merged";
    MergeError::NotMerged(_) => "merge_not_merged";
    MergeError::NoPreviousStage(_) => "merge_no_previous_stage";
} }

/// Merge `duplicate` into `into`. Returns the id of the `case.merged` event.
pub fn merge(store: &mut CaseStore, duplicate: Uuid, into: Uuid) -> Result<Uuid, MergeError> {
    if duplicate == into {
        return Err(MergeError::SameCase);
    }
    let dup = store.case_state(duplicate)?;
    if let Some(m) = dup.merged_into {
        return Err(MergeError::AlreadyMerged { case: duplicate, into: m });
    }
    let target = store.case_state(into)?;
    if let Some(m) = target.merged_into {
        return Err(MergeError::TargetMerged { target: into, into: m });
    }
    let mut b = store.batch();
    let id = b.record(duplicate, EventKind::CaseMerged, None, serde_json::json!({"duplicate_of": into}), Vec::new())?;
    b.change_stage(
        duplicate,
        Stage::Duplicate,
        &format!("merged into {}", target.registration.as_ref().map_or(String::new(), |r| r.case_number.clone())),
    )?;
    b.commit()?;
    Ok(id)
}

/// Undo the merge of `duplicate`: it becomes a case of its own again, in the
/// stage it had before. Returns the id of the `case.split` event.
pub fn split(store: &mut CaseStore, duplicate: Uuid) -> Result<Uuid, MergeError> {
    let st = store.case_state(duplicate)?;
    let Some(from) = st.merged_into else {
        return Err(MergeError::NotMerged(duplicate));
    };
    let previous = st.stage_before.as_deref().and_then(Stage::parse).ok_or(MergeError::NoPreviousStage(duplicate))?;
    let mut b = store.batch();
    let id = b.record(duplicate, EventKind::CaseSplit, None, serde_json::json!({"from": from}), Vec::new())?;
    b.change_stage(duplicate, previous, "split: not a duplicate")?;
    b.commit()?;
    Ok(id)
}

/// Record that `case` and `other`, flagged as suspected duplicates, are two
/// different children (a data manager's review decision; report indicator
/// 25b stops counting the pair). Returns the id of the `case.not_duplicate`
/// event, recorded on `case`.
pub fn not_duplicate(store: &mut CaseStore, case: Uuid, other: Uuid) -> Result<Uuid, MergeError> {
    if case == other {
        return Err(MergeError::SameCase);
    }
    for c in [case, other] {
        if let Some(into) = store.case_state(c)?.merged_into {
            return Err(MergeError::AlreadyMerged { case: c, into });
        }
    }
    Ok(store.record(case, EventKind::CaseNotDuplicate, None, serde_json::json!({"other": other}), Vec::new())?)
}
