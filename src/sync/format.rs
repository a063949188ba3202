//! The bundle file format (docs/bundle-format.md): one age file whose
//! plaintext is a ustar archive of `manifest.json`, `manifest.sig`,
//! `events.jsonl`, for office bundles `roster.json`, and the attachments
//! the events refer to as `attachments/<blob id>` (§3.1 of the spec).
//!
//! [`write_bundle`] builds one, manifest and signature first. The strict
//! reader is [`crate::sync::reader`] (re-exported here): it streams the
//! file, reads the manifest and its signature, lets the caller decide
//! whether the signer is trusted, and only then reads the rest.

use std::collections::{BTreeMap, BTreeSet};
use std::marker::PhantomData;

use age::x25519;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::model::event::{Event, EventKind, Hlc};
use crate::sync::error::ImportError;
pub use crate::sync::reader::{
    for_each_attachment, for_each_event_batch, parse_events, read_archive, read_bundle, read_bundle_streaming,
    AttachmentEntry, Authenticate, BundleHead, BundleSource, EventSink, KeepAttachment, OpenedBundle,
};

/// `manifest.json` `format` value.
pub const FORMAT: &str = "fieldcase-bundle";
/// The format version this build writes: (major, minor).
pub const VERSION: [u64; 2] = [1, 1];
/// Most tar members a bundle may have (and members a manifest may list).
pub const MAX_MEMBERS: u64 = 100_005;
/// Most recipients a manifest may list (a bundle has one or two: the
/// receiver and the sender's escrow).
pub const MAX_RECIPIENTS: usize = 64;
/// Largest member.
pub const MAX_MEMBER_BYTES: u64 = 512 * 1024 * 1024;
/// Largest total of member sizes.
pub const MAX_BUNDLE_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// Largest line of `events.jsonl`.
pub const MAX_EVENT_BYTES: u64 = 1024 * 1024;
/// Largest `manifest.json` / `roster.json` / `receipt.json`.
pub const MAX_JSON_MEMBER_BYTES: u64 = 16 * 1024 * 1024;
/// Largest enrollment request file (a few hundred bytes in practice):
/// every interface reads one through `fsutil::read_limited` with this.
pub const MAX_REQUEST_BYTES: u64 = 64 * 1024;
/// Largest attachment member: the limit `CaseStore::add_attachment` puts on a photo or scanned
/// document when it is added (20 MiB).
pub const MAX_ATTACHMENT_BYTES: u64 = crate::model::store::MAX_ATTACHMENT_BYTES;
/// Largest total of the attachment members of one bundle (1 GiB), well
/// below [`MAX_BUNDLE_BYTES`]: a bundle is mostly events.
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
/// The document of a partner request, answer or withdrawal (§11).
pub const PARTNER: &str = "partner.json";
/// The format version written in the manifest of partner bundles (§11,
/// since 1.2); the other kinds are written as 1.1, byte for byte as before.
pub const VERSION_PARTNER: [u64; 2] = [1, 2];
/// The format version written in the manifest of a partner's receipt
/// (§11.7, since 1.4): a 1.3 reader refuses the kind, the other partner
/// kinds stay 1.2.
pub const VERSION_PARTNER_RECEIPT: [u64; 2] = [1, 4];
/// The version of an office bundle that carries `config.json` (§7.1).
pub const VERSION_CONFIG: [u64; 2] = [1, 3];
/// Country configuration member (office bundles, §7.1).
pub const CONFIG: &str = "config.json";

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
    /// An office's request to a partner abroad (§11.3).
    PartnerRequest,
    /// A partner's answer to a request (§11.4).
    PartnerAnswer,
    /// The requesting office withdraws a request (§11.5).
    PartnerWithdrawal,
    /// The partner confirms it received a request (§11.7).
    PartnerReceipt,
}

impl BundleKind {
    /// Whether this is one of the partner kinds of §11, which carry
    /// `partner.json` and no events.
    pub fn is_partner(self) -> bool {
        matches!(
            self,
            BundleKind::PartnerRequest
                | BundleKind::PartnerAnswer
                | BundleKind::PartnerWithdrawal
                | BundleKind::PartnerReceipt
        )
    }
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
    #[serde(deserialize_with = "recipients_bounded")]
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
    #[serde(deserialize_with = "members_bounded")]
    pub members: Vec<MemberEntry>,
    /// Counts (informative).
    #[serde(default)]
    pub counts: Counts,
    /// Office → device, since 1.1: the refusals of the recipient device's
    /// own events the office holds in quarantine (§6.1). Absent when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "refused_bounded")]
    pub refused: Vec<crate::sync::quarantine::RefusalNotice>,
}

impl Manifest {
    /// Parse and check `format` and the major version *before* the rest, so
    /// a future major version is reported as such rather than as damage.
    ///
    /// The manifest is read before its signer is known (up to 16 MiB), so
    /// its parse must cost about its size: no JSON tree of the whole is
    /// built (a tree of `[0,0,…]` takes 16 bytes per input byte), unknown
    /// keys are skipped without being kept, and the lists are bounded in
    /// length ([`MAX_MEMBERS`], [`MAX_RECIPIENTS`]).
    pub fn parse(bytes: &[u8]) -> Result<Manifest, ImportError> {
        let bad = |reason: String| ImportError::Malformed { member: MANIFEST.into(), reason };
        let probe: HeadProbe = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        if probe.format.text.as_deref() != Some(FORMAT) {
            return Err(ImportError::NotABundle(format!("{MANIFEST} does not say \"format\": \"{FORMAT}\"")));
        }
        let major = probe.version.first.ok_or_else(|| bad("no version".into()))?;
        if major != VERSION[0] {
            return Err(ImportError::UnsupportedVersion { major });
        }
        serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))
    }

    /// Hex SHA-256 of the manifest bytes (what the next bundle's
    /// `prev_bundle_sha256` names).
    pub fn digest(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }
}

/// `format` and `version` of a manifest, read without keeping anything
/// else of it.
#[derive(Deserialize)]
struct HeadProbe {
    #[serde(default)]
    format: Probe,
    #[serde(default)]
    version: Probe,
}

/// One JSON value, kept only as far as the probe needs: a string, or the
/// first item of an array if it is an unsigned integer. Anything else is
/// skipped ([`IgnoredAny`]), so a hostile value costs no memory.
#[derive(Default)]
struct Probe {
    text: Option<String>,
    first: Option<u64>,
}

impl<'de> Deserialize<'de> for Probe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Probe, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Probe;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, s: &str) -> Result<Probe, E> {
                Ok(Probe { text: Some(s.to_owned()), ..Probe::default() })
            }
            fn visit_u64<E>(self, _: u64) -> Result<Probe, E> {
                Ok(Probe::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<Probe, E> {
                Ok(Probe::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<Probe, E> {
                Ok(Probe::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<Probe, E> {
                Ok(Probe::default())
            }
            fn visit_unit<E>(self) -> Result<Probe, E> {
                Ok(Probe::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Probe, A::Error> {
                // The first item is read as a number or skipped; nested
                // arrays are skipped, not probed.
                let first = a.next_element::<FirstItem>()?.and_then(|f| f.0);
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Probe { first, ..Probe::default() })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Probe, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Probe::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// An array's first item when it is an unsigned integer (anything else
/// skipped).
struct FirstItem(Option<u64>);

impl<'de> Deserialize<'de> for FirstItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<FirstItem, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Option<u64>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_u64<E>(self, n: u64) -> Result<Option<u64>, E> {
                Ok(Some(n))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Option<u64>, E> {
                Ok(None)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Option<u64>, E> {
                Ok(None)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Option<u64>, E> {
                Ok(None)
            }
            fn visit_unit<E>(self) -> Result<Option<u64>, E> {
                Ok(None)
            }
            fn visit_str<E>(self, _: &str) -> Result<Option<u64>, E> {
                Ok(None)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, a: A) -> Result<Option<u64>, A::Error> {
                IgnoredAny.visit_seq(a).map(|_| None)
            }
            fn visit_map<A: MapAccess<'de>>(self, a: A) -> Result<Option<u64>, A::Error> {
                IgnoredAny.visit_map(a).map(|_| None)
            }
        }
        d.deserialize_any(V).map(FirstItem)
    }
}

/// A JSON array of at most `N` items: longer is an error as soon as item
/// `N + 1` is met, before it is kept.
fn bounded_vec<'de, D: Deserializer<'de>, T: Deserialize<'de>, const N: usize>(d: D) -> Result<Vec<T>, D::Error> {
    struct V<T, const N: usize>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>, const N: usize> Visitor<'de> for V<T, N> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "an array of at most {N} items")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(x) = a.next_element()? {
                if out.len() == N {
                    return Err(serde::de::Error::custom(format!("more than {N} items")));
                }
                out.push(x);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(V::<T, N>(PhantomData))
}

fn members_bounded<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<MemberEntry>, D::Error> {
    bounded_vec::<D, MemberEntry, { MAX_MEMBERS as usize }>(d)
}

fn refused_bounded<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<crate::sync::quarantine::RefusalNotice>, D::Error> {
    bounded_vec::<D, crate::sync::quarantine::RefusalNotice, { crate::sync::quarantine::MAX_REFUSED }>(d)
}

fn recipients_bounded<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    bounded_vec::<D, String, MAX_RECIPIENTS>(d)
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
    /// The kind's document: `receipt.json` for a receipt, `partner.json`
    /// for the partner kinds (§11).
    pub receipt: Option<&'a [u8]>,
    /// `config.json` bytes: the office's signed country configuration
    /// (office bundles, §7.1).
    pub config: Option<&'a [u8]>,
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
    let BundleParts { mut manifest, events, roster, receipt, config } = parts;
    let mut jsonl: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::new());
    let mut vv: BTreeMap<Uuid, u64> = BTreeMap::new();
    let mut cases = BTreeSet::new();
    // Case by case (§6: writers SHOULD group events by case), each case's
    // events in the order given: a reader then holds one case at a time.
    let mut grouped: Vec<&Event> = events.iter().collect();
    grouped.sort_by_key(|e| e.case_id);
    for e in grouped {
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
    if let Some(c) = config {
        members.push((CONFIG, c));
    }
    if let Some(r) = receipt {
        members.push((if manifest.kind.is_partner() { PARTNER } else { RECEIPT }, r));
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
