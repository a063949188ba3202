//! The search index: derived tables in the projection database.
//!
//! - `search_docs` (doc, case_id, person): one row per registered, not erased
//!   case; `person` is the [`CasePerson`] as JSON, so duplicate and tracing
//!   passes read one row per case instead of re-reading the field values.
//! - `search_fts`: FTS5 over case number, names, name keys, locations,
//!   caseworker and relatives' names; its rowid is `search_docs.doc`.
//! - `name_keys` (case_id, key, role, item): every name key of the child
//!   (`child`), of a recorded parent (`mother`/`father`), of another family
//!   member (`family`) and of a person sought by a tracing request
//!   (`sought`, with the `family_tracing` item), indexed by key.
//!
//! The projection keeps them current: `projection::apply_entries` calls
//! [`update_cases`] with every case it rewrote. They hold nothing
//! that is not derived from the projection, so a vault whose snapshot was
//! written before they existed (or with an older key algorithm, see
//! [`INDEX_VERSION`]) gets them rebuilt by [`ensure_built`], which every
//! search entry point calls. Like the rest of the database they live only in
//! memory and in the encrypted snapshot.

use std::borrow::Borrow;
use std::collections::BTreeSet;

use rusqlite::{params, Connection, OptionalExtension};
use uuid::Uuid;

use crate::search::names;
use crate::search::person::CasePerson;

/// Version of the index contents; bump when keys or columns change so
/// existing vaults rebuild it.
pub const INDEX_VERSION: &str = "2";

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS search_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS search_docs (
    doc INTEGER PRIMARY KEY, case_id TEXT NOT NULL UNIQUE, person TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
    case_number, names, keys, locations, caseworker, relatives,
    tokenize = 'unicode61 remove_diacritics 2');
CREATE TABLE IF NOT EXISTS name_keys (
    case_id TEXT NOT NULL, key TEXT NOT NULL, role TEXT NOT NULL, item TEXT NOT NULL,
    PRIMARY KEY (case_id, key, role, item)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS name_keys_by_key ON name_keys (key, role);
"#;

fn tables_exist(conn: &Connection) -> rusqlite::Result<bool> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'search_docs'")?;
    Ok(stmt.query_row([], |_| Ok(())).optional()?.is_some())
}

/// Create the tables (idempotent) and, when they are missing or were built
/// by another [`INDEX_VERSION`], fill them from the projection.
pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)?;
    ensure_built(conn)
}

/// Rebuild the index from the projection unless it is complete and current.
/// Cheap (one query) when there is nothing to do.
pub fn ensure_built(conn: &Connection) -> rusqlite::Result<()> {
    if tables_exist(conn)? {
        let v: Option<String> =
            conn.query_row("SELECT value FROM search_meta WHERE key = 'version'", [], |r| r.get(0)).optional()?;
        if v.as_deref() == Some(INDEX_VERSION) {
            return Ok(());
        }
    }
    rebuild(conn)
}

/// Drop and rebuild the whole index from the `cases` and `field_values`
/// tables (deterministic: same projection, same index contents).
pub fn rebuild(conn: &Connection) -> rusqlite::Result<()> {
    let tx = conn.unchecked_transaction()?;
    tx.execute_batch(
        "DROP TABLE IF EXISTS search_fts; DROP TABLE IF EXISTS search_docs; DROP TABLE IF EXISTS name_keys;
         DROP TABLE IF EXISTS search_meta;",
    )?;
    tx.execute_batch(SCHEMA)?;
    let ids: Vec<String> = {
        let mut stmt = tx.prepare("SELECT id FROM cases ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for id in ids {
        index_case(&tx, &id)?;
    }
    tx.execute("INSERT INTO search_meta (key, value) VALUES ('version', ?1)", [INDEX_VERSION])?;
    tx.commit()
}

/// Re-index one case after its projection rows were rewritten (the
/// projection hook). Creates the tables if the database predates them; the
/// other cases are then indexed by the next [`ensure_built`].
pub fn update_case(conn: &Connection, case: impl Borrow<Uuid>) -> rusqlite::Result<()> {
    if !tables_exist(conn)? {
        conn.execute_batch(SCHEMA)?;
    }
    index_case(conn, &case.borrow().to_string())
}

/// The search index as the model's derived index
/// (`model::derived::DerivedIndex`): built at migrate, rows rewritten per
/// committed case. At unlock nothing is done: a query rebuilds a missing or
/// outdated index first ([`ensure_built`]).
pub struct SearchIndex;

impl crate::model::derived::DerivedIndex for SearchIndex {
    fn name(&self) -> &'static str {
        "search"
    }

    fn migrate(&self, conn: &Connection) -> rusqlite::Result<()> {
        migrate(conn)
    }

    fn upgrade(&self, _conn: &Connection) -> rusqlite::Result<()> {
        Ok(())
    }

    fn update_cases(&self, conn: &Connection, cases: &std::collections::BTreeSet<Uuid>) -> rusqlite::Result<()> {
        update_cases(conn, cases)
    }
}

/// [`update_case`] for several cases, in the order given: the projection
/// calls this once per commit with every case it rewrote, so the table
/// check runs once, not once per case.
pub fn update_cases<'a>(conn: &Connection, cases: impl IntoIterator<Item = &'a Uuid>) -> rusqlite::Result<()> {
    let mut cases = cases.into_iter().peekable();
    if cases.peek().is_none() {
        return Ok(());
    }
    if !tables_exist(conn)? {
        conn.execute_batch(SCHEMA)?;
    }
    for case in cases {
        index_case(conn, &case.to_string())?;
    }
    Ok(())
}

/// Delete the index rows of one case whose document is `doc` (if any).
fn remove_case(conn: &Connection, case_id: &str, doc: Option<i64>) -> rusqlite::Result<()> {
    if let Some(doc) = doc {
        conn.prepare_cached("DELETE FROM search_fts WHERE rowid = ?1")?.execute([doc])?;
        conn.prepare_cached("DELETE FROM search_docs WHERE doc = ?1")?.execute([doc])?;
    }
    conn.prepare_cached("DELETE FROM name_keys WHERE case_id = ?1")?.execute([case_id])?;
    Ok(())
}

/// Bring the index rows of one case in line with its projection. Every
/// row is a function of the case's [`CasePerson`], stored as JSON in
/// `search_docs`: when that is unchanged (a case note, a visit, most
/// saves) the rows are left as they are. Rewriting them cost a full-text
/// delete and insert per case per commit, a tenth of a large import.
fn index_case(conn: &Connection, case_id: &str) -> rusqlite::Result<()> {
    let stored: Option<(i64, String)> = conn
        .prepare_cached("SELECT doc, person FROM search_docs WHERE case_id = ?1")?
        .query_row([case_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let person = CasePerson::load(conn, case_id)?;
    if let (Some((_, json)), Some(p)) = (&stored, &person) {
        if *json == person_json(p)? {
            return Ok(());
        }
    }
    remove_case(conn, case_id, stored.map(|(doc, _)| doc))?;
    match person {
        Some(p) => insert_person(conn, &p),
        None => Ok(()),
    }
}

/// The stored form of a person (`search_docs.person`).
fn person_json(p: &CasePerson) -> rusqlite::Result<String> {
    serde_json::to_string(p).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// Insert the index rows of one case (its old rows must be gone). Public so
/// that benchmarks can fill the index with synthetic people directly.
pub fn insert_person(conn: &Connection, p: &CasePerson) -> rusqlite::Result<()> {
    let json = person_json(p)?;
    conn.prepare_cached("INSERT INTO search_docs (case_id, person) VALUES (?1, ?2)")?
        .execute(params![p.case_id, json])?;
    let doc = conn.last_insert_rowid();
    let child_names = p.all_names();
    let mut child_keys = BTreeSet::new();
    for n in &child_names {
        child_keys.extend(names::name_keys(n));
    }
    let locations: Vec<&str> = [p.place_of_origin.as_deref(), p.separation_place.as_deref(), Some(p.office.as_str())]
        .into_iter()
        .flatten()
        .collect();
    let relatives: Vec<String> = p
        .family
        .iter()
        .chain(&p.sought)
        .flat_map(|r| std::iter::once(r.name.clone()).chain(r.other_names.iter().cloned()))
        .collect();
    conn.prepare_cached(
        "INSERT INTO search_fts (rowid, case_number, names, keys, locations, caseworker, relatives)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        doc,
        p.case_number,
        child_names.join(" "),
        child_keys.iter().cloned().collect::<Vec<_>>().join(" "),
        locations.join(" "),
        p.caseworker.as_deref().unwrap_or(""),
        relatives.join(" ")
    ])?;
    let mut ins =
        conn.prepare_cached("INSERT OR IGNORE INTO name_keys (case_id, key, role, item) VALUES (?1, ?2, ?3, ?4)")?;
    for k in &child_keys {
        ins.execute(params![p.case_id, k, "child", ""])?;
    }
    for r in &p.family {
        let role = match r.relationship.as_deref() {
            Some("mother") => "mother",
            Some("father") => "father",
            _ => "family",
        };
        for n in std::iter::once(&r.name).chain(&r.other_names) {
            for k in names::name_keys(n) {
                ins.execute(params![p.case_id, k, role, ""])?;
            }
        }
    }
    for r in &p.sought {
        for n in std::iter::once(&r.name).chain(&r.other_names) {
            for k in names::name_keys(n) {
                ins.execute(params![p.case_id, k, "sought", r.item])?;
            }
        }
    }
    Ok(())
}

/// The indexed person of one case.
pub fn person(conn: &Connection, case_id: &str) -> rusqlite::Result<Option<CasePerson>> {
    let json: Option<String> = conn
        .prepare_cached("SELECT person FROM search_docs WHERE case_id = ?1")?
        .query_row([case_id], |r| r.get(0))
        .optional()?;
    Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
}

/// Every indexed person, by case id.
pub fn all_people(conn: &Connection) -> rusqlite::Result<Vec<CasePerson>> {
    let mut stmt = conn.prepare("SELECT person FROM search_docs ORDER BY case_id")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for j in rows {
        // The JSON was written by insert_person; skip rather than fail on a
        // row that no longer parses (derived data, rebuilt on version bump).
        if let Ok(p) = serde_json::from_str(&j?) {
            out.push(p);
        }
    }
    Ok(out)
}

/// Case ids having `key` in `role` (with the item, for `sought`).
pub fn cases_with_key(conn: &Connection, key: &str, role: &str) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached("SELECT case_id, item FROM name_keys WHERE key = ?1 AND role = ?2")?;
    let rows = stmt.query_map(params![key, role], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}
