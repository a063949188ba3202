//! Matching a tracing inquiry (`model::inquiry`: a relative asking after a
//! child who has no case yet) against the registered children and against
//! the other inquiries, with the explained scores of tracing
//! (`search::trace`): the same name keys find the candidates, the same
//! parts score them, and every part says what it compared.
//!
//! - `registered_child`: a child registered in a case may be the child
//!   sought. Scored as a tracing request (`trace::score_request`: names
//!   with their variant spellings, sex, age, place of origin, last seen
//!   place against the place of separation, date last seen against the
//!   date of separation), plus the inquirer: a mother or father asking is
//!   compared with the mother or father the case records.
//! - `other_inquiry`: another inquiry seeks a child like this one (two
//!   relatives asking after the same child, or the same person asking
//!   twice).
//!
//! [`match_inquiry_for`] is the view the shells call: refused for a
//! reporting viewer and a data manager (matches show names), and kept to
//! the cases and inquiries the reader may see, the rest counted by reason.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::model::inquiry;
use crate::model::store::CaseStore;
use crate::model::visibility::{count_hidden, CaseAccess, HiddenCount, HiddenReason};
use crate::search::duplicates::ScorePart;
use crate::search::index;
use crate::search::person::{CasePerson, Relative};
use crate::search::query::SearchError;
use crate::search::trace::{self, add, keys_of, name_cover, relative_names, same_place, tokens_of, total, MIN_POINTS};

/// One match of an inquiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InquiryMatch {
    /// `registered_child` or `other_inquiry`.
    pub kind: String,
    /// The case or the other inquiry.
    pub id: Uuid,
    /// Its number.
    pub number: String,
    /// The registered child's name, or the name the other inquiry seeks.
    pub name: String,
    /// 0..100.
    pub score: f64,
    /// The parts of the score.
    pub parts: Vec<ScorePart>,
}

/// The matches of an inquiry as the reader may see them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InquiryMatches {
    /// The inquiry matched.
    pub inquiry: Uuid,
    /// Best first.
    pub matches: Vec<InquiryMatch>,
    /// Matches in cases or inquiries the reader may not see, by reason.
    pub hidden: Vec<HiddenCount>,
}

/// What an inquiry says about the child sought, in the shape tracing
/// compares: the requester (places and dates of the separation as the
/// inquirer tells them, the inquirer as a parent) and the person sought.
#[derive(Debug, Clone)]
struct Sought {
    requester: CasePerson,
    sought: Relative,
    inquirer: Option<Relative>,
}

fn text(values: &Map<String, Value>, k: &str) -> Option<String> {
    values.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

fn sought_of(id: Uuid, values: &Map<String, Value>) -> Sought {
    let name = [text(values, "sought_given_names"), text(values, "sought_family_name")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let other_names = values
        .get("sought_other_names")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let sought = Relative {
        name,
        other_names,
        // Not a sibling search: `score_request` compares the two
        // children's parents only for one; the inquirer is compared below.
        relationship: Some("child".into()),
        sex: text(values, "sought_sex"),
        age: values.get("sought_age").and_then(Value::as_f64),
        location: text(values, "last_seen_place"),
        item: id.to_string(),
    };
    let inquirer = text(values, "inquirer_name").map(|n| Relative {
        name: n,
        relationship: text(values, "inquirer_relationship"),
        ..Relative::default()
    });
    let requester = CasePerson {
        case_id: id.to_string(),
        place_of_origin: text(values, "place_of_origin"),
        separation_place: text(values, "last_seen_place"),
        separation_date: text(values, "last_seen_date"),
        ..CasePerson::default()
    };
    Sought { requester, sought, inquirer }
}

/// The inquirer against the parent the case records: a mother asking is
/// the child's recorded mother, or not.
fn inquirer_part(s: &Sought, child: &CasePerson, parts: &mut Vec<ScorePart>) {
    let Some(inq) = &s.inquirer else { return };
    let Some(rel) = inq.relationship.as_deref().filter(|r| matches!(*r, "mother" | "father")) else { return };
    let Some(parent) = child.parent(rel) else { return };
    let c = name_cover(&tokens_of(&relative_names(inq)), &tokens_of(&relative_names(parent)));
    let (is, is_not) = if rel == "mother" {
        ("inquirer_is_mother", "inquirer_not_mother")
    } else {
        ("inquirer_is_father", "inquirer_not_father")
    };
    let values = vec![("inquirer", inq.name.clone()), ("parent", parent.name.clone())];
    if c >= 0.6 {
        add(parts, "inquirer", is, values, 20.0);
    } else {
        add(parts, "inquirer", is_not, values, -10.0);
    }
}

/// Score "the child two inquiries seek is the same child".
fn score_pair(a: &Sought, b: &Sought) -> Vec<ScorePart> {
    let mut parts = Vec::new();
    let (ta, tb) = (tokens_of(&relative_names(&a.sought)), tokens_of(&relative_names(&b.sought)));
    let c = name_cover(&ta, &tb).max(name_cover(&tb, &ta));
    let values = vec![("a", a.sought.name.clone()), ("b", b.sought.name.clone())];
    add(&mut parts, "name", "sought_names", values, 50.0 * c);
    if let (Some(x), Some(y)) = (a.sought.sex.as_deref(), b.sought.sex.as_deref()) {
        if x == y {
            add(&mut parts, "sex", "same_sex", vec![("sex", x.to_string())], 5.0);
        } else if x != "other_unknown" && y != "other_unknown" {
            add(&mut parts, "sex", "sex_differs", vec![("a", x.to_string()), ("b", y.to_string())], -25.0);
        }
    }
    if let (Some(x), Some(y)) = (a.sought.age, b.sought.age) {
        let d = (x - y).abs();
        let pts = if d <= 1.0 {
            10.0
        } else if d <= 3.0 {
            3.0
        } else {
            -10.0
        };
        add(&mut parts, "age", "sought_ages", vec![("a", x.to_string()), ("b", y.to_string())], pts);
    }
    if let Some(same) = same_place(a.requester.place_of_origin.as_deref(), b.requester.place_of_origin.as_deref()) {
        add(
            &mut parts,
            "place_of_origin",
            if same { "same_place_of_origin" } else { "different_places_of_origin" },
            vec![],
            if same { 10.0 } else { -5.0 },
        );
    }
    if let Some(true) = same_place(a.sought.location.as_deref(), b.sought.location.as_deref()) {
        add(&mut parts, "last_seen_place", "same_last_seen_place", vec![], 10.0);
    }
    parts
}

/// Every match of inquiry `id`, whoever may see them (the engine; the
/// shells call [`match_inquiry_for`]). Registered children are found
/// through the name-key index, other inquiries by their name keys.
pub fn match_inquiry(store: &CaseStore, id: Uuid) -> Result<Vec<InquiryMatch>, SearchError> {
    let conn = store.vault().conn();
    index::ensure_built(conn)?;
    let values_of =
        |i: Uuid| -> Result<Map<String, Value>, SearchError> { Ok(inquiry::values_of(&store.case_state(i)?)) };
    let me = sought_of(id, &values_of(id)?);
    let my_keys = keys_of(&relative_names(&me.sought));
    let mut out = Vec::new();
    // 1. Registered children.
    let mut cands = BTreeSet::new();
    for k in &my_keys {
        for (c, _) in index::cases_with_key(conn, k, "child")? {
            cands.insert(c);
        }
    }
    for c in cands {
        let Some(child) = index::person(conn, &c)? else { continue };
        if child.merged_into.is_some() {
            continue;
        }
        let mut parts = trace::score_request(&me.requester, &me.sought, &child);
        inquirer_part(&me, &child, &mut parts);
        let Ok(case_id) = Uuid::parse_str(&child.case_id) else { continue };
        out.push(InquiryMatch {
            kind: "registered_child".into(),
            id: case_id,
            number: child.case_number.clone(),
            name: format!("{} {}", child.given_names, child.family_name).trim().to_string(),
            score: total(&parts),
            parts,
        });
    }
    // 2. Other inquiries sharing a name key with the child sought.
    for other in store.inquiry_ids()? {
        if other == id {
            continue;
        }
        let st = store.case_state(other)?;
        if st.erased {
            continue;
        }
        let theirs = sought_of(other, &inquiry::values_of(&st));
        if keys_of(&relative_names(&theirs.sought)).is_disjoint(&my_keys) {
            continue;
        }
        let parts = score_pair(&me, &theirs);
        out.push(InquiryMatch {
            kind: "other_inquiry".into(),
            id: other,
            number: st.registration.as_ref().map(|r| r.case_number.clone()).unwrap_or_default(),
            name: theirs.sought.name.clone(),
            score: total(&parts),
            parts,
        });
    }
    out.retain(|m| m.score >= MIN_POINTS);
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.number.cmp(&b.number)));
    Ok(out)
}

/// The matches of an inquiry the reader may see, among the cases and
/// inquiries they may see (the rest counted by reason). Refused for a
/// reporting viewer and a data manager, as tracing is: matches show names.
pub fn match_inquiry_for(store: &CaseStore, id: Uuid) -> Result<InquiryMatches, SearchError> {
    store.reader().tracing().map_err(SearchError::Hidden)?;
    // Refuses an id that is not an inquiry the reader may see.
    store.inquiry(id)?;
    let reader = store.reader();
    let mut seen: HashMap<Uuid, Result<(), HiddenReason>> = HashMap::new();
    let mut matches = Vec::new();
    let mut hidden = Vec::new();
    for m in match_inquiry(store, id)? {
        let verdict = match seen.get(&m.id) {
            Some(v) => *v,
            None => {
                let v = reader.case(&CaseAccess::of_state(&store.case_state(m.id)?));
                seen.insert(m.id, v);
                v
            }
        };
        match verdict {
            Ok(()) => matches.push(m),
            Err(reason) => hidden.push(reason),
        }
    }
    Ok(InquiryMatches { inquiry: id, matches, hidden: count_hidden(hidden) })
}
