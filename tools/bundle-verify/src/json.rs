//! Reading the bundle's lines with the file rules of
//! `docs/spec/audit-chain.md` §9.1: LF-ended lines (the last LF may be
//! missing), no CR, no byte order mark, no blank line, UTF-8, and JSON
//! objects that name each member once.

use std::fmt;
use std::io::BufRead;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::chain::{Failure, fail};

/// The lines of a file, numbered from 1.
pub(crate) struct Lines<R> {
    input: R,
    pub(crate) number: u64,
}

impl<R: BufRead> Lines<R> {
    pub(crate) fn new(input: R) -> Self {
        Lines { input, number: 0 }
    }

    /// The next line parsed as JSON, or `None` at the end of the file.
    pub(crate) fn next(&mut self) -> Result<Option<Value>, Failure> {
        let mut bytes = Vec::new();
        self.number += 1;
        let line = self.number;
        let read = self
            .input
            .read_until(b'\n', &mut bytes)
            .map_err(|error| Failure(format!("line {line}: {error}")))?;
        if read == 0 {
            return Ok(None);
        }
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
        }
        if bytes.contains(&b'\r') {
            return fail(format!("line {line}: a carriage return (lines end with LF alone)"));
        }
        if line == 1 && bytes.starts_with(&[0xef, 0xbb, 0xbf]) {
            return fail(format!("line {line}: a byte order mark"));
        }
        if bytes.iter().all(|b| *b == b' ' || *b == b'\t') {
            return fail(format!("line {line}: a blank line"));
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| Failure(format!("line {line}: not UTF-8")))?;
        let mut parser = serde_json::Deserializer::from_str(text);
        let value = parser
            .deserialize_any(Strict)
            .and_then(|value| parser.end().map(|()| value))
            .map_err(|error| Failure(format!("line {line}: {error}")))?;
        Ok(Some(value))
    }
}

/// A whole file holding one JSON value (whitespace around it allowed),
/// read with the same refusal of a member named twice.
pub(crate) fn document(text: &str) -> Result<Value, Failure> {
    let mut parser = serde_json::Deserializer::from_str(text);
    parser
        .deserialize_any(Strict)
        .and_then(|value| parser.end().map(|()| value))
        .map_err(|error| Failure(format!("not JSON: {error}")))
}

/// Builds a `Value`, refusing an object that names a member twice.
struct Strict;

impl<'de> de::DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(Strict)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }
    fn visit_bool<E>(self, flag: bool) -> Result<Value, E> {
        Ok(Value::Bool(flag))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, text: &str) -> Result<Value, E> {
        Ok(Value::String(text.to_string()))
    }
    fn visit_string<E>(self, text: String) -> Result<Value, E> {
        Ok(Value::String(text))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = items.next_element_seed(Strict)? {
            out.push(item);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(name) = members.next_key::<String>()? {
            if out.contains_key(&name) {
                return Err(de::Error::custom(format!("the member {name:?} appears twice")));
            }
            let value = members.next_value_seed(Strict)?;
            out.insert(name, value);
        }
        Ok(Value::Object(out))
    }
}

/// Refuses an object with members other than `required` and `optional`,
/// or without one of `required`.
pub(crate) fn members(value: &Value, what: &str, required: &[&str], optional: &[&str]) -> Result<(), Failure> {
    let Some(object) = value.as_object() else {
        return fail(format!("{what} is not an object"));
    };
    for name in required {
        if !object.contains_key(*name) {
            return fail(format!("{what} has no {name:?}"));
        }
    }
    for name in object.keys() {
        if !required.contains(&name.as_str()) && !optional.contains(&name.as_str()) {
            return fail(format!("{what} has a member the format does not define: {name:?}"));
        }
    }
    Ok(())
}
