//! Canonical byte encoding of JSON values, used for event signatures and hashes.
//!
//! The encoding is JSON with object keys sorted by their UTF-8 bytes at every
//! depth, no insignificant whitespace, strings escaped as `serde_json` escapes
//! them, and numbers written as `serde_json` writes them (integers exactly;
//! finite floats in their shortest round-tripping form). Two values that are
//! equal as `serde_json::Value`s therefore always encode to the same bytes,
//! whatever the key order they were parsed or built with, so a signature made
//! on one device verifies on another after any JSON round trip.

use std::io::Write as _;

use serde_json::Value;

/// Domain-separation prefix of every signed event encoding, so an event
/// signature can never be replayed as a signature over some other structure
/// (and the format can be versioned).
pub const EVENT_DOMAIN: &[u8] = b"fieldcase-event-v1\n";

/// Append the canonical encoding of `value` to `out`.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            // Writing to a Vec cannot fail.
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // Sort explicitly: serde_json's map keeps insertion order when some
            // crate in the build enables its `preserve_order` feature.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_canonical(&map[key], out);
            }
            out.push(b'}');
        }
    }
}

/// A JSON string as `serde_json` escapes it, written in place (no
/// allocation per string: the import encodes every event's payload).
pub(crate) fn write_string(s: &str, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// The canonical encoding of `value` as bytes.
pub fn to_canonical_bytes(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    out
}

/// The canonical encoding of `value` as a string (it is always valid UTF-8).
pub fn to_canonical_string(value: &Value) -> String {
    String::from_utf8(to_canonical_bytes(value)).expect("canonical JSON is built from UTF-8 pieces")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_at_every_depth_and_whitespace_dropped() {
        let a: Value =
            serde_json::from_str(r#"{ "b": 1, "a": {"z": [1, 2, {"y": null, "x": true}], "c": "é\n"} }"#).unwrap();
        assert_eq!(to_canonical_string(&a), r#"{"a":{"c":"é\n","z":[1,2,{"x":true,"y":null}]},"b":1}"#);
    }

    #[test]
    fn equal_values_encode_equally_after_round_trip() {
        let v = json!({"n": 1.5, "big": u64::MAX, "neg": -3, "s": "\u{0}\"\\"});
        let again: Value = serde_json::from_str(&to_canonical_string(&v)).unwrap();
        assert_eq!(to_canonical_bytes(&v), to_canonical_bytes(&again));
    }
}
