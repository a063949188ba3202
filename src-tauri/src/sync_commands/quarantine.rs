//! Events the rules refused: the office's quarantine (retry, discard with
//! a reason) and a device's own refused changes.

use super::*;

/// The events held in quarantine, oldest first, with their case number
/// and device name where known.
pub fn quarantine(store: &CaseStore) -> Result<Vec<QuarantineEntry>, UiError> {
    let index = summary_index(store)?;
    let roster = sync::exchange::roster(store)?;
    let name = |d: Uuid| roster.as_ref().and_then(|r| r.roster.signer(d)).map(|s| s.name.to_string());
    Ok(sync::quarantine::list(store)?
        .into_iter()
        .map(|q| QuarantineEntry {
            event_id: q.event_id.to_string(),
            case_id: q.case_id.to_string(),
            case_number: index.get(&q.case_id).map(|c| c.case_number.clone()),
            kind: q.kind,
            author: q.author,
            role: q.role.to_string(),
            device_id: q.device_id.to_string(),
            device_name: name(q.device_id),
            params: q.refusal.text_params(),
            violations: q.refusal.violations().iter().map(crate::dto::ViolationDto::from).collect(),
            code: q.refusal.code,
            text: q.refusal.text,
            at: q.at,
        })
        .collect())
}

/// Device: its own changes the office refused, by case.
pub fn refused(store: &CaseStore) -> Result<Vec<RefusedChange>, UiError> {
    let index = summary_index(store)?;
    Ok(sync::quarantine::refused_events(store)?
        .into_iter()
        .map(|n| {
            let refusal = fieldcase::model::refusal::Refusal { code: n.code, params: n.params.value(), text: n.text };
            RefusedChange {
                event_id: n.event_id.to_string(),
                case_id: n.case_id.to_string(),
                case_number: index.get(&n.case_id).map(|c| c.case_number.clone()),
                kind: n.kind,
                author: n.author,
                params: refusal.text_params(),
                violations: refusal.violations().iter().map(crate::dto::ViolationDto::from).collect(),
                code: refusal.code,
                text: refusal.text,
                at: n.at,
            }
        })
        .collect())
}

/// A data manager's decision on a held event refused by the library
/// (`sync::quarantine`): who may, which event, the reason.
pub(super) fn quarantine_error(e: sync::quarantine::QuarantineError) -> UiError {
    match e {
        sync::quarantine::QuarantineError::Store(s) => UiError::from(s),
        e => UiError::coded(&e),
    }
}

/// Office: check a held event again; `true` when it was applied, `false`
/// when it stays held (the list then shows its current reason).
pub fn retry_held(store: &mut CaseStore, event: Uuid) -> Result<bool, UiError> {
    match sync::quarantine::retry(store, event).map_err(quarantine_error)? {
        sync::quarantine::Retried::Applied => Ok(true),
        sync::quarantine::Retried::Held { .. } => Ok(false),
    }
}

/// Office: discard a held event with the data manager's reason.
pub fn discard_held(store: &mut CaseStore, event: Uuid, reason: &str) -> Result<(), UiError> {
    sync::quarantine::discard(store, event, reason).map_err(quarantine_error)?;
    Ok(())
}

/// Device: its changes the office refused.
#[tauri::command]
pub async fn sync_refused(session: State<'_, Session>) -> Result<Vec<RefusedChange>, UiError> {
    session.with_store(|s| refused(s))
}

/// Office: events held in quarantine, with why.
#[tauri::command]
pub async fn office_quarantine(session: State<'_, Session>) -> Result<Vec<QuarantineEntry>, UiError> {
    session.with_store(|s| quarantine(s))
}

/// Office: the data manager re-checks a held event (`true`: applied).
#[tauri::command]
pub async fn office_quarantine_retry(session: State<'_, Session>, event: String) -> Result<bool, UiError> {
    let event = parse_uuid(&event, "event")?;
    session.with_store(|s| retry_held(s, event))
}

/// Office: the data manager discards a held event, with why.
#[tauri::command]
pub async fn office_quarantine_discard(
    session: State<'_, Session>,
    event: String,
    reason: String,
) -> Result<(), UiError> {
    let event = parse_uuid(&event, "event")?;
    session.with_store(|s| discard_held(s, event, &reason))
}
