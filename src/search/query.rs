//! Search: free text and filters over the index, ranked hits with the terms
//! that matched.
//!
//! Query syntax (words are ANDed; filters are `name:value`):
//! `mohamed diallo age:10-14 stage:tracing caseworker:amina location:labe
//! office:agadez sex:male case:AGZ-0001 merged:yes`. A free word matches a
//! name (exactly, as a spelling variant through its name keys, or as the
//! start of a name), a case number, a place, a caseworker or a relative's
//! name; hits are ranked by how well each word matched.

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
    /// The case store refused, e.g. a case the reader may not see.
    #[error(transparent)]
    Store(#[from] crate::model::store::StoreError),
}

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
    /// How: `exact`, `spelling_variant`, `prefix`, `similar`.
    pub how: String,
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
    /// What each query word matched.
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

/// Every ranked candidate of a query, best first: up to [`CANDIDATES`]
/// full-text candidates, or `browse` cases when the query has no words
/// (filters only), in case-number order.
pub fn ranked(conn: &Connection, q: &Query, browse: usize) -> Result<Vec<Hit>, SearchError> {
    index::ensure_built(conn)?;
    let words: Vec<String> = q.words.iter().flat_map(|w| names::tokens(w)).collect();
    // Keys of the query words, computed once: the MATCH and every
    // candidate's ranking use them.
    let word_keys: Vec<(String, BTreeSet<String>)> = words.iter().map(|w| (w.clone(), names::token_keys(w))).collect();
    let mut match_parts = Vec::new();
    for (w, keys) in &word_keys {
        // One prefix phrase over the five text columns, not one per column:
        // the same matches, but FTS5 merges the prefix's doclists once, and
        // bm25 reads statistics for one phrase instead of five (full names
        // of common words were the slowest queries at 50,000 cases).
        let mut alts = vec![format!("{{case_number names locations caseworker relatives}} : {}*", quote(w))];
        if !keys.is_empty() {
            alts.push(format!("keys : ({})", keys.iter().map(|k| quote(k)).collect::<Vec<_>>().join(" OR ")));
        }
        match_parts.push(format!("({})", alts.join(" OR ")));
    }
    for (col, v) in [("locations", &q.location), ("caseworker", &q.caseworker), ("locations", &q.office)] {
        if let Some(v) = v {
            for t in names::tokens(v) {
                match_parts.push(format!("{col} : {}*", quote(&t)));
            }
        }
    }
    let mut sql = String::new();
    let mut args: Vec<SqlValue> = Vec::new();
    if match_parts.is_empty() {
        sql.push_str("SELECT d.person FROM search_docs d JOIN cases c ON c.id = d.case_id WHERE 1 = 1");
    } else {
        sql.push_str(
            "SELECT d.person FROM search_fts f JOIN search_docs d ON d.doc = f.rowid JOIN cases c ON c.id = d.case_id
             WHERE search_fts MATCH ?",
        );
        args.push(SqlValue::Text(match_parts.join(" AND ")));
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
    if match_parts.is_empty() {
        sql.push_str(" ORDER BY c.case_number LIMIT ?");
        args.push(SqlValue::Integer(i64::try_from(browse).unwrap_or(i64::MAX)));
    } else {
        sql.push_str(" ORDER BY bm25(search_fts, 4.0, 10.0, 5.0, 1.0, 1.0, 0.5) LIMIT ?");
        args.push(SqlValue::Integer(CANDIDATES));
    }
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| r.get::<_, String>(0))?;
    let mut hits = Vec::new();
    for json in rows {
        let Ok(p) = serde_json::from_str::<CasePerson>(&json?) else {
            continue;
        };
        hits.push(rank(&p, &word_keys));
    }
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.case_number.cmp(&b.case_number)));
    Ok(hits)
}

/// Score one person against the query words and list what matched.
fn rank(p: &CasePerson, words: &[(String, BTreeSet<String>)]) -> Hit {
    let mut score = 0.0;
    let mut matched = Vec::new();
    let name_tokens: Vec<(String, String, BTreeSet<String>)> = p
        .all_names()
        .iter()
        .flat_map(|n| n.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .flat_map(|raw| {
            names::tokens(&raw).into_iter().map(move |t| {
                let keys = names::token_keys(&t);
                (t, raw.clone(), keys)
            })
        })
        .collect();
    let field_tokens = |field: &'static str, text: Option<&str>| -> Vec<(&'static str, String, String)> {
        text.map(|t| {
            t.split_whitespace()
                .flat_map(|raw| names::tokens(raw).into_iter().map(move |tok| (field, tok, raw.to_string())))
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
    for (w, w_keys) in words {
        // Best match of this word: (points, field, matched, how).
        let mut best: Option<(f64, &str, String, &str)> = None;
        let mut consider = |pts: f64, field: &'static str, raw: &str, how: &'static str| {
            if best.as_ref().is_none_or(|b| pts > b.0) {
                best = Some((pts, field, raw.to_string(), how));
            }
        };
        for (tok, raw, tok_keys) in &name_tokens {
            if tok == w {
                consider(3.0, "name", raw, "exact");
            } else if !tok_keys.is_disjoint(w_keys) {
                // Same test as names::same_name, with keys computed once.
                consider(2.0, "name", raw, "spelling_variant");
            } else if tok.starts_with(w.as_str()) {
                consider(1.5, "name", raw, "prefix");
            } else if tok.len().min(w.len()) >= 4 && names::jaro_winkler(tok, w) >= 0.88 {
                // names::token_similarity > 0 once equality and shared
                // keys are ruled out.
                consider(1.0, "name", raw, "similar");
            }
        }
        for (field, tok, raw) in &others {
            let weight = match *field {
                "case_number" => 3.0,
                "relative" => 0.5,
                _ => 1.0,
            };
            if tok == w {
                consider(weight, field, raw, "exact");
            } else if tok.starts_with(w.as_str()) {
                consider(weight * 0.8, field, raw, "prefix");
            }
        }
        if let Some((pts, field, raw, how)) = best {
            score += pts;
            matched.push(MatchedTerm { term: w.clone(), field: field.to_string(), matched: raw, how: how.to_string() });
        }
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
        matched,
    }
}

/// Parse and run a query string.
pub fn search_text(conn: &Connection, text: &str) -> Result<Vec<Hit>, SearchError> {
    search(conn, &Query::parse(text)?)
}
