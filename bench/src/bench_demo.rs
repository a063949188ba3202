//! The per-size part of `fieldcase bench`: one demo vault (made by
//! `model::demo`, cached between runs) measured for commit latency against
//! plain SQLite, unlock, checkpoint, memory, disk size, search and report.
//!
//! **Why this comparison is fair.** A commit in the vault is a real case
//! save: `CaseStore::save_form` on an existing case, which loads the case's
//! events, folds them, checks the rules, signs the event, applies the
//! projection in a SQLite transaction (in memory) and appends one encrypted
//! journal frame with `fdatasync`. The plain-SQLite side holds *the same
//! database*: the vault's decrypted image copied to a file (SQLite's
//! backup API through `fieldcase::testkit::plain_copy`, synthetic demo
//! data, deleted afterwards) and opened with
//! `journal_mode=WAL, synchronous=FULL`. For every vault save, the very same
//! event is applied there through the same code: the case's events are
//! loaded and folded as the store does, the event is signed again with the
//! same key, and `ModelApplier` (the vault's projection) applies it in one
//! WAL transaction, committed with its fsync. So both sides do the same CPU
//! work and one durable write each; the difference is what the vault's design
//! adds (encryption, the journal frame) or saves (the B-tree is in memory).
//! Only the rule check itself (a few microseconds of pure CPU on the folded
//! state) is not repeated on the SQLite side. The two are interleaved commit
//! by commit so both see the same machine and disk load.
//!
//! **Memory** is measured in a child process (this binary re-executed with a
//! hidden flag) that only unlocks the vault and reports its peak resident set
//! (`VmHWM` of /proc/self/status): the parent's own allocations would
//! otherwise be counted.
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use fieldcase::model::event::Event;
use fieldcase::model::projection::{self, CaseState};
use fieldcase::model::store::{CaseStore, ModelApplier};
use fieldcase::testkit::{self, Connection};
use fieldcase::vault::{Applier, InitOptions, SecretString, VaultOptions};
use serde::{Deserialize, Serialize};

use crate::bench_hostile::status_bytes;

/// Passphrase of the bench's demo vaults (synthetic data only).
pub const PASSPHRASE: &str = "bench passphrase, synthetic data";
/// Seed of the demo data; part of the cache key.
pub const SEED: u64 = 20_261_125;
/// Bumped when the cached vaults must be regenerated for a reason the
/// schema fingerprint does not see (e.g. the demo generator changed).
const CACHE_VERSION: u32 = 8;

/// Latency figures of one system at one size, in milliseconds.
#[derive(Serialize, Debug, Clone, Default)]
pub struct Latency {
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Mean.
    pub mean_ms: f64,
    /// Mean CPU time of the measuring thread per commit (fsync waits excluded).
    pub cpu_mean_ms: f64,
}

/// What the unlock child reports.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct UnlockChild {
    /// Wall time of `CaseStore::open` (scrypt, manifest, the segments that
    /// opening and journal replay read, store setup): the vault is usable.
    pub unlock_ms: f64,
    /// Wall time until every segment is decrypted into memory (the
    /// background prefetch finished), from the same start.
    pub loaded_ms: f64,
    /// CPU time of the child until everything is loaded (all threads).
    pub cpu_ms: f64,
    /// Segments in memory when the unlock returned, and in all.
    pub segments_at_unlock: u64,
    /// Segments of the database.
    pub segments: u64,
    /// Peak resident set of the child process (`VmHWM`) once everything is
    /// loaded, bytes.
    pub peak_rss_bytes: u64,
    /// Resident set before unlocking (the binary and its libraries), bytes.
    pub baseline_rss_bytes: u64,
    /// Database image size (page_count × page_size), bytes.
    pub image_bytes: u64,
}

/// Every figure measured on one demo vault.
#[derive(Serialize, Debug, Clone, Default)]
pub struct SizeFigures {
    /// Case records in the demo vault.
    pub cases: usize,
    /// Events in it.
    pub events: usize,
    /// Demo generation time when the vault was made (possibly in an earlier run).
    pub generated_s: f64,
    /// Whether this run made the vault or took it from the cache.
    pub from_cache: bool,
    /// Decrypted database image, bytes.
    pub image_bytes: u64,
    /// The vault directory on disk after the final checkpoint (snapshot + journal + identity).
    pub vault_bytes: u64,
    /// The same database as a plain SQLite file (backup API, WAL checkpointed).
    pub sqlite_bytes: u64,
    /// Commits measured per system.
    pub commits: usize,
    /// Real case saves in the vault.
    pub vault: Latency,
    /// The same saves on plain SQLite (WAL, synchronous=FULL).
    pub sqlite: Latency,
    /// vault p50 / sqlite p50.
    pub ratio_p50: f64,
    /// Unlock with the identity's calibrated scrypt work factor (child process).
    pub unlock: UnlockChild,
    /// Unlock with scrypt 2^1: what is left is snapshot, journal and store setup.
    pub load: UnlockChild,
    /// Peak RSS of the scrypt-free unlock over the database image.
    pub peak_rss_ratio: f64,
    /// Checkpoint after the measured commits (serialise, encrypt, write, fsync).
    pub checkpoint_ms: f64,
    /// CPU time of the checkpoint.
    pub checkpoint_cpu_ms: f64,
    /// Checkpoint right after one more small commit (one form save): with
    /// the segmented snapshot only the changed segments are written.
    pub checkpoint_small_ms: f64,
    /// CPU time of that checkpoint.
    pub checkpoint_small_cpu_ms: f64,
    /// Search queries over the demo data.
    pub search_queries: usize,
    /// Median search latency.
    pub search_p50_ms: f64,
    /// 99th percentile search latency.
    pub search_p99_ms: f64,
    /// Every report indicator over the demo data (last 12 months).
    pub report_ms: f64,
}

/// What the cache keeps next to each vault (counts only, no case data).
#[derive(Serialize, Deserialize, Debug, Clone)]
struct CacheInfo {
    cases: usize,
    events: usize,
    generated_s: f64,
}

fn pass() -> SecretString {
    SecretString::from(PASSPHRASE.to_owned())
}

/// The largest demo vault generated in one piece. A larger size is this
/// register merged with a second one (see [`merged_vault`]): the generator's
/// cost per event grows with the vault (it reads and folds each touched
/// case's history), so one 100,000-case run took well over an hour here.
const LARGEST_GENERATED: usize = 50_000;

/// The cached demo vault of `cases` cases in `cache`, made if missing.
/// Returns its directory and what the cache knows about it.
fn cached_vault(cache: &Path, cases: usize, log: &mut dyn FnMut(&str)) -> anyhow::Result<(PathBuf, CacheInfo, bool)> {
    cached_vault_seeded(cache, cases, SEED, LARGEST_GENERATED, log)
}

/// [`cached_vault`] of the demo data of one seed, generated in one piece up
/// to `largest` cases ([`LARGEST_GENERATED`]; smaller in tests).
fn cached_vault_seeded(
    cache: &Path,
    cases: usize,
    seed: u64,
    largest: usize,
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<(PathBuf, CacheInfo, bool)> {
    let merged = cases > largest;
    let key = if merged {
        format!("demo-v{CACHE_VERSION}-f1-{}-n{cases}-s{seed}-merged{largest}", testkit::schema_fingerprint()?)
    } else {
        format!("demo-v{CACHE_VERSION}-f1-{}-n{cases}-s{seed}", testkit::schema_fingerprint()?)
    };
    let dir = cache.join(&key);
    let info_path = cache.join(format!("{key}.json"));
    if let Ok(bytes) = std::fs::read(&info_path) {
        if let Ok(info) = serde_json::from_slice::<CacheInfo>(&bytes) {
            if dir.join(fieldcase::vault::IDENTITY_FILE).exists() {
                // Bring a vault made by an older build up to date once (an
                // index added since, `Applier::upgrade`), as a user's first
                // unlock and lock would, so every copy opens like a current
                // vault. Does nothing to a current one.
                CaseStore::open(&dir, &pass())?.lock()?;
                return Ok((dir, info, true));
            }
        }
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(cache)?;
    if merged {
        let info = merged_vault(cache, &dir, cases, seed, largest, log)?;
        std::fs::write(&info_path, serde_json::to_vec(&info)?)?;
        return Ok((dir, info, false));
    }
    log(&format!("generating a {cases}-case demo vault (cached in {})", cache.display()));
    // demo::generate suspends automatic checkpoints; lock writes the snapshot.
    let started = Instant::now();
    let mut store = CaseStore::init_with(
        &dir,
        &pass(),
        // A supervisor: the saves are measured on any case of the register,
        // and a caseworker sees (and may edit) only the cases assigned to
        // them (docs/visibility.md).
        InitOptions { name: "bench supervisor".into(), role: "supervisor".into(), escrow: None },
        &VaultOptions::default(),
    )?;
    let summary = fieldcase::model::demo::generate(&mut store, cases, seed).context("demo generation")?;
    store.lock()?;
    let info = CacheInfo { cases: summary.cases, events: summary.events, generated_s: started.elapsed().as_secs_f64() };
    std::fs::write(&info_path, serde_json::to_vec(&info)?)?;
    log(&format!("  {} cases, {} events in {:.1} s", info.cases, info.events, info.generated_s));
    Ok((dir, info, false))
}

/// Events of the second register imported per commit: whole cases, about
/// this many events (a few journal frames each).
const MERGE_EVENTS_PER_IMPORT: usize = 100_000;

/// A vault of `cases` > `largest` cases in `dir`: a copy of the cached
/// `largest`-case register of `seed`, into which the
/// register of the rest of the cases (seed + 1, made by another device,
/// cached too) is imported as an office merges a device's work:
/// `CaseStore::import_events`, every signature and rule checked. Both
/// registers cover the same offices and dates; case numbers repeat between
/// them (each generator numbers its own cases), nothing else does.
fn merged_vault(
    cache: &Path,
    dir: &Path,
    cases: usize,
    seed: u64,
    largest: usize,
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<CacheInfo> {
    let (base, base_info, _) = cached_vault_seeded(cache, largest, seed, largest, log)?;
    let (other, other_info, _) = cached_vault_seeded(cache, cases - largest, seed + 1, largest, log)?;
    let started = Instant::now();
    log(&format!(
        "merging the {}-case register of seed {} into a copy of the {}-case one",
        other_info.cases,
        seed + 1,
        base_info.cases
    ));
    // The second register's events (canonical JSON, in case order) and
    // devices; its vault is locked again before the copy is opened, so only
    // one database image is in memory at a time.
    let (events, devices) = {
        let store = CaseStore::open(&other, &pass())?;
        let events = testkit::all_events(store.vault().conn())?;
        let devices = testkit::trusted_devices(store.vault().conn())?;
        store.lock()?;
        (events, devices)
    };
    copy_vault(&base, dir)?;
    let mut store = CaseStore::open(dir, &pass())?;
    for d in &devices {
        let key = fieldcase::model::event::parse_verifying_key(&d.verifying_key)?;
        store.trust_device(d.device_id.parse()?, &key, &d.name)?;
    }
    let threshold = store.set_checkpoint_bytes(u64::MAX);
    let mut imported = 0usize;
    let mut rest = events.as_slice();
    while !rest.is_empty() {
        // Whole cases per import: a case's rules are checked over all its events.
        let mut end = MERGE_EVENTS_PER_IMPORT.min(rest.len());
        while end < rest.len() && rest[end].0 == rest[end - 1].0 {
            end += 1;
        }
        let (chunk, tail) = rest.split_at(end);
        rest = tail;
        let parsed = chunk
            .iter()
            .map(|(_, json)| Ok(serde_json::from_str::<Event>(json)?))
            .collect::<anyhow::Result<Vec<Event>>>()?;
        let summary = store.import_events(parsed).context("merging the second register")?;
        anyhow::ensure!(summary.new == chunk.len(), "merge: {} of {} events new", summary.new, chunk.len());
        imported += chunk.len();
        log(&format!("  {imported} of {} events merged", events.len()));
    }
    store.set_checkpoint_bytes(threshold);
    let merged_cases = store.case_count()?;
    store.lock()?;
    anyhow::ensure!(
        merged_cases == base_info.cases + other_info.cases,
        "merge: {merged_cases} cases, expected {} + {}",
        base_info.cases,
        other_info.cases
    );
    let merge_s = started.elapsed().as_secs_f64();
    log(&format!("  merged: {merged_cases} cases in {merge_s:.1} s"));
    Ok(CacheInfo {
        cases: merged_cases,
        events: base_info.events + other_info.events,
        // The work to make it from nothing: both registers and the merge.
        generated_s: base_info.generated_s + other_info.generated_s + merge_s,
    })
}

fn copy_vault(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        } else if entry.file_name() == fieldcase::vault::SEGMENT_DIR {
            // Vault format 2 keeps the database image in segments/.
            copy_vault(&entry.path(), &to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

fn dir_bytes(dir: &Path) -> u64 {
    let files = |d: &Path| -> u64 {
        std::fs::read_dir(d)
            .map(|rd| rd.flatten().filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum())
            .unwrap_or(0)
    };
    // Vault format 2 keeps the database image in segments/.
    files(dir) + files(&dir.join(fieldcase::vault::SEGMENT_DIR))
}

/// CPU time of the calling thread in ms, from /proc/thread-self/schedstat
/// (nanoseconds on the CPU), which unlike getrusage's tick counts is exact
/// enough for one commit.
pub fn thread_cpu_ms() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
        .map_or(0.0, |ns| ns as f64 / 1e6)
}

/// The hidden `fieldcase bench --unlock-child DIR`: unlock, print the
/// figures as JSON on stdout, exit without writing anything.
pub fn unlock_child(dir: &Path) -> anyhow::Result<()> {
    let baseline = status_bytes("VmRSS");
    let cpu = crate::process_cpu_ms();
    let started = Instant::now();
    let mut store = CaseStore::open(dir, &pass())?;
    let unlock_ms = started.elapsed().as_secs_f64() * 1000.0;
    let segments_at_unlock = store.vault().stats().database_chunks_loaded;
    store.wait_loaded()?;
    let loaded_ms = started.elapsed().as_secs_f64() * 1000.0;
    let cpu_ms = crate::process_cpu_ms().zip(cpu).map_or(0.0, |(b, a)| b - a);
    let report = UnlockChild {
        unlock_ms,
        loaded_ms,
        cpu_ms,
        segments_at_unlock,
        segments: store.vault().stats().database_chunks,
        peak_rss_bytes: status_bytes("VmHWM"),
        baseline_rss_bytes: baseline,
        image_bytes: testkit::image_bytes(store.vault().conn()),
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn run_unlock_child(dir: &Path) -> anyhow::Result<UnlockChild> {
    let exe = std::env::current_exe()?;
    let out = std::process::Command::new(exe)
        .arg("bench")
        .arg("--unlock-child")
        .arg(dir)
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("starting the unlock child")?;
    anyhow::ensure!(out.status.success(), "the unlock child failed ({})", out.status);
    serde_json::from_slice(&out.stdout).context("the unlock child's report")
}

fn latency(mut v: Vec<f64>, cpu: &[f64]) -> Latency {
    v.sort_by(f64::total_cmp);
    let pct = |p: f64| v[(((v.len() - 1) as f64) * p).round() as usize];
    Latency {
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        mean_ms: v.iter().sum::<f64>() / v.len() as f64,
        cpu_mean_ms: cpu.iter().sum::<f64>() / cpu.len().max(1) as f64,
    }
}

/// Cases that accept an edit of the registration form (open stages), in a
/// fixed order spread over the whole vault.
fn editable_cases(conn: &Connection, want: usize) -> anyhow::Result<Vec<uuid::Uuid>> {
    let all = testkit::open_cases(conn)?;
    let step = (all.len() / want.max(1)).max(1);
    Ok(all.into_iter().step_by(step).take(want).collect())
}

/// The newest event of `case` (the one a save just made).
fn newest_event(conn: &Connection, case: uuid::Uuid) -> anyhow::Result<Event> {
    projection::case_events(conn, case)?
        .into_iter()
        .max_by_key(|e| (e.hlc.millis, e.hlc.counter))
        .context("the case has no events")
}

/// The plain-SQLite side of one save: what `CaseStore::save_form` does
/// besides the vault (load and fold the case, sign), then the projection
/// in one WAL transaction.
fn sqlite_save(sql: &mut Connection, e: &Event, key: &ed25519_dalek::SigningKey) -> anyhow::Result<()> {
    let events = projection::case_events(sql, e.case_id)?;
    std::hint::black_box(CaseState::from_events(e.case_id, &events));
    let mut e = e.clone();
    e.sig.clear();
    e.sign(key);
    let tx = sql.transaction()?;
    ModelApplier.apply(&tx, &[e.to_json()]).map_err(|err| anyhow::anyhow!("projection refused: {}", err.0))?;
    tx.commit()?;
    Ok(())
}

/// Measure everything at one size. `work` is a scratch directory (removed by
/// the caller); `cache` keeps the generated vaults between runs.
pub fn measure_size(
    cache: &Path,
    work: &Path,
    cases: usize,
    commits: usize,
    scrypt_log_n: u8,
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<SizeFigures> {
    let (cached, info, from_cache) = cached_vault(cache, cases, log)?;
    let vdir = work.join(format!("vault-{cases}"));
    copy_vault(&cached, &vdir)?;
    log(&format!("measuring {cases} cases"));
    let mut f = SizeFigures {
        cases: info.cases,
        events: info.events,
        generated_s: info.generated_s,
        from_cache,
        commits,
        ..SizeFigures::default()
    };

    // Unlock with the standard work factor, then with a trivial one: the
    // difference is scrypt, the rest is the vault's own work. Every size gets
    // the same factor (age's calibration, run when each cached vault was
    // made, varies with the machine's load).
    let standard = VaultOptions { scrypt_log_n: Some(scrypt_log_n), ..VaultOptions::default() };
    fieldcase::vault::rewrap_identity(&vdir, &pass(), &standard)?;
    f.unlock = run_unlock_child(&vdir)?;
    let cheap = VaultOptions { scrypt_log_n: Some(1), ..VaultOptions::default() };
    fieldcase::vault::rewrap_identity(&vdir, &pass(), &cheap)?;
    f.load = run_unlock_child(&vdir)?;
    f.image_bytes = f.load.image_bytes;
    f.peak_rss_ratio = f.load.peak_rss_bytes as f64 / f.image_bytes.max(1) as f64;

    let mut store = CaseStore::open_with(&vdir, &pass(), &cheap)?;
    // Measure saves, search and report on the whole database in memory, not
    // while the background prefetch still decrypts segments on both cores
    // (its time is the "until every segment is loaded" figure above).
    store.wait_loaded()?;

    // Search and report on the demo data.
    let (p50, p99, n) = search_latency(store.vault().conn())?;
    (f.search_p50_ms, f.search_p99_ms, f.search_queries) = (p50, p99, n);
    f.report_ms = crate::bench_report::time_on(store.vault().conn(), fieldcase::model::demo::end_date())?;

    // The same database as a plain SQLite file.
    let plain = work.join(format!("plain-{cases}.sqlite"));
    let mut sql = testkit::plain_copy(store.vault().conn(), &plain)?;

    let targets = editable_cases(store.vault().conn(), commits.min(500))?;
    anyhow::ensure!(!targets.is_empty(), "no open case in the demo vault");
    let key = store.signer_key().clone();
    let (mut tv, mut ts, mut cv, mut cs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut i = 0usize;
    let mut refused = 0usize;
    // One warm-up save per system first (statement caches, page cache).
    let mut warm = false;
    while tv.len() < commits {
        let case = targets[i % targets.len()];
        i += 1;
        let mut values = serde_json::Map::new();
        values.insert("place_of_origin".into(), serde_json::Value::String(format!("bench edit {i}")));
        let (c0, t0) = (thread_cpu_ms(), Instant::now());
        if store.save_form(case, "registration_bia", None, values).is_err() {
            refused += 1;
            anyhow::ensure!(refused < 1000, "the demo cases refuse the bench's edit");
            continue;
        }
        let (t_vault, c_vault) = (t0.elapsed().as_secs_f64() * 1000.0, thread_cpu_ms() - c0);
        let e = newest_event(store.vault().conn(), case)?;
        let (c0, t0) = (thread_cpu_ms(), Instant::now());
        sqlite_save(&mut sql, &e, &key)?;
        let (t_sql, c_sql) = (t0.elapsed().as_secs_f64() * 1000.0, thread_cpu_ms() - c0);
        if !warm {
            warm = true;
            continue;
        }
        tv.push(t_vault);
        ts.push(t_sql);
        cv.push(c_vault);
        cs.push(c_sql);
    }
    f.vault = latency(tv, &cv);
    f.sqlite = latency(ts, &cs);
    f.ratio_p50 = f.vault.p50_ms / f.sqlite.p50_ms;

    let (c0, t0) = (crate::process_cpu_ms(), Instant::now());
    store.checkpoint()?;
    f.checkpoint_ms = t0.elapsed().as_secs_f64() * 1000.0;
    f.checkpoint_cpu_ms = crate::process_cpu_ms().zip(c0).map_or(0.0, |(b, a)| b - a);
    let mut values = serde_json::Map::new();
    values.insert("place_of_origin".into(), serde_json::Value::String("bench small commit".into()));
    let saved = targets.iter().any(|&case| store.save_form(case, "registration_bia", None, values.clone()).is_ok());
    anyhow::ensure!(saved, "the demo cases refuse the bench's edit");
    let (c0, t0) = (crate::process_cpu_ms(), Instant::now());
    store.checkpoint()?;
    f.checkpoint_small_ms = t0.elapsed().as_secs_f64() * 1000.0;
    f.checkpoint_small_cpu_ms = crate::process_cpu_ms().zip(c0).map_or(0.0, |(b, a)| b - a);
    drop(store);
    f.vault_bytes = dir_bytes(&vdir);
    testkit::close_plain_copy(sql)?;
    f.sqlite_bytes = std::fs::metadata(&plain).map(|m| m.len()).unwrap_or(0);
    // The plain copy is synthetic, but remove it at once all the same.
    let _ = std::fs::remove_file(&plain);
    let _ = std::fs::remove_dir_all(&vdir);
    Ok(f)
}

/// Search latency over the demo vault: fixed queries plus the names of
/// 200 cases spread over the vault.
fn search_latency(conn: &Connection) -> anyhow::Result<(f64, f64, usize)> {
    use fieldcase::search::{self, query::Query};
    let mut queries: Vec<String> =
        ["muhammad", "mohamed diallo", "fatou", "ibrahima jallow", "abdullahi", "tesfay", "age:10-14 mohamed"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    let names = testkit::case_names(conn)?;
    let step = (names.len() / 200).max(1);
    queries.extend(names.into_iter().step_by(step).filter(|s| !s.trim().is_empty()));
    // The first query may build the index (derived data); not timed.
    search::search(conn, &Query::parse("warm up")?)?;
    let mut times = Vec::with_capacity(queries.len());
    for q in &queries {
        let q = Query::parse(q)?;
        let t = Instant::now();
        std::hint::black_box(search::search(conn, &q)?);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[(((times.len() - 1) as f64) * p).round() as usize];
    Ok((pct(0.5), pct(0.99), times.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A size above the largest generated one is two registers of two
    /// seeds merged by an import: every case and event of both is there,
    /// each signature was checked, and a second call finds it in the cache.
    #[test]
    fn a_size_above_the_largest_generated_is_two_registers_merged() {
        let t = tempfile::tempdir().expect("tempdir");
        let (dir, info, from_cache) = cached_vault_seeded(t.path(), 20, 7, 12, &mut |_| {}).unwrap();
        assert!(!from_cache);
        assert_eq!(info.cases, 20);
        let count = |dir: &Path| -> (usize, usize, usize) {
            let store = CaseStore::open(dir, &pass()).unwrap();
            let events = testkit::all_events(store.vault().conn()).unwrap();
            let devices: std::collections::BTreeSet<uuid::Uuid> =
                events.iter().map(|(_, json)| serde_json::from_str::<Event>(json).unwrap().device_id).collect();
            (store.case_count().unwrap(), events.len(), devices.len())
        };
        let key = |n: usize, seed: u64| {
            format!("demo-v{CACHE_VERSION}-f1-{}-n{n}-s{seed}", testkit::schema_fingerprint().unwrap())
        };
        let (base_cases, base_events, base_devices) = count(&t.path().join(key(12, 7)));
        let (other_cases, other_events, other_devices) = count(&t.path().join(key(8, 8)));
        let (cases, events, devices) = count(&dir);
        assert_eq!((base_cases, other_cases, cases), (12, 8, 20));
        assert_eq!(events, base_events + other_events);
        assert_eq!(events, info.events);
        // Each register's generating device (and its planted second device,
        // if any) authored events of the merged vault.
        assert_eq!(devices, base_devices + other_devices);
        let (_, again, from_cache) = cached_vault_seeded(t.path(), 20, 7, 12, &mut |_| {}).unwrap();
        assert!(from_cache);
        assert_eq!(again.events, info.events);
    }

    /// The plain-SQLite side really holds the same database as the vault
    /// and gets the same work: after the same saves both projections are
    /// identical (so the comparison is of storage, not of different data).
    #[test]
    fn plain_sqlite_side_keeps_the_same_projection_as_the_vault() {
        let t = tempfile::tempdir().expect("tempdir");
        let options = VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() };
        let supervisor = InitOptions { name: "bench supervisor".into(), role: "supervisor".into(), escrow: None };
        let mut store = CaseStore::init_with(&t.path().join("v"), &pass(), supervisor, &options).unwrap();
        fieldcase::model::demo::generate(&mut store, 12, 3).unwrap();
        let plain = t.path().join("plain.sqlite");
        let mut sql = testkit::plain_copy(store.vault().conn(), &plain).unwrap();
        let cases = editable_cases(store.vault().conn(), 4).unwrap();
        assert!(!cases.is_empty());
        let key = store.signer_key().clone();
        let mut saved = 0;
        for (i, case) in cases.iter().cycle().take(6).enumerate() {
            let mut values = serde_json::Map::new();
            values.insert("place_of_origin".into(), serde_json::Value::String(format!("bench edit {i}")));
            if store.save_form(*case, "registration_bia", None, values).is_err() {
                continue;
            }
            let e = newest_event(store.vault().conn(), *case).unwrap();
            sqlite_save(&mut sql, &e, &key).unwrap();
            saved += 1;
        }
        assert!(saved > 0, "no save was accepted");
        assert_eq!(projection::dump(store.vault().conn()).unwrap(), projection::dump(&sql).unwrap());
    }
}
