//! The shared vectors of form conditions (tests/vectors/forms/conditions.json)
//! run against the library's evaluator, `Condition::eval`. The UI runs the
//! same file against its own evaluator (ui/src/lib/forms.test.ts), so the
//! two cannot disagree on a vector; this test also makes sure every kind of
//! test the library has is covered by one.

use std::collections::{BTreeMap, BTreeSet};

use fieldcase::model::forms::{Condition, ConditionTest};
use serde_json::{Map, Value};

fn vectors() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/forms/conditions.json");
    let text = std::fs::read_to_string(path).expect("read the vectors");
    let doc: Value = serde_json::from_str(&text).expect("vectors are JSON");
    doc["vectors"].as_array().expect("a list of vectors").clone()
}

/// The kind of a test, by its name in the form definitions. Exhaustive: a new
/// kind of test does not compile here until it has a name (and vectors).
fn kind(test: &ConditionTest) -> &'static str {
    match test {
        ConditionTest::Equals(_) => "equals",
        ConditionTest::NotEquals(_) => "not_equals",
        ConditionTest::In(_) => "in",
        ConditionTest::NotIn(_) => "not_in",
        ConditionTest::NotEmpty => "not_empty",
        ConditionTest::Empty => "empty",
        ConditionTest::Gte(_) => "gte",
        ConditionTest::Lte(_) => "lte",
    }
}

#[test]
fn the_library_evaluates_every_vector_as_written() {
    let mut failures = Vec::new();
    for v in vectors() {
        let name = v["name"].as_str().expect("a name");
        let cond: Condition = serde_json::from_value(v["condition"].clone()).expect(name);
        let local: Map<String, Value> = v["values"].as_object().cloned().expect(name);
        let case: Option<BTreeMap<String, Value>> =
            v.get("case").map(|c| c.as_object().expect(name).clone().into_iter().collect());
        let expected = v["expected"].as_bool();
        let got = cond.eval(&local, case.as_ref());
        if got != expected {
            failures.push(format!("{name}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_kind_of_test_has_vectors_that_hold_and_that_fail() {
    let mut holds = BTreeSet::new();
    let mut fails = BTreeSet::new();
    for v in vectors() {
        let cond: Condition = serde_json::from_value(v["condition"].clone()).expect("a condition");
        match v["expected"].as_bool() {
            Some(true) => holds.insert(kind(&cond.test)),
            Some(false) => fails.insert(kind(&cond.test)),
            None => false,
        };
    }
    let all = ["equals", "not_equals", "in", "not_in", "not_empty", "empty", "gte", "lte"];
    for k in all {
        assert!(holds.contains(k) && fails.contains(k), "no vector where {k} holds, or none where it fails");
    }
}
