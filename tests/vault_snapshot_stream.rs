//! The snapshot's segments are decrypted into the database's chunks
//! (src/vault/segments.rs): a segment of many age chunks loads whole,
//! and damage anywhere in it, including a cut exactly at a chunk boundary
//! (which would pass for a shorter file if the last chunk were not
//! authenticated), is refused.
#[path = "common/vault.rs"]
mod cv;

use std::fs;

use cv::*;
use fieldcase::vault::{KvApplier, Vault, VaultError};

/// age's STREAM: 64 KiB of plaintext per chunk, 16 bytes of tag each.
const CHUNK: usize = 64 * 1024 + 16;

#[test]
fn a_snapshot_of_many_chunks_loads_whole_and_refuses_damage_in_any_chunk() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("v");
    let mut v = init(&dir);
    for i in 0..40 {
        put(&mut v, &format!("k{i:02}"), &format!("{i}{}", "y".repeat(20_000)));
    }
    v.lock().unwrap();
    // One segment at the default size (8 MiB) holds the whole image.
    let seg_dir = dir.join(fieldcase::vault::SEGMENT_DIR);
    let names: Vec<_> = fs::read_dir(&seg_dir).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let segment = names[0].clone();
    let good = fs::read(&segment).unwrap();
    assert!(good.len() > 8 * CHUNK, "the snapshot should span many chunks ({} bytes)", good.len());

    let v = open(&dir);
    assert_eq!(count(&v), 40);
    drop(v);

    // The payload starts after the header's MAC line ("--- ...\n") and the 16-byte nonce.
    let mac_line = good.windows(4).position(|w| w == b"\n---").expect("age header");
    let header_end = mac_line + 1 + good[mac_line + 1..].iter().position(|&b| b == b'\n').expect("MAC line") + 1;
    let header_and_nonce = header_end + 16;
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for pos in [header_and_nonce + 10, good.len() / 2, good.len() - 20] {
        let mut b = good.clone();
        b[pos] ^= 0x01;
        cases.push((format!("bit flip at {pos}"), b));
    }
    // Cut so that only whole chunks remain: the new "last" chunk was not
    // encrypted as a last chunk, so it must not authenticate as one.
    let tail = match (good.len() - header_and_nonce) % CHUNK {
        0 => CHUNK,
        t => t,
    };
    cases.push(("cut at a chunk boundary".into(), good[..good.len() - tail - CHUNK].to_vec()));
    cases.push(("last chunk cut off".into(), good[..good.len() - tail].to_vec()));
    for (what, bytes) in cases {
        fs::write(&segment, &bytes).unwrap();
        // The only segment holds the first page, so the unlock itself fails.
        let err = Vault::open_with(&dir, &pass(), Box::new(KvApplier), &options()).expect_err(&what);
        assert!(matches!(err, VaultError::CorruptSnapshot { .. } | VaultError::DamagedSegment { .. }), "{what}: {err}");
    }
    fs::write(&segment, &good).unwrap();
    assert_eq!(count(&open(&dir)), 40);
}
