//! Requests to partners abroad (docs/bundle-format.md §11): the case's
//! "Request to a partner" panel and the office's Partners screen. Each
//! command is a few lines around `fieldcase::sync::partner_request`; the
//! records it returns are below and written to ui/src/lib/bindings/ like
//! the other DTOs.
//!
//! What a request shares is the library's preview, the same function that
//! builds the bundle. Files: bundles (request, receipt, answer, withdrawal)
//! are age ciphertext written through the library's `build_new_file`; the
//! request for a partner without Fieldcase is returned as text to print or
//! as PDF bytes (nothing of it is written to a file by the app).

use fieldcase::model::forms;
use fieldcase::model::partner_kinds::{self, SharedValue};
use fieldcase::model::store::CaseStore;
use fieldcase::sync::partner_request::{self as pr, Imported, RequestError};
use fieldcase::sync::partners::{self, PartnerError};
use fieldcase::sync::Progress;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tauri::ipc::Channel;
use tauri::State;
use ts_rs::TS;
use uuid::Uuid;

use crate::dto::{LabelsDto, ViolationDto};
use crate::session::{Session, UiError};
use crate::sync_commands::{
    absolute, bad_input, built_file, import_error, parse_uuid, read_limited, reporter, sync_error, MAX_BUNDLE_FILE,
};
use crate::sync_dto::{SyncProgress, WrittenFile};

macro_rules! partner_dto {
    ($item:item) => {
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
        #[ts(export, export_to = "../../ui/src/lib/bindings/")]
        $item
    };
}

partner_dto! {
/// A partner office or agency abroad, from the office's list.
pub struct PartnerEntry {
    /// Its id in the list.
    pub partner_id: String,
    /// Its name.
    pub name: String,
    /// Its country (ISO 3166 alpha-3).
    pub country: String,
    /// Without Fieldcase: its requests are printed, its answers recorded by hand.
    pub on_paper: bool,
}
}

partner_dto! {
/// A kind of request (assets/requests/partner_request_kinds.json).
pub struct RequestKindEntry {
    /// Its id.
    pub id: String,
    /// Its label in the three languages.
    pub labels: LabelsDto,
    /// The request is about one relative's tracing record.
    pub needs_item: bool,
    /// The form of that record (`family_tracing`).
    pub item_form: Option<String>,
    /// Days the partner has to answer.
    pub due_days: u32,
    /// The form the answer's fields belong to.
    pub answer_form: String,
    /// The fields the answer may carry.
    pub answer_fields: Vec<String>,
}
}

partner_dto! {
/// One value a request carries, with its labels.
pub struct SharedEntry {
    /// The form.
    pub form: String,
    /// Its title.
    pub form_title: Option<LabelsDto>,
    /// The field.
    pub field: String,
    /// Its label.
    pub field_label: Option<LabelsDto>,
    /// The value as stored in the case.
    #[ts(type = "unknown")]
    pub value: Value,
    /// The value to show: the same, with each code of a value list
    /// replaced by `{"$label": {en, fr, ar}}`, its labels in the form
    /// definition (a partner reads "Female", not `female`).
    #[ts(type = "unknown")]
    pub display: Value,
}
}

partner_dto! {
/// Exactly what a request would share, and the rules that refuse it now.
pub struct RequestPreviewDto {
    /// The kind.
    pub kind: String,
    /// The answer due date if sent today (YYYY-MM-DD).
    pub due: String,
    /// The values it would carry, nothing else.
    pub shared: Vec<SharedEntry>,
    /// Rules that refuse it (empty: it may be sent).
    pub blocked_by: Vec<ViolationDto>,
}
}

partner_dto! {
/// A request just sent.
pub struct SentRequestDto {
    /// Its id.
    pub request_id: String,
    /// The bundle written (a partner with Fieldcase).
    pub written: Option<WrittenFile>,
    /// The request to print, notice first (a partner without Fieldcase).
    pub printout: Option<String>,
}
}

partner_dto! {
/// A request this office sent, for the case's list.
pub struct CaseRequestEntry {
    /// The request.
    pub request_id: String,
    /// Its kind.
    pub kind: String,
    /// To whom.
    pub partner: String,
    /// The partner has no Fieldcase.
    pub on_paper: bool,
    /// `sent`, `received`, `overdue`, `answered`, `withdrawn`.
    pub status: String,
    /// Answer due (YYYY-MM-DD).
    pub due: String,
    /// `fieldcase` or `by_hand` once answered.
    pub answer_mode: Option<String>,
}
}

partner_dto! {
/// A request this office received from a partner: a task, its shared
/// values read only.
pub struct ReceivedRequestEntry {
    /// The request.
    pub request_id: String,
    /// Its kind.
    pub kind: String,
    /// From whom.
    pub partner: String,
    /// `received`, `overdue`, `answered`, `withdrawn`.
    pub status: String,
    /// Answer due (YYYY-MM-DD).
    pub due: String,
    /// What it shared (empty once withdrawn: deleted, or when withheld).
    pub shared: Vec<SharedEntry>,
    /// Why the shared values are withheld from this reader
    /// (`metadata_only` for a data manager), if they are.
    pub withheld: Option<String>,
    /// The answer's form.
    pub answer_form: String,
    /// The fields to fill.
    pub answer_fields: Vec<String>,
}
}

partner_dto! {
/// What importing a partner bundle did (or would do, on a dry run).
pub struct PartnerImported {
    /// `request`, `withdrawn`, `receipt` or `answer`.
    pub what: String,
    /// The request.
    pub request_id: String,
    /// The partner.
    pub partner: String,
    /// The case (requesting side).
    pub case_id: Option<String>,
    /// Who answered (an answer).
    pub author: Option<String>,
    /// The answer due date (a request).
    pub due: Option<String>,
    /// Nothing changed: held already, or a receipt that says nothing new.
    pub no_change: bool,
    /// A dry run: every check, no change.
    pub dry_run: bool,
    /// The receipt written for the requester (a request, not a dry run).
    pub receipt: Option<WrittenFile>,
}
}

partner_dto! {
/// An open request, sent or received, for the calendar: its due date and
/// whether it is overdue.
pub struct PartnerDue {
    /// The request.
    pub request_id: String,
    /// `sent` (this office waits for the answer) or `received` (this
    /// office is to answer).
    pub side: String,
    /// The case (sent requests only: a received one has no case here).
    pub case_id: Option<String>,
    /// Its number.
    pub case_number: Option<String>,
    /// The child's name as recorded.
    pub child_name: Option<String>,
    /// The case's caseworker.
    pub caseworker: Option<String>,
    /// Its kind.
    pub kind: String,
    /// The partner.
    pub partner: String,
    /// `sent`, `received` or `overdue`.
    pub status: String,
    /// Answer due (YYYY-MM-DD).
    pub due: String,
    /// Days past the due date (0 when not overdue).
    pub overdue_days: f64,
}
}

/// A refused or impossible request, answer or import: a code per kind for
/// the window, and the library's sentence (which says what to do).
pub fn request_error(e: RequestError) -> UiError {
    match e {
        RequestError::Rules(v) => {
            let mut out = UiError::coded(&RequestError::Rules(v.clone()));
            out.violations = v.iter().map(ViolationDto::from).collect();
            out
        }
        RequestError::Refused(i) => import_error(i),
        RequestError::Sync(s) => sync_error(s),
        RequestError::Partner(p) => partner_error(p),
        e => UiError::coded(&e),
    }
}

fn partner_error(e: PartnerError) -> UiError {
    match e {
        PartnerError::Sync(s) => sync_error(s),
        e => UiError::coded(&e),
    }
}

fn shared_entries(shared: Vec<SharedValue>) -> Vec<SharedEntry> {
    shared
        .into_iter()
        .map(|s| {
            let def = forms::registry().get(&s.form);
            let field = def.and_then(|d| d.field(&s.field));
            SharedEntry {
                form_title: def.map(|d| LabelsDto::from(&d.title)),
                field_label: field.map(|f| LabelsDto::from(&f.labels)),
                display: field.map_or_else(|| s.value.clone(), |f| display_value(f, &s.value)),
                form: s.form,
                field: s.field,
                value: s.value,
            }
        })
        .collect()
}

/// `value` of `field` with every value-list code replaced by its labels
/// (`{"$label": {en, fr, ar}}`), through multi-choice lists and the rows of
/// a list of records; a code the list does not hold stays as it is.
fn display_value(field: &forms::FieldDef, value: &Value) -> Value {
    use forms::FieldType;
    let label = |code: &Value| match code.as_str().and_then(|c| field.options.iter().find(|o| o.value == c)) {
        Some(o) => serde_json::json!({ "$label": LabelsDto::from(&o.labels) }),
        None => code.clone(),
    };
    match (&field.field_type, value) {
        (FieldType::Enum, v) => label(v),
        (FieldType::MultiEnum, Value::Array(codes)) => Value::Array(codes.iter().map(label).collect()),
        (FieldType::GroupList, Value::Array(rows)) => Value::Array(
            rows.iter()
                .map(|row| match row {
                    Value::Object(o) => Value::Object(
                        o.iter()
                            .map(|(k, v)| {
                                let sub = field.fields.iter().find(|f| &f.name == k);
                                (k.clone(), sub.map_or_else(|| v.clone(), |f| display_value(f, v)))
                            })
                            .collect(),
                    ),
                    other => other.clone(),
                })
                .collect(),
        ),
        _ => value.clone(),
    }
}

fn labels(map: &std::collections::BTreeMap<String, String>, fallback: &str) -> LabelsDto {
    let get = |l: &str| map.get(l).or_else(|| map.get("en")).cloned().unwrap_or_else(|| fallback.to_string());
    LabelsDto { en: get("en"), fr: get("fr"), ar: get("ar") }
}

/// The office's partners.
pub fn partner_entries(store: &CaseStore) -> Result<Vec<PartnerEntry>, UiError> {
    Ok(partners::list(store)
        .map_err(partner_error)?
        .into_iter()
        .map(|p| PartnerEntry {
            on_paper: p.on_paper(),
            partner_id: p.partner_id.to_string(),
            name: p.name,
            country: p.country,
        })
        .collect())
}

/// The kinds of request.
pub fn kinds() -> Result<Vec<RequestKindEntry>, UiError> {
    let all = partner_kinds::kinds().map_err(|e| UiError::new(crate::errors::ShellCode::Internal, e))?;
    Ok(all
        .iter()
        .map(|k| RequestKindEntry {
            id: k.id.clone(),
            labels: labels(&k.labels, &k.id),
            needs_item: k.needs_item(),
            item_form: k.item_form.clone(),
            due_days: k.due_days,
            answer_form: k.answer_form.clone(),
            answer_fields: k.answer_fields.clone(),
        })
        .collect())
}

/// Exactly what a request would carry if sent today.
pub fn preview(store: &CaseStore, case: Uuid, kind: &str, item: Option<Uuid>) -> Result<RequestPreviewDto, UiError> {
    let p = pr::preview(store, case, kind, item, store.today()).map_err(request_error)?;
    Ok(RequestPreviewDto {
        kind: p.kind,
        due: p.due.to_string(),
        shared: shared_entries(p.shared),
        blocked_by: p.blocked_by.iter().map(ViolationDto::from).collect(),
    })
}

/// Send a request: to a partner with Fieldcase the bundle is written to
/// `out` (required); to one without, nothing is written and the text to
/// print comes back.
pub fn send(
    store: &mut CaseStore,
    case: Uuid,
    kind: &str,
    item: Option<Uuid>,
    partner: &str,
    out: Option<&std::path::Path>,
    progress: &mut dyn FnMut(Progress),
) -> Result<SentRequestDto, UiError> {
    let on_paper = partners::find(store, partner).map_err(partner_error)?.on_paper();
    match (on_paper, out) {
        (true, _) => {
            let s = pr::send(store, case, kind, item, partner, progress).map_err(request_error)?;
            Ok(SentRequestDto { request_id: s.request_id.to_string(), written: None, printout: s.printout })
        }
        (false, None) => {
            Err(UiError::new(crate::errors::ShellCode::NoPath, "choose where to write the request for the partner"))
        }
        (false, Some(out)) => {
            let mut id = None;
            let written = built_file(
                out,
                || {
                    let mut s = pr::send(store, case, kind, item, partner, progress)?;
                    id = Some(s.request_id);
                    Ok::<_, RequestError>(std::mem::take(&mut s.bundle))
                },
                request_error,
            )?;
            let id = id.ok_or_else(|| UiError::new(crate::errors::ShellCode::Internal, "no request was made"))?;
            Ok(SentRequestDto { request_id: id.to_string(), written: Some(written), printout: None })
        }
    }
}

/// The requests this office sent about `case`, with their status today.
pub fn case_requests(store: &CaseStore, case: Uuid) -> Result<Vec<CaseRequestEntry>, UiError> {
    let on_paper: std::collections::HashSet<String> =
        partners::list(store).map_err(partner_error)?.into_iter().filter(|p| p.on_paper()).map(|p| p.name).collect();
    let mut out: Vec<CaseRequestEntry> = pr::sent_requests(store, store.today())?
        .into_iter()
        .filter(|r| r.case_id == case)
        .map(|r| CaseRequestEntry {
            request_id: r.request_id.to_string(),
            on_paper: on_paper.contains(&r.partner),
            kind: r.kind,
            partner: r.partner,
            status: r.status,
            due: r.due,
            answer_mode: r.answer_mode,
        })
        .collect();
    out.sort_by(|a, b| (&a.due, &a.request_id).cmp(&(&b.due, &b.request_id)));
    Ok(out)
}

/// Withdraw a request: a bundle for a partner with Fieldcase (to `out`,
/// required), nothing for one without.
pub fn withdraw(
    store: &mut CaseStore,
    request: Uuid,
    reason: &str,
    out: Option<&std::path::Path>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Option<WrittenFile>, UiError> {
    let held = case_request(store, request)?;
    match (held.on_paper, out) {
        (true, _) => {
            pr::withdraw(store, request, reason, progress).map_err(request_error)?;
            Ok(None)
        }
        (false, None) => {
            Err(UiError::new(crate::errors::ShellCode::NoPath, "choose where to write the withdrawal for the partner"))
        }
        (false, Some(out)) => built_file(
            out,
            || pr::withdraw(store, request, reason, progress).map(Option::unwrap_or_default),
            request_error,
        )
        .map(Some),
    }
}

fn case_request(store: &CaseStore, request: Uuid) -> Result<CaseRequestEntry, UiError> {
    let sent = pr::sent_requests(store, store.today())?;
    let r = sent
        .into_iter()
        .find(|r| r.request_id == request)
        .ok_or_else(|| request_error(RequestError::UnknownRequest(request)))?;
    case_requests(store, r.case_id)?
        .into_iter()
        .find(|e| e.request_id == request.to_string())
        .ok_or_else(|| request_error(RequestError::UnknownRequest(request)))
}

/// Import a partner bundle (request, withdrawal, receipt or answer: the
/// library tells the kind). For a request, not on a dry run, the receipt is
/// written to `receipt` when given.
pub fn import(
    store: &mut CaseStore,
    bytes: &[u8],
    dry_run: bool,
    receipt: Option<&std::path::Path>,
    progress: &mut dyn FnMut(Progress),
) -> Result<PartnerImported, UiError> {
    let got = pr::import(store, bytes, dry_run, progress).map_err(request_error)?;
    let mut out = PartnerImported {
        what: String::new(),
        request_id: String::new(),
        partner: String::new(),
        case_id: None,
        author: None,
        due: None,
        no_change: false,
        dry_run,
        receipt: None,
    };
    match got {
        Imported::Request { request_id, partner, due, replay, .. } => {
            out.what = "request".into();
            out.request_id = request_id.to_string();
            out.partner = partner;
            out.due = Some(due);
            out.no_change = replay;
            if let (false, Some(path)) = (dry_run, receipt) {
                out.receipt = Some(built_file(path, || pr::receipt(store, request_id, progress), request_error)?);
            }
        }
        Imported::Withdrawn { request_id, partner, replay } => {
            out.what = "withdrawn".into();
            out.request_id = request_id.to_string();
            out.partner = partner;
            out.no_change = replay;
        }
        Imported::Receipt { request_id, case_id, partner, changed } => {
            out.what = "receipt".into();
            out.request_id = request_id.to_string();
            out.partner = partner;
            out.case_id = Some(case_id.to_string());
            out.no_change = !changed;
        }
        Imported::Answer { request_id, case_id, partner, author } => {
            out.what = "answer".into();
            out.request_id = request_id.to_string();
            out.partner = partner;
            out.case_id = Some(case_id.to_string());
            out.author = Some(author);
        }
    }
    Ok(out)
}

/// The requests received from partners, with their status today.
pub fn received(store: &CaseStore) -> Result<Vec<ReceivedRequestEntry>, UiError> {
    Ok(pr::received_requests(store, store.today())?
        .into_iter()
        .map(|r| ReceivedRequestEntry {
            request_id: r.request_id.to_string(),
            kind: r.kind,
            partner: r.partner,
            status: r.status,
            due: r.due,
            shared: shared_entries(r.shared),
            withheld: r.withheld.map(|w| w.code().to_string()),
            answer_form: r.answer_form,
            answer_fields: r.answer_fields,
        })
        .collect())
}

/// Every request still open on either side, with its due date, for the
/// calendar (the case tasks list a sent request only from a week before
/// its due date; the calendar shows them all).
pub fn calendar(store: &CaseStore) -> Result<Vec<PartnerDue>, UiError> {
    let today = store.today();
    let late = |due: &str| {
        chrono::NaiveDate::parse_from_str(due, "%Y-%m-%d").map_or(0, |d| (today - d).num_days().max(0)) as f64
    };
    let cases: std::collections::HashMap<Uuid, _> = store.list_cases()?.cases.into_iter().map(|c| (c.id, c)).collect();
    let mut out = Vec::new();
    for r in pr::sent_requests(store, today)? {
        if !pr::is_open_status(&r.status) {
            continue;
        }
        let case = cases.get(&r.case_id);
        out.push(PartnerDue {
            request_id: r.request_id.to_string(),
            side: "sent".into(),
            case_id: Some(r.case_id.to_string()),
            case_number: case.map(|c| c.case_number.clone()),
            child_name: case.map(|c| {
                [c.given_names.as_deref(), c.family_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ")
            }),
            caseworker: case.and_then(|c| c.caseworker.clone()),
            overdue_days: if r.status == "overdue" { late(&r.due) } else { 0.0 },
            kind: r.kind,
            partner: r.partner,
            status: r.status,
            due: r.due,
        });
    }
    for r in pr::received_requests(store, today)? {
        if !pr::is_open_status(&r.status) {
            continue;
        }
        out.push(PartnerDue {
            request_id: r.request_id.to_string(),
            side: "received".into(),
            case_id: None,
            case_number: None,
            child_name: None,
            caseworker: None,
            overdue_days: if r.status == "overdue" { late(&r.due) } else { 0.0 },
            kind: r.kind,
            partner: r.partner,
            status: r.status,
            due: r.due,
        });
    }
    out.sort_by(|a, b| (&a.due, &a.request_id).cmp(&(&b.due, &b.request_id)));
    Ok(out)
}

fn values_of(values: Value) -> Result<Map<String, Value>, UiError> {
    match values {
        Value::Object(m) => Ok(m),
        _ => Err(bad_input("the answer must be an object of field values")),
    }
}

// ------------------------------------------------------------------ commands

/// The office's partners.
#[tauri::command]
pub async fn partner_list(session: State<'_, Session>) -> Result<Vec<PartnerEntry>, UiError> {
    session.with_store(|s| partner_entries(s))
}

/// The kinds of request.
#[tauri::command]
pub async fn partner_kinds() -> Result<Vec<RequestKindEntry>, UiError> {
    kinds()
}

/// Exactly what a request of `kind` about `case` (and record `about`) shares.
#[tauri::command]
pub async fn partner_preview(
    session: State<'_, Session>,
    case: String,
    kind: String,
    about: Option<String>,
) -> Result<RequestPreviewDto, UiError> {
    let case = parse_uuid(&case, "case")?;
    let about = about.as_deref().map(|a| parse_uuid(a, "record")).transpose()?;
    session.with_store(|s| preview(s, case, &kind, about))
}

/// Send a request (the bundle to `path` for a partner with Fieldcase).
#[tauri::command]
pub async fn partner_send(
    session: State<'_, Session>,
    case: String,
    kind: String,
    about: Option<String>,
    partner: String,
    path: Option<String>,
    progress: Channel<SyncProgress>,
) -> Result<SentRequestDto, UiError> {
    let case = parse_uuid(&case, "case")?;
    let about = about.as_deref().map(|a| parse_uuid(a, "record")).transpose()?;
    let out = path.filter(|p| !p.trim().is_empty()).map(|p| absolute(&p)).transpose()?;
    session.with_store(|s| send(s, case, &kind, about, &partner, out.as_deref(), &mut reporter(&progress)))
}

/// The requests sent about a case.
#[tauri::command]
pub async fn partner_case_requests(
    session: State<'_, Session>,
    case: String,
) -> Result<Vec<CaseRequestEntry>, UiError> {
    let case = parse_uuid(&case, "case")?;
    session.with_store(|s| case_requests(s, case))
}

/// Withdraw a request (the bundle to `path` for a partner with Fieldcase).
#[tauri::command]
pub async fn partner_withdraw(
    session: State<'_, Session>,
    request: String,
    reason: String,
    path: Option<String>,
    progress: Channel<SyncProgress>,
) -> Result<Option<WrittenFile>, UiError> {
    let request = parse_uuid(&request, "request")?;
    let out = path.filter(|p| !p.trim().is_empty()).map(|p| absolute(&p)).transpose()?;
    session.with_store(|s| withdraw(s, request, &reason, out.as_deref(), &mut reporter(&progress)))
}

/// Record by hand an answer that came on paper (or another way).
#[tauri::command]
pub async fn partner_record_answer(
    session: State<'_, Session>,
    request: String,
    by: String,
    values: Value,
) -> Result<(), UiError> {
    let request = parse_uuid(&request, "request")?;
    let values = values_of(values)?;
    session.with_store(|s| pr::record_by_hand(s, request, &by, values).map_err(request_error))
}

/// Import a partner bundle; for a request, write its receipt to `receipt`.
#[tauri::command]
pub async fn partner_import(
    session: State<'_, Session>,
    path: String,
    dry_run: bool,
    receipt: Option<String>,
    progress: Channel<SyncProgress>,
) -> Result<PartnerImported, UiError> {
    let bytes = read_limited(&absolute(&path)?, MAX_BUNDLE_FILE)?;
    let receipt = receipt.filter(|p| !p.trim().is_empty()).map(|p| absolute(&p)).transpose()?;
    session.with_store(|s| import(s, &bytes, dry_run, receipt.as_deref(), &mut reporter(&progress)))
}

/// The requests received from partners.
#[tauri::command]
pub async fn partner_received(session: State<'_, Session>) -> Result<Vec<ReceivedRequestEntry>, UiError> {
    session.with_store(|s| received(s))
}

/// Open requests on either side, for the calendar.
#[tauri::command]
pub async fn partner_calendar(session: State<'_, Session>) -> Result<Vec<PartnerDue>, UiError> {
    session.with_store(|s| calendar(s))
}

/// Answer a received request; the signed answer is written to `path`.
#[tauri::command]
pub async fn partner_answer(
    session: State<'_, Session>,
    request: String,
    values: Value,
    path: String,
    progress: Channel<SyncProgress>,
) -> Result<WrittenFile, UiError> {
    let request = parse_uuid(&request, "request")?;
    let values = values_of(values)?;
    let out = absolute(&path)?;
    session.with_store(|s| built_file(&out, || pr::answer(s, request, values, &mut reporter(&progress)), request_error))
}

/// Write again the receipt of a received request.
#[tauri::command]
pub async fn partner_receipt(
    session: State<'_, Session>,
    request: String,
    path: String,
    progress: Channel<SyncProgress>,
) -> Result<WrittenFile, UiError> {
    let request = parse_uuid(&request, "request")?;
    let out = absolute(&path)?;
    session.with_store(|s| built_file(&out, || pr::receipt(s, request, &mut reporter(&progress)), request_error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::values;
    use fieldcase::model::event::Role;
    use fieldcase::sync;
    use fieldcase::vault::{InitOptions, SecretString, VaultOptions};
    use serde_json::json;
    use std::path::Path;

    fn pass() -> SecretString {
        SecretString::from("partner screen test passphrase".to_string())
    }

    fn office(dir: &Path, name: &str) -> CaseStore {
        let options = VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() };
        let opts = InitOptions { name: format!("{name} office"), role: "data_manager".into(), escrow: None };
        let mut o = CaseStore::init_with(dir, &pass(), opts, &options).expect("init");
        sync::make_office(&mut o, name).expect("make office");
        o
    }

    fn add(of: &mut CaseStore, other: &CaseStore, name: &str) {
        let c = partners::card(other).unwrap();
        partners::add(of, name, "SDN", &c.recipient, &c.signing_key, &c.fingerprint).expect("add partner");
    }

    /// A caseworker on office A's vault with a case about one relative,
    /// its consent covering `scopes`.
    fn case_on(a: &mut CaseStore, scopes: Value) -> (Uuid, Uuid) {
        let theirs = SecretString::from("quarry lantern amina velvet orbit".to_string());
        a.add_person("amina", Role::Caseworker, &theirs).expect("add person");
        a.switch_person("amina", &theirs).expect("switch");
        let c = a.create_case("uasc", "Agadez").unwrap();
        a.save_form(
            c,
            "registration_bia",
            None,
            values(json!({"given_names": "Fatima", "family_name": "Haroun", "wants_tracing": "yes",
                "legitimate_basis": "consent", "fears_about_return": "disclosure-marker",
                "consent": {"by": "Fatima", "method": "signature", "date": "2026-01-10"},
                "consent_scopes": scopes})),
        )
        .unwrap();
        let relative = Uuid::new_v4();
        a.save_form(
            c,
            "family_tracing",
            Some(relative),
            values(json!({"relative": {"name": "Amina Idris"}, "relationship": "mother",
                "last_known_location": "Nyala", "child_consents_contact": true,
                "tracing_status": "family_located", "tracing_safety_check": "safe"})),
        )
        .unwrap();
        (c, relative)
    }

    #[test]
    fn a_family_assessment_goes_out_is_received_answered_and_imported_through_the_commands() {
        let t = tempfile::tempdir().unwrap();
        let mut a = office(&t.path().join("a"), "Agadez");
        let mut b = office(&t.path().join("b"), "Nyala");
        add(&mut a, &b, "Nyala office");
        add(&mut b, &a, "Agadez office");
        // B's supervisor reads what a request carries (its data manager
        // sees metadata only) and answers.
        let omar = SecretString::from("quarry lantern omar velvet orbit".to_string());
        b.add_person("omar", Role::Supervisor, &omar).expect("add person");
        b.switch_person("omar", &omar).expect("switch");
        let (case, relative) =
            case_on(&mut a, json!(["case_management", "cross_border_transfer", "tracing_disclosure"]));
        let quiet = &mut |_: Progress| {};

        let kind = kinds().unwrap().into_iter().find(|k| k.id == "family_assessment").expect("kind");
        assert!(kind.needs_item && !kind.labels.fr.is_empty() && !kind.labels.ar.is_empty());
        let p = preview(&a, case, "family_assessment", Some(relative)).expect("preview");
        assert!(p.blocked_by.is_empty(), "{:?}", p.blocked_by);
        assert!(p.shared.iter().any(|s| s.value == json!({"name": "Amina Idris"})));
        assert!(!p.shared.iter().any(|s| s.field == "fears_about_return"), "only the kind's fields");
        assert!(p.shared.iter().all(|s| s.field_label.is_some()), "every shared field has its label");
        // A value-list code is shown by its labels, a name as it is.
        let relationship = p.shared.iter().find(|s| s.field == "relationship").expect("relationship shared");
        assert_eq!(relationship.value, json!("mother"));
        assert_eq!(relationship.display, json!({"$label": {"en": "Mother", "fr": "Mère", "ar": "الأم"}}));
        let named = p.shared.iter().find(|s| s.field == "relative").expect("relative shared");
        assert_eq!(named.display, named.value);

        // A partner with Fieldcase needs a file; then the bundle is written.
        let e = send(&mut a, case, "family_assessment", Some(relative), "Nyala office", None, quiet).unwrap_err();
        assert_eq!(e.code, "no_path");
        let out = t.path().join("req.fcb");
        let sent =
            send(&mut a, case, "family_assessment", Some(relative), "Nyala office", Some(&out), quiet).expect("send");
        assert!(sent.printout.is_none() && sent.written.as_ref().is_some_and(|w| w.bytes > 0));
        let list = case_requests(&a, case).unwrap();
        assert_eq!((list.len(), list[0].status.as_str(), list[0].on_paper), (1, "sent", false));

        // B: the request (dry run first), its receipt, the task, the answer.
        let bytes = std::fs::read(&out).unwrap();
        let dry = import(&mut b, &bytes, true, None, quiet).expect("dry run");
        assert!(dry.dry_run && dry.receipt.is_none() && dry.what == "request");
        assert!(received(&b).unwrap().is_empty(), "a dry run keeps nothing");
        let rcpt = t.path().join("rcpt.fcb");
        let got = import(&mut b, &bytes, false, Some(&rcpt), quiet).expect("request import");
        assert_eq!((got.what.as_str(), got.partner.as_str()), ("request", "Agadez office"));
        assert!(got.receipt.is_some() && rcpt.exists());
        let inbox = received(&b).unwrap();
        assert_eq!((inbox.len(), inbox[0].status.as_str()), (1, "received"));
        assert_eq!(inbox[0].shared.len(), p.shared.len());
        let due = calendar(&b).unwrap();
        assert_eq!((due.len(), due[0].side.as_str(), due[0].case_id.as_ref()), (1, "received", None));
        let ans = t.path().join("ans.fcb");
        let bad = values(json!({"fears_about_return": "x"}));
        let e = built_file(&ans, || pr::answer(&mut b, sent_id(&sent), bad, quiet), request_error).unwrap_err();
        assert_eq!(e.code, "partner_invalid");
        let answer = values(json!({"willingness": "yes", "assessment_date": "2026-02-01"}));
        built_file(&ans, || pr::answer(&mut b, sent_id(&sent), answer, quiet), request_error).expect("answer");

        // A: the receipt, then the answer; the case's list follows.
        let r = import(&mut a, &std::fs::read(&rcpt).unwrap(), false, None, quiet).expect("receipt");
        assert_eq!((r.what.as_str(), r.no_change), ("receipt", false));
        assert_eq!(case_requests(&a, case).unwrap()[0].status, "received");
        let due = calendar(&a).unwrap();
        assert_eq!(due.len(), 1, "the calendar holds the request, due in a month");
        assert_eq!((due[0].side.as_str(), due[0].status.as_str()), ("sent", "received"));
        assert_eq!(due[0].child_name.as_deref(), Some("Fatima Haroun"));
        assert_eq!(due[0].case_id.as_deref(), Some(case.to_string().as_str()));
        let e = import(&mut a, &std::fs::read(&rcpt).unwrap(), false, None, quiet).unwrap_err();
        assert_eq!(e.code, "partner_replay");
        let r = import(&mut a, &std::fs::read(&ans).unwrap(), false, None, quiet).expect("answer import");
        assert_eq!((r.what.as_str(), r.author.as_deref()), ("answer", Some("omar")));
        let list = case_requests(&a, case).unwrap();
        assert_eq!((list[0].status.as_str(), list[0].answer_mode.as_deref()), ("answered", Some("fieldcase")));
        assert!(calendar(&a).unwrap().is_empty(), "an answered request leaves the calendar");
        assert!(calendar(&b).unwrap().is_empty(), "so does one B answered");
    }

    fn sent_id(s: &SentRequestDto) -> Uuid {
        s.request_id.parse().unwrap()
    }

    #[test]
    fn a_request_on_paper_comes_back_as_text_and_its_answer_is_recorded_by_hand() {
        let t = tempfile::tempdir().unwrap();
        let mut a = office(&t.path().join("a"), "Agadez");
        partners::add_on_paper(&mut a, "Abeche social services", "TCD").unwrap();
        let (case, relative) =
            case_on(&mut a, json!(["case_management", "cross_border_transfer", "tracing_disclosure"]));
        let quiet = &mut |_: Progress| {};
        let sent = send(&mut a, case, "family_assessment", Some(relative), "Abeche social services", None, quiet)
            .expect("send");
        let text = sent.printout.expect("a printout");
        assert!(text.starts_with(pr::PLAINTEXT_NOTICE) && text.contains("Amina Idris"));
        assert!(sent.written.is_none());
        let list = case_requests(&a, case).unwrap();
        assert!(list[0].on_paper);
        let e = withdraw(&mut a, sent_id_str(&list[0].request_id), " ", None, quiet).unwrap_err();
        assert_eq!(e.code, "partner_invalid");
        let id = sent_id_str(&list[0].request_id);
        pr::record_by_hand(&mut a, id, "M. Osman", values(json!({"willingness": "no"})))
            .map_err(request_error)
            .unwrap();
        let list = case_requests(&a, case).unwrap();
        assert_eq!((list[0].status.as_str(), list[0].answer_mode.as_deref()), ("answered", Some("by_hand")));
    }

    fn sent_id_str(s: &str) -> Uuid {
        s.parse().unwrap()
    }

    #[test]
    fn a_request_refused_by_a_rule_names_it() {
        let t = tempfile::tempdir().unwrap();
        let mut a = office(&t.path().join("a"), "Agadez");
        let b = office(&t.path().join("b"), "Nyala");
        add(&mut a, &b, "Nyala office");
        let (case, relative) = case_on(&mut a, json!(["case_management"]));
        let p = preview(&a, case, "family_assessment", Some(relative)).unwrap();
        assert!(p.blocked_by.iter().any(|v| v.rule == "R4"));
        let out = t.path().join("req.fcb");
        let e = send(&mut a, case, "family_assessment", Some(relative), "Nyala office", Some(&out), &mut |_| {})
            .unwrap_err();
        assert_eq!(e.code, "partner_rules");
        assert!(e.violations.iter().any(|v| v.rule == "R4"));
        assert!(!out.exists(), "nothing written for a refused request");
    }
}
