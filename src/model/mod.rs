//! The case model: signed events, the projection the screens read, lifecycle
//! rules, roles, form definitions and (feature `demo`) demo data.
//!
//! Case data is an append-only set of Ed25519-signed [`event::Event`]s; every
//! table a screen reads is rebuilt from that set by [`projection`], so the same
//! events imported in any order, any number of times, give the same tables.
//! [`store::CaseStore`] is the typed API the CLI and the desktop app call.

pub mod age;
pub mod audit;
mod batch_insert;
pub mod canonical;
pub mod case_person;
#[cfg(feature = "demo")]
pub mod demo;
pub mod derived;
pub mod erasure;
pub mod error;
pub mod escort_separation;
pub mod event;
pub mod forms;
pub mod hlc;
pub mod inquiry;
pub mod lifecycle;
pub mod partner_kinds;
pub mod people;
pub mod projection;
pub mod refusal;
pub mod required;
pub mod roles;
pub mod signatures;
pub mod store;
pub mod tasks;
pub mod violation;
pub mod visibility;
