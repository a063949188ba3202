//! Fieldcase core library: everything the desktop app and the CLI do.
#![forbid(unsafe_code)]
pub mod model;
pub mod parallel;
pub mod report;
pub mod search;
pub mod sync;
pub mod vault;
