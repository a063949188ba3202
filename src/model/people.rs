//! The people of a vault (docs/vault-format.md §2.2): the vault's first
//! person (`identity.age`) and the further people added to it, each with
//! their own passphrase, signing key and role. Their public record is kept
//! in the vault's database (the journaled `sync_state`, key
//! `person/<id>`), so a rotation of the vault keys knows whose keys files
//! to rewrite, and so a person's file is checked against it at unlock and
//! at every switch.
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::event::Role;
use crate::model::projection;

/// Prefix of the people records in `sync_state`.
pub(crate) const P_PERSON: &str = "person/";

/// A further person of this vault, as the vault's database records them.
/// Public: no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRecord {
    /// The signer id: one enrolled person on one device. Their events
    /// carry it as `device_id`.
    pub id: Uuid,
    /// User name, unique on this vault.
    pub user: String,
    /// Role.
    pub role: Role,
    /// Hex Ed25519 verifying key.
    pub signing_key: String,
    /// The person key's age recipient: their keys file is encrypted to it.
    pub recipient: String,
    /// When added (RFC 3339).
    pub created: String,
    /// When removed from the vault (RFC 3339): their files are gone and
    /// the vault keys were changed since. The record stays so their
    /// signer id is never reused. Absent while they are a person here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<String>,
}

/// The journal entry recording `record`.
pub(crate) fn entry(record: &PersonRecord) -> serde_json::Value {
    projection::sync_put_entry(&format!("{P_PERSON}{}", record.id), &serde_json::json!(record))
}

/// Every further person recorded in the database, by id (not those
/// removed).
pub(crate) fn load(conn: &rusqlite::Connection) -> rusqlite::Result<Vec<PersonRecord>> {
    Ok(projection::sync_state(conn, P_PERSON)?
        .into_iter()
        .filter(|(k, _)| k.starts_with(P_PERSON))
        .filter_map(|(_, v)| serde_json::from_value::<PersonRecord>(v).ok())
        .filter(|p| p.removed_at.is_none())
        .collect())
}
