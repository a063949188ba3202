//! The search views the shells call: search hits, tracing matches and
//! duplicate pairs kept to what the person who unlocked may see
//! (docs/visibility.md). The engines ([`crate::search::query::search`],
//! [`crate::search::trace::trace`], [`crate::search::duplicates`]) see every
//! case; these views filter their results with the rules of
//! [`crate::model::visibility`] and say how many results they left out and
//! why.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::store::{CaseStore, StoreError};
use crate::model::visibility::{count_hidden, HiddenCount, HiddenReason};
use crate::search::duplicates::{self, DuplicatePair};
use crate::search::query::{self, Hit, Query, SearchError, CANDIDATES};
use crate::search::trace::{self, TraceMatch};

/// Search results as the reader may see them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchView {
    /// Hits in cases the reader may see, best first.
    pub hits: Vec<Hit>,
    /// Why the hits' person columns (names, age, sex, matched words) are
    /// empty, when the reader may not see them (a data manager).
    pub withheld: Option<HiddenReason>,
    /// Matching cases left out, counted by reason (among the ranked
    /// candidates).
    pub hidden: Vec<HiddenCount>,
}

/// Tracing matches as the reader may see them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceView {
    /// Matches in cases the reader may see, best first.
    pub matches: Vec<TraceMatch>,
    /// Matches in other cases, counted by reason.
    pub hidden: Vec<HiddenCount>,
}

/// Suspected duplicate pairs as the reader may see them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DuplicatesView {
    /// Pairs whose both cases the reader may see.
    pub pairs: Vec<DuplicatePair>,
    /// Pairs with a case the reader may not see, counted by reason.
    pub hidden: Vec<HiddenCount>,
}

/// Whether the reader sees each case id, asked once per case.
struct Seen<'a> {
    store: &'a CaseStore,
    cache: HashMap<String, Result<(), HiddenReason>>,
}

impl Seen<'_> {
    fn check(&mut self, id: &str) -> Result<Result<(), HiddenReason>, StoreError> {
        if let Some(r) = self.cache.get(id) {
            return Ok(*r);
        }
        let case = Uuid::parse_str(id).map_err(|_| StoreError::NotFound { case: id.to_string() })?;
        let r = self.store.sees(case)?;
        self.cache.insert(id.to_string(), r);
        Ok(r)
    }
}

/// Run a query as the reader: the hits in cases they may see, the person
/// columns withheld from a data manager, refused for a reporting viewer.
pub fn search_for(store: &CaseStore, q: &Query) -> Result<SearchView, SearchError> {
    let reader = store.reader();
    reader.records().map_err(SearchError::Hidden)?;
    let limit = if q.limit == 0 { 50 } else { q.limit };
    let candidates = query::ranked(store.vault().conn(), q, (CANDIDATES as usize).max(limit))?;
    let mut seen = Seen { store, cache: HashMap::new() };
    let mut hits = Vec::new();
    let mut hidden = Vec::new();
    let withheld = reader.identity();
    for mut hit in candidates {
        match seen.check(&hit.case_id)? {
            Ok(()) => {
                if withheld.is_some() {
                    hit.given_names.clear();
                    hit.family_name.clear();
                    hit.age = None;
                    hit.sex = None;
                    hit.matched.clear();
                    // How many words matched is part of the matched words.
                    hit.words_matched = 0;
                    hit.words = 0;
                }
                hits.push(hit);
            }
            Err(reason) => hidden.push(reason),
        }
    }
    hits.truncate(limit);
    Ok(SearchView { hits, withheld, hidden: count_hidden(hidden) })
}

/// [`search_for`] of a query string.
pub fn search_text_for(store: &CaseStore, text: &str) -> Result<SearchView, SearchError> {
    search_for(store, &Query::parse(text)?)
}

/// Tracing matches of a case the reader may see, among the cases they may
/// see. Refused for a viewer and a data manager (tracing shows the names
/// of the people matched).
pub fn trace_for(store: &CaseStore, case: Uuid) -> Result<TraceView, SearchError> {
    store.reader().tracing().map_err(SearchError::Hidden)?;
    store.require_record(case)?;
    let all = trace::trace(store.vault().conn(), &case.to_string())?;
    let mut seen = Seen { store, cache: HashMap::new() };
    let mut matches = Vec::new();
    let mut hidden = Vec::new();
    for m in all {
        match seen.check(&m.case_id)? {
            Ok(()) => matches.push(m),
            Err(reason) => hidden.push(reason),
        }
    }
    Ok(TraceView { matches, hidden: count_hidden(hidden) })
}

/// Of `pairs` (a duplicate pass or [`duplicates::duplicates_of`]), those
/// whose both cases the reader may see. Refused for a viewer.
pub fn visible_pairs(store: &CaseStore, pairs: Vec<DuplicatePair>) -> Result<DuplicatesView, SearchError> {
    store.reader().duplicates().map_err(SearchError::Hidden)?;
    let mut seen = Seen { store, cache: HashMap::new() };
    let mut shown = Vec::new();
    let mut hidden = Vec::new();
    for p in pairs {
        match seen.check(&p.case_a)?.and(seen.check(&p.case_b)?) {
            Ok(()) => shown.push(p),
            Err(reason) => hidden.push(reason),
        }
    }
    Ok(DuplicatesView { pairs: shown, hidden: count_hidden(hidden) })
}

/// Suspected duplicates of a case the reader may see, among the cases they
/// may see.
pub fn duplicates_of_for(store: &CaseStore, case: Uuid) -> Result<DuplicatesView, SearchError> {
    store.reader().duplicates().map_err(SearchError::Hidden)?;
    store.require_record(case)?;
    let pairs = duplicates::duplicates_of(store.vault().conn(), &case.to_string())?;
    visible_pairs(store, pairs)
}
