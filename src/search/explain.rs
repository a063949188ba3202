//! The explanation of one part of a tracing, inquiry or duplicate score: a
//! stable code (`same_given_name`, `mother_differs`, …, never reused for
//! another meaning), the values it compared as named parameters, and the
//! English sentence the CLI prints. An interface translates the code with
//! its parameters instead of showing the English (which stays as a
//! fallback), as it does for error codes (`crate::codes`).
//!
//! [`EXPLANATIONS`] is the one table of codes: each with the parameters it
//! always gives and its English template (`{name}` placeholders). The
//! desktop app exports it for its catalogue test, which fails when a code
//! has no message in a language or a message uses a parameter the code
//! does not give.

use std::collections::BTreeMap;

/// Every explanation code: (code, its parameters, English template).
pub const EXPLANATIONS: &[(&str, &[&str], &str)] = &[
    // Names.
    ("same_given_name", &["a", "b"], "same given name: {a} / {b}"),
    ("given_name_variant", &["a", "b"], "given name spelling variant: {a} / {b}"),
    ("similar_given_name", &["a", "b"], "similar given name: {a} / {b}"),
    ("different_given_names", &["a", "b"], "different given names: {a} / {b}"),
    ("names_cover", &["percent"], "{percent}% of the shorter name matches"),
    ("names_contradict", &["a", "b"], "{a} / {b} in neither record"),
    ("name_order_differs", &[], "same names in another order: other fathers"),
    ("sought_name", &["sought", "registered"], "sought {sought} / registered {registered}"),
    ("sought_names", &["a", "b"], "sought {a} / sought {b}"),
    ("given_name_absent", &["name"], "given name {name} not among the child's names"),
    ("same_family_name", &["a", "b"], "family name {a} / {b}"),
    // Sex and age.
    ("same_sex", &["sex"], "both {sex}"),
    ("sex_differs", &["a", "b"], "{a} / {b}"),
    ("sought_sex_differs", &["sought", "registered"], "{sought} sought, {registered} registered"),
    ("ages", &["a", "b"], "ages {a} / {b}"),
    ("sought_ages", &["a", "b"], "aged {a} / aged {b}"),
    ("sought_age", &["sought", "registered"], "sought aged {sought}, registered aged {registered}"),
    ("dates_of_birth", &["a", "b"], "born {a} / {b}"),
    // Family.
    ("mother_matches", &[], "mother matches"),
    ("mother_differs", &[], "mother differs"),
    ("father_matches", &[], "father matches"),
    ("father_differs", &[], "father differs"),
    ("same_mother", &["a", "b"], "same mother: {a} / {b}"),
    ("different_mother", &["a", "b"], "different mother: {a} / {b}"),
    ("same_father", &["a", "b"], "same father: {a} / {b}"),
    ("different_father", &["a", "b"], "different father: {a} / {b}"),
    ("siblings_shared", &["count"], "{count} sibling name(s) in common"),
    ("inquirer_is_mother", &["inquirer", "parent"], "the inquirer {inquirer} and the recorded mother {parent}"),
    ("inquirer_is_father", &["inquirer", "parent"], "the inquirer {inquirer} and the recorded father {parent}"),
    ("inquirer_not_mother", &["inquirer", "parent"], "the inquirer {inquirer} is not the recorded mother {parent}"),
    ("inquirer_not_father", &["inquirer", "parent"], "the inquirer {inquirer} is not the recorded father {parent}"),
    ("maybe_duplicate", &[], "same given name and age: check for a duplicate instead"),
    // Places, dates, documents.
    ("places_of_origin", &["a", "b"], "from {a} / {b}"),
    ("same_place_of_origin", &[], "same place of origin"),
    ("different_places_of_origin", &[], "different places of origin"),
    ("separation_places", &["a", "b"], "separated at {a} / {b}"),
    ("same_separation_place", &[], "same place of separation"),
    ("location_is_separation_place", &[], "last known location matches the place of separation"),
    ("same_last_seen_place", &[], "last seen in the same place"),
    ("separation_dates", &["a", "b"], "separated {a} / {b}"),
    ("same_separation_date", &["date"], "both separated on {date}"),
    ("same_document_number", &["number"], "same document number {number}"),
    ("document_numbers_differ", &["kind"], "{kind} numbers differ"),
    ("both_photos", &[], "both have a photo: compare them"),
    (
        "registrations",
        &["office_a", "date_a", "office_b", "date_b"],
        "registered at {office_a} on {date_a} / {office_b} on {date_b}",
    ),
    ("same_nationality", &[], "same nationality"),
    ("nationalities_differ", &["a", "b"], "{a} / {b}"),
];

/// The parameters `code` gives, or `None` for a code not in [`EXPLANATIONS`].
pub fn params_of(code: &str) -> Option<&'static [&'static str]> {
    EXPLANATIONS.iter().find(|(c, _, _)| *c == code).map(|(_, p, _)| *p)
}

/// The English sentence of `code` with `params` filled in. A code not in
/// the table (a newer peer's) reads as the code and its values.
pub fn english(code: &str, params: &BTreeMap<String, String>) -> String {
    let Some((_, _, template)) = EXPLANATIONS.iter().find(|(c, _, _)| *c == code) else {
        let values: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        return format!("{code} {}", values.join(" ")).trim_end().to_string();
    };
    let mut out = template.to_string();
    for (k, v) in params {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_uses_exactly_its_parameters_and_codes_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for (code, params, template) in EXPLANATIONS {
            assert!(seen.insert(*code), "{code} twice");
            for p in *params {
                assert!(template.contains(&format!("{{{p}}}")), "{code} does not show {p}");
            }
            let filled = english(code, &params.iter().map(|p| (p.to_string(), "x".to_string())).collect());
            assert!(!filled.contains('{'), "{code}: {filled}");
        }
    }

    #[test]
    fn english_fills_the_values_and_an_unknown_code_still_reads() {
        let p: BTreeMap<String, String> =
            [("a".to_string(), "mariama".to_string()), ("b".to_string(), "mariama".to_string())].into();
        assert_eq!(english("same_given_name", &p), "same given name: mariama / mariama");
        assert_eq!(english("from_the_future", &p), "from_the_future a=mariama b=mariama");
    }
}
