//! Multi-row `INSERT`s: rows of one table written 16 to a statement.
//!
//! Why: an import writes about eight rows per event (the event, five field
//! values of a case note, its list item, its audit entry), and with one
//! statement per row SQLite spent about as long starting and finishing
//! statements (opening a cursor per index, halting, resetting) as in the
//! B-tree inserts themselves. Rows keep their order, so the table's content
//! is exactly that of one insert per row; an error (a duplicate key) fails
//! the whole commit either way.

use std::sync::OnceLock;

use rusqlite::{Connection, Statement};

/// Rows per multi-row statement. SQLite allows 32,766 parameters; 16 rows
/// of the widest table here (the audit trail, 14 columns) use 224.
pub(crate) const ROWS_PER_INSERT: usize = 16;

/// The insert statements of one table: its `INSERT INTO t (columns)` head
/// and column count; the SQL of both statement sizes is built once.
pub(crate) struct BatchInsert {
    head: &'static str,
    columns: usize,
    one: OnceLock<String>,
    many: OnceLock<String>,
}

impl BatchInsert {
    /// `head` is `INSERT INTO table (c1, ..., cN)` with `columns` = N.
    pub(crate) const fn new(head: &'static str, columns: usize) -> BatchInsert {
        BatchInsert { head, columns, one: OnceLock::new(), many: OnceLock::new() }
    }

    /// The statement for `rows` tuples (1 or [`ROWS_PER_INSERT`]).
    fn sql(&self, rows: usize) -> &str {
        let build = || {
            let tuples: Vec<String> = (0..rows)
                .map(|r| {
                    let p: Vec<String> = (1..=self.columns).map(|c| format!("?{}", r * self.columns + c)).collect();
                    format!("({})", p.join(", "))
                })
                .collect();
            format!("{} VALUES {}", self.head, tuples.join(", "))
        };
        if rows == 1 {
            self.one.get_or_init(build)
        } else {
            self.many.get_or_init(build)
        }
    }

    /// Insert `rows` in order: full batches first, then the rest one by
    /// one. `bind(stmt, at, row)` binds one row's columns to parameters
    /// `at + 1 ..= at + columns`.
    pub(crate) fn insert<R>(
        &self,
        conn: &Connection,
        rows: &[R],
        bind: impl Fn(&mut Statement<'_>, usize, &R) -> rusqlite::Result<()>,
    ) -> rusqlite::Result<()> {
        let mut batches = rows.chunks_exact(ROWS_PER_INSERT);
        if rows.len() >= ROWS_PER_INSERT {
            let mut stmt = conn.prepare_cached(self.sql(ROWS_PER_INSERT))?;
            for batch in &mut batches {
                for (r, row) in batch.iter().enumerate() {
                    bind(&mut stmt, r * self.columns, row)?;
                }
                stmt.raw_execute()?;
            }
        }
        let rest = batches.remainder();
        if !rest.is_empty() {
            let mut stmt = conn.prepare_cached(self.sql(1))?;
            for row in rest {
                bind(&mut stmt, 0, row)?;
                stmt.raw_execute()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static PAIRS: BatchInsert = BatchInsert::new("INSERT INTO t (a, b)", 2);

    /// Every row arrives whole and in order, for counts below, at and above
    /// a full batch; a duplicate key fails the batch.
    #[test]
    fn rows_are_inserted_whole_and_in_order() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (seq INTEGER PRIMARY KEY, a TEXT NOT NULL UNIQUE, b INTEGER)").unwrap();
        let mut total = 0;
        for n in [0usize, 1, 15, 16, 17, 37] {
            let rows: Vec<(String, Option<i64>)> =
                (0..n).map(|i| (format!("{n}-{i:02}"), (i % 3 != 0).then_some(i as i64))).collect();
            PAIRS
                .insert(&conn, &rows, |st, at, (a, b)| {
                    st.raw_bind_parameter(at + 1, a)?;
                    st.raw_bind_parameter(at + 2, b)
                })
                .unwrap();
            total += n;
            let got: Vec<(String, Option<i64>)> = conn
                .prepare("SELECT a, b FROM t WHERE a LIKE ?1 ORDER BY seq")
                .unwrap()
                .query_map([format!("{n}-%")], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            assert_eq!(got, rows, "{n} rows");
            if n >= ROWS_PER_INSERT {
                let again = PAIRS.insert(&conn, &rows[..ROWS_PER_INSERT], |st, at, (a, b)| {
                    st.raw_bind_parameter(at + 1, a)?;
                    st.raw_bind_parameter(at + 2, b)
                });
                assert!(again.is_err(), "a duplicate fails the batch");
            }
        }
        let count: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(count, total as i64, "a failed batch left no row");
    }
}
