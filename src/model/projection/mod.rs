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
//!
//! Here: the schema, its migrations and the apply pipeline (parse, fold,
//! write per affected case). The parts: `state` (the fold, [`CaseState`]),
//! `registers` (field registers and their heads), `write` (a folded case into
//! the tables), `event_store` (the stored events), `bookkeeping` (trusted
//! devices, sync state, withdrawn events).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

use rusqlite::{Connection, OptionalExtension, Transaction};
use serde_json::Value;
use uuid::Uuid;

use crate::model::audit;
use crate::model::derived;
use crate::model::erasure;
use crate::model::event::{Event, EventKind, Hlc, OrderKey, Role};

/// Tells the projection whether (form, field) is a protected field.
pub type ProtectedLookup = fn(form: &str, field: &str) -> bool;

mod bookkeeping;
mod event_store;
mod registers;
mod state;
mod write;

pub use bookkeeping::*;
pub use event_store::*;
pub use registers::*;
pub use state::*;
use write::*;

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
