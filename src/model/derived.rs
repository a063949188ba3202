//! Derived indexes: tables another module builds from the projection's rows
//! and keeps in step with it (search's name and full-text index, the
//! report's partial index of the field values it reads).
//!
//! The model knows them only through [`DerivedIndex`]. The crate root lists
//! the registered ones (`crate::derived_indexes`), so the dependency arrows
//! point one way: `search` and `report` depend on the model, the model on
//! neither. An index holds derived data only: dropping it loses nothing the
//! projection cannot give back.

use std::collections::BTreeSet;

use rusqlite::Connection;
use uuid::Uuid;

/// One derived index, called by the projection at the points where its
/// tables must follow the projection's.
pub trait DerivedIndex: Sync {
    /// Short name, for the code map and errors.
    fn name(&self) -> &'static str;

    /// A new database: create the index's tables (idempotent), after the
    /// projection's own tables exist.
    fn migrate(&self, conn: &Connection) -> rusqlite::Result<()>;

    /// An existing database at unlock: bring the index's structures up to
    /// date (create what a vault made before it lacks). Changes no row of
    /// the projection.
    fn upgrade(&self, conn: &Connection) -> rusqlite::Result<()>;

    /// In the commit's transaction, after the projection rewrote the rows of
    /// `cases` (in case order): rewrite the index's rows of those cases.
    fn update_cases(&self, conn: &Connection, cases: &BTreeSet<Uuid>) -> rusqlite::Result<()>;
}

/// The registered derived indexes, in the order they are built.
pub(crate) fn registered() -> &'static [&'static dyn DerivedIndex] {
    crate::derived_indexes()
}
