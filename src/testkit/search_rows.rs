//! Synthetic rows for the search figures of the bench: case rows and their
//! search-index documents, written directly (no event behind them).
use rusqlite::{params, Connection, Result};

use crate::model::projection;
use crate::search::index;
use crate::search::person::CasePerson;

/// An empty in-memory database with the projection's schema (temporary
/// tables in memory), for [`insert_search_rows`].
pub fn search_projection() -> Result<Connection> {
    let conn = Connection::open_in_memory()?;
    conn.execute_batch("PRAGMA temp_store = MEMORY;")?;
    projection::migrate(&conn)?;
    Ok(conn)
}

/// Write one case row (case type `uasc`, one event) and the index rows of
/// each person, in one transaction. Stage and caseworker are the person's.
pub fn insert_search_rows(conn: &Connection, people: &[CasePerson]) -> Result<()> {
    let tx = conn.unchecked_transaction()?;
    {
        let mut ins = tx.prepare(
            "INSERT INTO cases (id, case_number, case_type, office, stage, caseworker, given_names, family_name, sex,
                age_years, date_of_birth, needs_review, conflicts, created_millis, updated_millis, updated_counter,
                erased, event_count)
             VALUES (?1, ?2, 'uasc', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, 0, 0, 0, 0, 0, 1)",
        )?;
        for p in people {
            ins.execute(params![
                p.case_id,
                p.case_number,
                p.office,
                p.stage,
                p.caseworker,
                p.given_names,
                p.family_name,
                p.sex,
                p.age.map(|a| a.to_string()),
                p.date_of_birth
            ])?;
            index::insert_person(&tx, p)?;
        }
    }
    tx.commit()
}
