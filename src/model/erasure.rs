//! Two-person erasure of a case: the rule, what an approved erasure removes
//! from the database, and the tombstone it leaves.
//!
//! An erasure takes two signed events by two different people, one a
//! supervisor and the other a data manager (in either order):
//! `case.erasure_requested` {"reason"} and `case.erasure_approved`
//! {"request", "reason"}. Until people sign with keys of their own, "two
//! different people" means a different author *and* a different signing
//! key (device): one person switching role on one device cannot erase
//! alone. The rule is checked when either event is made and again on
//! import ([`check`]).
//!
//! When an approval is applied, [`purge`] removes every row of the case
//! (projection, search index, audit trail) and every event of the case
//! except the two erasure events, whose bookkeeping (id, case, device,
//! sequence, clock; no payload, no author) moves to `erased_events` so
//! that acknowledgements and sequence numbers stay whole; the
//! attachments' blob ids go to `erased_blobs` for the store to delete the
//! files, and the case to `erasure_due` until a checkpoint has rewritten
//! the snapshot and dropped the journal frames that held the events
//! (docs/vault-format.md §10). An event of an erased case that arrives
//! later is recorded as bookkeeping only.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::model::event::{Event, EventKind, Role};
use crate::model::lifecycle::RuleViolation;
use crate::model::roles::{self, Action};
use crate::model::violation::ViolationCode;

/// Why a case may be erased (docs/domain.md, Data protection: a valid request by the child or
/// caregiver, or a legal order; and a case opened in error).
pub const REASONS: &[&str] = &["opened_in_error", "data_subject_request", "legal_order"];

/// Tables of erasure bookkeeping (created with the projection, and at
/// unlock in vaults made before them).
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS erased_events (
    id TEXT PRIMARY KEY, case_id TEXT NOT NULL, device_id TEXT NOT NULL, device_seq INTEGER NOT NULL,
    hlc_millis INTEGER NOT NULL, hlc_counter INTEGER NOT NULL,
    UNIQUE (device_id, device_seq));
CREATE TABLE IF NOT EXISTS erasures (
    case_id TEXT PRIMARY KEY, erased_millis INTEGER NOT NULL, reason TEXT NOT NULL,
    requested_by TEXT NOT NULL, requested_role TEXT NOT NULL,
    approved_by TEXT NOT NULL, approved_role TEXT NOT NULL,
    request_event TEXT NOT NULL, approval_event TEXT NOT NULL, event_count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS erased_blobs (blob TEXT PRIMARY KEY, case_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS erasure_due (case_id TEXT PRIMARY KEY);
"#;

/// Journal entry `type` recording an event of an erased case by its
/// bookkeeping only (id, case_id, device_id, device_seq, hlc): what an
/// import writes instead of such an event, so its content never reaches
/// the journal.
pub const ERASED_EVENT: &str = "event.erased";

/// Journal entry `type` that ends an erasure's pending work (`cases`: the
/// case ids) once its blobs are deleted and a checkpoint has dropped the
/// journal frames that held the case.
pub const ERASURE_DONE: &str = "erasure.done";

/// The kinds of the two erasure events.
pub fn is_erasure_kind(kind: EventKind) -> bool {
    matches!(kind, EventKind::CaseErasureRequested | EventKind::CaseErasureApproved)
}

/// A pending erasure request, as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The `case.erasure_requested` event.
    pub event: Uuid,
    /// Who made it.
    pub author: String,
    /// In which role.
    pub role: Role,
    /// Which key signed it.
    pub device: Uuid,
    /// The reason code.
    pub reason: String,
}

impl Request {
    /// The request an event makes.
    pub fn of(e: &Event) -> Request {
        Request {
            event: e.id,
            author: e.author.clone(),
            role: e.role,
            device: e.device_id,
            reason: reason_of(e).to_string(),
        }
    }
}

fn reason_of(e: &Event) -> &str {
    e.payload.get("reason").and_then(Value::as_str).unwrap_or_default()
}

/// The erasure rule for `e` (a request or an approval), given the case's
/// latest request as its author saw it and whether it is erased already.
pub fn check(pending: Option<&Request>, erased: bool, e: &Event) -> Result<(), Vec<RuleViolation>> {
    let mut out = Vec::new();
    let v = |code: ViolationCode, params: &[(&'static str, &dyn std::fmt::Display)]| {
        RuleViolation::new("erasure", code, params)
    };
    if !roles::may(e.role, Action::Erase) {
        out.push(RuleViolation::new("role", ViolationCode::RoleMayNotErase, &[("role", &e.role)]));
    }
    if erased {
        out.push(v(ViolationCode::AlreadyErased, &[]));
    }
    let reason = reason_of(e);
    if !REASONS.contains(&reason) {
        out.push(v(ViolationCode::UnknownErasureReason, &[("reason", &reason), ("reasons", &REASONS.join(", "))]));
    }
    if e.kind == EventKind::CaseErasureApproved {
        let named = e.payload.get("request").and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
        match pending {
            None => out.push(v(ViolationCode::NoErasureRequest, &[])),
            Some(r) => {
                if named != Some(r.event) {
                    out.push(v(ViolationCode::ApprovalNamesRequest, &[("request", &r.event)]));
                }
                if r.role == e.role {
                    out.push(v(ViolationCode::ApprovalSameRole, &[("role", &r.role)]));
                }
                if r.author == e.author {
                    out.push(v(ViolationCode::ApprovalSamePerson, &[]));
                }
                if r.device == e.device_id {
                    out.push(v(ViolationCode::ApprovalSameKey, &[]));
                }
                if r.reason != reason {
                    out.push(v(ViolationCode::ApprovalReasonDiffers, &[("reason", &r.reason)]));
                }
            }
        }
    }
    if out.is_empty() {
        Ok(())
    } else {
        Err(out)
    }
}

/// What is left of an erased case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    /// The case.
    pub case_id: Uuid,
    /// When the approval was made (milliseconds since the epoch, its HLC).
    pub erased_millis: u64,
    /// The reason code.
    pub reason: String,
    /// Who requested (user name) and in which role.
    pub requested_by: String,
    /// The requester's role.
    pub requested_role: String,
    /// Who approved and in which role.
    pub approved_by: String,
    /// The approver's role.
    pub approved_role: String,
    /// How many of the case's events this vault removed.
    pub event_count: u64,
}

impl Tombstone {
    /// The day of the erasure (UTC), as a date.
    pub fn erased_on(&self) -> String {
        chrono::DateTime::from_timestamp_millis(self.erased_millis as i64)
            .map(|d| d.date_naive().to_string())
            .unwrap_or_default()
    }
}

/// One line: the case, when and why it was erased, who asked and who
/// approved (no personal data: the tombstone holds none).
impl std::fmt::Display for Tombstone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "case {} erased on {} ({}; requested by {} as {}, approved by {} as {}); {} event(s) removed",
            self.case_id,
            self.erased_on(),
            self.reason,
            self.requested_by,
            self.requested_role,
            self.approved_by,
            self.approved_role,
            self.event_count
        )
    }
}

const TOMBSTONE_COLUMNS: &str =
    "case_id, erased_millis, reason, requested_by, requested_role, approved_by, approved_role, event_count";

fn tombstone_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Tombstone> {
    let id: String = r.get(0)?;
    Ok(Tombstone {
        case_id: Uuid::parse_str(&id).unwrap_or_default(),
        erased_millis: r.get::<_, i64>(1)?.max(0) as u64,
        reason: r.get(2)?,
        requested_by: r.get(3)?,
        requested_role: r.get(4)?,
        approved_by: r.get(5)?,
        approved_role: r.get(6)?,
        event_count: r.get::<_, i64>(7)?.max(0) as u64,
    })
}

/// The tombstone of `case`, if it was erased.
pub fn tombstone(conn: &Connection, case: Uuid) -> rusqlite::Result<Option<Tombstone>> {
    conn.prepare_cached(&format!("SELECT {TOMBSTONE_COLUMNS} FROM erasures WHERE case_id = ?1"))?
        .query_row([case.to_string()], tombstone_row)
        .optional()
}

/// Every tombstone, oldest erasure first.
pub fn tombstones(conn: &Connection) -> rusqlite::Result<Vec<Tombstone>> {
    conn.prepare(&format!("SELECT {TOMBSTONE_COLUMNS} FROM erasures ORDER BY erased_millis, case_id"))?
        .query_map([], tombstone_row)?
        .collect()
}

/// Whether event `id` is known here by its bookkeeping only (its case erased).
pub fn is_erased_event(conn: &Connection, id: Uuid) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM erased_events WHERE id = ?1")?
        .query_row([id.to_string()], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Whether `case` is erased here.
pub fn is_erased(conn: &Connection, case: Uuid) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM erasures WHERE case_id = ?1")?
        .query_row([case.to_string()], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The ids of the erased cases.
pub fn erased_cases(conn: &Connection) -> rusqlite::Result<Vec<Uuid>> {
    let ids: Vec<String> = conn
        .prepare("SELECT case_id FROM erasures ORDER BY case_id")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(ids.iter().filter_map(|s| Uuid::parse_str(s).ok()).collect())
}

/// Stand-ins (`case.event_erased`, unsigned) for the events `device`
/// signed with a sequence number above `above` whose case was erased here
/// before they were acknowledged: the device sends these instead of the
/// events, so the receiver's acknowledgements for it have no gap.
pub fn stand_ins(
    conn: &Connection,
    device: Uuid,
    above: u64,
    author: &str,
    role: Role,
) -> rusqlite::Result<Vec<Event>> {
    let mut stmt = conn.prepare(
        "SELECT id, case_id, device_seq, hlc_millis, hlc_counter FROM erased_events
         WHERE device_id = ?1 AND device_seq > ?2 ORDER BY device_seq",
    )?;
    let rows = stmt.query_map(params![device.to_string(), i64::try_from(above).unwrap_or(i64::MAX)], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, u32>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, case, seq, millis, counter) = row?;
        let (Ok(id), Ok(case_id)) = (Uuid::parse_str(&id), Uuid::parse_str(&case)) else { continue };
        out.push(Event {
            id,
            case_id,
            device_id: device,
            device_seq: seq.max(0) as u64,
            hlc: crate::model::event::Hlc { millis: millis.max(0) as u64, counter },
            author: author.to_string(),
            role,
            kind: EventKind::CaseEventErased,
            form: None,
            payload: Value::Object(serde_json::Map::new()),
            base: Vec::new(),
            sig: String::new(),
        });
    }
    Ok(out)
}

/// The journal entry that records `e` by its bookkeeping only.
pub fn erased_event_entry(e: &Event) -> Value {
    serde_json::json!({
        "type": ERASED_EVENT,
        "id": e.id,
        "case_id": e.case_id,
        "device_id": e.device_id,
        "device_seq": e.device_seq,
        "hlc": e.hlc,
    })
}

/// Apply an [`ERASED_EVENT`] entry.
pub(crate) fn apply_erased_event(tx: &Transaction<'_>, entry: &Value) -> Result<(), String> {
    let s = |k: &str| entry.get(k).and_then(Value::as_str).ok_or_else(|| format!("{ERASED_EVENT}: {k} is missing"));
    let seq = entry.get("device_seq").and_then(Value::as_i64).ok_or("event.erased: device_seq is missing")?;
    let hlc = entry.get("hlc").ok_or("event.erased: hlc is missing")?;
    let millis = hlc.get("millis").and_then(Value::as_i64).ok_or("event.erased: hlc.millis is missing")?;
    let counter = hlc.get("counter").and_then(Value::as_i64).ok_or("event.erased: hlc.counter is missing")?;
    let (id, case, device) = (s("id")?, s("case_id")?, s("device_id")?);
    tx.prepare_cached(
        "INSERT INTO erased_events (id, case_id, device_id, device_seq, hlc_millis, hlc_counter)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
    )
    .and_then(|mut st| st.execute(params![id, case, device, seq, millis, counter]))
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// Apply an [`ERASURE_DONE`] entry: the listed cases' blobs are deleted and
/// a checkpoint has run.
pub(crate) fn apply_done(tx: &Transaction<'_>, entry: &Value) -> rusqlite::Result<()> {
    for case in entry.get("cases").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        tx.prepare_cached("DELETE FROM erasure_due WHERE case_id = ?1")?.execute([case])?;
        tx.prepare_cached("DELETE FROM erased_blobs WHERE case_id = ?1")?.execute([case])?;
    }
    Ok(())
}

/// Erase `case` from the database, as approved by `approval` (already
/// stored): see the module docs. The projection rows are deleted by the
/// caller's `delete_rows`. Idempotent: a case already erased is left as is.
pub(crate) fn purge(
    tx: &Transaction<'_>,
    approval: &Event,
    delete_rows: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let case = approval.case_id;
    if is_erased(tx, case)? {
        return Ok(());
    }
    let id = case.to_string();
    const NOT_ERASURE: &str = "kind NOT IN ('case.erasure_requested', 'case.erasure_approved')";
    tx.prepare_cached(
        "INSERT INTO erased_blobs (blob, case_id)
         SELECT json_extract(json, '$.payload.blob'), case_id FROM events
         WHERE case_id = ?1 AND kind = 'attachment.added' AND json_extract(json, '$.payload.blob') IS NOT NULL
         ON CONFLICT DO NOTHING",
    )?
    .execute([&id])?;
    let moved = tx
        .prepare_cached(&format!(
            "INSERT INTO erased_events (id, case_id, device_id, device_seq, hlc_millis, hlc_counter)
             SELECT id, case_id, device_id, device_seq, hlc_millis, hlc_counter FROM events
             WHERE case_id = ?1 AND {NOT_ERASURE} ON CONFLICT DO NOTHING"
        ))?
        .execute([&id])?;
    tx.prepare_cached(&format!("DELETE FROM events WHERE case_id = ?1 AND {NOT_ERASURE}"))?.execute([&id])?;
    purge_held(tx, &id)?;
    delete_rows(tx)?;
    let request = approval.payload.get("request").and_then(Value::as_str).unwrap_or_default();
    let requester: Option<(String, String)> = tx
        .prepare_cached(
            "SELECT json_extract(json, '$.author'), json_extract(json, '$.role') FROM events WHERE id = ?1",
        )?
        .query_row([request], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (requested_by, requested_role) = requester.unwrap_or_default();
    tx.prepare_cached(
        "INSERT INTO erasures (case_id, erased_millis, reason, requested_by, requested_role, approved_by,
             approved_role, request_event, approval_event, event_count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        id,
        i64::try_from(approval.hlc.millis).unwrap_or(i64::MAX),
        reason_of(approval),
        requested_by,
        requested_role,
        approval.author,
        approval.role.as_str(),
        request,
        approval.id.to_string(),
        moved as i64
    ])?;
    tx.prepare_cached("INSERT INTO erasure_due (case_id) VALUES (?1) ON CONFLICT DO NOTHING")?.execute([&id])?;
    Ok(())
}

/// The case's changes held in quarantine, or refused by the office and
/// withdrawn on this device, hold its values too (`sync_state`
/// `quarantine/…` and `refused/…`, docs/bundle-format.md §6.1): they go
/// with it. The held ones stay counted as received, like its events, so
/// their origin does not send them again.
fn purge_held(tx: &Transaction<'_>, case: &str) -> rusqlite::Result<()> {
    let exists: Option<i64> = tx
        .query_row("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'sync_state'", [], |r| r.get(0))
        .optional()?;
    if exists.is_none() {
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO erased_events (id, case_id, device_id, device_seq, hlc_millis, hlc_counter)
         SELECT json_extract(value, '$.event_id'), ?1, json_extract(value, '$.device_id'),
                json_extract(value, '$.device_seq'), json_extract(value, '$.event.hlc.millis'),
                json_extract(value, '$.event.hlc.counter')
         FROM sync_state WHERE substr(key, 1, 11) = 'quarantine/' AND json_extract(value, '$.case_id') = ?1
         ON CONFLICT DO NOTHING",
    )?
    .execute([case])?;
    tx.prepare_cached(
        "DELETE FROM sync_state WHERE (substr(key, 1, 11) = 'quarantine/' OR substr(key, 1, 8) = 'refused/')
         AND json_extract(value, '$.case_id') = ?1",
    )?
    .execute([case])?;
    Ok(())
}

/// Rebuild the full-text index from its own rows after an erasure: an FTS5
/// delete leaves the removed terms in the index's segments until they are
/// merged, and a rebuild writes the index anew from the rows that remain.
pub(crate) fn rebuild_fulltext(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let exists = tx
        .prepare_cached("SELECT 1 FROM sqlite_schema WHERE name = 'search_fts'")?
        .query_row([], |_| Ok(()))
        .optional()?
        .is_some();
    if exists {
        tx.execute_batch("INSERT INTO search_fts(search_fts) VALUES ('rebuild');")?;
    }
    Ok(())
}

/// Blobs of erased cases still waiting to be deleted, with the cases whose
/// erasure is not finished (see [`ERASURE_DONE`]).
pub fn due(conn: &Connection) -> rusqlite::Result<(Vec<String>, Vec<String>)> {
    let cases: Vec<String> = conn
        .prepare("SELECT case_id FROM erasure_due ORDER BY case_id")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let blobs: Vec<String> = conn
        .prepare("SELECT blob FROM erased_blobs WHERE case_id IN (SELECT case_id FROM erasure_due) ORDER BY blob")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok((blobs, cases))
}
