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
pub mod vault;
