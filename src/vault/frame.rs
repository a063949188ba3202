//! The journal's byte format (docs/vault-format.md §4), without any I/O.
//!
//! ```text
//! journal = header frame*
//! header  = "FCJRNL02" generation:u64 BE                (16 bytes)
//! frame   = length:u32 BE  ciphertext[length]  tag[32]  (ciphertext = one age file)
//! ```
//!
//! `tag` is the frame's HMAC under the vault key ([`super::mac::frame_tag`]).
//! A journal of vault format 2 (`FCJRNL01`) has frames without a tag; it is
//! read only while a vault's upgrade from format 2 is being finished.
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// First 8 bytes of every journal file this version writes (frames with tags).
pub const JOURNAL_MAGIC: &[u8; 8] = b"FCJRNL02";
/// First 8 bytes of a journal of vault format 2 (frames without tags).
pub const JOURNAL_MAGIC_UNTAGGED: &[u8; 8] = b"FCJRNL01";
/// Length of a frame's tag.
pub const TAG_LEN: usize = super::mac::TAG_LEN;
/// Length of the journal header: magic + generation.
pub const HEADER_LEN: usize = 16;
/// Largest ciphertext of one frame: 16 MiB. The length prefix is read from
/// disk before anything is authenticated, so a damaged prefix must not make
/// the reader allocate gigabytes; and one commit is a handful of events, so
/// anything near this size is a mistake (large files belong in blobs).
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;
/// Smallest possible age file (header line, one stanza, MAC, nonce, one tag);
/// a shorter length prefix is certainly damage.
pub const MIN_FRAME_LEN: usize = 100;

/// The journal header for `generation`.
pub fn encode_header(generation: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(JOURNAL_MAGIC);
    h[8..].copy_from_slice(&generation.to_be_bytes());
    h
}

/// The generation in a journal header and whether its frames carry tags
/// (`FCJRNL02`) or not (`FCJRNL01`), or why the header is not one.
pub fn parse_header(bytes: &[u8]) -> Result<(u64, bool), String> {
    if bytes.len() < HEADER_LEN {
        return Err(format!("header is {} bytes, expected {HEADER_LEN}", bytes.len()));
    }
    let tagged = match &bytes[..8] {
        m if m == JOURNAL_MAGIC => true,
        m if m == JOURNAL_MAGIC_UNTAGGED => false,
        _ => return Err("not a Fieldcase journal (bad magic)".into()),
    };
    let mut g = [0u8; 8];
    g.copy_from_slice(&bytes[8..16]);
    Ok((u64::from_be_bytes(g), tagged))
}

/// Length prefix + ciphertext (+ tag), ready to append.
pub fn encode_frame(ciphertext: &[u8], tag: Option<&[u8; TAG_LEN]>) -> Vec<u8> {
    let len = u32::try_from(ciphertext.len()).expect("callers check MAX_FRAME_LEN first");
    let mut out = Vec::with_capacity(4 + ciphertext.len() + TAG_LEN);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(ciphertext);
    if let Some(t) = tag {
        out.extend_from_slice(t);
    }
    out
}

/// What [`next_frame`] found at an offset.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameSlice<'a> {
    /// A complete frame; the next one starts at `next`.
    Frame {
        /// The frame's age ciphertext.
        ciphertext: &'a [u8],
        /// Its tag (empty in an untagged journal).
        tag: &'a [u8],
        /// Offset just after this frame.
        next: usize,
    },
    /// Clean end of the journal.
    End,
    /// The bytes from the offset on are not a complete, plausible frame.
    Bad(String),
}

/// Split the frame starting at `offset` of a journal held in memory
/// (`tagged`: its frames end with a tag).
pub fn next_frame(journal: &[u8], offset: usize, tagged: bool) -> FrameSlice<'_> {
    let tag_len = if tagged { TAG_LEN } else { 0 };
    let rest = &journal[offset.min(journal.len())..];
    if rest.is_empty() {
        return FrameSlice::End;
    }
    if rest.len() < 4 {
        return FrameSlice::Bad(format!("torn length prefix ({} of 4 bytes)", rest.len()));
    }
    let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    if !(MIN_FRAME_LEN..=MAX_FRAME_LEN).contains(&len) {
        return FrameSlice::Bad(format!("implausible frame length {len}"));
    }
    if rest.len() - 4 < len + tag_len {
        return FrameSlice::Bad(format!("torn frame ({} of {} bytes)", rest.len() - 4, len + tag_len));
    }
    FrameSlice::Frame {
        ciphertext: &rest[4..4 + len],
        tag: &rest[4 + len..4 + len + tag_len],
        next: offset + 4 + len + tag_len,
    }
}

/// The plaintext of a frame (JSON).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FramePayload {
    /// Generation of the snapshot this frame follows.
    pub generation: u64,
    /// 1 for the first frame of a journal, then +1 each.
    pub seq: u64,
    /// Hex SHA-256 of the previous frame's ciphertext, or of the snapshot
    /// file for the first frame.
    pub prev_sha256: String,
    /// The entries, as given to [`Vault::commit`](super::Vault::commit).
    pub entries: Vec<serde_json::Value>,
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_rejects_other_files() {
        assert_eq!(parse_header(&encode_header(7)), Ok((7, true)));
        let mut old = encode_header(7);
        old[..8].copy_from_slice(JOURNAL_MAGIC_UNTAGGED);
        assert_eq!(parse_header(&old), Ok((7, false)));
        assert!(parse_header(b"SQLite format 3\0").is_err());
        assert!(parse_header(&encode_header(7)[..15]).is_err());
    }

    #[test]
    fn frame_split_detects_torn_and_implausible_frames() {
        let ct = vec![42u8; 200];
        let tag = [7u8; TAG_LEN];
        let mut j = encode_frame(&ct, Some(&tag));
        assert_eq!(next_frame(&j, 0, true), FrameSlice::Frame { ciphertext: &ct, tag: &tag, next: 236 });
        assert_eq!(next_frame(&j, 236, true), FrameSlice::End);
        j.truncate(230);
        assert!(matches!(next_frame(&j, 0, true), FrameSlice::Bad(_)), "the tag is cut");
        let untagged = encode_frame(&ct, None);
        assert_eq!(next_frame(&untagged, 0, false), FrameSlice::Frame { ciphertext: &ct, tag: &[], next: 204 });
        assert!(matches!(next_frame(&[0, 0], 0, true), FrameSlice::Bad(_)));
        assert!(matches!(next_frame(&[0xff, 0xff, 0xff, 0xff, 1], 0, true), FrameSlice::Bad(_)));
    }
}
