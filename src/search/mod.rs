//! Search, family-tracing matching and duplicate detection over the
//! projection (see `docs/search.md`).
//!
//! - [`names`]: transliteration-aware name keys; [`compounds`]: particles
//!   and compound names; [`geez`]: the Ge'ez syllabary table.
//! - [`index`]: the FTS5 table and the name-key table, kept up to date by the
//!   projection through the model's derived-index hook (`index::SearchIndex`),
//!   rebuilt on open when missing.
//! - [`query`]: free-text + filter search with ranked, explained hits.
//! - [`person`]: the identifying facts of a case read from the projection
//!   (`model::case_person`, re-exported).
//! - [`trace`]: tracing requests and siblings, with explained scores.
//! - [`inquiry`]: tracing inquiries (no case yet) against registered
//!   children and other inquiries, with explained scores.
//! - [`duplicates`]: suspected duplicate pairs (blocking on name keys).
//! - [`explain`]: the codes, parameters and English texts of the parts of
//!   tracing, inquiry and duplicate scores.
//! - [`duplicate_review`]: stored duplicate flags and review decisions.
//! - [`merge`]: merging a duplicate into a case and splitting it back.
//! - [`visible`]: the views the shells call: search hits, tracing matches
//!   and duplicate pairs kept to what the reader may see.

pub mod compounds;
pub mod duplicate_review;
pub mod duplicates;
pub mod explain;
pub mod geez;
pub mod index;
pub mod inquiry;
pub mod merge;
pub mod names;
pub use crate::model::case_person as person;
pub mod query;
#[cfg(feature = "demo")]
pub mod synthetic;
pub mod trace;
pub mod visible;

pub use duplicates::{find_duplicates, DuplicatePair, ScorePart};
pub use query::{search, Hit, Query, SearchError};
pub use trace::{trace, TraceMatch};
