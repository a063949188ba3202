//! Canonical byte encodings of JSON values, for signatures and hashes
//! (docs/event-encoding.md is the specification; this module follows it).
//!
//! Two encodings, both written here byte by byte, so that no crate upgrade
//! can change them (a serializer's output is not a stable contract:
//! `serde_json` itself moved from `1e16` to `1e+16` for doubles when it
//! changed float printer):
//!
//! - **v1** ([`write_canonical`]): object keys sorted by their UTF-8 bytes,
//!   integers (numbers held as `i64`/`u64`, i.e. written without fraction
//!   or exponent) in decimal, other numbers in the layout of `serde_json`
//!   1.0.154 (`5.0`, `1e+16`, `1e-6`). Every event signed before JCS used
//!   it; it also stays the encoding of the roster and enrollment
//!   signatures, of stored event JSON and of the audit content hash.
//! - **JCS** ([`write_jcs`]), RFC 8785: object keys sorted by UTF-16 code
//!   units, numbers as ECMAScript's `Number.prototype.toString` prints
//!   them. Defined only when every integer lies within
//!   ±[`MAX_SAFE_INTEGER`] (beyond that, two different integers can share
//!   one double and so one encoding).
//!
//! Strings are escaped identically by both: `"` and `\` and the control
//! characters U+0000..U+001F only (`\b \t \n \f \r` short, the others as
//! `\u00xx` in lower-case hex); every other character is written as its
//! UTF-8 bytes. For most values the two encodings are the same bytes;
//! [`write_v1`] reports whether they are ([`JcsRelation`]).

use serde_json::{Number, Value};

/// Domain-separation prefix of events signed over the v1 encoding (which,
/// for those signed by this version, is also their JCS encoding), so an
/// event signature can never be replayed as a signature over some other
/// structure.
pub const EVENT_DOMAIN: &[u8] = b"fieldcase-event-v1\n";

/// Domain-separation prefix of events signed over their JCS encoding when
/// it differs from their v1 encoding.
pub const EVENT_DOMAIN_V2: &[u8] = b"fieldcase-event-v2\n";

/// 2^53 − 1: the largest integer that every JSON reader (IEEE 754 doubles,
/// I-JSON, RFC 7493) keeps exact.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// How a value's JCS encoding relates to its v1 encoding. Ordered: the
/// relation of a whole is the greatest of its parts'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum JcsRelation {
    /// The JCS encoding is byte for byte the v1 encoding.
    Same,
    /// Both exist and differ (a double laid out differently, or object keys
    /// that sort differently by UTF-16 code units than by UTF-8 bytes).
    Differs,
    /// There is no JCS encoding: an integer lies beyond
    /// ±[`MAX_SAFE_INTEGER`].
    OutOfRange,
}

impl JcsRelation {
    /// The relation of a value made of two parts with these relations.
    pub fn and(self, other: JcsRelation) -> JcsRelation {
        self.max(other)
    }

    /// The relation of an integer field (e.g. an event's `device_seq`).
    pub fn of_integer(n: u64) -> JcsRelation {
        if n <= MAX_SAFE_INTEGER {
            JcsRelation::Same
        } else {
            JcsRelation::OutOfRange
        }
    }
}

/// A value has no JCS encoding: it holds an integer beyond
/// ±[`MAX_SAFE_INTEGER`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the integer {0} is outside ±9007199254740991, the range every JSON reader keeps exact")]
pub struct OutOfRangeInteger(pub String);

/// Append the v1 encoding of `value` to `out`.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    write_v1(value, out);
}

/// Append the v1 encoding of `value` to `out`, and say how its JCS
/// encoding relates to it (in the same pass: import encodes every event).
pub fn write_v1(value: &Value, out: &mut Vec<u8>) -> JcsRelation {
    match value {
        Value::Null => {
            out.extend_from_slice(b"null");
            JcsRelation::Same
        }
        Value::Bool(true) => {
            out.extend_from_slice(b"true");
            JcsRelation::Same
        }
        Value::Bool(false) => {
            out.extend_from_slice(b"false");
            JcsRelation::Same
        }
        Value::Number(n) => write_number_v1(n, out),
        Value::String(s) => {
            write_string(s, out);
            JcsRelation::Same
        }
        Value::Array(items) => {
            let mut relation = JcsRelation::Same;
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                relation = relation.and(write_v1(item, out));
            }
            out.push(b']');
            relation
        }
        Value::Object(map) => {
            // Sort explicitly: serde_json's map keeps insertion order when some
            // crate in the build enables its `preserve_order` feature.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut relation = if keys_sort_alike(&keys) { JcsRelation::Same } else { JcsRelation::Differs };
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                relation = relation.and(write_v1(&map[key], out));
            }
            out.push(b'}');
            relation
        }
    }
}

/// Whether keys sorted by UTF-8 bytes are also sorted by UTF-16 code units.
/// The two orders differ only between a character in U+E000..U+FFFF and
/// one above U+FFFF (UTF-16 puts the surrogate pair first), so keys without
/// a UTF-8 lead byte 0xEE or above need no comparison.
fn keys_sort_alike(sorted_by_bytes: &[&String]) -> bool {
    if !sorted_by_bytes.iter().any(|k| k.bytes().any(|b| b >= 0xEE)) {
        return true;
    }
    sorted_by_bytes.windows(2).all(|w| cmp_utf16(w[0], w[1]).is_lt())
}

fn cmp_utf16(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Append the JCS (RFC 8785) encoding of `value` to `out`. On error `out`
/// holds a partial encoding the caller must discard.
pub fn write_jcs(value: &Value, out: &mut Vec<u8>) -> Result<(), OutOfRangeInteger> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number_jcs(n, out)?,
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_jcs(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| cmp_utf16(a, b));
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_jcs(&map[key], out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// The JCS encoding of `value` as bytes.
pub fn to_jcs_bytes(value: &Value) -> Result<Vec<u8>, OutOfRangeInteger> {
    let mut out = Vec::new();
    write_jcs(value, &mut out)?;
    Ok(out)
}

/// A JSON string, escaped as both encodings escape it (see the module
/// docs), written in place.
pub(crate) fn write_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0A => b"\\n",
            0x0C => b"\\f",
            0x0D => b"\\r",
            0x00..=0x1F => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if short.is_empty() {
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xF)]]);
        } else {
            out.extend_from_slice(short);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The v1 encoding of `value` as bytes.
pub fn to_canonical_bytes(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    out
}

/// The v1 encoding of `value` as a string (it is always valid UTF-8).
pub fn to_canonical_string(value: &Value) -> String {
    String::from_utf8(to_canonical_bytes(value)).expect("canonical JSON is built from UTF-8 pieces")
}

/// Append `n` in decimal.
pub(crate) fn write_u64(mut n: u64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn write_i64(n: i64, out: &mut Vec<u8>) {
    if n < 0 {
        out.push(b'-');
    }
    write_u64(n.unsigned_abs(), out);
}

fn write_number_v1(n: &Number, out: &mut Vec<u8>) -> JcsRelation {
    if let Some(u) = n.as_u64() {
        write_u64(u, out);
        JcsRelation::of_integer(u)
    } else if let Some(i) = n.as_i64() {
        write_i64(i, out);
        JcsRelation::of_integer(i.unsigned_abs())
    } else {
        // Without serde_json's `arbitrary_precision` a number that is no
        // integer is a finite double.
        let d = Decimal::of(n.as_f64().unwrap_or(0.0));
        let start = out.len();
        d.write_v1(out);
        let mut jcs = Vec::with_capacity(32);
        d.write_es(&mut jcs);
        if out[start..] == jcs[..] {
            JcsRelation::Same
        } else {
            JcsRelation::Differs
        }
    }
}

fn write_number_jcs(n: &Number, out: &mut Vec<u8>) -> Result<(), OutOfRangeInteger> {
    if let Some(u) = n.as_u64() {
        if u > MAX_SAFE_INTEGER {
            return Err(OutOfRangeInteger(u.to_string()));
        }
        write_u64(u, out);
    } else if let Some(i) = n.as_i64() {
        if i.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(OutOfRangeInteger(i.to_string()));
        }
        write_i64(i, out);
    } else {
        Decimal::of(n.as_f64().unwrap_or(0.0)).write_es(out);
    }
    Ok(())
}

/// A finite double as its shortest round-trip decimal digits: the value is
/// ±0.d₁d₂…d_k × 10^n (ECMA-262 7.1.12.1's k, n and s). The digits are the
/// shortest that read back as the same double, the closest to it when
/// several are as short (ties to even): one string per double, whichever
/// correct algorithm finds it; `ryu` does here, and the layout around
/// them is written below, not taken from any crate.
struct Decimal {
    negative: bool,
    /// d₁…d_k, ASCII, no leading or trailing zero; empty for zero.
    digits: [u8; 17],
    k: usize,
    n: i32,
}

impl Decimal {
    fn of(x: f64) -> Decimal {
        let mut d = Decimal { negative: x.is_sign_negative(), digits: [0; 17], k: 0, n: 0 };
        if x == 0.0 || !x.is_finite() {
            return d;
        }
        let mut buf = ryu::Buffer::new();
        // Read ryu's output as any decimal notation (digits, an optional
        // point, an optional exponent), so its own layout does not matter.
        let text = buf.format_finite(x.abs()).as_bytes();
        let (mantissa, exponent) = match text.iter().position(|&b| b == b'e' || b == b'E') {
            Some(i) => (&text[..i], parse_exponent(&text[i + 1..])),
            None => (text, 0),
        };
        let mut after_point: Option<i32> = None;
        let mut raw = [0u8; 40];
        let mut len = 0;
        for &b in mantissa {
            if b == b'.' {
                after_point = Some(0);
            } else if b.is_ascii_digit() && len < raw.len() {
                raw[len] = b;
                len += 1;
                if let Some(f) = after_point.as_mut() {
                    *f += 1;
                }
            }
        }
        // value = raw × 10^(exponent − fraction digits)
        let mut exp10 = exponent - after_point.unwrap_or(0);
        let first = raw[..len].iter().position(|&b| b != b'0').unwrap_or(len);
        let mut last = len;
        while last > first && raw[last - 1] == b'0' {
            last -= 1;
            exp10 += 1;
        }
        let k = (last - first).min(17);
        d.digits[..k].copy_from_slice(&raw[first..first + k]);
        d.k = k;
        d.n = k as i32 + exp10;
        d
    }

    /// ECMA-262 7.1.12.1 (Number::toString, radix 10), as RFC 8785 §3.2.2.3
    /// requires: plain digits up to 21 integer digits, down to 10⁻⁶; the
    /// exponent form outside, with an explicit sign. Zero (and −0) is `0`.
    fn write_es(&self, out: &mut Vec<u8>) {
        if self.k == 0 {
            out.push(b'0');
            return;
        }
        if self.negative {
            out.push(b'-');
        }
        let (s, k, n) = (&self.digits[..self.k], self.k as i32, self.n);
        if k <= n && n <= 21 {
            out.extend_from_slice(s);
            out.resize(out.len() + (n - k) as usize, b'0');
        } else if 0 < n && n <= 21 {
            out.extend_from_slice(&s[..n as usize]);
            out.push(b'.');
            out.extend_from_slice(&s[n as usize..]);
        } else if -6 < n && n <= 0 {
            out.extend_from_slice(b"0.");
            out.resize(out.len() + (-n) as usize, b'0');
            out.extend_from_slice(s);
        } else {
            self.write_exponent_form(out);
        }
    }

    /// The v1 layout (`serde_json` 1.0.154's): plain digits up to 16
    /// integer digits with `.0` after an integral value, down to 10⁻⁵; the
    /// exponent form outside, `+` before a positive exponent. Zero is `0.0`,
    /// negative zero `-0.0`.
    fn write_v1(&self, out: &mut Vec<u8>) {
        if self.negative {
            out.push(b'-');
        }
        if self.k == 0 {
            out.extend_from_slice(b"0.0");
            return;
        }
        let (s, k, n) = (&self.digits[..self.k], self.k as i32, self.n);
        if k <= n && n <= 16 {
            out.extend_from_slice(s);
            out.resize(out.len() + (n - k) as usize, b'0');
            out.extend_from_slice(b".0");
        } else if 0 < n && n <= 16 {
            out.extend_from_slice(&s[..n as usize]);
            out.push(b'.');
            out.extend_from_slice(&s[n as usize..]);
        } else if -5 < n && n <= 0 {
            out.extend_from_slice(b"0.");
            out.resize(out.len() + (-n) as usize, b'0');
            out.extend_from_slice(s);
        } else {
            self.write_exponent_form(out);
        }
    }

    /// d₁[.d₂…d_k]e±(n−1), the sign always written, no leading zero in the
    /// exponent (both layouts).
    fn write_exponent_form(&self, out: &mut Vec<u8>) {
        let s = &self.digits[..self.k];
        out.push(s[0]);
        if s.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&s[1..]);
        }
        out.push(b'e');
        let e = self.n - 1;
        out.push(if e < 0 { b'-' } else { b'+' });
        write_u64(u64::from(e.unsigned_abs()), out);
    }
}

fn parse_exponent(text: &[u8]) -> i32 {
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = digits
        .iter()
        .filter(|b| b.is_ascii_digit())
        .fold(0i32, |acc, &b| acc.saturating_mul(10).saturating_add(i32::from(b - b'0')));
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jcs_of_double(x: f64) -> String {
        let mut out = Vec::new();
        Decimal::of(x).write_es(&mut out);
        String::from_utf8(out).unwrap()
    }

    fn v1_of_double(x: f64) -> String {
        let mut out = Vec::new();
        Decimal::of(x).write_v1(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn keys_are_sorted_at_every_depth_and_whitespace_dropped() {
        let a: Value =
            serde_json::from_str(r#"{ "b": 1, "a": {"z": [1, 2, {"y": null, "x": true}], "c": "é\n"} }"#).unwrap();
        assert_eq!(to_canonical_string(&a), r#"{"a":{"c":"é\n","z":[1,2,{"x":true,"y":null}]},"b":1}"#);
        assert_eq!(to_jcs_bytes(&a).unwrap(), to_canonical_bytes(&a));
    }

    #[test]
    fn equal_values_encode_equally_after_round_trip() {
        let v = json!({"n": 1.5, "big": u64::MAX, "neg": -3, "s": "\u{0}\"\\"});
        let again: Value = serde_json::from_str(&to_canonical_string(&v)).unwrap();
        assert_eq!(to_canonical_bytes(&v), to_canonical_bytes(&again));
    }

    /// RFC 8785 Appendix B: IEEE 754 bits and their JCS text.
    #[test]
    fn rfc8785_appendix_b_numbers() {
        let vectors = [
            (0x0000000000000000u64, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"),
            (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"),
            (0x44b52d02c7e14af5, "9.999999999999997e+22"),
            // Not in the appendix: an exact tie between two shortest
            // digit strings (…65625) takes the even one, as ECMAScript says.
            (0x428584bcfeee3d40, "2957481336263.6562"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x41b3de4355555553, "333333333.3333332"),
            (0x41b3de4355555554, "333333333.33333325"),
            (0x41b3de4355555555, "333333333.3333333"),
            (0x41b3de4355555556, "333333333.3333334"),
            (0x41b3de4355555557, "333333333.33333343"),
            (0xbecbf647612f3696, "-0.0000033333333333333333"),
            (0x43143ff3c1cb0959, "1424953923781206.2"),
        ];
        for (bits, text) in vectors {
            let x = f64::from_bits(bits);
            assert_eq!(jcs_of_double(x), text, "{bits:016x}");
            // Through a JSON value too (integral doubles stay doubles there).
            let mut out = Vec::new();
            write_jcs(&Value::Number(Number::from_f64(x).unwrap()), &mut out).unwrap();
            assert_eq!(out, text.as_bytes(), "{bits:016x}");
        }
        // NaN and infinities cannot be held in a JSON value at all.
        assert!(Number::from_f64(f64::NAN).is_none() && Number::from_f64(f64::INFINITY).is_none());
    }

    /// RFC 8785 §3.2.2 and §3.2.3 examples: numbers, string escapes, and
    /// keys sorted by UTF-16 code units (U+FB33 after the surrogate pair of
    /// U+1F600, the reverse of their UTF-8 order).
    #[test]
    fn rfc8785_examples() {
        let input = r#"{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
            "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false]}"#;
        let v: Value = serde_json::from_str(input).unwrap();
        let expected = "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\
                        \"string\":\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
        assert_eq!(String::from_utf8(to_jcs_bytes(&v).unwrap()).unwrap(), expected);

        let sorting = r#"{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
            "1": "One", "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control",
            "\u00f6": "Latin Small Letter O With Diaeresis"}"#;
        let v: Value = serde_json::from_str(sorting).unwrap();
        let jcs = String::from_utf8(to_jcs_bytes(&v).unwrap()).unwrap();
        let order: Vec<&str> = ["\\r", "1", "\u{80}", "ö", "€", "😀", "\u{fb33}"].to_vec();
        let positions: Vec<usize> = order.iter().map(|k| jcs.find(&format!("\"{k}\":")).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{jcs}");
        let mut v1 = Vec::new();
        assert_eq!(write_v1(&v, &mut v1), JcsRelation::Differs);
        assert_ne!(v1, jcs.as_bytes());
    }

    /// The v1 layout, as serde_json 1.0.154 (the version that wrote every v1
    /// signature) prints these doubles.
    #[test]
    fn v1_numbers_are_the_legacy_layout() {
        let vectors = [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (12.5, "12.5"),
            (0.1, "0.1"),
            (1e-5, "0.00001"),
            (1.5e-5, "0.000015"),
            (1e-6, "1e-6"),
            (1.234e-7, "1.234e-7"),
            (1e15, "1000000000000000.0"),
            (9007199254740992.0, "9007199254740992.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e21, "1e+21"),
            (1.2345678901234568e20, "1.2345678901234568e+20"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (333333333.3333333, "333333333.3333333"),
            (-1.25e-8, "-1.25e-8"),
        ];
        for (x, text) in vectors {
            assert_eq!(v1_of_double(x), text, "{x:e}");
        }
    }

    proptest::proptest! {
        /// Any double: the v1 layout is serde_json 1.0.154's (if a later
        /// serde_json prints doubles differently, this comparison fails and
        /// only it must go: v1 is what 1.0.154 wrote); the JCS text reads
        /// back as the same double and uses the same digits as Rust's own,
        /// independent, shortest formatting.
        #[test]
        fn doubles_in_both_layouts(bits in proptest::num::u64::ANY) {
            let x = f64::from_bits(bits);
            proptest::prop_assume!(x.is_finite());
            proptest::prop_assert_eq!(v1_of_double(x), serde_json::to_string(&x).unwrap());
            let jcs = jcs_of_double(x);
            proptest::prop_assert_eq!(jcs.parse::<f64>().unwrap(), if x == 0.0 { 0.0 } else { x });
            let std_digits: String = format!("{:e}", x.abs()).split('e').next().unwrap().replace('.', "");
            let jcs_digits: String = jcs.split('e').next().unwrap().chars().filter(char::is_ascii_digit).collect();
            let (jcs_digits, std_digits) = (jcs_digits.trim_matches('0'), std_digits.trim_matches('0'));
            if jcs_digits != std_digits {
                // An exact tie between two shortest digit strings (e.g.
                // 2957481336263.65625): ECMAScript takes the even one
                // (Number::toString, step 5), Rust's formatting may take
                // the other. Both read back as x; they differ by one in
                // the last digit, and the JCS one is even.
                let (j, r) = (jcs_digits.as_bytes(), std_digits.as_bytes());
                proptest::prop_assert_eq!(j.len(), r.len(), "{} vs {}", jcs_digits, std_digits);
                proptest::prop_assert_eq!(&j[..j.len() - 1], &r[..r.len() - 1]);
                let (jl, rl) = (j[j.len() - 1] - b'0', r[r.len() - 1] - b'0');
                proptest::prop_assert!(jl % 2 == 0 && jl.abs_diff(rl) == 1, "{} vs {}", jcs_digits, std_digits);
            }
        }
    }

    #[test]
    fn strings_escape_as_both_specs_say_for_every_character() {
        let mut out = Vec::new();
        for c in (0u32..=0x10FFFF).filter_map(char::from_u32) {
            let s = c.to_string();
            out.clear();
            write_string(&s, &mut out);
            let expected = match c {
                '"' => "\"\\\"\"".to_string(),
                '\\' => "\"\\\\\"".to_string(),
                '\u{8}' => "\"\\b\"".to_string(),
                '\t' => "\"\\t\"".to_string(),
                '\n' => "\"\\n\"".to_string(),
                '\u{c}' => "\"\\f\"".to_string(),
                '\r' => "\"\\r\"".to_string(),
                c if (c as u32) < 0x20 => format!("\"\\u{:04x}\"", c as u32),
                c => format!("\"{c}\""),
            };
            assert_eq!(out, expected.as_bytes(), "U+{:04X}", c as u32);
            // v1 strings are serde_json 1.0.154's: the same.
            assert_eq!(out, serde_json::to_vec(&s).unwrap(), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn relation_names_what_differs() {
        let rel = |v: Value| write_v1(&v, &mut Vec::new());
        assert_eq!(
            rel(json!({"a": [1, -2, "\u{7f}\u{2028}", null], "ω": {"x": 9007199254740991u64}})),
            JcsRelation::Same
        );
        assert_eq!(rel(json!({"n": 12.5, "m": 0.001})), JcsRelation::Same);
        assert_eq!(rel(json!({"n": 5.0})), JcsRelation::Differs);
        assert_eq!(rel(json!({"n": 1e-6})), JcsRelation::Differs);
        assert_eq!(rel(json!({"n": 1e17})), JcsRelation::Differs);
        assert_eq!(rel(json!({"n": 1e300, "m": 1.5e-7})), JcsRelation::Same);
        assert_eq!(rel(json!({"n": -0.0})), JcsRelation::Differs);
        assert_eq!(rel(json!({"\u{e000}": 1, "😀": 2})), JcsRelation::Differs);
        assert_eq!(rel(json!({"\u{e000}": 1, "\u{ffff}": 2})), JcsRelation::Same);
        assert_eq!(rel(json!([9007199254740992u64])), JcsRelation::OutOfRange);
        assert_eq!(rel(json!([-9007199254740992i64, 5.0])), JcsRelation::OutOfRange);
        assert!(to_jcs_bytes(&json!({"n": 9007199254740992u64})).is_err());
        assert_eq!(to_jcs_bytes(&json!({"n": -9007199254740991i64})).unwrap(), b"{\"n\":-9007199254740991}");
        // Where the relation is Same the bytes are.
        let v = json!({"a": [1, -2, 12.5, "\u{1}"], "b": {"ω": true}});
        assert_eq!(to_jcs_bytes(&v).unwrap(), to_canonical_bytes(&v));
    }
}
