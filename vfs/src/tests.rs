use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags};

use super::*;

/// A source serving chunks of a byte image, counting loads, failing one
/// chunk on request.
struct ImageSource {
    image: Vec<u8>,
    chunk: usize,
    loads: AtomicUsize,
    fail: Option<usize>,
}

impl ChunkSource for ImageSource {
    fn load(&self, index: usize, buf: &mut [u8]) -> Result<(), String> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        if self.fail == Some(index) {
            return Err(format!("segment {index} is damaged"));
        }
        let start = index * self.chunk;
        buf.copy_from_slice(&self.image[start..start + buf.len()]);
        Ok(())
    }
}

fn open(file: &Arc<ChunkedFile>) -> (Connection, Attached) {
    let attached = attach(file.clone()).unwrap();
    let conn = Connection::open_with_flags_and_vfs(attached.name(), OpenFlags::default(), VFS_NAME).unwrap();
    conn.execute_batch("PRAGMA journal_mode = MEMORY; PRAGMA temp_store = MEMORY;").unwrap();
    (conn, attached)
}

fn image_of(file: &ChunkedFile) -> Vec<u8> {
    let mut image = vec![0u8; file.len() as usize];
    assert_eq!(file.read_at(&mut image, 0).unwrap(), image.len());
    image
}

/// A database of `rows` rows of about 1 KB each, built through the VFS.
fn database(rows: i64, chunk: usize) -> Arc<ChunkedFile> {
    let file = ChunkedFile::new(chunk);
    let (conn, _attached) = open(&file);
    conn.execute_batch("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT NOT NULL);").unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    for i in 0..rows {
        tx.execute("INSERT INTO t(id, body) VALUES (?1, ?2)", rusqlite::params![i, format!("{i:>8}").repeat(128)])
            .unwrap();
    }
    tx.commit().unwrap();
    drop(conn);
    file
}

#[test]
fn reads_writes_and_truncates_match_a_plain_byte_vector() {
    // Deterministic pseudo-random operations across chunk boundaries.
    let file = ChunkedFile::new(4096);
    let mut model: Vec<u8> = Vec::new();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |m: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % m
    };
    for step in 0..3000 {
        match next(10) {
            0 => {
                let size = next(40_000);
                file.truncate_inner(size).ok().unwrap();
                model.resize(size as usize, 0);
            }
            1..=6 => {
                let offset = next(45_000);
                let len = 1 + next(9000) as usize;
                let bytes: Vec<u8> = (0..len).map(|i| (step + i) as u8).collect();
                file.write_at(&bytes, offset).unwrap();
                let end = offset as usize + len;
                if model.len() < end {
                    model.resize(end, 0);
                }
                model[offset as usize..end].copy_from_slice(&bytes);
            }
            _ => {
                let offset = next(50_000);
                let mut buf = vec![0xAAu8; 1 + next(9000) as usize];
                let n = file.read_at(&mut buf, offset).unwrap();
                let expect = model.len().saturating_sub(offset as usize).min(buf.len());
                assert_eq!(n, expect, "step {step}");
                if n > 0 {
                    assert_eq!(&buf[..n], &model[offset as usize..offset as usize + n], "step {step}");
                }
            }
        }
        assert_eq!(file.len(), model.len() as u64);
    }
    assert_eq!(image_of(&file), model);
}

#[test]
fn a_database_larger_than_many_chunks_works_and_writes_mark_only_their_chunks() {
    let file = database(5000, 64 * 1024);
    assert!(file.chunk_count() > 50, "{} chunks", file.chunk_count());
    let all = file.dirty_chunks();
    assert_eq!(all.len(), file.chunk_count(), "a new database is dirty everywhere");
    file.mark_clean(&all);
    assert!(file.dirty_chunks().is_empty());

    let (conn, _attached) = open(&file);
    let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
    conn.execute("UPDATE t SET body = 'changed' WHERE id = 4321", []).unwrap();
    let dirty = file.dirty_chunks();
    assert!(!dirty.is_empty() && dirty.len() <= 3, "one row changed, dirty chunks {dirty:?}");
    let body: String = conn.query_row("SELECT body FROM t WHERE id = 4321", [], |r| r.get(0)).unwrap();
    assert_eq!(body, "changed");
}

#[test]
fn chunks_load_when_first_touched_and_prefetch_fills_the_rest() {
    let built = database(3000, 16 * 1024);
    let image = image_of(&built);
    let source =
        Arc::new(ImageSource { image: image.clone(), chunk: 16 * 1024, loads: AtomicUsize::new(0), fail: None });
    let file = ChunkedFile::with_source(16 * 1024, image.len() as u64, source.clone());
    let (conn, _attached) = open(&file);
    let body: String = conn.query_row("SELECT body FROM t WHERE id = 17", [], |r| r.get(0)).unwrap();
    assert_eq!(body, format!("{:>8}", 17).repeat(128));
    let touched = file.loaded_count();
    assert!(touched < file.chunk_count() / 4, "one lookup loaded {touched} of {} chunks", file.chunk_count());
    assert!(file.dirty_chunks().is_empty(), "reading marks nothing dirty");

    // Prefetch on other threads while SQLite reads: every chunk ends up
    // loaded exactly once, and the data is the same.
    std::thread::scope(|s| {
        for t in 0..2 {
            let file = &file;
            s.spawn(move || {
                for i in (t..file.chunk_count()).step_by(2) {
                    file.prefetch(i).unwrap();
                }
            });
        }
        let n: i64 = conn.query_row("SELECT count(*) FROM t WHERE body LIKE '%  2999%'", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 1);
    });
    assert_eq!(file.loaded_count(), file.chunk_count());
    assert!(source.loads.load(Ordering::SeqCst) >= file.chunk_count());
    assert_eq!(image_of(&file), image);
    let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
}

#[test]
fn a_chunk_that_fails_to_load_fails_only_the_reads_that_need_it() {
    let built = database(3000, 16 * 1024);
    let image = image_of(&built);
    let bad = built.chunk_count() - 2;
    let source = Arc::new(ImageSource { image, chunk: 16 * 1024, loads: AtomicUsize::new(0), fail: Some(bad) });
    let file = ChunkedFile::with_source(16 * 1024, source.image.len() as u64, source.clone());
    let (conn, _attached) = open(&file);
    let first: String = conn.query_row("SELECT body FROM t WHERE id = 1", [], |r| r.get(0)).unwrap();
    assert!(first.starts_with("       1"));
    assert!(file.failure().is_none());
    let scan = conn.query_row("SELECT count(*) FROM t WHERE body LIKE '%x%'", [], |r| r.get::<_, i64>(0));
    assert!(scan.is_err(), "a full scan needs the damaged chunk");
    assert_eq!(file.failure().as_deref(), Some(format!("segment {bad} is damaged").as_str()));
    assert!(file.prefetch(bad).is_err());
    // Nothing was written, and the damaged chunk stays stored (a snapshot
    // would keep referring to the damaged segment rather than replace it).
    assert!(file.dirty_chunks().is_empty());
    assert!(file.with_chunks(&[bad], |_| ()).is_err());
}

#[test]
fn truncation_drops_chunks_and_marks_the_new_last_one() {
    let file = ChunkedFile::new(4096);
    file.write_at(&[7u8; 4096 * 3 + 100], 0).unwrap();
    file.mark_clean(&[0, 1, 2, 3]);
    file.truncate_inner(4096 + 10).ok().unwrap();
    assert_eq!(file.chunk_count(), 2);
    assert_eq!(file.dirty_chunks(), vec![1]);
    file.write_at(&[1u8; 10], 4096 * 2).unwrap();
    let mut buf = [9u8; 20];
    assert_eq!(file.read_at(&mut buf, 4096 + 5).unwrap(), 20);
    assert_eq!(&buf[..5], &[7u8; 5], "kept bytes");
    assert_eq!(&buf[5..20], &[0u8; 15], "the truncated bytes read as zero once the file grows again");
}
