//! Suspected duplicate flags and their review, so that counting the pairs
//! still awaiting a decision (report indicator 25b) reads stored rows
//! instead of re-running the duplicate pass (~20 s at 50,000 cases).
//!
//! **Flags** are the pairs a duplicate check found, kept in the vault's
//! journaled local state (`sync_state`, written through
//! `projection::sync_put_entry`; local to this vault, never exported):
//!
//! - `duplicates/pass`: the pairs of the latest full pass
//!   ([`record_pass`], called when someone runs the pass: `fieldcase
//!   duplicates`, the app's duplicates screen). A new pass replaces the
//!   previous one: it re-checked every case.
//! - `duplicates/import/<bundle>`: the pairs an import found between a new
//!   case and a case already here ([`import_flags_entry`], written in the
//!   import's own commit from the candidates the import preview computes
//!   anyway: no extra lookups). They count until the next full pass, which
//!   covers them.
//!
//! **Reviews** are signed events, so they sync and are audited like any
//! decision: merging (`case.merged`), splitting a merge back (`case.split`:
//! the two are not the same child) and `case.not_duplicate` {"other"}
//! ([`super::merge::not_duplicate`]).
//!
//! A flagged pair is **pending** while neither case is merged (or erased)
//! and no `case.not_duplicate` / `case.split` event on either case names the
//! other. [`pending`] costs a couple of indexed lookups per flagged case.

use std::collections::{BTreeSet, HashMap, HashSet};

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::model::projection;
use crate::model::store::{CaseStore, StoreError};
use crate::search::duplicates::{find_duplicates, DuplicatePair};
use crate::search::query::SearchError;
use crate::search::visible::{visible_pairs, DuplicatesView};

/// Local-state key of the latest full pass.
pub const PASS_KEY: &str = "duplicates/pass";
/// Local-state key of the number of full passes recorded so far.
pub const PASS_NUMBER_KEY: &str = "duplicates/pass_number";
/// Prefix of the local-state keys of the pairs flagged by an import.
pub const IMPORT_PREFIX: &str = "duplicates/import/";

fn pass_number(conn: &Connection) -> rusqlite::Result<u64> {
    Ok(projection::sync_state(conn, PASS_NUMBER_KEY)?
        .into_iter()
        .find(|(k, _)| k == PASS_NUMBER_KEY)
        .and_then(|(_, v)| v.as_u64())
        .unwrap_or(0))
}

/// Pairs kept from one pass: one journal frame holds at most 16 MiB and a
/// pair takes ~100 bytes. A register with more suspected pairs than this
/// has a data problem no count will describe; the best-scored are kept.
pub const MAX_RECORDED_PAIRS: usize = 100_000;

/// Record the pairs of a full duplicate pass (best first, as
/// [`super::duplicates::find_duplicates`] returns them) as the current
/// flags, in one journaled commit. Pairs flagged by earlier imports are
/// superseded.
pub fn record_pass(store: &mut CaseStore, pairs: &[DuplicatePair]) -> Result<(), StoreError> {
    let number = pass_number(store.vault().conn())? + 1;
    let rows: Vec<Value> =
        pairs.iter().take(MAX_RECORDED_PAIRS).map(|p| json!([p.case_a, p.case_b, p.score])).collect();
    store.commit_sync_entries(vec![
        projection::sync_put_entry(PASS_NUMBER_KEY, &json!(number)),
        projection::sync_put_entry(PASS_KEY, &json!({"pass": number, "pairs": rows})),
    ])
}

/// The local-state entry flagging the pairs (new case, case already here)
/// an import of bundle `bundle` found, for the import's own commit; `None`
/// when it found none.
pub fn import_flags_entry(
    conn: &Connection,
    bundle: Uuid,
    pairs: &[(Uuid, Uuid)],
) -> Result<Option<Value>, StoreError> {
    if pairs.is_empty() {
        return Ok(None);
    }
    let rows: Vec<Value> = pairs.iter().map(|(a, b)| json!([a, b])).collect();
    let value = json!({"after_pass": pass_number(conn)?, "pairs": rows});
    Ok(Some(projection::sync_put_entry(&format!("{IMPORT_PREFIX}{bundle}"), &value)))
}

fn pairs_of(v: &Value) -> impl Iterator<Item = (String, String)> + '_ {
    v.get("pairs").and_then(Value::as_array).into_iter().flatten().filter_map(|row| {
        let a = row.get(0)?.as_str()?;
        let b = row.get(1)?.as_str()?;
        (a != b).then(|| if a < b { (a.to_string(), b.to_string()) } else { (b.to_string(), a.to_string()) })
    })
}

/// Every flagged pair (smaller id first): the latest pass's and those of
/// the imports since.
pub fn flagged(conn: &Connection) -> rusqlite::Result<BTreeSet<(String, String)>> {
    let mut out = BTreeSet::new();
    let mut current = 0;
    for (key, v) in projection::sync_state(conn, PASS_KEY)? {
        if key == PASS_KEY {
            current = v.get("pass").and_then(Value::as_u64).unwrap_or(0);
            out.extend(pairs_of(&v));
        }
    }
    for (_, v) in projection::sync_state(conn, IMPORT_PREFIX)? {
        if v.get("after_pass").and_then(Value::as_u64).unwrap_or(0) >= current {
            out.extend(pairs_of(&v));
        }
    }
    Ok(out)
}

/// What a duplicate review screen lists after a full pass.
#[derive(Debug, Clone)]
pub struct ReviewQueue {
    /// The pairs the reader may see (both cases), best first, with the
    /// pairs left out for visibility counted by reason.
    pub view: DuplicatesView,
    /// Pairs already reviewed (merged, split or marked "not the same
    /// child") left out; 0 when `all` was asked.
    pub reviewed: usize,
}

/// The duplicate review sequence every interface runs (`fieldcase
/// duplicates`, the office's duplicates screen), in one place: refuse a
/// reader who may not review duplicates before any work, run the full pass,
/// record its pairs as the current flags (what report indicator 25b
/// counts), keep the pairs still awaiting a decision (all of them with
/// `all`), and show only the pairs whose both cases the reader may see.
pub fn review_queue(store: &mut CaseStore, all: bool) -> Result<ReviewQueue, SearchError> {
    store.reader().duplicates().map_err(SearchError::Hidden)?;
    let mut pairs = find_duplicates(store.vault().conn())?;
    record_pass(store, &pairs)?;
    let reviewed = if all { 0 } else { retain_awaiting_review(store.vault().conn(), &mut pairs)? };
    Ok(ReviewQueue { view: visible_pairs(store, pairs)?, reviewed })
}

/// Set the office's duplicate threshold (pairs scoring at least this are
/// suspected duplicates), in the vault's journaled local state. For the
/// people who run the duplicate pass; a value outside
/// [`super::duplicates::THRESHOLD`]..=1 is refused, and so is anyone but
/// a data manager (who reviews the queue it governs).
pub fn set_threshold(store: &mut CaseStore, threshold: f64) -> Result<(), SearchError> {
    store.reader().duplicates().map_err(SearchError::Hidden)?;
    let (_, role) = store.actor();
    if role != crate::model::event::Role::DataManager {
        return Err(SearchError::ThresholdNotYours(role.to_string()));
    }
    if !(super::duplicates::THRESHOLD..=1.0).contains(&threshold) {
        return Err(SearchError::BadThreshold(threshold));
    }
    store.commit_sync_entries(vec![projection::sync_put_entry(super::duplicates::THRESHOLD_KEY, &json!(threshold))])?;
    Ok(())
}

/// Keep the pairs of a pass that still await a decision ([`pending`]);
/// returns how many reviewed pairs were left out. What `fieldcase
/// duplicates` and the Office screen list.
pub fn retain_awaiting_review(conn: &Connection, pairs: &mut Vec<DuplicatePair>) -> rusqlite::Result<usize> {
    let pending: HashSet<(String, String)> = pending(conn)?.into_iter().collect();
    let before = pairs.len();
    pairs.retain(|p| {
        let (a, b) = if p.case_a < p.case_b { (&p.case_a, &p.case_b) } else { (&p.case_b, &p.case_a) };
        pending.contains(&(a.clone(), b.clone()))
    });
    Ok(before - pairs.len())
}

/// The flagged pairs still awaiting a decision (see the module docs).
pub fn pending(conn: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    let flagged = flagged(conn)?;
    if flagged.is_empty() {
        return Ok(Vec::new());
    }
    let cases: HashSet<&str> = flagged.iter().flat_map(|(a, b)| [a.as_str(), b.as_str()]).collect();
    let mut resolved: HashSet<&str> = HashSet::new();
    let mut reviewed: HashSet<(String, String)> = HashSet::new();
    let mut case_row = conn.prepare_cached("SELECT merged_into IS NOT NULL OR erased <> 0 FROM cases WHERE id = ?1")?;
    // events_by_case leads with case_id: a range read per flagged case.
    let mut decisions = conn.prepare_cached(
        "SELECT json FROM events WHERE case_id = ?1 AND kind IN ('case.not_duplicate', 'case.split')",
    )?;
    for case in &cases {
        let gone: Option<bool> = case_row.query_row(params![case], |r| r.get(0)).optional()?;
        if gone.unwrap_or(true) {
            resolved.insert(case);
            continue;
        }
        let mut rows = decisions.query(params![case])?;
        while let Some(r) = rows.next()? {
            let text: String = r.get(0)?;
            let Ok(e) = serde_json::from_str::<Value>(&text) else { continue };
            let p = &e["payload"];
            if let Some(other) = p["other"].as_str().or_else(|| p["from"].as_str()) {
                let (x, y) = if *case < other { (*case, other) } else { (other, *case) };
                reviewed.insert((x.to_string(), y.to_string()));
            }
        }
    }
    Ok(flagged
        .iter()
        .filter(|(a, b)| !resolved.contains(a.as_str()) && !resolved.contains(b.as_str()))
        .filter(|p| !reviewed.contains(*p))
        .cloned()
        .collect())
}

/// How many flagged pairs each case is in, for the pending pairs.
pub fn pending_cases(conn: &Connection) -> rusqlite::Result<HashMap<String, usize>> {
    let mut out: HashMap<String, usize> = HashMap::new();
    for (a, b) in pending(conn)? {
        *out.entry(a).or_default() += 1;
        *out.entry(b).or_default() += 1;
    }
    Ok(out)
}
