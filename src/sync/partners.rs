//! The office's partners abroad (docs/bundle-format.md §11.1): offices and
//! agencies in other countries that receive requests and send answers.
//!
//! The list lives in the office's signed roster, so the office key vouches
//! for it and its devices receive it with every office bundle. A partner is
//! added only with the fingerprint the partner read out of band: a key
//! swapped on the way is found before anything is sent to it.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::model::event::parse_verifying_key;
use crate::model::store::CaseStore;
use crate::sync::exchange::{self, now_rfc3339, put, SyncError, K_ROSTER};
use crate::sync::roster::age_recipient;

/// Signature-free domain of the fingerprint, so it is never the hash of
/// anything else Fieldcase computes.
const FINGERPRINT_DOMAIN: &[u8] = b"fieldcase-partner-v1\n";

/// Why a partner could not be added or found.
#[derive(Debug, thiserror::Error)]
pub enum PartnerError {
    /// The fingerprint read out by the partner is not the one of the keys
    /// given: a key was changed on the way, or mistyped.
    #[error("the fingerprint given ({given}) is not the one of these keys ({computed}): a key was changed on the way, or mistyped; do not add this partner until the two agree")]
    Fingerprint {
        /// As given.
        given: String,
        /// As computed from the keys (grouped).
        computed: String,
    },
    /// A bad name, country, recipient or key, or a partner listed already.
    #[error("{0}")]
    Invalid(String),
    /// No partner by that id or name.
    #[error("no partner {0:?}: add it first with `fieldcase partner add`")]
    Unknown(String),
    /// Not an office vault, or a vault failure.
    #[error(transparent)]
    Sync(#[from] SyncError),
}

// Each refusal's stable code for the interfaces (crate::codes).
crate::error_codes! { PartnerError {
    nested {
        PartnerError::Sync(s) => s: SyncError;
    }
    PartnerError::Fingerprint { .. } => "partner_fingerprint";
    PartnerError::Invalid(reason) => "partner_invalid" { reason };
    PartnerError::Unknown(partner) => "partner_unknown" { partner };
} }

impl From<crate::model::error::StoreError> for PartnerError {
    fn from(e: crate::model::error::StoreError) -> PartnerError {
        PartnerError::Sync(SyncError::Store(e))
    }
}

/// One partner office or agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partner {
    /// This office's id for it.
    pub partner_id: Uuid,
    /// Its name.
    pub name: String,
    /// Its country (ISO 3166 alpha-3).
    pub country: String,
    /// Its age recipient: requests and withdrawals are encrypted to it.
    /// Empty for a partner without Fieldcase (requests on paper).
    pub recipient: String,
    /// Its office's Ed25519 key (hex): its answers must be signed with it.
    /// Empty for a partner without Fieldcase: no bundle is accepted from it.
    pub signing_key: String,
    /// [`fingerprint`] of the two keys, as checked when it was added.
    pub fingerprint: String,
    /// When it was added (RFC 3339).
    pub added_at: String,
}

impl Partner {
    /// A partner without Fieldcase: requests to it are printed and its
    /// answers recorded by hand.
    pub fn on_paper(&self) -> bool {
        self.signing_key.is_empty()
    }
}

/// The fingerprint two offices compare out of band: the first 16 bytes, in
/// hex, of SHA-256 over the domain, the signing key and the recipient.
pub fn fingerprint(signing_key_hex: &str, recipient: &str) -> String {
    let mut h = Sha256::new();
    h.update(FINGERPRINT_DOMAIN);
    h.update(signing_key_hex.to_ascii_lowercase().as_bytes());
    h.update(b"\n");
    h.update(recipient.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// A fingerprint as a person reads it: groups of four hex digits.
pub fn grouped(fp: &str) -> String {
    fp.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

fn normalise(fp: &str) -> String {
    fp.chars().filter(char::is_ascii_hexdigit).map(|c| c.to_ascii_lowercase()).collect()
}

/// What this office gives a partner to add it: name, recipient, signing key
/// and fingerprint (`fieldcase partner card`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    /// The office's name.
    pub name: String,
    /// Its age recipient.
    pub recipient: String,
    /// Its Ed25519 key (hex).
    pub signing_key: String,
    /// Their fingerprint.
    pub fingerprint: String,
}

/// This office's card.
pub fn card(store: &CaseStore) -> Result<Card, PartnerError> {
    let signed = exchange::office_roster(store)?;
    let key = hex::encode(store.vault().device_verifying_key().as_bytes());
    let recipient = store.vault().recipient();
    Ok(Card {
        name: signed.roster.office_name,
        fingerprint: fingerprint(&key, &recipient),
        recipient,
        signing_key: key,
    })
}

/// The partners in the roster this vault holds (an office's own list, or
/// the one a device received).
pub fn list(store: &CaseStore) -> Result<Vec<Partner>, PartnerError> {
    Ok(exchange::roster(store)?.map(|r| r.roster.partners).unwrap_or_default())
}

/// The partner whose signing key is `key_hex`.
pub fn by_key(store: &CaseStore, key_hex: &str) -> Result<Option<Partner>, PartnerError> {
    Ok(list(store)?.into_iter().find(|p| !p.on_paper() && p.signing_key.eq_ignore_ascii_case(key_hex)))
}

/// The partner named by id or by exact name.
pub fn find(store: &CaseStore, id_or_name: &str) -> Result<Partner, PartnerError> {
    let all = list(store)?;
    all.iter()
        .find(|p| p.partner_id.to_string() == id_or_name || p.name == id_or_name)
        .cloned()
        .ok_or_else(|| PartnerError::Unknown(id_or_name.to_string()))
}

/// Office: add a partner. `fingerprint` is the one the partner read out of
/// band; it must equal the one computed from the keys given. Signs the
/// roster again (a new serial), so the office's devices receive the list.
pub fn add(
    store: &mut CaseStore,
    name: &str,
    country: &str,
    recipient: &str,
    signing_key_hex: &str,
    given_fingerprint: &str,
) -> Result<Partner, PartnerError> {
    let signed = exchange::office_roster(store)?;
    let bad = PartnerError::Invalid;
    check_name(&signed.roster.partners, name, country)?;
    age_recipient(recipient).map_err(bad)?;
    parse_verifying_key(signing_key_hex).map_err(|e| bad(format!("bad signing key: {e}")))?;
    let key = signing_key_hex.to_ascii_lowercase();
    let computed = fingerprint(&key, recipient);
    if normalise(given_fingerprint) != computed {
        return Err(PartnerError::Fingerprint {
            given: given_fingerprint.trim().to_string(),
            computed: grouped(&computed),
        });
    }
    if key == signed.roster.office_signing_key || recipient == store.vault().recipient() {
        return Err(bad("these are this office's own keys".into()));
    }
    if signed.roster.partners.iter().any(|p| p.signing_key == key) {
        return Err(bad("a partner with this key is already listed".into()));
    }
    let partner = Partner {
        partner_id: Uuid::new_v4(),
        name: name.to_string(),
        country: country.to_string(),
        recipient: recipient.to_string(),
        signing_key: key,
        fingerprint: computed,
        added_at: now_rfc3339(),
    };
    push(store, signed, partner)
}

/// Office: add a partner that does not run Fieldcase (name and country
/// only). Requests to it are printed, its answers recorded by hand.
pub fn add_on_paper(store: &mut CaseStore, name: &str, country: &str) -> Result<Partner, PartnerError> {
    let signed = exchange::office_roster(store)?;
    check_name(&signed.roster.partners, name, country)?;
    let partner = Partner {
        partner_id: Uuid::new_v4(),
        name: name.to_string(),
        country: country.to_string(),
        recipient: String::new(),
        signing_key: String::new(),
        fingerprint: String::new(),
        added_at: now_rfc3339(),
    };
    push(store, signed, partner)
}

fn check_name(list: &[Partner], name: &str, country: &str) -> Result<(), PartnerError> {
    if name.trim().is_empty() {
        return Err(PartnerError::Invalid("a partner needs a name".into()));
    }
    if country.len() != 3 || !country.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(PartnerError::Invalid(format!("country {country:?} is not an ISO 3166 alpha-3 code (e.g. SDN)")));
    }
    if list.iter().any(|p| p.name == name) {
        return Err(PartnerError::Invalid(format!("a partner named {name:?} is already listed")));
    }
    Ok(())
}

fn push(
    store: &mut CaseStore,
    signed: crate::sync::roster::SignedRoster,
    partner: Partner,
) -> Result<Partner, PartnerError> {
    let mut roster = signed.roster;
    roster.partners.push(partner.clone());
    roster.serial += 1;
    let signed = roster.sign(store.vault().device_key());
    store.commit_sync_entries(vec![put(K_ROSTER, json!(signed))])?;
    Ok(partner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_differ_with_either_key_and_ignore_grouping() {
        let k = "aa".repeat(32);
        let fp = fingerprint(&k, "age1abc");
        assert_eq!(fp.len(), 32);
        assert_ne!(fp, fingerprint(&"ab".repeat(32), "age1abc"));
        assert_ne!(fp, fingerprint(&k, "age1abd"));
        assert_eq!(normalise(&grouped(&fp).to_uppercase()), fp);
    }
}
