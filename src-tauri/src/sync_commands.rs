//! Sync and office commands: export and import bundles, enrollment, the
//! roster, conflict review and case transfer. Each command is a few lines
//! around `fieldcase::sync` and `CaseStore`; what they return is in
//! [`crate::sync_dto`].
//!
//! Long work (building, decrypting and checking bundles) runs in async
//! commands, so on Tauri's worker threads rather than the window's main
//! thread, and reports its progress through a [`Channel`].
//!
//! Files: the window has no file-system access of its own. It names a path
//! (typed, or picked from the folders [`sync_places`] suggests) and these
//! commands read or write exactly that file. Bundles are age ciphertext and
//! enrollment requests hold only public keys, so nothing written here is
//! plaintext case data.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fieldcase::model::event::Role;
use fieldcase::model::forms;
use fieldcase::model::store::{CaseStore, CaseSummary};
use fieldcase::sync::transfer::{self, TransferError};
use fieldcase::sync::{self, ImportError, ImportReport, Progress, SyncError};
use serde_json::Value;
use tauri::ipc::Channel;
use tauri::State;
use uuid::Uuid;

use crate::dto::LabelsDto;
use crate::session::{Session, UiError};
use crate::sync_dto::{
    CaseChoice, ConflictEntry, ConflictHead, DeviceEntry, DuplicateEntry, EnrollmentRequestView, FoundFile,
    ImportOutcome, PreviewCase, PreviewConflict, PreviewDuplicate, PreviewTransfer, QuarantineEntry, RefusedChange,
    SentTransfer, SyncOverview, SyncPlace, SyncProgress, TransferAnswered, WrittenFile,
};

/// Largest bundle the app reads into memory: the library's limit on a
/// bundle (it enforces its own limits on what is inside); this stops a
/// wrong pick (a disk image, a video) from being read whole.
pub(crate) const MAX_BUNDLE_FILE: u64 = sync::format::MAX_BUNDLE_BYTES;
/// Largest enrollment request file.
const MAX_REQUEST_FILE: u64 = sync::format::MAX_REQUEST_BYTES;

/// The bundle last previewed, kept so that Apply imports exactly the bytes
/// that were previewed, even if the file on the USB drive changes meanwhile.
/// It is ciphertext; it is dropped on apply, on cancel and on a new preview.
#[derive(Default)]
pub struct PendingImport {
    held: Mutex<Option<(String, Vec<u8>)>>,
}

impl PendingImport {
    fn put(&self, path: String, bytes: Vec<u8>) {
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = Some((path, bytes));
    }

    fn take(&self, path: &str) -> Option<Vec<u8>> {
        let mut guard = self.held.lock().unwrap_or_else(|p| p.into_inner());
        match guard.take() {
            Some((p, bytes)) if p == path => Some(bytes),
            other => {
                *guard = other;
                None
            }
        }
    }

    fn clear(&self) {
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

// ------------------------------------------------------------------ errors

/// A refused bundle: the refusal's code and values (`ImportError`'s
/// `Coded`), and the library's one-line reason (which says what to do).
pub fn import_error(e: ImportError) -> UiError {
    match e {
        // An event the case model refused: its rule or field details too.
        ImportError::Rejected(s) => UiError::from(s),
        e => UiError::coded(&e),
    }
}

/// A sync operation that failed before any bundle was read.
pub fn sync_error(e: SyncError) -> UiError {
    match e {
        SyncError::Store(s) => UiError::from(s),
        e => UiError::coded(&e),
    }
}

fn transfer_error(e: TransferError) -> UiError {
    match e {
        TransferError::Refused(i) => import_error(i),
        TransferError::Sync(s) => sync_error(s),
        e => UiError::coded(&e),
    }
}

pub(crate) fn bad_input(message: impl Into<String>) -> UiError {
    UiError::new(crate::errors::ShellCode::BadInput, message)
}

pub(crate) fn parse_uuid(s: &str, what: &str) -> Result<Uuid, UiError> {
    Uuid::parse_str(s.trim()).map_err(|_| bad_input(format!("{what} {s:?} is not an id")))
}

// ------------------------------------------------------------------ files

/// A path the UI gave: absolute, so that it never depends on the app's
/// working directory, and one the person chose in a dialog or through a
/// drive shortcut ([`crate::dialog_commands::allowed`]).
pub(crate) fn absolute(path: &str) -> Result<PathBuf, UiError> {
    let p = PathBuf::from(path.trim());
    if path.trim().is_empty() {
        return Err(UiError::new(crate::errors::ShellCode::NoPath, "choose a file first"));
    }
    if !p.is_absolute() {
        return Err(bad_input(format!("{path:?} is not a full path (it must start with /)")));
    }
    crate::dialog_commands::check_chosen(&p)?;
    Ok(p)
}

pub(crate) fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, UiError> {
    use fieldcase::fsutil::ReadError;
    fieldcase::fsutil::read_limited(path, limit).map_err(|e: ReadError| UiError::coded(&e))
}

/// Write a new file through [`fieldcase::fsutil::write_new_file`]: never
/// over an existing file or through a symlink, never half-written under its
/// final name, durable when this returns (USB sticks are often pulled right
/// after).
fn write_new_file(path: &Path, bytes: &[u8]) -> Result<WrittenFile, UiError> {
    fieldcase::fsutil::write_new_file(path, bytes).map_err(write_error)?;
    Ok(WrittenFile { path: path.display().to_string(), bytes: bytes.len() as u64 })
}

/// Build a bundle and write it to the new file `out` through the
/// library's [`fieldcase::fsutil::build_new_file`] (an occupied
/// destination is refused before anything is built).
pub(crate) fn built_file<E: std::error::Error + 'static>(
    out: &Path,
    build: impl FnOnce() -> Result<Vec<u8>, E>,
    build_error: fn(E) -> UiError,
) -> Result<WrittenFile, UiError> {
    use fieldcase::fsutil::BuildFileError;
    match fieldcase::fsutil::build_new_file(out, build) {
        Ok(bytes) => Ok(WrittenFile { path: out.display().to_string(), bytes }),
        Err(BuildFileError::Write(e)) => Err(write_error(e)),
        Err(BuildFileError::Build(e)) => Err(build_error(e)),
    }
}

/// The window's code for each way writing a new file fails.
pub(crate) fn write_error(e: fieldcase::fsutil::WriteError) -> UiError {
    UiError::coded(&e)
}

/// Refuse an occupied destination (a symlink included) before building a
/// bundle; the write refuses it anyway.
fn check_free(out: &Path) -> Result<(), UiError> {
    if fieldcase::fsutil::occupied(out) {
        return Err(write_error(fieldcase::fsutil::WriteError::AlreadyExists { path: out.to_path_buf() }));
    }
    Ok(())
}

/// Folders where bundles are usually exchanged: mounted removable drives
/// (`/media/USER/*`, `/run/media/USER/*`, `/media/*`) first, then the home
/// folder and its Documents/Downloads.
pub fn places() -> Vec<SyncPlace> {
    let mut out = Vec::new();
    let user = std::env::var("USER").unwrap_or_default();
    let mut roots = vec![PathBuf::from("/run/media").join(&user), PathBuf::from("/media").join(&user)];
    roots.push(PathBuf::from("/media"));
    for root in roots {
        let Ok(entries) = std::fs::read_dir(&root) else { continue };
        let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
        dirs.sort();
        for d in dirs {
            // /media/USER itself is a root above, not a drive.
            if d.file_name().is_some_and(|n| n == std::ffi::OsStr::new(&user)) && root == Path::new("/media") {
                continue;
            }
            let s = d.display().to_string();
            if !out.iter().any(|p: &SyncPlace| p.path == s) {
                out.push(SyncPlace { path: s, kind: "usb".into() });
            }
        }
    }
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from).filter(|h| h.is_dir()) {
        for d in [home.join("Documents"), home.join("Downloads"), home.clone()] {
            if d.is_dir() {
                out.push(SyncPlace { path: d.display().to_string(), kind: "home".into() });
            }
        }
    }
    out
}

/// Files ending in `ext` directly inside `dirs`, newest first.
pub fn find_files(dirs: &[String], ext: &str) -> Vec<FoundFile> {
    let mut out = Vec::new();
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(d) else { continue };
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().and_then(|x| x.to_str()) != Some(ext) {
                continue;
            }
            let Ok(meta) = e.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let modified_millis = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as u64);
            out.push(FoundFile {
                path: path.display().to_string(),
                name: e.file_name().to_string_lossy().into_owned(),
                bytes: meta.len(),
                modified_millis,
            });
        }
    }
    out.sort_by(|a, b| b.modified_millis.cmp(&a.modified_millis).then(a.path.cmp(&b.path)));
    out.dedup_by(|a, b| a.path == b.path);
    out
}

fn to_progress(p: Progress) -> SyncProgress {
    match p {
        Progress::Unpacked { bytes } => SyncProgress::Unpacked { bytes },
        Progress::Events { done, total } => SyncProgress::Events { done, total },
        Progress::Committing => SyncProgress::Committing,
        Progress::Encrypting { bytes } => SyncProgress::Encrypting { bytes },
    }
}

/// A progress callback that forwards to the UI. A closed channel (the
/// window went away) must not stop the operation, so send errors are ignored.
pub(crate) fn reporter(channel: &Channel<SyncProgress>) -> impl FnMut(Progress) + '_ {
    move |p| {
        let _ = channel.send(to_progress(p));
    }
}

// ------------------------------------------------------------------ overview

/// Where this vault stands: office or device, enrolled or not, its keys.
pub fn overview(store: &CaseStore) -> Result<SyncOverview, UiError> {
    let roster = sync::exchange::roster(store)?;
    let device = store.vault().device();
    let date = chrono::Utc::now().format("%Y%m%d-%H%M");
    let slug: String = device
        .device_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect();
    Ok(SyncOverview {
        is_office: sync::is_office(store)?,
        enrolled: roster.is_some(),
        office_name: roster.as_ref().map(|r| r.roster.office_name.clone()),
        office_id: roster.as_ref().map(|r| r.roster.office_id.to_string()),
        roster_serial: roster.as_ref().map(|r| u32::try_from(r.roster.serial).unwrap_or(u32::MAX)),
        device_id: device.device_id.to_string(),
        device_name: device.device_name.clone(),
        user_name: device.user_name.clone(),
        role: device.role.clone(),
        recipient: sync::recipient(store),
        signing_key: hex_key(store),
        suggested_bundle_name: format!("fieldcase-{}-{date}.fcb", slug.trim_matches('-')),
    })
}

/// The key a person compares at enrollment: an office's key (rosters and
/// office bundles, its device key), or on a device the key of the person
/// recording, which their enrollment request names.
fn hex_key(store: &CaseStore) -> String {
    let office = sync::is_office(store).unwrap_or(false);
    let key = if office { store.vault().device_verifying_key() } else { store.signer_key().verifying_key() };
    key.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

// ------------------------------------------------------------------ export / import

/// Device: write every event the office has not acknowledged to `out`.
pub fn export_to_office(
    store: &mut CaseStore,
    out: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<WrittenFile, UiError> {
    built_file(out, || sync::export_for_office(store, progress), sync_error)
}

/// Office: write the bundle for one enrolled device to `out`.
pub fn export_to_device(
    store: &mut CaseStore,
    device: Uuid,
    out: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<WrittenFile, UiError> {
    built_file(out, || sync::export_for_device(store, device, progress), sync_error)
}

fn summary_index(store: &CaseStore) -> Result<HashMap<Uuid, CaseSummary>, UiError> {
    Ok(store.list_cases()?.cases.into_iter().map(|c| (c.id, c)).collect())
}

fn child_name(c: &CaseSummary) -> Option<String> {
    let parts: Vec<&str> =
        [c.given_names.as_deref(), c.family_name.as_deref()].into_iter().flatten().filter(|s| !s.is_empty()).collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

fn preview_case(index: &HashMap<Uuid, CaseSummary>, id: Uuid) -> PreviewCase {
    let known = index.get(&id);
    PreviewCase {
        id: id.to_string(),
        case_number: known.map(|c| c.case_number.clone()),
        name: known.and_then(child_name),
    }
}

fn form_labels(form: &str, field: &str) -> (Option<LabelsDto>, Option<LabelsDto>) {
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

// ------------------------------------------------------------------ enrollment and roster

/// Device: write this vault's enrollment request (public keys only).
pub fn write_enrollment_request(store: &CaseStore, out: &Path) -> Result<WrittenFile, UiError> {
    let req = sync::enrollment_request(store).map_err(sync_error)?;
    let bytes =
        serde_json::to_vec_pretty(&req).map_err(|e| UiError::new(crate::errors::ShellCode::Internal, e.to_string()))?;
    write_new_file(out, &bytes)
}

/// Office: read and check a request file before approving it.
pub fn read_request(store: &CaseStore, path: &Path) -> Result<EnrollmentRequestView, UiError> {
    let bytes = read_limited(path, MAX_REQUEST_FILE)?;
    let req = sync::roster::EnrollmentRequest::parse_and_verify(&bytes)
        .map_err(|e| UiError::new(crate::errors::ShellCode::EnrollmentRefused, e))?;
    let roster = sync::exchange::roster(store)?;
    let already = roster.as_ref().is_some_and(|r| r.roster.device(req.device_id).is_some());
    let elsewhere = roster
        .as_ref()
        .is_some_and(|r| sync::people::others_named(&r.roster, &req.user, &req.signing_key).next().is_some());
    Ok(EnrollmentRequestView {
        path: path.display().to_string(),
        device_id: req.device_id.to_string(),
        device_name: req.device_name,
        user: req.user,
        role: req.role.as_str().to_string(),
        signing_key: req.signing_key,
        created: req.created,
        already_enrolled: already,
        user_enrolled_elsewhere: elsewhere,
    })
}

/// Office: approve a request with `role` and write the device's enrollment
/// bundle. `additional_device_of`: the data manager says the request is
/// another device of that already enrolled user (the library checks it).
pub fn approve(
    store: &mut CaseStore,
    request: &Path,
    role: &str,
    additional_device_of: Option<&str>,
    out: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<WrittenFile, UiError> {
    let role: Role = role.parse().map_err(|e: fieldcase::model::event::UnknownRole| bad_input(e.to_string()))?;
    check_free(out)?;
    let bytes = read_limited(request, MAX_REQUEST_FILE)?;
    let bundle =
        sync::approve_enrollment_with(store, &bytes, role, additional_device_of, progress).map_err(sync_error)?;
    write_new_file(out, &bundle)
}

/// The roster's devices, the office first.
pub fn devices(store: &CaseStore) -> Result<Vec<DeviceEntry>, UiError> {
    let Some(signed) = sync::exchange::roster(store)? else {
        return Ok(Vec::new());
    };
    let office = signed.roster.office_id;
    let mut out: Vec<DeviceEntry> = signed
        .roster
        .devices
        .iter()
        .map(|d| DeviceEntry {
            device_id: d.device_id.to_string(),
            name: d.name.clone(),
            user: d.user.clone(),
            role: d.role.as_str().to_string(),
            enrolled_at: d.enrolled_at.clone(),
            revoked_at: d.revoked_at.clone(),
            is_office: d.device_id == office,
        })
        .collect();
    out.sort_by(|a, b| b.is_office.cmp(&a.is_office).then(a.name.cmp(&b.name)));
    Ok(out)
}

// ------------------------------------------------------------------ conflicts

fn json_text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The library's conflict queue (fields with several values and stage
/// conflicts; protected ones, waiting for a person, first), with the
/// labels the screen shows.
pub fn conflicts(store: &CaseStore) -> Result<Vec<ConflictEntry>, UiError> {
    let names: HashMap<Uuid, String> = sync::exchange::roster(store)?
        .map(|r| r.roster.devices.iter().map(|d| (d.device_id, d.name.clone())).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for q in store.conflict_queue()? {
        let def = forms::registry().get(&q.form);
        let field_def = def.and_then(|d| d.field_path(&q.field));
        let heads = q
            .heads
            .iter()
            .map(|h| ConflictHead {
                event: h.event.to_string(),
                value_json: json_text(&h.value),
                value_labels: h.value.as_str().and_then(|v| field_def?.option(v)).map(|o| LabelsDto::from(&o.labels)),
                when_millis: h.hlc.millis,
                author: h.author.clone(),
                device_id: h.device_id.to_string(),
                device_name: names.get(&h.device_id).cloned(),
            })
            .collect();
        out.push(ConflictEntry {
            case_id: q.case.id.to_string(),
            case_number: q.case.case_number.clone(),
            child_name: child_name(&q.case),
            form_title: def.map(|d| LabelsDto::from(&d.title)),
            field_label: field_def.map(|fd| LabelsDto::from(&fd.labels)),
            form: q.form,
            item: q.item.map(|i| i.to_string()),
            field: q.field,
            protected: q.protected,
            shown_json: q.shown.as_ref().map(json_text),
            heads,
        });
    }
    Ok(out)
}

/// Settle a conflict (a field's, or the stage's: form `case`, field
/// `stage`) with the value of one of its heads (`event`). The library takes
/// the value from the head and refuses an event that is no current head.
pub fn resolve(
    store: &mut CaseStore,
    case: Uuid,
    form: &str,
    item: Option<Uuid>,
    field: &str,
    event: Uuid,
) -> Result<(), UiError> {
    store.resolve_conflict_head(case, form, item, field, event).map_err(UiError::from)
}

// ------------------------------------------------------------------ transfer

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

// ------------------------------------------------------------------ duplicates

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
fn merge_error(e: fieldcase::search::merge::MergeError) -> UiError {
    match e {
        fieldcase::search::merge::MergeError::Store(s) => UiError::from(s),
        e => UiError::coded(&e),
    }
}

/// A data manager's decision on a held event refused by the library
/// (`sync::quarantine`): who may, which event, the reason.
fn quarantine_error(e: sync::quarantine::QuarantineError) -> UiError {
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

// ================================================================== commands

/// This vault's role in sync and its keys.
#[tauri::command]
pub async fn sync_overview(session: State<'_, Session>) -> Result<SyncOverview, UiError> {
    session.with_store(|s| overview(s))
}

/// Folders where bundles are usually exchanged (USB drives first).
#[tauri::command]
pub async fn sync_places() -> Result<Vec<SyncPlace>, UiError> {
    Ok(places())
}

/// Bundle (`fcb`) or request (`json`) files in the suggested folders and `extra`.
#[tauri::command]
pub async fn sync_find_files(kind: String, extra: Option<String>) -> Result<Vec<FoundFile>, UiError> {
    let ext = match kind.as_str() {
        "bundle" => "fcb",
        "request" => "json",
        _ => return Err(bad_input(format!("unknown file kind {kind:?}"))),
    };
    let mut dirs: Vec<String> = places().into_iter().map(|p| p.path).collect();
    if let Some(e) = extra.filter(|e| !e.trim().is_empty()) {
        dirs.insert(0, absolute(&e)?.display().to_string());
    }
    Ok(find_files(&dirs, ext))
}

/// Device: export a bundle for the office to `path`.
#[tauri::command]
pub async fn sync_export(
    session: State<'_, Session>,
    path: String,
    progress: Channel<SyncProgress>,
) -> Result<WrittenFile, UiError> {
    let out = absolute(&path)?;
    session.with_store(|s| export_to_office(s, &out, &mut reporter(&progress)))
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

/// Device: write an enrollment request for the office.
#[tauri::command]
pub async fn sync_enrollment_request(session: State<'_, Session>, path: String) -> Result<WrittenFile, UiError> {
    let out = absolute(&path)?;
    session.with_store(|s| write_enrollment_request(s, &out))
}

/// Office: the enrolled devices.
#[tauri::command]
pub async fn office_devices(session: State<'_, Session>) -> Result<Vec<DeviceEntry>, UiError> {
    session.with_store(|s| devices(s))
}

/// Office: read and check an enrollment request.
#[tauri::command]
pub async fn office_read_request(session: State<'_, Session>, path: String) -> Result<EnrollmentRequestView, UiError> {
    let file = absolute(&path)?;
    session.with_store(|s| read_request(s, &file))
}

/// Office: approve a request and write the enrollment bundle.
#[tauri::command]
pub async fn office_approve(
    session: State<'_, Session>,
    request: String,
    role: String,
    additional_device_of: Option<String>,
    out: String,
    progress: Channel<SyncProgress>,
) -> Result<WrittenFile, UiError> {
    let (request, out) = (absolute(&request)?, absolute(&out)?);
    let same = additional_device_of.as_deref();
    session.with_store(|s| approve(s, &request, &role, same, &out, &mut reporter(&progress)))
}

/// Office: revoke a device.
#[tauri::command]
pub async fn office_revoke(session: State<'_, Session>, device: String) -> Result<(), UiError> {
    let device = parse_uuid(&device, "device")?;
    session.with_store(|s| sync::revoke(s, device).map_err(sync_error))
}

/// Office: write the bundle for one device.
#[tauri::command]
pub async fn office_export_for_device(
    session: State<'_, Session>,
    device: String,
    path: String,
    progress: Channel<SyncProgress>,
) -> Result<WrittenFile, UiError> {
    let device = parse_uuid(&device, "device")?;
    let out = absolute(&path)?;
    session.with_store(|s| export_to_device(s, device, &out, &mut reporter(&progress)))
}

/// Fields with several values.
#[tauri::command]
pub async fn office_conflicts(session: State<'_, Session>) -> Result<Vec<ConflictEntry>, UiError> {
    session.with_store(|s| conflicts(s))
}

/// Settle a conflict with the value of head `event`.
#[tauri::command]
pub async fn office_resolve_conflict(
    session: State<'_, Session>,
    case: String,
    form: String,
    item: Option<String>,
    field: String,
    event: String,
) -> Result<(), UiError> {
    let case = parse_uuid(&case, "case")?;
    let item = item.as_deref().map(|i| parse_uuid(i, "item")).transpose()?;
    let event = parse_uuid(&event, "value")?;
    session.with_store(|s| resolve(s, case, &form, item, &field, event))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::values;
    use fieldcase::vault::{InitOptions, SecretString, VaultOptions};
    use serde_json::json;

    fn pass() -> SecretString {
        SecretString::from("sync screen test passphrase".to_string())
    }

    fn make(dir: &Path, name: &str, role: &str) -> CaseStore {
        let options = VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() };
        let opts = InitOptions { name: name.into(), role: role.into(), escrow: None };
        CaseStore::init_with(dir, &pass(), opts, &options).expect("init")
    }

    fn office(dir: &Path) -> CaseStore {
        let mut o = make(dir, "Agadez office", "data_manager");
        sync::make_office(&mut o, "Agadez").expect("make office");
        o
    }

    /// Switch the office vault to person `user` with their passphrase,
    /// adding them (enrolled in the office's roster) the first time. The
    /// office's own first person is "Agadez office".
    fn act_as(o: &mut CaseStore, user: &str, role: Role) {
        if user == o.vault().device().user_name {
            o.switch_person(user, &pass()).expect("switch back");
            return;
        }
        let theirs = SecretString::from(format!("quarry lantern {user} velvet orbit"));
        if !o.people().unwrap().iter().any(|p| p.user == user) {
            o.add_person(user, role, &theirs).expect("add person");
        }
        o.switch_person(user, &theirs).expect("switch person");
    }

    fn quiet() -> impl FnMut(Progress) {
        |_| {}
    }

    /// Enroll `dev` through the files the screens write and read.
    fn enroll_by_files(o: &mut CaseStore, dev: &mut CaseStore, tmp: &Path) {
        let name = dev.vault().device().device_name.clone();
        let req = tmp.join(format!("req-{name}.json"));
        write_enrollment_request(dev, &req).expect("request");
        let view = read_request(o, &req).expect("read request");
        assert_eq!(
            (view.user.as_str(), view.role.as_str(), view.already_enrolled),
            (name.as_str(), "caseworker", false)
        );
        let bundle = tmp.join(format!("enroll-{name}.fcb"));
        approve(o, &req, &view.role, None, &bundle, &mut quiet()).expect("approve");
        let path = bundle.display().to_string();
        let bytes = std::fs::read(&bundle).unwrap();
        let p = preview_import(dev, &path, &bytes, &mut quiet()).expect("preview enrollment");
        assert_eq!((p.kind.as_str(), p.dry_run), ("enrollment", true));
        assert!(!overview(dev).unwrap().enrolled, "a preview must not enroll");
        apply_import(dev, &path, &bytes, &mut quiet()).expect("apply enrollment");
        assert!(overview(dev).unwrap().enrolled);
    }

    /// A second device of an enrolled user name is refused unless the data
    /// manager says on the Office screen that it is the same person's.
    /// A case another office transfers: previewed like any bundle, then
    /// accepted from the previewed bytes with the receipt written as a new
    /// file; an occupied receipt path takes nothing over.
    #[test]
    fn a_transfer_is_accepted_from_the_preview_and_its_receipt_written() {
        let t = tempfile::tempdir().unwrap();
        let mut from = make(&t.path().join("niamey"), "Niamey office", "data_manager");
        sync::make_office(&mut from, "Niamey").expect("make office");
        let mut to = office(&t.path().join("agadez"));
        act_as(&mut from, "sani", Role::Caseworker);
        let case = from.create_case("uasc", "Niamey").unwrap();
        from.save_form(
            case,
            "registration_bia",
            None,
            values(json!({"given_names": "Ibrahim", "legitimate_basis": "consent",
                "consent": {"by": "Ibrahim", "method": "signature", "date": "2026-11-02"},
                "consent_scopes": ["case_management", "cross_border_transfer"]})),
        )
        .unwrap();
        from.save_form(
            case,
            "closure_transfer",
            None,
            values(json!({"transfer_consent": {"by": "Ibrahim", "method": "signature", "date": "2026-11-03"}})),
        )
        .unwrap();
        act_as(&mut from, "Niamey office", Role::DataManager);
        let key: String = to.vault().device_verifying_key().as_bytes().iter().map(|b| format!("{b:02x}")).collect();
        let bundle = t.path().join("transfer.fcb");
        transfer_out(&mut from, case, &sync::recipient(&to), &key, &bundle, &mut quiet()).expect("transfer");
        let (path, bytes) = (bundle.display().to_string(), std::fs::read(&bundle).unwrap());

        let p = preview_import(&mut to, &path, &bytes, &mut quiet()).expect("preview");
        assert_eq!(p.transfer.as_ref().map(|x| x.status.as_str()), Some("requested"));
        let taken = |s: &CaseStore| s.list_cases().unwrap().cases.iter().any(|c| c.id == case);
        assert!(!taken(&to), "a preview takes nothing over");

        let occupied = t.path().join("occupied.fcb");
        std::fs::write(&occupied, b"keep").unwrap();
        let e = answer_transfer_to(&mut to, &path, &bytes, transfer::Decision::Accept, &occupied, &mut quiet())
            .unwrap_err();
        assert_eq!(e.code, "file_exists");
        assert!(!taken(&to) && std::fs::read(&occupied).unwrap() == b"keep");

        let receipt = t.path().join("receipt.fcb");
        let done = answer_transfer_to(&mut to, &path, &bytes, transfer::Decision::Accept, &receipt, &mut quiet())
            .expect("accept");
        assert!(done.accepted && taken(&to));
        assert_eq!(done.receipt.path, receipt.display().to_string());
        let r = std::fs::read(&receipt).unwrap();
        assert_eq!(done.receipt.bytes, r.len() as u64);
        let back = apply_import(&mut from, &receipt.display().to_string(), &r, &mut quiet()).expect("receipt");
        assert_eq!(back.transfer.map(|x| x.status), Some("accepted".to_string()));
    }

    #[test]
    fn a_second_device_of_a_user_needs_the_data_managers_word() {
        let t = tempfile::tempdir().unwrap();
        let mut o = office(&t.path().join("o"));
        let mut first = make(&t.path().join("d1"), "amina", "caseworker");
        enroll_by_files(&mut o, &mut first, t.path());
        let second = make(&t.path().join("d2"), "amina", "caseworker");
        let req = t.path().join("second.json");
        write_enrollment_request(&second, &req).expect("request");
        let view = read_request(&o, &req).expect("read request");
        assert!(view.user_enrolled_elsewhere && !view.already_enrolled);
        let e = approve(&mut o, &req, "caseworker", None, &t.path().join("a.fcb"), &mut quiet()).unwrap_err();
        assert!(!t.path().join("a.fcb").exists());
        assert_eq!(e.code, "enrollment_refused", "{e:?}");
        approve(&mut o, &req, "caseworker", Some("amina"), &t.path().join("b.fcb"), &mut quiet()).expect("approve");
        assert!(read_request(&o, &req).unwrap().already_enrolled);
    }

    /// The Office screen lists a suspected pair until a data manager says
    /// the two are different children; a caseworker may not say so.
    #[test]
    fn held_change_decisions_are_the_data_managers_with_stable_codes() {
        let t = tempfile::tempdir().unwrap();
        let mut o = office(&t.path().join("o"));
        let unknown = Uuid::now_v7();
        let e = retry_held(&mut o, unknown).unwrap_err();
        assert_eq!(e.code, "not_held", "{e:?}");
        let e = discard_held(&mut o, unknown, " ").unwrap_err();
        assert_eq!(e.code, "reason_required", "{e:?}");
        act_as(&mut o, "sara", Role::Supervisor);
        let e = retry_held(&mut o, unknown).unwrap_err();
        assert_eq!((e.code.as_str(), e.params.get("role").map(String::as_str)), ("forbidden", Some("supervisor")));
        let e = discard_held(&mut o, unknown, "no").unwrap_err();
        assert_eq!(e.code, "forbidden", "{e:?}");
    }

    #[test]
    fn a_pair_marked_not_the_same_child_leaves_the_list() {
        let t = tempfile::tempdir().unwrap();
        let mut o = office(&t.path().join("o"));
        act_as(&mut o, "amina", Role::Caseworker);
        let fatima = json!({"given_names": "Fatima", "family_name": "Bello", "sex": "female", "age_years": 10,
            "place_of_origin": "Kano", "nationality": ["NGA"], "registration_date": "2026-03-02",
            "legitimate_basis": "vital_interests"});
        let register = |o: &mut CaseStore| {
            let c = o.create_case("uasc", "Agadez").unwrap();
            o.save_form(c, "registration_bia", None, values(fatima.clone())).unwrap();
            c
        };
        let (x, y) = (register(&mut o), register(&mut o));
        let is_pair = |d: &DuplicateEntry| {
            let mut p = [d.case_a.clone(), d.case_b.clone()];
            p.sort();
            let mut q = [x.to_string(), y.to_string()];
            q.sort();
            p == q
        };
        act_as(&mut o, "Agadez office", Role::DataManager);
        assert!(duplicates(&mut o).unwrap().iter().any(is_pair), "the two registrations are flagged");

        act_as(&mut o, "amina", Role::Caseworker);
        assert_eq!(mark_not_duplicate(&mut o, x, y).unwrap_err().code, "rule_violated");
        act_as(&mut o, "Agadez office", Role::DataManager);
        assert!(duplicates(&mut o).unwrap().iter().any(is_pair), "a refused review changes nothing");

        mark_not_duplicate(&mut o, x, y).unwrap();
        assert!(!duplicates(&mut o).unwrap().iter().any(is_pair), "a reviewed pair is no longer listed");
    }

    #[test]
    fn export_then_preview_changes_nothing_and_apply_imports() {
        let t = tempfile::tempdir().unwrap();
        let mut o = office(&t.path().join("o"));
        let mut a = make(&t.path().join("a"), "amina", "caseworker");
        enroll_by_files(&mut o, &mut a, t.path());
        let c = a.create_case("uasc", "Agadez").unwrap();
        a.save_form(c, "registration_bia", None, values(json!({"given_names": "Mariama", "family_name": "Bah"})))
            .unwrap();

        let out = t.path().join("up.fcb");
        let mut seen = Vec::new();
        let written = export_to_office(&mut a, &out, &mut |p| seen.push(p)).expect("export");
        assert_eq!(written.bytes, std::fs::metadata(&out).unwrap().len());
        assert!(seen.iter().any(|p| matches!(p, Progress::Encrypting { .. })), "{seen:?}");
        // A second export never overwrites the first file.
        assert_eq!(export_to_office(&mut a, &out, &mut quiet()).unwrap_err().code, "file_exists");

        let path = out.display().to_string();
        let bytes = std::fs::read(&out).unwrap();
        let p = preview_import(&mut o, &path, &bytes, &mut quiet()).expect("preview");
        assert!(p.dry_run && !p.replay);
        assert_eq!((p.kind.as_str(), p.sender_name.as_str(), p.new_cases.len()), ("device_to_office", "amina", 1));
        assert!(p.new_events >= 2, "{p:?}");
        assert_eq!(o.case_count().unwrap(), 0, "preview changed the vault");

        let r = apply_import(&mut o, &path, &bytes, &mut quiet()).expect("apply");
        assert!(!r.dry_run);
        assert_eq!(r.new_events, p.new_events);
        assert_eq!(o.case_count().unwrap(), 1);
        assert!(
            preview_import(&mut o, &path, &bytes, &mut quiet()).unwrap().replay,
            "importing twice is a reported no-op"
        );

        let devices = devices(&o).unwrap();
        assert_eq!(devices.len(), 2);
        assert!(devices[0].is_office);
        assert_eq!(devices[1].name, "amina");
    }

    #[test]
    fn protected_conflict_is_listed_with_each_value_and_resolved_by_choosing_one() {
        let t = tempfile::tempdir().unwrap();
        let mut o = office(&t.path().join("o"));
        let mut a = make(&t.path().join("a"), "amina", "caseworker");
        let mut b = make(&t.path().join("b"), "bakary", "caseworker");
        enroll_by_files(&mut o, &mut a, t.path());
        enroll_by_files(&mut o, &mut b, t.path());
        let c = a.create_case("uasc", "Agadez").unwrap();
        a.save_form(c, "registration_bia", None, values(json!({"given_names": "Mariama", "risk_level": "medium"})))
            .unwrap();
        let up = sync::export_for_office(&mut a, &mut quiet()).unwrap();
        sync::import_bundle(&mut o, &up, false, &mut quiet()).unwrap();
        o.assign(c, "bakary").unwrap();
        let down = sync::export_for_device(&mut o, b.vault().device().device_id, &mut quiet()).unwrap();
        sync::import_bundle(&mut b, &down, false, &mut quiet()).unwrap();
        a.save_form(c, "registration_bia", None, values(json!({"risk_level": "low"}))).unwrap();
        b.save_form(c, "registration_bia", None, values(json!({"risk_level": "high"}))).unwrap();
        for d in [&mut a, &mut b] {
            let up = sync::export_for_office(d, &mut quiet()).unwrap();
            let report = sync::import_bundle(&mut o, &up, false, &mut quiet()).unwrap();
            let p = outcome(&o, "x", 0, &report).unwrap();
            assert!(p.conflicts.iter().all(|x| x.case_number.is_some()));
        }

        let list = conflicts(&o).unwrap();
        let risk = list.iter().find(|x| x.field == "risk_level").expect("risk level conflict listed");
        assert!(risk.protected && risk.shown_json.is_none(), "{risk:?}");
        // The office's data manager routes the queue without names
        // (docs/visibility.md); a supervisor sees who the child is.
        assert_eq!(risk.child_name, None);
        let mut who: Vec<(&str, Option<&str>, &str)> =
            risk.heads.iter().map(|h| (h.author.as_str(), h.device_name.as_deref(), h.value_json.as_str())).collect();
        who.sort();
        assert_eq!(who, vec![("amina", Some("amina"), "\"low\""), ("bakary", Some("bakary"), "\"high\"")]);
        assert!(risk.heads.iter().all(|h| h.value_labels.is_some()), "risk levels are options with labels");

        // The office's data manager routes it: a supervisor picks the value.
        let (case, item) = (Uuid::parse_str(&risk.case_id).unwrap(), None);
        let high = risk.heads.iter().find(|h| h.value_json == "\"high\"").unwrap();
        let e = resolve(&mut o, case, "registration_bia", item, "risk_level", Uuid::parse_str(&high.event).unwrap())
            .unwrap_err();
        assert_eq!(e.code, "forbidden");
        act_as(&mut o, "sara", Role::Supervisor);
        let seen = conflicts(&o).unwrap();
        let named = seen.iter().find(|x| x.field == "risk_level").and_then(|x| x.child_name.clone());
        assert_eq!(named.as_deref(), Some("Mariama"));
        // Only one of the values in conflict can be chosen.
        let e = resolve(&mut o, case, "registration_bia", item, "risk_level", Uuid::nil()).unwrap_err();
        assert_eq!(e.code, "conflict_changed");
        resolve(&mut o, case, "registration_bia", item, "risk_level", Uuid::parse_str(&high.event).unwrap())
            .expect("resolve");
        assert!(conflicts(&o).unwrap().iter().all(|x| x.field != "risk_level"), "resolved conflict still listed");
        let detail = o.case_detail(case).unwrap();
        let f = detail.fields.iter().find(|f| f.form == "registration_bia" && f.field == "risk_level").unwrap();
        assert_eq!(f.value, Some(json!("high")));
    }

    #[test]
    fn refused_bundles_have_a_code_and_one_line_reason_and_change_nothing() {
        let t = tempfile::tempdir().unwrap();
        let mut o = office(&t.path().join("o"));
        let mut a = make(&t.path().join("a"), "amina", "caseworker");
        let e = preview_import(&mut o, "x", b"not a bundle at all", &mut quiet()).unwrap_err();
        assert_eq!(e.code, "bundle_not_a_bundle");
        assert!(!e.message.contains('\n'));

        enroll_by_files(&mut o, &mut a, t.path());
        a.create_case("uasc", "Agadez").unwrap();
        let bundle = sync::export_for_office(&mut a, &mut quiet()).unwrap();
        let e = preview_import(&mut o, "x", &bundle[..bundle.len() / 2], &mut quiet()).unwrap_err();
        assert_eq!(e.code, "bundle_damaged", "{e:?}");
        // A device bundle imported on another device: wrong recipient.
        let mut other = make(&t.path().join("b"), "bakary", "caseworker");
        let e = apply_import(&mut other, "x", &bundle, &mut quiet()).unwrap_err();
        assert_eq!(e.code, "bundle_wrong_recipient", "{e:?}");
        assert_eq!(o.case_count().unwrap(), 0);
        // Office-only and device-only operations say which they need.
        assert_eq!(write_enrollment_request(&o, &t.path().join("r.json")).unwrap_err().code, "is_office");
        assert_eq!(devices(&other).unwrap().len(), 0);
    }

    #[test]
    fn pending_import_is_released_only_for_the_previewed_path() {
        let p = PendingImport::default();
        p.put("/a.fcb".into(), vec![1, 2]);
        assert_eq!(p.take("/b.fcb"), None);
        assert_eq!(p.take("/a.fcb"), Some(vec![1, 2]));
        assert_eq!(p.take("/a.fcb"), None, "apply consumes the preview");
    }

    #[test]
    fn paths_must_be_absolute_and_files_are_found_by_extension() {
        assert_eq!(absolute("").unwrap_err().code, "no_path");
        assert_eq!(absolute("relative/x.fcb").unwrap_err().code, "bad_input");
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("one.fcb"), b"x").unwrap();
        std::fs::write(t.path().join("req.json"), b"{}").unwrap();
        std::fs::create_dir(t.path().join("dir.fcb")).unwrap();
        let dirs = vec![t.path().display().to_string()];
        let found = find_files(&dirs, "fcb");
        assert_eq!(found.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), vec!["one.fcb"]);
        assert_eq!(find_files(&dirs, "json").len(), 1);
        let missing = t.path().join("no-such-folder").join("x.fcb");
        assert_eq!(write_new_file(&missing, b"x").unwrap_err().code, "no_such_folder");
    }

    /// A bundle never replaces a file or goes through a symlink: both are
    /// refused with `file_exists` and left as they were.
    #[test]
    fn an_existing_file_or_symlink_is_never_written_over() {
        let t = tempfile::tempdir().unwrap();
        let existing = t.path().join("one.fcb");
        std::fs::write(&existing, b"first").unwrap();
        assert_eq!(write_new_file(&existing, b"second").unwrap_err().code, "file_exists");
        assert_eq!(std::fs::read(&existing).unwrap(), b"first");
        let victim = t.path().join("victim");
        std::fs::write(&victim, b"not yours").unwrap();
        let link = t.path().join("two.fcb");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert_eq!(write_new_file(&link, b"bundle").unwrap_err().code, "file_exists");
        assert_eq!(check_free(&link).unwrap_err().code, "file_exists");
        assert_eq!(std::fs::read(&victim).unwrap(), b"not yours");
        let fresh = t.path().join("three.fcb");
        assert_eq!(write_new_file(&fresh, b"bundle").unwrap().bytes, 6);
        assert_eq!(std::fs::read(&fresh).unwrap(), b"bundle");
    }
}
