//! `identity.age`: the device's keys and names, encrypted with the passphrase
//! (age scrypt). See docs/vault-format.md §2.
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use age::x25519;
use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::{Zeroize, Zeroizing};

use super::error::VaultError;
use super::mac::{TagKeys, VaultKey};
use super::storage::Storage;
use super::write_file_atomically;

/// File name of the identity inside the vault directory.
pub const IDENTITY_FILE: &str = "identity.age";
/// Value of the `format` field of the identity plaintext.
pub const IDENTITY_FORMAT: &str = "fieldcase-identity";
/// Current identity format version: 2 added the vault's own keys (the
/// age identity its files are encrypted to, and the vault key that tags
/// them); 3 parted the device key (bundles, rosters, escrow) from the
/// first person's event key, so a further person's keys file carries the
/// one and not the other. Versions 1 and 2 are still read (their single
/// key serves both) and written back as 3 at the first person's unlock.
pub const IDENTITY_VERSION: u32 = 3;
/// Largest scrypt work factor (log2 N) accepted when unlocking: 2^22 needs
/// 4 GiB of memory and tens of seconds. age's default cap (about 16x the
/// local 1-second target) is raised to this floor so a vault made on a fast
/// office machine still opens on a slow laptop.
pub const MAX_SCRYPT_LOG_N: u8 = 22;

/// Who this device is. Public (no secrets); shown in status and the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// Random id of this device (UUIDv4), the author of every event it signs.
    pub device_id: Uuid,
    /// Human name of the device.
    pub device_name: String,
    /// Name of the person using it.
    pub user_name: String,
    /// Role: "caseworker", "supervisor", "bid_panel", "data_manager", "viewer".
    pub role: String,
    /// Office escrow recipient (age1...), if escrow is on.
    pub escrow: Option<String>,
    /// When the vault was created.
    pub created: DateTime<Utc>,
}

/// The secret keys of an unlocked vault. All of them zeroize their memory on
/// drop (x25519-dalek `StaticSecret`, ed25519-dalek with the `zeroize`
/// feature, [`VaultKey`]).
pub(crate) struct Keys {
    /// The device's transport identity: sync bundles are encrypted to its
    /// recipient, which the office's roster publishes.
    pub(crate) age: x25519::Identity,
    /// The first person's event key: what their events are signed with.
    /// `None` when a further person unlocked (their keys file does not
    /// carry it, docs/vault-format.md §2.2) until the first person's
    /// passphrase is given ([`super::Vault::check_first_person`]).
    pub(crate) signing: Option<SigningKey>,
    /// The first person's event key's public half (always known).
    pub(crate) signing_public: ed25519_dalek::VerifyingKey,
    /// The device key: signs the device's bundles, an office's rosters, and
    /// the escrow key file. In a vault made before identity version 3 it
    /// is the first person's event key (one key for both).
    pub(crate) device: SigningKey,
    /// The identity the vault's own files are encrypted to. Its recipient
    /// is never published (a version-1 identity used the transport
    /// identity; they part at the first passphrase change).
    pub(crate) vault_age: x25519::Identity,
    /// Vault files' recipients: `vault_age`'s, then the escrow recipient if any.
    pub(crate) recipients: Vec<x25519::Recipient>,
    /// The key of the files' tags (docs/vault-format.md §9).
    pub(crate) vault_key: VaultKey,
    /// The vault keys before a passphrase change that has not finished
    /// re-encrypting every file (a crash in the middle): still accepted
    /// for reading until it has.
    pub(crate) previous: Option<(x25519::Identity, VaultKey)>,
    /// Files of vault format 2 (no tags) are accepted: the upgrade to
    /// format 3 has started but not finished. Never set on a vault made by
    /// this version.
    pub(crate) accept_untagged: bool,
}

impl Keys {
    /// The identities that decrypt vault files: the current one, then the
    /// one before an unfinished key change.
    pub(crate) fn vault_identities(&self) -> Vec<x25519::Identity> {
        let mut ids = vec![self.vault_age.clone()];
        ids.extend(self.previous.as_ref().map(|(a, _)| a.clone()));
        ids
    }

    /// The keys whose tags a reader accepts.
    pub(crate) fn tag_keys(&self) -> TagKeys {
        TagKeys { current: self.vault_key.clone(), previous: self.previous.as_ref().map(|(_, k)| k.clone()) }
    }

    /// Whether files still need re-encrypting or tagging: a key change or
    /// an upgrade from format 2 has not finished.
    pub(crate) fn unfinished(&self) -> bool {
        self.previous.is_some() || self.accept_untagged
    }
}

/// The vault keys of an unfinished key change, as stored.
#[derive(Serialize, Deserialize)]
struct PreviousPlaintext {
    vault_age_identity: String,
    vault_key: String,
}

impl Drop for PreviousPlaintext {
    fn drop(&mut self) {
        self.vault_age_identity.zeroize();
        self.vault_key.zeroize();
    }
}

/// JSON plaintext of identity.age. Secret fields are wiped on drop.
#[derive(Serialize, Deserialize)]
struct IdentityPlaintext {
    format: String,
    version: u32,
    device_id: Uuid,
    device_name: String,
    user_name: String,
    role: String,
    /// `AGE-SECRET-KEY-1...`
    age_identity: String,
    /// Hex of the first person's 32-byte Ed25519 event key; empty in a
    /// further person's keys file (version 3).
    signing_key: String,
    /// Version 3: hex of the first person's Ed25519 verifying key.
    #[serde(default)]
    signing_public: String,
    /// Version 3: hex of the 32-byte Ed25519 device key (bundles, rosters,
    /// escrow). Absent before version 3: `signing_key` is the device key.
    #[serde(default)]
    device_key: String,
    escrow: Option<String>,
    created: DateTime<Utc>,
    /// Version 2: `AGE-SECRET-KEY-1...` of the vault files' identity.
    #[serde(default)]
    vault_age_identity: String,
    /// Version 2: hex of the 32-byte vault key.
    #[serde(default)]
    vault_key: String,
    /// Version 2: the vault keys before an unfinished key change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous: Option<PreviousPlaintext>,
    /// Version 2: an upgrade from vault format 2 has not finished.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    upgrading: bool,
}

impl Drop for IdentityPlaintext {
    fn drop(&mut self) {
        self.age_identity.zeroize();
        self.signing_key.zeroize();
        self.device_key.zeroize();
        self.vault_age_identity.zeroize();
        self.vault_key.zeroize();
    }
}

/// Parse an escrow recipient given by a person.
pub(crate) fn parse_escrow(s: &str) -> Result<x25519::Recipient, VaultError> {
    x25519::Recipient::from_str(s.trim())
        .map_err(|e| VaultError::BadEscrowRecipient { recipient: s.to_owned(), reason: e.to_string() })
}

/// Fresh keys and device info for a new vault.
pub(crate) fn generate(name: &str, role: &str, escrow: Option<&str>) -> Result<(Keys, DeviceInfo), VaultError> {
    let escrow_recipient = escrow.map(parse_escrow).transpose()?;
    let age = x25519::Identity::generate();
    let signing = SigningKey::generate(&mut rand::rngs::OsRng);
    let device_key = SigningKey::generate(&mut rand::rngs::OsRng);
    let vault_age = x25519::Identity::generate();
    let mut recipients = vec![vault_age.to_public()];
    recipients.extend(escrow_recipient.clone());
    let device = DeviceInfo {
        device_id: Uuid::new_v4(),
        device_name: name.to_owned(),
        user_name: name.to_owned(),
        role: role.to_owned(),
        escrow: escrow_recipient.map(|r| r.to_string()),
        created: Utc::now(),
    };
    let keys = Keys {
        age,
        signing_public: signing.verifying_key(),
        signing: Some(signing),
        device: device_key,
        vault_age,
        recipients,
        vault_key: VaultKey::generate(),
        previous: None,
        accept_untagged: false,
    };
    Ok((keys, device))
}

/// What an identity plaintext is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holder {
    /// `identity.age`: the first person's own file, with their event key.
    FirstPerson,
    /// A further person's keys file: the vault's keys without the first
    /// person's event key (docs/vault-format.md §2.2).
    FurtherPerson,
}

/// The identity's plaintext JSON (wiped on drop): what `identity.age`
/// holds, and what a person's keys file holds (docs/vault-format.md §2.2).
/// `None` when it is for the first person and their event key is not
/// loaded (a further person unlocked): such a plaintext would lose it.
pub(crate) fn encode(keys: &Keys, device: &DeviceInfo, holder: Holder) -> Option<Zeroizing<Vec<u8>>> {
    let signing_key = match (holder, &keys.signing) {
        (Holder::FirstPerson, None) => return None,
        (Holder::FirstPerson, Some(k)) => hex::encode(k.to_bytes()),
        (Holder::FurtherPerson, _) => String::new(),
    };
    let plain = IdentityPlaintext {
        format: IDENTITY_FORMAT.into(),
        version: IDENTITY_VERSION,
        device_id: device.device_id,
        device_name: device.device_name.clone(),
        user_name: device.user_name.clone(),
        role: device.role.clone(),
        age_identity: keys.age.to_string().expose_secret().to_owned(),
        signing_key,
        signing_public: hex::encode(keys.signing_public.as_bytes()),
        device_key: hex::encode(keys.device.to_bytes()),
        escrow: device.escrow.clone(),
        created: device.created,
        vault_age_identity: keys.vault_age.to_string().expose_secret().to_owned(),
        vault_key: keys.vault_key.to_hex().to_string(),
        previous: keys.previous.as_ref().map(|(a, k)| PreviousPlaintext {
            vault_age_identity: a.to_string().expose_secret().to_owned(),
            vault_key: k.to_hex().to_string(),
        }),
        upgrading: keys.accept_untagged,
    };
    // Pre-size the buffer so serde_json never reallocates (which would leave
    // copies of the secret in freed memory).
    let mut json = Zeroizing::new(Vec::with_capacity(4096));
    serde_json::to_writer(&mut *json, &plain).expect("serialising plain strings cannot fail");
    Some(json)
}

/// Encrypt `plaintext` to `passphrase` (age scrypt; `scrypt_log_n` overrides
/// the calibrated work factor).
pub(crate) fn scrypt_encrypt(
    plaintext: &[u8],
    passphrase: &SecretString,
    scrypt_log_n: Option<u8>,
) -> Result<Vec<u8>, VaultError> {
    if passphrase.expose_secret().is_empty() {
        return Err(VaultError::EmptyPassphrase);
    }
    let mut recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.expose_secret().to_owned()));
    if let Some(n) = scrypt_log_n {
        recipient.set_work_factor(n.clamp(1, 63));
    }
    let enc = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
        .map_err(|e| VaultError::Encrypt(e.to_string()))?;
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).map_err(|e| VaultError::Encrypt(e.to_string()))?;
    std::io::Write::write_all(&mut w, plaintext).map_err(|e| VaultError::Encrypt(e.to_string()))?;
    w.finish().map_err(|e| VaultError::Encrypt(e.to_string()))?;
    Ok(out)
}

/// Decrypt the scrypt-wrapped file `path` with `passphrase` (plaintext
/// wiped on drop).
pub(crate) fn scrypt_decrypt(
    storage: &dyn Storage,
    path: &Path,
    passphrase: &SecretString,
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let bytes = storage.read(path).map_err(|e| VaultError::io("read", path, e))?;
    let corrupt = |reason: String| VaultError::CorruptIdentity { path: path.to_owned(), reason };
    let dec = age::Decryptor::new_buffered(&bytes[..]).map_err(|e| corrupt(format!("not an age file: {e}")))?;
    if !dec.is_scrypt() {
        return Err(corrupt("it is not encrypted with a passphrase".into()));
    }
    let mut id = age::scrypt::Identity::new(SecretString::from(passphrase.expose_secret().to_owned()));
    id.set_max_work_factor(MAX_SCRYPT_LOG_N);
    let mut reader = dec.decrypt(std::iter::once(&id as &dyn age::Identity)).map_err(|e| match e {
        age::DecryptError::DecryptionFailed
        | age::DecryptError::NoMatchingKeys
        | age::DecryptError::KeyDecryptionFailed => VaultError::WrongPassphrase { path: path.to_owned() },
        age::DecryptError::ExcessiveWork { required, .. } => {
            VaultError::ExcessiveWork { path: path.to_owned(), required, max: MAX_SCRYPT_LOG_N }
        }
        other => corrupt(other.to_string()),
    })?;
    let mut json = Zeroizing::new(Vec::with_capacity(4096));
    reader.read_to_end(&mut json).map_err(|e| corrupt(format!("payload does not decrypt: {e}")))?;
    Ok(json)
}

/// Encrypt the identity with `passphrase` and write it atomically.
pub(crate) fn write(
    storage: &dyn Storage,
    dir: &Path,
    keys: &Keys,
    device: &DeviceInfo,
    passphrase: &SecretString,
    scrypt_log_n: Option<u8>,
) -> Result<(), VaultError> {
    let json = encode(keys, device, Holder::FirstPerson).ok_or(VaultError::FirstPersonKeyNotLoaded)?;
    let ct = scrypt_encrypt(&json, passphrase, scrypt_log_n)?;
    write_file_atomically(storage, dir, IDENTITY_FILE, &ct)
}

/// Decrypt identity.age with `passphrase`. Also returns the version stored:
/// a version-1 identity comes back with a fresh vault key and
/// `accept_untagged` set, and the caller MUST write it back (as version 2)
/// before it writes anything tagged with that key.
pub(crate) fn read(
    storage: &dyn Storage,
    dir: &Path,
    passphrase: &SecretString,
) -> Result<(Keys, DeviceInfo, u32), VaultError> {
    let path = dir.join(IDENTITY_FILE);
    if !storage.exists(&path) {
        return Err(VaultError::NotAVault { dir: dir.to_owned() });
    }
    let json = scrypt_decrypt(storage, &path, passphrase)?;
    let (keys, device, version) = decode(&json, &path)?;
    // Only a further person's keys file goes without the event key.
    if keys.signing.is_none() {
        return Err(VaultError::CorruptIdentity { path, reason: "it holds no signing key".into() });
    }
    Ok((keys, device, version))
}

/// Parse an identity plaintext ([`encode`]'s output) read from `path`.
pub(crate) fn decode(json: &[u8], path: &Path) -> Result<(Keys, DeviceInfo, u32), VaultError> {
    let path = path.to_owned();
    let corrupt = |reason: String| VaultError::CorruptIdentity { path: path.clone(), reason };
    // Check format and version first (this reads no secret), so a newer
    // layout is reported as "newer Fieldcase", not as damage.
    #[derive(Deserialize)]
    struct Probe {
        format: String,
        version: u32,
    }
    let probe: Probe = serde_json::from_slice(json).map_err(|e| corrupt(format!("not a Fieldcase identity: {e}")))?;
    if probe.format != IDENTITY_FORMAT {
        return Err(corrupt(format!("format is {:?}, expected {IDENTITY_FORMAT:?}", probe.format)));
    }
    if probe.version > IDENTITY_VERSION || probe.version == 0 {
        return Err(VaultError::UnsupportedVersion { path, version: probe.version });
    }
    let plain: IdentityPlaintext =
        serde_json::from_slice(json).map_err(|e| corrupt(format!("not a Fieldcase identity: {e}")))?;
    let age = x25519::Identity::from_str(&plain.age_identity).map_err(|e| corrupt(format!("bad age identity: {e}")))?;
    let secret = |hex_key: &str, what: &str| {
        let mut sk = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(hex_key, &mut *sk).map_err(|e| corrupt(format!("bad {what}: {e}")))?;
        Ok::<_, VaultError>(SigningKey::from_bytes(&sk))
    };
    // Version 3 parts the device key from the first person's event key,
    // and a further person's keys file has no event key; before, one key
    // was both.
    let signing = if plain.signing_key.is_empty() && probe.version >= 3 {
        None
    } else {
        Some(secret(&plain.signing_key, "signing key")?)
    };
    let device_key = if probe.version >= 3 {
        secret(&plain.device_key, "device key")?
    } else {
        signing.clone().ok_or_else(|| corrupt("no signing key".into()))?
    };
    let signing_public = match &signing {
        Some(k) => k.verifying_key(),
        None => {
            let mut pk = [0u8; 32];
            hex::decode_to_slice(&plain.signing_public, &mut pk)
                .ok()
                .and_then(|()| ed25519_dalek::VerifyingKey::from_bytes(&pk).ok())
                .ok_or_else(|| corrupt("bad first person's public key".into()))?
        }
    };
    if probe.version >= 3 && hex::encode(signing_public.as_bytes()) != plain.signing_public {
        return Err(corrupt("the first person's public key does not match their key".into()));
    }
    let parse_age =
        |s: &str, what: &str| x25519::Identity::from_str(s).map_err(|e| corrupt(format!("bad {what}: {e}")));
    let (vault_age, vault_key, previous, accept_untagged) = if probe.version == 1 {
        // Version 1 encrypted the vault's files to the transport identity
        // and tagged nothing: keep the identity (the files stay readable)
        // and start the upgrade with a fresh vault key.
        (age.clone(), VaultKey::generate(), None, true)
    } else {
        let previous = match &plain.previous {
            Some(p) => Some((
                parse_age(&p.vault_age_identity, "previous vault identity")?,
                VaultKey::from_hex(&p.vault_key).map_err(corrupt)?,
            )),
            None => None,
        };
        (
            parse_age(&plain.vault_age_identity, "vault identity")?,
            VaultKey::from_hex(&plain.vault_key).map_err(corrupt)?,
            previous,
            plain.upgrading,
        )
    };
    let mut recipients = vec![vault_age.to_public()];
    if let Some(e) = &plain.escrow {
        recipients.push(parse_escrow(e).map_err(|e| corrupt(e.to_string()))?);
    }
    let device = DeviceInfo {
        device_id: plain.device_id,
        device_name: plain.device_name.clone(),
        user_name: plain.user_name.clone(),
        role: plain.role.clone(),
        escrow: plain.escrow.clone(),
        created: plain.created,
    };
    Ok((
        Keys {
            age,
            signing,
            signing_public,
            device: device_key,
            vault_age,
            recipients,
            vault_key,
            previous,
            accept_untagged,
        },
        device,
        probe.version,
    ))
}
