//! Family tracing matches for one case, each with an explained score.
//!
//! Three kinds of match, all found through the name-key table (never a scan
//! of every case) and scored from the parts that agree or disagree:
//!
//! - `sought_relative`: this case's tracing request (a `family_tracing`
//!   item: the relative sought) may be a child registered in another case
//!   (names, sex, age of the person sought; the two children's parents and
//!   places of origin).
//! - `sibling`: another registered child with the same recorded mother or
//!   father (parents' names, family name, place of origin, separation).
//! - `sought_by`: another case's tracing request seeks someone like this
//!   child (a parent or sibling looking for them).
//!
//! Scores are points out of 100 (capped); each part says what it compared
//! and how many points it gave.

use std::collections::BTreeMap;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::search::duplicates::ScorePart;
use crate::search::index;
use crate::search::names;
use crate::search::person::{CasePerson, Relative};
use crate::search::query::SearchError;

/// Matches below this many points are not shown.
pub const MIN_POINTS: f64 = 35.0;

/// One tracing match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceMatch {
    /// `sought_relative`, `sibling` or `sought_by`.
    pub kind: String,
    /// The other case.
    pub case_id: String,
    /// Its number.
    pub case_number: String,
    /// The other child's name.
    pub name: String,
    /// The tracing request involved (`family_tracing` item), if any.
    pub request_item: Option<String>,
    /// The person sought, if the match is about a request.
    pub sought_name: Option<String>,
    /// 0..100.
    pub score: f64,
    /// The parts of the score.
    pub parts: Vec<ScorePart>,
}

pub(crate) fn tokens_of(names: &[String]) -> Vec<String> {
    names.iter().flat_map(|n| names::tokens(n)).collect()
}

/// Mean best similarity of the tokens of `a` among the tokens of `b`.
pub(crate) fn name_cover(a: &[String], b: &[String]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    a.iter().map(|t| b.iter().map(|o| names::token_similarity(t, o)).fold(0.0, f64::max)).sum::<f64>() / a.len() as f64
}

pub(crate) fn relative_names(r: &Relative) -> Vec<String> {
    std::iter::once(r.name.clone()).chain(r.other_names.iter().cloned()).collect()
}

/// Add part `part`, explained by `code` with its values (`search::explain`).
pub(crate) fn add(
    parts: &mut Vec<ScorePart>,
    part: &str,
    code: &'static str,
    params: Vec<(&'static str, String)>,
    points: f64,
) {
    parts.push(ScorePart::new(part, code, params, points));
}

pub(crate) fn same_place(a: Option<&str>, b: Option<&str>) -> Option<bool> {
    let (a, b) = (a?, b?);
    let ta = names::tokens(a);
    let tb = names::tokens(b);
    Some(name_cover(&ta, &tb).max(name_cover(&tb, &ta)) >= 0.5)
}

/// Parent agreement between two children: points and parts.
fn parents(a: &CasePerson, b: &CasePerson, parts: &mut Vec<ScorePart>, weight: f64) {
    for rel in ["mother", "father"] {
        if let (Some(x), Some(y)) = (a.parent(rel), b.parent(rel)) {
            let c = name_cover(&tokens_of(&relative_names(x)), &tokens_of(&relative_names(y)));
            let (same, different) =
                if rel == "mother" { ("same_mother", "different_mother") } else { ("same_father", "different_father") };
            let values = vec![("a", x.name.clone()), ("b", y.name.clone())];
            if c >= 0.6 {
                add(parts, rel, same, values, weight);
            } else {
                add(parts, rel, different, values, -weight / 2.0);
            }
        }
    }
}

/// Score "the person sought by `requester`'s request `r` is the child of
/// `candidate`".
pub(crate) fn score_request(requester: &CasePerson, r: &Relative, candidate: &CasePerson) -> Vec<ScorePart> {
    let mut parts = Vec::new();
    let sought = tokens_of(&relative_names(r));
    let child = tokens_of(&candidate.all_names());
    let c = name_cover(&sought, &child);
    add(
        &mut parts,
        "name",
        "sought_name",
        vec![
            ("sought", r.name.clone()),
            ("registered", format!("{} {}", candidate.given_names, candidate.family_name)),
        ],
        40.0 * c,
    );
    // Siblings share family (or father's and grandfather's) names: the
    // given name of the person sought must be there too.
    if let Some(first) = names::tokens(&r.name).first() {
        if !child.iter().any(|t| names::token_similarity(first, t) > 0.0) {
            add(&mut parts, "given_name", "given_name_absent", vec![("name", first.to_string())], -25.0);
        }
    }
    if let (Some(x), Some(y)) = (r.sex.as_deref(), candidate.sex.as_deref()) {
        if x == y {
            add(&mut parts, "sex", "same_sex", vec![("sex", x.to_string())], 5.0);
        } else if x != "other_unknown" && y != "other_unknown" {
            let values = vec![("sought", x.to_string()), ("registered", y.to_string())];
            add(&mut parts, "sex", "sought_sex_differs", values, -25.0);
        }
    }
    if let (Some(x), Some(y)) = (r.age, candidate.age) {
        let d = (x - y).abs();
        let pts = if d <= 1.0 {
            10.0
        } else if d <= 3.0 {
            3.0
        } else {
            -10.0
        };
        add(&mut parts, "age", "sought_age", vec![("sought", x.to_string()), ("registered", y.to_string())], pts);
    }
    // A sibling sought: the two children share parents and a home.
    if matches!(r.relationship.as_deref(), Some("brother" | "sister" | "half_sibling" | "cousin") | None) {
        parents(requester, candidate, &mut parts, 20.0);
    }
    if let Some(same) = same_place(requester.place_of_origin.as_deref(), candidate.place_of_origin.as_deref()) {
        add(
            &mut parts,
            "place_of_origin",
            if same { "same_place_of_origin" } else { "different_places_of_origin" },
            vec![],
            if same { 10.0 } else { -5.0 },
        );
    }
    if let Some(same) = same_place(r.location.as_deref(), candidate.separation_place.as_deref()) {
        if same {
            add(&mut parts, "location", "location_is_separation_place", vec![], 5.0);
        }
    }
    if let (Some(x), Some(y)) = (requester.separation_date.as_deref(), candidate.separation_date.as_deref()) {
        if x == y {
            add(&mut parts, "separation_date", "same_separation_date", vec![("date", x.to_string())], 10.0);
        }
    }
    parts
}

/// Score "`b` is a sibling of `a`".
fn score_sibling(a: &CasePerson, b: &CasePerson) -> Vec<ScorePart> {
    let mut parts = Vec::new();
    parents(a, b, &mut parts, 30.0);
    let fa = names::tokens(&a.family_name);
    let fb = names::tokens(&b.family_name);
    if !fa.is_empty() && !fb.is_empty() {
        let c = name_cover(&fa, &fb).max(name_cover(&fb, &fa));
        if c >= 0.6 {
            let values = vec![("a", a.family_name.clone()), ("b", b.family_name.clone())];
            add(&mut parts, "family_name", "same_family_name", values, 10.0);
        }
    }
    if let Some(same) = same_place(a.place_of_origin.as_deref(), b.place_of_origin.as_deref()) {
        add(
            &mut parts,
            "place_of_origin",
            if same { "same_place_of_origin" } else { "different_places_of_origin" },
            vec![],
            if same { 10.0 } else { -10.0 },
        );
    }
    if let Some(true) = same_place(a.separation_place.as_deref(), b.separation_place.as_deref()) {
        add(&mut parts, "separation_place", "same_separation_place", vec![], 5.0);
    }
    if let (Some(x), Some(y)) = (a.separation_date.as_deref(), b.separation_date.as_deref()) {
        if x == y {
            add(&mut parts, "separation_date", "same_separation_date", vec![("date", x.to_string())], 10.0);
        }
    }
    let ga = names::tokens(&a.given_names);
    let gb = names::tokens(&b.given_names);
    if !ga.is_empty() && name_cover(&ga, &gb) >= 0.85 && a.age.zip(b.age).is_some_and(|(x, y)| (x - y).abs() <= 1.0) {
        // Same given name and age: more likely the same child twice.
        add(&mut parts, "duplicate", "maybe_duplicate", vec![], -20.0);
    }
    parts
}

pub(crate) fn total(parts: &[ScorePart]) -> f64 {
    parts.iter().map(|p| p.points).sum::<f64>().clamp(0.0, 100.0)
}

pub(crate) fn keys_of(names_list: &[String]) -> std::collections::BTreeSet<String> {
    names_list.iter().flat_map(|n| names::name_keys(n)).collect()
}

/// Tracing matches for one case, best first.
pub fn trace(conn: &Connection, case_id: &str) -> Result<Vec<TraceMatch>, SearchError> {
    index::ensure_built(conn)?;
    let me = index::person(conn, case_id)?.ok_or_else(|| SearchError::NoSuchCase(case_id.to_string()))?;
    let mut people: BTreeMap<String, Option<CasePerson>> = BTreeMap::new();
    let mut load = |conn: &Connection, id: &str| -> rusqlite::Result<Option<CasePerson>> {
        if let Some(p) = people.get(id) {
            return Ok(p.clone());
        }
        let p = index::person(conn, id)?;
        people.insert(id.to_string(), p.clone());
        Ok(p)
    };
    let related = |o: &CasePerson| {
        o.case_id == me.case_id
            || o.merged_into.as_deref() == Some(me.case_id.as_str())
            || me.merged_into.as_deref() == Some(o.case_id.as_str())
    };
    let mut best: BTreeMap<(String, String, String), TraceMatch> = BTreeMap::new();
    let mut keep = |m: TraceMatch| {
        if m.score < MIN_POINTS {
            return;
        }
        let key = (m.kind.clone(), m.case_id.clone(), m.request_item.clone().unwrap_or_default());
        if best.get(&key).is_none_or(|b| b.score < m.score) {
            best.insert(key, m);
        }
    };
    // 1. My requests against registered children.
    for r in &me.sought {
        let mut cands = std::collections::BTreeSet::new();
        for k in keys_of(&relative_names(r)) {
            for (c, _) in index::cases_with_key(conn, &k, "child")? {
                cands.insert(c);
            }
        }
        for c in cands {
            let Some(o) = load(conn, &c)? else { continue };
            if related(&o) {
                continue;
            }
            let parts = score_request(&me, r, &o);
            keep(TraceMatch {
                kind: "sought_relative".into(),
                case_id: o.case_id.clone(),
                case_number: o.case_number.clone(),
                name: format!("{} {}", o.given_names, o.family_name).trim().to_string(),
                request_item: Some(r.item.clone()),
                sought_name: Some(r.name.clone()),
                score: total(&parts),
                parts,
            });
        }
    }
    // 2. Siblings: other children with a parent of the same name.
    let mut cands = std::collections::BTreeSet::new();
    for rel in ["mother", "father"] {
        if let Some(p) = me.parent(rel) {
            for k in keys_of(&relative_names(p)) {
                for (c, _) in index::cases_with_key(conn, &k, rel)? {
                    cands.insert(c);
                }
            }
        }
    }
    for c in cands {
        let Some(o) = load(conn, &c)? else { continue };
        if related(&o) {
            continue;
        }
        let parts = score_sibling(&me, &o);
        keep(TraceMatch {
            kind: "sibling".into(),
            case_id: o.case_id.clone(),
            case_number: o.case_number.clone(),
            name: format!("{} {}", o.given_names, o.family_name).trim().to_string(),
            request_item: None,
            sought_name: None,
            score: total(&parts),
            parts,
        });
    }
    // 3. Other cases' requests seeking someone like me.
    let mut reqs = std::collections::BTreeSet::new();
    for k in keys_of(&me.all_names()) {
        for (c, item) in index::cases_with_key(conn, &k, "sought")? {
            reqs.insert((c, item));
        }
    }
    for (c, item) in reqs {
        let Some(o) = load(conn, &c)? else { continue };
        if related(&o) {
            continue;
        }
        let Some(r) = o.sought.iter().find(|r| r.item == item) else {
            continue;
        };
        let parts = score_request(&o, r, &me);
        keep(TraceMatch {
            kind: "sought_by".into(),
            case_id: o.case_id.clone(),
            case_number: o.case_number.clone(),
            name: format!("{} {}", o.given_names, o.family_name).trim().to_string(),
            request_item: Some(item.clone()),
            sought_name: Some(r.name.clone()),
            score: total(&parts),
            parts,
        });
    }
    let mut out: Vec<TraceMatch> = best.into_values().collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.case_number.cmp(&b.case_number)));
    Ok(out)
}
