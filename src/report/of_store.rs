//! The report of an unlocked vault: what the shells call (they hold a
//! store, not a database connection).
use super::{compute_with, Geography, Report, ReportError, ReportOptions};
use crate::model::store::CaseStore;

/// Every indicator over the store's projection for `options`, broken
/// down by the areas of `geo` ([`Geography::of_store`] for the vault's own
/// country configuration).
pub fn compute_for_store(store: &CaseStore, options: &ReportOptions, geo: &Geography) -> Result<Report, ReportError> {
    compute_with(store.vault().conn(), options, geo)
}
