//! The rules an event is checked against before it is created or
//! imported: its form's values, the role, the lifecycle rules on the case's
//! facts (kept up to date event by event while a batch or an import runs).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::model::erasure;
use crate::model::event::{Event, EventKind, Role};
use crate::model::forms;
use crate::model::lifecycle::{self, CaseFacts, Stage};
use crate::model::projection::{self, CaseState};
use crate::model::roles;
use crate::model::visibility::CaseAccess;

use super::*;

pub fn to_facts(state: &CaseState) -> Result<CaseFacts, StoreError> {
    let reg = state.registration.as_ref().ok_or_else(|| StoreError::NotFound { case: state.case_id.to_string() })?;
    let stage = stage_facts(&state.stage_view()).ok_or_else(|| StoreError::Malformed {
        event: state.stage_history.last().map_or(Uuid::nil(), |c| c.event),
        reason: format!("unknown stage {:?}", state.stage.as_deref().unwrap_or("identified")),
    })?;
    let mut values = BTreeMap::new();
    for (key, register) in &state.registers {
        if key.item.is_some() {
            continue;
        }
        if let Some(w) = register.newest() {
            if !w.value.is_null() {
                values.insert(format!("{}.{}", key.form, key.field), w.value.clone());
            }
        }
    }
    let mut items: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (form, item) in state.items.keys() {
        items.entry(form.clone()).or_default().push(Value::Null);
        let _ = item;
    }
    for (form, list) in items.iter_mut() {
        *list = state
            .items_of(form)
            .into_iter()
            .map(|(id, _)| {
                let mut values = state.item_values(form, id);
                // The rules merge an item edit with the item's earlier values by this id.
                values.insert("_item".into(), Value::String(id.to_string()));
                Value::Object(values)
            })
            .collect();
    }
    let StageFacts { stage, stage_before, stage_dates, stage_conflict } = stage;
    Ok(CaseFacts {
        case_id: state.case_id,
        case_type: reg.case_type.clone(),
        stage,
        stage_before,
        values,
        items,
        stage_dates,
        stage_conflict,
        access: CaseAccess::of_state(state),
    })
}

/// The stage part of [`CaseFacts`].
#[derive(Debug, PartialEq)]
pub(super) struct StageFacts {
    stage: Stage,
    stage_before: Option<Stage>,
    stage_dates: Vec<(Stage, chrono::NaiveDate)>,
    stage_conflict: Vec<lifecycle::StageHead>,
}

impl StageFacts {
    pub(super) fn differs_from(&self, f: &CaseFacts) -> bool {
        self.stage != f.stage
            || self.stage_before != f.stage_before
            || self.stage_dates != f.stage_dates
            || self.stage_conflict != f.stage_conflict
    }

    pub(super) fn put_into(self, f: &mut CaseFacts) {
        f.stage = self.stage;
        f.stage_before = self.stage_before;
        f.stage_dates = self.stage_dates;
        f.stage_conflict = self.stage_conflict;
    }
}

/// The rules' view of a stage view: the effective stage (None when it is
/// not a known stage), the dates of the changes that apply, and the heads
/// when they conflict.
pub(super) fn stage_facts(view: &projection::StageView<'_>) -> Option<StageFacts> {
    let stage = stage_of(view.stage().unwrap_or("identified"))?;
    let stage_conflict = if view.in_conflict {
        view.heads
            .iter()
            .filter_map(|h| Some(lifecycle::StageHead { event: h.event, stage: stage_of(&h.to)?, role: h.role }))
            .collect()
    } else {
        Vec::new()
    };
    Some(StageFacts {
        stage,
        stage_before: view.stage_before().and_then(stage_of),
        stage_dates: view.path.iter().filter_map(|c| stage_of(&c.to).map(|s| (s, date_of(c.hlc.millis)))).collect(),
        stage_conflict,
    })
}

/// Role and form checks that do not depend on the lifecycle rules, then the
/// lifecycle rules. `state` is the case before `e`.
pub(super) fn check_event(reg: &forms::FormRegistry, state: &CaseState, e: &Event) -> Result<(), StoreError> {
    check_event_with(reg, state, e, &mut LiveFacts::default())
}

/// [`check_event`] with the case's facts kept by the caller across the
/// events of a fold (an import checks every event of a case in turn).
pub(super) fn check_event_with(
    reg: &forms::FormRegistry,
    state: &CaseState,
    e: &Event,
    live: &mut LiveFacts,
) -> Result<(), StoreError> {
    if e.role == Role::Viewer {
        return Err(StoreError::Forbidden { role: e.role, action: format!("record {}", e.kind) });
    }
    if e.kind == EventKind::CaseRegistered {
        // Registering a child is recording case data (a caseworker or a
        // supervisor); the panel, the data manager and the viewer open no case.
        if !roles::may(e.role, roles::Action::RecordCaseData) {
            return Err(StoreError::Forbidden { role: e.role, action: "register a case".into() });
        }
        return if state.registration.is_none() && state.event_count == 0 {
            Ok(())
        } else {
            Err(StoreError::Malformed { event: e.id, reason: "case is already registered".into() })
        };
    }
    if erasure::is_erasure_kind(e.kind) {
        // Checked against the request the author saw; a device may receive
        // the erasure of a case it never held (the office sends erasures to
        // every device), so no registration is needed.
        return erasure::check(state.erasure_request.as_ref(), state.erased, e)
            .map_err(|violations| StoreError::RuleViolated { violations });
    }
    if state.registration.is_none() {
        return Err(StoreError::NotFound { case: e.case_id.to_string() });
    }
    match e.kind {
        EventKind::FormSaved | EventKind::NoteAdded | EventKind::VisitRecorded | EventKind::ReferralMade => {
            let form = e.form.as_deref().unwrap_or_default();
            let values = e.payload.get("values").and_then(Value::as_object).cloned().unwrap_or_default();
            validate(reg, form, &values)?;
        }
        EventKind::ConflictResolved if projection::is_stage_resolution(e) => {}
        EventKind::ConflictResolved => {
            let s = |k: &str| e.payload.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            let (form, field) = (s("form"), s("field"));
            let mut one = Map::new();
            one.insert(field.clone(), e.payload.get("value").cloned().unwrap_or(Value::Null));
            validate(reg, &form, &one)?;
            let protected = is_protected(&form, &field);
            if !roles::may_resolve(e.role, roles::ConflictSubject::Field { form: &form, protected }) {
                return Err(StoreError::Forbidden {
                    role: e.role,
                    action: format!(
                        "resolve a conflict on {}field {form}.{field}",
                        if protected { "protected " } else { "" }
                    ),
                });
            }
            check_field_resolution(state, e, &form, &field, protected)?;
        }
        _ => {}
    }
    let facts = seen_by(Cow::Borrowed(live.get(state)?), state, e);
    if projection::is_stage_resolution(e)
        && !facts.stage_conflict.is_empty()
        && !lifecycle::stage_resolvers(&facts).contains(&e.role)
    {
        return Err(StoreError::Forbidden { role: e.role, action: "resolve a stage conflict".into() });
    }
    lifecycle::check(&facts, e).map_err(|violations| StoreError::RuleViolated { violations })
}

/// The rule the conflict screens used to keep to themselves, here so that
/// every interface and every import keeps it: a `conflict.resolved` of a
/// field settles a conflict its author saw (its base names at least two
/// writes of the field) and, when it names the value it keeps
/// (`payload.chosen`), that value is one of those writes with exactly its
/// value. A protected field is only ever settled by choosing one of the
/// values in conflict; a normal field may also be given a typed value.
pub(super) fn check_field_resolution(
    state: &CaseState,
    e: &Event,
    form: &str,
    field: &str,
    protected: bool,
) -> Result<(), StoreError> {
    let item = e.payload.get("item").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
    let named: Vec<&projection::Write> = state
        .register(form, item, field)
        .map(|r| r.writes.values().filter(|w| e.base.contains(&w.event)).collect())
        .unwrap_or_default();
    if named.len() < 2 {
        return Err(StoreError::NoConflict { form: form.to_string(), field: field.to_string() });
    }
    let violation = |code| StoreError::RuleViolated {
        violations: vec![lifecycle::RuleViolation::new("conflict", code, &[("form", &form), ("field", &field)])],
    };
    match projection::chosen_head(e) {
        Some(chosen) => match named.iter().find(|w| w.event == chosen) {
            None => Err(StoreError::NotAHead { form: form.to_string(), field: field.to_string(), event: chosen }),
            Some(w) if Some(&w.value) != e.payload.get("value") => {
                Err(violation(crate::model::violation::ViolationCode::ResolutionValueNotHead))
            }
            Some(_) => Ok(()),
        },
        None if protected => Err(violation(crate::model::violation::ViolationCode::ProtectedFieldNeedsChoice)),
        None => Ok(()),
    }
}

/// The facts of a case ([`to_facts`]) kept current through a fold, so that
/// checking each event of an import does not rebuild them from the whole
/// state: after each event only the fields it wrote, the items it created
/// or changed and, when the stage changed, the stage facts are updated.
/// Debug builds compare the result with [`to_facts`] after every event.
#[derive(Default)]
pub(super) struct LiveFacts {
    /// `to_facts(state)`, once built (None until the first check needs it,
    /// or after a stage that [`to_facts`] refuses: it is then rebuilt, and
    /// fails, where a fresh build would).
    facts: Option<CaseFacts>,
    /// Stage changes folded into `facts`.
    stage_len: usize,
}

impl LiveFacts {
    pub(super) fn get(&mut self, state: &CaseState) -> Result<&CaseFacts, StoreError> {
        if self.facts.is_none() {
            self.facts = Some(to_facts(state)?);
            self.stage_len = state.stage_history.len();
        }
        Ok(self.facts.as_ref().expect("built above"))
    }

    /// Bring the facts up to date after `state.apply(e)`.
    pub(super) fn applied(&mut self, state: &CaseState, e: &Event) {
        let Some(facts) = self.facts.as_mut() else { return };
        if self.stage_len != state.stage_history.len() {
            // A stage write can shorten or switch the path (a fork, a
            // resolution): the stage facts are recomputed, which is cheap.
            let Some(stage) = stage_facts(&state.stage_view()) else {
                self.facts = None;
                return;
            };
            stage.put_into(facts);
            self.stage_len = state.stage_history.len();
            facts.access = CaseAccess::of_state(state);
        } else if e.kind == EventKind::CaseAssigned {
            facts.access = CaseAccess::of_state(state);
        }
        // Only registers `e` wrote can have a new newest head.
        let mut touched: BTreeSet<(&str, Uuid)> = BTreeSet::new();
        for (key, register) in &state.registers {
            if !register.writes.contains_key(&e.id) {
                continue;
            }
            match key.item {
                None => {
                    let name = format!("{}.{}", key.form, key.field);
                    match register.newest().filter(|w| !w.value.is_null()) {
                        Some(w) => {
                            facts.values.insert(name, w.value.clone());
                        }
                        None => {
                            facts.values.remove(&name);
                        }
                    }
                }
                Some(item) => {
                    touched.insert((&key.form, item));
                }
            }
        }
        // Items `e` created, also those it wrote no field of.
        for ((form, item), info) in &state.items {
            if info.created_event == e.id {
                touched.insert((form, *item));
            }
        }
        for (form, item) in touched {
            refresh_item(facts, state, form, item);
        }
        debug_assert_eq!(Some(&*facts), to_facts(state).ok().as_ref(), "live facts drifted from to_facts");
    }
}

/// Put the current values of one item into `facts.items` (as [`to_facts`]
/// lists them: items of a form in creation order, each with `_item`).
pub(super) fn refresh_item(facts: &mut CaseFacts, state: &CaseState, form: &str, item: Uuid) {
    // Registers of an item that was never created (a conflict.resolved
    // naming an unknown item) are not listed, as in `to_facts`.
    if !state.items.contains_key(&(form.to_string(), item)) {
        return;
    }
    let id = Value::String(item.to_string());
    let mut values = state.item_values(form, item);
    values.insert("_item".into(), id.clone());
    let list = facts.items.entry(form.to_string()).or_default();
    if let Some(slot) = list.iter_mut().find(|v| v.get("_item") == Some(&id)) {
        *slot = Value::Object(values);
        return;
    }
    // A new item: the fold is in canonical order, so it was created after
    // the form's other items and goes last. Anything else (not expected)
    // rebuilds the form's list as `to_facts` orders it.
    let created = |v: &Value| {
        let id = v.get("_item").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok())?;
        state.items.get(&(form.to_string(), id)).map(|info| info.created)
    };
    let after_last = match (list.last(), state.items.get(&(form.to_string(), item))) {
        (None, _) => true,
        (Some(last), Some(info)) => created(last).is_some_and(|c| c < info.created),
        (Some(_), None) => false,
    };
    list.push(Value::Object(values));
    if !after_last || list.len() != state.items.keys().filter(|(f, _)| f == form).count() {
        let order: Vec<Uuid> = state.items_of(form).into_iter().map(|(id, _)| id).collect();
        *list = order
            .into_iter()
            .map(|id| {
                let mut values = state.item_values(form, id);
                values.insert("_item".into(), Value::String(id.to_string()));
                Value::Object(values)
            })
            .collect();
    }
}

/// The facts a rule check of `e` uses: the case before `e`, except that each
/// field `e` writes has the value its author replaced (the newest write named
/// in `e.base`, or no value), not whatever a concurrent device wrote. Rules
/// about a value's change ("lowering the risk level from high needs a
/// supervisor") then judge what the author actually changed, so two devices
/// that wrote concurrently are each judged on their own edit, whatever order
/// their events arrive in. For a locally created event the base is the
/// current heads, so this is the current case.
///
/// Likewise the stage: every event names in its base the stage event its
/// author saw ([`CaseState::stage_head`]); the rules judge it against that
/// stage, so an edit made offline before another device closed (or merged,
/// or moved) the case is not refused when the two meet, and two devices
/// making the same move concurrently are both accepted. Events that name no
/// stage event are judged against the current stage.
///
/// `facts` are the current case's facts; they are copied only when what
/// `e`'s author saw differs from them.
pub(super) fn seen_by<'a>(mut facts: Cow<'a, CaseFacts>, state: &CaseState, e: &Event) -> Cow<'a, CaseFacts> {
    if !state.saw_current_stage(&e.base) {
        if let Some(seen) = state.stage_seen_by(&e.base).as_ref().and_then(stage_facts) {
            if seen.differs_from(&facts) {
                seen.put_into(facts.to_mut());
            }
        }
    }
    if e.kind != EventKind::FormSaved || e.item().is_some() {
        return facts;
    }
    let (Some(form), Some(values)) = (e.form.as_deref(), e.payload.get("values").and_then(Value::as_object)) else {
        return facts;
    };
    for field in values.keys() {
        let key = format!("{form}.{field}");
        let seen = state
            .register(form, None, field)
            .and_then(|r| r.writes.values().filter(|w| e.base.contains(&w.event)).max_by_key(|w| w.key));
        match seen {
            Some(w) if !w.value.is_null() => {
                if facts.values.get(&key) != Some(&w.value) {
                    facts.to_mut().values.insert(key, w.value.clone());
                }
            }
            _ => {
                if facts.values.contains_key(&key) {
                    facts.to_mut().values.remove(&key);
                }
            }
        }
    }
    facts
}
