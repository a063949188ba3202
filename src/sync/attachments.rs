//! Attachments in sync bundles (docs/bundle-format.md §3.1): which blobs an
//! export carries, what an import would receive, and storing the received
//! blobs around the event commit so that a refused or failed import leaves
//! none behind.
//!
//! Blobs live outside the vault's journal (`blobs/<id>.age`, each its own
//! age file), so they cannot be part of the events' commit. The order is:
//! every check first (in the bundle reader and [`plan`]), then the new blobs
//! are written, then the events are committed; if writing a blob or the
//! commit fails, the blobs this import wrote are deleted again. Only a crash
//! between the two steps can leave blobs behind; they are encrypted like
//! every blob and referred to by no event, and importing the bundle again
//! finds them already held with the same content.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::model::event::Event;
use crate::model::store::CaseStore;
use crate::sync::error::ImportError;
use crate::sync::exchange::SyncError;
use crate::sync::format::{self, AttachmentEntry, OpenedBundle, OutgoingAttachment};
use crate::vault::VaultError;

/// What an import receives in attachments (shown in the preview and in
/// `--json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentPreview {
    /// Attachment members in the bundle.
    pub received: usize,
    /// Of those, blobs this vault did not hold (stored by the import).
    pub new: usize,
    /// Of those, blobs already held with the same content (no-op).
    pub already_held: usize,
    /// Bytes of the new blobs (plaintext).
    pub new_bytes: u64,
    /// Blobs the bundle's events refer to that are neither in the bundle nor
    /// in this vault (the sender did not have them): the case shows them as
    /// not yet synchronised.
    pub missing: usize,
}

/// Export: the attachments `events` refer to that this vault holds, hashed
/// (one decryption each; the writer decrypts them again one at a time).
/// A blob over [`format::MAX_ATTACHMENT_BYTES`] is not carried (the app does
/// not let such a file be attached); its event travels without it.
pub(crate) fn outgoing(store: &CaseStore, events: &[Event]) -> Result<Vec<OutgoingAttachment>, SyncError> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for e in events {
        for r in format::attachment_refs(e) {
            if !format::is_blob_id(&r.blob) || !seen.insert(r.blob.clone()) {
                continue;
            }
            if !store.vault().has_blob(&r.blob).map_err(crate::model::error::StoreError::from)? {
                continue;
            }
            let bytes = store.get_blob(&r.blob)?;
            if bytes.len() as u64 > format::MAX_ATTACHMENT_BYTES {
                continue;
            }
            out.push(OutgoingAttachment {
                id: r.blob,
                sha256: hex::encode(Sha256::digest(&bytes[..])),
                size: bytes.len() as u64,
            });
        }
    }
    Ok(out)
}

/// Export: the loader [`format::write_bundle_with`] calls for each attachment.
pub(crate) fn load(store: &CaseStore, id: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    store.get_blob(id).map_err(|e| e.to_string())
}

/// Import: compare the bundle's attachments with the blobs this vault holds.
/// A blob already held must have the same content (same SHA-256): blob ids
/// are random, so a different content under a known id is an altered or
/// hostile bundle, refused. Returns the preview and the attachments to store.
pub(crate) fn plan(
    store: &CaseStore,
    opened: &OpenedBundle,
) -> Result<(AttachmentPreview, BTreeMap<String, AttachmentEntry>), ImportError> {
    let mut preview = AttachmentPreview { received: opened.attachments.len(), ..AttachmentPreview::default() };
    let mut new = BTreeMap::new();
    let vault_err = |id: &str, source: VaultError| ImportError::Attachment { id: id.to_string(), source };
    for (id, entry) in &opened.attachments {
        if store.vault().has_blob(id).map_err(|e| vault_err(id, e))? {
            let held = store.vault().get_blob(id).map_err(|e| vault_err(id, e))?;
            if hex::encode(Sha256::digest(&held[..])) != entry.sha256 {
                return Err(ImportError::MemberMismatch {
                    path: format!("{}{id}", format::ATTACHMENT_PREFIX),
                    reason: "this vault already holds attachment with this id and other content".into(),
                });
            }
            preview.already_held += 1;
        } else {
            preview.new += 1;
            preview.new_bytes += entry.size;
            new.insert(id.clone(), entry.clone());
        }
    }
    let mut absent = BTreeSet::new();
    // The references the reader noted: the events themselves may not be
    // held (a case-grouped import reads them again, case by case).
    for (_, r) in &opened.attachment_refs {
        if opened.attachments.contains_key(&r.blob) || absent.contains(&r.blob) {
            continue;
        }
        // A reference that is not a blob id can never be stored: missing.
        if !format::is_blob_id(&r.blob) || !store.vault().has_blob(&r.blob).unwrap_or(false) {
            absent.insert(r.blob.clone());
        }
    }
    preview.missing = absent.len();
    Ok((preview, new))
}

/// Import: store the attachments `new` (read again from `source`, one at
/// a time), then run `commit`. If storing or `commit` fails, the blobs
/// written here are deleted again and the error is returned.
pub(crate) fn store_then_commit<S: format::BundleSource + ?Sized, T, E: From<ImportError>>(
    store: &mut CaseStore,
    source: &S,
    new: &BTreeMap<String, AttachmentEntry>,
    commit: impl FnOnce(&mut CaseStore) -> Result<T, E>,
) -> Result<T, E> {
    let mut written: Vec<String> = Vec::new();
    if !new.is_empty() {
        let vault = store.vault();
        let stored = format::for_each_attachment(source, vault.age_identity(), new, &mut |id, bytes| {
            vault.put_blob_as(id, bytes).map_err(|source| ImportError::Attachment { id: id.to_string(), source })?;
            written.push(id.to_string());
            Ok(())
        });
        if let Err(e) = stored {
            take_back(store, &written);
            return Err(e.into());
        }
    }
    let result = commit(store);
    if result.is_err() {
        take_back(store, &written);
    }
    result
}

/// Delete the blobs an import wrote before it failed. Best effort: a blob
/// that cannot be deleted is unreferenced and encrypted (see the module
/// docs).
fn take_back(store: &CaseStore, written: &[String]) {
    for id in written {
        let _ = store.vault().remove_blob(id);
    }
}
