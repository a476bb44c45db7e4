//! RFC 8785 canonical JSON, for the values Warden stores (integers only),
//! as `docs/spec/audit-chain.md` §3 describes it.

use serde_json::Value;

use crate::chain::{Failure, MAX_SAFE_INTEGER, fail};

// RFC 8785 canonical JSON, for the values Warden stores (integers only).

pub(crate) fn canonical_string(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{08}' => out.extend_from_slice(b"\\b"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\u{0c}' => out.extend_from_slice(b"\\f"),
            '\r' => out.extend_from_slice(b"\\r"),
            c if (c as u32) < 0x20 => out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes()),
            c => {
                let mut buffer = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            }
        }
    }
    out.push(b'"');
}

pub(crate) fn canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), Failure> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(flag) => out.extend_from_slice(if *flag { b"true" } else { b"false" }),
        Value::Number(number) => match number.as_i64() {
            Some(n) if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&n) => {
                out.extend_from_slice(n.to_string().as_bytes())
            }
            _ => return fail(format!("number {number} is not an integer within ±(2^53-1)")),
        },
        Value::String(text) => canonical_string(text, out),
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                canonical(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(members) => {
            // Keys sorted by their UTF-16 code units (RFC 8785 §3.2.3).
            let mut keys: Vec<&String> = members.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push(b'{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                canonical_string(key, out);
                out.push(b':');
                canonical(&members[key], out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}
