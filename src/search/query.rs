//! Search: free text and filters over the index, ranked hits with the terms
//! that matched.
//!
//! Query syntax (words are ANDed; filters are `name:value`):
//! `mohamed diallo age:10-14 stage:tracing caseworker:amina location:labe
//! office:agadez sex:male case:AGZ-0001 merged:yes`. A free word matches a
//! name (exactly, as a spelling variant through its name keys, written
//! joined or split, or as the start of a name), a case number, a place, a
//! caseworker or a relative's name; hits are ranked by how well each word
//! matched. A hit need not match every word: cases matching most of the
//! query are listed below the full matches, each word explained.

use std::collections::BTreeSet;

use rusqlite::{params_from_iter, types::Value as SqlValue, Connection};
use serde::{Deserialize, Serialize};

use crate::search::index;
use crate::search::names;
use crate::search::person::CasePerson;

/// Why a search could not run.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// A filter the query language does not know.
    #[error("unknown filter {0:?}: use age:, stage:, caseworker:, location:, office:, sex:, case: or merged:")]
    UnknownFilter(String),
    /// An age filter that is not `N` or `N-M`.
    #[error("age filter {0:?} must be a number or a range such as age:10-14")]
    BadAge(String),
    /// The case named (for tracing or duplicates) is not in the index.
    #[error("no registered case {0}")]
    NoSuchCase(String),
    /// Database failure.
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    /// The person who unlocked may not search or trace people
    /// (docs/visibility.md).
    #[error("not open to you: {0}")]
    Hidden(crate::model::visibility::HiddenReason),
    /// A duplicate threshold outside the range a score can take.
    #[error("duplicate threshold {0} must be between {min} and 1", min = crate::search::duplicates::THRESHOLD)]
    BadThreshold(f64),
    /// Someone other than a data manager tried to set the office's
    /// duplicate threshold.
    #[error("only a data manager sets the duplicate threshold (unlocked as {0})")]
    ThresholdNotYours(String),
    /// The case store refused, e.g. a case the reader may not see.
    #[error(transparent)]
    Store(#[from] crate::model::store::StoreError),
}

// Each failure's stable code for the interfaces (crate::codes).
crate::error_codes! { SearchError {
    nested {
        SearchError::Store(s) => s: crate::model::store::StoreError;
    }
    SearchError::UnknownFilter(filter) => "search_unknown_filter" { filter };
    SearchError::BadAge(age) => "search_bad_age" { age };
    SearchError::NoSuchCase(case) => "case_not_found" { case };
    SearchError::Db(_) => "database_error";
    SearchError::Hidden(reason) => "hidden" { reason = reason.code() };
    SearchError::BadThreshold(threshold) => "search_bad_threshold" { threshold };
    SearchError::ThresholdNotYours(_) => "threshold_not_yours";
} }

/// A parsed query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Query {
    /// Free words.
    pub words: Vec<String>,
    /// Case id or case number (prefix).
    pub case: Option<String>,
    /// Minimum age (inclusive).
    pub age_min: Option<f64>,
    /// Maximum age (inclusive).
    pub age_max: Option<f64>,
    /// Place (origin, separation or office), prefix of a word.
    pub location: Option<String>,
    /// Exact stage name.
    pub stage: Option<String>,
    /// Caseworker, prefix of a word.
    pub caseworker: Option<String>,
    /// Office, prefix of a word.
    pub office: Option<String>,
    /// Sex (`female`, `male`, `other_unknown`).
    pub sex: Option<String>,
    /// Include cases merged into another case (default: yes, ranked lower).
    pub exclude_merged: bool,
    /// Maximum hits (0 = 50).
    pub limit: usize,
}

impl Query {
    /// Parse the query language (see the module docs).
    pub fn parse(text: &str) -> Result<Query, SearchError> {
        let mut q = Query::default();
        for word in text.split_whitespace() {
            let Some((name, value)) = word.split_once(':').filter(|(n, v)| !n.is_empty() && !v.is_empty()) else {
                q.words.push(word.to_string());
                continue;
            };
            let value = value.to_string();
            match name.to_lowercase().as_str() {
                "age" => {
                    let parse = |s: &str| s.trim().parse::<f64>().map_err(|_| SearchError::BadAge(value.clone()));
                    match value.split_once('-') {
                        Some((a, b)) => {
                            q.age_min = Some(parse(a)?);
                            q.age_max = Some(parse(b)?);
                        }
                        None => {
                            let a = parse(&value)?;
                            q.age_min = Some(a);
                            q.age_max = Some(a);
                        }
                    }
                }
                "stage" => q.stage = Some(value),
                "caseworker" | "cw" => q.caseworker = Some(value),
                "location" | "place" | "loc" => q.location = Some(value),
                "office" => q.office = Some(value),
                "sex" => q.sex = Some(value),
                "case" | "id" | "number" => q.case = Some(value),
                "merged" => q.exclude_merged = matches!(value.as_str(), "no" | "false" | "0"),
                other => return Err(SearchError::UnknownFilter(other.to_string())),
            }
        }
        Ok(q)
    }
}

/// One word of the query and what it matched in a hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchedTerm {
    /// The query word (folded).
    pub term: String,
    /// Where it matched: `name`, `case_number`, `location`, `caseworker`,
    /// `relative`.
    pub field: String,
    /// The word of the record it matched, as recorded.
    pub matched: String,
    /// How: `exact`, `spelling_variant`, `prefix`, `similar`,
    /// `compound` (written joined in one, split in the other),
    /// `particle` (only a particle such as `Abd` matched), or
    /// [`UNMATCHED`] (the word matched nothing in this case; `field` and
    /// `matched` are empty).
    pub how: String,
}

/// The `how` of a query word that matched nothing in a hit.
pub const UNMATCHED: &str = "unmatched";

impl MatchedTerm {
    /// Whether the word matched something in the case.
    pub fn is_match(&self) -> bool {
        self.how != UNMATCHED
    }
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Case id.
    pub case_id: String,
    /// Case number.
    pub case_number: String,
    /// Given names.
    pub given_names: String,
    /// Family name.
    pub family_name: String,
    /// Age.
    pub age: Option<f64>,
    /// Sex.
    pub sex: Option<String>,
    /// Stage.
    pub stage: String,
    /// Office.
    pub office: String,
    /// Caseworker.
    pub caseworker: Option<String>,
    /// Set when the case was merged into another one.
    pub merged_into: Option<String>,
    /// Relevance (higher is better).
    pub score: f64,
    /// How many of the query's words matched (at least half of them, all
    /// of a one-word query).
    #[serde(default)]
    pub words_matched: usize,
    /// How many words the query had.
    #[serde(default)]
    pub words: usize,
    /// Every query word, in query order: what it matched, or
    /// [`UNMATCHED`].
    pub matched: Vec<MatchedTerm>,
}

fn quote(token: &str) -> String {
    format!("\"{}\"", token.replace('"', ""))
}

/// How many FTS candidates are re-ranked.
pub const CANDIDATES: i64 = 300;

/// Run a query against the index (built first if missing). This is the
/// engine: it sees every case. The shells call
/// [`crate::search::visible::search_for`], which keeps what the reader may
/// see.
pub fn search(conn: &Connection, q: &Query) -> Result<Vec<Hit>, SearchError> {
    let limit = if q.limit == 0 { 50 } else { q.limit };
    let mut hits = ranked(conn, q, limit)?;
    hits.truncate(limit);
    Ok(hits)
}

/// Full-text candidates below which the words are also searched one by
/// one (any of them), so that a case matching most of the query still
/// shows when no case matches all of it. Queries with many full matches
/// (common names: the slow ones) never run the second pass.
const PARTIAL_BELOW: usize = 50;

/// Words of a query of `n` words a hit must match to be shown: all of a
/// one-word query, half (rounded up) of a longer one.
pub fn words_needed(n: usize) -> usize {
    if n <= 1 {
        n
    } else {
        n.div_ceil(2)
    }
}

/// One query word: what was typed (folded), its name units and its plain
/// folded tokens (for places, case numbers, caseworkers).
struct QueryWord {
    term: String,
    units: Vec<names::NameUnit>,
    plain: Vec<String>,
}

fn query_words(words: &[String]) -> Vec<QueryWord> {
    let units = names::name_units(&words.join(" "));
    words
        .iter()
        .enumerate()
        .map(|(i, w)| QueryWord {
            term: names::fold(w).split_whitespace().collect::<Vec<_>>().join(" "),
            units: units.iter().filter(|u| u.word == i).cloned().collect(),
            plain: names::plain_tokens(w),
        })
        .filter(|w| !w.term.is_empty())
        .collect()
}

/// The FTS5 expression of one query word for the partial pass: its keys
/// only. Prefixes over five columns were what made the OR of a common
/// word slow; a word that matches a case only as a prefix or a typo is
/// left to the full pass.
fn match_word_keys(w: &QueryWord) -> Option<String> {
    let keys: BTreeSet<&String> = w.units.iter().flat_map(|u| &u.keys).collect();
    (!keys.is_empty()).then(|| format!("keys : ({})", keys.iter().map(|k| quote(k)).collect::<Vec<_>>().join(" OR ")))
}

/// The FTS5 expression of one query word: any of its units or plain
/// tokens as a prefix of a text column, or any of its keys.
fn match_word(w: &QueryWord) -> String {
    let mut prefixes: BTreeSet<&str> = BTreeSet::new();
    for u in w.units.iter().filter(|u| !u.particle) {
        prefixes.insert(&u.text);
    }
    let only_particles = w.units.iter().all(|u| u.particle);
    for p in &w.plain {
        // A particle typed alone (`al`, `abd`) is found by its key; as a
        // prefix it would pull in every `Al…` name.
        if !only_particles || p.chars().count() >= 4 {
            prefixes.insert(p);
        }
    }
    let keys: BTreeSet<&String> = w.units.iter().flat_map(|u| &u.keys).collect();
    let mut alts: Vec<String> = prefixes
        .iter()
        // One prefix phrase over the five text columns, not one per column:
        // FTS5 merges the prefix's doclists once, and bm25 reads
        // statistics for one phrase instead of five.
        .map(|p| format!("{{case_number names locations caseworker relatives}} : {}*", quote(p)))
        .collect();
    if !keys.is_empty() {
        alts.push(format!("keys : ({})", keys.iter().map(|k| quote(k)).collect::<Vec<_>>().join(" OR ")));
    }
    if alts.is_empty() {
        alts.push(format!("names : {}", quote(&w.term)));
    }
    format!("({})", alts.join(" OR "))
}

/// Every ranked candidate of a query, best first: up to [`CANDIDATES`]
/// full-text candidates matching every word, then (when fewer than
/// [`PARTIAL_BELOW`]) up to as many matching any word; hits matching fewer
/// than [`words_needed`] words are dropped. With no words (filters only):
/// `browse` cases in case-number order. Filters are always strict.
pub fn ranked(conn: &Connection, q: &Query, browse: usize) -> Result<Vec<Hit>, SearchError> {
    index::ensure_built(conn)?;
    let words = query_words(&q.words);
    let word_parts: Vec<String> = words.iter().map(match_word).collect();
    let mut filter_parts = Vec::new();
    for (col, v) in [("locations", &q.location), ("caseworker", &q.caseworker), ("locations", &q.office)] {
        if let Some(v) = v {
            for t in names::plain_tokens(v) {
                filter_parts.push(format!("{col} : {}*", quote(&t)));
            }
        }
    }
    let and = |parts: &[String]| parts.join(" AND ");
    let every_word = (!word_parts.is_empty() || !filter_parts.is_empty())
        .then(|| and(&word_parts.iter().chain(&filter_parts).cloned().collect::<Vec<_>>()));
    let needed = words_needed(words.len());
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut hits = Vec::new();
    let mut collect = |expr: Option<&str>, hits: &mut Vec<Hit>| -> Result<(), SearchError> {
        for json in candidates(conn, q, expr, browse)? {
            let Ok(p) = serde_json::from_str::<CasePerson>(&json) else {
                continue;
            };
            if seen.insert(p.case_id.clone()) {
                let hit = rank(&p, &words);
                if hit.words_matched >= needed {
                    hits.push(hit);
                }
            }
        }
        Ok(())
    };
    collect(every_word.as_deref(), &mut hits)?;
    let key_parts: Vec<String> = words.iter().filter_map(match_word_keys).collect();
    if words.len() >= 2 && hits.len() < PARTIAL_BELOW && !key_parts.is_empty() {
        let mut any_word = vec![format!("({})", key_parts.join(" OR "))];
        any_word.extend(filter_parts.iter().cloned());
        collect(Some(&and(&any_word)), &mut hits)?;
    }
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.case_number.cmp(&b.case_number)));
    Ok(hits)
}

/// The person JSON of the cases matching one full-text expression and the
/// filters (or of `browse` cases when there is no expression).
fn candidates(conn: &Connection, q: &Query, expr: Option<&str>, browse: usize) -> Result<Vec<String>, SearchError> {
    let mut sql = String::new();
    let mut args: Vec<SqlValue> = Vec::new();
    match expr {
        None => sql.push_str("SELECT d.person FROM search_docs d JOIN cases c ON c.id = d.case_id WHERE 1 = 1"),
        Some(e) => {
            sql.push_str(
                "SELECT d.person FROM search_fts f JOIN search_docs d ON d.doc = f.rowid JOIN cases c ON c.id = d.case_id
                 WHERE search_fts MATCH ?",
            );
            args.push(SqlValue::Text(e.to_string()));
        }
    }
    if let Some(case) = &q.case {
        sql.push_str(" AND (c.id = ? OR c.case_number LIKE ? ESCAPE '\\')");
        args.push(SqlValue::Text(case.clone()));
        let escaped = case.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        args.push(SqlValue::Text(format!("{escaped}%")));
    }
    if let Some(min) = q.age_min {
        sql.push_str(" AND CAST(c.age_years AS REAL) >= ?");
        args.push(SqlValue::Real(min));
    }
    if let Some(max) = q.age_max {
        sql.push_str(" AND CAST(c.age_years AS REAL) <= ?");
        args.push(SqlValue::Real(max));
    }
    if let Some(stage) = &q.stage {
        sql.push_str(" AND c.stage = ?");
        args.push(SqlValue::Text(stage.clone()));
    }
    if let Some(sex) = &q.sex {
        sql.push_str(" AND c.sex = ?");
        args.push(SqlValue::Text(sex.clone()));
    }
    if q.exclude_merged {
        sql.push_str(" AND c.merged_into IS NULL");
    }
    if expr.is_none() {
        sql.push_str(" ORDER BY c.case_number LIMIT ?");
        args.push(SqlValue::Integer(i64::try_from(browse).unwrap_or(i64::MAX)));
    } else {
        sql.push_str(" ORDER BY bm25(search_fts, 4.0, 10.0, 5.0, 1.0, 1.0, 0.5) LIMIT ?");
        args.push(SqlValue::Integer(CANDIDATES));
    }
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A unit of a recorded name, with the recorded word it came from.
struct RecordUnit {
    unit: names::NameUnit,
    /// The recorded word, as written.
    raw: String,
    /// (name, word) it came from, to tell joined from split writing.
    at: (usize, usize),
}

/// How one query unit matched one recorded unit: (points, how).
fn unit_match(q: &names::NameUnit, r: &names::NameUnit) -> Option<(f64, &'static str)> {
    if q.particle || r.particle {
        // A particle only stands for its class: weak on its own.
        return (q.particle && r.particle && !q.keys.is_disjoint(&r.keys)).then_some((0.5, "particle"));
    }
    if q.text == r.text {
        Some((3.0, "exact"))
    } else if !q.keys.is_disjoint(&r.keys) {
        Some((2.0, "spelling_variant"))
    } else if r.text.starts_with(q.text.as_str()) {
        Some((1.5, "prefix"))
    } else if r.text.len().min(q.text.len()) >= 4 && names::jaro_winkler(&r.text, &q.text) >= 0.88 {
        Some((1.0, "similar"))
    } else {
        None
    }
}

/// Score one person against the query words and explain every word:
/// matched (where, to which recorded word, how) or not.
fn rank(p: &CasePerson, words: &[QueryWord]) -> Hit {
    let mut record: Vec<RecordUnit> = Vec::new();
    let mut units_per_word: std::collections::HashMap<(usize, usize), usize> = Default::default();
    for (ni, n) in p.all_names().iter().enumerate() {
        let raw: Vec<&str> = n.split_whitespace().collect();
        for u in names::name_units(n) {
            let at = (ni, u.word);
            *units_per_word.entry(at).or_default() += 1;
            record.push(RecordUnit { raw: raw.get(u.word).copied().unwrap_or("").to_string(), at, unit: u });
        }
    }
    let field_tokens = |field: &'static str, text: Option<&str>| -> Vec<(&'static str, String, String)> {
        text.map(|t| {
            t.split_whitespace()
                .flat_map(|raw| names::plain_tokens(raw).into_iter().map(move |tok| (field, tok, raw.to_string())))
                .collect()
        })
        .unwrap_or_default()
    };
    let mut others = Vec::new();
    others.extend(field_tokens("case_number", Some(&p.case_number)));
    for loc in [p.place_of_origin.as_deref(), p.separation_place.as_deref(), Some(p.office.as_str())] {
        others.extend(field_tokens("location", loc));
    }
    others.extend(field_tokens("caseworker", p.caseworker.as_deref()));
    for r in p.family.iter().chain(&p.sought) {
        others.extend(field_tokens("relative", Some(&r.name)));
    }
    let mut score = 0.0;
    let mut matched = Vec::new();
    let mut words_matched = 0;
    // Units of the registered name (given + family) some word matched.
    let mut covered: BTreeSet<usize> = BTreeSet::new();
    for w in words {
        // Best match of this word: (points, field, matched, how).
        let mut best: Option<(f64, &'static str, String, &'static str)> = None;
        let mut consider = |pts: f64, field: &'static str, raw: String, how: &'static str| {
            if best.as_ref().is_none_or(|b| pts > b.0) {
                best = Some((pts, field, raw, how));
            }
        };
        // As a name: every unit of the word found among the recorded units.
        let names_in_word = w.units.iter().filter(|u| !u.particle).count();
        let mut total = 0.0;
        let mut found = 0usize;
        let mut hows: Vec<&'static str> = Vec::new();
        let mut raws: Vec<&str> = Vec::new();
        let mut ats: BTreeSet<(usize, usize)> = BTreeSet::new();
        for qu in &w.units {
            let mut unit_best: Option<(f64, &'static str, &RecordUnit, usize)> = None;
            for (ri, r) in record.iter().enumerate() {
                if let Some((pts, how)) = unit_match(qu, &r.unit) {
                    if unit_best.as_ref().is_none_or(|b| pts > b.0) {
                        unit_best = Some((pts, how, r, ri));
                    }
                }
            }
            if let Some((pts, how, r, ri)) = unit_best {
                covered.insert(ri);
                total += pts;
                if !qu.particle || names_in_word == 0 {
                    found += 1;
                }
                if !qu.particle {
                    hows.push(how);
                }
                if !raws.contains(&r.raw.as_str()) {
                    raws.push(&r.raw);
                }
                ats.insert(r.at);
            }
        }
        let needed = if names_in_word == 0 { w.units.len() } else { names_in_word };
        if needed > 0 && found >= needed {
            let units = names_in_word.max(1) as f64;
            // Joined in one, split in the other (or otherwise cut apart).
            let recorded_units: usize = ats.iter().map(|a| units_per_word.get(a).copied().unwrap_or(0)).sum();
            let compound = ats.len() > 1 || recorded_units != w.units.len();
            let how = if compound && w.units.len() + recorded_units > 2 {
                "compound"
            } else {
                // The weakest unit says how the word matched.
                ["similar", "prefix", "spelling_variant", "exact", "particle"]
                    .into_iter()
                    .find(|h| hows.contains(h))
                    .unwrap_or("particle")
            };
            let pts = if names_in_word == 0 { total.min(1.0) } else { (total / units).min(3.0) };
            consider(pts, "name", raws.join(" "), how);
        }
        for (field, tok, raw) in &others {
            let weight = match *field {
                "case_number" => 3.0,
                "relative" => 0.5,
                _ => 1.0,
            };
            for pl in &w.plain {
                if tok == pl {
                    consider(weight, field, raw.clone(), "exact");
                } else if tok.starts_with(pl.as_str()) {
                    consider(weight * 0.8, field, raw.clone(), "prefix");
                }
            }
        }
        match best {
            Some((pts, field, raw, how)) => {
                score += pts;
                words_matched += 1;
                matched.push(MatchedTerm {
                    term: w.term.clone(),
                    field: field.to_string(),
                    matched: raw,
                    how: how.to_string(),
                });
            }
            None => matched.push(MatchedTerm {
                term: w.term.clone(),
                field: String::new(),
                matched: String::new(),
                how: UNMATCHED.to_string(),
            }),
        }
    }
    // Of two cases matching the same words, the one whose registered name
    // has fewest words left over comes first (`Mohamed Diallo` before
    // `Mohamed Kokene Diallo` for `mohamed diallo`).
    let primary: Vec<usize> =
        record.iter().enumerate().filter(|(_, r)| r.at.0 == 0 && !r.unit.particle).map(|(i, _)| i).collect();
    if words_matched > 0 && !primary.is_empty() {
        let hit = primary.iter().filter(|i| covered.contains(i)).count();
        score += hit as f64 / primary.len() as f64;
    }
    if p.merged_into.is_some() {
        // Still findable (the number may be on paper), but below live cases.
        score *= 0.5;
    }
    Hit {
        case_id: p.case_id.clone(),
        case_number: p.case_number.clone(),
        given_names: p.given_names.clone(),
        family_name: p.family_name.clone(),
        age: p.age,
        sex: p.sex.clone(),
        stage: p.stage.clone(),
        office: p.office.clone(),
        caseworker: p.caseworker.clone(),
        merged_into: p.merged_into.clone(),
        score,
        words_matched,
        words: words.len(),
        matched,
    }
}

/// Parse and run a query string.
pub fn search_text(conn: &Connection, text: &str) -> Result<Vec<Hit>, SearchError> {
    search(conn, &Query::parse(text)?)
}
