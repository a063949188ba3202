//! [`CaseState`]: a case folded from its events in canonical order — its
//! registration, stage history, registers and items.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::*;

/// The registration facts of a case.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// `uasc`, `accompanied_child_at_risk` or `family_with_children`.
    pub case_type: String,
    /// Human case number, e.g. `AGZ-2026-00123`.
    pub case_number: String,
    /// Office name.
    pub office: String,
    /// When it was registered.
    pub hlc: Hlc,
}

/// One write to the case's stage: the registration, a `status.changed`,
/// or a `conflict.resolved` that settles a stage conflict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageChange {
    /// The event.
    pub event: Uuid,
    /// The stage its author moved from: the stage of the stage events it
    /// was made on ([`StageChange::parents`]; None for the registration).
    pub from: Option<String>,
    /// Stage after.
    pub to: String,
    /// Reason given.
    pub reason: String,
    /// When.
    pub hlc: Hlc,
    /// Who.
    pub author: String,
    /// In which role.
    pub role: Role,
    /// Device that signed it.
    #[serde(default)]
    pub device: Uuid,
    /// The stage events it was made on: those named in its `base` that
    /// were folded before it (for an event that names none, every head at
    /// that point of the fold: it is taken to have seen them all).
    #[serde(default)]
    pub parents: Vec<Uuid>,
    /// The stage to return to after it (`stage_before`).
    #[serde(default)]
    pub before: Option<String>,
    /// For a stage conflict resolution: the head it keeps (its stage is
    /// that head's; it is no transition of its own).
    #[serde(default)]
    pub chosen: Option<Uuid>,
}

/// `conflict.resolved` payload `form` and `field` that name the case's
/// stage instead of a form field (no form has the id `case`).
pub const STAGE_FORM: &str = "case";
/// See [`STAGE_FORM`].
pub const STAGE_FIELD: &str = "stage";

/// Whether a `conflict.resolved` event settles the stage (payload form
/// [`STAGE_FORM`], field [`STAGE_FIELD`]) rather than a field.
pub fn is_stage_resolution(e: &Event) -> bool {
    e.kind == EventKind::ConflictResolved
        && e.payload.get("form").and_then(Value::as_str) == Some(STAGE_FORM)
        && e.payload.get("field").and_then(Value::as_str) == Some(STAGE_FIELD)
}

/// The head a `conflict.resolved` event keeps (`payload.chosen`), if it
/// names one.
pub fn chosen_head(e: &Event) -> Option<Uuid> {
    e.payload.get("chosen").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok())
}

/// The case's stage as some set of stage heads gives it (the current
/// heads, or those an event's author saw): see [`CaseState::stage_view`].
#[derive(Debug, Clone, PartialEq)]
pub struct StageView<'a> {
    /// The heads, oldest first.
    pub heads: Vec<&'a StageChange>,
    /// The heads disagree (different stage, or a different stage to return
    /// to): a stage conflict, settled only by a person.
    pub in_conflict: bool,
    /// The stage changes that apply, oldest first: the path from the
    /// registration to the effective stage. In a conflict it ends at the
    /// last stage all heads agree on (the newest stage change every head
    /// was made on, directly or not), so no concurrent change is applied
    /// before a person chooses. A resolution is not on it: the path runs
    /// through the head it keeps.
    pub path: Vec<&'a StageChange>,
}

impl StageView<'_> {
    /// The effective stage (wire name): the last change on the path.
    pub fn stage(&self) -> Option<&str> {
        self.path.last().map(|c| c.to.as_str())
    }

    /// The stage to return to from the effective stage.
    pub fn stage_before(&self) -> Option<&str> {
        self.path.last().and_then(|c| c.before.as_deref())
    }
}

/// A list item (note, visit, referral, family member, attachment…).
#[derive(Debug, Clone, PartialEq)]
pub struct ItemInfo {
    /// Kind of the event that created it.
    pub kind: EventKind,
    /// That event.
    pub created_event: Uuid,
    /// Its order key.
    pub created: OrderKey,
    /// Its author.
    pub author: String,
}

/// The in-memory projection of one case: a fold of its events in canonical
/// order.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseState {
    /// The case.
    pub case_id: Uuid,
    /// Set by the first `case.registered`.
    pub registration: Option<Registration>,
    /// Current stage (wire name).
    pub stage: Option<String>,
    /// Stage before entering suspended_lost_contact / closure_pending / reopened.
    pub stage_before: Option<String>,
    /// Every stage write in canonical order (the registration first),
    /// concurrent ones and resolutions included; the changes that apply
    /// are [`CaseState::stage_view`]'s path.
    pub stage_history: Vec<StageChange>,
    /// Every event id named in the `base` of a stage write (and the heads a
    /// stage change naming none was taken to have seen): the stage
    /// register's superseded writes.
    pub stage_superseded: Superseded,
    /// Assigned caseworker.
    pub caseworker: Option<String>,
    /// Field registers.
    pub registers: BTreeMap<RegisterKey, Register>,
    /// List items by (form, item).
    pub items: BTreeMap<(String, Uuid), ItemInfo>,
    /// Set by `case.merged`.
    pub merged_into: Option<Uuid>,
    /// Set by `case.transferred`.
    pub transferred_to: Option<String>,
    /// Set by `case.erased` and `case.erasure_approved`.
    pub erased: bool,
    /// The latest `case.erasure_requested` (what an approval must match).
    pub erasure_request: Option<crate::model::erasure::Request>,
    /// Oldest event.
    pub created: Option<Hlc>,
    /// Newest event.
    pub updated: Option<Hlc>,
    /// Number of events folded.
    pub event_count: u64,
    /// Order key of the last event folded.
    pub last_key: Option<OrderKey>,
}

/// Stages whose entry remembers the stage left (to return to it).
pub const REMEMBERS_PREVIOUS: &[&str] = &["suspended_lost_contact", "closure_pending", "reopened", "duplicate"];

impl CaseState {
    /// An empty case.
    pub fn new(case_id: Uuid) -> CaseState {
        CaseState {
            case_id,
            registration: None,
            stage: None,
            stage_before: None,
            stage_history: Vec::new(),
            stage_superseded: Superseded::default(),
            caseworker: None,
            registers: BTreeMap::new(),
            items: BTreeMap::new(),
            merged_into: None,
            transferred_to: None,
            erased: false,
            erasure_request: None,
            created: None,
            updated: None,
            event_count: 0,
            last_key: None,
        }
    }

    /// Fold from events in any order: sorts them canonically first.
    pub fn from_events<'a>(case_id: Uuid, events: impl IntoIterator<Item = &'a Event>) -> CaseState {
        let mut sorted: Vec<&Event> = events.into_iter().collect();
        sorted.sort_by_key(|e| e.order_key());
        sorted.dedup_by_key(|e| e.id);
        let mut state = CaseState::new(case_id);
        for e in sorted {
            state.apply(e);
        }
        state
    }

    /// Fold one event. Callers pass events in canonical order; malformed
    /// payload parts are skipped (events are shape-checked before they are
    /// stored, so this only matters for a tampered database).
    pub fn apply(&mut self, e: &Event) {
        debug_assert!(!matches!(self.last_key, Some(k) if k >= e.order_key()), "events folded out of canonical order");
        self.last_key = Some(e.order_key());
        self.event_count += 1;
        self.created = Some(self.created.map_or(e.hlc, |c| c.min(e.hlc)));
        self.updated = Some(self.updated.map_or(e.hlc, |u| u.max(e.hlc)));
        let p = &e.payload;
        let s = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
        match e.kind {
            EventKind::CaseRegistered => {
                if self.registration.is_none() {
                    self.registration = Some(Registration {
                        case_type: s("case_type").unwrap_or_default(),
                        case_number: s("case_number").unwrap_or_default(),
                        office: s("office").unwrap_or_default(),
                        hlc: e.hlc,
                    });
                    if self.stage_history.is_empty() {
                        self.set_stage(e, "identified".into(), String::new(), None);
                    }
                }
            }
            EventKind::FormSaved => {
                let Some(form) = e.form.clone() else { return };
                let item = e.item();
                if let Some(item) = item {
                    self.ensure_item(&form, item, e);
                }
                self.write_values(e, &form, item);
            }
            EventKind::NoteAdded | EventKind::VisitRecorded | EventKind::ReferralMade => {
                let Some(form) = e.form.clone() else { return };
                let Some(item) = e.item() else { return };
                self.ensure_item(&form, item, e);
                self.write_values(e, &form, Some(item));
            }
            EventKind::StatusChanged => {
                if let Some(to) = s("to") {
                    self.set_stage(e, to, s("reason").unwrap_or_default(), None);
                }
            }
            EventKind::CaseAssigned => {
                if let Some(cw) = s("caseworker") {
                    self.caseworker = Some(cw);
                }
            }
            EventKind::ConflictResolved if is_stage_resolution(e) => {
                // Applied only when it keeps a stage event it names in its
                // base and that is folded already (the rules refuse any
                // other; skipped here like any malformed part).
                let Some(chosen) = chosen_head(e).filter(|c| e.base.contains(c)) else { return };
                let Some(kept) = self.stage_history.iter().find(|c| c.event == chosen) else { return };
                let to = kept.to.clone();
                self.set_stage(e, to, s("reason").unwrap_or_default(), Some(chosen));
            }
            EventKind::ConflictResolved => {
                let (Some(form), Some(field)) = (s("form"), s("field")) else { return };
                let item = s("item").and_then(|i| Uuid::parse_str(&i).ok());
                let value = p.get("value").cloned().unwrap_or(Value::Null);
                self.write(e, RegisterKey { form, item, field }, value);
            }
            EventKind::AttachmentAdded => {
                let Some(item) = e.item() else { return };
                let form = e.form.clone().unwrap_or_else(|| "attachment".to_string());
                self.ensure_item(&form, item, e);
                for field in ["blob", "name", "mime"] {
                    if let Some(v) = p.get(field) {
                        self.write(
                            e,
                            RegisterKey { form: form.clone(), item: Some(item), field: field.into() },
                            v.clone(),
                        );
                    }
                }
            }
            EventKind::CaseMerged => {
                self.merged_into = s("duplicate_of").and_then(|d| Uuid::parse_str(&d).ok());
            }
            EventKind::CaseSplit => self.merged_into = None,
            // A review decision read by reports (25b); it changes no field.
            EventKind::CaseNotDuplicate => {}
            EventKind::CaseTransferred => self.transferred_to = s("to"),
            EventKind::CaseErased => self.erased = true,
            // Only the rules read these: once an approval is applied the
            // store keeps no rows of the case (`model::erasure::purge`).
            EventKind::CaseErasureRequested => {
                self.erasure_request = Some(crate::model::erasure::Request::of(e));
            }
            EventKind::CaseErasureApproved => self.erased = true,
            // Accepted only for an erased case, which has no state.
            EventKind::CaseEventErased => {}
        }
    }

    /// Fold one stage write. The stage is a multi-value register like a
    /// field: a write supersedes the stage events named in its base; the
    /// heads are the writes no later write names. Its `from` is the stage
    /// its author saw, so each change is recorded as the transition that
    /// was made (and checked), not as one from whatever stage a concurrent
    /// device reached.
    fn set_stage(&mut self, e: &Event, to: String, reason: String, chosen: Option<Uuid>) {
        let mut parents: Vec<usize> =
            (0..self.stage_history.len()).filter(|&i| e.base.contains(&self.stage_history[i].event)).collect();
        if parents.is_empty() {
            // Names no stage event (made before events recorded the stage
            // their author saw): it saw every stage change folded before it.
            parents = self.stage_head_indices();
        }
        self.stage_superseded.extend(e.base.iter().copied());
        for &i in &parents {
            let id = self.stage_history[i].event;
            self.stage_superseded.insert(id);
        }
        let seen = self.effective_of(&parents);
        let from = seen.map(|i| self.stage_history[i].to.clone());
        let before = match chosen {
            Some(c) => self.stage_history.iter().find(|h| h.event == c).and_then(|h| h.before.clone()),
            None if REMEMBERS_PREVIOUS.contains(&to.as_str()) => from.clone(),
            None => None,
        };
        let parents = parents.iter().map(|&i| self.stage_history[i].event).collect();
        self.stage_history.push(StageChange {
            event: e.id,
            from,
            to,
            reason,
            hlc: e.hlc,
            author: e.author.clone(),
            role: e.role,
            device: e.device_id,
            parents,
            before,
            chosen,
        });
        let view = self.stage_view();
        let (stage, before) = (view.stage().map(str::to_string), view.stage_before().map(str::to_string));
        self.stage = stage;
        self.stage_before = before;
    }

    fn stage_index(&self, event: Uuid) -> Option<usize> {
        self.stage_history.iter().position(|c| c.event == event)
    }

    /// Indices of the stage writes no later write supersedes. If a (forged)
    /// cycle of bases left none, every write counts, as for a register.
    fn stage_head_indices(&self) -> Vec<usize> {
        let heads: Vec<usize> = (0..self.stage_history.len())
            .filter(|&i| !self.stage_superseded.contains(&self.stage_history[i].event))
            .collect();
        if heads.is_empty() {
            (0..self.stage_history.len()).collect()
        } else {
            heads
        }
    }

    /// Whether two stage writes leave the case in the same place.
    fn same_stage(&self, a: usize, b: usize) -> bool {
        let (a, b) = (&self.stage_history[a], &self.stage_history[b]);
        a.to == b.to && a.before == b.before
    }

    /// The stage write `i` and every one it was made on, directly or not.
    fn stage_ancestors(&self, i: usize) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![i];
        while let Some(j) = todo.pop() {
            if seen.insert(j) {
                todo.extend(self.stage_history[j].parents.iter().filter_map(|p| self.stage_index(*p)));
            }
        }
        seen
    }

    /// The stage write that gives the stage of the heads `heads`: the
    /// newest when they agree, otherwise the newest write every one of them
    /// was made on (the last agreed stage). None when there is none.
    fn effective_of(&self, heads: &[usize]) -> Option<usize> {
        let newest = *heads.iter().max()?;
        if heads.iter().all(|&h| self.same_stage(h, newest)) {
            return Some(newest);
        }
        let mut common: Option<BTreeSet<usize>> = None;
        for &h in heads {
            let a = self.stage_ancestors(h);
            common = Some(match common {
                None => a,
                Some(c) => c.intersection(&a).copied().collect(),
            });
        }
        // Every write but the first has a parent, so the first write is a
        // common ancestor; the fallback only covers forged histories.
        common.and_then(|c| c.into_iter().max()).or(Some(0))
    }

    /// The stage writes that apply up to write `i` (see [`StageView::path`]).
    fn stage_path_to(&self, i: Option<usize>) -> Vec<&StageChange> {
        let mut path = Vec::new();
        let mut at = i;
        while let Some(j) = at {
            let c = &self.stage_history[j];
            if let Some(kept) = c.chosen {
                // A resolution keeps a head folded before it: no step of its own.
                at = self.stage_index(kept).filter(|&k| k < j);
                continue;
            }
            path.push(c);
            let parents: Vec<usize> =
                c.parents.iter().filter_map(|p| self.stage_index(*p)).filter(|&k| k < j).collect();
            at = self.effective_of(&parents);
        }
        path.reverse();
        path
    }

    fn view_of(&self, heads: Vec<usize>) -> StageView<'_> {
        let effective = self.effective_of(&heads);
        let in_conflict = heads.iter().max().is_some_and(|&n| !heads.iter().all(|&h| self.same_stage(h, n)));
        StageView {
            heads: heads.iter().map(|&i| &self.stage_history[i]).collect(),
            in_conflict,
            path: self.stage_path_to(effective),
        }
    }

    /// The case's stage now: its heads, whether they conflict, and the
    /// stage changes that apply.
    pub fn stage_view(&self) -> StageView<'_> {
        self.view_of(self.stage_head_indices())
    }

    /// Whether `base` names exactly the current stage heads (the author
    /// saw the stage as it is now: the usual case, checked cheaply).
    pub fn saw_current_stage(&self, base: &[Uuid]) -> bool {
        let heads = self.stage_head_indices();
        let named = self.stage_history.iter().filter(|c| base.contains(&c.event)).count();
        named == heads.len() && heads.iter().all(|&i| base.contains(&self.stage_history[i].event))
    }

    /// The stage as the author of an event with this `base` saw it: the
    /// stage events it names (less any that another one it names was made
    /// on) are the heads it saw. None when it names no stage event.
    pub fn stage_seen_by(&self, base: &[Uuid]) -> Option<StageView<'_>> {
        let named: Vec<usize> =
            (0..self.stage_history.len()).filter(|&i| base.contains(&self.stage_history[i].event)).collect();
        if named.is_empty() {
            return None;
        }
        let heads: Vec<usize> = named
            .iter()
            .copied()
            .filter(|&i| !named.iter().any(|&j| j != i && self.stage_ancestors(j).contains(&i)))
            .collect();
        Some(self.view_of(heads))
    }

    fn ensure_item(&mut self, form: &str, item: Uuid, e: &Event) {
        self.items.entry((form.to_string(), item)).or_insert_with(|| ItemInfo {
            kind: e.kind,
            created_event: e.id,
            created: e.order_key(),
            author: e.author.clone(),
        });
    }

    fn write_values(&mut self, e: &Event, form: &str, item: Option<Uuid>) {
        let Some(values) = e.payload.get("values").and_then(Value::as_object) else { return };
        for (field, value) in values {
            self.write(e, RegisterKey { form: form.to_string(), item, field: field.clone() }, value.clone());
        }
    }

    fn write(&mut self, e: &Event, key: RegisterKey, value: Value) {
        let reg = self.registers.entry(key).or_default();
        reg.superseded.extend(e.base.iter().copied());
        reg.writes.insert(e.id, Write { event: e.id, key: e.order_key(), value, author: e.author.clone() });
    }

    /// The register of (form, item, field), if it was ever written.
    pub fn register(&self, form: &str, item: Option<Uuid>, field: &str) -> Option<&Register> {
        self.registers.get(&RegisterKey { form: form.into(), item, field: field.into() })
    }

    /// The current value of a field: the single head, or the newest head in a
    /// conflict (what rules see; screens use [`Register::resolve`]).
    pub fn value(&self, form: &str, item: Option<Uuid>, field: &str) -> Option<&Value> {
        self.register(form, item, field).and_then(Register::newest).map(|w| &w.value)
    }

    /// The current heads of the stage register (one unless concurrent
    /// stage changes met). New events name them in `base`, recording which
    /// stage their author saw.
    pub fn stage_heads(&self) -> Vec<Uuid> {
        self.stage_head_indices().into_iter().map(|i| self.stage_history[i].event).collect()
    }

    /// Event ids of the current heads of a field (the `base` of a new write).
    pub fn heads_of(&self, form: &str, item: Option<Uuid>, field: &str) -> Vec<Uuid> {
        self.register(form, item, field).map(|r| r.heads().iter().map(|w| w.event).collect()).unwrap_or_default()
    }

    /// Items of a form in creation order.
    pub fn items_of(&self, form: &str) -> Vec<(Uuid, &ItemInfo)> {
        let mut items: Vec<(Uuid, &ItemInfo)> =
            self.items.iter().filter(|((f, _), _)| f == form).map(|((_, id), info)| (*id, info)).collect();
        items.sort_by_key(|(_, info)| info.created);
        items
    }

    /// Current values of one item as a JSON object (null values left out).
    pub fn item_values(&self, form: &str, item: Uuid) -> serde_json::Map<String, Value> {
        let mut out = serde_json::Map::new();
        for (key, reg) in
            self.registers.range(RegisterKey { form: form.into(), item: Some(item), field: String::new() }..)
        {
            if key.form != form || key.item != Some(item) {
                break;
            }
            if let Some(w) = reg.newest() {
                if !w.value.is_null() {
                    out.insert(key.field.clone(), w.value.clone());
                }
            }
        }
        out
    }
}
