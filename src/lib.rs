//! Fieldcase core library: everything the desktop app and the CLI do.
#![forbid(unsafe_code)]
pub mod codes;
pub mod country;
pub mod fsutil;
pub mod hardening;
pub mod model;
pub mod parallel;
pub mod passphrase_policy;
pub mod report;
pub mod search;
pub mod sync;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod vault;

/// The derived indexes the model keeps in step with its projection
/// (`model::derived`): search's index, then the report's. Registered here,
/// at the crate root, so the model depends on neither module.
pub(crate) fn derived_indexes() -> &'static [&'static dyn model::derived::DerivedIndex] {
    &[&search::index::SearchIndex, &report::ReportIndex]
}
