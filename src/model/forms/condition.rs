//! Conditions of `required_if` / `shown_if`: a test on one other field.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{FieldDef, FieldType, FormDef, FormError, FormRegistry};

/// A test on another field: of the same form (or of the same list item, for a
/// sub-field), or of another form of the case when written `form_id.field`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawCondition", into = "RawCondition")]
pub struct Condition {
    /// The field tested.
    pub field: String,
    /// The test.
    pub test: ConditionTest,
}

/// What a [`Condition`] checks. On a multi-enum (array) field, `Equals`/`In`
/// hold when the array contains the value(s) and `NotEquals`/`NotIn` when it
/// contains none of them. Every test but `Empty` is false on an empty field.
#[derive(Debug, Clone, PartialEq)]
pub enum ConditionTest {
    /// Field equals (or contains) the value.
    Equals(Value),
    /// Field has a value other than this one.
    NotEquals(Value),
    /// Field is (or contains) one of the values.
    In(Vec<Value>),
    /// Field has a value, none of these.
    NotIn(Vec<Value>),
    /// Field has a value.
    NotEmpty,
    /// Field is missing, null, "" or [].
    Empty,
    /// Number at least this.
    Gte(f64),
    /// Number at most this.
    Lte(f64),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    equals: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    not_equals: Option<Value>,
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    in_: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    not_in: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    not_empty: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    empty: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gte: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lte: Option<f64>,
}

impl TryFrom<RawCondition> for Condition {
    type Error = String;
    fn try_from(r: RawCondition) -> Result<Self, String> {
        let mut tests = Vec::new();
        if let Some(v) = r.equals {
            tests.push(ConditionTest::Equals(v));
        }
        if let Some(v) = r.not_equals {
            tests.push(ConditionTest::NotEquals(v));
        }
        if let Some(v) = r.in_ {
            tests.push(ConditionTest::In(v));
        }
        if let Some(v) = r.not_in {
            tests.push(ConditionTest::NotIn(v));
        }
        match r.not_empty {
            Some(true) => tests.push(ConditionTest::NotEmpty),
            Some(false) => return Err("not_empty must be true (use empty)".into()),
            None => {}
        }
        match r.empty {
            Some(true) => tests.push(ConditionTest::Empty),
            Some(false) => return Err("empty must be true (use not_empty)".into()),
            None => {}
        }
        if let Some(v) = r.gte {
            tests.push(ConditionTest::Gte(v));
        }
        if let Some(v) = r.lte {
            tests.push(ConditionTest::Lte(v));
        }
        if tests.len() != 1 {
            return Err(format!(
                "condition on {:?} needs exactly one of equals, not_equals, in, not_in, not_empty, empty, gte, lte",
                r.field
            ));
        }
        Ok(Condition { field: r.field, test: tests.remove(0) })
    }
}

impl From<Condition> for RawCondition {
    fn from(c: Condition) -> Self {
        let mut r = RawCondition { field: c.field, ..Default::default() };
        match c.test {
            ConditionTest::Equals(v) => r.equals = Some(v),
            ConditionTest::NotEquals(v) => r.not_equals = Some(v),
            ConditionTest::In(v) => r.in_ = Some(v),
            ConditionTest::NotIn(v) => r.not_in = Some(v),
            ConditionTest::NotEmpty => r.not_empty = Some(true),
            ConditionTest::Empty => r.empty = Some(true),
            ConditionTest::Gte(v) => r.gte = Some(v),
            ConditionTest::Lte(v) => r.lte = Some(v),
        }
        r
    }
}

/// True for a missing value, null, "" and [].
pub(crate) fn is_empty_value(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    }
}

impl Condition {
    /// Whether the condition names a field of another form (`form_id.field`).
    pub fn is_cross_form(&self) -> bool {
        self.field.contains('.')
    }

    /// Evaluate against the values of the same form (or list item) and, for a
    /// cross-form condition, the case's values keyed `form_id.field`. Returns
    /// `None` for a cross-form condition when no case values are given: the
    /// caller then does not enforce it.
    pub fn eval(
        &self,
        local: &Map<String, Value>,
        case: Option<&std::collections::BTreeMap<String, Value>>,
    ) -> Option<bool> {
        let value = if self.is_cross_form() { case?.get(&self.field) } else { local.get(&self.field) };
        Some(self.test_value(value))
    }

    fn test_value(&self, value: Option<&Value>) -> bool {
        if let ConditionTest::Empty = self.test {
            return is_empty_value(value);
        }
        if is_empty_value(value) {
            return false;
        }
        let Some(value) = value else { return false };
        let matches_any = |wanted: &[Value]| match value {
            Value::Array(items) => items.iter().any(|i| wanted.contains(i)),
            other => wanted.contains(other),
        };
        match &self.test {
            ConditionTest::Equals(v) => matches_any(std::slice::from_ref(v)),
            ConditionTest::NotEquals(v) => !matches_any(std::slice::from_ref(v)),
            ConditionTest::In(vs) => matches_any(vs),
            ConditionTest::NotIn(vs) => !matches_any(vs),
            ConditionTest::NotEmpty => true,
            ConditionTest::Empty => unreachable!("handled above"),
            ConditionTest::Gte(n) => value.as_f64().is_some_and(|x| x >= *n),
            ConditionTest::Lte(n) => value.as_f64().is_some_and(|x| x <= *n),
        }
    }

    fn compared_values(&self) -> Vec<&Value> {
        match &self.test {
            ConditionTest::Equals(v) | ConditionTest::NotEquals(v) => vec![v],
            ConditionTest::In(vs) | ConditionTest::NotIn(vs) => vs.iter().collect(),
            _ => Vec::new(),
        }
    }
}

/// Check every condition of a form: the tested field exists, and compared
/// values are values that field can take. Catches typos in definitions.
pub(crate) fn check_form_conditions(def: &FormDef, registry: &FormRegistry) -> Result<(), FormError> {
    check_level(def, &def.fields, "", registry)
}

fn check_level(def: &FormDef, level: &[FieldDef], prefix: &str, registry: &FormRegistry) -> Result<(), FormError> {
    for field in level {
        let path = format!("{prefix}{}", field.name);
        for cond in field.required_if.iter().chain(field.shown_if.iter()) {
            let bad = |problem: String| FormError::BadCondition { form: def.id.clone(), field: path.clone(), problem };
            let target = if let Some((form, name)) = cond.field.split_once('.') {
                registry.get(form).and_then(|f| f.field(name))
            } else {
                level.iter().find(|f| f.name == cond.field)
            };
            let Some(target) = target else {
                return Err(bad(format!("tested field {:?} does not exist", cond.field)));
            };
            if target.name == field.name && !cond.is_cross_form() {
                return Err(bad("a field cannot depend on itself".into()));
            }
            for v in cond.compared_values() {
                let ok = match target.field_type {
                    FieldType::Enum | FieldType::MultiEnum => v.as_str().is_some_and(|s| target.option(s).is_some()),
                    FieldType::Bool => v.is_boolean(),
                    FieldType::Number => v.is_number(),
                    _ => v.is_string(),
                };
                if !ok {
                    return Err(bad(format!("{v} is not a value field {:?} can take", target.name)));
                }
            }
            if matches!(cond.test, ConditionTest::Gte(_) | ConditionTest::Lte(_))
                && target.field_type != FieldType::Number
            {
                return Err(bad(format!("gte/lte on non-number field {:?}", target.name)));
            }
        }
        if field.field_type == FieldType::GroupList {
            check_level(def, &field.fields, &format!("{path}."), registry)?;
        }
    }
    Ok(())
}
