//! Trust documents: the office's signed roster of enrolled devices and a
//! device's enrollment request. Both are signed JSON: Ed25519 over a domain
//! prefix followed by the canonical JSON of the document without its `sig`.

use std::collections::HashMap;

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::model::canonical::to_canonical_bytes;
use crate::model::event::{parse_verifying_key, Role};
use crate::model::visibility::{Team, Teams};

/// Signature domain of rosters.
pub const ROSTER_DOMAIN: &[u8] = b"fieldcase-roster-v1\n";
/// Signature domain of enrollment requests.
pub const REQUEST_DOMAIN: &[u8] = b"fieldcase-enrollment-request-v1\n";
/// `format` of an enrollment request file.
pub const REQUEST_FORMAT: &str = "fieldcase-enrollment-request";
/// `format` of a roster.
pub const ROSTER_FORMAT: &str = "fieldcase-roster";

/// One enrolled device (the office itself is listed too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterDevice {
    /// Device id.
    pub device_id: Uuid,
    /// Device name.
    pub name: String,
    /// The person using it.
    pub user: String,
    /// The role its events may claim.
    pub role: Role,
    /// Hex Ed25519 verifying key its events are signed with (for a
    /// device, its first person's event key).
    pub signing_key: String,
    /// Hex Ed25519 verifying key its bundles are signed with (the device
    /// key), when it is not `signing_key`: a device made with identity
    /// version 3 keeps them apart, so that no further person on it, who
    /// holds the device key, can sign events as its first person. Absent
    /// for a device made before (one key for both) and for a hosted person
    /// (who sends no bundles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_key: Option<String>,
    /// age recipient.
    pub recipient: String,
    /// When enrolled (RFC 3339).
    pub enrolled_at: String,
    /// When revoked (RFC 3339), if revoked.
    #[serde(default)]
    pub revoked_at: Option<String>,
    /// Events of a revoked device up to this device_seq (what the office held
    /// when revoking) are still accepted; later ones are refused.
    #[serde(default)]
    pub revoked_after_seq: Option<u64>,
    /// For a person enrolled on another vault (a shared device hosting
    /// several people): the device id of the hosting vault, whose bundles
    /// carry this person's events and whose transport key `recipient` is.
    /// Absent for a device's own first person (docs/bundle-format.md §7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<Uuid>,
    /// The team the person belongs to (caseworkers and supervisors), set
    /// by the office's data manager. A supervisor with a team sees and acts
    /// on their team's cases only; one with none, on every case
    /// (docs/visibility.md §2). Absent when unset, so a roster without
    /// teams is signed as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

impl RosterDevice {
    /// The verifying key of its events.
    pub fn key(&self) -> Result<VerifyingKey, String> {
        parse_verifying_key(&self.signing_key).map_err(|e| format!("device {}: {e}", self.device_id))
    }

    /// Hex of the key its bundles are signed with.
    pub fn bundle_key_hex(&self) -> &str {
        self.bundle_key.as_deref().unwrap_or(&self.signing_key)
    }

    /// The verifying key of its bundles.
    pub fn bundle_verifying_key(&self) -> Result<VerifyingKey, String> {
        parse_verifying_key(self.bundle_key_hex()).map_err(|e| format!("device {}: {e}", self.device_id))
    }
}

/// The office's trust roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    /// Always [`ROSTER_FORMAT`].
    pub format: String,
    /// The office's id (its vault's device id).
    pub office_id: Uuid,
    /// Office name.
    pub office_name: String,
    /// Hex Ed25519 key that signs rosters and office bundles.
    pub office_signing_key: String,
    /// Office age recipient.
    pub office_recipient: String,
    /// Increases with every change; a device never goes back to a lower one.
    pub serial: u64,
    /// Every device ever enrolled, by id.
    pub devices: Vec<RosterDevice>,
    /// Devices of other offices whose events this office holds from
    /// accepted transfers (docs/bundle-format.md §9.4): they may have
    /// signed events, never send bundles. Absent when empty, so a roster
    /// without them is signed as before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vouched: Vec<VouchedSigner>,
    /// The office's partners abroad (docs/bundle-format.md §11.1), which
    /// its devices receive with the roster. Absent when empty, so a roster
    /// without partners is signed as in 1.1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partners: Vec<crate::sync::partners::Partner>,
}

/// A device of another office, vouched for by this office's signature
/// because a case it worked on was transferred here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VouchedSigner {
    /// Device id.
    pub device_id: Uuid,
    /// Device name, as its office's roster gave it.
    pub name: String,
    /// The role its events claim (its office's grant).
    pub role: Role,
    /// Hex Ed25519 verifying key.
    pub signing_key: String,
    /// The office that enrolled it (the transfer's sender).
    pub office_id: Uuid,
    /// Its highest `device_seq` among the transferred events: later events
    /// of it never came through a transfer and are refused.
    pub max_seq: u64,
}

/// Who may have signed an event, as a roster says: an enrolled device or
/// a vouched one, with the role it may claim and the last sequence of it
/// that is accepted (`None`: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSigner<'a> {
    /// The role its events must claim.
    pub role: Role,
    /// Hex Ed25519 verifying key.
    pub signing_key: &'a str,
    /// Name (for the device table).
    pub name: &'a str,
    /// Events above this sequence are refused (a revocation, or the end of
    /// what a transfer vouched for).
    pub last_seq: Option<u64>,
}

impl Roster {
    /// The entry of a device.
    pub fn device(&self, id: Uuid) -> Option<&RosterDevice> {
        self.devices.iter().find(|d| d.device_id == id)
    }

    /// Who signed an event of device `id`: an enrolled device (revoked or
    /// not), else a device this office vouches for (§9.4). Only enrolled
    /// devices send bundles ([`Roster::device`]).
    pub fn signer(&self, id: Uuid) -> Option<EventSigner<'_>> {
        if let Some(d) = self.device(id) {
            return Some(EventSigner {
                role: d.role,
                signing_key: &d.signing_key,
                name: &d.name,
                last_seq: d.revoked_at.as_ref().map(|_| d.revoked_after_seq.unwrap_or(0)),
            });
        }
        self.vouched.iter().find(|v| v.device_id == id).map(|v| EventSigner {
            role: v.role,
            signing_key: &v.signing_key,
            name: &v.name,
            last_seq: Some(v.max_seq),
        })
    }

    /// The signers a device hosts: its own entry and every person enrolled
    /// on it (`host`), revoked ones included.
    pub fn hosted_by(&self, device: Uuid) -> impl Iterator<Item = &RosterDevice> {
        self.devices.iter().filter(move |d| d.device_id == device || d.host == Some(device))
    }

    /// The team of `user` as a supervisor's reader sees it: the team name
    /// of their (not revoked) entry and the user names of every entry of
    /// that team, revoked ones included (their cases stay the team's).
    /// `None` when the user has no team.
    pub fn team_of(&self, user: &str) -> Option<Team> {
        let name =
            self.devices.iter().filter(|d| d.user == user && d.revoked_at.is_none()).find_map(|d| d.team.clone())?;
        let members =
            self.devices.iter().filter(|d| d.team.as_deref() == Some(&name)).map(|d| d.user.clone()).collect();
        Some(Team { name, members })
    }

    /// The teams of the supervisors among the signers, by signer id: what
    /// an office's import judges a supervisor's events against
    /// (docs/visibility.md §7).
    pub fn supervisor_teams(&self) -> Teams {
        let mut by_signer = HashMap::new();
        for d in self.devices.iter().filter(|d| d.role == Role::Supervisor) {
            if let Some(team) = self.team_of(&d.user) {
                by_signer.insert(d.device_id, team);
            }
        }
        Teams { by_signer }
    }

    /// Sign with the office key.
    pub fn sign(&self, key: &SigningKey) -> SignedRoster {
        let sig = key.sign(&signed_bytes(ROSTER_DOMAIN, self));
        SignedRoster { roster: self.clone(), sig: base64::engine::general_purpose::STANDARD.encode(sig.to_bytes()) }
    }
}

/// `roster.json`: a roster and the office's signature over it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRoster {
    /// The roster.
    pub roster: Roster,
    /// Base64 Ed25519 signature by `roster.office_signing_key` (which the
    /// reader must already trust, except at enrollment).
    pub sig: String,
}

impl SignedRoster {
    /// Parse roster.json.
    pub fn parse(bytes: &[u8]) -> Result<SignedRoster, String> {
        let r: SignedRoster = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if r.roster.format != ROSTER_FORMAT {
            return Err(format!("format is not {ROSTER_FORMAT:?}"));
        }
        Ok(r)
    }

    /// Check the signature with `key`.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), String> {
        verify_sig(ROSTER_DOMAIN, &self.roster, &self.sig, key)
            .map_err(|()| "signature does not match the office key".to_string())
    }
}

/// An enrollment request: a device's public keys and who uses it. It holds
/// no secret and may travel unencrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollmentRequest {
    /// Always [`REQUEST_FORMAT`].
    pub format: String,
    /// 1.
    pub version: u32,
    /// Device id.
    pub device_id: Uuid,
    /// Device name.
    pub device_name: String,
    /// User name.
    pub user: String,
    /// Role of the device's vault.
    pub role: Role,
    /// Hex Ed25519 verifying key of the person's events.
    pub signing_key: String,
    /// Hex Ed25519 verifying key of the device's bundles (its device key),
    /// when it is not `signing_key`; only for a device's first person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_key: Option<String>,
    /// age recipient.
    pub recipient: String,
    /// When made (RFC 3339).
    pub created: String,
    /// For a further person of a vault: the hosting vault's device id
    /// (`device_id` is then the person's signer id, `recipient` the host's
    /// transport recipient). Absent: the vault's own first person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<Uuid>,
    /// Self-signature (proof that the requester holds the signing key);
    /// empty while signing.
    #[serde(default)]
    pub sig: String,
    /// With `bundle_key`: the same bytes signed by the device key (proof
    /// that the device holds it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_sig: Option<String>,
}

impl EnrollmentRequest {
    /// Sign with the person's own key (`signing_key`'s), and with the
    /// device key when the request names it as `bundle_key`.
    pub fn sign(mut self, key: &SigningKey, device_key: Option<&SigningKey>) -> EnrollmentRequest {
        self.sig = String::new();
        self.bundle_sig = None;
        let bytes = signed_bytes(REQUEST_DOMAIN, &self);
        let b64 = |s: Signature| base64::engine::general_purpose::STANDARD.encode(s.to_bytes());
        self.sig = b64(key.sign(&bytes));
        self.bundle_sig = device_key.map(|k| b64(k.sign(&bytes)));
        self
    }

    /// Parse a request file and check its self-signature.
    pub fn parse_and_verify(bytes: &[u8]) -> Result<EnrollmentRequest, String> {
        let r: EnrollmentRequest =
            serde_json::from_slice(bytes).map_err(|e| format!("not an enrollment request: {e}"))?;
        if r.format != REQUEST_FORMAT || r.version != 1 {
            return Err(format!("not a version-1 {REQUEST_FORMAT}"));
        }
        let key = parse_verifying_key(&r.signing_key).map_err(|e| e.to_string())?;
        age_recipient(&r.recipient)?;
        verify_sig(REQUEST_DOMAIN, &r, &r.sig, &key)
            .map_err(|()| "the request's self-signature does not match its key (altered?)".to_string())?;
        match (&r.bundle_key, &r.bundle_sig) {
            (None, None) => {}
            (Some(_), _) if r.host.is_some() => {
                return Err("a person hosted on another device sends no bundles and has no bundle key".into())
            }
            (Some(bk), Some(bs)) => {
                let device_key = parse_verifying_key(bk).map_err(|e| format!("bundle_key: {e}"))?;
                verify_sig(REQUEST_DOMAIN, &r, bs, &device_key).map_err(|()| {
                    "the request's device-key signature does not match its bundle key (altered?)".to_string()
                })?;
            }
            _ => return Err("the request has a bundle key without its signature, or the reverse".into()),
        }
        Ok(r)
    }
}

/// Parse an age recipient.
pub fn age_recipient(s: &str) -> Result<age::x25519::Recipient, String> {
    s.parse::<age::x25519::Recipient>().map_err(|e| format!("bad age recipient {s:?}: {e}"))
}

fn signed_bytes<T: Serialize>(domain: &[u8], doc: &T) -> Vec<u8> {
    let mut value = serde_json::to_value(doc).expect("trust documents serialise to JSON");
    if let Value::Object(m) = &mut value {
        m.remove("sig");
        // An enrollment request's second signature (by its device key).
        m.remove("bundle_sig");
    }
    let mut out = domain.to_vec();
    out.extend_from_slice(&to_canonical_bytes(&value));
    out
}

fn verify_sig<T: Serialize>(domain: &[u8], doc: &T, sig: &str, key: &VerifyingKey) -> Result<(), ()> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(sig).map_err(|_| ())?;
    let bytes: [u8; 64] = bytes.try_into().map_err(|_| ())?;
    key.verify(&signed_bytes(domain, doc), &Signature::from_bytes(&bytes)).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(user: &str, role: Role, team: Option<&str>, revoked: bool) -> RosterDevice {
        RosterDevice {
            device_id: Uuid::new_v4(),
            name: format!("{user}'s device"),
            user: user.into(),
            role,
            signing_key: String::new(),
            bundle_key: None,
            recipient: String::new(),
            enrolled_at: String::new(),
            revoked_at: revoked.then(|| "2026-05-28T00:00:00Z".to_string()),
            revoked_after_seq: revoked.then_some(3),
            host: None,
            team: team.map(str::to_string),
        }
    }

    fn roster(devices: Vec<RosterDevice>) -> Roster {
        Roster {
            format: ROSTER_FORMAT.into(),
            office_id: Uuid::nil(),
            office_name: "Agadez".into(),
            office_signing_key: String::new(),
            office_recipient: String::new(),
            serial: 1,
            devices,
            vouched: Vec::new(),
            partners: Vec::new(),
        }
    }

    #[test]
    fn a_team_holds_its_revoked_members_but_a_revoked_entry_gives_no_team() {
        let r = roster(vec![
            entry("sara", Role::Supervisor, Some("north"), false),
            entry("amina", Role::Caseworker, Some("north"), false),
            entry("awa", Role::Caseworker, Some("north"), true),
            entry("bakary", Role::Caseworker, Some("south"), false),
            entry("old", Role::Supervisor, Some("south"), true),
            entry("musa", Role::Supervisor, None, false),
        ]);
        let north = r.team_of("sara").expect("sara has a team");
        assert_eq!(north.name, "north");
        assert_eq!(north.members, ["amina", "awa", "sara"].map(str::to_string).into());
        assert_eq!(r.team_of("old"), None);
        assert_eq!(r.team_of("musa"), None);
        let teams = r.supervisor_teams();
        assert_eq!(teams.by_signer.len(), 1);
        assert_eq!(teams.by_signer.get(&r.devices[0].device_id), Some(&north));
    }

    #[test]
    fn a_roster_without_teams_serialises_without_the_key() {
        let r = roster(vec![entry("musa", Role::Supervisor, None, false)]);
        let text = serde_json::to_string(&r).unwrap();
        assert!(!text.contains("\"team\""), "{text}");
        let back: Roster = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
    }
}
