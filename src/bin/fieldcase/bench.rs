//! `fieldcase bench`: commit latency of the vault against plain SQLite on disk,
//! measured side by side in one run, plus checkpoint and unlock time.
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

#[derive(serde::Serialize)]
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
        let entries = chunk.iter().map(|&i| { let (k, val) = record(i); kv_put(&k, &val) }).collect();
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
    let commits = if args.quick { 40 } else { 300 };
    std::fs::create_dir_all(&args.dir).with_context(|| format!("cannot create {}", args.dir.display()))?;
    let base = args.dir.join(format!("fieldcase-bench-{}", std::process::id()));
    std::fs::create_dir_all(&base)?;
    let result = measure(&base, commits);
    // Remove the scratch data whatever happened (it is synthetic).
    let _ = std::fs::remove_dir_all(&base);
    let mut r = result?;
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
    })
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
    println!("Fieldcase bench: {} ({}), {} one-record commits per size", r.dir.display(), r.filesystem, r.commits_per_size);
    if r.filesystem == "tmpfs" || r.filesystem == "ramfs" {
        println!("WARNING: this directory is in RAM; fsync is free and the figures are meaningless. Use --dir on a real disk.");
    }
    println!();
    println!("{:<30} {:>10} {:>10} {:>10}", "one-record commit", "p50 ms", "p99 ms", "mean ms");
    for s in &r.sizes {
        println!("{:<30} {:>10.3} {:>10.3} {:>10.3}", format!("vault @ {} records", s.records), s.vault.p50_ms, s.vault.p99_ms, s.vault.mean_ms);
        println!("{:<30} {:>10.3} {:>10.3} {:>10.3}", format!("sqlite WAL+FULL @ {} records", s.records), s.sqlite.p50_ms, s.sqlite.p99_ms, s.sqlite.mean_ms);
    }
    println!();
    println!("vault p50 @10000 / @100      {:>8.2}   (target <= 1.5)", r.ratio_vault_p50_10000_over_100);
    for s in &r.sizes {
        println!("vault / sqlite p50 @{:<8} {:>8.2}   (target <= 2.0)", s.records, s.ratio_vault_over_sqlite_p50);
    }
    println!("checkpoint @10000            {:>8.1} ms (snapshot {} bytes)", r.checkpoint_ms_10000, r.snapshot_bytes_10000);
    let wf = r.scrypt_log_n.map_or("unknown".to_owned(), |n| format!("2^{n}, calibrated by age to ~1 s at init"));
    println!("unlock @10000                {:>8.1} ms (scrypt work factor {wf})", r.unlock_ms_10000);
    println!("  of which snapshot load     {:>8.1} ms (unlock with scrypt 2^1)", r.load_ms_10000);
}
