//! The strict bundle reader (docs/bundle-format.md §3 and §5.1, "Reading
//! order").
//!
//! A bundle is read as a stream, never whole: from its [`BundleSource`] (a
//! file, opened again for the second pass over the attachments), through
//! age's stream decryptor and the tar reader, member by member.
//! `manifest.json` and `manifest.sig` must be the first two members; once
//! they are read, the caller's `authenticate` decides, from the manifest and
//! the keys the vault already trusts, whether to go on (for sync bundles:
//! the signature against the sender's key *from the roster*). Only then are
//! the other members read, each checked on its tar header against the
//! manifest (listed, same size) before a byte of it is read, and hashed as
//! it streams past. `events.jsonl` is parsed in batches of lines with a
//! bounded buffer. So a refused sender costs the manifest (at most 16 MiB)
//! and nothing else, whatever the size of the bundle, and what an accepted
//! sender's bundle costs is what its signed manifest announced.
//!
//! The parsed events are kept ([`read_bundle`]), or handed on a batch at a
//! time ([`read_bundle_streaming`]; [`for_each_event_batch`] reads them
//! again), so an importer of a bundle grouped by case holds one chunk of
//! cases at a time (docs/bundle-format.md §6); the JSON text, the
//! plaintext and the ciphertext never are. Attachments are only hashed here; an importer that
//! keeps them reads them a second time, one at a time, with
//! [`for_each_attachment`].

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use age::x25519;
use base64::Engine as _;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::model::event::Event;
use crate::sync::error::ImportError;
use crate::sync::format::{
    attachment_refs, is_blob_id, AttachmentRef, Manifest, MemberEntry, Progress, ATTACHMENT_PREFIX, CONFIG, EVENTS,
    MANIFEST, MANIFEST_DOMAIN, MANIFEST_SIG, MAX_ATTACHMENTS_TOTAL_BYTES, MAX_ATTACHMENT_BYTES, MAX_BUNDLE_BYTES,
    MAX_EVENT_BYTES, MAX_JSON_MEMBER_BYTES, MAX_MEMBERS, MAX_MEMBER_BYTES, PARTNER, RECEIPT, ROSTER,
};

/// The age v1 header line every bundle starts with.
const AGE_MAGIC: &[u8] = b"age-encryption.org/v1\n";
/// Longest age header read. A bundle's header has one stanza per recipient
/// (one or two, about 120 bytes each); age's own parser grows its buffer
/// line by line without a bound, so the reader finds the header's end
/// itself first.
pub const MAX_AGE_HEADER_BYTES: usize = 64 * 1024;
/// Bytes of complete `events.jsonl` lines parsed together (on all cores):
/// the buffer the events member is read through, besides one line of at
/// most [`MAX_EVENT_BYTES`].
const EVENT_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Read size of the member streams.
const BLOCK: usize = 64 * 1024;

/// Where a bundle is read from. It is read as a stream, and may be read
/// twice (the second pass stores the attachments), so a source can be
/// opened again from its first byte.
pub trait BundleSource {
    /// A reader from the first byte.
    fn open(&self) -> std::io::Result<Box<dyn Read + '_>>;
    /// Its size in bytes (for messages; 0 when unknown).
    fn size(&self) -> u64;
}

impl BundleSource for [u8] {
    fn open(&self) -> std::io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(self))
    }
    fn size(&self) -> u64 {
        self.len() as u64
    }
}

impl BundleSource for Vec<u8> {
    fn open(&self) -> std::io::Result<Box<dyn Read + '_>> {
        self.as_slice().open()
    }
    fn size(&self) -> u64 {
        self.len() as u64
    }
}

/// A bundle file, read from the disk as it is needed: neither its
/// ciphertext nor its plaintext is ever held whole in memory.
impl BundleSource for Path {
    fn open(&self) -> std::io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(std::fs::File::open(self)?))
    }
    fn size(&self) -> u64 {
        std::fs::metadata(self).map_or(0, |m| m.len())
    }
}

impl BundleSource for PathBuf {
    fn open(&self) -> std::io::Result<Box<dyn Read + '_>> {
        self.as_path().open()
    }
    fn size(&self) -> u64 {
        self.as_path().size()
    }
}

/// `manifest.json` and `manifest.sig`, the first two members: what a reader
/// has when it decides whether to read any further.
pub struct BundleHead {
    /// The parsed manifest.
    pub manifest: Manifest,
    /// The exact bytes of manifest.json.
    pub manifest_bytes: Vec<u8>,
    /// The 64-byte signature from manifest.sig.
    pub signature: [u8; 64],
}

impl BundleHead {
    /// Check manifest.sig with `key` (the sender's key as this vault knows it).
    pub fn verify_signature(&self, key: &VerifyingKey) -> Result<(), ImportError> {
        verify_manifest(&self.manifest, &self.manifest_bytes, &self.signature, key)
    }

    /// The size the manifest lists for `path` (0 when it is not listed):
    /// exactly what the reader will read of that member, since a member
    /// whose tar header says otherwise is refused before it is read.
    pub fn listed_size(&self, path: &str) -> u64 {
        self.manifest.members.iter().find(|m| m.path == path).map_or(0, |m| m.size)
    }

    /// Whether the manifest lists any attachment member.
    pub fn lists_attachments(&self) -> bool {
        self.manifest.members.iter().any(|m| m.path.starts_with(ATTACHMENT_PREFIX))
    }
}

/// The caller's decision on a bundle's head, taken before any other member
/// is read: `Ok` to read on, an error to refuse the bundle there.
pub type Authenticate<'a> = dyn FnMut(&BundleHead) -> Result<(), ImportError> + 'a;

fn verify_manifest(
    manifest: &Manifest,
    bytes: &[u8],
    signature: &[u8; 64],
    key: &VerifyingKey,
) -> Result<(), ImportError> {
    let mut signed = MANIFEST_DOMAIN.to_vec();
    signed.extend_from_slice(bytes);
    key.verify(&signed, &Signature::from_bytes(signature))
        .map_err(|_| ImportError::BadSignature { sender: manifest.sender.device_id })
}

/// A decrypted, structurally verified bundle, read after its head passed
/// the caller's `authenticate`.
pub struct OpenedBundle {
    /// The parsed manifest.
    pub manifest: Manifest,
    /// The exact bytes of manifest.json.
    pub manifest_bytes: Vec<u8>,
    /// The 64-byte signature from manifest.sig.
    pub signature: [u8; 64],
    /// The events of events.jsonl, in file order; empty when they were
    /// handed to an [`EventSink`] instead ([`read_bundle_streaming`]).
    pub events: Vec<Event>,
    /// Every attachment reference of the events, with the id of the event
    /// that makes it, in file order (kept in both modes: few events have
    /// one, and the importer plans the attachments from these).
    pub attachment_refs: Vec<(uuid::Uuid, AttachmentRef)>,
    /// roster.json, if present.
    pub roster: Option<Vec<u8>>,
    /// receipt.json, if present.
    pub receipt: Option<Vec<u8>>,
    /// config.json, if present (§7.1).
    pub config: Option<Vec<u8>>,
    /// partner.json, if present (§11).
    pub partner: Option<Vec<u8>>,
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
        verify_manifest(&self.manifest, &self.manifest_bytes, &self.signature, key)
    }

    /// Hex SHA-256 of manifest.json.
    pub fn manifest_digest(&self) -> String {
        Manifest::digest(&self.manifest_bytes)
    }
}

/// Receives the parsed events of `events.jsonl` a batch at a time, in file
/// order, each with the SHA-256 of its line (for [`read_bundle_streaming`]
/// and [`for_each_event_batch`]). An error stops the reading; a digest
/// mismatch of the member is still reported first.
pub type EventSink<'a> = dyn FnMut(Vec<Event>, Vec<[u8; 32]>) -> Result<(), ImportError> + 'a;

/// Receives one checked attachment, by blob id (for [`for_each_attachment`]).
pub type KeepAttachment<'a> = dyn FnMut(&str, &[u8]) -> Result<(), ImportError> + 'a;

/// Decrypt `source` with `identity` as a stream, read its head, let
/// `authenticate` decide, then read and check the rest (see the module
/// docs). Nothing but the manifest is read when `authenticate` refuses.
pub fn read_bundle<S: BundleSource + ?Sized>(
    source: &S,
    identity: &x25519::Identity,
    authenticate: &mut Authenticate<'_>,
    progress: &mut dyn FnMut(Progress),
) -> Result<OpenedBundle, ImportError> {
    let size = source.size();
    let plain = decrypt(source, identity)?;
    unpack(plain, size, authenticate, progress, None).map_err(|e| e.into_import(size))
}

/// [`read_bundle`] that keeps none of the events: each parsed batch of
/// `events.jsonl` goes to `sink` as it is read (the returned bundle's
/// `events` is empty). Every other check is the same; an importer that
/// needs the events again reads them with [`for_each_event_batch`].
pub fn read_bundle_streaming<S: BundleSource + ?Sized>(
    source: &S,
    identity: &x25519::Identity,
    authenticate: &mut Authenticate<'_>,
    progress: &mut dyn FnMut(Progress),
    sink: &mut EventSink<'_>,
) -> Result<OpenedBundle, ImportError> {
    let size = source.size();
    let plain = decrypt(source, identity)?;
    unpack(plain, size, authenticate, progress, Some(sink)).map_err(|e| e.into_import(size))
}

/// Another pass over the `events.jsonl` of a bundle that
/// [`read_bundle_streaming`] accepted: decrypt it again and hand its events
/// to `sink` a batch at a time. `expected` is the member as the (signed)
/// manifest lists it; a member of another size or digest is refused (the
/// file changed between two reads), the digest only at the member's end,
/// so a sink that must not act on events of a changed file checks them
/// itself (the importer compares each case chunk with its first read).
pub fn for_each_event_batch<S: BundleSource + ?Sized>(
    source: &S,
    identity: &x25519::Identity,
    expected: &MemberEntry,
    sink: &mut EventSink<'_>,
) -> Result<(), ImportError> {
    let size = source.size();
    let damaged = |reason: String| ImportError::Damaged { size, reason };
    let plain = decrypt(source, identity)?;
    let mut archive = tar::Archive::new(plain);
    for entry in archive.entries().map_err(|e| damaged(e.to_string()))?.raw(true) {
        let mut entry = entry.map_err(|e| damaged(e.to_string()))?;
        if &*entry.path_bytes() != EVENTS.as_bytes() {
            continue;
        }
        let declared = entry.header().entry_size().map_err(|e| damaged(e.to_string()))?;
        if declared != expected.size {
            return Err(ImportError::MemberMismatch {
                path: EVENTS.into(),
                reason: "its size changed between two reads".into(),
            });
        }
        let want = expected.sha256.to_ascii_lowercase();
        let mut refs = Vec::new();
        return read_events(&mut entry, declared, &want, 0, &mut |_| {}, Some(sink), &mut refs)
            .map(|_| ())
            .map_err(|e| e.into_import(size));
    }
    Err(ImportError::MissingMember(EVENTS.into()))
}

/// The checks of [`read_bundle`] on an already decrypted archive, with no
/// authentication (every head is let through): for fuzzing and for tools
/// that hold the plaintext.
pub fn read_archive(plain: &[u8], progress: &mut dyn FnMut(Progress)) -> Result<OpenedBundle, ImportError> {
    let size = plain.len() as u64;
    unpack(plain, size, &mut |_| Ok(()), progress, None).map_err(|e| e.into_import(size))
}

/// Open `source` and start age's stream decryption: the header is checked
/// here (magic line, at most [`MAX_AGE_HEADER_BYTES`], a stanza for
/// `identity`); the payload is decrypted and authenticated chunk by chunk
/// (64 KiB) as it is read.
fn decrypt<'s, S: BundleSource + ?Sized>(
    source: &'s S,
    identity: &x25519::Identity,
) -> Result<impl Read + 's, ImportError> {
    let size = source.size();
    let damaged = |reason: String| ImportError::Damaged { size, reason };
    let mut file = source.open()?;
    let mut head = Vec::with_capacity(4096);
    (&mut file).take(AGE_MAGIC.len() as u64).read_to_end(&mut head)?;
    if head != AGE_MAGIC {
        return Err(ImportError::NotAgeFile);
    }
    // Read until the header's last line ("--- <mac>") is in, or refuse a
    // header that has none within the limit.
    let mut block = [0u8; 4096];
    while header_end(&head).is_none() {
        if head.len() > MAX_AGE_HEADER_BYTES {
            return Err(damaged(format!("the age header is longer than {MAX_AGE_HEADER_BYTES} bytes")));
        }
        let n = file.read(&mut block)?;
        if n == 0 {
            break; // age reports the incomplete header
        }
        head.extend_from_slice(&block[..n]);
    }
    let input = BufReader::with_capacity(BLOCK, std::io::Cursor::new(head).chain(file));
    let decryptor = age::Decryptor::new_buffered(input).map_err(|e| damaged(format!("age header: {e}")))?;
    match decryptor.decrypt(std::iter::once(identity as &dyn age::Identity)) {
        Ok(r) => Ok(r),
        Err(age::DecryptError::NoMatchingKeys) => Err(ImportError::WrongRecipient),
        Err(e) => Err(damaged(format!("age: {e}"))),
    }
}

/// Where the age header's MAC line ends, if `bytes` holds all of it.
fn header_end(bytes: &[u8]) -> Option<usize> {
    let at = bytes.windows(4).position(|w| w == b"\n---")? + 1;
    bytes[at..].iter().position(|b| *b == b'\n').map(|n| at + n + 1)
}

/// Second pass over a bundle that [`read_bundle`] accepted: decrypt it again
/// and hand each attachment in `wanted` (blob id → what the first pass
/// found) to `keep`, one at a time, after checking its bytes once more
/// against the size and hash (the file may have changed in between).
/// Attachments not in `wanted` are skipped unread. Every id in `wanted`
/// must be met.
pub fn for_each_attachment<S: BundleSource + ?Sized>(
    source: &S,
    identity: &x25519::Identity,
    wanted: &BTreeMap<String, AttachmentEntry>,
    keep: &mut KeepAttachment<'_>,
) -> Result<(), ImportError> {
    let size = source.size();
    let damaged = |reason: String| ImportError::Damaged { size, reason };
    let plain = decrypt(source, identity)?;
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

impl Unpack {
    fn into_import(self, size: u64) -> ImportError {
        match self {
            Unpack::Import(e) => e,
            Unpack::Io(e) => ImportError::Damaged { size, reason: e.to_string() },
        }
    }
}

impl From<std::io::Error> for Unpack {
    fn from(e: std::io::Error) -> Unpack {
        Unpack::Io(e)
    }
}

impl From<ImportError> for Unpack {
    fn from(e: ImportError) -> Unpack {
        Unpack::Import(e)
    }
}

/// The limit for one member, by path: JSON members are small, so a huge
/// declared manifest is refused without reading it.
fn member_limit(path: &str) -> u64 {
    match path {
        MANIFEST | ROSTER | CONFIG | RECEIPT | PARTNER => MAX_JSON_MEMBER_BYTES,
        MANIFEST_SIG => 1024,
        p if p.starts_with(ATTACHMENT_PREFIX) => MAX_ATTACHMENT_BYTES,
        _ => MAX_MEMBER_BYTES,
    }
}

/// Whether `path` is a name the format allows (§3/§4 of the spec).
pub(crate) fn allowed_path(path: &str) -> bool {
    matches!(path, MANIFEST | MANIFEST_SIG | EVENTS | ROSTER | CONFIG | RECEIPT | PARTNER)
        || path.strip_prefix(ATTACHMENT_PREFIX).is_some_and(is_blob_id)
}

/// The checks on one tar header that need nothing but the header (and the
/// members before it): type, path, duplicates, size limits. Returns the
/// path and declared size.
struct HeaderCheck {
    count: u64,
    total: u64,
    attachment_total: u64,
    seen: BTreeSet<String>,
}

impl HeaderCheck {
    fn check<R: Read>(&mut self, entry: &tar::Entry<'_, R>) -> Result<(String, u64), Unpack> {
        let forbidden = |path: &str, reason: &str| {
            Unpack::Import(ImportError::ForbiddenMember { path: path.to_string(), reason: reason.to_string() })
        };
        self.count += 1;
        if self.count > MAX_MEMBERS {
            return Err(ImportError::TooLarge {
                what: "the member count".into(),
                size: self.count,
                limit: MAX_MEMBERS,
            }
            .into());
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
        if !self.seen.insert(path.clone()) {
            return Err(ImportError::DuplicateMember(path).into());
        }
        let declared = entry.header().entry_size()?;
        let limit = member_limit(&path);
        if declared > limit {
            return Err(ImportError::TooLarge { what: format!("member {path}"), size: declared, limit }.into());
        }
        self.total += declared;
        if self.total > MAX_BUNDLE_BYTES {
            return Err(ImportError::TooLarge {
                what: "the total of the members".into(),
                size: self.total,
                limit: MAX_BUNDLE_BYTES,
            }
            .into());
        }
        if path.starts_with(ATTACHMENT_PREFIX) {
            self.attachment_total += declared;
            if self.attachment_total > MAX_ATTACHMENTS_TOTAL_BYTES {
                return Err(ImportError::TooLarge {
                    what: "the total of the attachments".into(),
                    size: self.attachment_total,
                    limit: MAX_ATTACHMENTS_TOTAL_BYTES,
                }
                .into());
            }
        }
        Ok((path, declared))
    }
}

fn cut_short(path: &str, got: u64, declared: u64) -> Unpack {
    Unpack::Io(std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        format!("member {path} is cut short ({got} of {declared} bytes)"),
    ))
}

/// A small member read whole (manifest, signature, roster, receipt: each
/// at most [`MAX_JSON_MEMBER_BYTES`]). `max_plain` bounds the archive's
/// size, so a header cannot make the reader reserve more than the file holds.
fn read_small<R: Read>(entry: R, path: &str, declared: u64, max_plain: u64) -> Result<Zeroizing<Vec<u8>>, Unpack> {
    let mut bytes = Zeroizing::new(Vec::with_capacity(usize::try_from(declared.min(max_plain)).unwrap_or(0)));
    entry.take(declared).read_to_end(&mut bytes)?;
    if bytes.len() as u64 != declared {
        return Err(cut_short(path, bytes.len() as u64, declared));
    }
    Ok(bytes)
}

/// The head: parse the manifest and decode the signature.
fn head_of(mut manifest_bytes: Zeroizing<Vec<u8>>, sig: &[u8]) -> Result<BundleHead, ImportError> {
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
    }
    // Moved, not copied: up to 16 MiB read before the signer is known.
    Ok(BundleHead { manifest, manifest_bytes: std::mem::take(&mut *manifest_bytes), signature })
}

/// Read the archive in order: head, `authenticate`, then every other member
/// checked on its header against the manifest before it is read.
fn unpack<R: Read>(
    plain: R,
    max_plain: u64,
    authenticate: &mut Authenticate<'_>,
    progress: &mut dyn FnMut(Progress),
    mut sink: Option<&mut EventSink<'_>>,
) -> Result<OpenedBundle, Unpack> {
    let mut archive = tar::Archive::new(plain);
    // raw: GNU long names and pax headers come to us as members (and are
    // refused) instead of being silently merged into the next header.
    let mut entries = archive.entries()?.raw(true);
    let mut headers = HeaderCheck { count: 0, total: 0, attachment_total: 0, seen: BTreeSet::new() };
    let mut next_head_member = |expected: &str| -> Result<Zeroizing<Vec<u8>>, Unpack> {
        let Some(entry) = entries.next() else { return Err(ImportError::MissingMember(expected.into()).into()) };
        let entry = entry?;
        let (path, declared) = headers.check(&entry)?;
        if path != expected {
            return Err(ImportError::OutOfOrder { expected: expected.into(), found: path }.into());
        }
        read_small(entry, &path, declared, max_plain)
    };
    let manifest_bytes = next_head_member(MANIFEST)?;
    let sig = next_head_member(MANIFEST_SIG)?;
    let head = head_of(manifest_bytes, &sig)?;
    // Nothing past the head is read before the caller has decided.
    authenticate(&head)?;
    let listed: BTreeMap<&str, &MemberEntry> = head.manifest.members.iter().map(|m| (m.path.as_str(), m)).collect();
    let mut events = None;
    let mut small: BTreeMap<String, Zeroizing<Vec<u8>>> = BTreeMap::new();
    let mut attachments: BTreeMap<String, AttachmentEntry> = BTreeMap::new();
    let mut refs = Vec::new();
    for entry in entries {
        let mut entry = entry?;
        let (path, declared) = headers.check(&entry)?;
        // Checked on the header, before reading: the manifest (signed, and
        // already accepted) says what may follow and how large it is.
        let Some(expected) = listed.get(path.as_str()) else {
            return Err(ImportError::MemberMismatch { path, reason: "not listed in the manifest".into() }.into());
        };
        if declared != expected.size {
            return Err(ImportError::MemberMismatch {
                path,
                reason: format!("{declared} bytes, manifest says {}", expected.size),
            }
            .into());
        }
        let want = expected.sha256.to_ascii_lowercase();
        if path == EVENTS {
            let hint = head.manifest.counts.events;
            events = Some(read_events(&mut entry, declared, &want, hint, progress, sink.as_deref_mut(), &mut refs)?);
        } else if let Some(id) = path.strip_prefix(ATTACHMENT_PREFIX) {
            // Hashed as it streams past; the bytes are not kept (an importer
            // reads the ones it keeps again, one at a time).
            let sha256 = hash_member(&mut entry, &path, declared)?;
            if sha256 != want {
                return Err(ImportError::MemberMismatch { path, reason: "SHA-256 differs".into() }.into());
            }
            attachments.insert(id.to_string(), AttachmentEntry { sha256, size: declared });
        } else {
            let bytes = read_small(&mut entry, &path, declared, max_plain)?;
            if hex::encode(Sha256::digest(&bytes[..])) != want {
                return Err(ImportError::MemberMismatch { path, reason: "SHA-256 differs".into() }.into());
            }
            small.insert(path, bytes);
        }
        progress(Progress::Unpacked { bytes: headers.total });
    }
    // The age payload to its end: its last chunk carries the end-of-stream
    // flag, so a bundle cut after the archive's end is noticed too.
    std::io::copy(&mut archive.into_inner(), &mut std::io::sink())?;
    let present = |p: &str| {
        p == EVENTS && events.is_some() || small.contains_key(p) || {
            p.strip_prefix(ATTACHMENT_PREFIX).is_some_and(|id| attachments.contains_key(id))
        }
    };
    if let Some(missing) = head.manifest.members.iter().find(|m| !present(&m.path)) {
        return Err(ImportError::MissingMember(missing.path.clone()).into());
    }
    let events = events.ok_or_else(|| ImportError::MissingMember(EVENTS.into()))?;
    check_attachment_refs(&refs, &attachments)?;
    let BundleHead { manifest, manifest_bytes, signature } = head;
    Ok(OpenedBundle {
        manifest,
        manifest_bytes,
        signature,
        events,
        attachment_refs: refs,
        roster: small.remove(ROSTER).map(|b| b.to_vec()),
        receipt: small.remove(RECEIPT).map(|b| b.to_vec()),
        config: small.remove(CONFIG).map(|b| b.to_vec()),
        partner: small.remove(PARTNER).map(|b| b.to_vec()),
        attachments,
    })
}

/// SHA-256 of a member read in blocks, none of it kept.
fn hash_member<R: Read>(entry: R, path: &str, declared: u64) -> Result<String, Unpack> {
    stream_member(entry, path, declared, |_| {})
}

/// Read a member of `declared` bytes in blocks, handing each to `each`,
/// and return its hex SHA-256; a member cut short is an error.
fn stream_member<R: Read>(entry: R, path: &str, declared: u64, mut each: impl FnMut(&[u8])) -> Result<String, Unpack> {
    let mut hasher = Sha256::new();
    let mut buf = Zeroizing::new(vec![0u8; BLOCK]);
    let mut got = 0u64;
    let mut rest = entry.take(declared);
    loop {
        let n = rest.read(&mut buf[..])?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        got += n as u64;
        each(&buf[..n]);
    }
    if got != declared {
        return Err(cut_short(path, got, declared));
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Stream `events.jsonl`: hash it, cut it into lines (each at most
/// [`MAX_EVENT_BYTES`]) and parse them in batches. A bad line is reported
/// only once the whole member is hashed: a member that differs from the
/// manifest is an altered bundle, which says more than its first bad line.
///
/// With a `sink`, each parsed batch is handed on (with its lines' SHA-256)
/// instead of kept, and the result is empty. The events' attachment
/// references are gathered in `refs` either way.
fn read_events<R: Read>(
    entry: R,
    declared: u64,
    want: &str,
    count_hint: u64,
    progress: &mut dyn FnMut(Progress),
    mut sink: Option<&mut EventSink<'_>>,
    refs: &mut Vec<(uuid::Uuid, AttachmentRef)>,
) -> Result<Vec<Event>, Unpack> {
    let mut lines = EventLines::new(declared, if sink.is_some() { 0 } else { count_hint }, sink.is_some());
    lines.hint = count_hint;
    let digest = stream_member(entry, EVENTS, declared, |block| {
        lines.feed(block, progress);
        lines.hand_on(sink.as_deref_mut(), refs);
    })?;
    let parsed = lines.finish(progress).and_then(|mut lines| {
        lines.hand_on(sink, refs);
        lines.into_result()
    });
    if digest != want {
        return Err(ImportError::MemberMismatch { path: EVENTS.into(), reason: "SHA-256 differs".into() }.into());
    }
    let events = parsed?;
    refs.extend(events.iter().flat_map(|e| attachment_refs(e).into_iter().map(|r| (e.id, r))));
    Ok(events)
}

/// `events.jsonl` cut into lines as it streams: complete lines gather in a
/// batch of about [`EVENT_BATCH_BYTES`], parsed on all cores (results in
/// line order, so the first bad line is the one reported), then the batch
/// is emptied. After the first bad line nothing more is kept or parsed.
struct EventLines {
    /// Complete lines of the batch, then the line being read.
    batch: Zeroizing<Vec<u8>>,
    /// End offset in `batch` of each complete line.
    ends: Vec<usize>,
    /// Where the line being read starts in `batch`.
    start: usize,
    /// Lines completed so far (the number of the line being read, minus 1).
    line: usize,
    /// Length of the line being read when it is over the limit (its bytes
    /// are counted, not kept).
    over: Option<u64>,
    declared: u64,
    seen: u64,
    events: Vec<Event>,
    /// SHA-256 of each kept event's line, when the lines are hashed (only
    /// for a sink).
    hashes: Vec<[u8; 32]>,
    hash_lines: bool,
    error: Option<ImportError>,
    hint: u64,
}

impl EventLines {
    fn new(declared: u64, hint: u64, hash_lines: bool) -> EventLines {
        // A signed event is at least a few hundred bytes: the manifest's
        // count, when plausible, saves growing the vector by doubling.
        let events = Vec::with_capacity(usize::try_from(hint.min(declared / 128)).unwrap_or(0));
        EventLines {
            batch: Zeroizing::new(Vec::with_capacity(EVENT_BATCH_BYTES + BLOCK)),
            ends: Vec::new(),
            start: 0,
            line: 0,
            over: None,
            declared,
            seen: 0,
            events,
            hashes: Vec::new(),
            hash_lines,
            error: None,
            hint,
        }
    }

    /// Hand the events parsed so far to `sink` (if any), noting their
    /// attachment references; a sink's error stops the parsing.
    fn hand_on(&mut self, sink: Option<&mut EventSink<'_>>, refs: &mut Vec<(uuid::Uuid, AttachmentRef)>) {
        let Some(sink) = sink else { return };
        if self.error.is_some() || self.events.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.events);
        let hashes = std::mem::take(&mut self.hashes);
        refs.extend(events.iter().flat_map(|e| attachment_refs(e).into_iter().map(|r| (e.id, r))));
        if let Err(e) = sink(events, hashes) {
            self.fail(e);
        }
    }

    fn feed(&mut self, mut bytes: &[u8], progress: &mut dyn FnMut(Progress)) {
        while !bytes.is_empty() {
            let nl = bytes.iter().position(|b| *b == b'\n');
            let (part, rest) = match nl {
                Some(i) => (&bytes[..i], &bytes[i + 1..]),
                None => (bytes, &[][..]),
            };
            self.seen += part.len() as u64 + u64::from(nl.is_some());
            self.append(part);
            if nl.is_some() {
                self.end_line(progress);
            }
            bytes = rest;
        }
    }

    fn append(&mut self, part: &[u8]) {
        if self.error.is_some() {
            return;
        }
        if let Some(n) = self.over.as_mut() {
            *n += part.len() as u64;
            return;
        }
        let len = (self.batch.len() - self.start + part.len()) as u64;
        if len > MAX_EVENT_BYTES {
            // Counted from here on, not kept.
            self.over = Some(len);
            self.batch.truncate(self.start);
        } else {
            self.batch.extend_from_slice(part);
        }
    }

    fn end_line(&mut self, progress: &mut dyn FnMut(Progress)) {
        if self.error.is_some() {
            self.line += 1;
            return;
        }
        if let Some(size) = self.over.take() {
            // The lines before it first: the first bad line is reported.
            self.flush(progress);
            if self.error.is_some() {
                return;
            }
            self.line += 1;
            self.fail(ImportError::EventTooLarge { line: self.line, size, limit: MAX_EVENT_BYTES });
            return;
        }
        // A member that is one line feed holds no event (the final line
        // feed is optional, so it ends an empty list).
        if self.line == 0 && self.batch.len() == self.start && self.declared == 1 {
            return;
        }
        self.ends.push(self.batch.len());
        self.start = self.batch.len();
        if self.batch.len() >= EVENT_BATCH_BYTES {
            self.flush(progress);
        }
    }

    fn fail(&mut self, e: ImportError) {
        self.error = Some(e);
        self.events = Vec::new();
        self.hashes = Vec::new();
        self.batch = Zeroizing::new(Vec::new());
        self.ends = Vec::new();
        self.start = 0;
    }

    /// Parse the complete lines of the batch; the line being read (if any)
    /// moves to the front.
    fn flush(&mut self, progress: &mut dyn FnMut(Progress)) {
        if self.ends.is_empty() || self.error.is_some() {
            return;
        }
        let mut from = 0;
        let lines: Vec<&[u8]> = self
            .ends
            .iter()
            .map(|&end| {
                let l = &self.batch[from..end];
                from = end;
                l
            })
            .collect();
        let threads = crate::parallel::threads_for(lines.len(), 1024);
        let hash_lines = self.hash_lines;
        let parsed = crate::parallel::map_ordered(&lines, threads, |line| {
            let hash = hash_lines.then(|| <[u8; 32]>::from(Sha256::digest(line)));
            serde_json::from_slice::<Event>(line).ok().map(|e| (e, hash))
        });
        let mut failed = None;
        for (line, result) in lines.iter().zip(parsed) {
            self.line += 1;
            match result {
                Some((e, hash)) => {
                    self.events.push(e);
                    self.hashes.extend(hash);
                }
                None => {
                    // Parsed again for its message: only ever for the one bad line.
                    let reason = serde_json::from_slice::<Event>(line).err().map(|e| e.to_string()).unwrap_or_default();
                    failed = Some(ImportError::MalformedEvent { line: self.line, reason });
                    break;
                }
            }
            if self.line.is_multiple_of(10_000) {
                let total = self.hint.max(self.line as u64);
                progress(Progress::Events { done: self.line as u64, total });
            }
        }
        if let Some(e) = failed {
            self.fail(e);
            return;
        }
        let tail = self.batch.len() - self.start;
        self.batch.copy_within(self.start.., 0);
        self.batch.truncate(tail);
        self.ends.clear();
        self.start = 0;
    }

    /// The last line (it needs no line feed) parsed: the events are still
    /// to be handed on or taken ([`EventLines::into_result`]).
    fn finish(mut self, progress: &mut dyn FnMut(Progress)) -> Result<EventLines, ImportError> {
        debug_assert_eq!(self.seen, self.declared);
        if self.error.is_none() && (self.over.is_some() || self.batch.len() > self.start) {
            self.end_line(progress);
        }
        self.flush(progress);
        Ok(self)
    }

    fn into_result(self) -> Result<Vec<Event>, ImportError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.events),
        }
    }
}

/// Every attachment member must be one an event of the bundle refers to
/// (a bundle carries no stray files), and where an event records the
/// attachment's `sha256` or `size` the member must match them.
fn check_attachment_refs(
    refs: &[(uuid::Uuid, AttachmentRef)],
    attachments: &BTreeMap<String, AttachmentEntry>,
) -> Result<(), ImportError> {
    if attachments.is_empty() {
        return Ok(());
    }
    let mut referenced = BTreeSet::new();
    for (event, r) in refs {
        let Some(a) = attachments.get(&r.blob) else { continue };
        let path = || format!("{ATTACHMENT_PREFIX}{}", r.blob);
        if r.sha256.as_ref().is_some_and(|h| h.to_ascii_lowercase() != a.sha256) {
            return Err(ImportError::MemberMismatch {
                path: path(),
                reason: format!("SHA-256 differs from the one event {event} records"),
            });
        }
        if r.size.is_some_and(|s| s != a.size) {
            return Err(ImportError::MemberMismatch {
                path: path(),
                reason: format!("{} bytes, event {event} records {}", a.size, r.size.unwrap_or(0)),
            });
        }
        referenced.insert(r.blob.as_str());
    }
    if let Some(stray) = attachments.keys().find(|id| !referenced.contains(id.as_str())) {
        return Err(ImportError::MemberMismatch {
            path: format!("{ATTACHMENT_PREFIX}{stray}"),
            reason: "no event of the bundle refers to this attachment".into(),
        });
    }
    Ok(())
}

/// Parse a whole `events.jsonl` held in memory, with the rules of the
/// streaming reader (for tests and tools; the reader never holds it whole).
pub fn parse_events(jsonl: &[u8], progress: &mut dyn FnMut(Progress)) -> Result<Vec<Event>, ImportError> {
    let mut lines = EventLines::new(jsonl.len() as u64, 0, false);
    for block in jsonl.chunks(BLOCK) {
        lines.feed(block, progress);
    }
    lines.finish(progress)?.into_result()
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
    fn event_lines_are_limited() {
        let long = vec![b' '; (MAX_EVENT_BYTES + 1) as usize];
        let e = parse_events(&long, &mut |_| {});
        assert!(
            matches!(e, Err(ImportError::EventTooLarge { line: 1, size, .. }) if size == MAX_EVENT_BYTES + 1),
            "{e:?}"
        );
        // Over the limit on line 3, after two lines that are not events:
        // the first bad line is reported, with the long line's full size.
        let mut x = b"{}\n".to_vec();
        x.extend(vec![b'x'; (MAX_EVENT_BYTES + 7) as usize]);
        assert!(matches!(parse_events(&x, &mut |_| {}), Err(ImportError::MalformedEvent { line: 1, .. })));
        let mut y = vec![b'x'; (MAX_EVENT_BYTES + 7) as usize];
        y.extend_from_slice(b"\n{}\n");
        let e = parse_events(&y, &mut |_| {});
        assert!(
            matches!(e, Err(ImportError::EventTooLarge { line: 1, size, .. }) if size == MAX_EVENT_BYTES + 7),
            "{e:?}"
        );
        assert!(parse_events(b"", &mut |_| {}).unwrap().is_empty());
        assert!(parse_events(b"\n", &mut |_| {}).unwrap().is_empty());
        assert!(matches!(parse_events(b"{}\n", &mut |_| {}), Err(ImportError::MalformedEvent { line: 1, .. })));
        assert!(matches!(parse_events(b"\n\n", &mut |_| {}), Err(ImportError::MalformedEvent { line: 1, .. })));
    }

    #[test]
    fn the_age_header_end_is_found_only_when_complete() {
        assert_eq!(header_end(b"age-encryption.org/v1\n-> X25519 abc\nxyz\n--- mac"), None);
        let h = b"age-encryption.org/v1\n-> X25519 abc\nxyz\n--- mac\npayload";
        assert_eq!(header_end(h), Some(h.len() - "payload".len()));
    }
}
