//! The sync folder (docs/bundle-format.md §12): a directory an existing
//! file-sync tool carries between the office and its devices. A device
//! leaves its bundles in `<its id>/to-office/` and imports what the office
//! left in `<its id>/to-device/`; the office imports every device's
//! bundles and leaves each device its answer. Only ordinary bundles and
//! the ordinary all-or-nothing import are used: the folder adds where files
//! go, how a file still being copied is told from a refused one, and the
//! cleanup.
//!
//! [`sync_folder_once`] is one pass; the CLI's `--watch` and the app call
//! it again whenever the folder may have changed. What a pass needs to
//! remember (the outcome of each file, what its last bundles told each
//! peer, the last sync) is kept in the vault (`sync_state` `folder`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::codes::Coded as _;
use crate::model::error::StoreError;
use crate::model::store::CaseStore;
use crate::sync::error::ImportError;
use crate::sync::exchange::{self, put, state_get};
use crate::sync::format::Progress;

/// A device's folder for its bundles to the office.
pub const TO_OFFICE: &str = "to-office";
/// A device's folder for the office's bundles to it.
pub const TO_DEVICE: &str = "to-device";
/// Where the pass's memory is kept (`sync_state`).
const K_FOLDER: &str = "folder";
/// The folder chosen for this vault (the app's setting).
const K_FOLDER_PATH: &str = "folder_path";

/// Why a pass over the sync folder could not run. A refused or incomplete
/// bundle is not an error of the pass: it is in the [`FolderReport`].
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    /// The folder does not exist (or is not a folder).
    #[error("the sync folder {} does not exist or is not a folder: create it, or check that the sync tool (or the stick) is there", .0.display())]
    NoFolder(PathBuf),
    /// The folder or one of its sub-folders cannot be read or created.
    #[error("cannot use the sync folder {}: {source}; check its permissions", path.display())]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The vault is neither an office nor enrolled with one.
    #[error("this vault is not enrolled with an office yet: import its enrollment bundle first")]
    NotEnrolled,
    /// Reading or writing the vault failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

// Each failure's stable code for the interfaces (crate::codes).
crate::error_codes! { FolderError {
    nested {
        FolderError::Store(s) => s: StoreError;
    }
    FolderError::NoFolder(path) => "folder_missing" { path = path.display() };
    FolderError::Io { path, .. } => "folder_unusable" { path = path.display() };
    FolderError::NotEnrolled => "not_enrolled";
} }

/// What happened to one file of the folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Imported (or already imported: a replay).
    Imported,
    /// Older than a bundle already imported from its sender: the newer
    /// one carried everything (§12.3).
    Superseded,
    /// Not whole yet (still being copied), or damaged: left in place,
    /// read again once it changes.
    Incomplete,
    /// Refused by the import, with a reason; nothing of it was applied.
    Refused,
}

/// A file the pass imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderImport {
    /// The file, relative to the folder.
    pub file: String,
    /// The sender's name as the roster gives it.
    pub sender_name: String,
    /// New events applied.
    pub new_events: usize,
    /// New cases.
    pub new_cases: usize,
    /// Cases changed.
    pub updated_cases: usize,
    /// Events the rules refused, held in quarantine (§6.1).
    pub quarantined: usize,
    /// Refusals of this device's own changes the office reported.
    pub refusals_reported: usize,
    /// It had been imported before: nothing changed.
    pub replay: bool,
}

/// A file that is not (or not yet) imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderFile {
    /// The file, relative to the folder.
    pub file: String,
    /// Why (the import's message, in English).
    pub reason: String,
    /// Why, as the import refusal's stable code (`ImportError`'s
    /// `Coded::code`), for an interface to translate; empty for an outcome
    /// remembered before codes were kept.
    #[serde(default)]
    pub code: String,
    /// The values of [`FolderFile::code`].
    #[serde(default)]
    pub params: BTreeMap<String, String>,
}

/// What one pass did, and what the folder holds that was not imported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderReport {
    /// When the pass ran (RFC 3339).
    pub at: String,
    /// Bundles imported by this pass.
    pub imported: Vec<FolderImport>,
    /// Bundles this pass wrote (relative paths).
    pub written: Vec<String>,
    /// This vault's own bundles deleted (superseded or acknowledged).
    pub removed: Vec<String>,
    /// Every refused file in the folder, this pass's and earlier ones'.
    pub refused: Vec<FolderFile>,
    /// Every file waiting to be whole (or damaged), with the import's reason.
    pub incomplete: Vec<FolderFile>,
    /// Files older than a bundle already imported from their sender.
    pub superseded: Vec<String>,
    /// Bundles that could not be written, or imported because of this
    /// vault (its disk): the next pass tries again.
    pub failed: Vec<String>,
}

impl FolderReport {
    /// Whether the pass imported, wrote or deleted anything.
    pub fn did_something(&self) -> bool {
        !self.imported.is_empty() || !self.written.is_empty() || !self.removed.is_empty()
    }
}

/// What the vault remembers of its sync folder (§12.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderStatus {
    /// The folder the state is about.
    pub dir: Option<String>,
    /// The last pass that imported, wrote or deleted a bundle (RFC 3339).
    pub last_sync: Option<String>,
    /// That pass's report.
    pub last: Option<FolderReport>,
    /// Every file in the folder refused so far and not changed since
    /// (computed from what the vault remembers, not stored twice).
    #[serde(skip)]
    pub refused: Vec<FolderFile>,
    /// Every file waiting to be whole (or damaged).
    #[serde(skip)]
    pub incomplete: Vec<FolderFile>,
}

/// The outcome of a file, with the size and modification time it had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Seen {
    size: u64,
    mtime: i128,
    outcome: Outcome,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    code: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    params: BTreeMap<String, String>,
}

/// The pass's memory, `sync_state` `folder`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct State {
    #[serde(flatten)]
    status: FolderStatus,
    /// Per file (relative path).
    files: BTreeMap<String, Seen>,
    /// What this vault's last bundle to each peer was written from
    /// ([`token_for_office`], [`token_for_device`]).
    tokens: BTreeMap<Uuid, String>,
    /// Per peer, the newest `sender_seq` of this vault it said it imported.
    peer_received: BTreeMap<Uuid, u64>,
    /// A device imported office events since its last bundle: its next
    /// pass tells the office (`received`), so the office can clean up and
    /// send only what is new from then on.
    #[serde(default)]
    owe_receipt: bool,
}

fn load(store: &CaseStore) -> Result<State, StoreError> {
    Ok(state_get(store, K_FOLDER)?.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default())
}

/// What the vault remembers of its last passes over its sync folder, with
/// the files still refused or incomplete.
pub fn status(store: &CaseStore) -> Result<FolderStatus, StoreError> {
    let state = load(store)?;
    let mut status = state.status;
    for (file, seen) in state.files {
        let entry = FolderFile { file, reason: seen.reason, code: seen.code, params: seen.params };
        match seen.outcome {
            Outcome::Refused => status.refused.push(entry),
            Outcome::Incomplete => status.incomplete.push(entry),
            Outcome::Superseded | Outcome::Imported => {}
        }
    }
    Ok(status)
}

/// The sync folder chosen for this vault, if any (kept in the vault,
/// encrypted: a folder's name may say where the device goes).
pub fn folder(store: &CaseStore) -> Result<Option<PathBuf>, StoreError> {
    Ok(state_get(store, K_FOLDER_PATH)?.and_then(|v| v.as_str().map(PathBuf::from)))
}

/// Choose (or with `None`, forget) this vault's sync folder. A folder
/// must exist and be a folder.
pub fn set_folder(store: &mut CaseStore, dir: Option<&Path>) -> Result<(), FolderError> {
    let value = match dir {
        Some(d) => {
            if !std::fs::symlink_metadata(d).is_ok_and(|m| m.is_dir()) {
                return Err(FolderError::NoFolder(d.to_path_buf()));
            }
            let d = std::path::absolute(d).map_err(|source| FolderError::Io { path: d.to_path_buf(), source })?;
            Value::String(d.to_string_lossy().into_owned())
        }
        None => Value::Null,
    };
    store.commit_sync_entries(vec![put(K_FOLDER_PATH, value)])?;
    Ok(())
}

/// One pass over the sync folder `dir`: a device imports what its office
/// left for it, then writes a bundle when it has something new to say; an
/// office imports every device's bundles, then writes an answer to each
/// device whose answer changed. Each import is all or nothing; a file
/// still being copied is left for a later pass, a refused one reported
/// and left; this vault's bundles that are superseded or acknowledged are
/// deleted (docs/bundle-format.md §12).
pub fn sync_folder_once(store: &mut CaseStore, dir: &Path) -> Result<FolderReport, FolderError> {
    if !std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Err(FolderError::NoFolder(dir.to_path_buf()));
    }
    let before = load(store)?;
    let mut state = before.clone();
    // The same folder named from another working directory is the same.
    let dir_name = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()).to_string_lossy().into_owned();
    if state.status.dir.as_deref() != Some(dir_name.as_str()) {
        // Another folder: nothing remembered applies to it.
        state = State { status: FolderStatus { dir: Some(dir_name), ..FolderStatus::default() }, ..State::default() };
    }
    let mut report = FolderReport { at: exchange::now_rfc3339(), ..FolderReport::default() };
    if exchange::is_office(store)? {
        office_pass(store, dir, &mut state, &mut report)?;
    } else {
        device_pass(store, dir, &mut state, &mut report)?;
    }
    for (file, seen) in &state.files {
        let entry = || FolderFile {
            file: file.clone(),
            reason: seen.reason.clone(),
            code: seen.code.clone(),
            params: seen.params.clone(),
        };
        match seen.outcome {
            Outcome::Refused => report.refused.push(entry()),
            Outcome::Incomplete => report.incomplete.push(entry()),
            Outcome::Superseded => report.superseded.push(file.clone()),
            Outcome::Imported => {}
        }
    }
    if report.did_something() {
        state.status.last_sync = Some(report.at.clone());
        state.status.last = Some(report.clone());
    }
    if state != before {
        // Plain structs with string keys: serializing them cannot fail.
        if let Ok(value) = serde_json::to_value(&state) {
            store.commit_sync_entries(vec![put(K_FOLDER, value)])?;
        }
    }
    Ok(report)
}

fn device_pass(
    store: &mut CaseStore,
    dir: &Path,
    state: &mut State,
    report: &mut FolderReport,
) -> Result<(), FolderError> {
    let roster = exchange::roster(store)?.ok_or(FolderError::NotEnrolled)?.roster;
    let office = roster.office_id;
    let me = store.vault().device().device_id;
    let mine = dir.join(me.to_string());
    let inbox = mine.join(TO_DEVICE);
    let outbox = mine.join(TO_OFFICE);
    for d in [&mine, &outbox] {
        ensure_dir(d)?;
    }
    import_all(store, dir, &inbox, state, report)?;
    // Only a bundle that brought something (not an acknowledgement alone)
    // is worth a receipt: otherwise the two sides would answer each other's
    // receipts for ever.
    if report.imported.iter().any(|i| !i.replay && (i.new_events > 0 || i.refusals_reported > 0)) {
        state.owe_receipt = true;
    }
    let token = token_for_office(store, &roster, me)?;
    if state.owe_receipt || state.tokens.get(&office) != Some(&token) {
        match exchange::export_for_office(store, &mut |_: Progress| {}) {
            Ok(bytes) => write_bundle(store, dir, &outbox, &bytes, report, || {
                state.tokens.insert(office, token);
                state.owe_receipt = false;
            }),
            Err(e) => report.failed.push(format!("{}: {e}", rel(dir, &outbox))),
        }
    }
    clean_up(dir, &outbox, state.peer_received.get(&office).copied(), report);
    Ok(())
}

fn office_pass(
    store: &mut CaseStore,
    dir: &Path,
    state: &mut State,
    report: &mut FolderReport,
) -> Result<(), FolderError> {
    let devices = device_folders(dir)?;
    for (_, folder) in &devices {
        import_all(store, dir, &folder.join(TO_OFFICE), state, report)?;
    }
    let roster = exchange::roster(store)?.ok_or(FolderError::NotEnrolled)?.roster;
    // Once per pass, not per device.
    let held = events_held(store, &roster)?;
    for (device, folder) in &devices {
        // Only enrolled devices that send their own bundles get an answer.
        let Some(entry) = roster.device(*device) else { continue };
        if entry.revoked_at.is_some() || entry.host.is_some() || *device == roster.office_id {
            continue;
        }
        let outbox = folder.join(TO_DEVICE);
        ensure_dir(&outbox)?;
        let token = token_for_device(store, &held, &roster, *device)?;
        if state.tokens.get(device) != Some(&token) {
            match exchange::export_for_device(store, *device, &mut |_: Progress| {}) {
                Ok(bytes) => write_bundle(store, dir, &outbox, &bytes, report, || {
                    state.tokens.insert(*device, token);
                }),
                Err(e) => report.failed.push(format!("{}: {e}", rel(dir, &outbox))),
            }
        }
        clean_up(dir, &outbox, state.peer_received.get(device).copied(), report);
    }
    Ok(())
}

/// The sub-folders of `dir` named by a device id (others are ignored,
/// §12.1), sorted.
fn device_folders(dir: &Path) -> Result<Vec<(Uuid, PathBuf)>, FolderError> {
    let io = |source| FolderError::Io { path: dir.to_path_buf(), source };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(|n| Uuid::parse_str(n).ok()) else { continue };
        if name.to_str() != Some(id.to_string().as_str()) {
            continue; // only the lower-case hyphenated form
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.push((id, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

fn ensure_dir(d: &Path) -> Result<(), FolderError> {
    match std::fs::symlink_metadata(d) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(FolderError::Io {
            path: d.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "not a folder"),
        }),
        Err(_) => std::fs::create_dir_all(d).map_err(|source| FolderError::Io { path: d.to_path_buf(), source }),
    }
}

fn rel(dir: &Path, p: &Path) -> String {
    p.strip_prefix(dir).unwrap_or(p).to_string_lossy().replace('\\', "/")
}

/// The files a reader considers (§12.3): regular files (no symlink) whose
/// name ends in `.fcb` and does not begin with `.`, in name order.
fn bundle_files(folder: &Path) -> Vec<(PathBuf, std::fs::Metadata)> {
    let Ok(entries) = std::fs::read_dir(folder) else { return Vec::new() };
    let mut out: Vec<_> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.ends_with(".fcb") && !n.starts_with('.')))
        .filter_map(|e| {
            let m = std::fs::symlink_metadata(e.path()).ok()?;
            m.is_file().then(|| (e.path(), m))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn mtime(m: &std::fs::Metadata) -> i128 {
    m.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos() as i128)
}

/// Import every file of `folder` not seen unchanged before.
fn import_all(
    store: &mut CaseStore,
    dir: &Path,
    folder: &Path,
    state: &mut State,
    report: &mut FolderReport,
) -> Result<(), FolderError> {
    let prefix = format!("{}/", rel(dir, folder));
    // A symbolic link in place of the folder is not followed (§12.3).
    let files =
        if std::fs::symlink_metadata(folder).is_ok_and(|m| m.is_dir()) { bundle_files(folder) } else { Vec::new() };
    // Forget the files that are gone (cleaned up by their writer).
    let present: std::collections::BTreeSet<String> = files.iter().map(|(p, _)| rel(dir, p)).collect();
    state.files.retain(|k, _| !k.starts_with(&prefix) || present.contains(k));
    for (path, meta) in files {
        let key = rel(dir, &path);
        let (size, time) = (meta.len(), mtime(&meta));
        if state.files.get(&key).is_some_and(|s| s.size == size && s.mtime == time) {
            continue; // unchanged since its outcome was decided
        }
        let result = exchange::import_bundle(store, path.as_path(), false, &mut |_| {});
        // A file that changed while it was read was being written.
        let after = std::fs::symlink_metadata(&path).ok();
        let changed = after.as_ref().is_none_or(|m| m.len() != size || mtime(m) != time);
        let (outcome, why) = match &result {
            Ok(r) => {
                if let Some(seq) = r.received_by_sender {
                    let e = state.peer_received.entry(r.sender).or_insert(0);
                    *e = (*e).max(seq);
                }
                report.imported.push(FolderImport {
                    file: key.clone(),
                    sender_name: r.sender_name.clone(),
                    new_events: if r.replay { 0 } else { r.summary.new },
                    new_cases: r.preview.new_cases.len(),
                    updated_cases: r.preview.updated_cases.len(),
                    quarantined: r.quarantined.len(),
                    refusals_reported: r.refusals_reported,
                    replay: r.replay,
                });
                (Outcome::Imported, None)
            }
            Err(e) if changed => (Outcome::Incomplete, Some(e)),
            Err(e) if failed_here(e) => {
                // This vault could not finish the import (its disk, a
                // bug): nothing was applied, the file is not at fault, so
                // it is not remembered and the next pass tries again.
                report.failed.push(format!("{key}: {e}"));
                continue;
            }
            Err(e) => (classify(e), Some(e)),
        };
        let (reason, code, params) = match why {
            Some(e) => {
                (e.to_string(), e.code().to_string(), e.params().into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }
            None => (String::new(), String::new(), BTreeMap::new()),
        };
        if after.is_none() {
            state.files.remove(&key); // vanished: nothing to remember
            continue;
        }
        let (size, time) = after.as_ref().map_or((size, time), |m| (m.len(), mtime(m)));
        state.files.insert(key, Seen { size, mtime: time, outcome, reason, code, params });
    }
    Ok(())
}

/// Whether an import failed because of this vault rather than the file.
fn failed_here(e: &ImportError) -> bool {
    matches!(
        e,
        ImportError::Attachment { .. }
            | ImportError::Rejected(StoreError::Vault(_) | StoreError::Database(_) | StoreError::CheckStopped(_))
    )
}

/// How a refused import is told apart from a file still being copied
/// (§12.3).
fn classify(e: &ImportError) -> Outcome {
    match e {
        ImportError::NotAgeFile | ImportError::Damaged { .. } | ImportError::Io(_) => Outcome::Incomplete,
        ImportError::SequenceBackwards { .. } => Outcome::Superseded,
        _ => Outcome::Refused,
    }
}

/// Write a bundle just built into `outbox` under its sequence (§12.2) and
/// call `done` once it is there.
fn write_bundle(
    store: &CaseStore,
    dir: &Path,
    outbox: &Path,
    bytes: &[u8],
    report: &mut FolderReport,
    done: impl FnOnce(),
) {
    let seq = state_get(store, "out").ok().flatten().and_then(|v| v.get("seq").and_then(Value::as_u64)).unwrap_or(0);
    let path = outbox.join(format!("{seq:020}.fcb"));
    match crate::fsutil::write_new_file(&path, bytes) {
        Ok(()) => {
            report.written.push(rel(dir, &path));
            done();
        }
        // The sequence is recorded already: a failed write is a gap, which
        // receivers accept (§5); the next pass writes again.
        Err(e) => report.failed.push(e.to_string()),
    }
}

/// Delete this vault's bundles in `outbox` that a newer one supersedes,
/// and the newest once the peer acknowledged it (§12.4). Only names this
/// vault writes (`<20 digits>.fcb`) are touched.
fn clean_up(dir: &Path, outbox: &Path, acknowledged: Option<u64>, report: &mut FolderReport) {
    let mut own: Vec<(u64, PathBuf)> = bundle_files(outbox)
        .into_iter()
        .filter_map(|(p, _)| {
            let name = p.file_name()?.to_str()?;
            let digits = name.strip_suffix(".fcb")?;
            (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| digits.parse().ok().map(|s| (s, p.clone())))
                .flatten()
        })
        .collect();
    own.sort();
    let newest = own.last().map(|(s, _)| *s);
    for (seq, path) in own {
        let superseded = Some(seq) != newest;
        let acked = acknowledged.is_some_and(|a| a >= seq);
        if (superseded || acked) && std::fs::remove_file(&path).is_ok() {
            report.removed.push(rel(dir, &path));
        }
    }
}

fn digest(v: &Value) -> String {
    hex::encode(Sha256::digest(v.to_string().as_bytes()))
}

/// The newest `device_seq` this vault holds of `signer`: one look in the
/// events' (device, sequence) index, so a pass with nothing new stays
/// cheap on a vault of any size (the contiguous acknowledgements would read
/// every event's sequence).
fn newest_seq(store: &CaseStore, signer: Uuid) -> Result<u64, StoreError> {
    let seq: Option<i64> = store.vault().conn().query_row(
        "SELECT MAX(device_seq) FROM events WHERE device_id = ?1",
        [signer.to_string()],
        |r| r.get(0),
    )?;
    Ok(seq.map_or(0, |s| s.max(0) as u64))
}

/// What tells that the office's event store changed: the newest event it
/// holds of each signer of its roster (devices, the people they host, the
/// office's own people). Events held in quarantine are in the refusals of
/// each device's token; transfers change the roster (§9.4).
fn events_held(store: &CaseStore, roster: &crate::sync::roster::Roster) -> Result<Value, StoreError> {
    let mut newest = BTreeMap::new();
    for d in roster.devices.iter().map(|d| d.device_id).chain(roster.vouched.iter().map(|v| v.device_id)) {
        newest.insert(d, newest_seq(store, d)?);
    }
    Ok(json!(newest))
}

/// What a device's bundle to the office is made from: the events its own
/// people made. The same token (and no receipt owed): nothing new to send.
fn token_for_office(store: &CaseStore, roster: &crate::sync::roster::Roster, me: Uuid) -> Result<String, StoreError> {
    let mut own = BTreeMap::new();
    for d in roster.hosted_by(me) {
        own.insert(d.device_id, newest_seq(store, d.device_id)?);
    }
    // The signer recording now, should the roster not list them yet.
    own.insert(store.signer_id(), newest_seq(store, store.signer_id())?);
    Ok(digest(&json!(own)))
}

/// What the office's bundle to `device` is made from: the events it holds
/// ([`events_held`]), its roster, its country configuration and the
/// refusals it reports to that device.
fn token_for_device(
    store: &CaseStore,
    held: &Value,
    roster: &crate::sync::roster::Roster,
    device: Uuid,
) -> Result<String, StoreError> {
    let signers: Vec<Uuid> = roster.hosted_by(device).map(|d| d.device_id).collect();
    let refused: Vec<Uuid> =
        crate::sync::quarantine::notices_for(store, &signers)?.into_iter().map(|n| n.event_id).collect();
    let released = crate::sync::quarantine::released_for(store, &signers)?.len();
    let config = crate::country::held(store)?.map(|c| c.config.serial);
    Ok(digest(&json!({
        "held": held,
        "roster": roster.serial,
        "config": config,
        "refused": refused,
        "released": released,
    })))
}
