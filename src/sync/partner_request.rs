//! Requests to a partner abroad and their answers (docs/bundle-format.md
//! §11): the case stays with the requesting office, and the partner gets
//! only the fields the kind of request names.
//!
//! Requesting office: [`preview`] shows exactly what a request would carry
//! (the same function builds it), [`send`] writes the `partner_request`
//! bundle and records the request in the case, [`withdraw`] tells the
//! partner to delete it, [`import`] takes an answer into the case and
//! [`record_by_hand`] records the answer of a partner without Fieldcase.
//!
//! Partner office: [`import`] keeps a request (or erases one withdrawn),
//! [`receipt`] writes the acknowledgement the requester imports (status
//! `received`), [`received_requests`] lists them as tasks, [`answer`]
//! writes the signed answer.
//!
//! Both sides are office vaults: the bundles are signed by the office key,
//! and each office accepts them only from a partner in its list (§11.1).

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::model::error::StoreError;
use crate::model::event::{parse_verifying_key, Role};
use crate::model::lifecycle::RuleViolation;
use crate::model::partner_kinds::{self, RequestKind, SharedValue, REQUEST_FORM};
use crate::model::roles::{self, Action};
use crate::model::store::CaseStore;
use crate::sync::error::ImportError;
use crate::sync::exchange::{self, now_rfc3339, put, state_get, SyncError};
use crate::sync::format::{self, BundleHead, BundleKind, BundleSource, OpenedBundle, Progress};
use crate::sync::partners::{self, Partner};
use crate::sync::roster::age_recipient;

/// `format` of a request's `partner.json`.
pub const REQUEST_FORMAT: &str = "fieldcase-partner-request";
/// `format` of an answer's `partner.json`.
pub const ANSWER_FORMAT: &str = "fieldcase-partner-answer";
/// `format` of a withdrawal's `partner.json`.
pub const WITHDRAWAL_FORMAT: &str = "fieldcase-partner-withdrawal";
/// `format` of a receipt's `partner.json`.
pub const RECEIPT_FORMAT: &str = "fieldcase-partner-receipt";
const P_OUT: &str = "partner_out/";
const P_IN: &str = "partner_in/";
const P_SEEN: &str = "seen/";

/// Why a request, an answer or a withdrawal could not be made or taken in.
/// On any of these the vault is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// A rule refuses the request: R4 (consent) or R8 (tracing safety).
    #[error("the request is refused: {}", .0.iter().map(|v| format!("{}: {}", v.rule, v.message)).collect::<Vec<_>>().join("; "))]
    Rules(Vec<RuleViolation>),
    /// No such kind of request.
    #[error("unknown kind of request {0:?}; the kinds are {1}")]
    UnknownKind(String, String),
    /// A bad argument or value (an answer field the kind does not carry,
    /// an invalid value, a record the case does not have).
    #[error("{0}")]
    Invalid(String),
    /// This vault has no request with this id.
    #[error("no request {0} here: it was not sent from (or received by) this office")]
    UnknownRequest(Uuid),
    /// The request was answered already.
    #[error("request {0} was already answered; an answer is taken once")]
    AlreadyAnswered(Uuid),
    /// The request was withdrawn.
    #[error("request {0} was withdrawn; nothing more is taken for it")]
    Withdrawn(Uuid),
    /// This answer was imported before.
    #[error("this answer (bundle {0}) was imported before: a copy is not taken again")]
    Replay(Uuid),
    /// The answer comes from another partner than the one asked.
    #[error("this answer is signed by {signer}, but request {request} was sent to {asked}: refused")]
    WrongPartner {
        /// The request.
        request: Uuid,
        /// Who signed the answer.
        signer: String,
        /// Who was asked.
        asked: String,
    },
    /// The person recording may not do this.
    #[error("a {0} may not send or answer requests to partners")]
    Role(Role),
    /// The partner is unknown (or the list cannot be read).
    #[error(transparent)]
    Partner(#[from] crate::sync::partners::PartnerError),
    /// The bundle was refused.
    #[error("partner bundle refused, nothing was changed: {0}")]
    Refused(#[from] ImportError),
    /// Sync or vault failure.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// The request cannot be set as PDF (nothing was recorded).
    #[error(transparent)]
    Pdf(#[from] crate::sync::printout_pdf::PdfError),
}

// Each refusal's stable code for the interfaces (crate::codes); the rules
// a request breaks travel beside the code, each with its own.
crate::error_codes! { RequestError {
    nested {
        RequestError::Partner(p) => p: crate::sync::partners::PartnerError;
        RequestError::Refused(i) => i: ImportError;
        RequestError::Sync(s) => s: SyncError;
        RequestError::Pdf(p) => p: crate::sync::printout_pdf::PdfError;
    }
    RequestError::Rules(_) => "partner_rules";
    RequestError::UnknownKind(kind, _) => "partner_unknown_kind" { kind };
    RequestError::Invalid(reason) => "partner_invalid" { reason };
    RequestError::UnknownRequest(request) => "partner_unknown_request" { request };
    RequestError::AlreadyAnswered(request) => "partner_already_answered" { request };
    RequestError::Withdrawn(request) => "partner_withdrawn" { request };
    RequestError::Replay(_) => "partner_replay";
    RequestError::WrongPartner { signer, asked, .. } => "partner_wrong_partner" { signer, asked };
    RequestError::Role(role) => "forbidden" { role = role.as_str() };
} }

impl From<StoreError> for RequestError {
    fn from(e: StoreError) -> RequestError {
        RequestError::Sync(SyncError::Store(e))
    }
}

/// Who sent a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSender {
    /// The requesting office.
    pub office_id: Uuid,
    /// Its name.
    pub office_name: String,
    /// The person who sent it.
    pub user: String,
    /// Their role.
    pub role: Role,
}

/// A request's `partner.json` (§11.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestDoc {
    /// Always [`REQUEST_FORMAT`].
    pub format: String,
    /// 1.
    pub version: u32,
    /// The request.
    pub request_id: Uuid,
    /// Its kind.
    pub kind: String,
    /// Who sent it.
    pub from: RequestSender,
    /// When (RFC 3339).
    pub sent_at: String,
    /// Answer due (YYYY-MM-DD).
    pub due: String,
    /// The form of the answer's fields.
    pub answer_form: String,
    /// The fields the answer may carry.
    pub answer_fields: Vec<String>,
    /// The values shared, only the kind's.
    pub shared: Vec<SharedValue>,
}

/// Who answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Author {
    /// User name at the partner.
    pub user: String,
    /// Their role there.
    pub role: Role,
}

/// An answer's `partner.json` (§11.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerDoc {
    /// Always [`ANSWER_FORMAT`].
    pub format: String,
    /// 1.
    pub version: u32,
    /// The request answered.
    pub request_id: Uuid,
    /// Who answered.
    pub author: Author,
    /// When (RFC 3339).
    pub answered_at: String,
    /// The answer's values (the kind's answer fields only).
    pub values: Map<String, Value>,
}

/// A withdrawal's `partner.json` (§11.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalDoc {
    /// Always [`WITHDRAWAL_FORMAT`].
    pub format: String,
    /// 1.
    pub version: u32,
    /// The request withdrawn.
    pub request_id: Uuid,
    /// Why.
    pub reason: String,
}

/// A receipt's `partner.json` (§11.7): the partner holds the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptDoc {
    /// Always [`RECEIPT_FORMAT`].
    pub format: String,
    /// 1.
    pub version: u32,
    /// The request received.
    pub request_id: Uuid,
    /// The bundle id of the request bundle the partner decrypted.
    pub request_bundle: Uuid,
    /// When the partner imported it (RFC 3339).
    pub received_at: String,
}

/// The requesting office's record of a request, in `sync_state`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct OutRecord {
    case_id: Uuid,
    kind: String,
    partner_id: Uuid,
    partner_name: String,
    partner_key: String,
    bundle_id: Uuid,
    /// `sending` (bundle built, not yet recorded in the case), `sent`,
    /// `received` (the partner's receipt imported), `answered`,
    /// `withdrawn`.
    status: String,
    due: String,
    #[serde(default)]
    answer_mode: Option<String>,
}

/// The partner's record of a request it received, in `sync_state`. After a
/// withdrawal only the tombstone fields are kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct InRecord {
    kind: String,
    partner_id: Uuid,
    partner_name: String,
    partner_key: String,
    /// `received`, `answered`, `withdrawn`.
    status: String,
    received_at: String,
    due: String,
    #[serde(default)]
    request: Option<RequestDoc>,
    #[serde(default)]
    answer: Option<Map<String, Value>>,
    #[serde(default)]
    withdrawn_at: Option<String>,
    /// The request bundle's id, which a receipt names (absent in records
    /// kept before receipts, format 1.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bundle_id: Option<Uuid>,
}

/// What a request of a kind about a case would carry, and what refuses it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestPreview {
    /// The kind.
    pub kind: String,
    /// Its label.
    pub label: String,
    /// The answer due date if sent on the day given.
    pub due: NaiveDate,
    /// The values it would carry, exactly.
    pub shared: Vec<SharedValue>,
    /// The rules that refuse it now (empty: it may be sent).
    pub blocked_by: Vec<RuleViolation>,
}

fn kind_of(id: &str) -> Result<&'static RequestKind, RequestError> {
    let all = partner_kinds::kinds().map_err(RequestError::Invalid)?;
    all.iter().find(|k| k.id == id).ok_or_else(|| {
        RequestError::UnknownKind(id.to_string(), all.iter().map(|k| k.id.as_str()).collect::<Vec<_>>().join(", "))
    })
}

/// What a request of `kind` about `case` (and, for kinds about a relative,
/// its tracing record `item`) would carry if sent on `today`, and the rules
/// that refuse it. Only for a case the person may open.
pub fn preview(
    store: &CaseStore,
    case: Uuid,
    kind: &str,
    item: Option<Uuid>,
    today: NaiveDate,
) -> Result<RequestPreview, RequestError> {
    store.require_record(case)?;
    let k = kind_of(kind)?;
    let facts = store.facts(case)?;
    let shared = partner_kinds::shared_values(&facts, k, item).map_err(RequestError::Invalid)?;
    // Need-to-know (docs/visibility.md): only someone who may read every
    // value a request carries sees it here or sends it; a data manager,
    // who sees case metadata only, does neither.
    let reader = store.reader();
    if let Some(reason) = shared.iter().find_map(|s| reader.field(&s.form, &s.field, false).err()) {
        return Err(StoreError::Hidden { case: case.to_string(), reason }.into());
    }
    Ok(RequestPreview {
        kind: k.id.clone(),
        label: k.label().to_string(),
        due: today + Days::new(u64::from(k.due_days)),
        shared,
        blocked_by: partner_kinds::consent_violations(&facts, k, item),
    })
}

fn may_exchange(store: &CaseStore) -> Result<(), RequestError> {
    let role = store.actor().1;
    if roles::may(role, Action::RecordCaseData) || roles::may(role, Action::Transfer) {
        Ok(())
    } else {
        Err(RequestError::Role(role))
    }
}

/// A request just sent.
#[derive(Debug)]
pub struct Sent {
    /// Its id (also the id of its `partner_request` record in the case).
    pub request_id: Uuid,
    /// What it carries.
    pub preview: RequestPreview,
    /// The bundle for the partner (empty for a partner without Fieldcase).
    pub bundle: Vec<u8>,
    /// For a partner without Fieldcase: the request as text to print, with
    /// the plaintext notice (no bundle is made).
    pub printout: Option<String>,
    /// The same as PDF, when asked for ([`send_printed_pdf`]).
    pub pdf: Option<Vec<u8>>,
}

/// Requesting office: send a request of `kind` about `case` to `partner`
/// (its id or name in the partner list). Refused, with the rule named,
/// without the consent the kind needs (R4) or a safe tracing check (R8).
/// The bundle carries exactly [`preview`]'s values, is signed by the
/// office and encrypted to the partner only; the request is recorded in the
/// case (`partner_request`, status `sent`, due date).
pub fn send(
    store: &mut CaseStore,
    case: Uuid,
    kind: &str,
    item: Option<Uuid>,
    partner: &str,
    progress: &mut dyn FnMut(Progress),
) -> Result<Sent, RequestError> {
    send_rendered(store, case, kind, item, partner, progress, |_| Ok(None))
}

/// [`send`] to a partner without Fieldcase, with the printed request as PDF
/// too ([`crate::sync::printout_pdf`]). The PDF is made before the request
/// is recorded: a request that cannot be set as PDF (a script the PDF's
/// font lacks) is refused and nothing is recorded.
pub fn send_printed_pdf(
    store: &mut CaseStore,
    case: Uuid,
    kind: &str,
    item: Option<Uuid>,
    partner: &str,
) -> Result<Sent, RequestError> {
    if !partners::find(store, partner)?.on_paper() {
        return Err(RequestError::Invalid(format!("{partner} runs Fieldcase: it receives a bundle, not a printout")));
    }
    send_rendered(store, case, kind, item, partner, &mut |_| {}, |text| {
        Ok(Some(crate::sync::printout_pdf::request_pdf(text)?))
    })
}

fn send_rendered(
    store: &mut CaseStore,
    case: Uuid,
    kind: &str,
    item: Option<Uuid>,
    partner: &str,
    progress: &mut dyn FnMut(Progress),
    render: impl FnOnce(&str) -> Result<Option<Vec<u8>>, RequestError>,
) -> Result<Sent, RequestError> {
    let office = exchange::office_roster(store)?;
    may_exchange(store)?;
    let partner = partners::find(store, partner)?;
    let today = store.today();
    let preview = preview(store, case, kind, item, today)?;
    if !preview.blocked_by.is_empty() {
        return Err(RequestError::Rules(preview.blocked_by));
    }
    if !store.facts(case)?.stage.is_open() {
        return Err(RequestError::Invalid(format!("case {case} is not open: no request can be sent for it")));
    }
    let k = kind_of(kind)?;
    let request_id = Uuid::new_v4();
    let (user, role) = store.actor();
    let user = user.to_string();
    let doc = RequestDoc {
        format: REQUEST_FORMAT.into(),
        version: 1,
        request_id,
        kind: k.id.clone(),
        from: RequestSender {
            office_id: office.roster.office_id,
            office_name: office.roster.office_name.clone(),
            user: user.clone(),
            role,
        },
        sent_at: now_rfc3339(),
        due: preview.due.to_string(),
        answer_form: k.answer_form.clone(),
        answer_fields: k.answer_fields.clone(),
        shared: preview.shared.clone(),
    };
    let doc_bytes = serde_json::to_vec_pretty(&doc).map_err(|e| SyncError::Build(e.to_string()))?;
    let mut record = OutRecord {
        case_id: case,
        kind: k.id.clone(),
        partner_id: partner.partner_id,
        partner_name: partner.name.clone(),
        partner_key: partner.signing_key.clone(),
        bundle_id: Uuid::nil(),
        status: "sending".into(),
        due: doc.due.clone(),
        answer_mode: None,
    };
    let key = format!("{P_OUT}{request_id}");
    // The bundle first (its commit holds the sender's sequence and a
    // `sending` record), then the case record: if that is refused the
    // bundle is dropped and never leaves this function.
    let (bundle, bundle_id) = if partner.on_paper() {
        (Vec::new(), Uuid::nil())
    } else {
        let pending = record.clone();
        let key = key.clone();
        document_bundle(
            store,
            BundleKind::PartnerRequest,
            &partner.recipient,
            &doc_bytes,
            move |id| vec![put(&key, json!(OutRecord { bundle_id: id, ..pending }))],
            progress,
        )?
    };
    record.bundle_id = bundle_id;
    record.status = "sent".into();
    let mut values = Map::new();
    values.insert("request_id".into(), json!(request_id.to_string()));
    values.insert("request_kind".into(), json!(k.id));
    values.insert("partner".into(), json!(partner.name));
    values.insert("partner_country".into(), json!(partner.country));
    values.insert("request_status".into(), json!("sent"));
    values.insert("sent_date".into(), json!(today.to_string()));
    values.insert("due_date".into(), json!(doc.due));
    values.insert("sent_by".into(), json!({"name": user, "role": role.to_string()}));
    values.insert(
        "shared_fields".into(),
        json!(preview.shared.iter().map(|s| format!("{}.{}", s.form, s.field)).collect::<Vec<_>>()),
    );
    if let Some(item) = item {
        values.insert("about_item".into(), json!(item.to_string()));
    }
    let printout = partner.on_paper().then(|| printout(&doc, k, &partner));
    let pdf = match &printout {
        Some(text) => render(text)?,
        None => None,
    };
    let mut b = store.batch();
    b.save_form(case, REQUEST_FORM, Some(request_id), values)?;
    b.commit_with(vec![put(&key, json!(record))])?;
    Ok(Sent { request_id, preview, bundle, printout, pdf })
}

/// The notice at the head of a printed request: it is the one copy of case
/// data that leaves the vault unencrypted.
pub const PLAINTEXT_NOTICE: &str = "CONFIDENTIAL - PLAIN TEXT: this page holds personal data of a child. Hand it over in person or by a secure channel, keep it locked away, and destroy it once the request is answered or withdrawn.";

fn label(form: &str, field: &str) -> String {
    crate::model::forms::registry()
        .get(form)
        .and_then(|d| d.field(field))
        .map_or_else(|| format!("{form}.{field}"), |f| f.labels.en.clone())
}

/// A request as text for a partner without Fieldcase (docs/bundle-format.md
/// §11.4, "By hand"): the notice, what is asked, the shared values, and the
/// fields to answer.
fn printout(doc: &RequestDoc, kind: &RequestKind, partner: &Partner) -> String {
    let mut out = format!("{PLAINTEXT_NOTICE}\n\n");
    out.push_str(&format!("Request {} from {} to {}\n", doc.request_id, doc.from.office_name, partner.name));
    out.push_str(&format!("{}: please answer by {}\n\nWhat we share for this request:\n", kind.label(), doc.due));
    for s in &doc.shared {
        let v = match &s.value {
            Value::String(t) => t.clone(),
            other => other.to_string(),
        };
        out.push_str(&format!("  {}: {v}\n", label(&s.form, &s.field)));
    }
    out.push_str("\nPlease answer:\n");
    for f in &doc.answer_fields {
        out.push_str(&format!("  {}: ____________________\n", label(&doc.answer_form, f)));
    }
    out.push_str(&format!("\nQuote the request number {} in your answer.\n", doc.request_id));
    out
}

fn out_record(store: &CaseStore, request: Uuid) -> Result<OutRecord, RequestError> {
    state_get(store, &format!("{P_OUT}{request}"))?
        .and_then(|v| serde_json::from_value::<OutRecord>(v).ok())
        .filter(|r| r.status != "sending")
        .ok_or(RequestError::UnknownRequest(request))
}

fn open_out(record: &OutRecord, request: Uuid) -> Result<(), RequestError> {
    match record.status.as_str() {
        "answered" => Err(RequestError::AlreadyAnswered(request)),
        "withdrawn" => Err(RequestError::Withdrawn(request)),
        _ => Ok(()),
    }
}

/// Requesting office: withdraw a request not yet answered. Records the
/// withdrawal in the case and returns the bundle telling the partner to
/// delete what it received (none for a partner without Fieldcase: tell it
/// to destroy the printout).
pub fn withdraw(
    store: &mut CaseStore,
    request: Uuid,
    reason: &str,
    progress: &mut dyn FnMut(Progress),
) -> Result<Option<Vec<u8>>, RequestError> {
    exchange::office_roster(store)?;
    may_exchange(store)?;
    let mut record = out_record(store, request)?;
    open_out(&record, request)?;
    if reason.trim().is_empty() {
        return Err(RequestError::Invalid("a withdrawal gives its reason".into()));
    }
    store.require_record(record.case_id)?;
    let bundle = if record.partner_key.is_empty() {
        None
    } else {
        // The partner as listed now (its recipient may have been renewed).
        let partner = partners::by_key(store, &record.partner_key)?
            .ok_or_else(|| RequestError::Invalid(format!("{} is no longer a partner", record.partner_name)))?;
        let doc = WithdrawalDoc {
            format: WITHDRAWAL_FORMAT.into(),
            version: 1,
            request_id: request,
            reason: reason.to_string(),
        };
        let doc_bytes = serde_json::to_vec_pretty(&doc).map_err(|e| SyncError::Build(e.to_string()))?;
        let (bundle, _) = document_bundle(
            store,
            BundleKind::PartnerWithdrawal,
            &partner.recipient,
            &doc_bytes,
            |_| Vec::new(),
            progress,
        )?;
        Some(bundle)
    };
    record.status = "withdrawn".into();
    let mut values = Map::new();
    values.insert("request_status".into(), json!("withdrawn"));
    values.insert("withdrawn_date".into(), json!(store.today().to_string()));
    values.insert("withdrawal_reason".into(), json!(reason));
    let mut b = store.batch();
    b.save_form(record.case_id, REQUEST_FORM, Some(request), values)?;
    b.commit_with(vec![put(&format!("{P_OUT}{request}"), json!(record))])?;
    Ok(bundle)
}

/// Requesting office: record by hand the answer of a partner that does not
/// run Fieldcase (a paper or e-mail answer). Marked `by_hand`: no signature
/// vouches for it.
pub fn record_by_hand(
    store: &mut CaseStore,
    request: Uuid,
    answered_by: &str,
    values: Map<String, Value>,
) -> Result<(), RequestError> {
    exchange::office_roster(store)?;
    may_exchange(store)?;
    let mut record = out_record(store, request)?;
    open_out(&record, request)?;
    store.require_record(record.case_id)?;
    let k = kind_of(&record.kind)?;
    partner_kinds::check_answer(k, &values).map_err(RequestError::Invalid)?;
    if answered_by.trim().is_empty() {
        return Err(RequestError::Invalid("name who answered for the partner".into()));
    }
    let mut v = Map::new();
    v.insert("request_status".into(), json!("answered"));
    v.insert("answered_date".into(), json!(store.today().to_string()));
    v.insert("answered_by".into(), json!({"name": answered_by, "organisation": record.partner_name}));
    v.insert("answer_mode".into(), json!("by_hand"));
    v.insert("answer".into(), partner_kinds::answer_items(&values));
    record.status = "answered".into();
    record.answer_mode = Some("by_hand".into());
    let mut b = store.batch();
    b.save_form(record.case_id, REQUEST_FORM, Some(request), v)?;
    b.commit_with(vec![put(&format!("{P_OUT}{request}"), json!(record))])?;
    Ok(())
}

/// Partner office: the receipt for a request it holds (§11.7), signed by
/// this office and encrypted to the requesting office from the partner
/// list. Made right after [`import`] took the request in, or again later;
/// refused for a request withdrawn or held from before receipts.
pub fn receipt(
    store: &mut CaseStore,
    request: Uuid,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<u8>, RequestError> {
    exchange::office_roster(store)?;
    may_exchange(store)?;
    let record: InRecord = state_get(store, &format!("{P_IN}{request}"))?
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or(RequestError::UnknownRequest(request))?;
    if record.status == "withdrawn" {
        return Err(RequestError::Withdrawn(request));
    }
    let request_bundle = record.bundle_id.ok_or_else(|| {
        RequestError::Invalid(format!("request {request} was received before receipts existed: none can be made"))
    })?;
    let requester = partners::by_key(store, &record.partner_key)?
        .ok_or_else(|| RequestError::Invalid(format!("{} is no longer a partner", record.partner_name)))?;
    let doc = ReceiptDoc {
        format: RECEIPT_FORMAT.into(),
        version: 1,
        request_id: request,
        request_bundle,
        received_at: record.received_at.clone(),
    };
    let doc_bytes = serde_json::to_vec_pretty(&doc).map_err(|e| SyncError::Build(e.to_string()))?;
    let (bundle, _) =
        document_bundle(store, BundleKind::PartnerReceipt, &requester.recipient, &doc_bytes, |_| Vec::new(), progress)?;
    Ok(bundle)
}

/// Partner office: answer a received request with `values` (only its
/// kind's answer fields). Returns the signed answer, encrypted to the
/// requesting office's recipient from this office's partner list.
pub fn answer(
    store: &mut CaseStore,
    request: Uuid,
    values: Map<String, Value>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<u8>, RequestError> {
    exchange::office_roster(store)?;
    may_exchange(store)?;
    let key = format!("{P_IN}{request}");
    let mut record: InRecord = state_get(store, &key)?
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or(RequestError::UnknownRequest(request))?;
    match record.status.as_str() {
        "answered" => return Err(RequestError::AlreadyAnswered(request)),
        "withdrawn" => return Err(RequestError::Withdrawn(request)),
        _ => {}
    }
    let k = kind_of(&record.kind)?;
    partner_kinds::check_answer(k, &values).map_err(RequestError::Invalid)?;
    let requester = partners::by_key(store, &record.partner_key)?
        .ok_or_else(|| RequestError::Invalid(format!("{} is no longer a partner", record.partner_name)))?;
    let (user, role) = store.actor();
    let user = user.to_string();
    let doc = AnswerDoc {
        format: ANSWER_FORMAT.into(),
        version: 1,
        request_id: request,
        author: Author { user, role },
        answered_at: now_rfc3339(),
        values: values.clone(),
    };
    let doc_bytes = serde_json::to_vec_pretty(&doc).map_err(|e| SyncError::Build(e.to_string()))?;
    record.status = "answered".into();
    record.answer = Some(values);
    let (bundle, _) = document_bundle(
        store,
        BundleKind::PartnerAnswer,
        &requester.recipient,
        &doc_bytes,
        |_| vec![put(&key, json!(record))],
        progress,
    )?;
    Ok(bundle)
}

/// A partner bundle of `kind` carrying one document, `doc_bytes`, encrypted
/// to the partner's age `recipient` (and the sender's escrow key);
/// `records(bundle_id)` are the local records its commit writes beside the
/// sender's sequence. Requests, withdrawals, receipts and answers are all
/// this shape (docs/bundle-format.md §11).
fn document_bundle(
    store: &mut CaseStore,
    kind: BundleKind,
    recipient: &str,
    doc_bytes: &[u8],
    records: impl FnOnce(Uuid) -> Vec<Value>,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Vec<u8>, Uuid), SyncError> {
    let recipient = age_recipient(recipient).map_err(SyncError::Build)?;
    exchange::build_bundle(
        store,
        kind,
        vec![recipient],
        &[],
        None,
        Some(doc_bytes),
        Default::default(),
        None,
        records,
        progress,
    )
}

/// What importing a partner bundle did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "what")]
pub enum Imported {
    /// A request was received (partner side).
    Request {
        /// The request.
        request_id: Uuid,
        /// Its kind.
        kind: String,
        /// From whom.
        partner: String,
        /// Answer due.
        due: String,
        /// Already held: nothing changed.
        replay: bool,
    },
    /// A request was withdrawn and what it carried deleted (partner side).
    Withdrawn {
        /// The request.
        request_id: Uuid,
        /// From whom.
        partner: String,
        /// Already withdrawn: nothing changed.
        replay: bool,
    },
    /// A receipt: the partner holds the request (requesting side).
    Receipt {
        /// The request.
        request_id: Uuid,
        /// The case.
        case_id: Uuid,
        /// The partner.
        partner: String,
        /// False when the request was already received or answered: a
        /// reported no-op.
        changed: bool,
    },
    /// An answer was taken into its case (requesting side).
    Answer {
        /// The request.
        request_id: Uuid,
        /// The case.
        case_id: Uuid,
        /// The partner.
        partner: String,
        /// Who answered there.
        author: String,
    },
}

/// The head check (§5.1 step 3, §11.1): an office vault, a partner kind, no
/// events or attachments, a sender in this office's partner list, and the
/// manifest signed with that partner's key.
fn authenticate(store: &CaseStore, head: &BundleHead) -> Result<(), ImportError> {
    let m = &head.manifest;
    if !m.kind.is_partner() {
        return Err(ImportError::WrongKind(format!("this is a {:?} bundle, not a partner request or answer", m.kind)));
    }
    if !exchange::is_office(store)? {
        return Err(ImportError::WrongKind("requests between partners are for an office vault".into()));
    }
    if head.listed_size(format::EVENTS) > 0 || head.lists_attachments() {
        return Err(ImportError::Malformed {
            member: format::PARTNER.into(),
            reason: "a partner bundle carries no events and no attachments".into(),
        });
    }
    let partner = listed_partner(store, &m.sender.signing_key)?;
    let key = parse_verifying_key(&partner.signing_key).map_err(|e| ImportError::BadRoster(e.to_string()))?;
    head.verify_signature(&key)
}

fn listed_partner(store: &CaseStore, key_hex: &str) -> Result<Partner, ImportError> {
    let list = exchange::roster(store)?.map(|r| r.roster.partners).unwrap_or_default();
    list.into_iter().find(|p| !p.on_paper() && p.signing_key.eq_ignore_ascii_case(key_hex)).ok_or_else(|| {
        ImportError::WrongKind(
            "the sender is not in this office's partner list (or signed with another key than the one listed): refused"
                .into(),
        )
    })
}

fn parse_doc<T: serde::de::DeserializeOwned>(opened: &OpenedBundle) -> Result<T, ImportError> {
    let bytes = opened.partner.as_deref().ok_or_else(|| ImportError::MissingMember(format::PARTNER.into()))?;
    serde_json::from_slice(bytes)
        .map_err(|e| ImportError::Malformed { member: format::PARTNER.into(), reason: e.to_string() })
}

fn seen_entry(opened: &OpenedBundle) -> Value {
    let m = &opened.manifest;
    put(
        &format!("{P_SEEN}{}", m.bundle_id),
        json!({"sender": m.sender.device_id, "seq": m.sender_seq, "manifest_sha256": opened.manifest_digest()}),
    )
}

/// Import a partner bundle: on the partner, a request (kept, shown as a
/// task) or a withdrawal (what the request carried is deleted and the
/// vault checkpointed); on the requesting office, an answer (recorded in
/// its case). With `dry_run`, every check and no change. All or nothing:
/// on any error the vault is unchanged.
pub fn import<S: BundleSource + ?Sized>(
    store: &mut CaseStore,
    source: &S,
    dry_run: bool,
    progress: &mut dyn FnMut(Progress),
) -> Result<Imported, RequestError> {
    let opened = {
        let store: &CaseStore = store;
        format::read_bundle(source, store.vault().age_identity(), &mut |head| authenticate(store, head), progress)?
    };
    if !opened.events.is_empty() {
        return Err(ImportError::Malformed {
            member: format::EVENTS.into(),
            reason: "a partner bundle carries no events".into(),
        }
        .into());
    }
    let partner = listed_partner(store, &opened.manifest.sender.signing_key)?;
    match opened.manifest.kind {
        BundleKind::PartnerRequest => import_request(store, &opened, partner, dry_run),
        BundleKind::PartnerWithdrawal => import_withdrawal(store, &opened, partner, dry_run),
        BundleKind::PartnerReceipt => import_receipt(store, &opened, partner, dry_run),
        _ => import_answer(store, &opened, partner, dry_run),
    }
}

/// Whether this bundle was imported before (its id is kept once imported).
fn seen(store: &CaseStore, opened: &OpenedBundle) -> Result<bool, RequestError> {
    Ok(state_get(store, &format!("{P_SEEN}{}", opened.manifest.bundle_id))?.is_some())
}

/// The request a receipt or an answer is about: one this office sent, to
/// the partner that signed the bundle, in a bundle not imported before.
fn sent_to(
    store: &CaseStore,
    opened: &OpenedBundle,
    partner: &Partner,
    request: Uuid,
) -> Result<OutRecord, RequestError> {
    let record = out_record(store, request)?;
    if !record.partner_key.eq_ignore_ascii_case(&partner.signing_key) {
        return Err(RequestError::WrongPartner { request, signer: partner.name.clone(), asked: record.partner_name });
    }
    if seen(store, opened)? {
        return Err(RequestError::Replay(opened.manifest.bundle_id));
    }
    Ok(record)
}

/// A partner document of the expected format, version 1.
fn expect_format(format: &str, version: u32, want: &str) -> Result<(), RequestError> {
    if format != want || version != 1 {
        return Err(malformed(format!("not a version-1 {want}")));
    }
    Ok(())
}

fn malformed(reason: String) -> RequestError {
    ImportError::Malformed { member: format::PARTNER.into(), reason }.into()
}

fn import_request(
    store: &mut CaseStore,
    opened: &OpenedBundle,
    partner: Partner,
    dry_run: bool,
) -> Result<Imported, RequestError> {
    let doc: RequestDoc = parse_doc(opened)?;
    expect_format(&doc.format, doc.version, REQUEST_FORMAT)?;
    let k = kind_of(&doc.kind)?;
    // A request carries only what its kind shares: anything else is not
    // kept (and says the sender is not a Fieldcase that follows §11.2).
    if let Some(s) = doc.shared.iter().find(|s| !k.shares_field(&s.form, &s.field)) {
        return Err(malformed(format!("{}.{} is not a field a {} request carries", s.form, s.field, k.id)));
    }
    if doc.answer_form != k.answer_form || doc.answer_fields != k.answer_fields {
        return Err(malformed(format!("its answer form differs from the {} kind's", k.id)));
    }
    NaiveDate::parse_from_str(&doc.due, "%Y-%m-%d").map_err(|e| malformed(format!("due: {e}")))?;
    let key = format!("{P_IN}{}", doc.request_id);
    let held: Option<InRecord> = state_get(store, &key)?.and_then(|v| serde_json::from_value(v).ok());
    let replay = seen(store, opened)? || held.is_some();
    let out = Imported::Request {
        request_id: doc.request_id,
        kind: doc.kind.clone(),
        partner: partner.name.clone(),
        due: doc.due.clone(),
        replay,
    };
    if let Some(h) = &held {
        if h.partner_key != partner.signing_key {
            return Err(malformed(format!("request {} is held here from another partner", doc.request_id)));
        }
    }
    if dry_run || replay {
        return Ok(out);
    }
    let record = InRecord {
        kind: doc.kind.clone(),
        partner_id: partner.partner_id,
        partner_name: partner.name.clone(),
        partner_key: partner.signing_key.clone(),
        status: "received".into(),
        received_at: now_rfc3339(),
        due: doc.due.clone(),
        request: Some(doc),
        answer: None,
        withdrawn_at: None,
        bundle_id: Some(opened.manifest.bundle_id),
    };
    store.commit_sync_entries(vec![put(&key, json!(record)), seen_entry(opened)])?;
    Ok(out)
}

fn import_withdrawal(
    store: &mut CaseStore,
    opened: &OpenedBundle,
    partner: Partner,
    dry_run: bool,
) -> Result<Imported, RequestError> {
    let doc: WithdrawalDoc = parse_doc(opened)?;
    expect_format(&doc.format, doc.version, WITHDRAWAL_FORMAT)?;
    let key = format!("{P_IN}{}", doc.request_id);
    let held: Option<InRecord> = state_get(store, &key)?.and_then(|v| serde_json::from_value(v).ok());
    if let Some(h) = &held {
        if h.partner_key != partner.signing_key {
            return Err(malformed(format!("request {} was not received from {}", doc.request_id, partner.name)));
        }
    }
    let replay = held.as_ref().is_some_and(|h| h.status == "withdrawn");
    let out = Imported::Withdrawn { request_id: doc.request_id, partner: partner.name.clone(), replay };
    if dry_run || replay {
        return Ok(out);
    }
    // The tombstone: none of the shared values, nor the answer.
    let tombstone = InRecord {
        kind: held.as_ref().map(|h| h.kind.clone()).unwrap_or_default(),
        partner_id: partner.partner_id,
        partner_name: partner.name.clone(),
        partner_key: partner.signing_key.clone(),
        status: "withdrawn".into(),
        received_at: held.as_ref().map(|h| h.received_at.clone()).unwrap_or_default(),
        due: held.as_ref().map(|h| h.due.clone()).unwrap_or_default(),
        request: None,
        answer: None,
        withdrawn_at: Some(now_rfc3339()),
        bundle_id: None,
    };
    store.commit_sync_entries(vec![put(&key, json!(tombstone)), seen_entry(opened)])?;
    // The journal frames that held the request go with the old generation
    // (and secure_delete zeroes the old rows in the new snapshot).
    store.checkpoint()?;
    Ok(out)
}

fn import_receipt(
    store: &mut CaseStore,
    opened: &OpenedBundle,
    partner: Partner,
    dry_run: bool,
) -> Result<Imported, RequestError> {
    let doc: ReceiptDoc = parse_doc(opened)?;
    expect_format(&doc.format, doc.version, RECEIPT_FORMAT)?;
    let request = doc.request_id;
    let mut record = sent_to(store, opened, &partner, request)?;
    if doc.request_bundle != record.bundle_id {
        return Err(malformed(format!("the receipt names bundle {}, not the request sent", doc.request_bundle)));
    }
    if record.status == "withdrawn" {
        return Err(RequestError::Withdrawn(request));
    }
    let received = doc.received_at.get(..10).unwrap_or_default();
    let received =
        NaiveDate::parse_from_str(received, "%Y-%m-%d").map_err(|e| malformed(format!("received_at: {e}")))?;
    store.require_record(record.case_id)?;
    let changed = record.status == "sent";
    let out = Imported::Receipt { request_id: request, case_id: record.case_id, partner: partner.name, changed };
    // A receipt written again, or one that arrives after the answer, says
    // nothing new: reported, not recorded.
    if dry_run || !changed {
        return Ok(out);
    }
    let mut v = Map::new();
    v.insert("request_status".into(), json!("received"));
    v.insert("received_date".into(), json!(received.to_string()));
    record.status = "received".into();
    let mut b = store.batch();
    b.save_form(record.case_id, REQUEST_FORM, Some(request), v)?;
    b.commit_with(vec![put(&format!("{P_OUT}{request}"), json!(record)), seen_entry(opened)])?;
    Ok(out)
}

fn import_answer(
    store: &mut CaseStore,
    opened: &OpenedBundle,
    partner: Partner,
    dry_run: bool,
) -> Result<Imported, RequestError> {
    let doc: AnswerDoc = parse_doc(opened)?;
    expect_format(&doc.format, doc.version, ANSWER_FORMAT)?;
    let request = doc.request_id;
    let mut record = sent_to(store, opened, &partner, request)?;
    open_out(&record, request)?;
    let k = kind_of(&record.kind)?;
    partner_kinds::check_answer(k, &doc.values).map_err(RequestError::Invalid)?;
    if doc.author.user.trim().is_empty() {
        return Err(malformed("the answer names no author".into()));
    }
    store.require_record(record.case_id)?;
    let out = Imported::Answer {
        request_id: request,
        case_id: record.case_id,
        partner: partner.name.clone(),
        author: doc.author.user.clone(),
    };
    if dry_run {
        return Ok(out);
    }
    let answered = doc.answered_at.get(..10).unwrap_or_default();
    let answered =
        NaiveDate::parse_from_str(answered, "%Y-%m-%d").map_err(|e| malformed(format!("answered_at: {e}")))?;
    let mut v = Map::new();
    v.insert("request_status".into(), json!("answered"));
    v.insert("answered_date".into(), json!(answered.to_string()));
    v.insert(
        "answered_by".into(),
        json!({"name": doc.author.user, "role": doc.author.role.to_string(), "organisation": partner.name}),
    );
    v.insert("answer_mode".into(), json!("fieldcase"));
    v.insert("answer_bundle".into(), json!(opened.manifest.bundle_id.to_string()));
    v.insert("answer".into(), partner_kinds::answer_items(&doc.values));
    record.status = "answered".into();
    record.answer_mode = Some("fieldcase".into());
    let mut b = store.batch();
    b.save_form(record.case_id, REQUEST_FORM, Some(request), v)?;
    b.commit_with(vec![put(&format!("{P_OUT}{request}"), json!(record)), seen_entry(opened)])?;
    Ok(out)
}

/// A request this office sent, for the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentRequest {
    /// The request.
    pub request_id: Uuid,
    /// The case.
    pub case_id: Uuid,
    /// Its kind.
    pub kind: String,
    /// To whom.
    pub partner: String,
    /// `sent`, `received` (the partner's receipt imported), `overdue` (sent
    /// or received, past its due date), `answered`, `withdrawn`.
    pub status: String,
    /// Answer due.
    pub due: String,
    /// `fieldcase` or `by_hand` once answered.
    pub answer_mode: Option<String>,
}

/// Whether a listed status ([`SentRequest::status`],
/// [`ReceivedRequest::status`]) still waits for an answer.
pub fn is_open_status(status: &str) -> bool {
    matches!(status, "sent" | "received" | "overdue")
}

fn overdue(status: &str, due: &str, today: NaiveDate, open: &[&str]) -> String {
    let late = NaiveDate::parse_from_str(due, "%Y-%m-%d").is_ok_and(|d| today > d);
    if open.contains(&status) && late {
        "overdue".into()
    } else {
        status.to_string()
    }
}

/// The requests this office sent about the cases the reader may see, with
/// their status on `today`.
pub fn sent_requests(store: &CaseStore, today: NaiveDate) -> Result<Vec<SentRequest>, StoreError> {
    let mut out = Vec::new();
    for (k, v) in crate::model::projection::sync_state(store.vault().conn(), P_OUT)? {
        let (Ok(id), Ok(r)) = (k.trim_start_matches(P_OUT).parse::<Uuid>(), serde_json::from_value::<OutRecord>(v))
        else {
            continue;
        };
        // Need-to-know: a request names its case (docs/visibility.md).
        if r.status == "sending" || store.require_visible(r.case_id).is_err() {
            continue;
        }
        out.push(SentRequest {
            request_id: id,
            case_id: r.case_id,
            kind: r.kind,
            partner: r.partner_name,
            status: overdue(&r.status, &r.due, today, &["sent", "received"]),
            due: r.due,
            answer_mode: r.answer_mode,
        });
    }
    Ok(out)
}

/// A request this office received from a partner: a task, its shared
/// values read only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReceivedRequest {
    /// The request.
    pub request_id: Uuid,
    /// Its kind.
    pub kind: String,
    /// From whom.
    pub partner: String,
    /// `received`, `overdue`, `answered`, `withdrawn`.
    pub status: String,
    /// Answer due.
    pub due: String,
    /// What it shared (empty once withdrawn: deleted, or when withheld).
    pub shared: Vec<SharedValue>,
    /// Why the shared values are not shown to this reader (a data
    /// manager sees metadata only): `None` when they are.
    pub withheld: Option<crate::model::visibility::HiddenReason>,
    /// The answer form and the fields to fill.
    pub answer_form: String,
    /// The fields to fill.
    pub answer_fields: Vec<String>,
}

/// The requests this office received, with their status on `today`.
pub fn received_requests(store: &CaseStore, today: NaiveDate) -> Result<Vec<ReceivedRequest>, StoreError> {
    let mut out = Vec::new();
    for (k, v) in crate::model::projection::sync_state(store.vault().conn(), P_IN)? {
        let (Ok(id), Ok(r)) = (k.trim_start_matches(P_IN).parse::<Uuid>(), serde_json::from_value::<InRecord>(v))
        else {
            continue;
        };
        let (mut shared, answer_form, answer_fields) = match r.request {
            Some(d) => (d.shared, d.answer_form, d.answer_fields),
            None => (Vec::new(), String::new(), Vec::new()),
        };
        // Need-to-know, as for a case's own values (docs/visibility.md): a
        // reader who may not see one of the values sees none of them.
        let reader = store.reader();
        let withheld = shared.iter().find_map(|s| reader.field(&s.form, &s.field, false).err());
        if withheld.is_some() {
            shared.clear();
        }
        out.push(ReceivedRequest {
            request_id: id,
            kind: r.kind,
            partner: r.partner_name,
            status: overdue(&r.status, &r.due, today, &["received"]),
            due: r.due,
            shared,
            withheld,
            answer_form,
            answer_fields,
        });
    }
    Ok(out)
}
