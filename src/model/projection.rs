//! The projection: the tables screens read, rebuilt from the signed events.
//!
//! Determinism argument: the projection of a case is computed by folding
//! *all* of the case's known events in the canonical order (hlc, device_id,
//! id) — [`CaseState::apply`] — and rewriting every projection row of that
//! case. The fold's input is therefore the *set* of the case's events, never
//! the order or number of times they arrived, so importing the same events in
//! any order, any number of times, gives byte-identical tables. Rebuilding is
//! per affected case, so a commit costs O(size of the cases it touches), not
//! O(size of the database).
//!
//! Fields are multi-value registers keyed by (form, item, field): a write names
//! in `base` the events it replaces; the heads of a register are its writes not
//! named in the base of any write to it. One head is the value; several heads
//! are a conflict: normal and sensitive fields show the newest head ("merged
//! automatically"), protected fields show nothing ("needs review") until a
//! `conflict.resolved` whose base covers all heads.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::model::audit;
use crate::model::batch_insert::BatchInsert;
use crate::model::canonical::to_canonical_string;
use crate::model::derived;
use crate::model::erasure;
use crate::model::event::{Event, EventKind, Hlc, OrderKey, Role};

/// Tells the projection whether (form, field) is a protected field.
pub type ProtectedLookup = fn(form: &str, field: &str) -> bool;

/// Journal entry `type` that registers a device's verifying key.
pub const DEVICE_TRUSTED: &str = "device.trusted";

/// Journal entry `type` that sets one key of the sync state (office flag,
/// roster, bundle sequences, acknowledgements; owned by `crate::sync`). It
/// goes through the journal like events so that an import's events and its
/// sync bookkeeping are one commit.
pub const SYNC_PUT: &str = "sync.put";

/// Journal entry `type` that takes one event out of the event store and
/// rebuilds its case without it: a device's own event its office refused
/// and holds in quarantine (docs/bundle-format.md §6.1; `crate::sync`
/// keeps the event with the refusal). Its id and sequence stay in
/// `withdrawn_events`, so the device never signs another event with that
/// sequence (the office holds this one there).
pub const EVENT_WITHDRAWN: &str = "event.withdrawn";

/// Ids and sequences of withdrawn events ([`EVENT_WITHDRAWN`]). Created
/// lazily by the first withdrawal.
const WITHDRAWN_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS withdrawn_events (id TEXT PRIMARY KEY, device_id TEXT NOT NULL, device_seq INTEGER NOT NULL);";

/// The journal entry withdrawing `event` ([`EVENT_WITHDRAWN`]).
pub fn withdraw_entry(event: Uuid) -> Value {
    serde_json::json!({"type": EVENT_WITHDRAWN, "event": event})
}

/// Take the event an [`EVENT_WITHDRAWN`] entry names out of the event
/// store; its case, to rebuild (none when the event is not held).
fn apply_withdrawn(tx: &Transaction<'_>, entry: &Value) -> Result<Option<Uuid>, ApplyRejection> {
    let id = entry
        .get("event")
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| ApplyRejection::Malformed("withdrawal without an event id".into()))?;
    let row: Option<(String, String, i64)> = tx
        .prepare_cached("SELECT case_id, device_id, device_seq FROM events WHERE id = ?1")?
        .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((case, device, seq)) = row else { return Ok(None) };
    tx.execute_batch(WITHDRAWN_SCHEMA)?;
    tx.prepare_cached("INSERT OR REPLACE INTO withdrawn_events (id, device_id, device_seq) VALUES (?1, ?2, ?3)")?
        .execute(params![id.to_string(), device, seq])?;
    tx.prepare_cached("DELETE FROM events WHERE id = ?1")?.execute([id.to_string()])?;
    Ok(Uuid::parse_str(&case).ok())
}

/// The highest sequence of `device` among its withdrawn events.
pub fn max_withdrawn_seq(conn: &Connection, device: Uuid) -> rusqlite::Result<Option<u64>> {
    let exists: Option<i64> = conn
        .query_row("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'withdrawn_events'", [], |r| r.get(0))
        .optional()?;
    if exists.is_none() {
        return Ok(None);
    }
    let max: Option<i64> = conn.query_row(
        "SELECT MAX(device_seq) FROM withdrawn_events WHERE device_id = ?1",
        [device.to_string()],
        |r| r.get(0),
    )?;
    Ok(max.map(|m| m.max(0) as u64))
}

/// Key/value table of the sync state. Created lazily by the first
/// [`SYNC_PUT`] entry too, so vaults made before it existed gain it.
const SYNC_STATE_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);";

/// SQL schema of the event store and the projection (layout 2).
///
/// Layout 2 keeps the projection small: `field_heads` is a view: the one head
/// of an uncontested field is its `field_values` row joined with the winning
/// event (time, device, author), only fields with several heads have rows in
/// `conflict_heads`;
/// the tables keyed by text are `WITHOUT ROWID` (no second copy of the key in
/// an autoindex); the audit trail stores each hash once, as 32 bytes (the
/// previous hash is the previous row's). Layout 1 vaults are upgraded by
/// their first commit ([`apply_entries`]): every case is rebuilt from its
/// events.
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY, verifying_key TEXT NOT NULL, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY, case_id TEXT NOT NULL, device_id TEXT NOT NULL,
    device_seq INTEGER NOT NULL, hlc_millis INTEGER NOT NULL, hlc_counter INTEGER NOT NULL,
    kind TEXT NOT NULL, json TEXT NOT NULL,
    UNIQUE (device_id, device_seq));
CREATE INDEX IF NOT EXISTS events_by_case ON events (case_id, hlc_millis, hlc_counter, device_id, id);
CREATE TABLE IF NOT EXISTS cases (
    id TEXT PRIMARY KEY, case_number TEXT NOT NULL, case_type TEXT NOT NULL, office TEXT NOT NULL,
    stage TEXT NOT NULL, stage_before TEXT, caseworker TEXT, risk_level TEXT,
    given_names TEXT, family_name TEXT, sex TEXT, age_years TEXT, date_of_birth TEXT,
    needs_review INTEGER NOT NULL, conflicts INTEGER NOT NULL,
    created_millis INTEGER NOT NULL, updated_millis INTEGER NOT NULL, updated_counter INTEGER NOT NULL,
    merged_into TEXT, transferred_to TEXT, erased INTEGER NOT NULL, event_count INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS cases_by_number ON cases (case_number);
CREATE TABLE IF NOT EXISTS field_values (
    case_id TEXT NOT NULL, form TEXT NOT NULL, item TEXT NOT NULL, field TEXT NOT NULL,
    value TEXT, heads INTEGER NOT NULL, status TEXT NOT NULL, winner TEXT,
    PRIMARY KEY (case_id, form, item, field)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS conflict_heads (
    case_id TEXT NOT NULL, form TEXT NOT NULL, item TEXT NOT NULL, field TEXT NOT NULL,
    event_id TEXT NOT NULL, value TEXT NOT NULL, hlc_millis INTEGER NOT NULL, hlc_counter INTEGER NOT NULL,
    device_id TEXT NOT NULL, author TEXT NOT NULL,
    PRIMARY KEY (case_id, form, item, field, event_id)) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS field_heads AS
    SELECT f.case_id, f.form, f.item, f.field, f.winner AS event_id, f.value, e.hlc_millis,
        e.hlc_counter, e.device_id, json_extract(e.json, '$.author') AS author
    FROM field_values f JOIN events e ON e.id = f.winner WHERE f.heads = 1
    UNION ALL
    SELECT case_id, form, item, field, event_id, value, hlc_millis, hlc_counter, device_id, author
    FROM conflict_heads;
CREATE TABLE IF NOT EXISTS items (
    case_id TEXT NOT NULL, form TEXT NOT NULL, item TEXT NOT NULL, kind TEXT NOT NULL,
    seq INTEGER NOT NULL, created_event TEXT NOT NULL, created_millis INTEGER NOT NULL,
    created_counter INTEGER NOT NULL, author TEXT NOT NULL,
    PRIMARY KEY (case_id, form, item)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS conflicts (
    case_id TEXT NOT NULL, form TEXT NOT NULL, item TEXT NOT NULL, field TEXT NOT NULL,
    protected INTEGER NOT NULL, heads TEXT NOT NULL,
    PRIMARY KEY (case_id, form, item, field)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stage_history (
    case_id TEXT NOT NULL, seq INTEGER NOT NULL, event_id TEXT NOT NULL, from_stage TEXT,
    to_stage TEXT NOT NULL, reason TEXT NOT NULL, hlc_millis INTEGER NOT NULL,
    hlc_counter INTEGER NOT NULL, author TEXT NOT NULL, role TEXT NOT NULL,
    PRIMARY KEY (case_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit (
    case_id TEXT NOT NULL, seq INTEGER NOT NULL, event_id TEXT NOT NULL,
    hlc_millis INTEGER NOT NULL, hlc_counter INTEGER NOT NULL, author TEXT NOT NULL,
    role TEXT NOT NULL, device_id TEXT NOT NULL, kind TEXT NOT NULL, form TEXT, item TEXT,
    fields TEXT NOT NULL, summary TEXT NOT NULL, hash BLOB NOT NULL,
    PRIMARY KEY (case_id, seq)) WITHOUT ROWID;
"#;

/// Tables and their primary-key order, for [`dump`] and per-case deletes.
const PROJECTION_TABLES: &[(&str, &str)] = &[
    ("cases", "id"),
    ("field_values", "case_id, form, item, field"),
    ("field_heads", "case_id, form, item, field, event_id"),
    ("items", "case_id, form, item"),
    ("conflicts", "case_id, form, item, field"),
    ("stage_history", "case_id, seq"),
    ("audit", "case_id, seq"),
];

/// Statements that delete every projection row of one case (`?1`).
const DELETE_CASE_ROWS: &[&str] = &[
    "DELETE FROM cases WHERE id = ?1",
    "DELETE FROM field_values WHERE case_id = ?1",
    "DELETE FROM conflict_heads WHERE case_id = ?1",
    "DELETE FROM items WHERE case_id = ?1",
    "DELETE FROM conflicts WHERE case_id = ?1",
    "DELETE FROM stage_history WHERE case_id = ?1",
    "DELETE FROM audit WHERE case_id = ?1",
];

/// Create the tables (idempotent).
pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)?;
    conn.execute_batch(crate::model::erasure::SCHEMA)?;
    conn.pragma_update(None, "user_version", STAGE_REGISTER_LAYOUT)?;
    derived::registered().iter().try_for_each(|ix| ix.migrate(conn))
}

/// `PRAGMA user_version` of a projection whose stage is a register (stage
/// conflicts, `stage_history` = the path that applies). A database with a
/// lower version was projected when the last stage change in event order
/// won; its first commit rebuilds every case that could hold concurrent
/// stage changes ([`upgrade_layout`]). The version sits in the database
/// header, so it changes with the commit's transaction and a journal
/// replay repeats the rebuild exactly.
pub const STAGE_REGISTER_LAYOUT: i64 = 3;

/// Indexes added after [`SCHEMA`], created at every unlock if missing
/// ([`upgrade`]): derived data only, so creating them changes no row.
///
/// `events_by_hlc`: opening a store reads the newest event's HLC (so its
/// clock never runs behind the vault). Without this index that is a scan of
/// the whole events table, a third of the database, which made unlocking
/// read nearly every snapshot segment instead of only a few.
pub const ADDED_INDEXES: &str = r#"
CREATE INDEX IF NOT EXISTS events_by_hlc ON events (hlc_millis, hlc_counter);
"#;

/// Bring an existing database's derived structures up to date
/// ([`ADDED_INDEXES`] and the derived indexes' own, such as the report's
/// partial index of the field values it reads); see `Applier::upgrade`.
pub fn upgrade(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(ADDED_INDEXES)?;
    // Empty until a case is erased; vaults made before erasure gain them here.
    conn.execute_batch(crate::model::erasure::SCHEMA)?;
    derived::registered().iter().try_for_each(|ix| ix.upgrade(conn))
}

/// Why journal entries could not be applied. Nothing is applied when any
/// entry fails (the caller's transaction is rolled back).
#[derive(Debug, thiserror::Error)]
pub enum ApplyRejection {
    /// The entry is neither a device registration nor a well-formed event.
    #[error("malformed journal entry: {0}")]
    Malformed(String),
    /// The event's device has no registered key.
    #[error("event {event} comes from unknown device {device}; trust the device first")]
    UnknownDevice {
        /// The device the event claims.
        device: Uuid,
        /// The event.
        event: Uuid,
    },
    /// Two different events claim the same (device, sequence number).
    #[error("device {device} signed two different events with sequence number {seq} ({existing} and {new}): equivocation, refused")]
    Equivocation {
        /// The device.
        device: Uuid,
        /// The sequence number used twice.
        seq: u64,
        /// The event already known.
        existing: Uuid,
        /// The event refused.
        new: Uuid,
    },
    /// An event id is already known with different content.
    #[error("event {0} is already known with different content: refused")]
    ConflictingEvent(Uuid),
    /// A device is already registered with another key.
    #[error("device {0} is already registered with a different key")]
    DeviceKeyMismatch(Uuid),
    /// Database failure.
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
}

/// Apply journal entries: register devices, insert new events (known ids with
/// identical content are skipped, so re-applying is idempotent) and update
/// the projection of every case they touch. Returns the affected cases.
///
/// A case's projection is updated *incrementally* when every new event of
/// the case sorts after the case's last applied event (the usual case: new
/// work, a device's bundle of recent changes): the fold continues from the
/// old events with the new ones, and only the rows the new events change are
/// rewritten (their registers, new items, new stage changes, the appended
/// audit entries, the case row). An event that lands in the middle of a
/// case's history makes a full rebuild of that case. Both give the same rows
/// (see the module docs and `tests/model_events_convergence.rs`).
pub fn apply_entries(
    tx: &Transaction<'_>,
    entries: &[Value],
    protected: ProtectedLookup,
) -> Result<BTreeSet<Uuid>, ApplyRejection> {
    let parsed = PreparedEntries { parsed: parse_entries(entries), folded: BTreeMap::new() };
    apply_prepared_entries(tx, entries, parsed, protected)
}

/// The part of [`apply_entries`] that reads no database, done beforehand
/// (see [`prepare_entries`]): every event entry parsed and encoded, and each
/// case's events of this commit folded as if the case were new.
pub struct PreparedEntries {
    parsed: Vec<Option<Result<ParsedEvent, String>>>,
    /// Per case: how many events were folded, the state and audit trail.
    folded: BTreeMap<Uuid, Folded>,
}

/// Prepare `entries` for [`apply_prepared_entries`]: pure work on all
/// cores, which the vault may do on another thread while it applies the
/// commit before (a large import is many commits). The folds are used only
/// for cases the database does not have yet, when every one of the case's
/// events here was inserted; otherwise they are wasted work, on a core
/// that would be idle.
pub fn prepare_entries(entries: &[Value]) -> PreparedEntries {
    let parsed = parse_entries(entries);
    let mut by_case: BTreeMap<Uuid, HashedEvents<'_>> = BTreeMap::new();
    // An event given twice is inserted once: fold it once.
    let mut seen = HashSet::new();
    for p in parsed.iter().flatten().flatten() {
        if seen.insert(p.event.id) {
            by_case.entry(p.event.case_id).or_default().push((&p.event, p.content_hash));
        }
    }
    let cases: Vec<(Uuid, HashedEvents<'_>)> = by_case.into_iter().collect();
    let folded = fold_cases(&cases).into_iter().collect();
    PreparedEntries { parsed, folded }
}

/// [`apply_entries`] with `prepared` = [`prepare_entries`] of the same
/// entries (the same rows; only where the pure work was done differs).
pub fn apply_prepared_entries(
    tx: &Transaction<'_>,
    entries: &[Value],
    prepared: PreparedEntries,
    protected: ProtectedLookup,
) -> Result<BTreeSet<Uuid>, ApplyRejection> {
    upgrade_layout(tx, protected)?;
    let PreparedEntries { parsed, mut folded } = prepared;
    if parsed.len() != entries.len() {
        return Err(ApplyRejection::Malformed("the prepared entries are not these entries".into()));
    }
    let mut pending: BTreeMap<Uuid, PendingCase> = BTreeMap::new();
    let mut trusted: HashSet<Uuid> = HashSet::new();
    let mut withdrawn: BTreeSet<Uuid> = BTreeSet::new();
    let mut erased: HashMap<Uuid, bool> = HashMap::new();
    for (entry, parsed) in entries.iter().zip(parsed) {
        if entry.get("type").and_then(Value::as_str) == Some(EVENT_WITHDRAWN) {
            withdrawn.extend(apply_withdrawn(tx, entry)?);
            continue;
        }
        if entry.get("type").and_then(Value::as_str) == Some(DEVICE_TRUSTED) {
            apply_device(tx, entry)?;
            continue;
        }
        if entry.get("type").and_then(Value::as_str) == Some(SYNC_PUT) {
            apply_sync_put(tx, entry)?;
            continue;
        }
        if entry.get("type").and_then(Value::as_str) == Some(erasure::ERASED_EVENT) {
            erasure::apply_erased_event(tx, entry).map_err(ApplyRejection::Malformed)?;
            continue;
        }
        if entry.get("type").and_then(Value::as_str) == Some(erasure::ERASURE_DONE) {
            erasure::apply_done(tx, entry)?;
            continue;
        }
        let Some(parsed) = parsed else {
            return Err(ApplyRejection::Malformed("event entry was not parsed".into()));
        };
        let ParsedEvent { event, json, content_hash } = parsed.map_err(ApplyRejection::Malformed)?;
        let case = event.case_id;
        let is_erased = match erased.get(&case) {
            Some(e) => *e,
            None => *erased.entry(case).or_insert(erasure::is_erased(tx, case)?),
        };
        if is_erased {
            // A late event of an erased case: its bookkeeping only (the
            // store journals such events as `event.erased`; this covers
            // the same event in a frame committed before the erasure).
            if !trusted.contains(&event.device_id) && device_key(tx, event.device_id)?.is_none() {
                return Err(ApplyRejection::UnknownDevice { device: event.device_id, event: event.id });
            }
            erasure::apply_erased_event(tx, &erasure::erased_event_entry(&event)).map_err(ApplyRejection::Malformed)?;
            continue;
        }
        if let std::collections::btree_map::Entry::Vacant(slot) = pending.entry(case) {
            // Read before this call inserts anything into the case.
            let old_last = last_event_key(tx, case)?;
            slot.insert(PendingCase { old_last, new: Vec::new() });
        }
        if insert_event(tx, &event, &json, &mut trusted)? {
            pending.get_mut(&case).expect("inserted above").new.push((event, content_hash));
        }
    }
    // Cases new to the database whose events here no prepared fold covers
    // (none was prepared, or an event was a duplicate): folded now, on all
    // cores when there are enough events.
    let missing: Vec<(Uuid, HashedEvents<'_>)> = pending
        .iter()
        .filter(|(case, p)| {
            p.old_last.is_none() && !p.new.is_empty() && folded.get(case).is_none_or(|(n, _, _)| *n != p.new.len())
        })
        .map(|(case, p)| (*case, p.new.iter().map(|(e, h)| (e, *h)).collect()))
        .collect();
    let refolded = fold_cases(&missing);
    drop(missing);
    folded.extend(refolded);
    let mut affected = BTreeSet::new();
    // The parsed events and folded states of new cases, once written: freed
    // together on another core (see `parallel::drop_in_background`).
    let mut spent = Vec::new();
    let mut purged = false;
    for (case, p) in pending {
        if p.new.is_empty() {
            continue;
        }
        // An approved erasure: nothing of the case is written, and what was
        // there is removed (the rules were checked before the commit).
        if let Some((approval, _)) = p.new.iter().find(|(e, _)| e.kind == EventKind::CaseErasureApproved) {
            erasure::purge(tx, approval, |tx| delete_case_rows(tx, case))?;
            purged = true;
            affected.insert(case);
            continue;
        }
        match folded.remove(&case) {
            // A case seen for the first time: it has no rows yet.
            Some((_, state, trail)) if p.old_last.is_none() => {
                write_case(tx, &state, protected, None)?;
                audit::write(tx, &trail)?;
                spent.push((p, state, trail));
            }
            _ => update_case(tx, case, p, protected)?,
        }
        affected.insert(case);
    }
    if spent.len() >= MIN_CASES_TO_DROP_IN_BACKGROUND {
        crate::parallel::drop_in_background((spent, folded));
    }
    // A case that lost an event is rebuilt from the events it has left,
    // after any incremental update of this commit.
    for case in withdrawn {
        rebuild_case(tx, case, protected)?;
        affected.insert(case);
    }
    // After every case's rows are written (each case's index rows depend
    // only on its own rows), in case order as before.
    for ix in derived::registered() {
        ix.update_cases(tx, &affected)?;
    }
    if purged {
        erasure::rebuild_fulltext(tx)?;
    }
    Ok(affected)
}

/// Delete every projection row of one case.
fn delete_case_rows(tx: &Transaction<'_>, case: Uuid) -> rusqlite::Result<()> {
    let id = case.to_string();
    for sql in DELETE_CASE_ROWS {
        tx.prepare_cached(sql)?.execute([&id])?;
    }
    Ok(())
}

/// Events of one case with their content hashes.
type HashedEvents<'a> = Vec<(&'a Event, [u8; 32])>;

/// A case folded from new events: how many, the state, the audit trail.
type Folded = (usize, CaseState, Vec<audit::AuditEntry>);

/// [`fold_new`] of each case, on all cores when there are enough events
/// (folding and hashing read nothing from the database); in case order.
fn fold_cases(cases: &[(Uuid, HashedEvents<'_>)]) -> Vec<(Uuid, Folded)> {
    let events: usize = cases.iter().map(|(_, new)| new.len()).sum();
    let threads = crate::parallel::threads_for(events, MIN_ENTRIES_PER_THREAD).min(cases.len());
    crate::parallel::map_ordered(cases, threads, |(case, new)| {
        let (state, trail) = fold_new(*case, new);
        (*case, (new.len(), state, trail))
    })
}

/// The state and audit trail of a case new to the database, folded from
/// its new events (sorted canonically here).
fn fold_new(case: Uuid, new: &[(&Event, [u8; 32])]) -> (CaseState, Vec<audit::AuditEntry>) {
    let mut sorted: Vec<&(&Event, [u8; 32])> = new.iter().collect();
    sorted.sort_by_key(|(e, _)| e.order_key());
    let mut state = CaseState::new(case);
    for (e, _) in &sorted {
        state.apply(e);
    }
    let trail = audit::chain_from_hashed(case, 0, audit::GENESIS, sorted.iter().map(|(e, h)| (*e, *h)).collect());
    (state, trail)
}

/// An event entry parsed, with its stored encoding and content hash.
struct ParsedEvent {
    event: Event,
    /// [`Event::canonical_json`].
    json: String,
    /// [`Event::content_hash`] (for the audit chain).
    content_hash: [u8; 32],
}

/// Fewer written new cases than this are freed in place: starting a thread
/// costs more than freeing a few cases (an ordinary save writes one).
const MIN_CASES_TO_DROP_IN_BACKGROUND: usize = 256;

/// Below this many entries one thread parses them all: a thread costs more
/// than it saves.
const MIN_ENTRIES_PER_THREAD: usize = 512;

/// Parse and encode every event entry (`None` for device and sync
/// entries). Pure work, done up front on all cores: parsing the JSON value,
/// the canonical encoding and its hash are most of an event's cost to
/// apply, and they do not touch the database. Results are in entry order,
/// so the apply loop reports the first bad entry exactly as before.
fn parse_entries(entries: &[Value]) -> Vec<Option<Result<ParsedEvent, String>>> {
    fn parse_one(entry: &Value) -> Option<Result<ParsedEvent, String>> {
        match entry.get("type").and_then(Value::as_str) {
            Some(DEVICE_TRUSTED)
            | Some(SYNC_PUT)
            | Some(EVENT_WITHDRAWN)
            | Some(erasure::ERASED_EVENT)
            | Some(erasure::ERASURE_DONE) => None,
            _ => Some(Event::from_json(entry).map_err(|e| e.to_string()).map(|event| {
                let enc = crate::model::signatures::EncodedEvent::new(&event);
                ParsedEvent { json: enc.canonical_json(&event.sig), content_hash: enc.content_hash(&event.sig), event }
            })),
        }
    }
    let threads = crate::parallel::threads_for(entries.len(), MIN_ENTRIES_PER_THREAD);
    crate::parallel::map_ordered(entries, threads, parse_one)
}

/// Projection tables of layout 1 (before `field_heads` became a view).
const LAYOUT_1_TABLES: &[&str] =
    &["cases", "field_values", "field_heads", "items", "conflicts", "stage_history", "audit"];

/// Bring a layout 1 database (where `field_heads` is a table) to the current
/// layout: drop the projection tables, create them anew and rebuild every
/// case from its events. A pure function of the events, like every
/// projection update, so the journal replay at unlock does the same.
fn upgrade_layout(tx: &Transaction<'_>, protected: ProtectedLookup) -> Result<(), ApplyRejection> {
    upgrade_layout_1(tx, protected)?;
    let version: i64 = tx.prepare_cached("PRAGMA user_version")?.query_row([], |r| r.get(0))?;
    if version >= STAGE_REGISTER_LAYOUT {
        return Ok(());
    }
    // Concurrent stage changes need two status.changed events; any other
    // case's rows are the same under both layouts.
    rebuild_cases_listed(
        tx,
        "SELECT case_id FROM events WHERE kind = 'status.changed' GROUP BY case_id HAVING COUNT(*) >= 2 ORDER BY case_id",
        protected,
    )?;
    tx.pragma_update(None, "user_version", STAGE_REGISTER_LAYOUT)?;
    Ok(())
}

fn upgrade_layout_1(tx: &Transaction<'_>, protected: ProtectedLookup) -> Result<(), ApplyRejection> {
    let old: Option<i64> = tx
        .prepare_cached("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'field_heads'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    if old.is_none() {
        return Ok(());
    }
    for table in LAYOUT_1_TABLES {
        tx.execute_batch(&format!("DROP TABLE IF EXISTS {table};"))?;
    }
    tx.execute_batch(SCHEMA)?;
    rebuild_cases_listed(tx, "SELECT DISTINCT case_id FROM events ORDER BY case_id", protected)
}

/// Rebuild (projection and search index) every case whose id the query
/// `sql` lists: what a layout upgrade does with the cases it changes.
fn rebuild_cases_listed(tx: &Transaction<'_>, sql: &str, protected: ProtectedLookup) -> Result<(), ApplyRejection> {
    let cases: Vec<String> = tx.prepare(sql)?.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    for case in cases {
        let case = Uuid::parse_str(&case).map_err(|e| ApplyRejection::Malformed(e.to_string()))?;
        rebuild_case(tx, case, protected)?;
        let one = BTreeSet::from([case]);
        for ix in derived::registered() {
            ix.update_cases(tx, &one)?;
        }
    }
    Ok(())
}

/// The new events of one case in one [`apply_entries`] call.
struct PendingCase {
    /// Order key of the case's newest event before the call.
    old_last: Option<OrderKey>,
    /// Events inserted by the call (already parsed: never read back), with
    /// their content hashes.
    new: Vec<(Event, [u8; 32])>,
}

/// Bring the projection of one case up to date with its new events.
fn update_case(
    tx: &Transaction<'_>,
    case: Uuid,
    p: PendingCase,
    protected: ProtectedLookup,
) -> Result<(), ApplyRejection> {
    let mut new = p.new;
    new.sort_by_key(|(e, _)| e.order_key());
    let first_new = new[0].0.order_key();
    let hashed = || new.iter().map(|(e, h)| (e, *h)).collect::<Vec<_>>();
    match p.old_last {
        None => {
            // A case seen for the first time: it has no rows yet.
            let (state, trail) = fold_new(case, &hashed());
            write_case(tx, &state, protected, None)?;
            audit::write(tx, &trail)?;
        }
        Some(last) if first_new > last => {
            let old = case_events_upto(tx, case, last)?;
            let Some(tail) = audit_tail(tx, case)?.filter(|(n, _)| *n == old.len() as u64) else {
                // The stored trail does not match the events (never the case
                // for rows this module wrote): start over from the events.
                return rebuild_case(tx, case, protected);
            };
            let mut state = CaseState::new(case);
            for e in &old {
                state.apply(e);
            }
            let since = Since {
                key: last,
                stage_len: state.stage_history.len(),
                stage_path: state.stage_view().path.iter().map(|c| c.event).collect(),
            };
            for (e, _) in &new {
                state.apply(e);
            }
            write_case(tx, &state, protected, Some(&since))?;
            audit::write(tx, &audit::chain_from_hashed(case, tail.0, tail.1, hashed()))?;
        }
        Some(_) => rebuild_case(tx, case, protected)?,
    }
    Ok(())
}

/// What an incremental update keeps: rows of events up to `key`.
struct Since {
    /// Order key of the last event already projected.
    key: OrderKey,
    /// Stage writes folded from those events.
    stage_len: usize,
    /// The stage path stored (`stage_history` rows), by event.
    stage_path: Vec<Uuid>,
}

/// Order key of the newest stored event of a case.
fn last_event_key(conn: &Connection, case: Uuid) -> rusqlite::Result<Option<OrderKey>> {
    let mut stmt = conn.prepare_cached(
        "SELECT hlc_millis, hlc_counter, device_id, id FROM events WHERE case_id = ?1
         ORDER BY hlc_millis DESC, hlc_counter DESC, device_id DESC, id DESC LIMIT 1",
    )?;
    let row = stmt
        .query_row([case.to_string()], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, u32>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
        })
        .optional()?;
    let Some((millis, counter, device, id)) = row else { return Ok(None) };
    let uuid = |i: usize, s: &str| {
        Uuid::parse_str(s)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
    };
    Ok(Some((Hlc { millis: millis.max(0) as u64, counter }, uuid(2, &device)?, uuid(3, &id)?)))
}

/// Number of audit entries of a case and the hash of the last one.
fn audit_tail(conn: &Connection, case: Uuid) -> rusqlite::Result<Option<(u64, [u8; 32])>> {
    let mut stmt = conn.prepare_cached("SELECT seq, hash FROM audit WHERE case_id = ?1 ORDER BY seq DESC LIMIT 1")?;
    let row = stmt.query_row([case.to_string()], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))).optional()?;
    Ok(row.and_then(|(seq, hash)| {
        let bytes: [u8; 32] = hash.try_into().ok()?;
        Some((u64::try_from(seq).ok()? + 1, bytes))
    }))
}

/// A device registration journal entry.
pub fn device_entry(device_id: Uuid, verifying_key_hex: &str, name: &str) -> Value {
    serde_json::json!({"type": DEVICE_TRUSTED, "device_id": device_id, "verifying_key": verifying_key_hex, "name": name})
}

fn apply_device(tx: &Transaction<'_>, entry: &Value) -> Result<(), ApplyRejection> {
    let field = |k: &str| {
        entry
            .get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| ApplyRejection::Malformed(format!("device entry without {k}")))
    };
    let device = Uuid::parse_str(field("device_id")?).map_err(|e| ApplyRejection::Malformed(e.to_string()))?;
    let key = field("verifying_key")?;
    let name = field("name")?;
    match device_key(tx, device)? {
        Some(existing) if existing == key => Ok(()),
        Some(_) => Err(ApplyRejection::DeviceKeyMismatch(device)),
        None => {
            tx.execute(
                "INSERT INTO devices (device_id, verifying_key, name) VALUES (?1, ?2, ?3)",
                params![device.to_string(), key, name],
            )?;
            Ok(())
        }
    }
}

/// A sync-state journal entry: set `key` to `value`.
pub fn sync_put_entry(key: &str, value: &Value) -> Value {
    serde_json::json!({"type": SYNC_PUT, "key": key, "value": value})
}

fn apply_sync_put(tx: &Transaction<'_>, entry: &Value) -> Result<(), ApplyRejection> {
    let key = entry
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| ApplyRejection::Malformed("sync entry without key".into()))?;
    let value = entry.get("value").ok_or_else(|| ApplyRejection::Malformed("sync entry without value".into()))?;
    tx.execute_batch(SYNC_STATE_SCHEMA)?;
    tx.execute(
        "INSERT INTO sync_state (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, to_canonical_string(value)],
    )?;
    Ok(())
}

/// Every sync-state entry whose key starts with `prefix`, by key (empty when
/// the vault never synced).
pub fn sync_state(conn: &Connection, prefix: &str) -> rusqlite::Result<Vec<(String, Value)>> {
    let exists: Option<i64> = conn
        .query_row("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'sync_state'", [], |r| r.get(0))
        .optional()?;
    if exists.is_none() {
        return Ok(Vec::new());
    }
    let mut stmt =
        conn.prepare_cached("SELECT key, value FROM sync_state WHERE substr(key, 1, ?2) = ?1 ORDER BY key")?;
    let rows =
        stmt.query_map(params![prefix, prefix.len() as i64], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (k, v) = row?;
        let v = serde_json::from_str(&v)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e)))?;
        out.push((k, v));
    }
    Ok(out)
}

/// The registered verifying key (hex) of a device.
pub fn device_key(conn: &Connection, device: Uuid) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT verifying_key FROM devices WHERE device_id = ?1")?
        .query_row([device.to_string()], |r| r.get(0))
        .optional()
}

/// Insert one event. Ok(false) = already known with identical content.
/// `trusted` caches the devices found registered during this call.
/// `json` is the event's [`Event::canonical_json`].
fn insert_event(
    tx: &Transaction<'_>,
    event: &Event,
    json: &str,
    trusted: &mut HashSet<Uuid>,
) -> Result<bool, ApplyRejection> {
    let id = event.id.to_string();
    // A known id (same content: skipped; other content: refused) is told
    // by the insert itself (`ON CONFLICT (id) DO NOTHING` changes no row),
    // not by a lookup before every insert: almost every event applied is new.
    let known = |tx: &Transaction<'_>| -> Result<bool, ApplyRejection> {
        match stored_event_json_str(tx, &id)? {
            Some(known) if known == json => Ok(false),
            Some(_) => Err(ApplyRejection::ConflictingEvent(event.id)),
            None => Err(ApplyRejection::Malformed(format!("event {} was neither inserted nor found", event.id))),
        }
    };
    if !trusted.contains(&event.device_id) {
        if device_key(tx, event.device_id)?.is_none() {
            // As before: a known event is compared before its device is asked for.
            if stored_event_json_str(tx, &id)?.is_some() {
                return known(tx);
            }
            return Err(ApplyRejection::UnknownDevice { device: event.device_id, event: event.id });
        }
        trusted.insert(event.device_id);
    }
    let seq = i64::try_from(event.device_seq)
        .map_err(|_| ApplyRejection::Malformed(format!("device_seq {} out of range", event.device_seq)))?;
    let millis = i64::try_from(event.hlc.millis)
        .map_err(|_| ApplyRejection::Malformed(format!("hlc millis {} out of range", event.hlc.millis)))?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO events (id, case_id, device_id, device_seq, hlc_millis, hlc_counter, kind, json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO NOTHING",
    )?;
    let inserted = insert.execute(params![
        id,
        event.case_id.to_string(),
        event.device_id.to_string(),
        seq,
        millis,
        event.hlc.counter,
        event.kind.as_str(),
        json
    ]);
    match inserted {
        Ok(0) => known(tx),
        Ok(_) => Ok(true),
        // A known id changes no row (above), so a violated constraint is
        // UNIQUE (device_id, device_seq): another event holds the sequence.
        Err(rusqlite::Error::SqliteFailure(f, msg)) if f.code == ErrorCode::ConstraintViolation => {
            match event_at_seq(tx, event.device_id, event.device_seq)? {
                Some(existing) => Err(ApplyRejection::Equivocation {
                    device: event.device_id,
                    seq: event.device_seq,
                    existing,
                    new: event.id,
                }),
                None => Err(rusqlite::Error::SqliteFailure(f, msg).into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// The id of the event a device signed with sequence number `seq`, if known.
pub fn event_at_seq(conn: &Connection, device: Uuid, seq: u64) -> rusqlite::Result<Option<Uuid>> {
    let Ok(seq) = i64::try_from(seq) else { return Ok(None) };
    let mut id: Option<String> = conn
        .prepare_cached("SELECT id FROM events WHERE device_id = ?1 AND device_seq = ?2")?
        .query_row(params![device.to_string(), seq], |r| r.get(0))
        .optional()?;
    if id.is_none() {
        // An event of an erased case holds its sequence number too.
        id = conn
            .prepare_cached("SELECT id FROM erased_events WHERE device_id = ?1 AND device_seq = ?2")?
            .query_row(params![device.to_string(), seq], |r| r.get(0))
            .optional()?;
    }
    Ok(id.and_then(|s| Uuid::parse_str(&s).ok()))
}

/// The canonical JSON of a stored event, if known.
pub fn stored_event_json(conn: &Connection, id: Uuid) -> rusqlite::Result<Option<String>> {
    stored_event_json_str(conn, &id.to_string())
}

fn stored_event_json_str(conn: &Connection, id: &str) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT json FROM events WHERE id = ?1")?.query_row([id], |r| r.get(0)).optional()
}

/// All events of a case in canonical order (hlc, device_id, id).
pub fn case_events(conn: &Connection, case: Uuid) -> rusqlite::Result<Vec<Event>> {
    let mut stmt = conn
        .prepare_cached("SELECT json FROM events WHERE case_id = ?1 ORDER BY hlc_millis, hlc_counter, device_id, id")?;
    let rows = stmt.query_map([case.to_string()], |r| r.get::<_, String>(0))?;
    parse_events(rows)
}

/// The events of a case up to and including order key `last`, in canonical
/// order (the ones an incremental update folds before the new events).
fn case_events_upto(conn: &Connection, case: Uuid, last: OrderKey) -> rusqlite::Result<Vec<Event>> {
    let mut stmt = conn.prepare_cached(
        "SELECT json FROM events WHERE case_id = ?1
           AND (hlc_millis, hlc_counter, device_id, id) <= (?2, ?3, ?4, ?5)
         ORDER BY hlc_millis, hlc_counter, device_id, id",
    )?;
    let rows = stmt.query_map(
        params![case.to_string(), millis(last.0), last.0.counter, last.1.to_string(), last.2.to_string()],
        |r| r.get::<_, String>(0),
    )?;
    parse_events(rows)
}

fn parse_events(rows: impl Iterator<Item = rusqlite::Result<String>>) -> rusqlite::Result<Vec<Event>> {
    let mut events = Vec::new();
    for json in rows {
        let json = json?;
        // Only well-formed events are ever inserted (apply_entries parses
        // them first), so a parse failure here means the db was tampered with.
        let value: Value = serde_json::from_str(&json)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))?;
        let event = Event::from_json(&value)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))?;
        events.push(event);
    }
    // SQLite compares the uuid strings bytewise, which for lowercase hyphenated
    // uuids equals Uuid's byte order; sort anyway so the fold never depends on
    // that detail.
    events.sort_by_key(Event::order_key);
    Ok(events)
}

/// Rebuild every projection row of one case from all its events.
pub fn rebuild_case(tx: &Transaction<'_>, case: Uuid, protected: ProtectedLookup) -> Result<(), ApplyRejection> {
    if erasure::is_erased(tx, case)? {
        // Only its two erasure events are left: it has no rows.
        return Ok(delete_case_rows(tx, case)?);
    }
    let events = case_events(tx, case)?;
    let mut state = CaseState::new(case);
    for e in &events {
        state.apply(e);
    }
    delete_case_rows(tx, case)?;
    write_case(tx, &state, protected, None)?;
    audit::write(tx, &audit::chain(case, &events))?;
    Ok(())
}

/// Key of a field register.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegisterKey {
    /// Form id.
    pub form: String,
    /// List item, for repeating forms.
    pub item: Option<Uuid>,
    /// Field machine name.
    pub field: String,
}

/// One write to a register.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    /// The event that wrote it.
    pub event: Uuid,
    /// Canonical order key of that event.
    pub key: OrderKey,
    /// The value written.
    pub value: Value,
    /// Who wrote it.
    pub author: String,
}

/// A multi-value register: all writes and the ids named in their bases.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Register {
    /// Every write, by event id.
    pub writes: Writes,
    /// Every event id named in the base of a write to this register.
    pub superseded: Superseded,
}

/// The writes of one register by event id: a map with the read API of a
/// `BTreeMap<Uuid, Write>`, kept as one vector sorted by id. Almost every
/// register has one write, and a folded office import holds hundreds of
/// thousands of registers: a B-tree allocates a node of eleven slots for
/// its first entry (about 1.5 KB here), which made the fold of a large
/// import spend most of its time faulting in fresh memory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Writes(Vec<Write>);

impl Writes {
    /// Insert or replace the write of `event` (returns the one replaced).
    pub fn insert(&mut self, event: Uuid, write: Write) -> Option<Write> {
        debug_assert_eq!(event, write.event, "a write is keyed by its own event");
        match self.0.binary_search_by(|w| w.event.cmp(&event)) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i], write)),
            Err(i) => {
                // Most registers keep their one write: no spare slots for
                // the first (later ones grow the vector as usual).
                if self.0.is_empty() {
                    self.0.reserve_exact(1);
                }
                self.0.insert(i, write);
                None
            }
        }
    }

    /// The write of `event`.
    pub fn get(&self, event: &Uuid) -> Option<&Write> {
        self.0.binary_search_by(|w| w.event.cmp(event)).ok().map(|i| &self.0[i])
    }

    /// Whether `event` wrote to this register.
    pub fn contains_key(&self, event: &Uuid) -> bool {
        self.get(event).is_some()
    }

    /// Event ids, ascending.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Uuid> + ExactSizeIterator + '_ {
        self.0.iter().map(|w| &w.event)
    }

    /// Writes, by ascending event id.
    pub fn values(&self) -> std::slice::Iter<'_, Write> {
        self.0.iter()
    }

    /// (event id, write) pairs, by ascending event id.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Uuid, &Write)> + ExactSizeIterator + '_ {
        self.0.iter().map(|w| (&w.event, w))
    }

    /// Number of writes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No write yet.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The event ids named in the bases of a register's writes: a set with the
/// read API of a `BTreeSet<Uuid>`, kept as one sorted vector (for the same
/// reason as [`Writes`]: most registers have one or two such ids).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Superseded(Vec<Uuid>);

impl Superseded {
    /// Add `id`; false when it was there already.
    pub fn insert(&mut self, id: Uuid) -> bool {
        match self.0.binary_search(&id) {
            Ok(_) => false,
            Err(i) => {
                if self.0.is_empty() {
                    self.0.reserve_exact(1);
                }
                self.0.insert(i, id);
                true
            }
        }
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: &Uuid) -> bool {
        self.0.binary_search(id).is_ok()
    }

    /// The ids, ascending.
    pub fn iter(&self) -> std::slice::Iter<'_, Uuid> {
        self.0.iter()
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No id.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Extend<Uuid> for Superseded {
    fn extend<I: IntoIterator<Item = Uuid>>(&mut self, ids: I) {
        for id in ids {
            self.insert(id);
        }
    }
}

/// How a field's shown value was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldStatus {
    /// One head: no conflict.
    Ok,
    /// Several heads of a normal/sensitive field: the newest is shown.
    MergedAutomatically,
    /// Several heads of a protected field: nothing is shown until resolved.
    NeedsReview,
}

impl FieldStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldStatus::Ok => "ok",
            FieldStatus::MergedAutomatically => "merged_automatically",
            FieldStatus::NeedsReview => "needs_review",
        }
    }
    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<FieldStatus> {
        Some(match s {
            "ok" => FieldStatus::Ok,
            "merged_automatically" => FieldStatus::MergedAutomatically,
            "needs_review" => FieldStatus::NeedsReview,
            _ => return None,
        })
    }
}

impl Register {
    /// The heads, oldest first. If a (forged) cycle of bases left no head,
    /// every write counts as a head so nothing is silently lost.
    pub fn heads(&self) -> Vec<&Write> {
        let mut heads: Vec<&Write> = self.writes.values().filter(|w| !self.superseded.contains(&w.event)).collect();
        if heads.is_empty() {
            heads = self.writes.values().collect();
        }
        heads.sort_by_key(|w| w.key);
        heads
    }

    /// The newest head (the value rules and lists use, conflict or not).
    pub fn newest(&self) -> Option<&Write> {
        self.heads().into_iter().last()
    }

    /// The shown value and its status. Protected fields with several heads
    /// show nothing.
    pub fn resolve(&self, protected: bool) -> (Option<&Write>, FieldStatus) {
        let heads = self.heads();
        match heads.len() {
            0 | 1 => (heads.first().copied(), FieldStatus::Ok),
            _ if protected => (None, FieldStatus::NeedsReview),
            _ => (heads.last().copied(), FieldStatus::MergedAutomatically),
        }
    }
}

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

fn opt_str(v: Option<&Value>) -> Option<String> {
    v.and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(to_canonical_string(other)),
    })
}

fn item_col(item: Option<Uuid>) -> String {
    item.map(|i| i.to_string()).unwrap_or_default()
}

fn millis(h: Hlc) -> i64 {
    // Inserted events were range-checked; saturate rather than wrap for folds
    // of in-memory events.
    i64::try_from(h.millis).unwrap_or(i64::MAX)
}

/// One `field_values` row of a case, as [`write_case`] collects them.
struct FieldRow<'a> {
    form: &'a str,
    item: String,
    field: &'a str,
    value: Option<String>,
    heads: i64,
    status: &'static str,
    winner: Option<String>,
}

/// The `field_values` inserts ([`write_case`]).
static FIELD_VALUES: BatchInsert =
    BatchInsert::new("INSERT INTO field_values (case_id, form, item, field, value, heads, status, winner)", 8);

/// The `items` inserts ([`write_case`]): one per case note, visit, ….
static ITEMS: BatchInsert = BatchInsert::new(
    "INSERT INTO items (case_id, form, item, kind, seq, created_event, created_millis, created_counter, author)",
    9,
);

/// Insert a case's field rows, in order, several to a statement
/// ([`BatchInsert`]): five per case note, most of an import's rows.
fn insert_field_rows(tx: &Transaction<'_>, case: &str, rows: &[FieldRow<'_>]) -> rusqlite::Result<()> {
    FIELD_VALUES.insert(tx, rows, |stmt, at, row| {
        stmt.raw_bind_parameter(at + 1, case)?;
        stmt.raw_bind_parameter(at + 2, row.form)?;
        stmt.raw_bind_parameter(at + 3, &row.item)?;
        stmt.raw_bind_parameter(at + 4, row.field)?;
        stmt.raw_bind_parameter(at + 5, &row.value)?;
        stmt.raw_bind_parameter(at + 6, row.heads)?;
        stmt.raw_bind_parameter(at + 7, row.status)?;
        stmt.raw_bind_parameter(at + 8, &row.winner)
    })
}

/// Write the projection rows of one case. With `since` = None every row is
/// written (the case has no rows). With `since`, the rows of events up to
/// `since.key` are kept: rows that only those events determine are left as
/// they are, and the rows the later events change are replaced. That is
/// exact because the later events sort after every kept one: a register
/// changes only when a later event writes to it, items and stage changes
/// they create come after the kept ones, and the case row is always
/// rewritten.
fn write_case(
    tx: &Transaction<'_>,
    st: &CaseState,
    protected: ProtectedLookup,
    since: Option<&Since>,
) -> rusqlite::Result<()> {
    let case = st.case_id.to_string();
    let mut needs_review = false;
    let mut conflicts = 0i64;
    let is_new = |key: OrderKey| since.is_none_or(|s| key > s.key);
    {
        let mut del_fv = tx
            .prepare_cached("DELETE FROM field_values WHERE case_id = ?1 AND form = ?2 AND item = ?3 AND field = ?4")?;
        let mut del_fh = tx.prepare_cached(
            "DELETE FROM conflict_heads WHERE case_id = ?1 AND form = ?2 AND item = ?3 AND field = ?4",
        )?;
        let mut del_cf =
            tx.prepare_cached("DELETE FROM conflicts WHERE case_id = ?1 AND form = ?2 AND item = ?3 AND field = ?4")?;
        let mut field_rows: Vec<FieldRow<'_>> = Vec::new();
        let mut fh = tx.prepare_cached(
            "INSERT INTO conflict_heads (case_id, form, item, field, event_id, value, hlc_millis, hlc_counter, device_id, author)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        let mut cf = tx.prepare_cached(
            "INSERT INTO conflicts (case_id, form, item, field, protected, heads) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for (key, reg) in &st.registers {
            let is_protected = protected(&key.form, &key.field);
            let heads = reg.heads();
            let (shown, status) = reg.resolve(is_protected);
            needs_review |= status == FieldStatus::NeedsReview;
            if heads.len() > 1 {
                conflicts += 1;
            }
            let touched = reg.writes.values().any(|w| is_new(w.key));
            if !touched {
                continue;
            }
            // The one head of an uncontested field is its field_values row
            // (the view joins its event); only contested fields get
            // conflict_heads rows.
            let item = item_col(key.item);
            // Rows exist only for a register the kept events wrote to
            // (registers are never removed), and conflict rows only if
            // they wrote to it twice or more (one write is one head). A
            // register new since then (every field of a new note) has no
            // row to delete: three B-tree seeks per field saved.
            let kept_writes = reg.writes.values().filter(|w| !is_new(w.key)).count();
            if kept_writes > 0 {
                del_fv.execute(params![case, key.form, item, key.field])?;
            }
            if kept_writes > 1 {
                del_fh.execute(params![case, key.form, item, key.field])?;
                del_cf.execute(params![case, key.form, item, key.field])?;
            }
            field_rows.push(FieldRow {
                form: &key.form,
                item: item.clone(),
                field: &key.field,
                value: shown.map(|w| to_canonical_string(&w.value)),
                heads: heads.len() as i64,
                status: status.as_str(),
                winner: shown.map(|w| w.event.to_string()),
            });
            if heads.len() == 1 {
                continue;
            }
            for h in &heads {
                fh.execute(params![
                    case,
                    key.form,
                    item,
                    key.field,
                    h.event.to_string(),
                    to_canonical_string(&h.value),
                    millis(h.key.0),
                    h.key.0.counter,
                    h.key.1.to_string(),
                    h.author
                ])?;
            }
            if heads.len() > 1 {
                let ids: Vec<String> = heads.iter().map(|h| h.event.to_string()).collect();
                cf.execute(params![
                    case,
                    key.form,
                    item,
                    key.field,
                    is_protected as i64,
                    serde_json::to_string(&ids).expect("a list of strings serialises")
                ])?;
            }
        }
        insert_field_rows(tx, &case, &field_rows)?;
    }
    {
        let forms: BTreeSet<&String> = st.items.keys().map(|(f, _)| f).collect();
        let mut rows: Vec<(&String, usize, Uuid, &ItemInfo)> = Vec::new();
        for form in forms {
            for (seq, (item, info)) in st.items_of(form).into_iter().enumerate() {
                if is_new(info.created) {
                    rows.push((form, seq, item, info));
                }
            }
        }
        ITEMS.insert(tx, &rows, |stmt, at, (form, seq, item, info)| {
            stmt.raw_bind_parameter(at + 1, &case)?;
            stmt.raw_bind_parameter(at + 2, form)?;
            stmt.raw_bind_parameter(at + 3, item.to_string())?;
            stmt.raw_bind_parameter(at + 4, info.kind.as_str())?;
            stmt.raw_bind_parameter(at + 5, *seq as i64)?;
            stmt.raw_bind_parameter(at + 6, info.created_event.to_string())?;
            stmt.raw_bind_parameter(at + 7, millis(info.created.0))?;
            stmt.raw_bind_parameter(at + 8, info.created.0.counter)?;
            stmt.raw_bind_parameter(at + 9, &info.author)
        })?;
    }
    let stage = st.stage_view();
    if stage.in_conflict {
        needs_review = true;
        conflicts += 1;
    }
    {
        // `stage_history` holds the path (the changes that apply). New
        // stage writes usually extend it; a fork shortens it to the last
        // agreed stage and a resolution may switch branches: then the
        // case's rows are rewritten.
        let path = &stage.path;
        let kept = match since {
            None => 0,
            Some(s)
                if s.stage_path.len() <= path.len() && s.stage_path.iter().zip(path).all(|(id, c)| *id == c.event) =>
            {
                s.stage_path.len()
            }
            Some(_) => {
                tx.prepare_cached("DELETE FROM stage_history WHERE case_id = ?1")?.execute([&case])?;
                0
            }
        };
        // The stage's conflict row, like a protected field's: rewritten
        // when a stage write is new.
        if since.is_none_or(|s| st.stage_history.len() > s.stage_len) {
            if since.is_some() {
                tx.prepare_cached(
                    "DELETE FROM conflicts WHERE case_id = ?1 AND form = ?2 AND item = '' AND field = ?3",
                )?
                .execute(params![case, STAGE_FORM, STAGE_FIELD])?;
            }
            if stage.in_conflict {
                let ids: Vec<String> = stage.heads.iter().map(|h| h.event.to_string()).collect();
                // OR REPLACE: only a forged form "case" could hold a field
                // row with this key; the stage's row is the one kept.
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO conflicts (case_id, form, item, field, protected, heads) VALUES (?1, ?2, '', ?3, 1, ?4)",
                )?
                .execute(params![
                    case,
                    STAGE_FORM,
                    STAGE_FIELD,
                    serde_json::to_string(&ids).expect("a list of strings serialises")
                ])?;
            }
        }
        let mut sh = tx.prepare_cached(
            "INSERT INTO stage_history (case_id, seq, event_id, from_stage, to_stage, reason, hlc_millis, hlc_counter, author, role)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for (seq, c) in path.iter().enumerate().skip(kept) {
            sh.execute(params![
                case,
                seq as i64,
                c.event.to_string(),
                c.from,
                c.to,
                c.reason,
                millis(c.hlc),
                c.hlc.counter,
                c.author,
                c.role.as_str()
            ])?;
        }
    }
    let Some(reg) = &st.registration else { return Ok(()) };
    let f1 = |field: &str| st.register("registration_bia", None, field);
    let shown =
        |field: &str| f1(field).and_then(|r| r.resolve(protected("registration_bia", field)).0).map(|w| &w.value);
    let updated = st.updated.unwrap_or_default();
    if since.is_some() {
        tx.prepare_cached("DELETE FROM cases WHERE id = ?1")?.execute([&case])?;
    }
    tx.prepare_cached(
        "INSERT INTO cases (id, case_number, case_type, office, stage, stage_before, caseworker, risk_level,
            given_names, family_name, sex, age_years, date_of_birth, needs_review, conflicts,
            created_millis, updated_millis, updated_counter, merged_into, transferred_to, erased, event_count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
    )?
    .execute(params![
        case,
        reg.case_number,
        reg.case_type,
        reg.office,
        st.stage.clone().unwrap_or_else(|| "identified".into()),
        st.stage_before,
        st.caseworker,
        opt_str(shown("risk_level")),
        opt_str(shown("given_names")),
        opt_str(shown("family_name")),
        opt_str(shown("sex")),
        shown("age_years").filter(|v| !v.is_null()).map(to_canonical_string),
        opt_str(shown("date_of_birth")),
        needs_review as i64,
        conflicts,
        millis(st.created.unwrap_or_default()),
        millis(updated),
        updated.counter,
        st.merged_into.map(|m| m.to_string()),
        st.transferred_to,
        st.erased as i64,
        st.event_count as i64
    ])?;
    Ok(())
}

/// A canonical text dump of the events and every projection table (not the
/// devices table), rows in
/// primary-key order: two databases with the same events have equal dumps.
pub fn dump(conn: &Connection) -> rusqlite::Result<String> {
    let mut out = String::new();
    // Devices are trust configuration, not case data: two vaults with the
    // same events may trust different device sets.
    let tables: Vec<(&str, &str)> = [("events", "id")].into_iter().chain(PROJECTION_TABLES.iter().copied()).collect();
    for (table, order) in tables {
        let _ = writeln!(out, "## {table}");
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))?;
        let n = stmt.column_count();
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            for i in 0..n {
                let v: rusqlite::types::Value = row.get(i)?;
                let _ = write!(out, "{v:?}\t");
            }
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Field rows go in 16 to a statement and the rest one by one: every
    /// row arrives whole, for counts below, at and above a full batch, and
    /// a duplicate key fails the insert as a single-row insert would.
    #[test]
    fn field_rows_are_inserted_whole_in_batches() {
        let conn = Connection::open_in_memory().unwrap();
        migrate(&conn).unwrap();
        let mut conn = conn;
        for n in [0, 1, 15, 16, 17, 37] {
            let tx = conn.transaction().unwrap();
            let fields: Vec<String> = (0..n).map(|i| format!("field_{i:02}")).collect();
            let rows: Vec<FieldRow<'_>> = fields
                .iter()
                .enumerate()
                .map(|(i, f)| FieldRow {
                    form: "registration_bia",
                    item: if i % 3 == 0 { String::new() } else { format!("item-{i}") },
                    field: f,
                    value: (i % 4 != 0).then(|| format!("\"v{i}\"")),
                    heads: 1 + (i % 2) as i64,
                    status: if i % 2 == 0 { "ok" } else { "conflict" },
                    winner: (i % 5 != 0).then(|| format!("event-{i}")),
                })
                .collect();
            insert_field_rows(&tx, &format!("case-{n}"), &rows).unwrap();
            let mut stmt = tx
                .prepare("SELECT form, item, field, value, heads, status, winner FROM field_values WHERE case_id = ?1 ORDER BY field")
                .unwrap();
            type Row = (String, String, String, Option<String>, i64, String, Option<String>);
            let got: Vec<Row> = stmt
                .query_map([format!("case-{n}")], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
                })
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            drop(stmt);
            let want: Vec<_> = rows
                .iter()
                .map(|r| {
                    (
                        r.form.to_string(),
                        r.item.clone(),
                        r.field.to_string(),
                        r.value.clone(),
                        r.heads,
                        r.status.to_string(),
                        r.winner.clone(),
                    )
                })
                .collect();
            assert_eq!(got, want, "{n} rows");
            if n >= 16 {
                // The same rows again: the batch fails on its first duplicate.
                assert!(insert_field_rows(&tx, &format!("case-{n}"), &rows[..16]).is_err());
            }
            tx.commit().unwrap();
        }
    }

    /// The compact register collections behave as the B-tree map and set
    /// they replace (order, replacement, membership).
    #[test]
    fn writes_and_superseded_behave_as_btree_collections() {
        let mut writes = Writes::default();
        let mut map: BTreeMap<Uuid, Write> = BTreeMap::new();
        let mut sup = Superseded::default();
        let mut set: BTreeSet<Uuid> = BTreeSet::new();
        let mut x: u64 = 12345;
        for i in 0..500u64 {
            // A small LCG: ids repeat, so replacements happen.
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let id = Uuid::from_u128(u128::from(x >> 56));
            let w = Write {
                event: id,
                key: (Hlc { millis: i, counter: 0 }, id, id),
                value: Value::from(i),
                author: format!("a{i}"),
            };
            assert_eq!(writes.insert(id, w.clone()), map.insert(id, w));
            assert_eq!(sup.insert(id), set.insert(id));
            assert_eq!(writes.len(), map.len());
            assert_eq!(sup.len(), set.len());
        }
        assert!(writes.keys().eq(map.keys()));
        assert!(writes.values().eq(map.values()));
        assert!(writes.iter().eq(map.iter()));
        assert!(sup.iter().eq(set.iter()));
        for probe in 0..300u128 {
            let id = Uuid::from_u128(probe);
            assert_eq!(writes.get(&id), map.get(&id));
            assert_eq!(writes.contains_key(&id), map.contains_key(&id));
            assert_eq!(sup.contains(&id), set.contains(&id));
        }
        assert!(Writes::default().is_empty() && Superseded::default().is_empty());
    }
}
