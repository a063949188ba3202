//! Tracing inquiries: a parent or relative asking after a child who has no
//! case yet (form F22, `assets/forms/inquiry.json`).
//!
//! An inquiry is a record of its own kind, not a case of a child: it is
//! registered with `case.registered` of case type [`CASE_TYPE`] and its
//! values are `form.saved` events of form [`FORM`]. So it is signed,
//! journaled, synced, audited, erased and — above all — seen or hidden by
//! the same need-to-know rules as a case (`model::visibility`: the person
//! who recorded it, the caseworker it is assigned to, their supervisors),
//! since it holds personal data of the child sought and of the inquirer.
//! What differs is in the rules of [`check`]: an inquiry has no lifecycle
//! (its `status` field says open, matched or closed) and takes no form but
//! its own; and the views of the cases of children (case list, tasks,
//! search, duplicates, reports) leave inquiries out. Matching an inquiry
//! against registered children and against other inquiries is
//! `crate::search::inquiry`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::model::error::StoreError;
use crate::model::event::{Event, EventKind};
use crate::model::forms;
use crate::model::lifecycle::{CaseFacts, RuleViolation};
use crate::model::projection::CaseState;
use crate::model::store::CaseStore;
use crate::model::violation::ViolationCode;
use crate::model::visibility::{count_hidden, CaseAccess, HiddenCount, HiddenReason};

/// The case type an inquiry is registered with.
pub const CASE_TYPE: &str = "inquiry";
/// The one form an inquiry holds.
pub const FORM: &str = "inquiry";
/// The rule code of a refusal by [`check`].
pub const RULE: &str = "inquiry";

/// The status values of an inquiry (field `status`).
pub const STATUSES: [&str; 3] = ["open", "matched", "closed"];

/// Whether a case type is the inquiry's.
pub fn is_inquiry_type(case_type: &str) -> bool {
    case_type == CASE_TYPE
}

/// Whether a folded record is an inquiry.
pub fn is_inquiry(state: &CaseState) -> bool {
    state.registration.as_ref().is_some_and(|r| is_inquiry_type(&r.case_type))
}

/// The rules an event must keep on an inquiry, and the rule that keeps the
/// inquiry form out of the cases of children. Called by
/// `lifecycle::check` for every event, locally and at import.
pub fn check(facts: &CaseFacts, e: &Event, out: &mut Vec<RuleViolation>) {
    let on_inquiry = is_inquiry_type(&facts.case_type);
    let form = e.form.as_deref().unwrap_or_default();
    if !on_inquiry {
        if form == FORM {
            out.push(RuleViolation::new(RULE, ViolationCode::InquiryFormOnCase, &[]));
        }
        return;
    }
    match e.kind {
        EventKind::FormSaved if form == FORM => complete_after(facts, e, out),
        EventKind::FormSaved => out.push(RuleViolation::new(RULE, ViolationCode::InquiryOtherForm, &[("form", &form)])),
        EventKind::CaseAssigned
        | EventKind::ConflictResolved
        | EventKind::CaseErasureRequested
        | EventKind::CaseErasureApproved
        | EventKind::CaseEventErased
        | EventKind::CaseErased => {}
        other => out.push(RuleViolation::new(RULE, ViolationCode::InquiryNoLifecycle, &[("kind", &other)])),
    }
}

/// An inquiry is whole after every save (who asks, who is sought, the
/// status; a matched one names what it matched, a closed one why): the
/// values it will hold are checked as a complete form, so a record synced
/// from another device is judged by the same rule.
fn complete_after(facts: &CaseFacts, e: &Event, out: &mut Vec<RuleViolation>) {
    let Some(def) = forms::registry().get(FORM) else { return };
    let prefix = format!("{FORM}.");
    let mut merged: Map<String, Value> =
        facts.values.iter().filter_map(|(k, v)| k.strip_prefix(&prefix).map(|f| (f.to_string(), v.clone()))).collect();
    if let Some(new) = e.payload.get("values").and_then(Value::as_object) {
        for (k, v) in new {
            merged.insert(k.clone(), v.clone());
        }
    }
    merged.retain(|_, v| !v.is_null());
    if let Err(errors) = forms::validate_complete(def, &merged) {
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        out.push(RuleViolation::new(RULE, ViolationCode::InquiryIncomplete, &[("fields", &fields.join(", "))]));
    }
}

/// The values of an inquiry, as its current register values.
pub fn values_of(state: &CaseState) -> Map<String, Value> {
    let mut out = Map::new();
    let names = forms::registry().get(FORM).map(|d| d.fields.iter().map(|f| f.name.clone()).collect::<Vec<_>>());
    for name in names.unwrap_or_default() {
        if let Some(v) = state.value(FORM, None, &name) {
            if !v.is_null() {
                out.insert(name, v.clone());
            }
        }
    }
    out
}

/// One inquiry as a view shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inquiry {
    /// Its id (the id of its record in the vault).
    pub id: Uuid,
    /// Its number (`ABC-INQ-2026-00001`).
    pub number: String,
    /// The office that recorded it.
    pub office: String,
    /// Who recorded it.
    pub recorded_by: Option<String>,
    /// The caseworker it is assigned to, if any.
    pub caseworker: Option<String>,
    /// `open`, `matched` or `closed`.
    pub status: String,
    /// Its values, without those the reader may not see.
    pub values: Map<String, Value>,
    /// The fields left out, and why (a data manager sees only metadata).
    pub hidden_fields: Vec<(String, HiddenReason)>,
}

/// The inquiries the reader may see, and a count of those left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InquiryList {
    /// By number.
    pub inquiries: Vec<Inquiry>,
    /// What was left out, by reason.
    pub hidden: Vec<HiddenCount>,
}

impl CaseStore {
    /// Record a new inquiry with its values, in one commit: refused values
    /// record nothing. Returns its id and number.
    pub fn new_inquiry(&mut self, office: &str, values: Map<String, Value>) -> Result<(Uuid, String), StoreError> {
        let mut b = self.batch();
        let id = b.create_inquiry(office)?;
        b.save_form(id, FORM, None, values)?;
        b.commit()?;
        let number = self.inquiry(id)?.number;
        Ok((id, number))
    }

    /// Change values of an inquiry (its status, what it matched, …).
    pub fn update_inquiry(&mut self, id: Uuid, values: Map<String, Value>) -> Result<(), StoreError> {
        self.require_inquiry(id)?;
        self.save_form(id, FORM, None, values)
    }

    /// Refuse an id that is not an inquiry the reader may see.
    fn require_inquiry(&self, id: Uuid) -> Result<&'_ Self, StoreError> {
        self.require_visible(id)?;
        if !is_inquiry(&self.case_state(id)?) {
            return Err(StoreError::NotFound { case: format!("{id} (not an inquiry)") });
        }
        Ok(self)
    }

    /// One inquiry, as the reader may see it.
    pub fn inquiry(&self, id: Uuid) -> Result<Inquiry, StoreError> {
        self.require_inquiry(id)?;
        Ok(self.inquiry_view(&self.case_state(id)?))
    }

    /// Find an inquiry by id or number.
    pub fn find_inquiry(&self, id_or_number: &str) -> Result<Uuid, StoreError> {
        let id = self.find_case(id_or_number)?;
        self.require_inquiry(id)?;
        Ok(id)
    }

    fn inquiry_view(&self, st: &CaseState) -> Inquiry {
        let reader = self.reader();
        let mut values = Map::new();
        let mut hidden_fields = Vec::new();
        for (k, v) in values_of(st) {
            let contested = st.heads_of(FORM, None, &k).len() > 1;
            match reader.field(FORM, &k, contested) {
                Ok(()) => {
                    values.insert(k, v);
                }
                Err(reason) => hidden_fields.push((k, reason)),
            }
        }
        let reg = st.registration.as_ref();
        Inquiry {
            id: st.case_id,
            number: reg.map(|r| r.case_number.clone()).unwrap_or_default(),
            office: reg.map(|r| r.office.clone()).unwrap_or_default(),
            recorded_by: st.stage_history.first().map(|c| c.author.clone()),
            caseworker: st.caseworker.clone(),
            status: st.value(FORM, None, "status").and_then(Value::as_str).unwrap_or("open").to_string(),
            values,
            hidden_fields,
        }
    }

    /// The ids of every inquiry in the vault, whoever may see them (for
    /// the library: matching judges visibility on what it returns).
    pub(crate) fn inquiry_ids(&self) -> Result<Vec<Uuid>, StoreError> {
        let conn = self.vault().conn();
        let mut stmt =
            conn.prepare_cached("SELECT id FROM cases WHERE case_type = 'inquiry' ORDER BY case_number, id")?;
        let ids: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        Ok(ids.iter().filter_map(|s| Uuid::parse_str(s).ok()).collect())
    }

    /// The inquiries the reader may see, by number, with a count of those
    /// left out by reason (nothing is silently missing).
    pub fn list_inquiries(&self) -> Result<InquiryList, StoreError> {
        let reader = self.reader();
        let mut inquiries = Vec::new();
        let mut hidden = Vec::new();
        for id in self.inquiry_ids()? {
            let st = self.case_state(id)?;
            if st.erased {
                continue;
            }
            match reader.case(&CaseAccess::of_state(&st)) {
                Ok(()) => inquiries.push(self.inquiry_view(&st)),
                Err(reason) => hidden.push(reason),
            }
        }
        Ok(InquiryList { inquiries, hidden: count_hidden(hidden) })
    }
}
