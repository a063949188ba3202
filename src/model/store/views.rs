//! The store's read views: the case list, a case's detail and history,
//! tasks, next steps and the conflict queue, each as the reader may see it
//! (docs/visibility.md).

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::params;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::model::audit::{self, AuditEntry};
use crate::model::event::{Event, EventKind, Hlc, Role};
use crate::model::lifecycle::{self, CaseFacts, Stage};
use crate::model::projection::{self, CaseState, FieldStatus};
use crate::model::tasks::{self, Task};
use crate::model::visibility::{self, count_hidden, CaseAccess, HiddenCount, HiddenReason, Reader};

use super::*;

/// One row of the case list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseSummary {
    /// Case id.
    pub id: Uuid,
    /// Human case number.
    pub case_number: String,
    /// Case type.
    pub case_type: String,
    /// Office.
    pub office: String,
    /// Current stage (wire name).
    pub stage: String,
    /// Stage to return to from a side state.
    pub stage_before: Option<String>,
    /// Assigned caseworker.
    pub caseworker: Option<String>,
    /// Risk level (None when unset or under review).
    pub risk_level: Option<String>,
    /// Given names.
    pub given_names: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Sex.
    pub sex: Option<String>,
    /// Age in years.
    pub age_years: Option<f64>,
    /// Date of birth.
    pub date_of_birth: Option<String>,
    /// A protected field has a conflict that needs a person.
    pub needs_review: bool,
    /// Number of fields with several heads.
    pub conflicts: u32,
    /// Newest event.
    pub updated: Hlc,
    /// Why the person columns (names, date of birth, sex, age, risk level;
    /// for a viewer also the caseworker) are empty, when they are withheld
    /// from the reader (docs/visibility.md).
    #[serde(default)]
    pub hidden: Option<HiddenReason>,
}

/// The case list as the reader may see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseList {
    /// The cases the reader may see, by case number.
    pub cases: Vec<CaseSummary>,
    /// Cases left out, counted by reason.
    pub hidden: Vec<HiddenCount>,
}

/// A case's audit trail as the reader may see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseHistory {
    /// Entries, oldest first.
    pub entries: Vec<AuditEntry>,
    /// Entries left out (those of restricted notes), counted by reason.
    pub hidden: Vec<HiddenCount>,
}

/// Tasks as the reader may see them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskList {
    /// Tasks of the cases the reader may see.
    pub tasks: Vec<Task>,
    /// Tasks of other cases, counted by reason.
    pub hidden: Vec<HiddenCount>,
}

/// One head of a field register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadView {
    /// The event that wrote it.
    pub event: Uuid,
    /// The value.
    pub value: Value,
    /// When.
    pub hlc: Hlc,
    /// Device.
    pub device_id: Uuid,
    /// Who.
    pub author: String,
}

/// A field's shown value with its status and heads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldView {
    /// Form.
    pub form: String,
    /// List item, for repeating forms.
    pub item: Option<Uuid>,
    /// Field name.
    pub field: String,
    /// Shown value (None for a protected field that needs review).
    pub value: Option<Value>,
    /// ok / merged_automatically / needs_review.
    pub status: FieldStatus,
    /// All heads, oldest first (one unless in conflict); empty when the
    /// value is hidden.
    pub heads: Vec<HeadView>,
    /// Why the value (and its heads) are withheld from the reader.
    #[serde(default)]
    pub hidden: Option<HiddenReason>,
}

/// A list item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemView {
    /// Form.
    pub form: String,
    /// Item id.
    pub item: Uuid,
    /// Kind of the creating event.
    pub kind: String,
    /// When it was created.
    pub created: Hlc,
    /// By whom.
    pub author: String,
}

/// A stage change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageView {
    /// From.
    pub from: Option<String>,
    /// To.
    pub to: String,
    /// Reason.
    pub reason: String,
    /// When.
    pub hlc: Hlc,
    /// Who.
    pub author: String,
    /// Role.
    pub role: String,
}

/// Everything about one case.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseDetail {
    /// Summary row.
    pub summary: CaseSummary,
    /// Every field, by (form, item, field).
    pub fields: Vec<FieldView>,
    /// List items.
    pub items: Vec<ItemView>,
    /// Stage history.
    pub stage_history: Vec<StageView>,
    /// Tasks due for this case.
    pub tasks: Vec<Task>,
    /// List items left out with their fields (restricted notes), counted
    /// by reason.
    #[serde(default)]
    pub hidden: Vec<HiddenCount>,
}

/// One of the concurrent stage changes of a stage conflict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageHeadView {
    /// The stage change (pass it to [`CaseStore::resolve_stage_conflict`]).
    pub event: Uuid,
    /// The stage its author moved from.
    pub from: Option<String>,
    /// The stage it moved to.
    pub to: String,
    /// Reason given.
    pub reason: String,
    /// When.
    pub hlc: Hlc,
    /// Device.
    pub device_id: Uuid,
    /// Who.
    pub author: String,
    /// Role.
    pub role: String,
}

/// A case whose stage has concurrent changes no one has chosen between.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageConflict {
    /// The stage the case is in meanwhile: the last one every concurrent
    /// change was made from (none of them is applied).
    pub stage: String,
    /// The concurrent changes, oldest first.
    pub heads: Vec<StageHeadView>,
    /// The roles that may choose ([`roles::may_resolve`]).
    pub resolvers: Vec<Role>,
}

/// One entry of [`CaseStore::conflict_queue`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedConflict {
    /// The case.
    pub case: CaseSummary,
    /// Form (`case` for the stage).
    pub form: String,
    /// List item, for repeating forms.
    pub item: Option<Uuid>,
    /// Field (`stage` for the stage).
    pub field: String,
    /// Needs a person (a protected field or the stage); otherwise merged
    /// automatically, the newest value shown.
    pub protected: bool,
    /// The value shown now; none while it needs a person.
    pub shown: Option<Value>,
    /// The values in conflict, oldest first (for the stage: the stage each
    /// concurrent change leads to).
    pub heads: Vec<HeadView>,
    /// The roles that may settle it: whom a data manager routes it to.
    pub resolvers: Vec<Role>,
    /// Whether the acting user's role is one of them.
    pub actor_may_resolve: bool,
}

impl CaseStore {
    /// The person who unlocked the vault, as the visibility rules see them
    /// (docs/visibility.md).
    pub fn reader(&self) -> Reader<'_> {
        Reader { user: &self.user, role: self.role, team: self.team.as_ref() }
    }

    /// The registered cases the reader may see, by case number, with the
    /// person columns withheld where the reader may not see them, and a
    /// count of the cases left out.
    pub fn list_cases(&self) -> Result<CaseList, StoreError> {
        let reader = self.reader();
        let conn = self.vault.conn();
        let mut stmt =
            conn.prepare_cached(&format!("{SUMMARY_SELECT} WHERE {NOT_INQUIRY} ORDER BY case_number, id"))?;
        let rows = stmt.query_map([], |r| Ok((summary_row(r)?, access_row(r)?)))?;
        let mut cases = Vec::new();
        let mut hidden = Vec::new();
        for row in rows {
            let (summary, access) = row?;
            match reader.case(&access) {
                Ok(()) => cases.push(mask_summary(summary, reader)),
                Err(reason) => hidden.push(reason),
            }
        }
        Ok(CaseList { cases, hidden: count_hidden(hidden) })
    }

    /// Refuse a case the reader may not see ([`StoreError::Hidden`], which
    /// names only the id asked for), or one that does not exist.
    pub fn require_visible(&self, case: Uuid) -> Result<(), StoreError> {
        let Some(access) = self.case_access(case)? else { return Err(self.missing(case)?) };
        self.reader().case(&access).map_err(|reason| StoreError::Hidden { case: case.to_string(), reason })
    }

    /// Whether the reader may see a case: `Ok(Err(reason))` when not.
    pub fn sees(&self, case: Uuid) -> Result<Result<(), HiddenReason>, StoreError> {
        let Some(access) = self.case_access(case)? else { return Err(self.missing(case)?) };
        Ok(self.reader().case(&access))
    }

    /// [`CaseStore::require_visible`], and the reader may open case records
    /// (not a reporting viewer).
    pub fn require_record(&self, case: Uuid) -> Result<(), StoreError> {
        self.require_visible(case)?;
        self.reader().records().map_err(|reason| StoreError::Hidden { case: case.to_string(), reason })
    }

    /// The cases `reader` (not necessarily the person who unlocked: the
    /// office asks it for each enrolled device) may hold on their device
    /// ([`Reader::receives`]): what the office sends that device.
    pub fn cases_received_by(&self, reader: Reader<'_>) -> Result<BTreeSet<Uuid>, StoreError> {
        let mut stmt = self.vault.conn().prepare_cached(SUMMARY_SELECT)?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, access_row(r)?)))?;
        let mut out = BTreeSet::new();
        for row in rows {
            let (id, access) = row?;
            if reader.receives(&access).is_ok() {
                out.insert(uuid_col(id)?);
            }
        }
        Ok(out)
    }

    /// The facts that decide who sees a case; `None` if there is no such case.
    pub fn case_access(&self, case: Uuid) -> Result<Option<CaseAccess>, StoreError> {
        let conn = self.vault.conn();
        let mut stmt = conn.prepare_cached(&format!("{SUMMARY_SELECT} WHERE id = ?1"))?;
        Ok(stmt.query_row([case.to_string()], access_row).optional()?)
    }

    /// Restricted notes of a case the reader may not see (their item ids).
    pub(super) fn hidden_notes(&self, case: Uuid) -> Result<BTreeSet<Uuid>, StoreError> {
        let reader = self.reader();
        let mut stmt = self.vault.conn().prepare_cached(
            "SELECT i.item, i.author FROM items i WHERE i.case_id = ?1 AND i.form = ?2 AND EXISTS (
                SELECT 1 FROM field_heads h WHERE h.case_id = i.case_id AND h.form = i.form
                AND h.item = i.item AND h.field = ?3 AND h.value = 'true')",
        )?;
        let rows = stmt
            .query_map(params![case.to_string(), visibility::NOTE_FORM, visibility::RESTRICTED_FIELD], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?;
        let mut out = BTreeSet::new();
        for row in rows {
            let (item, author) = row?;
            if reader.restricted_note(&author).is_err() {
                out.insert(uuid_col(item)?);
            }
        }
        Ok(out)
    }

    /// Everything about one case the reader may see: refused
    /// ([`StoreError::Hidden`]) for a case they may not see; restricted
    /// notes of others are left out (and counted), values the reader may
    /// not see are withheld with the reason.
    pub fn case_detail(&self, case: Uuid) -> Result<CaseDetail, StoreError> {
        self.require_record(case)?;
        let reader = self.reader();
        let hidden_notes = self.hidden_notes(case)?;
        let conn = self.vault.conn();
        let summary = conn
            .query_row(&format!("{SUMMARY_SELECT} WHERE id = ?1"), [case.to_string()], summary_row)
            .optional()?
            .ok_or_else(|| StoreError::NotFound { case: case.to_string() })?;
        let summary = mask_summary(summary, reader);
        let mut heads: BTreeMap<(String, String, String), Vec<HeadView>> = BTreeMap::new();
        {
            let mut stmt = conn.prepare_cached(
                "SELECT form, item, field, event_id, value, hlc_millis, hlc_counter, device_id, author
                 FROM field_heads WHERE case_id = ?1 ORDER BY form, item, field, hlc_millis, hlc_counter, device_id, event_id",
            )?;
            let mut rows = stmt.query([case.to_string()])?;
            while let Some(r) = rows.next()? {
                let key = (r.get(0)?, r.get(1)?, r.get(2)?);
                heads.entry(key).or_default().push(HeadView {
                    event: uuid_col(r.get(3)?)?,
                    value: json_col(&r.get::<_, String>(4)?)?,
                    hlc: Hlc { millis: r.get::<_, i64>(5)? as u64, counter: r.get(6)? },
                    device_id: uuid_col(r.get(7)?)?,
                    author: r.get(8)?,
                });
            }
        }
        let mut fields = Vec::new();
        {
            let mut stmt = conn.prepare_cached(
                "SELECT form, item, field, value, status FROM field_values WHERE case_id = ?1
                 ORDER BY item != '', form, item, field",
            )?;
            let mut rows = stmt.query([case.to_string()])?;
            while let Some(r) = rows.next()? {
                let (form, item, field): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
                let value: Option<String> = r.get(3)?;
                let status: String = r.get(4)?;
                let field_heads = heads.remove(&(form.clone(), item.clone(), field.clone())).unwrap_or_default();
                let item = if item.is_empty() { None } else { Some(uuid_col(item)?) };
                if item.is_some_and(|i| hidden_notes.contains(&i)) && form == visibility::NOTE_FORM {
                    continue;
                }
                let status = FieldStatus::parse(&status).unwrap_or(FieldStatus::NeedsReview);
                fields.push(match reader.field(&form, &field, field_heads.len() > 1) {
                    Ok(()) => FieldView {
                        heads: field_heads,
                        item,
                        form,
                        field,
                        value: value.as_deref().map(json_col).transpose()?,
                        status,
                        hidden: None,
                    },
                    Err(reason) => {
                        FieldView { heads: Vec::new(), item, form, field, value: None, status, hidden: Some(reason) }
                    }
                });
            }
        }
        let mut items = Vec::new();
        {
            let mut stmt = conn.prepare_cached(
                "SELECT form, item, kind, created_millis, created_counter, author FROM items WHERE case_id = ?1 ORDER BY form, seq",
            )?;
            let mut rows = stmt.query([case.to_string()])?;
            while let Some(r) = rows.next()? {
                let item = ItemView {
                    form: r.get(0)?,
                    item: uuid_col(r.get(1)?)?,
                    kind: r.get(2)?,
                    created: Hlc { millis: r.get::<_, i64>(3)? as u64, counter: r.get(4)? },
                    author: r.get(5)?,
                };
                if !(item.form == visibility::NOTE_FORM && hidden_notes.contains(&item.item)) {
                    items.push(item);
                }
            }
        }
        let mut stage_history = Vec::new();
        {
            let mut stmt = conn.prepare_cached(
                "SELECT from_stage, to_stage, reason, hlc_millis, hlc_counter, author, role FROM stage_history WHERE case_id = ?1 ORDER BY seq",
            )?;
            let mut rows = stmt.query([case.to_string()])?;
            while let Some(r) = rows.next()? {
                stage_history.push(StageView {
                    from: r.get(0)?,
                    to: r.get(1)?,
                    reason: r.get(2)?,
                    hlc: Hlc { millis: r.get::<_, i64>(3)? as u64, counter: r.get(4)? },
                    author: r.get(5)?,
                    role: r.get(6)?,
                });
            }
        }
        let tasks = tasks::tasks_for_with(&self.facts(case)?, self.today(), self.follow_up.as_deref());
        let hidden = count_hidden(hidden_notes.iter().map(|_| HiddenReason::RestrictedNote));
        Ok(CaseDetail { summary, fields, items, stage_history, tasks, hidden })
    }

    /// The audit trail of a case the reader may see, without the entries of
    /// restricted notes they may not see (counted instead).
    pub fn history(&self, case: Uuid) -> Result<CaseHistory, StoreError> {
        self.require_record(case)?;
        let hidden_notes = self.hidden_notes(case)?;
        let mut entries = audit::read(self.vault.conn(), case)?;
        let before = entries.len();
        entries.retain(|a| {
            !(a.form.as_deref() == Some(visibility::NOTE_FORM) && a.item.is_some_and(|i| hidden_notes.contains(&i)))
        });
        let hidden = count_hidden(std::iter::repeat_n(HiddenReason::RestrictedNote, before - entries.len()));
        Ok(CaseHistory { entries, hidden })
    }

    /// Recompute and check a case's audit chain and its events' signatures;
    /// returns the number of entries verified. Only for a case the reader
    /// may open (the check reads every entry).
    pub fn verify_history(&self, case: Uuid) -> Result<usize, StoreError> {
        self.require_record(case)?;
        Ok(audit::verify(self.vault.conn(), case)?)
    }

    /// Tasks due on `today` in the cases the reader may see; the others
    /// counted by reason (a viewer sees none: no case records).
    pub fn tasks(&self, today: chrono::NaiveDate) -> Result<TaskList, StoreError> {
        let reader = self.reader();
        let cases: Vec<(String, CaseAccess)> = {
            let mut stmt = self
                .vault
                .conn()
                .prepare_cached(&format!("{SUMMARY_SELECT} WHERE {NOT_INQUIRY} ORDER BY case_number, id"))?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, access_row(r)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut out = Vec::new();
        let mut hidden = Vec::new();
        for (id, access) in cases {
            let tasks = tasks::tasks_for_with(&self.facts(uuid_col(id)?)?, today, self.follow_up.as_deref());
            match reader.case(&access).and_then(|()| reader.records()) {
                Ok(()) => out.extend(tasks),
                Err(reason) => hidden.extend(tasks.iter().map(|_| reason)),
            }
        }
        Ok(TaskList { tasks: out, hidden: count_hidden(hidden) })
    }

    /// The stages the lifecycle table allows from the case's current stage,
    /// each with the roles that make the move and what would refuse it to
    /// the reader now (empty: allowed), for a screen's buttons. The check is
    /// the gate itself ([`lifecycle::check`]) on an unsigned probe event
    /// that is never committed, so a screen and the store cannot disagree.
    /// Refused for a case the reader may not open.
    pub fn next_steps(&self, case: Uuid) -> Result<Vec<NextStep>, StoreError> {
        self.require_record(case)?;
        let facts = self.facts(case)?;
        let mut out = Vec::new();
        for to in lifecycle::next_stages(&facts) {
            let Some(transition) = lifecycle::transition_for(&facts, to) else {
                continue;
            };
            let probe = Event {
                id: Uuid::nil(),
                case_id: case,
                device_id: self.vault.device().device_id,
                device_seq: 0,
                hlc: Hlc { millis: self.clock.physical_millis(), counter: 0 },
                author: self.user.clone(),
                role: self.role,
                kind: EventKind::StatusChanged,
                form: None,
                payload: json!({"to": stage_name(to), "reason": ""}),
                base: Vec::new(),
                sig: String::new(),
            };
            out.push(NextStep {
                to,
                roles: transition.roles.to_vec(),
                blocked_by: lifecycle::check(&facts, &probe).err().unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// What the lifecycle rules know about a case.
    pub fn facts(&self, case: Uuid) -> Result<CaseFacts, StoreError> {
        let state = self.case_state(case)?;
        to_facts(&state)
    }

    /// The folded projection state of a case (all its events).
    pub fn case_state(&self, case: Uuid) -> Result<CaseState, StoreError> {
        let events = projection::case_events(self.vault.conn(), case)?;
        let state = CaseState::from_events(case, &events);
        if state.registration.is_none() {
            return Err(StoreError::NotFound { case: case.to_string() });
        }
        Ok(state)
    }

    /// Event ids of the current heads of a field: the `base` a new write to
    /// it must carry (used to build foreign events for demo concurrent edits).
    pub fn heads(&self, case: Uuid, form: &str, item: Option<Uuid>, field: &str) -> Result<Vec<Uuid>, StoreError> {
        Ok(self.case_state(case)?.heads_of(form, item, field))
    }

    /// The signed events of one case in canonical order (for export/sync).
    pub fn case_events(&self, case: Uuid) -> Result<Vec<Event>, StoreError> {
        Ok(projection::case_events(self.vault.conn(), case)?)
    }

    /// Every stored event in canonical order (for export/sync and tests).
    pub fn all_events(&self) -> Result<Vec<Event>, StoreError> {
        let mut stmt = self.vault.conn().prepare("SELECT DISTINCT case_id FROM events ORDER BY case_id")?;
        let ids: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        let mut all = Vec::new();
        for id in ids {
            all.extend(projection::case_events(self.vault.conn(), uuid_col(id)?)?);
        }
        all.sort_by_key(Event::order_key);
        Ok(all)
    }
}

/// One stage a case may move to next ([`CaseStore::next_steps`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NextStep {
    /// The stage.
    pub to: Stage,
    /// The roles the lifecycle table lets make the move.
    pub roles: Vec<Role>,
    /// Why the reader cannot make it now (empty: allowed).
    pub blocked_by: Vec<lifecycle::RuleViolation>,
}

/// The summary columns (0–16) and, after them, the facts that decide who
/// sees the case ([`access_row`]: 17–18). The registration is the first
/// stage change; a case is on the panel's agenda once it entered
/// [`visibility::PANEL_STAGE`].
const SUMMARY_SELECT: &str = "SELECT id, case_number, case_type, office, stage, stage_before, caseworker, risk_level,
    given_names, family_name, sex, age_years, date_of_birth, needs_review, conflicts, updated_millis, updated_counter,
    (SELECT s.author FROM stage_history s WHERE s.case_id = cases.id ORDER BY s.seq LIMIT 1),
    EXISTS (SELECT 1 FROM stage_history s WHERE s.case_id = cases.id AND s.to_stage = 'bid_pending')
    FROM cases";

/// The condition that keeps tracing inquiries (`model::inquiry`) out of the
/// views of the cases of children.
const NOT_INQUIRY: &str = "case_type <> 'inquiry'";

pub(super) fn access_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CaseAccess> {
    Ok(CaseAccess { caseworker: r.get(6)?, registered_by: r.get(17)?, submitted_to_panel: r.get::<_, i64>(18)? != 0 })
}

/// A summary with the person columns withheld when the reader may not see
/// them.
pub(super) fn mask_summary(mut s: CaseSummary, reader: Reader<'_>) -> CaseSummary {
    if let Some(reason) = reader.identity() {
        s.given_names = None;
        s.family_name = None;
        s.date_of_birth = None;
        s.sex = None;
        s.age_years = None;
        s.risk_level = None;
        if reason == HiddenReason::AggregatesOnly {
            s.caseworker = None;
        }
        s.hidden = Some(reason);
    }
    s
}

pub(super) fn summary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CaseSummary> {
    let age: Option<String> = r.get(11)?;
    Ok(CaseSummary {
        id: uuid_col(r.get(0)?)?,
        case_number: r.get(1)?,
        case_type: r.get(2)?,
        office: r.get(3)?,
        stage: r.get(4)?,
        stage_before: r.get(5)?,
        caseworker: r.get(6)?,
        risk_level: r.get(7)?,
        given_names: r.get(8)?,
        family_name: r.get(9)?,
        sex: r.get(10)?,
        age_years: age.and_then(|a| a.parse::<f64>().ok()),
        date_of_birth: r.get(12)?,
        needs_review: r.get::<_, i64>(13)? != 0,
        conflicts: r.get::<_, i64>(14)? as u32,
        updated: Hlc { millis: r.get::<_, i64>(15)? as u64, counter: r.get(16)? },
        hidden: None,
    })
}
