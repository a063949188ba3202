//! Tamper evidence for the vault's files (docs/vault-format.md §3.2, §4, §5
//! and §9): HMAC-SHA-256 tags under the vault key, a 32-byte secret kept
//! only inside `identity.age` (so only the passphrase, or the escrow
//! identity through `escrow-key.age`, unlocks it).
//!
//! Why a MAC at all: every vault file is an age file, and age authenticates a
//! file only against the key it was encrypted with, which anyone holding
//! the *recipient* can choose. The device's recipient used to be public (it
//! is in the enrollment request), so a thief with write access to the
//! folder could append a journal frame or replace the snapshot with content
//! of their own. A tag under a key the thief does not have closes that.
//!
//! Every message starts with a label naming what is tagged, followed by a
//! zero byte, so a tag of one kind can never be taken for another.
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

/// Length of a tag in bytes.
pub const TAG_LEN: usize = 32;

/// Label of a journal frame's tag.
pub(crate) const FRAME_LABEL: &[u8] = b"fieldcase-vault-frame-v3";
/// Label of the snapshot manifest's tag.
pub(crate) const SNAPSHOT_LABEL: &[u8] = b"fieldcase-vault-snapshot-v3";
/// Label of a blob's tag.
pub(crate) const BLOB_LABEL: &[u8] = b"fieldcase-vault-blob-v3";

/// The vault key: 32 random bytes, wiped on drop.
#[derive(Clone)]
pub(crate) struct VaultKey(Zeroizing<[u8; 32]>);

impl VaultKey {
    /// A fresh random key.
    pub(crate) fn generate() -> Self {
        use rand::RngCore;
        let mut k = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(&mut *k);
        VaultKey(k)
    }

    /// The key from its hex form (as stored in identity.age).
    pub(crate) fn from_hex(s: &str) -> Result<Self, String> {
        let mut k = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(s, &mut *k).map_err(|e| format!("bad vault key: {e}"))?;
        Ok(VaultKey(k))
    }

    /// The hex form, wiped on drop.
    pub(crate) fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(*self.0))
    }

    /// SHA-256 of the key: what the escrow key file's signature covers.
    pub(crate) fn fingerprint(&self) -> [u8; 32] {
        use sha2::Digest;
        Sha256::digest(*self.0).into()
    }

    fn mac(&self, label: &[u8], parts: &[&[u8]]) -> HmacSha256 {
        let mut m = <HmacSha256 as Mac>::new_from_slice(&*self.0).expect("HMAC takes keys of any length");
        m.update(label);
        m.update(&[0]);
        for p in parts {
            m.update(p);
        }
        m
    }

    /// The tag of `parts` under `label`.
    pub(crate) fn tag(&self, label: &[u8], parts: &[&[u8]]) -> [u8; TAG_LEN] {
        self.mac(label, parts).finalize().into_bytes().into()
    }

    /// Whether `tag` is the tag of `parts` under `label` (constant time).
    pub(crate) fn verify(&self, label: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
        self.mac(label, parts).verify_slice(tag).is_ok()
    }
}

/// The keys a reader accepts tags from: the current vault key, and while a
/// key rotation is being finished (a passphrase change interrupted by a
/// crash) the previous one too.
#[derive(Clone)]
pub(crate) struct TagKeys {
    pub(crate) current: VaultKey,
    pub(crate) previous: Option<VaultKey>,
}

impl TagKeys {
    /// Whether `tag` is valid under the current or the previous key.
    pub(crate) fn verify(&self, label: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
        self.current.verify(label, parts, tag) || self.previous.as_ref().is_some_and(|k| k.verify(label, parts, tag))
    }
}

/// Tag of journal frame `seq` of generation `generation` (§4).
pub(crate) fn frame_tag(key: &VaultKey, generation: u64, seq: u64, ciphertext: &[u8]) -> [u8; TAG_LEN] {
    key.tag(FRAME_LABEL, &[&generation.to_be_bytes(), &seq.to_be_bytes(), ciphertext])
}

/// Whether `tag` is the tag of frame `seq` of `generation`.
pub(crate) fn frame_tag_ok(keys: &TagKeys, generation: u64, seq: u64, ciphertext: &[u8], tag: &[u8]) -> bool {
    keys.verify(FRAME_LABEL, &[&generation.to_be_bytes(), &seq.to_be_bytes(), ciphertext], tag)
}

/// The bytes a blob's tag covers: its id and the SHA-256 of its file.
fn blob_parts<'a>(id: &'a str, file_sha256: &'a [u8; 32]) -> [&'a [u8]; 2] {
    [id.as_bytes(), file_sha256]
}

/// Tag of blob `id` whose file (ciphertext) hashes to `file_sha256` (§5).
pub(crate) fn blob_tag(key: &VaultKey, id: &str, file_sha256: &[u8; 32]) -> [u8; TAG_LEN] {
    key.tag(BLOB_LABEL, &blob_parts(id, file_sha256))
}

/// Whether `tag` is blob `id`'s tag.
pub(crate) fn blob_tag_ok(keys: &TagKeys, id: &str, file_sha256: &[u8; 32], tag: &[u8]) -> bool {
    keys.verify(BLOB_LABEL, &blob_parts(id, file_sha256), tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2, through the same HMAC the tags use: the tag
    /// function is standard HMAC-SHA-256 over label ‖ 0 ‖ parts.
    #[test]
    fn tags_are_hmac_sha256_of_label_zero_and_parts() {
        let key = VaultKey(Zeroizing::new(*b"0123456789abcdef0123456789abcdef"));
        let mut m = <HmacSha256 as Mac>::new_from_slice(b"0123456789abcdef0123456789abcdef").unwrap();
        m.update(b"fieldcase-vault-frame-v3\0");
        m.update(&7u64.to_be_bytes());
        m.update(&1u64.to_be_bytes());
        m.update(b"ciphertext");
        let expected: [u8; 32] = m.finalize().into_bytes().into();
        assert_eq!(frame_tag(&key, 7, 1, b"ciphertext"), expected);
        // RFC 4231 case 2 (key "Jefe") checks the HMAC itself.
        let mut jefe = <HmacSha256 as Mac>::new_from_slice(b"Jefe").unwrap();
        jefe.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(jefe.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_tag_binds_its_key_label_position_and_bytes() {
        let (k1, k2) = (VaultKey::generate(), VaultKey::generate());
        let keys = TagKeys { current: k1.clone(), previous: None };
        let t = frame_tag(&k1, 3, 4, b"abc");
        assert!(frame_tag_ok(&keys, 3, 4, b"abc", &t));
        assert!(!frame_tag_ok(&keys, 3, 5, b"abc", &t), "another position");
        assert!(!frame_tag_ok(&keys, 2, 4, b"abc", &t), "another generation");
        assert!(!frame_tag_ok(&keys, 3, 4, b"abd", &t), "other bytes");
        assert!(!frame_tag_ok(&TagKeys { current: k2.clone(), previous: None }, 3, 4, b"abc", &t), "another key");
        assert!(frame_tag_ok(&TagKeys { current: k2, previous: Some(k1.clone()) }, 3, 4, b"abc", &t), "previous key");
        let h = [9u8; 32];
        assert!(!keys.verify(BLOB_LABEL, &[&3u64.to_be_bytes(), &4u64.to_be_bytes(), b"abc"], &t), "another label");
        assert!(blob_tag_ok(&keys, "id", &h, &blob_tag(&k1, "id", &h)));
        assert!(!blob_tag_ok(&keys, "other", &h, &blob_tag(&k1, "id", &h)));
        assert_eq!(VaultKey::from_hex(&k1.to_hex()).unwrap().fingerprint(), k1.fingerprint());
    }
}
