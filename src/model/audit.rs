//! Hash-chained audit trail per case: who did what, when, on which device.
//!
//! Entry `n` of a case stores `hash_n = SHA-256(hash_{n-1} || event id (16
//! bytes) || SHA-256(event signing bytes || signature))`, with `hash_{-1}` = 32
//! zero bytes, over the case's events in canonical order (hlc, device, id).
//! Entries say which fields an event touched but never the values, so the
//! trail can be shown to anyone allowed to see the case's metadata.
//! [`verify`] recomputes the chain from the stored (signed) events and checks
//! every stored entry and every signature.

use rusqlite::{Connection, Transaction};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::model::batch_insert::BatchInsert;
use crate::model::event::{Event, EventKind, Hlc, Role};
use crate::model::projection;

/// One line of a case's audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The case.
    pub case_id: Uuid,
    /// Position in the chain, from 0.
    pub seq: u64,
    /// The event recorded.
    pub event_id: Uuid,
    /// When (event HLC).
    pub hlc: Hlc,
    /// Who (user name).
    pub author: String,
    /// In which role.
    pub role: Role,
    /// On which device.
    pub device_id: Uuid,
    /// What kind of change.
    pub kind: EventKind,
    /// Form, if any.
    pub form: Option<String>,
    /// List item, if any.
    pub item: Option<Uuid>,
    /// Field names touched (never their values).
    pub fields: Vec<String>,
    /// One-line description without sensitive values.
    pub summary: String,
    /// Hex SHA-256 of the previous entry (zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 chaining this entry.
    pub hash: String,
}

/// The chain's starting value.
pub const GENESIS: [u8; 32] = [0; 32];

/// `SHA-256(prev || event id || event content hash)`.
pub fn link_hash(prev: &[u8; 32], event: &Event) -> [u8; 32] {
    link_hash_of(prev, event.id, &crate::model::signatures::content_hash(event))
}

/// [`link_hash`] from the event's id and its already computed
/// [`Event::content_hash`].
fn link_hash_of(prev: &[u8; 32], id: Uuid, content_hash: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(id.as_bytes());
    h.update(content_hash);
    h.finalize().into()
}

fn fields_touched(e: &Event) -> Vec<String> {
    match e.kind {
        EventKind::ConflictResolved => {
            e.payload.get("field").and_then(Value::as_str).map(|f| vec![f.to_string()]).unwrap_or_default()
        }
        _ => {
            let mut f: Vec<String> = e
                .payload
                .get("values")
                .and_then(Value::as_object)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            f.sort();
            f
        }
    }
}

fn summary(e: &Event) -> String {
    let s = |k: &str| e.payload.get(k).and_then(Value::as_str).unwrap_or("?").to_string();
    let form = e.form.as_deref().unwrap_or("?");
    let n = fields_touched(e).len();
    match e.kind {
        EventKind::CaseRegistered => {
            format!("registered case {} ({}, {})", s("case_number"), s("case_type"), s("office"))
        }
        EventKind::FormSaved if form == crate::model::partner_kinds::REQUEST_FORM => {
            partner_request_summary(e).unwrap_or_else(|| format!("saved {form}: {n} field(s)"))
        }
        EventKind::FormSaved => format!("saved {form}: {n} field(s)"),
        EventKind::NoteAdded => "added a case note".into(),
        EventKind::VisitRecorded => "recorded a follow-up visit".into(),
        EventKind::ReferralMade => "made a referral".into(),
        // The reason is free text and may hold sensitive detail: left out.
        EventKind::StatusChanged => format!("stage changed to {}", s("to")),
        EventKind::CaseAssigned => format!("assigned to {}", s("caseworker")),
        EventKind::ConflictResolved => format!("resolved conflict on {}.{}", s("form"), s("field")),
        EventKind::AttachmentAdded => "added an attachment".into(),
        EventKind::CaseMerged => format!("merged as duplicate of {}", s("duplicate_of")),
        EventKind::CaseSplit => format!("split from {}", s("from")),
        EventKind::CaseNotDuplicate => format!("reviewed: not a duplicate of {}", s("other")),
        EventKind::CaseTransferred => format!("transferred to {}", s("to")),
        EventKind::CaseErased => "erased".into(),
        EventKind::CaseErasureRequested => format!("requested erasure ({})", s("reason")),
        EventKind::CaseErasureApproved => format!("approved erasure ({})", s("reason")),
        EventKind::CaseEventErased => "an erased event".into(),
    }
}

/// A request to a partner abroad in the history: what happened to it and,
/// for an answer, who answered for which partner and how it came (a signed
/// answer or one recorded by hand), so the history names the partner's
/// person and not only the caseworker who imported it. Only the record's
/// bookkeeping fields are read (no shared or answered value).
fn partner_request_summary(e: &Event) -> Option<String> {
    let v = e.payload.get("values")?.as_object()?;
    let s = |k: &str| v.get(k).and_then(Value::as_str);
    let kind = s("request_kind").map(|k| format!("{} ", k.replace('_', " "))).unwrap_or_default();
    Some(match s("request_status")? {
        "sent" => format!("{kind}request sent to {}, answer due {}", s("partner")?, s("due_date").unwrap_or("?")),
        "received" => format!("the partner's receipt: request received on {}", s("received_date").unwrap_or("?")),
        "answered" => {
            let by = v.get("answered_by")?;
            let name = by.get("name").and_then(Value::as_str).unwrap_or("?");
            let org = by.get("organisation").and_then(Value::as_str).unwrap_or("?");
            let role = by.get("role").and_then(Value::as_str).map(|r| format!(" ({r})")).unwrap_or_default();
            let how = match s("answer_mode") {
                Some("by_hand") => "recorded by hand, no signature",
                _ => "signed answer",
            };
            format!("answer from {name}{role} of {org}: {how}")
        }
        "withdrawn" => "request withdrawn".into(),
        _ => return None,
    })
}

/// The audit chain of a case from its events (sorted canonically here).
pub fn chain(case: Uuid, events: &[Event]) -> Vec<AuditEntry> {
    chain_from(case, 0, GENESIS, events)
}

/// The entries that continue a chain of `start` entries whose last hash is
/// `prev` with `events` (sorted canonically here), which must all sort after
/// the events already chained. `chain_from(c, 0, GENESIS, e)` = `chain(c, e)`.
pub fn chain_from(case: Uuid, start: u64, prev: [u8; 32], events: &[Event]) -> Vec<AuditEntry> {
    let hashed = events.iter().map(|e| (e, crate::model::signatures::content_hash(e))).collect();
    chain_from_hashed(case, start, prev, hashed)
}

/// [`chain_from`] for events whose [`Event::content_hash`] the caller has
/// already computed (the projection computes it with the stored encoding).
pub fn chain_from_hashed(
    case: Uuid,
    start: u64,
    prev: [u8; 32],
    mut events: Vec<(&Event, [u8; 32])>,
) -> Vec<AuditEntry> {
    events.sort_by_key(|(e, _)| e.order_key());
    let mut prev = prev;
    let mut out = Vec::with_capacity(events.len());
    for (seq, (e, content)) in (start..).zip(events) {
        let hash = link_hash_of(&prev, e.id, &content);
        out.push(AuditEntry {
            case_id: case,
            seq,
            event_id: e.id,
            hlc: e.hlc,
            author: e.author.clone(),
            role: e.role,
            device_id: e.device_id,
            kind: e.kind,
            form: e.form.clone(),
            item: e.item(),
            fields: fields_touched(e),
            summary: summary(e),
            prev_hash: hex::encode(prev),
            hash: hex::encode(hash),
        });
        prev = hash;
    }
    out
}

/// Store entries (the case's old entries must be deleted).
pub fn write(tx: &Transaction<'_>, entries: &[AuditEntry]) -> rusqlite::Result<()> {
    AUDIT_ROWS.insert(tx, entries, |stmt, at, a| {
        stmt.raw_bind_parameter(at + 1, a.case_id.to_string())?;
        stmt.raw_bind_parameter(at + 2, a.seq as i64)?;
        stmt.raw_bind_parameter(at + 3, a.event_id.to_string())?;
        stmt.raw_bind_parameter(at + 4, i64::try_from(a.hlc.millis).unwrap_or(i64::MAX))?;
        stmt.raw_bind_parameter(at + 5, a.hlc.counter)?;
        stmt.raw_bind_parameter(at + 6, &a.author)?;
        stmt.raw_bind_parameter(at + 7, a.role.as_str())?;
        stmt.raw_bind_parameter(at + 8, a.device_id.to_string())?;
        stmt.raw_bind_parameter(at + 9, a.kind.as_str())?;
        stmt.raw_bind_parameter(at + 10, &a.form)?;
        stmt.raw_bind_parameter(at + 11, a.item.map(|i| i.to_string()))?;
        stmt.raw_bind_parameter(at + 12, serde_json::to_string(&a.fields).expect("a list of strings serialises"))?;
        stmt.raw_bind_parameter(at + 13, &a.summary)?;
        // Stored as 32 bytes; `prev_hash` is the previous row's hash.
        stmt.raw_bind_parameter(at + 14, hex::decode(&a.hash).unwrap_or_default())
    })
}

/// The audit trail's inserts, several rows to a statement (a case's trail
/// of an import is written at once).
static AUDIT_ROWS: BatchInsert = BatchInsert::new(
    "INSERT INTO audit (case_id, seq, event_id, hlc_millis, hlc_counter, author, role, device_id, kind, form, item, \
     fields, summary, hash)",
    14,
);

/// Why a stored audit trail did not verify.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A stored row could not be read back.
    #[error("audit entry {seq} of case {case} is unreadable: {reason}")]
    Unreadable {
        /// Case.
        case: Uuid,
        /// Entry.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// The stored trail and the events disagree.
    #[error("audit trail of case {case} is broken at entry {seq}: {reason}")]
    Broken {
        /// Case.
        case: Uuid,
        /// First entry that disagrees.
        seq: u64,
        /// What disagrees.
        reason: String,
    },
    /// A stored event's signature no longer verifies.
    #[error("event {event} of case {case} fails verification: {reason}")]
    BadEvent {
        /// Case.
        case: Uuid,
        /// Event.
        event: Uuid,
        /// What is wrong.
        reason: String,
    },
    /// Database failure.
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
}

/// Read a case's stored audit trail in order.
pub fn read(conn: &Connection, case: Uuid) -> Result<Vec<AuditEntry>, AuditError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, event_id, hlc_millis, hlc_counter, author, role, device_id, kind, form, item, fields,
                summary, hash
         FROM audit WHERE case_id = ?1 ORDER BY seq",
    )?;
    let mut rows = stmt.query([case.to_string()])?;
    let mut out: Vec<AuditEntry> = Vec::new();
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let seq = seq as u64;
        let bad = |reason: String| AuditError::Unreadable { case, seq, reason };
        let uuid = |s: String| Uuid::parse_str(&s).map_err(|e| bad(e.to_string()));
        let millis: i64 = r.get(2)?;
        out.push(AuditEntry {
            case_id: case,
            seq,
            event_id: uuid(r.get(1)?)?,
            hlc: Hlc { millis: millis as u64, counter: r.get(3)? },
            author: r.get(4)?,
            role: r.get::<_, String>(5)?.parse().map_err(|e: crate::model::event::UnknownRole| bad(e.to_string()))?,
            device_id: uuid(r.get(6)?)?,
            kind: serde_json::from_value(Value::String(r.get(7)?)).map_err(|e| bad(e.to_string()))?,
            form: r.get(8)?,
            item: r.get::<_, Option<String>>(9)?.map(uuid).transpose()?,
            fields: serde_json::from_str(&r.get::<_, String>(10)?).map_err(|e| bad(e.to_string()))?,
            summary: r.get(11)?,
            // Entry 0 chains to GENESIS; a gap in the sequence leaves no
            // previous hash to show, which `verify` reports as broken.
            prev_hash: match out.last() {
                Some(p) if p.seq + 1 == seq => p.hash.clone(),
                None if seq == 0 => hex::encode(GENESIS),
                _ => String::new(),
            },
            // A layout 1 database (not yet upgraded by a commit) holds hex.
            hash: match r.get::<_, rusqlite::types::Value>(12)? {
                rusqlite::types::Value::Blob(b) => hex::encode(b),
                rusqlite::types::Value::Text(t) => t,
                _ => String::new(),
            },
        });
    }
    Ok(out)
}

/// Recompute a case's chain from its stored events, verify every event's
/// signature against its device's registered key, and compare with the
/// stored trail. Returns the number of entries verified.
pub fn verify(conn: &Connection, case: Uuid) -> Result<usize, AuditError> {
    let events = projection::case_events(conn, case)?;
    for e in &events {
        let bad = |reason: String| AuditError::BadEvent { case, event: e.id, reason };
        let key_hex = projection::device_key(conn, e.device_id)?
            .ok_or_else(|| bad(format!("device {} is not registered", e.device_id)))?;
        let key = crate::model::event::parse_verifying_key(&key_hex).map_err(|r| bad(r.to_string()))?;
        e.verify(&key).map_err(|r| bad(r.to_string()))?;
    }
    let expected = chain(case, &events);
    let stored = read(conn, case)?;
    for (i, exp) in expected.iter().enumerate() {
        let Some(got) = stored.get(i) else {
            return Err(AuditError::Broken { case, seq: i as u64, reason: "entry missing".into() });
        };
        if got.hash != exp.hash || got.prev_hash != exp.prev_hash {
            return Err(AuditError::Broken { case, seq: i as u64, reason: "hash does not match the events".into() });
        }
        if got != exp {
            return Err(AuditError::Broken {
                case,
                seq: i as u64,
                reason: "entry content does not match its event".into(),
            });
        }
    }
    if stored.len() > expected.len() {
        return Err(AuditError::Broken { case, seq: expected.len() as u64, reason: "entry without an event".into() });
    }
    Ok(expected.len())
}
