//! Attachments: `blobs/<id>.age`, one age file each, and beside it
//! `blobs/<id>.tag`, its tag under the vault key (docs/vault-format.md §5).
//!
//! The tag covers the blob's id and the SHA-256 of its file, so a blob
//! from another vault, another blob's file under this id, or a file made
//! by someone holding only the recipient is refused before it is
//! decrypted. The tag file is written before the blob and may hold two
//! tags (during a key change: the new file's and the old one's), so a crash
//! between the two renames never leaves a blob that no accepted tag covers.
use std::path::{Path, PathBuf};

use uuid::Uuid;
use zeroize::Zeroizing;

use super::envelope;
use super::error::VaultError;
use super::identity::Keys;
use super::mac::{self, TAG_LEN};
use super::storage::Storage;

/// Directory of the blobs inside the vault directory.
pub const BLOB_DIR: &str = "blobs";

/// Path of blob `id`, after checking `id` is a blob id (a lowercase
/// hyphenated UUID, so it can never name a path outside `blobs/`).
fn blob_path(dir: &Path, id: &str) -> Result<PathBuf, VaultError> {
    match Uuid::parse_str(id) {
        Ok(u) if u.hyphenated().to_string() == id => Ok(dir.join(BLOB_DIR).join(format!("{id}.age"))),
        _ => Err(VaultError::BadBlobId { id: id.to_owned() }),
    }
}

/// Path of blob `id`'s tag file (`id` already checked).
fn tag_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(BLOB_DIR).join(format!("{id}.tag"))
}

/// The ids of every blob file in the vault (`blobs/<id>.age`).
pub(crate) fn list(storage: &dyn Storage, dir: &Path) -> Result<Vec<String>, VaultError> {
    let blobs = dir.join(BLOB_DIR);
    if !storage.exists(&blobs) {
        return Ok(Vec::new());
    }
    let names = storage.list(&blobs).map_err(|e| VaultError::io("list", &blobs, e))?;
    Ok(names
        .into_iter()
        .filter_map(|n| n.strip_suffix(".age").map(str::to_owned))
        .filter(|id| blob_path(dir, id).is_ok())
        .collect())
}

fn ensure_dir(storage: &dyn Storage, dir: &Path) -> Result<(), VaultError> {
    let blobs = dir.join(BLOB_DIR);
    if !storage.exists(&blobs) {
        storage.create_dir(&blobs).map_err(|e| VaultError::io("create directory", &blobs, e))?;
        storage.sync_dir(dir).map_err(|e| VaultError::io("fsync directory", dir, e))?;
    }
    Ok(())
}

/// Encrypt `bytes` and write them as blob `id`: the tag file first (with
/// `keep_tag`, a tag of the file being replaced, after the new one), then
/// the blob, each atomically.
fn write_tagged(
    storage: &dyn Storage,
    dir: &Path,
    keys: &Keys,
    id: &str,
    bytes: &[u8],
    keep_tag: Option<&[u8]>,
) -> Result<(), VaultError> {
    let blobs = dir.join(BLOB_DIR);
    let ct = envelope::encrypt(&keys.recipients, bytes).map_err(VaultError::Encrypt)?;
    let mut tags = mac::blob_tag(&keys.vault_key, id, &super::frame::sha256(&ct)).to_vec();
    tags.extend_from_slice(keep_tag.unwrap_or_default());
    super::write_file_atomically(storage, &blobs, &format!("{id}.tag"), &tags)?;
    let written = super::write_file_atomically(storage, &blobs, &format!("{id}.age"), &ct);
    if written.is_err() && keep_tag.is_none() {
        // A new blob that could not be written leaves no tag behind (best
        // effort: a stray tag file covers nothing and is harmless). A
        // re-encrypted one keeps its two-tag file: it still covers the old
        // file.
        let _ = storage.remove(&tag_path(dir, id));
    }
    written
}

/// Read blob `id`'s file and check it against its tag; returns the file
/// (ciphertext) and the tag that matched (`None` for an untagged blob of
/// a vault whose upgrade from format 2 is not finished).
fn read_checked(
    storage: &dyn Storage,
    dir: &Path,
    keys: &Keys,
    id: &str,
) -> Result<(Vec<u8>, Option<Vec<u8>>), VaultError> {
    let path = blob_path(dir, id)?;
    if !storage.exists(&path) {
        return Err(VaultError::BlobNotFound { id: id.to_owned() });
    }
    let ct = storage.read(&path).map_err(|e| VaultError::io("read", &path, e))?;
    let tag_file = tag_path(dir, id);
    let tampered = |reason: &str| VaultError::Tampered {
        path: path.clone(),
        reason: reason.to_owned(),
        recovery: "The attachment is not shown. If the office holds it (it travels with the case's bundles), \
                   it comes back with the next bundle once this file is removed."
            .into(),
    };
    if !storage.exists(&tag_file) {
        if keys.accept_untagged {
            return Ok((ct, None));
        }
        return Err(tampered("it has no tag file"));
    }
    let tags = storage.read(&tag_file).map_err(|e| VaultError::io("read", &tag_file, e))?;
    if tags.is_empty() || tags.len() % TAG_LEN != 0 || tags.len() > 2 * TAG_LEN {
        return Err(tampered("its tag file is not one or two tags"));
    }
    let hash = super::frame::sha256(&ct);
    let keys_ok = keys.tag_keys();
    match tags.chunks(TAG_LEN).find(|t| mac::blob_tag_ok(&keys_ok, id, &hash, t)) {
        Some(t) => Ok((ct, Some(t.to_vec()))),
        None => Err(tampered("its tag does not match: the file is not one this vault wrote under this id")),
    }
}

/// Tag every blob of a vault upgraded from format 2, and re-encrypt every
/// blob still encrypted to the previous vault identity after a key change,
/// so that afterwards each one is readable with the current keys alone.
/// A blob that fails its checks is left as it is (reading it reports it).
pub(crate) fn reseal_all(storage: &dyn Storage, dir: &Path, keys: &Keys) -> Result<(), VaultError> {
    for id in list(storage, dir)? {
        let (ct, tag) = match read_checked(storage, dir, keys, &id) {
            Ok(r) => r,
            Err(VaultError::Tampered { .. }) => continue,
            Err(e) => return Err(e),
        };
        let current = tag.as_deref().is_some_and(|t| {
            let only_current = mac::TagKeys { current: keys.vault_key.clone(), previous: None };
            mac::blob_tag_ok(&only_current, &id, &super::frame::sha256(&ct), t)
        });
        if current {
            continue;
        }
        if keys.previous.is_none() {
            // An upgrade: the file stays, it only gains its tag.
            let t = mac::blob_tag(&keys.vault_key, &id, &super::frame::sha256(&ct));
            super::write_file_atomically(storage, &dir.join(BLOB_DIR), &format!("{id}.tag"), &t)?;
            continue;
        }
        let path = blob_path(dir, &id)?;
        let plain = envelope::decrypt(&keys.vault_identities(), &ct)
            .map_err(|reason| VaultError::CorruptBlob { path: path.clone(), reason })?;
        write_tagged(storage, dir, keys, &id, &plain, tag.as_deref())?;
    }
    Ok(())
}

/// Encrypt `bytes` to the recipients and store them under a new random id.
/// The id is random, not a content hash, so equal attachments on different
/// devices cannot be recognised from their names.
pub(crate) fn put(storage: &dyn Storage, dir: &Path, keys: &Keys, bytes: &[u8]) -> Result<String, VaultError> {
    ensure_dir(storage, dir)?;
    let id = Uuid::new_v4().hyphenated().to_string();
    write_tagged(storage, dir, keys, &id, bytes, None)?;
    Ok(id)
}

/// Read blob `id`, check its tag and decrypt it.
pub(crate) fn get(storage: &dyn Storage, dir: &Path, keys: &Keys, id: &str) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let (ct, _) = read_checked(storage, dir, keys, id)?;
    let path = blob_path(dir, id)?;
    envelope::decrypt(&keys.vault_identities(), &ct).map_err(|reason| VaultError::CorruptBlob { path, reason })
}

/// Whether blob `id` is stored (after checking `id` is a blob id).
pub(crate) fn exists(storage: &dyn Storage, dir: &Path, id: &str) -> Result<bool, VaultError> {
    Ok(storage.exists(&blob_path(dir, id)?))
}

/// Encrypt `bytes` and store them under the given `id`: an attachment that
/// arrives in a sync bundle keeps the id its `attachment.added` event names.
/// The caller checks first that the id is not taken ([`exists`]); the file
/// is written under a temporary name and renamed, so a blob is either
/// complete or absent.
pub(crate) fn put_with_id(
    storage: &dyn Storage,
    dir: &Path,
    keys: &Keys,
    id: &str,
    bytes: &[u8],
) -> Result<(), VaultError> {
    blob_path(dir, id)?;
    ensure_dir(storage, dir)?;
    write_tagged(storage, dir, keys, id, bytes, None)
}

/// Delete blob `id` and its tag (used to take back the blobs of an import
/// that failed before its events were committed). Absent is not an error.
pub(crate) fn remove(storage: &dyn Storage, dir: &Path, id: &str) -> Result<(), VaultError> {
    let path = blob_path(dir, id)?;
    let tag = tag_path(dir, id);
    let mut removed = false;
    for p in [&path, &tag] {
        if storage.exists(p) {
            storage.remove(p).map_err(|e| VaultError::io("remove", p, e))?;
            removed = true;
        }
    }
    if removed {
        let blobs = dir.join(BLOB_DIR);
        storage.sync_dir(&blobs).map_err(|e| VaultError::io("fsync directory", &blobs, e))?;
    }
    Ok(())
}
