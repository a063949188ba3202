//! The event store: signed events as stored (canonical JSON), by id, by
//! device sequence and by case in canonical order.

use std::collections::HashSet;

use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Transaction};
use serde_json::Value;
use uuid::Uuid;

use super::*;

/// Insert one event. Ok(false) = already known with identical content.
/// `trusted` caches the devices found registered during this call.
/// `json` is the event's [`Event::canonical_json`].
pub(super) fn insert_event(
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

pub(super) fn stored_event_json_str(conn: &Connection, id: &str) -> rusqlite::Result<Option<String>> {
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
pub(super) fn case_events_upto(conn: &Connection, case: Uuid, last: OrderKey) -> rusqlite::Result<Vec<Event>> {
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

pub(super) fn parse_events(rows: impl Iterator<Item = rusqlite::Result<String>>) -> rusqlite::Result<Vec<Event>> {
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
