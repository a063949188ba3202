//! Suspected duplicate cases: the same child registered twice.
//!
//! Candidate pairs come from *blocking* on name keys: two cases are compared
//! only when they share a pair of name keys from two different tokens of
//! their names (given + family, in either order), or — for a case with a
//! single name token — that one key. Each candidate pair is scored with
//! explained parts (points for and against: names, sex, age, date of birth,
//! place of origin, parents, nationality, separation); the points go
//! through a logistic curve to a 0..1 score, and pairs at or above
//! [`THRESHOLD`] are reported. Siblings are the hard case: same family
//! name, same parents, same place — the given-name part is what keeps them
//! apart, so a given name with no match anywhere in the other record costs
//! more than any other agreement can add.

use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::search::explain;
use crate::search::index;
use crate::search::names;
use crate::search::person::CasePerson;
use crate::search::query::SearchError;

/// The lowest threshold: a pair below it is never a suspected duplicate
/// (set from the labelled synthetic set, see `tests/search_quality.rs`).
pub const THRESHOLD: f64 = 0.5;

/// The threshold of an office that set none: on the demo's planted
/// duplicates it keeps recall at 0.95 or more with about 3 pairs to review
/// per 100 cases (`tests/search_duplicates_demo.rs`).
pub const DEFAULT_OFFICE_THRESHOLD: f64 = 0.9;

/// Local-state key of the office's threshold (a number in
/// [`THRESHOLD`]..=1), set by [`super::duplicate_review::set_threshold`].
pub const THRESHOLD_KEY: &str = "duplicates/threshold";

/// The threshold the office set, or [`DEFAULT_OFFICE_THRESHOLD`].
pub fn office_threshold(conn: &Connection) -> rusqlite::Result<f64> {
    Ok(crate::model::projection::sync_state(conn, THRESHOLD_KEY)?
        .into_iter()
        .find(|(k, _)| k == THRESHOLD_KEY)
        .and_then(|(_, v)| v.as_f64())
        .filter(|t| (THRESHOLD..=1.0).contains(t))
        .unwrap_or(DEFAULT_OFFICE_THRESHOLD))
}

/// Points at which the score is 0.5.
const MIDPOINT: f64 = 6.0;

/// One part of a score: what was compared and how many points it gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScorePart {
    /// What was compared (`given_name`, `names`, `sex`, `age`, …).
    pub part: String,
    /// What was found, as a stable code (`search::explain::EXPLANATIONS`)
    /// an interface translates.
    #[serde(default)]
    pub code: String,
    /// The values compared, by the names the code gives.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// What was found, in English (the CLI's text and the fallback).
    pub detail: String,
    /// Points (positive: for the same person / a match; negative: against).
    pub points: f64,
}

impl ScorePart {
    /// The part `part` explained by `code` with its values, its English
    /// text made from the code's template.
    pub fn new(part: &str, code: &'static str, params: Vec<(&'static str, String)>, points: f64) -> Self {
        debug_assert_eq!(
            explain::params_of(code),
            Some(params.iter().map(|(k, _)| *k).collect::<Vec<_>>().as_slice()),
            "{code}: parameters not as the table says"
        );
        let params: BTreeMap<String, String> = params.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        ScorePart { part: part.into(), code: code.into(), detail: explain::english(code, &params), params, points }
    }
}

/// A suspected duplicate pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DuplicatePair {
    /// One case (the smaller case number).
    pub case_a: String,
    /// Its case number.
    pub number_a: String,
    /// The other case.
    pub case_b: String,
    /// Its case number.
    pub number_b: String,
    /// 0..1.
    pub score: f64,
    /// The parts of the score.
    pub parts: Vec<ScorePart>,
}

impl DuplicatePair {
    /// The parts, those with the most weight (for or against) first.
    pub fn parts_by_weight(&self) -> Vec<ScorePart> {
        let mut parts = self.parts.clone();
        parts.sort_by(|a, b| b.points.abs().total_cmp(&a.points.abs()));
        parts
    }

    /// A one-line explanation in English: the parts with the most weight first.
    pub fn explanation(&self) -> String {
        self.parts_by_weight().iter().map(|p| format!("{} ({:+.1})", p.detail, p.points)).collect::<Vec<_>>().join("; ")
    }
}

/// Pre-computed comparison features of one person (folded tokens and their
/// keys), so a pass over many pairs does not re-fold names.
#[derive(Debug, Clone)]
pub struct Features {
    given: Vec<Tok>,
    primary: Vec<Tok>,
    all: Vec<Tok>,
    mother: Vec<Tok>,
    father: Vec<Tok>,
    /// Brothers, sisters and half-siblings recorded, one name each.
    siblings: Vec<Vec<Tok>>,
    place: Vec<Tok>,
    separation_place: Vec<Tok>,
    /// The sex as a hash, `None` when not recorded or `other_unknown`
    /// (compared for every candidate pair: a string compare was a tenth
    /// of a pass).
    sex: Option<u64>,
}

/// A folded name token with its keys as 64-bit hashes: a pass compares
/// millions of token pairs, and integer compares of sorted key lists cost a
/// fraction of string-set intersections. The text is kept for explanations
/// and for Jaro-Winkler on tokens whose keys differ.
#[derive(Debug, Clone)]
struct Tok {
    text: String,
    id: u64,
    keys: Vec<u64>,
    /// One bit per key (its hash mod 64): two tokens whose masks share no
    /// bit share no key, found without walking the lists (most token pairs
    /// of a pass).
    key_mask: u64,
    /// Length in characters.
    chars: u32,
    /// Counts of the characters by bucket (a–z one each, others shared),
    /// for a cheap upper bound on Jaro-Winkler (see [`may_be_similar`]).
    bag: [u8; 32],
    /// A particle of a compound (`abd`, `gebre`): not a given name on its
    /// own, and not a blocking key.
    particle: bool,
}

fn char_bag(text: &str) -> [u8; 32] {
    let mut bag = [0u8; 32];
    for c in text.chars() {
        let b = if c.is_ascii_lowercase() { (c as u32 - 'a' as u32) as usize } else { 26 + (c as u32 % 6) as usize };
        bag[b] = bag[b].saturating_add(1);
    }
    bag
}

/// False when Jaro-Winkler of the two tokens is certainly below 0.88.
/// JW ≤ 0.6·jaro + 0.4, so 0.88 needs jaro ≥ 0.8; jaro ≤ (m/|a| + m/|b| +
/// 1)/3 where the matches m are at most the characters the two share
/// (counted by bucket, which can only over-count). Most token pairs of a
/// pass fail this for the cost of 32 comparisons instead of a Jaro-Winkler.
fn may_be_similar(a: &Tok, b: &Tok) -> bool {
    let common: u32 = a.bag.iter().zip(&b.bag).map(|(x, y)| u32::from(*x.min(y))).sum();
    let (la, lb) = (f64::from(a.chars.max(1)), f64::from(b.chars.max(1)));
    let c = f64::from(common);
    // 1e-9: never rule out a pair on rounding.
    (c / la + c / lb + 1.0) / 3.0 >= 0.8 - 1e-9
}

/// Stable 64-bit hash of a token or key (SipHash with fixed keys: the same
/// string gives the same id in every thread of a pass). Equal ids are taken
/// as equal tokens: a collision among the few thousand distinct tokens of a
/// register is astronomically unlikely, and the text compare it replaced
/// was a fifth of the pass in a profile.
fn hash_str(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

fn toks(name: &str) -> Vec<Tok> {
    names::name_units(name)
        .into_iter()
        .map(|u| {
            let t = u.text;
            let mut keys: Vec<u64> = u.keys.iter().map(|k| hash_str(k)).collect();
            keys.sort_unstable();
            keys.dedup();
            let key_mask = keys.iter().fold(0u64, |m, k| m | 1 << (k % 64));
            Tok {
                id: hash_str(&t),
                keys,
                key_mask,
                chars: t.chars().count() as u32,
                bag: char_bag(&t),
                particle: u.particle,
                text: t,
            }
        })
        .collect()
}

/// Whether two tokens share a key.
fn share_key(a: &Tok, b: &Tok) -> bool {
    a.key_mask & b.key_mask != 0 && share_sorted(&a.keys, &b.keys)
}

/// Whether two sorted key lists share a key.
fn share_sorted(a: &[u64], b: &[u64]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

thread_local! {
    /// Jaro-Winkler results by token pair: a population repeats the same
    /// few thousand tokens, so a pass computes each pair once per thread.
    static JW_CACHE: RefCell<HashMap<(u64, u64), f64, IdHash>> =
        const { RefCell::new(HashMap::with_hasher(IdHash)) };
}

/// Hasher for keys that are already 64-bit hashes (token ids): one
/// multiply-and-rotate per word instead of SipHash, which dominated the
/// cache lookups in a profile of the pass.
#[derive(Clone, Copy, Default)]
struct IdHash;

impl std::hash::BuildHasher for IdHash {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher(0)
    }
}

#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(29) ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Entries above which the cache is emptied (bounds memory on odd data).
const JW_CACHE_MAX: usize = 1 << 20;

fn cached_jaro_winkler(a: &Tok, b: &Tok) -> f64 {
    JW_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(v) = c.get(&(a.id, b.id)) {
            return *v;
        }
        if c.len() >= JW_CACHE_MAX {
            c.clear();
        }
        let v = names::jaro_winkler(&a.text, &b.text);
        c.insert((a.id, b.id), v);
        v
    })
}

fn sim(a: &Tok, b: &Tok) -> f64 {
    if a.id == b.id {
        1.0
    } else if share_key(a, b) {
        0.9
    } else if initial_of(a, b) || initial_of(b, a) {
        INITIAL
    } else if a.text.len().min(b.text.len()) < 4 || !may_be_similar(a, b) {
        // Too short for a typo to be told from another name, or too
        // different for Jaro-Winkler to reach 0.88.
        0.0
    } else {
        let jw = cached_jaro_winkler(a, b);
        if jw >= 0.88 {
            jw * 0.8
        } else {
            0.0
        }
    }
}

/// Similarity of an initial (`A.`) to a name starting with it: below a
/// spelling variant, and below what Jaro-Winkler gives a typo.
const INITIAL: f64 = 0.7;

/// Whether `a` is a one-letter initial of the longer name `b`.
fn initial_of(a: &Tok, b: &Tok) -> bool {
    a.chars == 1 && b.chars > 1 && b.text.starts_with(a.text.as_str())
}

/// Similarity from equality and shared keys only (no Jaro-Winkler).
fn sim_by_keys(a: &Tok, b: &Tok) -> f64 {
    if a.id == b.id {
        1.0
    } else if share_key(a, b) {
        0.9
    } else {
        0.0
    }
}

fn best(t: &Tok, among: &[Tok]) -> (f64, usize) {
    let pick = |a: (f64, usize), b: (f64, usize)| if b.0 > a.0 { b } else { a };
    // Jaro-Winkler gives at most 0.8, so when a token is equal or shares a
    // key (0.9 or more) it cannot change the best: skip it (same result,
    // same index).
    let by_keys = among.iter().enumerate().map(|(i, o)| (sim_by_keys(t, o), i)).fold((0.0, usize::MAX), pick);
    if by_keys.0 >= 0.9 {
        return by_keys;
    }
    among.iter().enumerate().map(|(i, o)| (sim(t, o), i)).fold((0.0, usize::MAX), pick)
}

/// Mean best similarity of the tokens of `a` among `b` (0 when `a` is empty).
fn coverage(a: &[Tok], b: &[Tok]) -> f64 {
    if a.is_empty() {
        return 0.0;
    }
    a.iter().map(|t| best(t, b).0).sum::<f64>() / a.len() as f64
}

impl Features {
    /// Features of one person.
    pub fn of(p: &CasePerson) -> Features {
        let mut given = toks(&p.given_names);
        if given.iter().any(|t| !t.particle) {
            // The given name compared is the first that is a name, not the
            // particle before it (`Abdel` of `Abdel Rahim`).
            given.retain(|t| !t.particle);
        }
        let mut primary = given.clone();
        primary.extend(toks(&p.family_name));
        let mut all = primary.clone();
        for n in &p.other_names {
            all.extend(toks(n));
        }
        let parent = |rel: &str| p.parent(rel).map(|r| toks(&r.name)).unwrap_or_default();
        Features {
            given,
            primary,
            all,
            mother: parent("mother"),
            father: parent("father"),
            siblings: p
                .family
                .iter()
                .filter(|r| matches!(r.relationship.as_deref(), Some("brother" | "sister" | "half_sibling")))
                .map(|r| toks(&r.name))
                .filter(|t| !t.is_empty())
                .collect(),
            place: p.place_of_origin.as_deref().map(toks).unwrap_or_default(),
            separation_place: p.separation_place.as_deref().map(toks).unwrap_or_default(),
            sex: p.sex.as_deref().filter(|s| *s != "other_unknown").map(hash_str),
        }
    }
}

/// An explanation code and its values (`search::explain`).
pub(crate) type Explained = (&'static str, Vec<(&'static str, String)>);

/// Points of a pair being added up, with the explained parts recorded only
/// when asked: a pass scores millions of pairs and explains the few above
/// the threshold, so detail strings are built lazily.
struct Tally<'p> {
    points: f64,
    parts: Option<&'p mut Vec<ScorePart>>,
}

impl Tally<'_> {
    fn add(&mut self, name: &str, explained: impl FnOnce() -> Explained, points: f64) {
        self.points += points;
        if let Some(parts) = self.parts.as_deref_mut() {
            let (code, params) = explained();
            parts.push(ScorePart::new(name, code, params, points));
        }
    }
}

fn year(d: &str) -> Option<i32> {
    d.get(0..4)?.parse().ok()
}

/// Score a pair: (0..1 score, parts).
pub fn score_pair(a: &CasePerson, b: &CasePerson) -> (f64, Vec<ScorePart>) {
    score_features(a, &Features::of(a), b, &Features::of(b))
}

/// Score a pair whose features are already computed.
pub fn score_features(a: &CasePerson, fa: &Features, b: &CasePerson, fb: &Features) -> (f64, Vec<ScorePart>) {
    let mut parts = Vec::new();
    let score = tally(a, fa, b, fb, Some(&mut parts));
    (score, parts)
}

/// The 0..1 score of a pair without its explanation (the fast path of a
/// pass; [`score_features`] gives the same number with the parts).
fn score_only(a: &CasePerson, fa: &Features, b: &CasePerson, fb: &Features) -> f64 {
    tally(a, fa, b, fb, None)
}

fn tally(a: &CasePerson, fa: &Features, b: &CasePerson, fb: &Features, parts: Option<&mut Vec<ScorePart>>) -> f64 {
    let mut t = Tally { points: 0.0, parts };
    // Given name: the first given token of each must be found somewhere in
    // the other's names (either order, other spellings included).
    if let Some((ga, gb, g, ia)) = given_match(fa, fb) {
        let shown = fb.all.get(ia).map(|t| t.text.as_str()).unwrap_or("");
        let (pts, code) = given_points(g);
        let other = if g > 0.0 { shown } else { gb.text.as_str() };
        t.add("given_name", || (code, vec![("a", ga.text.clone()), ("b", other.to_string())]), pts);
    }
    let (short, long) =
        if fa.primary.len() <= fb.primary.len() { (&fa.primary, &fb.all) } else { (&fb.primary, &fa.all) };
    if !short.is_empty() {
        let c = coverage(short, long);
        t.add("names", || ("names_cover", vec![("percent", format!("{:.0}", c * 100.0))]), 6.0 * c - 4.0);
    }
    if let Some((x, y)) = contradicting_names(fa, fb) {
        // Each name has a word the other has nowhere (Cruz / García): not a
        // name left out, another name.
        t.add("other_names", || ("names_contradict", vec![("a", x), ("b", y)]), -3.0);
    }
    if out_of_order(a, fa, b, fb) {
        // Patronymic chains (given, father's, grandfather's name): the
        // same names in another order name other fathers.
        t.add("name_order", || ("name_order_differs", vec![]), -4.0);
    }
    if let Some(pts) = sex_points(fa, fb) {
        let (sa, sb) = (a.sex.as_deref().unwrap_or(""), b.sex.as_deref().unwrap_or(""));
        if pts > 0.0 {
            t.add("sex", || ("same_sex", vec![("sex", sa.to_string())]), pts);
        } else {
            t.add("sex", || ("sex_differs", vec![("a", sa.to_string()), ("b", sb.to_string())]), pts);
        }
    }
    if let (Some(pts), Some(x), Some(y)) = (age_points(a, b), a.age, b.age) {
        t.add("age", || ("ages", vec![("a", x.to_string()), ("b", y.to_string())]), pts);
    }
    if let (Some(pts), Some(x), Some(y)) = (dob_points(a, b), a.date_of_birth.as_deref(), b.date_of_birth.as_deref()) {
        t.add("date_of_birth", || ("dates_of_birth", vec![("a", x.to_string()), ("b", y.to_string())]), pts);
    }
    if !fa.place.is_empty() && !fb.place.is_empty() {
        let (ab, ba) = (coverage(&fa.place, &fb.place), coverage(&fb.place, &fa.place));
        // The same place, one written more fully (`Huehuetenango,
        // outskirts`), the same region only (`Oromia, Arsi` / `Oromia, West
        // Hararghe`), or another place.
        let pts = if ab.min(ba) >= 0.85 {
            1.5
        } else if ab.max(ba) >= 0.85 {
            0.5
        } else if ab.max(ba) >= 0.3 {
            -1.5
        } else {
            -3.0
        };
        t.add(
            "place_of_origin",
            || {
                (
                    "places_of_origin",
                    vec![
                        ("a", a.place_of_origin.clone().unwrap_or_default()),
                        ("b", b.place_of_origin.clone().unwrap_or_default()),
                    ],
                )
            },
            pts,
        );
    }
    for (rel, x, y) in [("mother", &fa.mother, &fb.mother), ("father", &fa.father, &fb.father)] {
        if !x.is_empty() && !y.is_empty() {
            let c = coverage(x, y).max(coverage(y, x));
            // A different mother or father is strong evidence of a
            // different child (namesakes are common: Mohamed Diallo).
            // Every part of the parent's name must agree: a shared first
            // name (Marie, Fatoumata) is common among unrelated mothers.
            let same = c >= 0.8;
            // A different parent outweighs everything the names and places
            // of two namesakes share, and the other parent agreeing too
            // (fathers' given names repeat within a family name).
            let pts = if same { 2.0 } else { -6.0 };
            let code = match (rel, same) {
                ("mother", true) => "mother_matches",
                ("mother", false) => "mother_differs",
                (_, true) => "father_matches",
                (_, false) => "father_differs",
            };
            t.add(rel, || (code, vec![]), pts);
        }
    }
    if !fa.siblings.is_empty() && !fb.siblings.is_empty() {
        let shared = fa
            .siblings
            .iter()
            .filter(|x| fb.siblings.iter().any(|y| coverage(x, y).max(coverage(y, x)) >= 0.8))
            .count();
        let pts = if shared == 0 { -2.0 } else { (1.5 * shared as f64).min(3.0) };
        t.add("siblings", || ("siblings_shared", vec![("count", shared.to_string())]), pts);
    }
    if let Some((pts, explained)) = document_points(a, b) {
        t.add("identity_document", || explained, pts);
    }
    if !fa.separation_place.is_empty() && !fb.separation_place.is_empty() {
        let c = coverage(&fa.separation_place, &fb.separation_place)
            .max(coverage(&fb.separation_place, &fa.separation_place));
        let pts = if c >= 0.85 { 1.0 } else { -0.5 };
        t.add(
            "separation_place",
            || {
                (
                    "separation_places",
                    vec![
                        ("a", a.separation_place.clone().unwrap_or_default()),
                        ("b", b.separation_place.clone().unwrap_or_default()),
                    ],
                )
            },
            pts,
        );
    }
    if a.photo && b.photo {
        // The photos are not compared by the machine: a person should.
        t.add("photo", || ("both_photos", vec![]), 0.0);
    }
    if let Some(pts) = registration_points(a, b) {
        t.add(
            "registration",
            || {
                (
                    "registrations",
                    vec![
                        ("office_a", a.office.clone()),
                        ("date_a", a.registration_date.clone().unwrap_or_else(|| "?".into())),
                        ("office_b", b.office.clone()),
                        ("date_b", b.registration_date.clone().unwrap_or_else(|| "?".into())),
                    ],
                )
            },
            pts,
        );
    }
    if let Some(pts) = nationality_points(a, b) {
        if pts > 0.0 {
            t.add("nationality", || ("same_nationality", vec![]), pts);
        } else {
            t.add(
                "nationality",
                || ("nationalities_differ", vec![("a", a.nationality.join(",")), ("b", b.nationality.join(","))]),
                pts,
            );
        }
    }
    if let (Some(pts), Some(x)) = (separation_points(a, b), a.separation_date.as_deref()) {
        let y = b.separation_date.as_deref().unwrap_or("");
        t.add("separation_date", || ("separation_dates", vec![("a", x.to_string()), ("b", y.to_string())]), pts);
    }
    logistic(t.points)
}

/// The 0..1 score of a number of points.
fn logistic(points: f64) -> f64 {
    1.0 / (1.0 + (-(points - MIDPOINT)).exp())
}

// The parts of a score that need no name comparison, each `None` when one
// side does not say. [`tally`] adds them up; [`may_reach`] uses them to
// rule a pair out before its names are compared.

/// The given-name comparison: the first given token of each must be found
/// somewhere in the other's names (either order, other spellings
/// included). Both tokens, the weaker similarity, and where the first was
/// found.
fn given_match<'f>(fa: &'f Features, fb: &'f Features) -> Option<(&'f Tok, &'f Tok, f64, usize)> {
    let (ga, gb) = (fa.given.first()?, fb.given.first()?);
    let (sa, ia) = best(ga, &fb.all);
    let (sb, _) = best(gb, &fa.all);
    Some((ga, gb, sa.min(sb), ia))
}

fn given_points(g: f64) -> (f64, &'static str) {
    if g >= 1.0 {
        (5.0, "same_given_name")
    } else if g >= 0.85 {
        (4.0, "given_name_variant")
    } else if g > 0.0 {
        (3.0, "similar_given_name")
    } else {
        (-7.0, "different_given_names")
    }
}

fn sex_points(fa: &Features, fb: &Features) -> Option<f64> {
    Some(if fa.sex? == fb.sex? { 0.5 } else { -6.0 })
}

fn age_points(a: &CasePerson, b: &CasePerson) -> Option<f64> {
    let d = (a.age? - b.age?).abs();
    Some(if d <= 1.0 {
        1.5
    } else if d <= 2.0 {
        0.0
    } else {
        -((d - 2.0) * 1.5).min(6.0)
    })
}

fn dob_points(a: &CasePerson, b: &CasePerson) -> Option<f64> {
    let (x, y) = (a.date_of_birth.as_deref()?, b.date_of_birth.as_deref()?);
    let soft = |p: &CasePerson| matches!(p.age_basis.as_deref(), Some("estimated" | "disputed"));
    if soft(a) || soft(b) {
        // An estimated or disputed date says little either way.
        return Some(if x == y {
            1.0
        } else if year(x).zip(year(y)).is_some_and(|(p, q)| (p - q).abs() > 2) {
            -2.0
        } else {
            0.0
        });
    }
    let documented = a.age_basis.as_deref() == Some("document") && b.age_basis.as_deref() == Some("document");
    // 1 January / 31 December are the default dates of estimated ages:
    // agreeing on them says little.
    let placeholder = x.ends_with("-01-01") || x.ends_with("-12-31");
    Some(if x == y {
        if placeholder {
            1.0
        } else if documented {
            4.0
        } else {
            3.0
        }
    } else {
        match (year(x), year(y)) {
            // Same day and month, a year apart: the year worked out from a
            // stated age at two registrations.
            (Some(p), Some(q)) if (p - q).abs() == 1 && x.get(4..) == y.get(4..) && !placeholder => 1.5,
            (Some(p), Some(q)) if (p - q).abs() > 1 => -4.0,
            _ if placeholder || y.ends_with("-01-01") || y.ends_with("-12-31") => 0.0,
            // Two stated dates of birth that disagree on day or month.
            _ => -3.0,
        }
    })
}

fn nationality_points(a: &CasePerson, b: &CasePerson) -> Option<f64> {
    if a.nationality.is_empty() || b.nationality.is_empty() {
        return None;
    }
    Some(if a.nationality.iter().any(|n| b.nationality.contains(n)) { 0.5 } else { -2.0 })
}

fn separation_points(a: &CasePerson, b: &CasePerson) -> Option<f64> {
    let (x, y) = (a.separation_date.as_deref()?, b.separation_date.as_deref()?);
    let day = |d: &str| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok();
    let (Some(dx), Some(dy)) = (day(x), day(y)) else {
        return (x == y).then_some(1.0);
    };
    // A child registered again recalls the day of separation to within
    // weeks; namesakes were separated on unrelated days. Memory of a date
    // fails too (a season, a year misremembered), so dates months apart
    // count against only a little, and a year apart a little more.
    let apart = (dx - dy).num_days().abs();
    Some(if apart <= 31 {
        1.5
    } else if apart <= 180 {
        0.0
    } else if apart <= 365 {
        -1.0
    } else {
        -2.0
    })
}

/// Identity documents: the same type and number is near proof, the same
/// type with another number is strong evidence of another child (a
/// reissue is possible: not a veto).
fn document_points(a: &CasePerson, b: &CasePerson) -> Option<(f64, Explained)> {
    let mut verdict: Option<(f64, Explained)> = None;
    for x in &a.documents {
        for y in &b.documents {
            let (nx, ny) = (x.normalized(), y.normalized());
            if nx.is_empty() || ny.is_empty() {
                continue;
            }
            if nx == ny {
                return Some((8.0, ("same_document_number", vec![("number", x.number.clone())])));
            }
            if x.kind.is_some() && x.kind == y.kind {
                let kind = x.kind.clone().unwrap_or_else(|| "document".into());
                verdict = Some((-4.0, ("document_numbers_differ", vec![("kind", kind)])));
            }
        }
    }
    verdict
}

/// Registered twice on the same day at the same office: a double entry.
/// Other registrations are shown in the explanation only through their
/// parts (a child registers again along the route: no points).
fn registration_points(a: &CasePerson, b: &CasePerson) -> Option<f64> {
    let (x, y) = (a.registration_date.as_deref()?, b.registration_date.as_deref()?);
    (x == y && a.office == b.office).then_some(1.0)
}

/// The words of the two primary names paired one to one (each word of one
/// with a matching word of the other not paired yet); when both names keep
/// a word without a partner, the first of each: two different names (a
/// father's name that differs), not a name left out. Particles count as
/// words here: in `Tesfaye Haile Lemma`, Haile is the father's name.
fn contradicting_names(fa: &Features, fb: &Features) -> Option<(String, String)> {
    let (x, y) = (&fa.primary, &fb.primary);
    let mut used = vec![false; y.len()];
    let mut left_x: Option<&Tok> = None;
    for t in x {
        // Best free partner, by similarity.
        let partner = y
            .iter()
            .enumerate()
            .filter(|(j, _)| !used[*j])
            .map(|(j, o)| (sim(t, o), j))
            .filter(|(s, _)| *s > 0.0)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        match partner {
            Some((_, j)) => used[j] = true,
            None => {
                // A word repeated in one name (`Cali Cali Xasan`) that the
                // other has once is a word without a partner too.
                if left_x.is_none_or(|l: &Tok| l.particle) {
                    left_x = Some(t);
                }
            }
        }
    }
    // The other's first word without a partner, a name rather than a
    // particle when there is one.
    let free: Vec<&Tok> = y.iter().zip(&used).filter(|(_, u)| !**u).map(|(t, _)| t).collect();
    let left_y = free.iter().find(|t| !t.particle).or(free.first())?;
    let left_x = left_x?;
    Some((left_x.text.clone(), left_y.text.clone()))
}

/// Nationalities whose names are patronymic chains (given name, father's,
/// grandfather's), never a family name put first: Ethiopia, Eritrea,
/// Somalia, Djibouti, Sudan.
const PATRONYMIC: &[&str] = &["ETH", "ERI", "SOM", "DJI", "SDN"];

/// The same three or more words in another order. For a patronymic name
/// (either child of a [`PATRONYMIC`] nationality) any other order names
/// other fathers; otherwise only when the given name stays first (a family
/// name written first is a common registry habit).
fn out_of_order(a: &CasePerson, fa: &Features, b: &CasePerson, fb: &Features) -> bool {
    let (x, y) = (&fa.primary, &fb.primary);
    if x.len() < 3 || y.len() < 3 {
        return false;
    }
    let mut used = vec![false; y.len()];
    let mut positions = Vec::with_capacity(x.len());
    for t in x {
        let Some(j) = (0..y.len()).find(|&j| !used[j] && sim(t, &y[j]) >= 0.85) else {
            return false;
        };
        used[j] = true;
        positions.push(j);
    }
    let ordered = positions.windows(2).all(|w| w[0] < w[1]);
    let patronymic = [a, b].iter().any(|p| p.nationality.iter().any(|n| PATRONYMIC.contains(&n.as_str())));
    !ordered && (patronymic || positions[0] == 0)
}

/// False when a pair certainly scores below `threshold`: the parts without
/// names, plus the most the name parts could add, fall short. Most
/// candidate pairs of a pass (namesakes of another sex or age) end here,
/// before any name comparison; the others are scored in full, so the
/// pairs reported and their scores are the same as without this test.
fn may_reach(a: &CasePerson, fa: &Features, b: &CasePerson, fb: &Features, threshold: f64) -> bool {
    let known =
        [sex_points(fa, fb), age_points(a, b), dob_points(a, b), nationality_points(a, b), separation_points(a, b)];
    let mut best_case: f64 = known.iter().flatten().sum();
    // The best each name part can give (see `tally`).
    let both = |x: &[Tok], y: &[Tok]| !x.is_empty() && !y.is_empty();
    if both(&fa.given, &fb.given) {
        best_case += 5.0;
    }
    if !fa.primary.is_empty() && !fb.primary.is_empty() {
        best_case += 2.0;
    }
    if both(&fa.place, &fb.place) {
        best_case += 1.5;
    }
    if both(&fa.mother, &fb.mother) {
        best_case += 2.0;
    }
    if both(&fa.father, &fb.father) {
        best_case += 2.0;
    }
    if !fa.siblings.is_empty() && !fb.siblings.is_empty() {
        best_case += 3.0;
    }
    if !a.documents.is_empty() && !b.documents.is_empty() {
        best_case += 8.0;
    }
    if both(&fa.separation_place, &fb.separation_place) {
        best_case += 1.0;
    }
    best_case += registration_points(a, b).unwrap_or(0.0);
    // A margin for rounding: the score adds the same parts in another order.
    let reachable = |points: f64| logistic(points + 1e-6) >= threshold;
    if !reachable(best_case) {
        return false;
    }
    // Then the given name, the part that tells most namesakes apart (its
    // similarities are cached, so `tally` gets them again for free).
    match given_match(fa, fb) {
        Some((_, _, g, _)) => reachable(best_case - 5.0 + given_points(g).0),
        None => true,
    }
}

fn pair(a: &CasePerson, b: &CasePerson, score: f64, parts: Vec<ScorePart>) -> DuplicatePair {
    let (a, b) = if a.case_number <= b.case_number { (a, b) } else { (b, a) };
    DuplicatePair {
        case_a: a.case_id.clone(),
        number_a: a.case_number.clone(),
        case_b: b.case_id.clone(),
        number_b: b.case_number.clone(),
        score,
        parts,
    }
}

/// Whether two cases are already linked by a merge (either direction).
fn merged_together(a: &CasePerson, b: &CasePerson) -> bool {
    a.merged_into.as_deref() == Some(b.case_id.as_str()) || b.merged_into.as_deref() == Some(a.case_id.as_str())
}

/// Name tokens of a person that are not particles (what blocking pairs).
fn name_count(f: &Features) -> usize {
    f.all.iter().filter(|t| !t.particle).count()
}

/// Second key of the block of a single-token name.
const NO_KEY: u64 = 0;

/// Block keys of a person: unordered pairs of keys (hashed) of two
/// different name tokens (own names and other spellings), or the keys of
/// the one token paired with [`NO_KEY`].
fn block_keys(f: &Features) -> BTreeSet<(u64, u64)> {
    let mut out = BTreeSet::new();
    // Particles block nothing: `Abd` + a family name would put every
    // `Abd…` of that family in one block.
    let names: Vec<&Tok> = f.all.iter().filter(|t| !t.particle).collect();
    let toks = &names;
    if toks.len() == 1 {
        for k in &toks[0].keys {
            out.insert((*k, NO_KEY));
        }
    }
    for i in 0..toks.len() {
        for j in (i + 1)..toks.len() {
            for &ki in &toks[i].keys {
                for &kj in &toks[j].keys {
                    if ki != kj {
                        out.insert((ki.min(kj), ki.max(kj)));
                    }
                }
            }
        }
    }
    out
}

/// Blocks larger than this are split by age band: a block of a very common
/// pair of names (Mohamed Diallo) holds thousands of cases and comparing all
/// of its pairs made the pass quadratic.
const BIG_BLOCK: usize = 200;

/// Width of an age band, in years. Within a big block a case is compared
/// with its own and the two neighbouring bands, so every pair whose ages
/// differ by at most this much is still compared; pairs further apart
/// already lose at least 3 points on age. Cases without an age are
/// compared with the whole block.
const AGE_BAND: f64 = 3.0;

fn age_band(age: Option<f64>) -> Option<i64> {
    age.filter(|a| a.is_finite()).map(|a| (a / AGE_BAND).floor() as i64)
}

/// Members of a big block by age band, and those without an age.
type Bands = (HashMap<i64, Vec<u32>>, Vec<u32>);

/// The members of one block, split by age band when the block is big.
struct Group {
    members: Vec<u32>,
    /// Members by age band, and those without an age (big blocks only).
    bands: Option<Bands>,
}

impl Group {
    fn new(mut members: Vec<u32>, bands: &[Option<i64>]) -> Group {
        members.sort_unstable();
        members.dedup();
        let split = (members.len() > BIG_BLOCK).then(|| {
            let mut by: HashMap<i64, Vec<u32>> = HashMap::new();
            let mut unknown = Vec::new();
            for &m in &members {
                match bands[m as usize] {
                    Some(b) => by.entry(b).or_default().push(m),
                    None => unknown.push(m),
                }
            }
            (by, unknown)
        });
        Group { members, bands: split }
    }

    /// Calls `f` with every member to compare with a case in age band `band`.
    fn each(&self, band: Option<i64>, mut f: impl FnMut(u32)) {
        match (&self.bands, band) {
            (Some((by, unknown)), Some(b)) => {
                for near in [b - 1, b, b + 1] {
                    if let Some(m) = by.get(&near) {
                        m.iter().for_each(|&j| f(j));
                    }
                }
                unknown.iter().for_each(|&j| f(j));
            }
            _ => self.members.iter().for_each(|&j| f(j)),
        }
    }
}

/// Every suspected duplicate pair among `people` (in memory), best first.
/// Cases already merged into another are left out. Pairs are scored
/// without explanation first; only those at or above `threshold` are
/// explained. The cases are shared out over up to 4 threads.
pub fn find_pairs(people: &[CasePerson], threshold: f64) -> Vec<DuplicatePair> {
    let live: Vec<&CasePerson> = people.iter().filter(|p| p.merged_into.is_none()).collect();
    let feats: Vec<Features> = live.iter().map(|p| Features::of(p)).collect();
    let bands: Vec<Option<i64>> = live.iter().map(|p| age_band(p.age)).collect();
    let mut raw_blocks: HashMap<(u64, u64), Vec<u32>> = HashMap::new();
    let mut keys_of: Vec<Vec<(u64, u64)>> = Vec::with_capacity(live.len());
    for (i, f) in feats.iter().enumerate() {
        let keys: Vec<(u64, u64)> = block_keys(f).into_iter().collect();
        for k in &keys {
            raw_blocks.entry(*k).or_default().push(i as u32);
        }
        keys_of.push(keys);
    }
    // A single-token name also joins every pair block holding that key.
    // Only the keys of single-token names are needed here.
    let single: BTreeSet<u64> = keys_of.iter().flatten().filter(|k| k.1 == NO_KEY).map(|k| k.0).collect();
    let mut raw_single: HashMap<u64, Vec<u32>> = HashMap::new();
    for ((x, y), members) in &raw_blocks {
        if *y != NO_KEY && (single.contains(x) || single.contains(y)) {
            raw_single.entry(*x).or_default().extend(members);
            raw_single.entry(*y).or_default().extend(members);
        }
    }
    let blocks: HashMap<(u64, u64), Group> = raw_blocks.into_iter().map(|(k, m)| (k, Group::new(m, &bands))).collect();
    let by_single_key: HashMap<u64, Group> = raw_single.into_iter().map(|(k, m)| (k, Group::new(m, &bands))).collect();

    let work = |part: usize, parts: usize| -> Vec<DuplicatePair> {
        let mut out = Vec::new();
        let mut cands: Vec<u32> = Vec::new();
        let consider = |i: usize, j: usize, out: &mut Vec<DuplicatePair>| {
            if may_reach(live[i], &feats[i], live[j], &feats[j], threshold)
                && score_only(live[i], &feats[i], live[j], &feats[j]) >= threshold
            {
                let (score, parts) = score_features(live[i], &feats[i], live[j], &feats[j]);
                out.push(pair(live[i], live[j], score, parts));
            }
        };
        for i in (part..live.len()).step_by(parts) {
            cands.clear();
            for k in &keys_of[i] {
                if let Some(g) = blocks.get(k) {
                    g.each(bands[i], |j| {
                        if j as usize > i {
                            cands.push(j)
                        }
                    });
                }
                if k.1 == NO_KEY {
                    if let Some(g) = by_single_key.get(&k.0) {
                        g.each(bands[i], |j| {
                            if j as usize > i {
                                cands.push(j)
                            }
                        });
                    }
                }
            }
            cands.sort_unstable();
            cands.dedup();
            for &j in &cands {
                consider(i, j as usize, &mut out);
            }
            // A single-token case seen from the many-token side.
            if name_count(&feats[i]) == 1 {
                cands.clear();
                let keys = feats[i].all.iter().filter(|t| !t.particle).flat_map(|t| &t.keys);
                for k in keys {
                    if let Some(g) = by_single_key.get(k) {
                        g.each(bands[i], |j| {
                            if (j as usize) < i && name_count(&feats[j as usize]) > 1 {
                                cands.push(j)
                            }
                        });
                    }
                }
                cands.sort_unstable();
                cands.dedup();
                for &j in &cands {
                    consider(i, j as usize, &mut out);
                }
            }
        }
        out
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
    let mut out: Vec<DuplicatePair> = if threads <= 1 || live.len() < 2_000 {
        work(0, 1)
    } else {
        let work = &work;
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|t| s.spawn(move || work(t, threads))).collect();
            handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
        })
    };
    out.sort_by(|a, b| {
        b.score.total_cmp(&a.score).then_with(|| (&a.number_a, &a.number_b).cmp(&(&b.number_a, &b.number_b)))
    });
    out.dedup_by(|a, b| a.case_a == b.case_a && a.case_b == b.case_b);
    out
}

/// The full duplicate pass over every indexed case.
pub fn find_duplicates(conn: &Connection) -> Result<Vec<DuplicatePair>, SearchError> {
    index::ensure_built(conn)?;
    Ok(find_pairs(&index::all_people(conn)?, office_threshold(conn)?))
}

/// Suspected duplicates of one person (indexed or not, e.g. a case being
/// imported) among the indexed cases, through the name-key table.
pub fn candidates_for(conn: &Connection, p: &CasePerson) -> rusqlite::Result<Vec<DuplicatePair>> {
    index::ensure_built(conn)?;
    // The lowest threshold, not the office's: whoever imports a bundle or
    // opens one case is shown every plausible twin of it, with its score;
    // the office threshold keeps the full pass's review queue short.
    let threshold = THRESHOLD;
    let fp = Features::of(p);
    let mine = block_keys(&fp);
    let mut seen = BTreeSet::new();
    let mut keys: BTreeSet<String> = BTreeSet::new();
    for n in p.all_names() {
        keys.extend(names::name_keys(&n).into_iter().filter(|k| !k.starts_with("pt")));
    }
    let mut out = Vec::new();
    for k in keys {
        for (case, _) in index::cases_with_key(conn, &k, "child")? {
            if case == p.case_id || !seen.insert(case.clone()) {
                continue;
            }
            let Some(other) = index::person(conn, &case)? else {
                continue;
            };
            if other.merged_into.is_some() || merged_together(p, &other) {
                continue;
            }
            let fo = Features::of(&other);
            // Same blocking rule as the full pass.
            if block_keys(&fo).is_disjoint(&mine) && name_count(&fo) > 1 && name_count(&fp) > 1 {
                continue;
            }
            let (score, parts) = score_features(p, &fp, &other, &fo);
            if score >= threshold {
                out.push(pair(p, &other, score, parts));
            }
        }
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    Ok(out)
}

/// Suspected duplicates of one indexed case.
pub fn duplicates_of(conn: &Connection, case_id: &str) -> Result<Vec<DuplicatePair>, SearchError> {
    index::ensure_built(conn)?;
    let p = index::person(conn, case_id)?.ok_or_else(|| SearchError::NoSuchCase(case_id.to_string()))?;
    Ok(candidates_for(conn, &p)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(s: &str) -> Tok {
        toks(s).remove(0)
    }

    #[test]
    fn character_bound_never_rules_out_a_close_pair() {
        let words = [
            "mohamed",
            "muhammad",
            "mohammed",
            "abdoulaye",
            "abdullahi",
            "fatoumata",
            "fatumata",
            "ibrahima",
            "ibrahim",
            "tesfaye",
            "tesfahe",
            "garcia",
            "garsia",
            "diallo",
            "jallow",
            "baldé",
            "balde",
            "kamara",
            "camara",
            "xasan",
            "hassan",
            "aisha",
            "aicha",
            "ousmane",
            "usman",
            "bakary",
            "bakari",
            "lokama",
            "lokamas",
            "sekoba",
        ];
        let mut ruled_out = 0;
        for a in &words {
            for b in &words {
                let (ta, tb) = (tok(a), tok(b));
                let jw = names::jaro_winkler(&ta.text, &tb.text);
                if jw >= 0.88 {
                    assert!(may_be_similar(&ta, &tb), "{a} / {b}: jw {jw}");
                } else if !may_be_similar(&ta, &tb) {
                    ruled_out += 1;
                }
            }
        }
        // The bound must also be useful: most unrelated pairs are cut.
        assert!(ruled_out > words.len() * words.len() / 2, "{ruled_out}");
    }

    #[test]
    #[cfg(feature = "demo")] // synthetic data
    fn fast_score_equals_explained_score() {
        let (people, _) = crate::search::synthetic::population(5, 300, 6);
        let feats: Vec<Features> = people.iter().map(Features::of).collect();
        for i in 0..people.len().min(60) {
            for j in (i + 1)..people.len().min(60) {
                let fast = score_only(&people[i], &feats[i], &people[j], &feats[j]);
                let (full, _) = score_features(&people[i], &feats[i], &people[j], &feats[j]);
                assert_eq!(fast.to_bits(), full.to_bits());
            }
        }
    }

    /// The early exit of a pass ([`may_reach`]) against the full score: it
    /// must never rule out a pair the score would report, at any threshold,
    /// and it must rule out most pairs of unrelated people.
    #[test]
    #[cfg(feature = "demo")] // synthetic data
    fn the_bound_never_rules_out_a_pair_that_reaches_the_threshold() {
        let (people, _) = crate::search::synthetic::population(9, 200, 6);
        let mut pairs: Vec<(CasePerson, CasePerson)> = Vec::new();
        for i in 0..people.len() {
            for j in (i + 1)..people.len() {
                pairs.push((people[i].clone(), people[j].clone()));
            }
        }
        // Duplicates, siblings and namesakes: the pairs near the threshold.
        pairs.extend(crate::search::synthetic::labelled_pairs(3, 1500).into_iter().map(|p| (p.a, p.b)));
        for t in [0.2, THRESHOLD, 0.9] {
            let (mut ruled_out, mut reached) = (0usize, 0usize);
            for (a, b) in &pairs {
                let (fa, fb) = (Features::of(a), Features::of(b));
                let score = score_only(a, &fa, b, &fb);
                reached += usize::from(score >= t);
                if !may_reach(a, &fa, b, &fb, t) {
                    ruled_out += 1;
                    assert!(score < t, "{} / {} score {score} ruled out at {t}", a.case_id, b.case_id);
                }
            }
            assert!(reached > 100, "{reached} pairs reach {t}: too few to test the bound");
            assert!(ruled_out > pairs.len() / 2, "only {ruled_out} of {} ruled out at {t}", pairs.len());
        }
    }

    #[test]
    fn big_blocks_keep_pairs_within_an_age_band() {
        let ages: Vec<Option<i64>> = (0..500u32).map(|i| age_band(Some(f64::from(i % 18)))).chain([None]).collect();
        let g = Group::new((0..501).collect(), &ages);
        assert!(g.bands.is_some());
        // Case 0 is aged 0: compared with ages 0..=5 and the one without age.
        let mut seen = Vec::new();
        g.each(ages[0], |j| seen.push(j));
        for j in 0..501u32 {
            let age = if j == 500 { None } else { Some(j % 18) };
            match age {
                None => assert!(seen.contains(&j)),
                Some(a) if a <= 3 => assert!(seen.contains(&j), "age {a}"),
                Some(a) if a >= 6 => assert!(!seen.contains(&j), "age {a}"),
                _ => {}
            }
        }
        // A small block is compared whole.
        let small = Group::new(vec![0, 10, 17], &ages);
        let mut all = Vec::new();
        small.each(ages[0], |j| all.push(j));
        assert_eq!(all, vec![0, 10, 17]);
    }
}

#[cfg(test)]
mod name_tests {
    use super::*;

    fn person(given: &str, family: &str, others: &[&str]) -> CasePerson {
        CasePerson {
            case_id: format!("{given} {family}"),
            given_names: given.into(),
            family_name: family.into(),
            other_names: others.iter().map(|s| s.to_string()).collect(),
            ..CasePerson::default()
        }
    }

    #[test]
    fn a_name_each_record_lacks_is_another_name() {
        let cases = [
            (
                person("Juan Carlos", "Pérez Tzul", &["Juan Perez T."]),
                person("Juan Carlos", "Gómez Tzul", &["Juan Gomez T."]),
                true,
            ),
            (person("Cali", "Cali Xasan", &[]), person("Cali", "Cabdiraxmaan Xasan", &[]), true),
            (person("Tesfaye", "Lemma Tadesse", &[]), person("Tesfaye", "Haile Lemma", &[]), true),
            // One name left out, or an initial: not a contradiction.
            (person("Yessenia", "Cruz Ajú", &[]), person("Yessenia", "Cruz", &[]), false),
            (person("Luis Fernando", "Ramírez Ajú", &[]), person("Luis Fernando", "Ramirez A.", &[]), false),
            (person("Maxamed", "Axmed Cali", &[]), person("Mohamed", "Ahmed Ali", &[]), false),
        ];
        for (a, b, contradict) in cases {
            let got = contradicting_names(&Features::of(&a), &Features::of(&b));
            assert_eq!(got.is_some(), contradict, "{a:?} / {b:?}: {got:?}");
            let (_, parts) = score_pair(&a, &b);
            assert_eq!(parts.iter().any(|p| p.part == "other_names"), contradict, "{parts:?}");
        }
    }
}
