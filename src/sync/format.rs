//! The bundle file format (docs/bundle-format.md): one age file whose
//! plaintext is a ustar archive of `manifest.json`, `manifest.sig`,
//! `events.jsonl`, for office bundles `roster.json`, and the attachments
//! the events refer to as `attachments/<blob id>` (§3.1 of the spec).
//!
//! [`write_bundle`] builds one; [`read_bundle`] is the strict reader: it
//! decrypts, checks every tar header (type, path, size, duplicates) *before*
//! reading the member, checks every member against the manifest and parses
//! the events. It never verifies who signed the manifest — that needs the
//! roster, which is the trust layer's business ([`OpenedBundle::verify_signature`]).
//! Everything read stays in memory (zeroized buffers): no plaintext touches
//! the disk. Attachments are the exception to "read into memory": the reader
//! only hashes them as they stream past ([`OpenedBundle::attachments`]), and
//! an importer that has decided to keep them reads them a second time, one at
//! a time, with [`for_each_attachment`].

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use age::x25519;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::model::event::{Event, EventKind, Hlc};
use crate::sync::error::ImportError;

/// `manifest.json` `format` value.
pub const FORMAT: &str = "fieldcase-bundle";
/// The format version this build writes: (major, minor).
pub const VERSION: [u64; 2] = [1, 0];
/// Most tar members a bundle may have.
pub const MAX_MEMBERS: u64 = 100_005;
/// Largest member.
pub const MAX_MEMBER_BYTES: u64 = 512 * 1024 * 1024;
/// Largest total of member sizes.
pub const MAX_BUNDLE_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// Largest line of `events.jsonl`.
pub const MAX_EVENT_BYTES: u64 = 1024 * 1024;
/// Largest `manifest.json` / `roster.json` / `receipt.json`.
pub const MAX_JSON_MEMBER_BYTES: u64 = 16 * 1024 * 1024;
/// Largest attachment member: the limit the app puts on a photo or scanned
/// document when it is added (20 MiB).
pub const MAX_ATTACHMENT_BYTES: u64 = 20 * 1024 * 1024;
/// Largest total of the attachment members of one bundle (1 GiB): the
/// importer holds the whole (encrypted) bundle in memory, so the sum is
/// bounded well below [`MAX_BUNDLE_BYTES`].
pub const MAX_ATTACHMENTS_TOTAL_BYTES: u64 = 1024 * 1024 * 1024;
/// Prefix of attachment member paths: `attachments/<blob id>`.
pub const ATTACHMENT_PREFIX: &str = "attachments/";
/// Domain prefix of the manifest signature: the signature covers this
/// prefix followed by the exact bytes of `manifest.json`, so a manifest
/// signature can never be confused with an event or roster signature.
pub const MANIFEST_DOMAIN: &[u8] = b"fieldcase-bundle-manifest-v1\n";

/// Member names.
pub const MANIFEST: &str = "manifest.json";
/// Signature member.
pub const MANIFEST_SIG: &str = "manifest.sig";
/// Events member.
pub const EVENTS: &str = "events.jsonl";
/// Roster member (office bundles).
pub const ROSTER: &str = "roster.json";
/// Receipt member (transfer receipts).
pub const RECEIPT: &str = "receipt.json";

/// What a bundle is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BundleKind {
    /// Field device → its office.
    DeviceToOffice,
    /// Office → one device.
    OfficeToDevice,
    /// Office → a device being enrolled (carries the roster).
    Enrollment,
    /// Case transfer between offices.
    Transfer,
    /// Acceptance receipt for a transfer.
    Receipt,
}

/// The sender as it describes itself (informative: trust comes from the
/// roster, never from these keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sender {
    /// Sender's device id.
    pub device_id: Uuid,
    /// Human name.
    pub name: String,
    /// Hex Ed25519 verifying key.
    pub signing_key: String,
    /// age recipient `age1…`.
    pub recipient: String,
}

/// One member listed in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberEntry {
    /// Path in the archive.
    pub path: String,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// Counts for previews.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Events in events.jsonl.
    pub events: u64,
    /// Distinct cases they touch.
    pub cases: u64,
    /// Attachments.
    pub attachments: u64,
}

/// `manifest.json` (§5 of the spec).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// (major, minor).
    pub version: [u64; 2],
    /// Unique id of this bundle (UUIDv7).
    pub bundle_id: Uuid,
    /// What the bundle is for.
    pub kind: BundleKind,
    /// Who made it.
    pub sender: Sender,
    /// The age recipients it was encrypted to.
    pub recipients: Vec<String>,
    /// The office the sender belongs to (the office's device id).
    pub office_id: Uuid,
    /// Sender's clock when made.
    pub created_hlc: Hlc,
    /// Per-sender bundle sequence, from 1.
    pub sender_seq: u64,
    /// Hex SHA-256 of the sender's previous manifest.json (informative).
    pub prev_bundle_sha256: Option<String>,
    /// Highest device_seq per device among the events of this bundle.
    #[serde(default)]
    pub version_vector: BTreeMap<Uuid, u64>,
    /// Highest contiguous device_seq per device the sender holds.
    #[serde(default)]
    pub acks: BTreeMap<Uuid, u64>,
    /// Last bundle sequence the sender imported, per sender it imports from.
    #[serde(default)]
    pub received: BTreeMap<Uuid, u64>,
    /// Every member except manifest.json and manifest.sig.
    pub members: Vec<MemberEntry>,
    /// Counts (informative).
    #[serde(default)]
    pub counts: Counts,
}

impl Manifest {
    /// Parse and check `format` and the major version *before* the rest, so
    /// a future major version is reported as such rather than as damage.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, ImportError> {
        let bad = |reason: String| ImportError::Malformed { member: MANIFEST.into(), reason };
        let value: Value = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        if value.get("format").and_then(Value::as_str) != Some(FORMAT) {
            return Err(ImportError::NotABundle(format!("{MANIFEST} does not say \"format\": \"{FORMAT}\"")));
        }
        let major = value
            .get("version")
            .and_then(|v| v.get(0))
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("no version".into()))?;
        if major != VERSION[0] {
            return Err(ImportError::UnsupportedVersion { major });
        }
        serde_json::from_value(value).map_err(|e| bad(e.to_string()))
    }

    /// Hex SHA-256 of the manifest bytes (what the next bundle's
    /// `prev_bundle_sha256` names).
    pub fn digest(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }
}

/// Progress of a long bundle operation, for a bar or a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Plaintext bytes decrypted and unpacked so far.
    Unpacked {
        /// Bytes so far.
        bytes: u64,
    },
    /// Events parsed / checked so far.
    Events {
        /// Done.
        done: u64,
        /// Of.
        total: u64,
    },
    /// Writing the vault commit.
    Committing,
    /// Encrypting the output.
    Encrypting {
        /// Plaintext bytes.
        bytes: u64,
    },
}

/// What goes into a bundle, besides the manifest fields the writer fills in
/// (members, counts, version vector).
pub struct BundleParts<'a> {
    /// Manifest with `members`, `counts` and `version_vector` to be filled.
    pub manifest: Manifest,
    /// Events to carry, in the order they are written.
    pub events: &'a [Event],
    /// `roster.json` bytes, for office bundles.
    pub roster: Option<&'a [u8]>,
    /// `receipt.json` bytes, for receipts.
    pub receipt: Option<&'a [u8]>,
}

/// An attachment to carry as `attachments/<id>`, hashed beforehand so the
/// manifest (written first) can list it before its bytes are streamed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingAttachment {
    /// Blob id (lower-case hyphenated UUID), as the events name it.
    pub id: String,
    /// Hex SHA-256 of the plaintext.
    pub sha256: String,
    /// Plaintext size in bytes.
    pub size: u64,
}

/// Gives an attachment's plaintext by blob id (for [`write_bundle_with`]).
pub type LoadAttachment<'a> = dyn FnMut(&str) -> Result<Zeroizing<Vec<u8>>, String> + 'a;

/// Receives one checked attachment, by blob id (for [`for_each_attachment`]).
pub type KeepAttachment<'a> = dyn FnMut(&str, &[u8]) -> Result<(), ImportError> + 'a;

/// Build the bundle and encrypt it to `recipients`. Returns the ciphertext
/// and the exact manifest bytes written (their digest chains the sender's
/// bundles). A bundle without attachments; see [`write_bundle_with`].
pub fn write_bundle(
    parts: BundleParts<'_>,
    key: &SigningKey,
    recipients: &[x25519::Recipient],
    progress: &mut dyn FnMut(Progress),
) -> Result<(Vec<u8>, Vec<u8>), String> {
    write_bundle_with(parts, &[], &mut |id| Err(format!("no attachment {id}")), key, recipients, progress)
}

/// [`write_bundle`] carrying `attachments`. `load` gives an attachment's
/// plaintext by id; it is called once per attachment, while the archive is
/// streamed into the encryptor, so only one attachment is in memory at a
/// time. An attachment whose bytes no longer match its size and hash is an
/// error (it changed between hashing and writing).
pub fn write_bundle_with(
    parts: BundleParts<'_>,
    attachments: &[OutgoingAttachment],
    load: &mut LoadAttachment<'_>,
    key: &SigningKey,
    recipients: &[x25519::Recipient],
    progress: &mut dyn FnMut(Progress),
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let BundleParts { mut manifest, events, roster, receipt } = parts;
    let mut jsonl: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::new());
    let mut vv: BTreeMap<Uuid, u64> = BTreeMap::new();
    let mut cases = BTreeSet::new();
    for e in events {
        serde_json::to_writer(&mut *jsonl, e).map_err(|e| e.to_string())?;
        jsonl.push(b'\n');
        let top = vv.entry(e.device_id).or_insert(0);
        *top = (*top).max(e.device_seq);
        cases.insert(e.case_id);
    }
    let mut attachment_total = 0u64;
    let mut ids = BTreeSet::new();
    for a in attachments {
        if !is_blob_id(&a.id) || !ids.insert(a.id.as_str()) {
            return Err(format!("attachment id {:?} is not a blob id or is given twice", a.id));
        }
        if a.size > MAX_ATTACHMENT_BYTES {
            return Err(format!("attachment {} is {} bytes, over the limit of {MAX_ATTACHMENT_BYTES}", a.id, a.size));
        }
        attachment_total += a.size;
    }
    if attachment_total > MAX_ATTACHMENTS_TOTAL_BYTES {
        return Err(format!(
            "the attachments to send total {attachment_total} bytes, over the limit of {MAX_ATTACHMENTS_TOTAL_BYTES} for one bundle"
        ));
    }
    let mut members: Vec<(&str, &[u8])> = vec![(EVENTS, &jsonl[..])];
    if let Some(r) = roster {
        members.push((ROSTER, r));
    }
    if let Some(r) = receipt {
        members.push((RECEIPT, r));
    }
    manifest.members = members
        .iter()
        .map(|(path, bytes)| MemberEntry {
            path: (*path).into(),
            sha256: hex::encode(Sha256::digest(bytes)),
            size: bytes.len() as u64,
        })
        .chain(attachments.iter().map(|a| MemberEntry {
            path: format!("{ATTACHMENT_PREFIX}{}", a.id),
            sha256: a.sha256.to_ascii_lowercase(),
            size: a.size,
        }))
        .collect();
    manifest.counts =
        Counts { events: events.len() as u64, cases: cases.len() as u64, attachments: attachments.len() as u64 };
    manifest.version_vector = vv;
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
    let mut signed = MANIFEST_DOMAIN.to_vec();
    signed.extend_from_slice(&manifest_bytes);
    let sig = base64::engine::general_purpose::STANDARD.encode(key.sign(&signed).to_bytes());

    let all: Vec<(&str, &[u8])> =
        [(MANIFEST, &manifest_bytes[..]), (MANIFEST_SIG, sig.as_bytes())].into_iter().chain(members).collect();
    let plain_size: u64 = all.iter().map(|(_, b)| 512 + (b.len() as u64).div_ceil(512) * 512).sum::<u64>()
        + attachments.iter().map(|a| 512 + a.size.div_ceil(512) * 512).sum::<u64>()
        + 1024;
    progress(Progress::Encrypting { bytes: plain_size });
    let enc = age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
        .map_err(|e| e.to_string())?;
    // The archive is streamed straight into the encryptor: the plaintext of
    // the whole bundle never exists in one buffer (only the ciphertext does),
    // and only one attachment is decrypted at a time.
    let mut out = Vec::with_capacity(usize::try_from(plain_size + plain_size / 64 + 1024).unwrap_or(0));
    let w = enc.wrap_output(&mut out).map_err(|e| e.to_string())?;
    let mut tar = tar::Builder::new(w);
    let append = |tar: &mut tar::Builder<_>, path: &str, bytes: &[u8]| -> Result<(), String> {
        let mut h = tar::Header::new_ustar();
        h.set_path(path).map_err(|e| e.to_string())?;
        h.set_size(bytes.len() as u64);
        h.set_mode(0o600);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        tar.append(&h, bytes).map_err(|e| e.to_string())
    };
    for (path, bytes) in all {
        append(&mut tar, path, bytes)?;
    }
    for a in attachments {
        let bytes = load(&a.id)?;
        if bytes.len() as u64 != a.size || hex::encode(Sha256::digest(&bytes[..])) != a.sha256.to_ascii_lowercase() {
            return Err(format!("attachment {} changed while the bundle was being written; export again", a.id));
        }
        append(&mut tar, &format!("{ATTACHMENT_PREFIX}{}", a.id), &bytes)?;
    }
    let w = tar.into_inner().map_err(|e| e.to_string())?;
    w.finish().map_err(|e| e.to_string())?;
    Ok((out, manifest_bytes))
}

/// Whether `id` is a blob id: a lower-case hyphenated UUID (the only form
/// the vault's blob store and the `attachments/` member names accept).
pub fn is_blob_id(id: &str) -> bool {
    Uuid::parse_str(id).is_ok_and(|u| u.hyphenated().to_string() == id)
}

/// One reference from an event to an attachment blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRef {
    /// The blob id as the event writes it (not necessarily a valid id).
    pub blob: String,
    /// `sha256` next to it (hex), when the event records one.
    pub sha256: Option<String>,
    /// `size` next to it, when the event records one.
    pub size: Option<u64>,
}

/// The attachment blobs `event` refers to: the `blob` of an
/// `attachment.added` payload, and for other events every attachment value
/// (an object with string `blob`, `name` and `mime`, the shape form
/// validation requires of attachment fields) anywhere in the payload.
pub fn attachment_refs(event: &Event) -> Vec<AttachmentRef> {
    let mut out = Vec::new();
    if event.kind == EventKind::AttachmentAdded {
        push_ref(&event.payload, &mut out);
    } else {
        walk_refs(&event.payload, 0, &mut out);
    }
    out
}

fn push_ref(v: &Value, out: &mut Vec<AttachmentRef>) {
    if let Some(blob) = v.get("blob").and_then(Value::as_str) {
        out.push(AttachmentRef {
            blob: blob.to_string(),
            sha256: v.get("sha256").and_then(Value::as_str).map(str::to_string),
            size: v.get("size").and_then(Value::as_u64),
        });
    }
}

fn walk_refs(v: &Value, depth: usize, out: &mut Vec<AttachmentRef>) {
    // Payloads are shallow (form values, group lists of items); the depth
    // bound only keeps hostile nesting from costing stack.
    if depth > 16 {
        return;
    }
    match v {
        Value::Object(map) => {
            if ["blob", "name", "mime"].iter().all(|k| map.get(*k).is_some_and(Value::is_string)) {
                push_ref(v, out);
            } else {
                map.values().for_each(|x| walk_refs(x, depth + 1, out));
            }
        }
        Value::Array(items) => items.iter().for_each(|x| walk_refs(x, depth + 1, out)),
        _ => {}
    }
}

/// A decrypted, structurally verified bundle whose signer is not yet
/// checked.
pub struct OpenedBundle {
    /// The parsed manifest.
    pub manifest: Manifest,
    /// The exact bytes of manifest.json.
    pub manifest_bytes: Vec<u8>,
    /// The 64-byte signature from manifest.sig.
    pub signature: [u8; 64],
    /// The events of events.jsonl, in file order.
    pub events: Vec<Event>,
    /// roster.json, if present.
    pub roster: Option<Vec<u8>>,
    /// receipt.json, if present.
    pub receipt: Option<Vec<u8>>,
    /// The attachment members, by blob id: checked against the manifest and
    /// against the events that refer to them, but not kept in memory (read
    /// them with [`for_each_attachment`]).
    pub attachments: BTreeMap<String, AttachmentEntry>,
}

/// An attachment member as checked by the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentEntry {
    /// Hex SHA-256 of the plaintext (equal to the manifest's).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

impl OpenedBundle {
    /// Check manifest.sig with `key` (the sender's key as this vault knows it).
    pub fn verify_signature(&self, key: &VerifyingKey) -> Result<(), ImportError> {
        let mut signed = MANIFEST_DOMAIN.to_vec();
        signed.extend_from_slice(&self.manifest_bytes);
        key.verify(&signed, &Signature::from_bytes(&self.signature))
            .map_err(|_| ImportError::BadSignature { sender: self.manifest.sender.device_id })
    }

    /// Hex SHA-256 of manifest.json.
    pub fn manifest_digest(&self) -> String {
        Manifest::digest(&self.manifest_bytes)
    }
}

/// Decrypt with `identity` and check everything that does not need trust
/// (see the module docs). `ciphertext` is the whole file.
pub fn read_bundle(
    ciphertext: &[u8],
    identity: &x25519::Identity,
    progress: &mut dyn FnMut(Progress),
) -> Result<OpenedBundle, ImportError> {
    let size = ciphertext.len() as u64;
    let plain = decrypt(ciphertext, identity)?;
    let members = unpack(plain, size, progress).map_err(|e| match e {
        Unpack::Import(e) => e,
        Unpack::Io(e) => ImportError::Damaged { size, reason: e.to_string() },
    })?;
    check_members(members, progress)
}

fn decrypt<'a>(ciphertext: &'a [u8], identity: &x25519::Identity) -> Result<impl Read + 'a, ImportError> {
    let size = ciphertext.len() as u64;
    let damaged = |reason: String| ImportError::Damaged { size, reason };
    if !ciphertext.starts_with(b"age-encryption.org/v1\n") {
        return Err(ImportError::NotAgeFile);
    }
    let decryptor = age::Decryptor::new_buffered(ciphertext).map_err(|e| damaged(format!("age header: {e}")))?;
    match decryptor.decrypt(std::iter::once(identity as &dyn age::Identity)) {
        Ok(r) => Ok(r),
        Err(age::DecryptError::NoMatchingKeys) => Err(ImportError::WrongRecipient),
        Err(e) => Err(damaged(format!("age: {e}"))),
    }
}

/// The checks of [`read_bundle`] on an already decrypted archive (for
/// fuzzing and for tools that hold the plaintext).
pub fn read_archive(plain: &[u8], progress: &mut dyn FnMut(Progress)) -> Result<OpenedBundle, ImportError> {
    let size = plain.len() as u64;
    let members = unpack(plain, size, progress).map_err(|e| match e {
        Unpack::Import(e) => e,
        Unpack::Io(e) => ImportError::Damaged { size, reason: e.to_string() },
    })?;
    check_members(members, progress)
}

/// Second pass over a bundle that [`read_bundle`] accepted: decrypt it again
/// and hand each attachment in `wanted` (blob id → what the first pass
/// found) to `keep`, one at a time, after checking its bytes once more
/// against the size and hash. Attachments not in `wanted` are skipped
/// unread. Every id in `wanted` must be met.
pub fn for_each_attachment(
    ciphertext: &[u8],
    identity: &x25519::Identity,
    wanted: &BTreeMap<String, AttachmentEntry>,
    keep: &mut KeepAttachment<'_>,
) -> Result<(), ImportError> {
    let size = ciphertext.len() as u64;
    let damaged = |reason: String| ImportError::Damaged { size, reason };
    let plain = decrypt(ciphertext, identity)?;
    let mut archive = tar::Archive::new(plain);
    let mut met = BTreeSet::new();
    for entry in archive.entries().map_err(|e| damaged(e.to_string()))?.raw(true) {
        let mut entry = entry.map_err(|e| damaged(e.to_string()))?;
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(id) = path.strip_prefix(ATTACHMENT_PREFIX) else { continue };
        let Some(expected) = wanted.get(id) else { continue };
        let declared = entry.header().entry_size().map_err(|e| damaged(e.to_string()))?;
        if declared != expected.size || declared > MAX_ATTACHMENT_BYTES {
            return Err(ImportError::MemberMismatch { path, reason: "its size changed between two reads".into() });
        }
        let mut bytes = Zeroizing::new(Vec::with_capacity(usize::try_from(declared).unwrap_or(0)));
        (&mut entry).take(declared).read_to_end(&mut bytes).map_err(|e| damaged(e.to_string()))?;
        if bytes.len() as u64 != declared || hex::encode(Sha256::digest(&bytes[..])) != expected.sha256 {
            return Err(ImportError::MemberMismatch { path, reason: "its content changed between two reads".into() });
        }
        keep(id, &bytes)?;
        met.insert(id.to_string());
    }
    if let Some(missing) = wanted.keys().find(|id| !met.contains(*id)) {
        return Err(ImportError::MissingMember(format!("{ATTACHMENT_PREFIX}{missing}")));
    }
    Ok(())
}

enum Unpack {
    Import(ImportError),
    Io(std::io::Error),
}

impl From<std::io::Error> for Unpack {
    fn from(e: std::io::Error) -> Unpack {
        Unpack::Io(e)
    }
}

/// The limit for one member, by path: JSON members are small, so a huge
/// declared manifest is refused without reading it.
fn member_limit(path: &str) -> u64 {
    match path {
        MANIFEST | ROSTER | RECEIPT => MAX_JSON_MEMBER_BYTES,
        MANIFEST_SIG => 1024,
        p if p.starts_with(ATTACHMENT_PREFIX) => MAX_ATTACHMENT_BYTES,
        _ => MAX_MEMBER_BYTES,
    }
}

/// Whether `path` is a name the format allows (§3/§4 of the spec).
fn allowed_path(path: &str) -> bool {
    matches!(path, MANIFEST | MANIFEST_SIG | EVENTS | ROSTER | RECEIPT)
        || path.strip_prefix(ATTACHMENT_PREFIX).is_some_and(is_blob_id)
}

/// What the first pass over the archive keeps: the small members' bytes,
/// and for attachments only their hash and size.
struct Members {
    data: BTreeMap<String, Zeroizing<Vec<u8>>>,
    attachments: BTreeMap<String, AttachmentEntry>,
}

/// `max_plain` bounds the archive's size (the ciphertext's length: age
/// only adds to it), so a member's buffer is reserved at its declared size
/// when that is plausible instead of grown by doubling.
fn unpack<R: Read>(plain: R, max_plain: u64, progress: &mut dyn FnMut(Progress)) -> Result<Members, Unpack> {
    let forbidden = |path: &str, reason: &str| {
        Unpack::Import(ImportError::ForbiddenMember { path: path.to_string(), reason: reason.to_string() })
    };
    let mut archive = tar::Archive::new(plain);
    // raw: GNU long names and pax headers come to us as members (and are
    // refused) instead of being silently merged into the next header.
    let entries = archive.entries()?.raw(true);
    let mut out: BTreeMap<String, Zeroizing<Vec<u8>>> = BTreeMap::new();
    let mut attachments: BTreeMap<String, AttachmentEntry> = BTreeMap::new();
    let (mut count, mut total, mut attachment_total) = (0u64, 0u64, 0u64);
    for entry in entries {
        let mut entry = entry?;
        count += 1;
        if count > MAX_MEMBERS {
            return Err(Unpack::Import(ImportError::TooLarge {
                what: "the member count".into(),
                size: count,
                limit: MAX_MEMBERS,
            }));
        }
        let raw_path = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw_path).into_owned();
        let kind = entry.header().entry_type();
        if !matches!(kind, tar::EntryType::Regular) && kind.as_byte() != b'\0' {
            return Err(forbidden(&shown, &format!("only regular files are allowed, this is a {kind:?}")));
        }
        let Ok(path) = String::from_utf8(raw_path) else { return Err(forbidden(&shown, "the path is not UTF-8")) };
        if path.starts_with('/') {
            return Err(forbidden(&path, "absolute path"));
        }
        if path.split('/').any(|c| c == "..") {
            return Err(forbidden(&path, "path traversal (..)"));
        }
        if path.contains('\\') || path.contains('\0') {
            return Err(forbidden(&path, "backslash or NUL in the path"));
        }
        if !allowed_path(&path) {
            let reason = if path.starts_with(ATTACHMENT_PREFIX) {
                "an attachment must be named attachments/<blob id>, a lower-case hyphenated UUID"
            } else {
                "not a member name of the bundle format"
            };
            return Err(forbidden(&path, reason));
        }
        let attachment_id = path.strip_prefix(ATTACHMENT_PREFIX).map(str::to_string);
        if out.contains_key(&path) || attachment_id.as_ref().is_some_and(|id| attachments.contains_key(id)) {
            return Err(Unpack::Import(ImportError::DuplicateMember(path)));
        }
        let declared = entry.header().entry_size()?;
        let limit = member_limit(&path);
        if declared > limit {
            return Err(Unpack::Import(ImportError::TooLarge {
                what: format!("member {path}"),
                size: declared,
                limit,
            }));
        }
        total += declared;
        if total > MAX_BUNDLE_BYTES {
            return Err(Unpack::Import(ImportError::TooLarge {
                what: "the total of the members".into(),
                size: total,
                limit: MAX_BUNDLE_BYTES,
            }));
        }
        let cut_short = |got: u64| {
            Unpack::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("member {path} is cut short ({got} of {declared} bytes)"),
            ))
        };
        if let Some(id) = attachment_id {
            attachment_total += declared;
            if attachment_total > MAX_ATTACHMENTS_TOTAL_BYTES {
                return Err(Unpack::Import(ImportError::TooLarge {
                    what: "the total of the attachments".into(),
                    size: attachment_total,
                    limit: MAX_ATTACHMENTS_TOTAL_BYTES,
                }));
            }
            // Hashed as it streams past; the bytes are not kept (an importer
            // reads the ones it keeps again, one at a time).
            let mut hasher = Sha256::new();
            let mut buf = Zeroizing::new(vec![0u8; 64 * 1024]);
            let mut got = 0u64;
            let mut rest = (&mut entry).take(declared);
            loop {
                let n = rest.read(&mut buf[..])?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                got += n as u64;
            }
            if got != declared {
                return Err(cut_short(got));
            }
            attachments.insert(id, AttachmentEntry { sha256: hex::encode(hasher.finalize()), size: declared });
        } else {
            // Reserved whole: grown by doubling, a 70 MB events member took
            // 128 MiB, copied it once, and zeroizing the unused half on drop
            // faulted in fresh pages. A header declaring more than the whole
            // archive can hold gets no more than that reserved.
            let mut bytes = Zeroizing::new(Vec::with_capacity(usize::try_from(declared.min(max_plain)).unwrap_or(0)));
            (&mut entry).take(declared).read_to_end(&mut bytes)?;
            if bytes.len() as u64 != declared {
                return Err(cut_short(bytes.len() as u64));
            }
            out.insert(path, bytes);
        }
        progress(Progress::Unpacked { bytes: total });
    }
    Ok(Members { data: out, attachments })
}

fn check_members(members: Members, progress: &mut dyn FnMut(Progress)) -> Result<OpenedBundle, ImportError> {
    let Members { data: mut members, attachments } = members;
    let manifest_bytes = members.remove(MANIFEST).ok_or_else(|| ImportError::MissingMember(MANIFEST.into()))?;
    let sig = members.remove(MANIFEST_SIG).ok_or_else(|| ImportError::MissingMember(MANIFEST_SIG.into()))?;
    let manifest = Manifest::parse(&manifest_bytes)?;
    let signature: [u8; 64] = base64::engine::general_purpose::STANDARD
        .decode(sig.trim_ascii())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| ImportError::Malformed {
            member: MANIFEST_SIG.into(),
            reason: "not base64 of 64 bytes".into(),
        })?;
    let mut listed = BTreeSet::new();
    for m in &manifest.members {
        if !listed.insert(m.path.as_str()) {
            return Err(ImportError::Malformed {
                member: MANIFEST.into(),
                reason: format!("{} is listed twice", m.path),
            });
        }
        let (size, sha256) = match m.path.strip_prefix(ATTACHMENT_PREFIX) {
            Some(id) => {
                let a = attachments.get(id).ok_or_else(|| ImportError::MissingMember(m.path.clone()))?;
                (a.size, a.sha256.clone())
            }
            None => {
                let bytes = members.get(&m.path).ok_or_else(|| ImportError::MissingMember(m.path.clone()))?;
                (bytes.len() as u64, hex::encode(Sha256::digest(&bytes[..])))
            }
        };
        if size != m.size {
            return Err(ImportError::MemberMismatch {
                path: m.path.clone(),
                reason: format!("{size} bytes, manifest says {}", m.size),
            });
        }
        if sha256 != m.sha256.to_ascii_lowercase() {
            return Err(ImportError::MemberMismatch { path: m.path.clone(), reason: "SHA-256 differs".into() });
        }
    }
    let unlisted = members
        .keys()
        .cloned()
        .chain(attachments.keys().map(|id| format!("{ATTACHMENT_PREFIX}{id}")))
        .find(|p| !listed.contains(p.as_str()));
    if let Some(extra) = unlisted {
        return Err(ImportError::MemberMismatch { path: extra, reason: "not listed in the manifest".into() });
    }
    let jsonl = members.remove(EVENTS).ok_or_else(|| ImportError::MissingMember(EVENTS.into()))?;
    let events = parse_events(&jsonl, progress)?;
    check_attachment_refs(&events, &attachments)?;
    Ok(OpenedBundle {
        manifest,
        manifest_bytes: manifest_bytes.to_vec(),
        signature,
        events,
        roster: members.remove(ROSTER).map(|b| b.to_vec()),
        receipt: members.remove(RECEIPT).map(|b| b.to_vec()),
        attachments,
    })
}

/// Every attachment member must be one an event of the bundle refers to
/// (a bundle carries no stray files), and where an event records the
/// attachment's `sha256` or `size` the member must match them.
fn check_attachment_refs(events: &[Event], attachments: &BTreeMap<String, AttachmentEntry>) -> Result<(), ImportError> {
    if attachments.is_empty() {
        return Ok(());
    }
    let mut referenced = BTreeSet::new();
    for e in events {
        for r in attachment_refs(e) {
            let Some(a) = attachments.get(&r.blob) else { continue };
            let path = || format!("{ATTACHMENT_PREFIX}{}", r.blob);
            if r.sha256.as_ref().is_some_and(|h| h.to_ascii_lowercase() != a.sha256) {
                return Err(ImportError::MemberMismatch {
                    path: path(),
                    reason: format!("SHA-256 differs from the one event {} records", e.id),
                });
            }
            if r.size.is_some_and(|s| s != a.size) {
                return Err(ImportError::MemberMismatch {
                    path: path(),
                    reason: format!("{} bytes, event {} records {}", a.size, e.id, r.size.unwrap_or(0)),
                });
            }
            referenced.insert(r.blob);
        }
    }
    if let Some(stray) = attachments.keys().find(|id| !referenced.contains(*id)) {
        return Err(ImportError::MemberMismatch {
            path: format!("{ATTACHMENT_PREFIX}{stray}"),
            reason: "no event of the bundle refers to this attachment".into(),
        });
    }
    Ok(())
}

/// Parse events.jsonl: one event per line, each at most [`MAX_EVENT_BYTES`].
pub fn parse_events(jsonl: &[u8], progress: &mut dyn FnMut(Progress)) -> Result<Vec<Event>, ImportError> {
    let mut events = Vec::new();
    let body = jsonl.strip_suffix(b"\n").unwrap_or(jsonl);
    if body.is_empty() {
        return Ok(events);
    }
    let lines: Vec<&[u8]> = body.split(|b| *b == b'\n').collect();
    let total = lines.len() as u64;
    // Lines parse on all cores (pure work); results are taken in line
    // order, so the error names the first bad line as a sequential loop would.
    let threads = crate::parallel::threads_for(lines.len(), 1024);
    let parsed = crate::parallel::map_ordered(&lines, threads, |line| {
        (line.len() as u64 <= MAX_EVENT_BYTES).then(|| serde_json::from_slice::<Event>(line).ok()).flatten()
    });
    events.reserve(parsed.len());
    for (i, (line, result)) in lines.iter().zip(parsed).enumerate() {
        let n = i + 1;
        match result {
            Some(e) => events.push(e),
            None if line.len() as u64 > MAX_EVENT_BYTES => {
                return Err(ImportError::EventTooLarge { line: n, size: line.len() as u64, limit: MAX_EVENT_BYTES });
            }
            None => {
                // Parsed again for its message: only ever for the one bad line.
                let reason = serde_json::from_slice::<Event>(line).err().map(|e| e.to_string()).unwrap_or_default();
                return Err(ImportError::MalformedEvent { line: n, reason });
            }
        }
        if n.is_multiple_of(10_000) {
            progress(Progress::Events { done: n as u64, total });
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_paths() {
        assert!(allowed_path("manifest.json"));
        assert!(allowed_path("attachments/0190a4c2-7a3e-7cc1-9d2e-1b2c3d4e5f60"));
        assert!(!allowed_path("attachments/0190A4C2-7A3E-7CC1-9D2E-1B2C3D4E5F60"));
        assert!(!allowed_path("attachments/x"));
        assert!(!allowed_path("./manifest.json"));
        assert!(!allowed_path("other.txt"));
    }

    #[test]
    fn attachment_refs_find_events_and_form_values() {
        let blob = "0190a4c2-7a3e-7cc1-9d2e-1b2c3d4e5f60";
        let mut e: Event = serde_json::from_value(serde_json::json!({
            "id": "0190a4c2-7a3e-7cc1-9d2e-1b2c3d4e5f61", "case_id": "0190a4c2-7a3e-7cc1-9d2e-1b2c3d4e5f62",
            "device_id": "0190a4c2-7a3e-7cc1-9d2e-1b2c3d4e5f63", "device_seq": 1,
            "hlc": {"millis": 1, "counter": 0}, "author": "a", "role": "caseworker", "kind": "attachment.added",
            "form": "attachment", "payload": {"item": "x", "blob": blob, "name": "n", "mime": "m", "size": 3},
            "base": [], "sig": ""
        }))
        .expect("event");
        let refs = attachment_refs(&e);
        assert_eq!(refs, vec![AttachmentRef { blob: blob.into(), sha256: None, size: Some(3) }]);
        e.kind = EventKind::FormSaved;
        e.payload = serde_json::json!({"values": {"note": "text", "attachments": [
            {"blob": blob, "name": "a.jpg", "mime": "image/jpeg"}, {"blob": 7, "name": "b", "mime": "c"}]}});
        assert_eq!(attachment_refs(&e).len(), 1);
        e.payload = serde_json::json!({"values": {"blob": "not an attachment value"}});
        assert!(attachment_refs(&e).is_empty());
        assert!(is_blob_id(blob) && !is_blob_id(&blob.to_uppercase()) && !is_blob_id("../x"));
    }

    #[test]
    fn future_major_version_is_named() {
        let m = br#"{"format":"fieldcase-bundle","version":[2,0],"whatever":1}"#;
        assert!(matches!(Manifest::parse(m), Err(ImportError::UnsupportedVersion { major: 2 })));
        let m = br#"{"format":"other","version":[1,0]}"#;
        assert!(matches!(Manifest::parse(m), Err(ImportError::NotABundle(_))));
    }

    #[test]
    fn event_lines_are_limited() {
        let long = vec![b' '; (MAX_EVENT_BYTES + 1) as usize];
        assert!(matches!(parse_events(&long, &mut |_| {}), Err(ImportError::EventTooLarge { line: 1, .. })));
        assert!(parse_events(b"", &mut |_| {}).unwrap().is_empty());
        assert!(matches!(parse_events(b"{}\n", &mut |_| {}), Err(ImportError::MalformedEvent { line: 1, .. })));
    }
}
