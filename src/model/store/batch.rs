//! [`Batch`]: several local changes checked one after the other and
//! committed as one vault commit.

use std::collections::HashMap;

use rusqlite::params;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::model::event::{new_v7, Event, EventKind, Hlc, Role};
use crate::model::hlc::HlcClock;
use crate::model::lifecycle::{self, Stage};
use crate::model::projection::{self, CaseState};
use crate::model::visibility::{self, CaseAccess, Reader};

use super::checks::check_event;
use super::*;

/// Several local changes committed as one vault commit. Changes are checked
/// as they are added, against the case as it will be after the earlier
/// changes of the batch. Dropping a batch without [`Batch::commit`] discards
/// it.
pub struct Batch<'a> {
    pub(super) store: &'a mut CaseStore,
    pub(super) clock: HlcClock,
    pub(super) next_seq: u64,
    pub(super) events: Vec<Event>,
    pub(super) states: HashMap<Uuid, CaseState>,
    pub(super) numbers: HashMap<String, u32>,
    /// The person recording has been found allowed to record
    /// ([`CaseStore::check_may_record`], asked once per batch).
    pub(super) may_record: bool,
}

impl Batch<'_> {
    /// Number of events waiting to be committed.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Set the clock (see [`CaseStore::set_clock`]) for the following changes.
    pub fn set_clock(&mut self, millis: Option<u64>) {
        self.clock.set_clock(millis);
        self.store.clock.set_clock(millis);
    }

    /// Act as another user (see [`CaseStore::set_actor`]).
    pub fn set_actor(&mut self, user: &str, role: Role) -> Result<(), StoreError> {
        self.store.set_actor(user, role)
    }

    /// Commit every change in one vault commit.
    pub fn commit(self) -> Result<(), StoreError> {
        if self.events.is_empty() {
            return Ok(());
        }
        let entries = self.events.iter().map(Event::to_json).collect();
        let erases = self.events.iter().any(|e| e.kind == EventKind::CaseErasureApproved);
        self.store.vault.commit(entries)?;
        self.store.clock = self.clock;
        self.store.next_seq = self.next_seq;
        if erases {
            self.store.finish_erasures()?;
        }
        Ok(())
    }

    /// Commit every change together with sync bookkeeping entries (from
    /// `sync`), in one vault commit: a request to a partner and its record,
    /// or an imported answer and the mark that it was imported, are both
    /// written or neither.
    pub(crate) fn commit_with(self, sync: Vec<Value>) -> Result<(), StoreError> {
        if self.events.iter().any(|e| e.kind == EventKind::CaseErasureApproved) {
            return Err(StoreError::Malformed {
                event: Uuid::nil(),
                reason: "an erasure is committed on its own".into(),
            });
        }
        let mut entries: Vec<Value> = self.events.iter().map(Event::to_json).collect();
        entries.extend(sync);
        if entries.is_empty() {
            return Ok(());
        }
        self.store.vault.commit(entries)?;
        self.store.clock = self.clock;
        self.store.next_seq = self.next_seq;
        Ok(())
    }

    pub(super) fn state(&mut self, case: Uuid) -> Result<&CaseState, StoreError> {
        if !self.states.contains_key(&case) {
            let state = self.store.case_state(case)?;
            self.states.insert(case, state);
        }
        Ok(&self.states[&case])
    }

    /// Refuse a change to a case the acting person may not see, or to a
    /// restricted note of someone else (docs/visibility.md): the error
    /// names the case id only. Checked before any other rule, so a refusal
    /// says nothing about the case.
    pub(super) fn check_visible(&mut self, case: Uuid, form: Option<&str>, payload: &Value) -> Result<(), StoreError> {
        let (user, role, team) = (self.store.user.clone(), self.store.role, self.store.team.clone());
        let reader = Reader { user: &user, role, team: team.as_ref() };
        let state = self.state(case)?;
        let hidden = |reason| StoreError::Hidden { case: case.to_string(), reason };
        reader.case(&CaseAccess::of_state(state)).map_err(hidden)?;
        let item = payload.get("item").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
        if let (Some(visibility::NOTE_FORM), Some(item)) = (form, item) {
            if visibility::is_restricted_note(state, item) {
                let author = state.items.get(&(visibility::NOTE_FORM.to_string(), item)).map(|i| i.author.as_str());
                reader.restricted_note(author.unwrap_or_default()).map_err(hidden)?;
            }
        }
        Ok(())
    }

    /// Build, check and queue one event. On error nothing changes.
    pub(super) fn push(
        &mut self,
        case_id: Uuid,
        hlc: Hlc,
        kind: EventKind,
        form: Option<&str>,
        payload: Value,
        mut base: Vec<Uuid>,
    ) -> Result<Uuid, StoreError> {
        if !self.may_record {
            self.store.check_may_record()?;
            self.may_record = true;
        }
        if kind != EventKind::CaseRegistered {
            self.check_visible(case_id, form, &payload)?;
            // Record which stage the author saw (see `seen_by`): every head
            // of the stage register (several while the stage is in conflict).
            for head in self.state(case_id)?.stage_heads() {
                if !base.contains(&head) {
                    base.push(head);
                }
            }
        }
        let mut e = Event {
            id: new_v7(hlc.millis, &mut self.store.rng),
            case_id,
            device_id: self.store.signer_id(),
            device_seq: self.next_seq,
            hlc,
            author: self.store.user.clone(),
            role: self.store.role,
            kind,
            form: form.map(str::to_string),
            payload,
            base,
            sig: String::new(),
        };
        e.check_shape().map_err(|reason| StoreError::Malformed { event: e.id, reason })?;
        if kind == EventKind::CaseRegistered {
            check_event(&self.store.forms, &CaseState::new(case_id), &e)?;
            self.states.insert(case_id, CaseState::new(case_id));
        } else {
            check_event(&self.store.forms.clone(), self.state(case_id)?, &e)?;
            if e.form.as_deref() == Some("referral") {
                // Checked where the event is made only (see the rule).
                let facts = to_facts(self.state(case_id)?)?;
                let reg = &self.store.forms;
                if let Some(v) = lifecycle::referral_provider_service(&facts, &e, |p, s| reg.provider_offers(p, s)) {
                    return Err(StoreError::RuleViolated { violations: vec![v] });
                }
            }
        }
        e.sign(self.store.signer_key());
        self.states.get_mut(&case_id).expect("state loaded above").apply(&e);
        self.next_seq += 1;
        let id = e.id;
        self.events.push(e);
        Ok(id)
    }

    /// A timestamp for the next event; only kept if the event is accepted.
    pub(super) fn tick(&self) -> (HlcClock, Hlc) {
        let mut clock = self.clock.clone();
        let hlc = clock.now();
        (clock, hlc)
    }

    pub(super) fn push_now(
        &mut self,
        case: Uuid,
        kind: EventKind,
        form: Option<&str>,
        payload: Value,
        base: Vec<Uuid>,
    ) -> Result<Uuid, StoreError> {
        let (clock, hlc) = self.tick();
        let id = self.push(case, hlc, kind, form, payload, base)?;
        self.clock = clock;
        Ok(id)
    }

    /// See [`CaseStore::create_case`].
    pub fn create_case(&mut self, case_type: &str, office: &str) -> Result<Uuid, StoreError> {
        self.create_numbered(case_type, office, "")
    }

    /// Register a tracing inquiry (`model::inquiry`), numbered apart from
    /// the cases of children (`ABC-INQ-2026-00001`).
    pub fn create_inquiry(&mut self, office: &str) -> Result<Uuid, StoreError> {
        self.create_numbered(crate::model::inquiry::CASE_TYPE, office, "INQ-")
    }

    pub(super) fn create_numbered(&mut self, case_type: &str, office: &str, infix: &str) -> Result<Uuid, StoreError> {
        let (clock, hlc) = self.tick();
        let case_id = new_v7(hlc.millis, &mut self.store.rng);
        let case_number = self.next_case_number(office, infix, hlc)?;
        let payload = json!({"case_type": case_type, "case_number": case_number, "office": office});
        self.push(case_id, hlc, EventKind::CaseRegistered, None, payload, Vec::new())?;
        self.clock = clock;
        Ok(case_id)
    }

    /// Office prefix (three letters) - year - sequence within this vault.
    pub(super) fn next_case_number(&mut self, office: &str, infix: &str, hlc: Hlc) -> Result<String, StoreError> {
        let letters: String =
            office.chars().filter(char::is_ascii_alphabetic).take(3).collect::<String>().to_ascii_uppercase();
        let prefix = format!(
            "{}-{infix}{}-",
            if letters.len() == 3 { letters } else { "CAS".to_string() },
            chrono::Datelike::year(&date_of(hlc.millis))
        );
        let next = match self.numbers.get(&prefix) {
            Some(n) => n + 1,
            None => {
                let max: Option<String> = self.store.vault.conn().query_row(
                    "SELECT MAX(case_number) FROM cases WHERE substr(case_number, 1, ?2) = ?1",
                    params![prefix, prefix.len() as i64],
                    |r| r.get(0),
                )?;
                max.and_then(|m| m[prefix.len()..].parse::<u32>().ok()).unwrap_or(0) + 1
            }
        };
        self.numbers.insert(prefix.clone(), next);
        Ok(format!("{prefix}{next:05}"))
    }

    /// See [`CaseStore::save_form`].
    pub fn save_form(
        &mut self,
        case: Uuid,
        form: &str,
        item: Option<Uuid>,
        values: Map<String, Value>,
    ) -> Result<(), StoreError> {
        let state = self.state(case)?;
        let mut base: Vec<Uuid> = values.keys().flat_map(|f| state.heads_of(form, item, f)).collect();
        base.sort();
        base.dedup();
        let mut payload = json!({ "values": values });
        if let Some(item) = item {
            payload["item"] = json!(item);
        }
        self.push_now(case, EventKind::FormSaved, Some(form), payload, base)?;
        Ok(())
    }

    /// See [`CaseStore::change_stage`].
    pub fn change_stage(&mut self, case: Uuid, to: Stage, reason: &str) -> Result<(), StoreError> {
        let payload = json!({"to": stage_name(to), "reason": reason});
        self.push_now(case, EventKind::StatusChanged, None, payload, Vec::new())?;
        Ok(())
    }

    pub(super) fn add_item(
        &mut self,
        case: Uuid,
        kind: EventKind,
        values: Map<String, Value>,
    ) -> Result<Uuid, StoreError> {
        let (clock, hlc) = self.tick();
        let item = new_v7(hlc.millis, &mut self.store.rng);
        let form = kind.item_form().expect("only item-creating kinds come here");
        self.push(case, hlc, kind, Some(form), json!({"item": item, "values": values}), Vec::new())?;
        self.clock = clock;
        Ok(item)
    }

    /// See [`CaseStore::add_note`].
    pub fn add_note(&mut self, case: Uuid, values: Map<String, Value>) -> Result<Uuid, StoreError> {
        self.add_item(case, EventKind::NoteAdded, values)
    }

    /// See [`CaseStore::record_visit`].
    pub fn record_visit(&mut self, case: Uuid, values: Map<String, Value>) -> Result<Uuid, StoreError> {
        self.add_item(case, EventKind::VisitRecorded, values)
    }

    /// See [`CaseStore::make_referral`].
    pub fn make_referral(&mut self, case: Uuid, values: Map<String, Value>) -> Result<Uuid, StoreError> {
        self.add_item(case, EventKind::ReferralMade, values)
    }

    /// See [`CaseStore::assign`].
    pub fn assign(&mut self, case: Uuid, caseworker: &str) -> Result<(), StoreError> {
        self.push_now(case, EventKind::CaseAssigned, None, json!({"caseworker": caseworker}), Vec::new())?;
        Ok(())
    }

    /// See [`CaseStore::resolve_conflict`].
    pub fn resolve_conflict(
        &mut self,
        case: Uuid,
        form: &str,
        item: Option<Uuid>,
        field: &str,
        value: Value,
    ) -> Result<(), StoreError> {
        let state = self.state(case)?;
        let heads = state.heads_of(form, item, field);
        if heads.len() < 2 {
            return Err(StoreError::NoConflict { form: form.to_string(), field: field.to_string() });
        }
        // A value that is one of the heads' is that head chosen (the newest
        // such head); any other value names no head, which only a normal
        // field accepts.
        let chosen = state
            .register(form, item, field)
            .and_then(|r| r.heads().into_iter().rev().find(|w| w.value == value).map(|w| w.event));
        self.push_field_resolution(case, form, item, field, value, chosen, heads)
    }

    /// See [`CaseStore::resolve_conflict_head`].
    pub fn resolve_conflict_head(
        &mut self,
        case: Uuid,
        form: &str,
        item: Option<Uuid>,
        field: &str,
        head: Uuid,
    ) -> Result<(), StoreError> {
        if form == projection::STAGE_FORM && field == projection::STAGE_FIELD && item.is_none() {
            return self.resolve_stage_conflict(case, head, "");
        }
        let state = self.state(case)?;
        let heads: Vec<(Uuid, Value)> = state
            .register(form, item, field)
            .map(|r| r.heads().into_iter().map(|w| (w.event, w.value.clone())).collect())
            .unwrap_or_default();
        if heads.len() < 2 {
            return Err(StoreError::NoConflict { form: form.to_string(), field: field.to_string() });
        }
        let Some((_, value)) = heads.iter().find(|(id, _)| *id == head) else {
            return Err(StoreError::NotAHead { form: form.to_string(), field: field.to_string(), event: head });
        };
        let value = value.clone();
        let base = heads.into_iter().map(|(id, _)| id).collect();
        self.push_field_resolution(case, form, item, field, value, Some(head), base)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn push_field_resolution(
        &mut self,
        case: Uuid,
        form: &str,
        item: Option<Uuid>,
        field: &str,
        value: Value,
        chosen: Option<Uuid>,
        heads: Vec<Uuid>,
    ) -> Result<(), StoreError> {
        let mut payload = json!({"form": form, "field": field, "value": value});
        if let Some(item) = item {
            payload["item"] = json!(item);
        }
        if let Some(chosen) = chosen {
            payload["chosen"] = json!(chosen);
        }
        self.push_now(case, EventKind::ConflictResolved, Some(form), payload, heads)?;
        Ok(())
    }

    /// See [`CaseStore::resolve_stage_conflict`].
    pub fn resolve_stage_conflict(&mut self, case: Uuid, head: Uuid, reason: &str) -> Result<(), StoreError> {
        let state = self.state(case)?;
        let view = state.stage_view();
        let no_conflict =
            || StoreError::NoConflict { form: projection::STAGE_FORM.into(), field: projection::STAGE_FIELD.into() };
        if !view.in_conflict {
            return Err(no_conflict());
        }
        let Some(kept) = view.heads.iter().find(|h| h.event == head) else {
            return Err(StoreError::NotAHead {
                form: projection::STAGE_FORM.into(),
                field: projection::STAGE_FIELD.into(),
                event: head,
            });
        };
        let payload = json!({
            "form": projection::STAGE_FORM,
            "field": projection::STAGE_FIELD,
            "value": kept.to,
            "chosen": head,
            "reason": reason,
        });
        let base = view.heads.iter().map(|h| h.event).collect();
        self.push_now(case, EventKind::ConflictResolved, None, payload, base)?;
        Ok(())
    }

    /// Queue an already-built event of another kind (attachment, merge,
    /// transfer…) after the same checks; `hlc`, ids, device, sequence, author
    /// and signature are filled in here.
    pub fn record(
        &mut self,
        case: Uuid,
        kind: EventKind,
        form: Option<&str>,
        payload: Value,
        base: Vec<Uuid>,
    ) -> Result<Uuid, StoreError> {
        self.push_now(case, kind, form, payload, base)
    }
}
