//! The escrow path (docs/vault-format.md §9.3): `escrow-key.age` gives the
//! office's escrow identity the vault key, so that an office recovering a
//! device's vault can check every file's tag, not only decrypt it.
//!
//! The escrow recipient is public, so anyone could write an
//! `escrow-key.age` of their own: the key in it is therefore signed by the
//! device's Ed25519 key, which the office knows from its roster, and
//! [`verify_with_escrow`] refuses a key the device did not sign.
use std::path::Path;
use std::str::FromStr;

use age::x25519;
use ed25519_dalek::{Signature, Signer, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroize;

use super::envelope;
use super::error::VaultError;
use super::frame::{self, FrameSlice, HEADER_LEN};
use super::identity::Keys;
use super::journal::journal_file_name;
use super::mac::{self, TagKeys, VaultKey};
use super::segments;
use super::snapshot::SNAPSHOT_FILE;
use super::storage::Storage;
use super::{blob, DeviceInfo};

/// File name of the vault key encrypted to the escrow recipient.
pub const ESCROW_KEY_FILE: &str = "escrow-key.age";
/// `format` of its plaintext.
const ESCROW_KEY_FORMAT: &str = "fieldcase-escrow-key";
/// What the device signs: this label, a zero byte, the device id's 16
/// bytes and the SHA-256 of the vault key.
const SIGNATURE_LABEL: &[u8] = b"fieldcase-escrow-key-v1";

#[derive(Serialize, Deserialize)]
struct EscrowKeyPlaintext {
    format: String,
    version: u32,
    device_id: Uuid,
    /// Hex of the vault key.
    vault_key: String,
    /// Hex of the device's Ed25519 signature (see [`SIGNATURE_LABEL`]).
    signature: String,
}

impl Drop for EscrowKeyPlaintext {
    fn drop(&mut self) {
        self.vault_key.zeroize();
    }
}

fn signed_bytes(device_id: &Uuid, key: &VaultKey) -> Vec<u8> {
    let mut m = SIGNATURE_LABEL.to_vec();
    m.push(0);
    m.extend_from_slice(device_id.as_bytes());
    m.extend_from_slice(&key.fingerprint());
    m
}

/// Write `escrow-key.age` for the current vault key when escrow is on
/// (nothing otherwise). Atomic; written whenever the vault key changes.
pub(crate) fn write_key_file(
    storage: &dyn Storage,
    dir: &Path,
    keys: &Keys,
    device: &DeviceInfo,
) -> Result<(), VaultError> {
    let Some(escrow) = keys.recipients.get(1) else {
        return Ok(());
    };
    let signature = keys.device.sign(&signed_bytes(&device.device_id, &keys.vault_key));
    let plain = EscrowKeyPlaintext {
        format: ESCROW_KEY_FORMAT.into(),
        version: 1,
        device_id: device.device_id,
        vault_key: keys.vault_key.to_hex().to_string(),
        signature: hex::encode(signature.to_bytes()),
    };
    // Pre-sized so serde_json never reallocates (a reallocation would
    // leave a copy of the key in freed memory).
    let mut json = zeroize::Zeroizing::new(Vec::with_capacity(1024));
    serde_json::to_writer(&mut *json, &plain).expect("plain strings serialise");
    let ct = envelope::encrypt(std::slice::from_ref(escrow), &json).map_err(VaultError::Encrypt)?;
    super::write_file_atomically(storage, dir, ESCROW_KEY_FILE, &ct)
}

/// What [`verify_with_escrow`] checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EscrowCheck {
    /// Generation of the snapshot.
    pub generation: u64,
    /// Segment files whose hash the tagged manifest confirms.
    pub segments: usize,
    /// Journal frames whose tags and order are confirmed.
    pub frames: u64,
    /// Blobs whose tags are confirmed.
    pub blobs: usize,
}

/// The office's check of a device's vault folder with the escrow identity
/// (`AGE-SECRET-KEY-1…`) and the device's signing key from the roster:
/// the vault key in `escrow-key.age` must be signed by the device, and
/// then the snapshot manifest's tag, every segment's hash, every journal
/// frame's tag (in order, from the first) and every blob's tag must hold.
/// Decrypting the files for recovery is then done with the stock `age`
/// tool (docs/vault-format.md §3.2). Reads only; the first failure is the
/// error, naming the file.
pub fn verify_with_escrow(
    dir: &Path,
    escrow_identity: &str,
    device_key: &VerifyingKey,
) -> Result<EscrowCheck, VaultError> {
    let storage = super::storage::RealStorage;
    let identity = x25519::Identity::from_str(escrow_identity.trim())
        .map_err(|e| VaultError::BadEscrowRecipient { recipient: "(escrow identity)".into(), reason: e.to_string() })?;
    let ids = std::slice::from_ref(&identity);
    let tampered = |file: &str, reason: &str| VaultError::Tampered {
        path: dir.join(file),
        reason: reason.to_owned(),
        recovery: "Do not use this copy of the vault as the device's record; ask the device's user for another copy."
            .into(),
    };
    let read = |name: &str| {
        let p = dir.join(name);
        storage.read(&p).map_err(|e| VaultError::io("read", &p, e))
    };

    // The vault key, signed by the device.
    let ct = read(ESCROW_KEY_FILE)?;
    let json = envelope::decrypt(ids, &ct).map_err(|e| tampered(ESCROW_KEY_FILE, &format!("does not decrypt: {e}")))?;
    let plain: EscrowKeyPlaintext =
        serde_json::from_slice(&json).map_err(|e| tampered(ESCROW_KEY_FILE, &format!("not a key file: {e}")))?;
    if plain.format != ESCROW_KEY_FORMAT || plain.version != 1 {
        return Err(tampered(ESCROW_KEY_FILE, "not a version-1 escrow key file"));
    }
    let key = VaultKey::from_hex(&plain.vault_key).map_err(|e| tampered(ESCROW_KEY_FILE, &e))?;
    let mut sig = [0u8; 64];
    hex::decode_to_slice(&plain.signature, &mut sig).map_err(|_| tampered(ESCROW_KEY_FILE, "bad signature"))?;
    device_key
        .verify(&signed_bytes(&plain.device_id, &key), &Signature::from_bytes(&sig))
        .map_err(|_| tampered(ESCROW_KEY_FILE, "the vault key is not signed by this device's key"))?;
    let keys = TagKeys { current: key, previous: None };

    // The snapshot: its tag binds every segment file's hash.
    let snap = read(SNAPSHOT_FILE)?;
    let manifest =
        envelope::decrypt(ids, &snap).map_err(|e| tampered(SNAPSHOT_FILE, &format!("does not decrypt: {e}")))?;
    let set = segments::parse_manifest(&manifest, &dir.join(SNAPSHOT_FILE), &keys, false)?;
    for s in &set.segments {
        let name = format!("{}/{}", segments::SEGMENT_DIR, s.file);
        if frame::sha256(&read(&name)?) != s.sha256 {
            return Err(tampered(&name, "its SHA-256 is not the one the manifest lists"));
        }
    }

    // The journal: every frame's tag, in order.
    let jname = journal_file_name(set.generation);
    let journal = read(&jname)?;
    match frame::parse_header(&journal) {
        Ok((g, true)) if g == set.generation => {}
        _ => return Err(tampered(&jname, "its header is not that of this generation's journal")),
    }
    let (mut offset, mut seq) = (HEADER_LEN, 0u64);
    loop {
        match frame::next_frame(&journal, offset, true) {
            FrameSlice::End => break,
            // A torn end is what a crash leaves; the device cuts it at unlock.
            FrameSlice::Bad(_) => break,
            FrameSlice::Frame { ciphertext, tag, next } => {
                if !mac::frame_tag_ok(&keys, set.generation, seq + 1, ciphertext, tag) {
                    return Err(tampered(&jname, &format!("frame {} at byte {offset} fails its tag", seq + 1)));
                }
                seq += 1;
                offset = next;
            }
        }
    }

    // Blobs.
    let mut blobs = 0;
    for id in blob::list(&storage, dir)? {
        let name = format!("{}/{id}", blob::BLOB_DIR);
        let file = read(&format!("{name}.age"))?;
        let tags = read(&format!("{name}.tag")).unwrap_or_default();
        let hash = frame::sha256(&file);
        if !tags.chunks(mac::TAG_LEN).any(|t| t.len() == mac::TAG_LEN && mac::blob_tag_ok(&keys, &id, &hash, t)) {
            return Err(tampered(&format!("{name}.age"), "its tag does not match"));
        }
        blobs += 1;
    }
    Ok(EscrowCheck { generation: set.generation, segments: set.segments.len(), frames: seq, blobs })
}
