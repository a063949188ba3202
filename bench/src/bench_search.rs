//! `fieldcase bench` search section: search latency and the full duplicate
//! pass over 50,000 synthetic cases (5,000 with --quick), then duplicate
//! detection on the planted duplicates of a 2,000-case demo vault (400
//! with --quick), as `tests/search_duplicates_demo.rs` measures it.
//!
//! The cases are written straight into the projection tables (`cases`) and
//! the search index of an in-memory database by the library's test kit
//! (`fieldcase::testkit::insert_search_rows`), not generated through signed
//! events: what is measured is the query and matching code, not event
//! creation.
use std::time::Instant;

use std::collections::BTreeSet;

use fieldcase::model::store::CaseStore;
use fieldcase::search::{self, duplicates, index, query::Query, synthetic};
use fieldcase::testkit;
use fieldcase::vault::{InitOptions, SecretString, VaultOptions};

/// Figures of the search section.
#[derive(serde::Serialize)]
pub struct SearchBench {
    /// How the data was made.
    pub note: &'static str,
    /// Cases in the index.
    pub cases: usize,
    /// Filling the tables and the index.
    pub index_build_ms: f64,
    /// Queries measured.
    pub queries: usize,
    /// Median query latency (target p99 < 50 ms).
    pub search_p50_ms: f64,
    /// 99th percentile query latency.
    pub search_p99_ms: f64,
    /// Full duplicate pass (load, block, score), target < 30 s at 50,000.
    pub duplicate_pass_ms: f64,
    /// Pairs the pass reported.
    pub duplicate_pairs: usize,
    /// The demo's planted duplicates.
    pub demo: DemoDuplicates,
}

/// Duplicate detection on a demo vault's planted near-duplicates.
#[derive(serde::Serialize)]
pub struct DemoDuplicates {
    /// Cases generated (planted duplicates included).
    pub cases: usize,
    /// Near-duplicates planted.
    pub planted: usize,
    /// Of those, merged by the demo's data manager (judged: not reviewed
    /// again).
    pub merged: usize,
    /// The office threshold used (the default).
    pub threshold: f64,
    /// Pairs the full pass leaves to review (live cases).
    pub pairs_to_review: usize,
    /// The same per 100 cases (target at most 3).
    pub pairs_per_100_cases: f64,
    /// Planted pairs found, merges ignored (target at least 0.95).
    pub recall: f64,
}

fn demo_duplicates(cases: usize) -> anyhow::Result<DemoDuplicates> {
    // A fresh vault (encrypted like any other), removed afterwards.
    let dir = std::env::temp_dir().join(format!("fieldcase-bench-demo-dups-{}", std::process::id()));
    let result = demo_duplicates_in(&dir, cases);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn demo_duplicates_in(dir: &std::path::Path, cases: usize) -> anyhow::Result<DemoDuplicates> {
    // The passphrase's cost is not what is measured here.
    let options = VaultOptions { scrypt_log_n: Some(10), ..VaultOptions::default() };
    let init = InitOptions { name: "bench supervisor".into(), role: "supervisor".into(), escrow: None };
    let mut store = CaseStore::init_with(dir, &SecretString::from("bench demo duplicates".to_owned()), init, &options)?;
    let summary = fieldcase::model::demo::generate(&mut store, cases, 7)?;
    let conn = store.vault().conn();
    index::ensure_built(conn)?;
    let threshold = duplicates::office_threshold(conn)?;
    let live = index::all_people(conn)?;
    let to_review = duplicates::find_duplicates(conn)?;
    let mut people = live.clone();
    for p in &mut people {
        p.merged_into = None;
    }
    let norm = |a: String, b: String| if a < b { (a, b) } else { (b, a) };
    let found: BTreeSet<(String, String)> =
        duplicates::find_pairs(&people, threshold).into_iter().map(|p| norm(p.case_a, p.case_b)).collect();
    let truth: BTreeSet<(String, String)> =
        summary.duplicate_pairs.iter().map(|(a, b)| norm(a.to_string(), b.to_string())).collect();
    Ok(DemoDuplicates {
        cases: live.len(),
        planted: truth.len(),
        merged: summary.duplicates_merged,
        threshold,
        pairs_to_review: to_review.len(),
        pairs_per_100_cases: to_review.len() as f64 * 100.0 / live.len().max(1) as f64,
        recall: truth.intersection(&found).count() as f64 / truth.len().max(1) as f64,
    })
}

pub fn measure(quick: bool) -> anyhow::Result<SearchBench> {
    let n = if quick { 5_000 } else { 50_000 };
    let conn = testkit::search_projection()?;
    let (mut people, _) = synthetic::population(20_261_124, n, 6);
    const STAGES: [&str; 4] = ["registered", "tracing", "bid_pending", "follow_up"];
    const WORKERS: [&str; 5] = ["amina", "moussa", "hiwot", "carlos", "fatou"];
    for (i, p) in people.iter_mut().enumerate() {
        p.stage = STAGES[i % STAGES.len()].to_string();
        p.caseworker = Some(WORKERS[i % WORKERS.len()].to_string());
    }
    let started = Instant::now();
    testkit::insert_search_rows(&conn, &people)?;
    let index_build_ms = started.elapsed().as_secs_f64() * 1000.0;

    let mut queries: Vec<String> = Vec::new();
    let fixed = [
        "muhammad",
        "mohamed diallo",
        "fatou",
        "ibrahima jallow",
        "abdullahi",
        "tesfay hayle",
        "jose garcia",
        "age:10-14 mohamed",
        "stage:tracing aisha",
        "caseworker:amina camara",
        "location:labe",
        "xasan",
        "محمد",
        "SYN-00001",
    ];
    queries.extend(fixed.iter().map(|s| s.to_string()));
    for p in people.iter().step_by((n / 200).max(1)) {
        queries.push(format!("{} {}", p.given_names, p.family_name));
    }
    let mut times = Vec::with_capacity(queries.len());
    for q in &queries {
        let q = Query::parse(q)?;
        let t = Instant::now();
        let hits = search::search(&conn, &q)?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(hits);
    }
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];

    let t = Instant::now();
    let pairs = duplicates::find_duplicates(&conn)?;
    let duplicate_pass_ms = t.elapsed().as_secs_f64() * 1000.0;
    let demo = demo_duplicates(if quick { 400 } else { 2_000 })?;
    Ok(SearchBench {
        note: "synthetic rows written directly into the projection and index tables (not through events)",
        cases: n,
        index_build_ms,
        queries: times.len(),
        search_p50_ms: pct(0.5),
        search_p99_ms: pct(0.99),
        duplicate_pass_ms,
        duplicate_pairs: pairs.len(),
        demo,
    })
}

pub fn print(s: &SearchBench) {
    println!();
    println!("Search ({} cases; {})", s.cases, s.note);
    println!("  index build            {:>10.0} ms", s.index_build_ms);
    println!(
        "  search p50 / p99       {:>10.2} / {:.2} ms over {} queries (target p99 < 50 ms)",
        s.search_p50_ms, s.search_p99_ms, s.queries
    );
    println!("  duplicate pass         {:>10.0} ms, {} pairs (target < 30 s)", s.duplicate_pass_ms, s.duplicate_pairs);
    let d = &s.demo;
    println!(
        "  demo duplicates        {} cases, {} planted ({} merged), threshold {}: {} pairs to review ({:.2} per 100 cases, target <= 3), recall {:.3} (target >= 0.95)",
        d.cases, d.planted, d.merged, d.threshold, d.pairs_to_review, d.pairs_per_100_cases, d.recall
    );
}

/// `fieldcase bench --search-only`: measure and print only this section.
pub fn run_only(quick: bool, json: bool) -> anyhow::Result<()> {
    let s = measure(quick)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        print(&s);
    }
    Ok(())
}
