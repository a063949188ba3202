//! The report's own form of a stored field value: compact, and parsed
//! without building what no indicator reads.
//!
//! A 50,000-case report holds about two million values. As
//! `serde_json::Value` each string was an allocation of its own and each
//! object a B-tree map of owned keys; on a first report that memory is
//! fresh, and the page faults and the kernel zeroing pages cost more than
//! the parsing. Here a short string (an enum option, a date) is held
//! inline, and an object keeps only the keys in [`OBJECT_KEYS`].

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The keys of object values the indicators read (consent and checklist
/// dates, checklist items, CFM ratings). An object keeps these and drops
/// the rest; [`Val::get`] of any other key is a bug, caught by a debug
/// assertion (the tests run with it).
pub(crate) const OBJECT_KEYS: &[&str] = &["date", "done", "item", "rating"];

/// Longest string held inline.
const SHORT: usize = 22;

/// A stored field value as the indicators see it (24 bytes).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Num(f64),
    /// A string of at most [`SHORT`] bytes, inline.
    Short {
        len: u8,
        bytes: [u8; SHORT],
    },
    Long(Box<str>),
    List(Box<[Val]>),
    /// Only the keys in [`OBJECT_KEYS`], in the stored order.
    Obj(Box<[(&'static str, Val)]>),
}

impl Val {
    /// A string value.
    pub fn string(s: &str) -> Val {
        if s.len() <= SHORT {
            let mut bytes = [0; SHORT];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            Val::Short { len: s.len() as u8, bytes }
        } else {
            Val::Long(s.into())
        }
    }

    /// A stored value from its canonical JSON text. Most values are plain
    /// strings (enum options, dates): those are taken without the JSON
    /// parser. `None` for text that is not JSON (never written by the
    /// projection; skipped rather than failing a report).
    pub fn parse(text: &str) -> Option<Val> {
        if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            if !inner.contains(['"', '\\']) {
                return Some(Val::string(inner));
            }
        }
        match text {
            "true" => Some(Val::Bool(true)),
            "false" => Some(Val::Bool(false)),
            "null" => Some(Val::Null),
            _ => serde_json::from_str(text).ok(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            // Built from a `&str` cut at its length: always UTF-8.
            Val::Short { len, bytes } => std::str::from_utf8(&bytes[..usize::from(*len)]).ok(),
            Val::Long(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Val::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }

    /// The elements of a list value.
    pub fn as_list(&self) -> Option<&[Val]> {
        match self {
            Val::List(l) => Some(l),
            _ => None,
        }
    }

    /// Key `key` of an object value; the key must be one of [`OBJECT_KEYS`].
    pub fn get(&self, key: &str) -> Option<&Val> {
        debug_assert!(OBJECT_KEYS.contains(&key), "objects do not keep {key:?}: add it to OBJECT_KEYS");
        match self {
            Val::Obj(fields) => fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// As a JSON value (for the shared task rules that take one); objects
    /// carry only their kept keys.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Int(n) => Value::from(*n),
            Val::Num(n) => serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number),
            Val::Short { .. } | Val::Long(_) => Value::String(self.as_str().unwrap_or_default().to_owned()),
            Val::List(l) => Value::Array(l.iter().map(Val::to_json).collect()),
            Val::Obj(fields) => Value::Object(fields.iter().map(|(k, v)| ((*k).to_owned(), v.to_json())).collect()),
        }
    }
}

impl<'de> Deserialize<'de> for Val {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Val, D::Error> {
        deserializer.deserialize_any(ValVisitor)
    }
}

struct ValVisitor;

impl<'de> Visitor<'de> for ValVisitor {
    type Value = Val;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Val, E> {
        Ok(Val::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Val, E> {
        Ok(Val::Int(n))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Val, E> {
        Ok(i64::try_from(n).map_or(Val::Num(n as f64), Val::Int))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Val, E> {
        Ok(Val::Num(n))
    }
    fn visit_str<E>(self, s: &str) -> Result<Val, E> {
        Ok(Val::string(s))
    }
    fn visit_unit<E>(self) -> Result<Val, E> {
        Ok(Val::Null)
    }
    fn visit_none<E>(self) -> Result<Val, E> {
        Ok(Val::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Val, D::Error> {
        Val::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Val, A::Error> {
        let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element()? {
            list.push(v);
        }
        Ok(Val::List(list.into()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Val, A::Error> {
        let mut fields = Vec::new();
        while let Some(key) = map.next_key::<KeptKey>()? {
            match key.0 {
                Some(k) => fields.push((k, map.next_value()?)),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Val::Obj(fields.into()))
    }
}

/// An object key: the [`OBJECT_KEYS`] entry it equals, if any (no
/// allocation either way).
struct KeptKey(Option<&'static str>);

impl<'de> Deserialize<'de> for KeptKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<KeptKey, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeptKey;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E>(self, s: &str) -> Result<KeptKey, E> {
                Ok(KeptKey(OBJECT_KEYS.iter().find(|k| **k == s).copied()))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn a_value_is_three_words() {
        assert_eq!(std::mem::size_of::<Val>(), 24);
        assert_eq!(std::mem::size_of::<Option<Val>>(), 24);
    }

    /// Everything but objects comes out as the JSON parser reads it.
    #[test]
    fn values_equal_the_json_parser() {
        for text in [
            r#""foster_care""#,
            r#""2026-03-02T15:00:00Z""#,
            r#""a string longer than twenty-two bytes, kept whole""#,
            r#""say \"hi\"""#,
            r#""a\\b""#,
            r#""é, ü and ß""#,
            r#""""#,
            "true",
            "false",
            "null",
            "12",
            "-7",
            "-3.5",
            r#"["a","b"]"#,
            r#"[]"#,
            r#"[["nested"], true, null]"#,
        ] {
            let val = Val::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(val.to_json(), serde_json::from_str::<Value>(text).unwrap(), "{text}");
        }
        assert_eq!(Val::parse("not json"), None);
        assert_eq!(Val::parse(r#"{"date": "#), None);
    }

    /// Objects keep the keys the indicators read, at any depth, and drop
    /// the rest (with their values, whatever their shape).
    #[test]
    fn objects_keep_only_the_keys_read() {
        let text = r#"[{"domain":"seeing","rating":"a_lot_of_difficulty","notes":{"date":"x"}},
                      {"item":"a_family_assessed","done":true,"date":"2026-02-01","by":["x",{"y":1}]}]"#;
        let val = Val::parse(text).unwrap();
        let rows = val.as_list().unwrap();
        assert_eq!(rows[0].get("rating").and_then(Val::as_str), Some("a_lot_of_difficulty"));
        assert_eq!(rows[0].get("date"), None, "a dropped key's nested object is not searched");
        assert_eq!(rows[1].get("item").and_then(Val::as_str), Some("a_family_assessed"));
        assert_eq!(rows[1].get("done").and_then(Val::as_bool), Some(true));
        assert_eq!(
            val.to_json(),
            serde_json::json!([{"rating": "a_lot_of_difficulty"},
                               {"item": "a_family_assessed", "done": true, "date": "2026-02-01"}])
        );
        // An escaped key is compared unescaped.
        let escaped = Val::parse(r#"{"d\u0061te":"2026-01-01"}"#).unwrap();
        assert_eq!(escaped.get("date").and_then(Val::as_str), Some("2026-01-01"));
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "objects do not keep")]
    fn asking_an_object_for_a_dropped_key_is_caught() {
        let _ = Val::parse(r#"{"domain":"seeing"}"#).unwrap().get("domain");
    }
}
