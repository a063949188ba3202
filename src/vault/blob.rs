//! Attachments: `blobs/<id>.age`, one age file each (docs/vault-format.md §5).
use std::path::{Path, PathBuf};

use age::x25519;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::envelope;
use super::error::VaultError;
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

/// Encrypt `bytes` to the recipients and store them under a new random id.
/// The id is random, not a content hash, so equal attachments on different
/// devices cannot be recognised from their names.
pub(crate) fn put(
    storage: &dyn Storage,
    dir: &Path,
    recipients: &[x25519::Recipient],
    bytes: &[u8],
) -> Result<String, VaultError> {
    let blobs = dir.join(BLOB_DIR);
    if !storage.exists(&blobs) {
        storage.create_dir(&blobs).map_err(|e| VaultError::io("create directory", &blobs, e))?;
        storage.sync_dir(dir).map_err(|e| VaultError::io("fsync directory", dir, e))?;
    }
    let id = Uuid::new_v4().hyphenated().to_string();
    let ct = envelope::encrypt(recipients, bytes).map_err(VaultError::Encrypt)?;
    super::write_file_atomically(storage, &blobs, &format!("{id}.age"), &ct)?;
    Ok(id)
}

/// Read and decrypt blob `id`.
pub(crate) fn get(
    storage: &dyn Storage,
    dir: &Path,
    identity: &x25519::Identity,
    id: &str,
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let path = blob_path(dir, id)?;
    if !storage.exists(&path) {
        return Err(VaultError::BlobNotFound { id: id.to_owned() });
    }
    let ct = storage.read(&path).map_err(|e| VaultError::io("read", &path, e))?;
    envelope::decrypt(identity, &ct).map_err(|reason| VaultError::CorruptBlob { path, reason })
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
    recipients: &[x25519::Recipient],
    id: &str,
    bytes: &[u8],
) -> Result<(), VaultError> {
    blob_path(dir, id)?;
    let blobs = dir.join(BLOB_DIR);
    if !storage.exists(&blobs) {
        storage.create_dir(&blobs).map_err(|e| VaultError::io("create directory", &blobs, e))?;
        storage.sync_dir(dir).map_err(|e| VaultError::io("fsync directory", dir, e))?;
    }
    let ct = envelope::encrypt(recipients, bytes).map_err(VaultError::Encrypt)?;
    super::write_file_atomically(storage, &blobs, &format!("{id}.age"), &ct)
}

/// Delete blob `id` (used to take back the blobs of an import that failed
/// before its events were committed). Absent is not an error.
pub(crate) fn remove(storage: &dyn Storage, dir: &Path, id: &str) -> Result<(), VaultError> {
    let path = blob_path(dir, id)?;
    if storage.exists(&path) {
        storage.remove(&path).map_err(|e| VaultError::io("remove", &path, e))?;
        let blobs = dir.join(BLOB_DIR);
        storage.sync_dir(&blobs).map_err(|e| VaultError::io("fsync directory", &blobs, e))?;
    }
    Ok(())
}
