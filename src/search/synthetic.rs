//! Synthetic people with known truth, for the duplicate-matching quality
//! test and the benchmark: true duplicates (other spellings of the same
//! names, typos, swapped name order, missing fields, age a year apart) and
//! hard non-duplicates (siblings with the same parents and home, namesakes,
//! children sharing a common given name). Names come from the demo name
//! groups (`model::demo::names`).

use std::collections::BTreeSet;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::model::demo::names::{adult_name, places, NameChoice};
use crate::search::person::{CasePerson, Relative};

const NATIONALITIES: &[&str] =
    &["GIN", "MLI", "CIV", "GMB", "SEN", "NGA", "ETH", "SOM", "GTM", "HND", "SLV", "HTI", "SDN"];

/// One labelled pair.
#[derive(Debug, Clone)]
pub struct LabelledPair {
    /// First record.
    pub a: CasePerson,
    /// Second record.
    pub b: CasePerson,
    /// Whether they are the same child.
    pub duplicate: bool,
    /// How the pair was made (`variant`, `sibling`, `namesake`, …).
    pub kind: &'static str,
}

struct Child {
    person: CasePerson,
    name: NameChoice,
    nat: &'static str,
}

/// A made-up name part. The demo name lists hold a dozen names per
/// pattern, far fewer than a real population; without extra parts every
/// synthetic "Mohamed Diallo" would share parents and home with every other
/// and no matcher could tell them apart.
fn made_up(rng: &mut StdRng) -> String {
    const SYL: &[&str] = &[
        "ba", "ka", "ma", "di", "lo", "sa", "ti", "ne", "ko", "ra", "fu", "se", "mi", "to", "ga", "ya", "nu", "we",
        "zi", "bo", "ke", "ru", "la", "po",
    ];
    let n = rng.gen_range(2..4);
    let mut s: String = (0..n).map(|_| SYL[rng.gen_range(0..SYL.len())]).collect();
    if let Some(f) = s.get_mut(0..1) {
        f.make_ascii_uppercase();
    }
    s
}

fn new_child(rng: &mut StdRng, n: usize) -> Child {
    let nat = NATIONALITIES[rng.gen_range(0..NATIONALITIES.len())];
    let female = rng.gen_bool(0.2);
    let name = NameChoice::random(rng, nat, female);
    let (mut g, f) = name.render(0);
    if rng.gen_bool(0.8) {
        // A second given name (kept or dropped in other registrations).
        g = format!("{g} {}", made_up(rng));
    }
    let age: u32 = rng.gen_range(8..=17);
    let dob = if rng.gen_bool(0.5) {
        Some(if rng.gen_bool(0.3) {
            format!("{}-01-01", 2026 - age)
        } else {
            format!("{}-{:02}-{:02}", 2026 - age, rng.gen_range(1..=12), rng.gen_range(1..=28))
        })
    } else {
        None
    };
    let pl = places(nat);
    let mut family = Vec::new();
    if rng.gen_bool(0.7) {
        family.push(Relative {
            name: format!("{} {}", adult_name(rng, nat, true), made_up(rng)),
            relationship: Some("mother".into()),
            ..Relative::default()
        });
    }
    if rng.gen_bool(0.6) {
        family.push(Relative {
            name: format!("{} {}", adult_name(rng, nat, false), made_up(rng)),
            relationship: Some("father".into()),
            ..Relative::default()
        });
    }
    let person = CasePerson {
        case_id: format!("c{n:07}"),
        case_number: format!("SYN-{n:07}"),
        office: "Agadez".into(),
        stage: "registered".into(),
        given_names: g,
        family_name: f,
        sex: Some(if female { "female" } else { "male" }.into()),
        age: Some(age as f64),
        date_of_birth: dob,
        place_of_origin: (!pl.is_empty()).then(|| pl[rng.gen_range(0..pl.len())].to_string()),
        nationality: vec![nat.to_string()],
        family,
        ..CasePerson::default()
    };
    Child { person, name, nat }
}

fn typo(rng: &mut StdRng, s: &str) -> String {
    let mut c: Vec<char> = s.chars().collect();
    if c.len() < 5 {
        return s.to_string();
    }
    let i = rng.gen_range(1..c.len() - 1);
    match rng.gen_range(0..3) {
        0 => {
            c.remove(i);
        }
        1 => c.swap(i, i + 1),
        _ => c[i] = ['a', 'e', 'i', 'o', 'u'][rng.gen_range(0..5)],
    }
    c.into_iter().collect()
}

/// Another registration of the same child.
fn duplicate_of(rng: &mut StdRng, c: &Child, n: usize) -> (CasePerson, &'static str) {
    let mut p = c.person.clone();
    p.case_id = format!("c{n:07}");
    p.case_number = format!("SYN-{n:07}");
    let (mut g, f) = c.name.render(rng.gen_range(1..6));
    let middle = c.person.given_names.split_once(' ').map(|(_, m)| m.to_string());
    if let Some(m) = middle.filter(|_| rng.gen_bool(0.7)) {
        g = format!("{g} {m}");
    }
    p.given_names = g;
    p.family_name = f;
    let mut kind = "variant";
    if rng.gen_bool(0.15) {
        std::mem::swap(&mut p.given_names, &mut p.family_name);
        kind = "swapped";
    }
    if rng.gen_bool(0.2) {
        p.family_name = typo(rng, &p.family_name);
        kind = "typo";
    } else if rng.gen_bool(0.1) {
        p.given_names = typo(rng, &p.given_names);
        kind = "typo";
    }
    if rng.gen_bool(0.1) && kind != "swapped" {
        p.family_name.clear();
        kind = "missing_family_name";
    }
    if rng.gen_bool(0.3) {
        p.date_of_birth = None;
    }
    if rng.gen_bool(0.2) {
        p.place_of_origin = None;
    }
    if rng.gen_bool(0.3) {
        p.family.clear();
    }
    if rng.gen_bool(0.3) {
        // Registered a year apart, age updated (or not).
        p.age = p.age.map(|a| a + 1.0);
    }
    if rng.gen_bool(0.3) {
        p.other_names = vec![format!("{} {}", c.person.given_names, c.person.family_name)];
    }
    (p, kind)
}

/// A brother or sister: same family names, parents and home.
fn sibling_of(rng: &mut StdRng, c: &Child, n: usize) -> CasePerson {
    let female = rng.gen_bool(0.4);
    let mut name = c.name.sibling(rng, female);
    for _ in 0..10 {
        if name.given != c.name.given || name.female != c.name.female {
            break;
        }
        name = c.name.sibling(rng, female);
    }
    let mut p = c.person.clone();
    p.case_id = format!("c{n:07}");
    p.case_number = format!("SYN-{n:07}");
    let (g, f) = name.render(rng.gen_range(0..3));
    p.given_names = g;
    p.family_name = f;
    p.sex = Some(if female { "female" } else { "male" }.into());
    let gap = rng.gen_range(1..6) as f64 * if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
    p.age = p.age.map(|a| (a + gap).clamp(0.0, 17.0));
    p.date_of_birth = None;
    p.other_names.clear();
    if name.given == c.name.given && name.female == c.name.female {
        // Could not draw another given name (tiny list): make it a namesake
        // cousin instead by changing parents.
        p.family.clear();
    }
    p
}

/// A different child with the same name (or the same given name).
fn namesake_of(rng: &mut StdRng, c: &Child, n: usize, same_family: bool) -> CasePerson {
    let mut other = new_child(rng, n);
    let mut name = NameChoice::random(rng, c.nat, c.name.female);
    name.given = c.name.given;
    if same_family {
        name.family = c.name.family.clone();
    }
    let (g, f) = name.render(rng.gen_range(0..3));
    other.person.given_names = g;
    other.person.family_name = f;
    other.person.sex = c.person.sex.clone();
    other.person.nationality = c.person.nationality.clone();
    // Different people: ages apart, own parents and home.
    let base = c.person.age.unwrap_or(12.0);
    other.person.age =
        Some(if base > 12.0 { base - rng.gen_range(3..6) as f64 } else { base + rng.gen_range(3..6) as f64 });
    other.person.date_of_birth = None;
    other.person
}

/// `n` labelled pairs: about half true duplicates, half hard non-duplicates.
pub fn labelled_pairs(seed: u64, n: usize) -> Vec<LabelledPair> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n);
    let mut id = 0;
    let mut next = || {
        id += 1;
        id
    };
    while out.len() < n {
        let c = new_child(&mut rng, next());
        let (pair, duplicate, kind) = match rng.gen_range(0..10) {
            0..=4 => {
                let (d, kind) = duplicate_of(&mut rng, &c, next());
                (d, true, kind)
            }
            5..=6 => (sibling_of(&mut rng, &c, next()), false, "sibling"),
            7..=8 => (namesake_of(&mut rng, &c, next(), true), false, "namesake"),
            _ => (namesake_of(&mut rng, &c, next(), false), false, "same_given_name"),
        };
        out.push(LabelledPair { a: c.person, b: pair, duplicate, kind });
    }
    out
}

/// A population of `n` cases in which about `dup_percent` % of children
/// were registered twice and 10 % have a registered sibling; returns the
/// people and the true duplicate pairs (case ids, ordered).
pub fn population(seed: u64, n: usize, dup_percent: u32) -> (Vec<CasePerson>, BTreeSet<(String, String)>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut people = Vec::with_capacity(n);
    let mut truth = BTreeSet::new();
    let mut id = 0usize;
    while people.len() < n {
        id += 1;
        let c = new_child(&mut rng, id);
        let roll = rng.gen_range(0..100);
        if roll < dup_percent {
            id += 1;
            let (d, _) = duplicate_of(&mut rng, &c, id);
            let (x, y) = (c.person.case_id.clone(), d.case_id.clone());
            truth.insert(if x < y { (x, y) } else { (y, x) });
            people.push(d);
        } else if roll < dup_percent + 10 {
            id += 1;
            people.push(sibling_of(&mut rng, &c, id));
        }
        people.push(c.person);
    }
    people.truncate(n);
    let ids: BTreeSet<&String> = people.iter().map(|p| &p.case_id).collect();
    truth.retain(|(a, b)| ids.contains(a) && ids.contains(b));
    (people, truth)
}
