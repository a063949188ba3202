//! `people/`: the further people who unlock this vault, each with their own
//! passphrase and signing key (docs/vault-format.md §2.2).
//!
//! A person has two files. `people/<id>.age` is wrapped with the person's
//! passphrase (age scrypt) and holds who they are and their own keys: the
//! Ed25519 key their events are signed with and an X25519 *person key*.
//! `people/<id>.keys.age` is encrypted to the person key's recipient and
//! holds the vault's secrets, in the same plaintext as `identity.age`. The
//! split is what lets the vault's keys rotate (a passphrase change of the
//! vault's first person) without anyone knowing the other passphrases: the
//! person keys' recipients are in the vault's (encrypted) database, and the
//! keys files are rewritten to them.
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::x25519;
use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::{Zeroize, Zeroizing};

use super::error::VaultError;
use super::identity::{self, DeviceInfo, Keys};
use super::storage::Storage;
use super::write_file_atomically;

/// Directory of the people files inside the vault directory.
pub const PEOPLE_DIR: &str = "people";
/// `format` of a person file's plaintext.
pub const PERSON_FORMAT: &str = "fieldcase-person";
/// Version of the person file this code writes and reads.
pub const PERSON_VERSION: u32 = 1;

/// A person's own secrets, from their passphrase-wrapped file. The keys
/// zeroize their memory on drop.
pub struct PersonSecrets {
    /// The person's id: the signer id their events carry as `device_id`.
    pub id: Uuid,
    /// The vault (its device id) the person belongs to.
    pub vault_id: Uuid,
    /// User name.
    pub user: String,
    /// Role, as given when the person was added.
    pub role: String,
    /// When added.
    pub created: DateTime<Utc>,
    /// The key their events are signed with.
    pub signing: SigningKey,
    /// The person key: decrypts their keys file.
    pub(crate) person_key: x25519::Identity,
}

impl PersonSecrets {
    /// Fresh keys for a new person of vault `vault_id`.
    pub(crate) fn generate(vault_id: Uuid, user: &str, role: &str) -> PersonSecrets {
        PersonSecrets {
            id: Uuid::new_v4(),
            vault_id,
            user: user.to_owned(),
            role: role.to_owned(),
            created: Utc::now(),
            signing: SigningKey::generate(&mut rand::rngs::OsRng),
            person_key: x25519::Identity::generate(),
        }
    }

    /// The person key's recipient (`age1…`), which the vault's database keeps.
    pub fn recipient(&self) -> String {
        self.person_key.to_public().to_string()
    }

    /// Hex of the verifying key.
    pub fn verifying_key_hex(&self) -> String {
        hex::encode(self.signing.verifying_key().as_bytes())
    }
}

impl std::fmt::Debug for PersonSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonSecrets").field("id", &self.id).field("user", &self.user).finish_non_exhaustive()
    }
}

/// JSON plaintext of `people/<id>.age`. Secret fields are wiped on drop.
#[derive(Serialize, Deserialize)]
struct PersonPlaintext {
    format: String,
    version: u32,
    person_id: Uuid,
    vault_id: Uuid,
    user_name: String,
    role: String,
    /// Hex of the 32-byte Ed25519 secret key.
    signing_key: String,
    /// `AGE-SECRET-KEY-1…` of the person key.
    person_identity: String,
    created: DateTime<Utc>,
}

impl Drop for PersonPlaintext {
    fn drop(&mut self) {
        self.signing_key.zeroize();
        self.person_identity.zeroize();
    }
}

/// `people/<id>.age`.
pub(crate) fn person_file(dir: &Path, id: Uuid) -> PathBuf {
    dir.join(PEOPLE_DIR).join(format!("{id}.age"))
}

fn keys_name(id: Uuid) -> String {
    format!("{id}.keys.age")
}

/// The ids of the people files present (names `<uuid>.age`), sorted.
pub(crate) fn list(storage: &dyn Storage, dir: &Path) -> Result<Vec<Uuid>, VaultError> {
    let people = dir.join(PEOPLE_DIR);
    if !storage.exists(&people) {
        return Ok(Vec::new());
    }
    let mut ids: Vec<Uuid> = storage
        .list(&people)
        .map_err(|e| VaultError::io("list", &people, e))?
        .iter()
        .filter_map(|n| n.strip_suffix(".age"))
        .filter(|n| !n.ends_with(".keys"))
        .filter_map(|n| Uuid::parse_str(n).ok())
        .collect();
    ids.sort();
    Ok(ids)
}

fn ensure_dir(storage: &dyn Storage, dir: &Path) -> Result<PathBuf, VaultError> {
    let people = dir.join(PEOPLE_DIR);
    if !storage.exists(&people) {
        storage.create_dir(&people).map_err(|e| VaultError::io("create directory", &people, e))?;
        storage.sync_dir(dir).map_err(|e| VaultError::io("fsync directory", dir, e))?;
    }
    Ok(people)
}

/// Write `people/<id>.age`: the person's secrets wrapped with `passphrase`.
pub(crate) fn write_person(
    storage: &dyn Storage,
    dir: &Path,
    person: &PersonSecrets,
    passphrase: &SecretString,
    scrypt_log_n: Option<u8>,
) -> Result<(), VaultError> {
    let plain = PersonPlaintext {
        format: PERSON_FORMAT.into(),
        version: PERSON_VERSION,
        person_id: person.id,
        vault_id: person.vault_id,
        user_name: person.user.clone(),
        role: person.role.clone(),
        signing_key: hex::encode(person.signing.to_bytes()),
        person_identity: person.person_key.to_string().expose_secret().to_owned(),
        created: person.created,
    };
    let mut json = Zeroizing::new(Vec::with_capacity(1024));
    serde_json::to_writer(&mut *json, &plain).expect("serialising plain strings cannot fail");
    let ct = identity::scrypt_encrypt(&json, passphrase, scrypt_log_n)?;
    let people = ensure_dir(storage, dir)?;
    write_file_atomically(storage, &people, &format!("{}.age", person.id), &ct)
}

/// Write `people/<id>.keys.age`: the vault's secrets, encrypted to every
/// recipient in `to` (two while a person's passphrase change is under way).
pub(crate) fn write_keys(
    storage: &dyn Storage,
    dir: &Path,
    id: Uuid,
    to: &[x25519::Recipient],
    keys: &Keys,
    device: &DeviceInfo,
) -> Result<(), VaultError> {
    let json = identity::encode(keys, device, identity::Holder::FurtherPerson)
        .expect("a further person's keys file needs no first person's key");
    let ct = super::envelope::encrypt(to, &json).map_err(VaultError::Encrypt)?;
    let people = ensure_dir(storage, dir)?;
    write_file_atomically(storage, &people, &keys_name(id), &ct)
}

/// Remove both files of person `id` (best effort; what a failed add leaves).
pub(crate) fn remove(storage: &dyn Storage, dir: &Path, id: Uuid) {
    for p in [person_file(dir, id), dir.join(PEOPLE_DIR).join(keys_name(id))] {
        if storage.exists(&p) {
            let _ = storage.remove(&p);
        }
    }
}

/// Open `people/<id>.age` with `passphrase`.
pub(crate) fn read_person(
    storage: &dyn Storage,
    dir: &Path,
    id: Uuid,
    passphrase: &SecretString,
) -> Result<PersonSecrets, VaultError> {
    let path = person_file(dir, id);
    let json = identity::scrypt_decrypt(storage, &path, passphrase)?;
    let corrupt = |reason: String| VaultError::CorruptIdentity { path: path.clone(), reason };
    #[derive(Deserialize)]
    struct Probe {
        format: String,
        version: u32,
    }
    let probe: Probe = serde_json::from_slice(&json).map_err(|e| corrupt(format!("not a Fieldcase person: {e}")))?;
    if probe.format != PERSON_FORMAT {
        return Err(corrupt(format!("format is {:?}, expected {PERSON_FORMAT:?}", probe.format)));
    }
    if probe.version != PERSON_VERSION {
        return Err(VaultError::UnsupportedVersion { path, version: probe.version });
    }
    let plain: PersonPlaintext =
        serde_json::from_slice(&json).map_err(|e| corrupt(format!("not a Fieldcase person: {e}")))?;
    if plain.person_id != id {
        return Err(corrupt(format!("it names person {}, not the {id} of its file name", plain.person_id)));
    }
    let mut sk = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(&plain.signing_key, &mut *sk).map_err(|e| corrupt(format!("bad signing key: {e}")))?;
    let person_key =
        x25519::Identity::from_str(&plain.person_identity).map_err(|e| corrupt(format!("bad person key: {e}")))?;
    Ok(PersonSecrets {
        id: plain.person_id,
        vault_id: plain.vault_id,
        user: plain.user_name.clone(),
        role: plain.role.clone(),
        created: plain.created,
        signing: SigningKey::from_bytes(&sk),
        person_key,
    })
}

/// Open `people/<id>.keys.age` with the person key: the vault's keys, as
/// `identity.age` holds them.
pub(crate) fn read_keys(
    storage: &dyn Storage,
    dir: &Path,
    person: &PersonSecrets,
) -> Result<(Keys, DeviceInfo, u32), VaultError> {
    let path = dir.join(PEOPLE_DIR).join(keys_name(person.id));
    if !storage.exists(&path) {
        return Err(VaultError::CorruptIdentity {
            path,
            reason: "the person's keys file is missing; the vault's first person can add them again".into(),
        });
    }
    let bytes = storage.read(&path).map_err(|e| VaultError::io("read", &path, e))?;
    let json = super::envelope::decrypt(std::slice::from_ref(&person.person_key), &bytes).map_err(|e| {
        VaultError::CorruptIdentity { path: path.clone(), reason: format!("it does not open with the person key: {e}") }
    })?;
    let (keys, device, version) = identity::decode(&json, &path)?;
    if device.device_id != person.vault_id {
        return Err(VaultError::CorruptIdentity { path, reason: "it holds the keys of another vault".into() });
    }
    Ok((keys, device, version))
}
