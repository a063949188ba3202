//! The projection's bookkeeping entries beside the events: trusted devices,
//! the sync state (`sync.put`) and withdrawn events.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde_json::Value;
use uuid::Uuid;

use crate::model::canonical::to_canonical_string;

use super::*;

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
pub(super) const WITHDRAWN_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS withdrawn_events (id TEXT PRIMARY KEY, device_id TEXT NOT NULL, device_seq INTEGER NOT NULL);";

/// The journal entry withdrawing `event` ([`EVENT_WITHDRAWN`]).
pub fn withdraw_entry(event: Uuid) -> Value {
    serde_json::json!({"type": EVENT_WITHDRAWN, "event": event})
}

/// Take the event an [`EVENT_WITHDRAWN`] entry names out of the event
/// store; its case, to rebuild (none when the event is not held).
pub(super) fn apply_withdrawn(tx: &Transaction<'_>, entry: &Value) -> Result<Option<Uuid>, ApplyRejection> {
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

/// A device registration journal entry.
pub fn device_entry(device_id: Uuid, verifying_key_hex: &str, name: &str) -> Value {
    serde_json::json!({"type": DEVICE_TRUSTED, "device_id": device_id, "verifying_key": verifying_key_hex, "name": name})
}

pub(super) fn apply_device(tx: &Transaction<'_>, entry: &Value) -> Result<(), ApplyRejection> {
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

pub(super) fn apply_sync_put(tx: &Transaction<'_>, entry: &Value) -> Result<(), ApplyRejection> {
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
