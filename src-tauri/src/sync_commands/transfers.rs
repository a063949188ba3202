//! Case transfer to another office: the cases that may go, the transfer
//! bundle, and the transfers sent.

use super::*;

/// Open cases, for the transfer picker.
pub fn case_choices(store: &CaseStore) -> Result<Vec<CaseChoice>, UiError> {
    Ok(store
        .list_cases()?
        .cases
        .into_iter()
        .map(|c| CaseChoice { id: c.id.to_string(), name: child_name(&c), case_number: c.case_number, stage: c.stage })
        .collect())
}

/// Office: write a transfer bundle of `case` for another office.
pub fn transfer_out(
    store: &mut CaseStore,
    case: Uuid,
    to_recipient: &str,
    to_key: &str,
    out: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<WrittenFile, UiError> {
    built_file(
        out,
        || transfer::transfer_case(store, case, to_recipient.trim(), to_key.trim(), progress),
        transfer_error,
    )
}

/// The transfers this office sent.
pub fn sent(store: &CaseStore) -> Result<Vec<SentTransfer>, UiError> {
    let index = summary_index(store)?;
    Ok(transfer::sent_transfers(store)?
        .into_iter()
        .map(|(bundle, case, status, reason)| SentTransfer {
            bundle_id: bundle.to_string(),
            case_id: case.to_string(),
            case_number: index.get(&case).map(|c| c.case_number.clone()),
            status,
            reason,
        })
        .collect())
}

/// Cases, for the transfer picker.
#[tauri::command]
pub async fn office_case_choices(session: State<'_, Session>) -> Result<Vec<CaseChoice>, UiError> {
    session.with_store(|s| case_choices(s))
}

/// Office: write a transfer bundle for another office.
#[tauri::command]
pub async fn office_transfer(
    session: State<'_, Session>,
    case: String,
    to_recipient: String,
    to_key: String,
    path: String,
    progress: Channel<SyncProgress>,
) -> Result<WrittenFile, UiError> {
    let out = absolute(&path)?;
    session.with_store(|s| {
        let case = s.find_case(&case)?;
        transfer_out(s, case, &to_recipient, &to_key, &out, &mut reporter(&progress))
    })
}

/// Office: transfers sent and their receipts.
#[tauri::command]
pub async fn office_transfers(session: State<'_, Session>) -> Result<Vec<SentTransfer>, UiError> {
    session.with_store(|s| sent(s))
}
