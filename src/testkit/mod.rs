//! The bench's test kit (feature `testkit`, off by default; only the bench
//! crate, bench/, enables it).
//!
//! What it is for: `fieldcase bench` measures search, reports and saves
//! at sizes (50,000 cases) that would take minutes to build through the
//! store, where every event is signed, rule-checked and projected. The
//! kit writes *synthetic* rows straight into the projection's tables of
//! an in-memory database, copies a vault's database into a plain SQLite
//! file to compare against, and reads back what the bench needs to
//! choose its targets. It keeps that knowledge of the projection's
//! tables here, in the library, beside the schema it depends on.
//!
//! What it is not: a way in for the app. Rows written here **bypass
//! signatures, rules and the event log**: no event backs them, nothing
//! checks them, and a vault holding them would not survive a rebuild of
//! its projection. Only synthetic data goes through it.
mod plain_sqlite;
mod report_rows;
mod search_rows;

pub use plain_sqlite::{close_plain_copy, plain_copy};
pub use report_rows::report_projection;
pub use rusqlite::Connection;
pub use search_rows::{insert_search_rows, search_projection};

use rusqlite::Result;
use uuid::Uuid;

use crate::model::projection;

/// A short fingerprint of the projection schema (every table, index and
/// trigger of [`projection::migrate`]), so a cached vault made by an older
/// layout is not measured (its first commit would rebuild tables).
pub fn schema_fingerprint() -> Result<String> {
    use sha2::Digest;
    let conn = Connection::open_in_memory()?;
    projection::migrate(&conn)?;
    let mut st = conn.prepare("SELECT coalesce(sql, name) FROM sqlite_master ORDER BY name")?;
    let mut h = sha2::Sha256::new();
    for sql in st.query_map([], |r| r.get::<_, String>(0))? {
        h.update(sql?.as_bytes());
    }
    Ok(hex::encode(&h.finalize()[..6]))
}

/// Size of the database image (page_count × page_size), bytes.
pub fn image_bytes(conn: &Connection) -> u64 {
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap_or(0);
    let size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap_or(0);
    (pages * size) as u64
}

/// Cases in an open stage (they accept an edit of the registration form),
/// ordered by case number: the bench's save targets.
pub fn open_cases(conn: &Connection) -> Result<Vec<Uuid>> {
    let mut st = conn.prepare(
        "SELECT id FROM cases WHERE stage NOT IN ('closed', 'duplicate', 'transferred', 'closure_pending')
         ORDER BY case_number",
    )?;
    let all: Vec<String> = st.query_map([], |r| r.get(0))?.collect::<Result<_>>()?;
    Ok(all.iter().filter_map(|s| s.parse().ok()).collect())
}

/// "given family" of every case, ordered by case number (empty parts as
/// ""): the bench's search queries over a demo vault.
pub fn case_names(conn: &Connection) -> Result<Vec<String>> {
    let mut st = conn.prepare(
        "SELECT coalesce(given_names, '') || ' ' || coalesce(family_name, '') FROM cases ORDER BY case_number",
    )?;
    let names = st.query_map([], |r| r.get(0))?.collect::<Result<_>>()?;
    Ok(names)
}

/// Every event of the database as (case id, canonical JSON), in case
/// order and, within a case, in the canonical order: a whole register to
/// import elsewhere.
pub fn all_events(conn: &Connection) -> Result<Vec<(String, String)>> {
    conn.prepare("SELECT case_id, json FROM events ORDER BY case_id, hlc_millis, hlc_counter, device_id, id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// A device the database trusts: id, verifying key (hex), name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedDevice {
    pub device_id: String,
    pub verifying_key: String,
    pub name: String,
}

/// Every device the database trusts, by id.
pub fn trusted_devices(conn: &Connection) -> Result<Vec<TrustedDevice>> {
    conn.prepare("SELECT device_id, verifying_key, name FROM devices ORDER BY device_id")?
        .query_map([], |r| Ok(TrustedDevice { device_id: r.get(0)?, verifying_key: r.get(1)?, name: r.get(2)? }))?
        .collect()
}
