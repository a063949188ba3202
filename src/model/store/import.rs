//! The import pipeline: foreign signed events are prepared (known ones
//! skipped, signatures checked, rules checked in canonical order) and then
//! committed all-or-nothing, in one or several journal frames.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::model::case_person::CasePerson;
use crate::model::erasure;
use crate::model::event::{parse_verifying_key, Event, EventKind, Role};
use crate::model::forms;
use crate::model::projection::{self, CaseState};
use crate::model::refusal::Refusal;
use crate::model::visibility::{CaseAccess, HiddenReason, Teams};

use super::checks::{check_event_with, LiveFacts};
use super::*;

/// Result of [`CaseStore::import_events`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    /// Events offered.
    pub received: usize,
    /// Events new to this vault (committed).
    pub new: usize,
    /// Events already known (skipped).
    pub duplicates: usize,
    /// Events of cases erased here: acknowledged, only their bookkeeping kept.
    pub erased: usize,
    /// Cases that changed.
    pub cases: Vec<Uuid>,
}

impl CaseStore {
    /// Import foreign signed events: skip known ones, verify the rest (device
    /// known, signature, no equivocation, shape, form values, role, lifecycle
    /// rules in canonical order) and commit them all in one vault commit, or
    /// none of them.
    pub fn import_events(&mut self, events: Vec<Event>) -> Result<ImportSummary, StoreError> {
        let (prepared, signatures) = self.prepare_import_overlapped(events, &HashMap::new())?;
        self.commit_import_checked(prepared, signatures, Vec::new(), Vec::new())
    }

    /// The checking half of [`CaseStore::import_events`], changing nothing:
    /// the result can be shown as a preview (dry run) and then committed with
    /// [`CaseStore::commit_import`]. `extra_keys` are device keys to trust for
    /// this import in addition to the registered ones (devices a sync bundle's
    /// roster introduces; the caller registers them in the same commit).
    pub fn prepare_import(
        &self,
        events: Vec<Event>,
        extra_keys: &HashMap<Uuid, VerifyingKey>,
    ) -> Result<PreparedImport, StoreError> {
        let (prepared, signatures) = self.prepare_import_overlapped(events, extra_keys)?;
        signatures.wait()?;
        Ok(prepared)
    }

    /// [`CaseStore::prepare_import`] whose signature check is still running
    /// on another thread when it returns: pass both to
    /// [`CaseStore::commit_import_checked`], which applies the events while
    /// the check runs and journals nothing until it has passed (or call
    /// [`PendingSignatures::wait`]). Any error this returns already takes
    /// the check into account: a bad signature is reported before any rule
    /// the event breaks, as by `prepare_import`.
    pub fn prepare_import_overlapped(
        &self,
        events: Vec<Event>,
        extra_keys: &HashMap<Uuid, VerifyingKey>,
    ) -> Result<(PreparedImport, PendingSignatures), StoreError> {
        self.prepare_import_with(events, extra_keys, None, None, true)
    }

    /// [`CaseStore::prepare_import_overlapped`] that sets aside, instead of
    /// refusing the whole import, each event the *rules* refuse (shape,
    /// signature, origin and sequence checks still refuse everything): it
    /// is in [`PreparedImport::quarantined`] with its [`Refusal`], not
    /// applied, and so is every later event of its case whose `base` names
    /// a refused event or one in `held` (the events already in quarantine).
    /// A quarantined event's signature is checked like the others': only
    /// an event its origin really signed is ever quarantined.
    pub fn prepare_import_quarantining(
        &self,
        events: Vec<Event>,
        extra_keys: &HashMap<Uuid, VerifyingKey>,
        held: &BTreeSet<Uuid>,
    ) -> Result<(PreparedImport, PendingSignatures), StoreError> {
        self.prepare_import_with(events, extra_keys, Some(held), None, true)
    }

    /// [`CaseStore::prepare_import_quarantining`] that also holds a
    /// supervisor's event on a case outside the team `teams` gives its
    /// signer (docs/visibility.md §7): what an office's import of a
    /// device bundle judges, by the roster it holds.
    pub fn prepare_import_judged(
        &self,
        events: Vec<Event>,
        extra_keys: &HashMap<Uuid, VerifyingKey>,
        held: &BTreeSet<Uuid>,
        teams: Option<&Teams>,
    ) -> Result<(PreparedImport, PendingSignatures), StoreError> {
        self.prepare_import_with(events, extra_keys, Some(held), teams, true)
    }

    /// [`CaseStore::prepare_import_quarantining`] of events whose signatures
    /// were already verified, on an earlier read of the very same bytes
    /// (the second pass of a case-grouped sync import, which compares each
    /// chunk's line digests with the first pass before calling this): every
    /// other check runs again, on the vault as it is now.
    pub(crate) fn prepare_import_verified(
        &self,
        events: Vec<Event>,
        extra_keys: &HashMap<Uuid, VerifyingKey>,
        held: &BTreeSet<Uuid>,
        teams: Option<&Teams>,
    ) -> Result<PreparedImport, StoreError> {
        let (prepared, signatures) = self.prepare_import_with(events, extra_keys, Some(held), teams, false)?;
        signatures.wait()?;
        Ok(prepared)
    }

    pub(super) fn prepare_import_with(
        &self,
        events: Vec<Event>,
        extra_keys: &HashMap<Uuid, VerifyingKey>,
        held: Option<&BTreeSet<Uuid>>,
        teams: Option<&Teams>,
        verify_signatures: bool,
    ) -> Result<(PreparedImport, PendingSignatures), StoreError> {
        let conn = self.vault.conn();
        let mut summary = ImportSummary { received: events.len(), ..ImportSummary::default() };
        let mut keys: HashMap<Uuid, VerifyingKey> = HashMap::new();
        // An event stamped far ahead of real time would drag every HLC that
        // sees it into the future for good: refuse it (a device clock set to
        // the wrong year is the usual cause).
        let system_now = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
        let horizon = system_now.max(self.clock.physical_millis()).saturating_add(MAX_CLOCK_AHEAD_MS);
        // Pass 1: known and repeated events, shape, device key. Canonical
        // JSON is computed only to compare an id seen twice.
        let mut candidates: Vec<(Event, VerifyingKey)> = Vec::with_capacity(events.len());
        let mut seen_ids: HashMap<Uuid, usize> = HashMap::new();
        for e in events {
            if erasure::is_erased_event(conn, e.id)? {
                // Already received, and its case erased: acknowledged, not kept.
                summary.duplicates += 1;
                continue;
            }
            if let Some(known) = projection::stored_event_json(conn, e.id)? {
                if known != e.canonical_json() {
                    return Err(StoreError::ConflictingEvent { event: e.id });
                }
                summary.duplicates += 1;
                continue;
            }
            if let Some(&i) = seen_ids.get(&e.id) {
                if candidates[i].0.canonical_json() != e.canonical_json() {
                    return Err(StoreError::ConflictingEvent { event: e.id });
                }
                summary.duplicates += 1;
                continue;
            }
            e.check_shape().map_err(|reason| StoreError::Malformed { event: e.id, reason })?;
            // Parsed keys are cached: decoding a key costs about as much as
            // checking a signature, and a bundle holds many events per device.
            let key = match extra_keys.get(&e.device_id).or_else(|| keys.get(&e.device_id)) {
                Some(k) => *k,
                None => {
                    let key_hex = projection::device_key(conn, e.device_id)?
                        .ok_or(StoreError::UnknownDevice { device: e.device_id, event: e.id })?;
                    let k = parse_verifying_key(&key_hex)
                        .map_err(|err| StoreError::Malformed { event: e.id, reason: err.to_string() })?;
                    keys.insert(e.device_id, k);
                    k
                }
            };
            seen_ids.insert(e.id, candidates.len());
            candidates.push((e, key));
        }
        // Pass 2: every signature, in parallel batches, on other threads
        // while the rest is checked here and, with commit_import_checked,
        // while the events are applied.
        let signatures =
            if verify_signatures { PendingSignatures::start(&candidates) } else { PendingSignatures::none() };
        match self.check_rules(candidates, horizon, summary, held, teams) {
            Ok(prepared) => Ok((prepared, signatures)),
            // A bad signature comes first, as when it was checked first.
            Err(e) => Err(signatures.wait().err().unwrap_or(e)),
        }
    }

    /// Pass 3 and the rules of [`CaseStore::prepare_import_overlapped`].
    pub(super) fn check_rules(
        &self,
        candidates: Vec<(Event, VerifyingKey)>,
        horizon: u64,
        mut summary: ImportSummary,
        held: Option<&BTreeSet<Uuid>>,
        teams: Option<&Teams>,
    ) -> Result<PreparedImport, StoreError> {
        let conn = self.vault.conn();
        let mut fresh: BTreeMap<Uuid, Event> = BTreeMap::new();
        let mut seqs: HashMap<(Uuid, u64), Uuid> = HashMap::new();
        // Pass 3: sequence numbers and clocks.
        for (e, _) in candidates {
            if let Some(existing) = projection::event_at_seq(conn, e.device_id, e.device_seq)? {
                return Err(StoreError::Equivocation { device: e.device_id, seq: e.device_seq, existing, new: e.id });
            }
            if let Some(existing) = seqs.insert((e.device_id, e.device_seq), e.id) {
                return Err(StoreError::Equivocation { device: e.device_id, seq: e.device_seq, existing, new: e.id });
            }
            if e.hlc.millis > horizon {
                return Err(StoreError::FromTheFuture { event: e.id, device: e.device_id, millis: e.hlc.millis });
            }
            if e.device_seq == 0 || i64::try_from(e.device_seq).is_err() || i64::try_from(e.hlc.millis).is_err() {
                return Err(StoreError::Malformed { event: e.id, reason: "device_seq or hlc out of range".into() });
            }
            fresh.insert(e.id, e);
        }
        // Rules, per case, in canonical order over old and new events
        // together. Each case's old events are read here (SQLite stays on
        // this thread); the folds and checks, pure work, run on all cores a
        // chunk of cases at a time (bounding the old events held at once).
        // Results are taken in case order, so the error reported is the one
        // a sequential loop would meet first.
        // Events of a case erased here (from a device that had not heard
        // yet): signature and sequence checked above, no rule, and only
        // their bookkeeping is kept, so the sender's sequence stays whole
        // and it is acknowledged (docs/bundle-format.md §8).
        let mut erased_cases: HashMap<Uuid, bool> = HashMap::new();
        let mut dropped = Vec::new();
        let mut dropped_blobs = Vec::new();
        for e in fresh.values() {
            let erased = match erased_cases.get(&e.case_id) {
                Some(x) => *x,
                None => *erased_cases.entry(e.case_id).or_insert(erasure::is_erased(conn, e.case_id)?),
            };
            if erased {
                dropped.push(erasure::erased_event_entry(e));
                // Its attachment, received with the bundle, goes too.
                if e.kind == EventKind::AttachmentAdded {
                    dropped_blobs.extend(e.payload.get("blob").and_then(Value::as_str).map(str::to_string));
                }
            }
        }
        fresh.retain(|_, e| !erased_cases.get(&e.case_id).copied().unwrap_or(false));
        summary.erased = dropped.len();
        let mut preview = ImportPreview::default();
        let mut new_case_people: BTreeMap<Uuid, CasePerson> = BTreeMap::new();
        let mut refusals: Vec<(Uuid, Refusal)> = Vec::new();
        let mut by_case: BTreeMap<Uuid, Vec<&Event>> = BTreeMap::new();
        for e in fresh.values() {
            by_case.entry(e.case_id).or_default().push(e);
        }
        let cases: Vec<(&Uuid, &Vec<&Event>)> = by_case.iter().collect();
        for chunk in cases.chunks(CHECK_CASES_PER_CHUNK) {
            let mut loaded: Vec<(Uuid, &[&Event], Vec<Event>)> = Vec::with_capacity(chunk.len());
            let mut read_error = None;
            for (case, new_events) in chunk {
                match projection::case_events(conn, **case) {
                    Ok(old) => loaded.push((**case, new_events.as_slice(), old)),
                    Err(e) => {
                        read_error = Some(StoreError::from(e));
                        break;
                    }
                }
            }
            let events: usize = loaded.iter().map(|(_, new, old)| new.len() + old.len()).sum();
            let threads = crate::parallel::threads_for(events, CHECK_EVENTS_PER_THREAD).min(loaded.len());
            // Of a folded case only what the duplicate check needs is kept
            // (and only for new cases): keeping every new case's state held
            // a second copy of the bundle's values until the commit.
            let reg: &forms::FormRegistry = &self.forms;
            let checked = crate::parallel::map_ordered(&loaded, threads, |(case, new, old)| {
                check_case(*case, new, old, held, teams, reg).map(|(state, conflicts, refused)| {
                    (old.is_empty().then(|| CasePerson::from_state(&state)).flatten(), conflicts, refused)
                })
            });
            for ((case, _, old), result) in loaded.iter().zip(checked) {
                let (person, conflicts, refused) = result?;
                preview.conflicts.extend(conflicts);
                refusals.extend(refused);
                if old.is_empty() {
                    preview.new_cases.push(*case);
                    new_case_people.extend(person.map(|p| (*case, p)));
                } else {
                    preview.updated_cases.push(*case);
                }
            }
            if let Some(e) = read_error {
                return Err(e);
            }
        }
        drop(by_case);
        // Set aside what the rules refused (only when quarantining): a case
        // whose every new event was refused gets nothing.
        let mut quarantined = Vec::with_capacity(refusals.len());
        for (id, refusal) in refusals {
            if let Some(e) = fresh.remove(&id) {
                quarantined.push(QuarantinedEvent { event: e, refusal });
            }
        }
        let by_case_ids: Vec<Uuid> = fresh.values().map(|e| e.case_id).collect::<BTreeSet<_>>().into_iter().collect();
        preview.new_cases.retain(|c| by_case_ids.binary_search(c).is_ok());
        preview.updated_cases.retain(|c| by_case_ids.binary_search(c).is_ok());
        new_case_people.retain(|c, _| by_case_ids.binary_search(c).is_ok());
        // Case by case, each case's events in canonical order. A large
        // import is committed in several journal frames cut from this order:
        // in time order instead, every frame held a slice of nearly every
        // case, and each frame re-read, re-folded and re-wrote each case's
        // whole history (an office merging a register ran at about 4,000
        // events/s). The projection of a case depends on its own events
        // only, so the cases' order between them changes no row.
        let mut ordered: Vec<Event> = fresh.into_values().collect();
        ordered.sort_by_key(|e| (e.case_id, e.order_key()));
        summary.new = ordered.len();
        summary.cases = by_case_ids;
        preview.new_events = summary.new;
        preview.known_events = summary.duplicates;
        preview.quarantined = quarantined.len();
        Ok(PreparedImport { events: ordered, dropped, dropped_blobs, summary, preview, new_case_people, quarantined })
    }

    /// Commit a [`PreparedImport`]: `before` (device registrations the
    /// events need), the new events, then `after` (sync bookkeeping). When
    /// everything fits, that is ONE vault commit. A larger import (a journal
    /// frame holds at most 16 MiB) is committed in several frames of at most
    /// [`IMPORT_FRAME_BYTES`] of events, `after` in the last one: every event
    /// was checked before the first frame, so an interrupted import leaves
    /// only verified events, and importing again completes it. Nothing is
    /// committed when there is nothing to commit.
    pub fn commit_import(
        &mut self,
        prepared: PreparedImport,
        before: Vec<Value>,
        after: Vec<Value>,
    ) -> Result<ImportSummary, StoreError> {
        self.commit_import_checked(prepared, PendingSignatures::none(), before, after)
    }

    /// [`CaseStore::commit_import`] of an import prepared by
    /// [`CaseStore::prepare_import_overlapped`] while its signature check
    /// may still run: a multi-frame import is applied meanwhile
    /// ([`Vault::commit_frames_gated`]) and nothing reaches the journal
    /// before the check has passed; if it fails, nothing is committed and
    /// the bad signature is the error. A one-frame import waits for the
    /// check first.
    pub fn commit_import_checked(
        &mut self,
        prepared: PreparedImport,
        signatures: PendingSignatures,
        before: Vec<Value>,
        after: Vec<Value>,
    ) -> Result<ImportSummary, StoreError> {
        let PreparedImport { events, dropped, dropped_blobs, summary, .. } = prepared;
        // The events come case by case: the newest is anywhere.
        let max_hlc = events.iter().map(|e| e.hlc).max();
        let erases = events.iter().any(|e| e.kind == EventKind::CaseErasureApproved);
        let mut before = before;
        before.extend(dropped);
        let mut frames: Vec<Vec<Value>> = vec![before];
        let mut size = 0usize;
        for (v, n) in journal_entries(events) {
            if size + n > IMPORT_FRAME_BYTES && !frames.last().is_some_and(Vec::is_empty) {
                frames.push(Vec::new());
                size = 0;
            }
            size += n;
            frames.last_mut().expect("never empty").push(v);
        }
        frames.last_mut().expect("never empty").extend(after);
        // One automatic checkpoint at most, after the last frame (each frame
        // is still its own fsynced commit).
        let frames: Vec<Vec<Value>> = frames.into_iter().filter(|f| !f.is_empty()).collect();
        // A single frame has nothing to overlap the check with.
        let pending = if frames.len() >= 2 {
            signatures.running()?
        } else {
            signatures.wait()?;
            None
        };
        match pending {
            Some(check) => self.vault.commit_frames_gated(frames, Some(check)).map_err(|e| match e {
                crate::vault::GatedCommitError::Refused(e) => e,
                crate::vault::GatedCommitError::GateStopped => StoreError::CheckStopped("signature"),
                crate::vault::GatedCommitError::Vault(e) => e.into(),
            })?,
            None => self.vault.commit_frames(frames)?,
        }
        if let Some(h) = max_hlc {
            self.clock.observe(h);
        }
        // Blob ids are random per attachment: these belong to the erased
        // case only. A crash before this leaves an unreferenced blob file.
        for blob in &dropped_blobs {
            self.vault.delete_blob(blob)?;
        }
        if erases {
            self.finish_erasures()?;
        }
        // An office bundle brings its roster in the same commit.
        self.refresh_team()?;
        Ok(summary)
    }
}

/// Each event as a journal entry with the length of its JSON text. Pure
/// work on large imports, so it is split across the cores; the order is the
/// events' order.
pub(super) fn journal_entries(events: Vec<Event>) -> Vec<(Value, usize)> {
    pub(super) fn one(e: Event) -> (Value, usize) {
        let v = event_value(e);
        let n = json_len(&v);
        (v, n)
    }
    let threads = crate::parallel::threads_for(events.len(), 1024);
    crate::parallel::map_owned_ordered(events, threads, one)
}

/// [`Event::to_json`] of an event given up: its payload, author, form and
/// signature move into the value instead of being copied (the same value;
/// a test compares them). An office import turns every event into a
/// journal entry, and the copy was a large part of that.
pub(super) fn event_value(e: Event) -> Value {
    let Event { id, case_id, device_id, device_seq, hlc, author, role, kind, form, payload, base, sig } = e;
    let mut m = Map::new();
    m.insert("id".into(), Value::String(id.to_string()));
    m.insert("case_id".into(), Value::String(case_id.to_string()));
    m.insert("device_id".into(), Value::String(device_id.to_string()));
    m.insert("device_seq".into(), Value::from(device_seq));
    let mut h = Map::new();
    h.insert("millis".into(), Value::from(hlc.millis));
    h.insert("counter".into(), Value::from(hlc.counter));
    m.insert("hlc".into(), Value::Object(h));
    m.insert("author".into(), Value::String(author));
    m.insert("role".into(), Value::String(role.as_str().to_owned()));
    m.insert("kind".into(), Value::String(kind.as_str().to_owned()));
    m.insert("form".into(), form.map_or(Value::Null, Value::String));
    m.insert("payload".into(), payload);
    m.insert("base".into(), Value::Array(base.iter().map(|b| Value::String(b.to_string())).collect()));
    m.insert("sig".into(), Value::String(sig));
    Value::Object(m)
}

/// Length of a value's JSON text, without building the text.
pub(super) fn json_len(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    // Writing a Value to a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

/// A conflict (field with several heads) a preview reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictPreview {
    /// Case.
    pub case: Uuid,
    /// Form.
    pub form: String,
    /// List item.
    pub item: Option<Uuid>,
    /// Field.
    pub field: String,
    /// Number of heads.
    pub heads: usize,
    /// Protected field: needs a person, never picked automatically.
    pub protected: bool,
}

/// What an import would change (see [`CaseStore::prepare_import`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportPreview {
    /// Cases this vault did not have.
    pub new_cases: Vec<Uuid>,
    /// Cases that get new events.
    pub updated_cases: Vec<Uuid>,
    /// Events new to this vault.
    pub new_events: usize,
    /// Events already known (skipped).
    pub known_events: usize,
    /// Fields with several heads in the affected cases after the import.
    pub conflicts: Vec<ConflictPreview>,
    /// Events the rules refused, set aside in quarantine instead of
    /// applied (only an import that quarantines; see
    /// [`CaseStore::prepare_import_quarantining`]).
    #[serde(default)]
    pub quarantined: usize,
}

/// Cases whose old events [`CaseStore::prepare_import`] holds at once.
const CHECK_CASES_PER_CHUNK: usize = 4096;

/// Below this many events per thread the rule check stays on one thread.
const CHECK_EVENTS_PER_THREAD: usize = 512;

/// Fold one case's old and new events in canonical order, checking each new
/// event against the state before it (the rule check of
/// [`CaseStore::prepare_import`]). Returns the folded state and the
/// conflicts it has.
///
/// With `held` (the events already in quarantine), a new event the rules
/// refuse is returned with its [`Refusal`] instead of failing the case, and
/// is not applied; a new event whose base names a refused or held event is
/// refused too (it was made on top of a change this vault does not apply).
/// Without it, the first refusal is the error.
#[allow(clippy::type_complexity)]
pub(super) fn check_case(
    case: Uuid,
    new_events: &[&Event],
    old: &[Event],
    held: Option<&BTreeSet<Uuid>>,
    teams: Option<&Teams>,
    reg: &forms::FormRegistry,
) -> Result<(CaseState, Vec<ConflictPreview>, Vec<(Uuid, Refusal)>), StoreError> {
    let check = |state: &CaseState, e: &Event, live: &mut LiveFacts| {
        check_team(state, e, teams)?;
        check_event_with(reg, state, e, live)
    };
    let new_ids: BTreeSet<Uuid> = new_events.iter().map(|e| e.id).collect();
    let mut all: Vec<&Event> = old.iter().chain(new_events.iter().copied()).collect();
    all.sort_by_key(|e| e.order_key());
    let mut state = CaseState::new(case);
    let mut live = LiveFacts::default();
    let mut refused: Vec<(Uuid, Refusal)> = Vec::new();
    let mut refused_ids: BTreeSet<Uuid> = BTreeSet::new();
    for e in all {
        if new_ids.contains(&e.id) {
            let Some(held) = held else {
                check(&state, e, &mut live)?;
                state.apply(e);
                live.applied(&state, e);
                continue;
            };
            let on_refused = e.base.iter().find(|b| refused_ids.contains(b) || held.contains(b));
            let refusal = match on_refused {
                Some(b) => Some(Refusal::depends_on(*b)),
                None => match check(&state, e, &mut live) {
                    Ok(()) => None,
                    Err(err) => Some(Refusal::from_rule_error(&err).ok_or(err)?),
                },
            };
            if let Some(r) = refusal {
                refused_ids.insert(e.id);
                refused.push((e.id, r));
                continue;
            }
        }
        state.apply(e);
        live.applied(&state, e);
    }
    let mut conflicts = Vec::new();
    for (key, register) in &state.registers {
        let heads = register.heads().len();
        if heads > 1 {
            conflicts.push(ConflictPreview {
                case,
                form: key.form.clone(),
                item: key.item,
                field: key.field.clone(),
                heads,
                protected: is_protected(&key.form, &key.field),
            });
        }
    }
    let stage = state.stage_view();
    if stage.in_conflict {
        conflicts.push(ConflictPreview {
            case,
            form: projection::STAGE_FORM.into(),
            item: None,
            field: projection::STAGE_FIELD.into(),
            heads: stage.heads.len(),
            protected: true,
        });
    }
    Ok((state, conflicts, refused))
}

/// Authority follows visibility (docs/visibility.md §7): a supervisor
/// whose signer id `teams` puts in a team acts only on that team's cases,
/// judged on the case as it stands before the event. A registration, and
/// an event of a case not registered here (an erasure the office sends to
/// every device), has no team yet to judge by.
pub(super) fn check_team(state: &CaseState, e: &Event, teams: Option<&Teams>) -> Result<(), StoreError> {
    let Some(team) = teams.and_then(|t| t.by_signer.get(&e.device_id)) else { return Ok(()) };
    if e.role != Role::Supervisor || e.kind == EventKind::CaseRegistered || state.registration.is_none() {
        return Ok(());
    }
    if team.covers(&CaseAccess::of_state(state)) {
        Ok(())
    } else {
        Err(StoreError::Hidden { case: e.case_id.to_string(), reason: HiddenReason::NotInTeam })
    }
}

/// An imported event the receiver's rules refused, held in quarantine.
#[derive(Debug, Clone)]
pub struct QuarantinedEvent {
    /// The event, as signed by its origin (signature checked).
    pub event: Event,
    /// Why.
    pub refusal: Refusal,
}

/// Checked events ready to commit.
#[derive(Debug, Clone)]
pub struct PreparedImport {
    events: Vec<Event>,
    /// `event.erased` entries for the events of erased cases.
    dropped: Vec<Value>,
    /// Blobs of the dropped events' attachments (deleted after the commit).
    dropped_blobs: Vec<String>,
    summary: ImportSummary,
    /// What committing would change.
    pub preview: ImportPreview,
    /// Who each new case is about, for the duplicate check (taken from
    /// the state the rule check folds anyway).
    new_case_people: BTreeMap<Uuid, CasePerson>,
    /// The events the rules refused, not applied (only from
    /// [`CaseStore::prepare_import_quarantining`]; the caller keeps them).
    pub quarantined: Vec<QuarantinedEvent>,
}

impl PreparedImport {
    /// The person of each case new to this vault that has one (a
    /// registration, not erased): [`CasePerson::from_state`] of the case
    /// folded from its imported events.
    pub fn new_case_people(&self) -> &BTreeMap<Uuid, CasePerson> {
        &self.new_case_people
    }

    /// What the import would commit, summed up.
    pub fn summary(&self) -> &ImportSummary {
        &self.summary
    }

    /// The ids of the events committing would apply.
    pub(crate) fn event_ids(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.events.iter().map(|e| e.id)
    }

    /// Add the outcome of another part of the same import, checked after
    /// this one: an import read case by case sums its parts' previews,
    /// quarantine and new people, and keeps no events (the parts' events
    /// are committed part by part). Cases are disjoint between parts.
    pub(crate) fn absorb_outcome(&mut self, part: PreparedImport) {
        let PreparedImport { events: _, dropped, dropped_blobs, summary, preview, new_case_people, quarantined } = part;
        self.dropped.extend(dropped);
        self.dropped_blobs.extend(dropped_blobs);
        self.summary.absorb(summary);
        self.preview.new_cases.extend(preview.new_cases);
        self.preview.updated_cases.extend(preview.updated_cases);
        self.preview.new_events += preview.new_events;
        self.preview.known_events += preview.known_events;
        self.preview.conflicts.extend(preview.conflicts);
        self.preview.quarantined += preview.quarantined;
        self.new_case_people.extend(new_case_people);
        self.quarantined.extend(quarantined);
    }

    /// An empty outcome, to sum parts into.
    pub(crate) fn empty() -> PreparedImport {
        PreparedImport {
            events: Vec::new(),
            dropped: Vec::new(),
            dropped_blobs: Vec::new(),
            summary: ImportSummary::default(),
            preview: ImportPreview::default(),
            new_case_people: BTreeMap::new(),
            quarantined: Vec::new(),
        }
    }
}

impl ImportSummary {
    /// Add the summary of another part of the same import (its cases are
    /// not among these).
    pub(crate) fn absorb(&mut self, part: ImportSummary) {
        self.received += part.received;
        self.new += part.new;
        self.duplicates += part.duplicates;
        self.erased += part.erased;
        self.cases.extend(part.cases);
    }
}

/// The signature check of an import running on another thread (see
/// [`CaseStore::prepare_import_overlapped`]).
#[must_use = "an import is checked only once its signatures are: wait for them or commit with them"]
#[derive(Debug)]
pub struct PendingSignatures {
    state: SignatureState,
}

#[derive(Debug)]
enum SignatureState {
    /// Checked already (or nothing to check), with this outcome.
    Done(Result<(), StoreError>),
    /// Running on its own thread.
    Running(std::thread::JoinHandle<Result<(), StoreError>>),
}

impl PendingSignatures {
    /// No check pending (it was done, or there was nothing to check).
    pub(crate) fn none() -> PendingSignatures {
        PendingSignatures { state: SignatureState::Done(Ok(())) }
    }

    /// Start checking every candidate's signature. The signing bytes are
    /// taken out of the events here (on all cores), so the events can move
    /// on while the check runs. If no thread can be started, the check is
    /// done here and now.
    pub(super) fn start(candidates: &[(Event, VerifyingKey)]) -> PendingSignatures {
        use crate::model::signatures::{checks_of, verify_checks, SignatureCheck};
        if candidates.is_empty() {
            return PendingSignatures::none();
        }
        let checks = std::sync::Arc::new(checks_of(candidates));
        let check = |checks: &[SignatureCheck]| {
            verify_checks(checks).map_err(|(event, reason)| StoreError::BadSignature { event, reason })
        };
        let theirs = std::sync::Arc::clone(&checks);
        let state = match std::thread::Builder::new().name("import-signatures".into()).spawn(move || check(&theirs)) {
            Ok(handle) => SignatureState::Running(handle),
            Err(_) => SignatureState::Done(check(&checks)),
        };
        PendingSignatures { state }
    }

    /// The thread still checking, if any; `Err` if the check is done and
    /// failed.
    pub(super) fn running(self) -> Result<Option<std::thread::JoinHandle<Result<(), StoreError>>>, StoreError> {
        match self.state {
            SignatureState::Done(result) => result.map(|()| None),
            SignatureState::Running(handle) => Ok(Some(handle)),
        }
    }

    /// Wait for the check: `Err(BadSignature)` names the first event (in
    /// the order given) whose signature does not verify.
    pub fn wait(self) -> Result<(), StoreError> {
        match self.running()? {
            None => Ok(()),
            Some(h) => h.join().unwrap_or(Err(StoreError::CheckStopped("signature"))),
        }
    }
}
