//! Importing a bundle: the preview (dry run) and its bytes held in
//! [`PendingImport`], then apply, cancel, or the answer to a case transfer
//! from the same preview; and the report as the window shows it.

use super::*;

/// The bundle last previewed, kept so that Apply imports exactly the bytes
/// that were previewed, even if the file on the USB drive changes meanwhile.
/// It is ciphertext; it is dropped on apply, on cancel and on a new preview.
#[derive(Default)]
pub struct PendingImport {
    held: Mutex<Option<(String, Vec<u8>)>>,
}

impl PendingImport {
    pub(super) fn put(&self, path: String, bytes: Vec<u8>) {
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = Some((path, bytes));
    }

    pub(super) fn take(&self, path: &str) -> Option<Vec<u8>> {
        let mut guard = self.held.lock().unwrap_or_else(|p| p.into_inner());
        match guard.take() {
            Some((p, bytes)) if p == path => Some(bytes),
            other => {
                *guard = other;
                None
            }
        }
    }

    pub(super) fn clear(&self) {
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

pub(super) fn summary_index(store: &CaseStore) -> Result<HashMap<Uuid, CaseSummary>, UiError> {
    Ok(store.list_cases()?.cases.into_iter().map(|c| (c.id, c)).collect())
}

pub(super) fn child_name(c: &CaseSummary) -> Option<String> {
    let parts: Vec<&str> =
        [c.given_names.as_deref(), c.family_name.as_deref()].into_iter().flatten().filter(|s| !s.is_empty()).collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

pub(super) fn preview_case(index: &HashMap<Uuid, CaseSummary>, id: Uuid) -> PreviewCase {
    let known = index.get(&id);
    PreviewCase {
        id: id.to_string(),
        case_number: known.map(|c| c.case_number.clone()),
        name: known.and_then(child_name),
    }
}

pub(super) fn form_labels(form: &str, field: &str) -> (Option<LabelsDto>, Option<LabelsDto>) {
    let def = forms::registry().get(form);
    (def.map(|d| LabelsDto::from(&d.title)), def.and_then(|d| d.field_path(field)).map(|f| LabelsDto::from(&f.labels)))
}

/// The report of an import (or preview) as the UI shows it.
pub fn outcome(store: &CaseStore, path: &str, file_bytes: u64, r: &ImportReport) -> Result<ImportOutcome, UiError> {
    let index = summary_index(store)?;
    let kind = serde_json::to_value(r.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(ImportOutcome {
        path: path.to_string(),
        file_bytes,
        dry_run: r.dry_run,
        bundle_id: r.bundle_id.to_string(),
        kind,
        sender: r.sender.to_string(),
        sender_name: r.sender_name.clone(),
        sender_key: r.sender_key.clone(),
        sender_seq: u32::try_from(r.sender_seq).unwrap_or(u32::MAX),
        replay: r.replay,
        roster_serial: r.roster_serial.map(|s| u32::try_from(s).unwrap_or(u32::MAX)),
        new_cases: r.preview.new_cases.iter().map(|id| preview_case(&index, *id)).collect(),
        updated_cases: r.preview.updated_cases.iter().map(|id| preview_case(&index, *id)).collect(),
        new_events: count(r.preview.new_events),
        known_events: count(r.preview.known_events),
        conflicts: r
            .preview
            .conflicts
            .iter()
            .map(|c| {
                let (form_title, field_label) = form_labels(&c.form, &c.field);
                PreviewConflict {
                    case_id: c.case.to_string(),
                    case_number: index.get(&c.case).map(|s| s.case_number.clone()),
                    form: c.form.clone(),
                    form_title,
                    field: c.field.clone(),
                    field_label,
                    heads: count(c.heads),
                    protected: c.protected,
                }
            })
            .collect(),
        suspected_duplicates: r
            .suspected_duplicates
            .iter()
            .map(|d| PreviewDuplicate {
                new_case: d.new_case.to_string(),
                existing_case: d.existing_case.to_string(),
                existing_number: d.existing_number.clone(),
                reason: d.reason.clone(),
                score: d.score,
                parts: d.parts.iter().cloned().map(crate::search_commands::ScorePartDto::from).collect(),
            })
            .collect(),
        transfer: r.transfer.as_ref().map(|t| PreviewTransfer {
            case_id: t.case_id.to_string(),
            status: t.status.clone(),
            reason: t.reason.clone(),
            peer_key: t.peer_key.clone(),
        }),
    })
}

/// Check a bundle and say what importing it would change; nothing is written.
pub fn preview_import(
    store: &mut CaseStore,
    path: &str,
    bytes: &[u8],
    progress: &mut dyn FnMut(Progress),
) -> Result<ImportOutcome, UiError> {
    let report = sync::import_bundle(store, bytes, true, progress).map_err(import_error)?;
    outcome(store, path, bytes.len() as u64, &report)
}

/// Import a bundle, all or nothing.
pub fn apply_import(
    store: &mut CaseStore,
    path: &str,
    bytes: &[u8],
    progress: &mut dyn FnMut(Progress),
) -> Result<ImportOutcome, UiError> {
    let report = sync::import_bundle(store, bytes, false, progress).map_err(import_error)?;
    outcome(store, path, bytes.len() as u64, &report)
}

/// Check a bundle and report what importing it would change. Nothing is
/// written; the bytes are held for [`sync_apply_import`].
#[tauri::command]
pub async fn sync_preview_import(
    session: State<'_, Session>,
    pending: State<'_, PendingImport>,
    path: String,
    progress: Channel<SyncProgress>,
) -> Result<ImportOutcome, UiError> {
    pending.clear();
    let file = absolute(&path)?;
    let bytes = read_limited(&file, MAX_BUNDLE_FILE)?;
    let result = session.with_store(|s| preview_import(s, &path, &bytes, &mut reporter(&progress)))?;
    if !result.replay {
        pending.put(path, bytes);
    }
    Ok(result)
}

/// Import the bundle previewed last (the same bytes), all or nothing.
#[tauri::command]
pub async fn sync_apply_import(
    session: State<'_, Session>,
    pending: State<'_, PendingImport>,
    path: String,
    progress: Channel<SyncProgress>,
) -> Result<ImportOutcome, UiError> {
    let bytes = pending
        .take(&path)
        .ok_or_else(|| UiError::new(crate::errors::ShellCode::NoPreview, "preview the bundle before importing it"))?;
    session.with_store(|s| apply_import(s, &path, &bytes, &mut reporter(&progress)))
}

/// Office: answer the transfer bundle previewed last (the same bytes):
/// accept the case (its history is imported, all or nothing) or refuse it
/// with a reason; either way the receipt for the sending office is written
/// to `receipt`, a new file.
#[tauri::command]
pub async fn sync_answer_transfer(
    session: State<'_, Session>,
    pending: State<'_, PendingImport>,
    path: String,
    accept: bool,
    reason: Option<String>,
    receipt: String,
    progress: Channel<SyncProgress>,
) -> Result<TransferAnswered, UiError> {
    let out = absolute(&receipt)?;
    let decision = if accept {
        transfer::Decision::Accept
    } else {
        let reason = reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
        transfer::Decision::Reject(reason.ok_or_else(|| bad_input("give the sending office a reason for refusing"))?)
    };
    let bytes = pending
        .take(&path)
        .ok_or_else(|| UiError::new(crate::errors::ShellCode::NoPreview, "preview the bundle before answering it"))?;
    session.with_store(|s| answer_transfer_to(s, &path, &bytes, decision, &out, &mut reporter(&progress)))
}

/// Answer a transfer bundle and write the receipt to `out` (never over a
/// file; nothing is written when the answer is refused).
pub fn answer_transfer_to(
    store: &mut CaseStore,
    path: &str,
    bytes: &[u8],
    decision: transfer::Decision,
    out: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<TransferAnswered, UiError> {
    // A receipt that cannot be written after the answer was recorded can
    // be made again: the library answers a transfer again with the same
    // decision.
    let accepted = matches!(decision, transfer::Decision::Accept);
    let mut report = None;
    let written = built_file(
        out,
        || {
            let (r, receipt) = transfer::answer_transfer(store, bytes, decision, progress)?;
            report = Some(r);
            Ok(receipt)
        },
        transfer_error,
    )?;
    let report = report.ok_or_else(|| UiError::new(crate::errors::ShellCode::Internal, "no answer was made"))?;
    Ok(TransferAnswered { accepted, outcome: outcome(store, path, bytes.len() as u64, &report)?, receipt: written })
}

/// Forget the previewed bundle.
#[tauri::command]
pub async fn sync_cancel_import(pending: State<'_, PendingImport>) -> Result<(), UiError> {
    pending.clear();
    Ok(())
}
