//! Sync bundle archives built header by header, for the hostile-input tests
//! (tar's Builder refuses the hostile paths and types they need).
#![allow(dead_code)]

/// One raw ustar member: name bytes, type, data, declared size (None = the
/// data's).
pub struct Raw {
    pub name: Vec<u8>,
    pub kind: tar::EntryType,
    pub data: Vec<u8>,
    pub size: Option<u64>,
}

/// A regular file member.
pub fn raw(name: &str, data: Vec<u8>) -> Raw {
    Raw { name: name.as_bytes().to_vec(), kind: tar::EntryType::Regular, data, size: None }
}

/// The tar archive of `members`, in order (a symlink points at /etc/passwd).
pub fn tar_of(members: &[Raw]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in members {
        let mut h = tar::Header::new_ustar();
        h.as_mut_bytes()[..m.name.len()].copy_from_slice(&m.name);
        h.set_size(m.size.unwrap_or(m.data.len() as u64));
        h.set_mode(0o600);
        h.set_entry_type(m.kind);
        if m.kind == tar::EntryType::Symlink {
            h.set_link_name("/etc/passwd").unwrap();
        }
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&m.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}
