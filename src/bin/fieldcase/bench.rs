//! `fieldcase bench`: commit latency of the vault against plain SQLite on disk,
//! measured side by side in one run, plus checkpoint and unlock time, and
//! sync bundle export/import throughput (device → office).
//! (Owned by the vault work first, performance later.)
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use fieldcase::vault::{change_passphrase_with, kv_put, InitOptions, KvApplier, SecretString, Vault, VaultOptions};
use rusqlite::Connection;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Fewer measured commits; finishes in well under a minute.
    #[arg(long)]
    pub quick: bool,
    /// Print JSON with stable keys.
    #[arg(long)]
    pub json: bool,
    /// Directory to measure in (a scratch subdirectory is created and removed).
    /// Use a directory on the disk the vault will live on: /tmp is often a
    /// RAM disk (tmpfs), where fsync costs nothing and the figures mean nothing.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Run only the search section (search latency, duplicate pass).
    #[arg(long)]
    pub search_only: bool,
}

/// Database sizes (records) at which commit latency is measured.
const SIZES: [usize; 2] = [100, 10_000];

/// Latency figures of one system at one size, in milliseconds.
#[derive(serde::Serialize)]
struct Latency {
    p50_ms: f64,
    p99_ms: f64,
    mean_ms: f64,
}

#[derive(serde::Serialize)]
struct SizeResult {
    records: usize,
    vault: Latency,
    sqlite: Latency,
    /// vault p50 / sqlite p50.
    ratio_vault_over_sqlite_p50: f64,
}

#[derive(serde::Serialize, Default)]
struct BenchResult {
    dir: PathBuf,
    filesystem: String,
    commits_per_size: usize,
    sizes: Vec<SizeResult>,
    /// vault p50 at 10,000 records / vault p50 at 100 records (target ≤ 1.5).
    ratio_vault_p50_10000_over_100: f64,
    checkpoint_ms_10000: f64,
    /// Whole unlock: scrypt (about 1 s by design) + snapshot load.
    unlock_ms_10000: f64,
    /// Unlock with a trivial scrypt work factor: snapshot decryption and load.
    load_ms_10000: f64,
    snapshot_bytes_10000: u64,
    /// scrypt work factor (log2 N) of the identity, as age calibrated it.
    scrypt_log_n: Option<u8>,
    /// Events in the device → office bundle of the sync figures (100,000;
    /// 10,000 with --quick).
    sync_bundle_events: usize,
    /// Exporting that bundle on the device (select, serialise, encrypt).
    export_events_per_s: f64,
    /// Importing it at the office (decrypt, unpack, verify every signature,
    /// check rules, project, commit), target >= 20,000.
    import_events_per_s: f64,
    /// Encrypted bundle size / events.
    bundle_bytes_per_event: f64,
    export_ms: f64,
    import_ms: f64,
    /// CPU time (user + system, all threads) the import used: on a shared,
    /// busy machine wall time overstates the cost; this does not.
    import_cpu_ms: Option<f64>,
    /// Every report indicator over 50,000 synthetic cases (10,000 with --quick).
    report: Option<crate::bench_report::ReportBench>,
    /// Search latency and the full duplicate pass over 50,000 synthetic cases (5,000 with --quick).
    search: Option<crate::bench_search::SearchBench>,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

fn latency(mut v: Vec<Duration>) -> Latency {
    v.sort();
    let mean = v.iter().map(Duration::as_secs_f64).sum::<f64>() / v.len() as f64 * 1000.0;
    Latency { p50_ms: percentile(&v, 0.5), p99_ms: percentile(&v, 0.99), mean_ms: mean }
}

/// A synthetic record of realistic size (~300 bytes, like one saved form section).
fn record(i: usize) -> (String, String) {
    (
        format!("rec-{i:07}"),
        format!(
            "{{\"case\":\"AGZ-2026-{i:05}\",\"given_names\":\"Synthetic {i}\",\"family_name\":\"Bench\",\"date_of_birth\":\"2011-03-0{}\",\"sex\":\"female\",\"nationality\":\"NE\",\"current_location\":\"Agadez transit centre, block {}\",\"caseworker_notes\":\"{}\"}}",
            i % 9 + 1,
            i % 17,
            "n".repeat(120)
        ),
    )
}

/// File-system type holding `path` (Linux: from /proc/self/mountinfo).
fn filesystem_of(path: &Path) -> String {
    let Ok(path) = path.canonicalize() else { return "unknown".into() };
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else { return "unknown".into() };
    let mut best: Option<(usize, String)> = None;
    for line in info.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(dash) = fields.iter().position(|f| *f == "-") else { continue };
        let (Some(mount), Some(fstype)) = (fields.get(4), fields.get(dash + 1)) else { continue };
        if path.starts_with(mount) && best.as_ref().is_none_or(|(l, _)| mount.len() >= *l) {
            best = Some((mount.len(), (*fstype).to_owned()));
        }
    }
    best.map_or_else(|| "unknown".into(), |(_, t)| t)
}

fn fill_vault(v: &mut Vault, n: usize) -> anyhow::Result<()> {
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let entries = chunk
            .iter()
            .map(|&i| {
                let (k, val) = record(i);
                kv_put(&k, &val)
            })
            .collect();
        v.commit(entries)?;
    }
    v.checkpoint()?;
    Ok(())
}

fn fill_sqlite(path: &Path, n: usize) -> anyhow::Result<Connection> {
    let mut c = Connection::open(path)?;
    c.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; CREATE TABLE kv(key TEXT PRIMARY KEY, value TEXT NOT NULL);")?;
    let tx = c.transaction()?;
    for i in 0..n {
        let (k, v) = record(i);
        tx.execute("INSERT INTO kv(key, value) VALUES (?1, ?2)", [&k, &v])?;
    }
    tx.commit()?;
    Ok(c)
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.search_only {
        return crate::bench_search::run_only(args.quick, args.json);
    }
    let commits = if args.quick { 40 } else { 300 };
    std::fs::create_dir_all(&args.dir).with_context(|| format!("cannot create {}", args.dir.display()))?;
    let base = args.dir.join(format!("fieldcase-bench-{}", std::process::id()));
    std::fs::create_dir_all(&base)?;
    let sync_events = if args.quick { 10_000 } else { 100_000 };
    let result = measure(&base, commits).and_then(|mut r| {
        measure_sync(&base, sync_events, &mut r)?;
        Ok(r)
    });
    // Remove the scratch data whatever happened (it is synthetic).
    let _ = std::fs::remove_dir_all(&base);
    let mut r = result?;
    r.report = Some(crate::bench_report::measure(args.quick)?);
    r.search = Some(crate::bench_search::measure(args.quick)?);
    r.dir = args.dir.canonicalize().unwrap_or(args.dir.clone());
    r.filesystem = filesystem_of(&args.dir);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print_table(&r);
    }
    Ok(())
}

fn measure(base: &Path, commits: usize) -> anyhow::Result<BenchResult> {
    let pass = SecretString::from("bench passphrase, synthetic data".to_owned());
    let options = VaultOptions::default();
    // Set up every system first, then interleave their commits (vault@100,
    // sqlite@100, vault@10000, sqlite@10000, repeat) so all four see the same
    // disk and machine load: a shared 2-core laptop is noisy.
    let mut systems = Vec::new();
    let mut work_factor = None;
    for &n in &SIZES {
        let vdir = base.join(format!("vault-{n}"));
        let mut v = Vault::init_with(&vdir, &pass, InitOptions::default(), Box::new(KvApplier), &options)?;
        work_factor = identity_work_factor(&vdir);
        fill_vault(&mut v, n)?;
        let sql = fill_sqlite(&base.join(format!("plain-{n}.sqlite")), n)?;
        systems.push((n, vdir, v, sql, Vec::with_capacity(commits), Vec::with_capacity(commits)));
    }
    for j in 0..commits {
        for (n, _, v, sql, tv, ts) in systems.iter_mut() {
            let (k, val) = record(*n + j);
            let t = Instant::now();
            v.commit(vec![kv_put(&k, &val)])?;
            tv.push(t.elapsed());
            let t = Instant::now();
            let tx = sql.transaction()?;
            tx.execute("INSERT INTO kv(key, value) VALUES (?1, ?2)", [&k, &val])?;
            tx.commit()?;
            ts.push(t.elapsed());
        }
    }
    let mut sizes = Vec::new();
    let (mut checkpoint_ms, mut unlock_ms, mut load_ms, mut snapshot_bytes) = (0.0, 0.0, 0.0, 0);
    for (n, vdir, mut v, _sql, tv, ts) in systems {
        let (vault, sqlite) = (latency(tv), latency(ts));
        sizes.push(SizeResult { records: n, ratio_vault_over_sqlite_p50: vault.p50_ms / sqlite.p50_ms, vault, sqlite });
        if n == 10_000 {
            let t = Instant::now();
            v.checkpoint()?;
            checkpoint_ms = t.elapsed().as_secs_f64() * 1000.0;
            snapshot_bytes = v.stats().snapshot_bytes;
            drop(v);
            let t = Instant::now();
            let v = Vault::open_with(&vdir, &pass, Box::new(KvApplier), &options)?;
            unlock_ms = t.elapsed().as_secs_f64() * 1000.0;
            drop(v);
            // The same unlock with a trivial scrypt work factor: what is left
            // is decrypting and loading the snapshot and replaying the journal.
            let cheap = VaultOptions { scrypt_log_n: Some(1), ..VaultOptions::default() };
            change_passphrase_with(&vdir, &pass, &pass, &cheap)?;
            let t = Instant::now();
            let v = Vault::open_with(&vdir, &pass, Box::new(KvApplier), &cheap)?;
            load_ms = t.elapsed().as_secs_f64() * 1000.0;
            drop(v);
        }
    }
    Ok(BenchResult {
        dir: PathBuf::new(),
        filesystem: String::new(),
        commits_per_size: commits,
        ratio_vault_p50_10000_over_100: sizes[1].vault.p50_ms / sizes[0].vault.p50_ms,
        sizes,
        checkpoint_ms_10000: checkpoint_ms,
        unlock_ms_10000: unlock_ms,
        load_ms_10000: load_ms,
        snapshot_bytes_10000: snapshot_bytes,
        scrypt_log_n: work_factor,
        sync_bundle_events: 0,
        export_events_per_s: 0.0,
        import_events_per_s: 0.0,
        bundle_bytes_per_event: 0.0,
        export_ms: 0.0,
        import_ms: 0.0,
        import_cpu_ms: None,
        report: None,
        search: None,
    })
}

/// Fill a device vault with `events` signed events (cases of one
/// registration, one form save and eight case notes each), enroll it at an
/// office, then time one device → office export and its import.
fn measure_sync(base: &Path, events: usize, r: &mut BenchResult) -> anyhow::Result<()> {
    use fieldcase::model::store::CaseStore;
    use fieldcase::sync;
    use serde_json::json;

    let pass = SecretString::from("bench passphrase, synthetic data".to_owned());
    // Unlock cost is measured above; here scrypt would only add noise.
    let options = VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() };
    let init = |dir: &str, name: &str, role: &str| {
        CaseStore::init_with(
            &base.join(dir),
            &pass,
            InitOptions { name: name.into(), role: role.into(), escrow: None },
            &options,
        )
    };
    let mut office = init("sync-office", "Bench office", "data_manager")?;
    sync::make_office(&mut office, "Agadez")?;
    let mut device = init("sync-device", "bench caseworker", "caseworker")?;
    let request = serde_json::to_vec(&sync::enrollment_request(&device)?)?;
    let enrollment =
        sync::approve_enrollment(&mut office, &request, fieldcase::model::event::Role::Caseworker, &mut |_| {})?;
    sync::import_bundle(&mut device, &enrollment, false, &mut |_| {}).context("enrollment")?;

    const PER_CASE: usize = 10;
    // 100 cases (1,000 events, well under a journal frame's limit) per commit.
    const CASES_PER_COMMIT: usize = 100;
    let cases = events.div_ceil(PER_CASE);
    let values = |v: serde_json::Value| v.as_object().cloned().expect("literal object");
    let mut made = 0;
    for chunk_start in (0..cases).step_by(CASES_PER_COMMIT) {
        let mut batch = device.batch();
        for i in chunk_start..(chunk_start + CASES_PER_COMMIT).min(cases) {
            let case = batch.create_case("uasc", "Agadez")?;
            batch.save_form(
                case,
                "registration_bia",
                None,
                values(json!({"given_names": format!("Synthetic {i}"), "family_name": "Bench"})),
            )?;
            made += 2;
            for n in 0..PER_CASE - 2 {
                if made >= events {
                    break;
                }
                batch.add_note(
                    case,
                    values(json!({
                        "note_datetime": "2026-03-01T10:00:00Z",
                        "author": {"name": "bench caseworker", "role": "caseworker", "organisation": "Bench"},
                        "note_type": "phone",
                        "subject": format!("Follow-up call {n}"),
                        "text": "Synthetic note of typical length: spoke with the child and the carer about school attendance and health.",
                    })),
                )?;
                made += 1;
            }
        }
        batch.commit()?;
    }
    device.checkpoint()?;

    let t = Instant::now();
    let bundle = sync::export_for_office(&mut device, &mut |_| {})?;
    let export = t.elapsed().as_secs_f64();
    let cpu = process_cpu_ms();
    let t = Instant::now();
    let report = sync::import_bundle(&mut office, &bundle, false, &mut |_| {}).context("office import")?;
    let import = t.elapsed().as_secs_f64();
    r.import_cpu_ms = cpu.zip(process_cpu_ms()).map(|(a, b)| b - a);
    anyhow::ensure!(report.summary.new == made, "the office imported {} events of {made}", report.summary.new);
    r.sync_bundle_events = made;
    r.export_ms = export * 1000.0;
    r.import_ms = import * 1000.0;
    r.export_events_per_s = made as f64 / export;
    r.import_events_per_s = made as f64 / import;
    r.bundle_bytes_per_event = bundle.len() as f64 / made as f64;
    Ok(())
}

/// CPU time this process has used so far, in ms (Linux: utime + stime of
/// /proc/self/stat, in clock ticks of 10 ms, the kernel's USER_HZ on every
/// Linux architecture we build for).
fn process_cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; the fields after its ')' are plain.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 * 10.0)
}

/// The scrypt work factor (log2 N) written in an identity file's age header
/// (`-> scrypt <salt> <log_n>`), i.e. what age's calibration chose here.
fn identity_work_factor(vault: &Path) -> Option<u8> {
    let bytes = std::fs::read(vault.join(fieldcase::vault::IDENTITY_FILE)).ok()?;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
    let line = text.lines().find(|l| l.starts_with("-> scrypt "))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn print_table(r: &BenchResult) {
    println!(
        "Fieldcase bench: {} ({}), {} one-record commits per size",
        r.dir.display(),
        r.filesystem,
        r.commits_per_size
    );
    if r.filesystem == "tmpfs" || r.filesystem == "ramfs" {
        println!("WARNING: this directory is in RAM; fsync is free and the figures are meaningless. Use --dir on a real disk.");
    }
    println!();
    println!("{:<30} {:>10} {:>10} {:>10}", "one-record commit", "p50 ms", "p99 ms", "mean ms");
    for s in &r.sizes {
        println!(
            "{:<30} {:>10.3} {:>10.3} {:>10.3}",
            format!("vault @ {} records", s.records),
            s.vault.p50_ms,
            s.vault.p99_ms,
            s.vault.mean_ms
        );
        println!(
            "{:<30} {:>10.3} {:>10.3} {:>10.3}",
            format!("sqlite WAL+FULL @ {} records", s.records),
            s.sqlite.p50_ms,
            s.sqlite.p99_ms,
            s.sqlite.mean_ms
        );
    }
    println!();
    println!("vault p50 @10000 / @100      {:>8.2}   (target <= 1.5)", r.ratio_vault_p50_10000_over_100);
    for s in &r.sizes {
        println!("vault / sqlite p50 @{:<8} {:>8.2}   (target <= 2.0)", s.records, s.ratio_vault_over_sqlite_p50);
    }
    println!(
        "checkpoint @10000            {:>8.1} ms (snapshot {} bytes)",
        r.checkpoint_ms_10000, r.snapshot_bytes_10000
    );
    let wf = r.scrypt_log_n.map_or("unknown".to_owned(), |n| format!("2^{n}, calibrated by age to ~1 s at init"));
    println!("unlock @10000                {:>8.1} ms (scrypt work factor {wf})", r.unlock_ms_10000);
    println!("  of which snapshot load     {:>8.1} ms (unlock with scrypt 2^1)", r.load_ms_10000);
    println!();
    println!("sync bundle of {} events, device -> office", r.sync_bundle_events);
    println!("export                       {:>8.0} events/s ({:.1} ms)", r.export_events_per_s, r.export_ms);
    println!(
        "import                       {:>8.0} events/s ({:.1} ms, target >= 20000 events/s)",
        r.import_events_per_s, r.import_ms
    );
    if let Some(cpu) = r.import_cpu_ms {
        println!(
            "  import CPU time            {:>8.1} ms ({:.0} events per CPU second)",
            cpu,
            r.sync_bundle_events as f64 / (cpu / 1000.0)
        );
    }
    println!("bundle size                  {:>8.1} bytes/event", r.bundle_bytes_per_event);
    if let Some(search) = &r.search {
        crate::bench_search::print(search);
    }
    if let Some(report) = &r.report {
        crate::bench_report::print(report);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sync measurement really moves every event it made through an
    /// export and an office import (it fails if the office takes fewer).
    #[test]
    fn sync_figures_cover_every_event() {
        let t = tempfile::tempdir().expect("tempdir");
        let mut r = BenchResult::default();
        measure_sync(t.path(), 30, &mut r).expect("sync bench");
        assert_eq!(r.sync_bundle_events, 30);
        assert!(r.export_events_per_s > 0.0 && r.import_events_per_s > 0.0);
        // One signed event is a few hundred bytes of JSON, compressed by nothing.
        assert!(r.bundle_bytes_per_event > 200.0, "{}", r.bundle_bytes_per_event);
    }
}
