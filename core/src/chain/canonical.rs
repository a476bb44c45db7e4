//! RFC 8785 (JSON Canonicalization Scheme) for the values Warden stores.
//!
//! Warden restricts numbers to integers in the I-JSON safe range
//! (±(2^53−1)): every such number has one RFC 8785 spelling (plain decimal),
//! so any RFC 8785 implementation reproduces these bytes. Other numbers are
//! refused rather than canonicalized.

use serde_json::Value;
use thiserror::Error;

/// The largest integer every JSON implementation represents exactly.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CanonicalError {
    #[error("number {0} is not an integer within ±(2^53-1); Warden events carry only safe integers")]
    UnsupportedNumber(String),
    /// A typed value that does not serialize as JSON at all.
    #[error("the value does not serialize as JSON: {0}")]
    NotJson(String),
}

/// Appends the canonical form of `value` to `out`.
pub fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => {
            let integer = number
                .as_i64()
                .filter(|n| (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(n))
                .ok_or_else(|| CanonicalError::UnsupportedNumber(number.to_string()))?;
            out.extend_from_slice(integer.to_string().as_bytes());
        }
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(members) => {
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push(b'{');
            for (index, (key, item)) in sorted.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_value(item, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// Rewrites every integral number written as a float (`5.0`, `-0.0`,
/// `1e3`) as the integer it is, as RFC 8785 would print it, so stored
/// events hold integers only; refuses any other number.
pub fn normalize(value: &mut Value) -> Result<(), CanonicalError> {
    match value {
        Value::Number(number) if number.as_i64().is_none() || number.is_f64() => {
            let integral = number
                .as_f64()
                .filter(|x| x.fract() == 0.0 && x.abs() <= MAX_SAFE_INTEGER as f64)
                .ok_or_else(|| CanonicalError::UnsupportedNumber(number.to_string()))?;
            *value = Value::from(integral as i64);
        }
        Value::Array(items) => items.iter_mut().try_for_each(normalize)?,
        Value::Object(members) => members.values_mut().try_for_each(normalize)?,
        _ => {}
    }
    Ok(())
}

/// The canonical bytes of `value`.
pub fn to_vec(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out)?;
    Ok(out)
}

/// JSON string serialization as ECMAScript's `JSON.stringify` does it
/// (RFC 8785 §3.2.2.2).
pub fn write_string(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape: Option<&[u8]> = match byte {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            0x08 => Some(b"\\b"),
            0x09 => Some(b"\\t"),
            0x0a => Some(b"\\n"),
            0x0c => Some(b"\\f"),
            0x0d => Some(b"\\r"),
            0x00..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..index]);
        match escape {
            Some(sequence) => out.extend_from_slice(sequence),
            None => out.extend_from_slice(format!("\\u{byte:04x}").as_bytes()),
        }
        start = index + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canonical(value: Value) -> String {
        String::from_utf8(to_vec(&value).unwrap()).unwrap()
    }

    #[test]
    fn sorts_keys_by_utf16_code_units() {
        // RFC 8785 §3.2.3: U+1F600 (surrogates D83D DE00) sorts before U+FB33.
        let value = json!({"\u{fb33}": 1, "\u{1f600}": 2, "a": 3, "B": 4, "": 5});
        assert_eq!(
            canonical(value),
            "{\"\":5,\"B\":4,\"a\":3,\"\u{1f600}\":2,\"\u{fb33}\":1}"
        );
    }

    #[test]
    fn escapes_like_json_stringify() {
        let value = json!("quote\" back\\ nl\n tab\t bell\u{7} del\u{7f} euro€ ls\u{2028}");
        assert_eq!(
            canonical(value),
            "\"quote\\\" back\\\\ nl\\n tab\\t bell\\u0007 del\u{7f} euro€ ls\u{2028}\""
        );
    }

    #[test]
    fn normalizes_integral_floats_and_refuses_the_rest() {
        let mut value = json!({"a": 5.0, "b": [-0.0, 1e3, 7], "c": {"d": 2}});
        normalize(&mut value).unwrap();
        assert_eq!(canonical(value), r#"{"a":5,"b":[0,1000,7],"c":{"d":2}}"#);
        for bad in [json!(0.5), json!(9007199254740992.0), json!([1.25]), json!(u64::MAX)] {
            let mut bad = bad;
            assert!(normalize(&mut bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_numbers_without_one_spelling() {
        assert!(to_vec(&json!(1.5)).is_err());
        assert!(to_vec(&json!(9007199254740992_i64)).is_err());
        assert!(to_vec(&json!(u64::MAX)).is_err());
        assert_eq!(canonical(json!(-9007199254740991_i64)), "-9007199254740991");
    }

    #[test]
    fn agrees_with_an_independent_rfc8785_implementation() {
        let value = json!({
            "z": [1, true, null, {"b": "x", "a": -7}],
            "é": "\u{1}\u{1f}",
            "nested": {"k2": {}, "k1": []},
        });
        let ours = to_vec(&value).unwrap();
        let theirs = serde_jcs::to_vec(&value).unwrap();
        assert_eq!(ours, theirs);
    }
}
