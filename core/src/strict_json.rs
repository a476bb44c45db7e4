//! JSON that comes from outside Warden, read strictly: an object that
//! names a member twice is refused, wherever it is nested.
//!
//! `serde_json` keeps the last of two members with the same name; other
//! readers keep the first. A line of an export or a bundle whose `data`
//! carried a forged first value and the real second one would verify, and
//! show the forgery in any reader that keeps the first (issue 15). So every
//! input Warden verifies or ingests (exports, bundles, key documents,
//! checkpoints, request bodies) goes through [`check`] before it is
//! decoded: one pass that keeps nothing but the member names of the object
//! it is in.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};

/// Refuses `text` unless it is one JSON value (surrounded by whitespace
/// at most) whose objects each name their members once.
pub fn check(text: &[u8]) -> Result<(), serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    deserializer.deserialize_any(Unique)?;
    deserializer.end()
}

/// [`check`], then decodes.
pub fn from_slice<T: DeserializeOwned>(text: &[u8]) -> Result<T, serde_json::Error> {
    check(text)?;
    serde_json::from_slice(text)
}

/// [`check`], then decodes.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    from_slice(text.as_bytes())
}

/// The members of the object `text` holds, in the order of the text,
/// read with [`check`]'s rules. The reasons are the specs' (checkpoint
/// §3.2 rows `json`, `duplicate_member`, `members`): `not JSON: …`,
/// `duplicate member name "…"`, `not an object`.
pub fn object_members(text: &str) -> Result<Vec<(String, serde_json::Value)>, String> {
    if let Err(error) = check(text.as_bytes()) {
        let message = error.to_string();
        return Err(if message.starts_with("duplicate member name") {
            message
        } else {
            format!("not JSON: {message}")
        });
    }
    struct Ordered(Option<Vec<(String, serde_json::Value)>>);
    impl<'de> de::Deserialize<'de> for Ordered {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct OrderedVisitor;
            impl<'de> Visitor<'de> for OrderedVisitor {
                type Value = Ordered;
                fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                    formatter.write_str("any JSON value")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Ordered, A::Error> {
                    let mut pairs = Vec::new();
                    while let Some((name, value)) = members.next_entry::<String, serde_json::Value>()? {
                        pairs.push((name, value));
                    }
                    Ok(Ordered(Some(pairs)))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Ordered, A::Error> {
                    while items.next_element::<de::IgnoredAny>()?.is_some() {}
                    Ok(Ordered(None))
                }
                fn visit_bool<E>(self, _: bool) -> Result<Ordered, E> {
                    Ok(Ordered(None))
                }
                fn visit_i64<E>(self, _: i64) -> Result<Ordered, E> {
                    Ok(Ordered(None))
                }
                fn visit_u64<E>(self, _: u64) -> Result<Ordered, E> {
                    Ok(Ordered(None))
                }
                fn visit_f64<E>(self, _: f64) -> Result<Ordered, E> {
                    Ok(Ordered(None))
                }
                fn visit_str<E>(self, _: &str) -> Result<Ordered, E> {
                    Ok(Ordered(None))
                }
                fn visit_unit<E>(self) -> Result<Ordered, E> {
                    Ok(Ordered(None))
                }
            }
            deserializer.deserialize_any(OrderedVisitor)
        }
    }
    let Ordered(pairs) = serde_json::from_str(text).map_err(|error| format!("not JSON: {error}"))?;
    pairs.ok_or_else(|| "not an object".to_string())
}

/// The object's members by name, once none is unknown and none missing
/// (`expected` in the order a spec lists them): `unknown member "…"` for
/// the first unknown in the text, else `missing member "…"` for the first
/// missing in `expected`'s order.
pub fn exact_members(
    members: Vec<(String, serde_json::Value)>,
    expected: &[&str],
) -> Result<std::collections::BTreeMap<String, serde_json::Value>, String> {
    if let Some((name, _)) = members.iter().find(|(name, _)| !expected.contains(&name.as_str())) {
        return Err(format!("unknown member {}", serde_json::Value::from(name.as_str())));
    }
    let by_name: std::collections::BTreeMap<String, serde_json::Value> = members.into_iter().collect();
    if let Some(missing) = expected.iter().find(|name| !by_name.contains_key(**name)) {
        return Err(format!("missing member {}", serde_json::Value::from(*missing)));
    }
    Ok(by_name)
}

/// Walks a value, keeping only the member names of the object being read.
struct Unique;

impl<'de> de::Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Unique)
    }
}

/// A member name, borrowed from the input when it has no escapes.
struct Name<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, name: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(name)))
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(name.to_string())))
            }
            fn visit_string<E: de::Error>(self, name: String) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(name)))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

impl<'de> Visitor<'de> for Unique {
    type Value = Unique;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_str<E>(self, _: &str) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Unique, A::Error> {
        while items.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Unique, A::Error> {
        let mut names: Vec<Name<'de>> = Vec::new();
        while let Some(name) = members.next_key::<Name<'de>>()? {
            // Objects are small (an event has 14 members): a scan beats a
            // hash set; a large one is sorted once at the end instead.
            if names.len() < 32 && names.iter().any(|seen| seen.0 == name.0) {
                return Err(de::Error::custom(format_args!("duplicate member name {:?}", name.0)));
            }
            names.push(name);
            members.next_value::<Unique>()?;
        }
        if names.len() > 32 {
            let mut sorted: Vec<&str> = names.iter().map(|name| name.0.as_ref()).collect();
            sorted.sort_unstable();
            if let Some(pair) = sorted.windows(2).find(|pair| pair[0] == pair[1]) {
                return Err(de::Error::custom(format_args!("duplicate member name {:?}", pair[0])));
            }
        }
        Ok(Unique)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_member_names_are_refused_at_any_depth() {
        let cases: &[(&str, bool)] = &[
            (r#"{"a":1,"b":2}"#, true),
            (r#"{"a":1,"a":1}"#, false),
            (r#"{"a":1,"a":2}"#, false),
            (r#"{"data":{"amount":1,"amount":2}}"#, false),
            (r#"[{"x":1},{"x":1}]"#, true),
            (r#"[{"x":[{"y":1,"y":2}]}]"#, false),
            // The same name spelled with an escape is the same name.
            (r#"{"a":1,"\u0061":2}"#, false),
            (r#"{"é":1,"\u00e9":2}"#, false),
            // Names that differ only in case are different names.
            (r#"{"a":1,"A":2}"#, true),
            (r#"{"a":{"a":{"a":1}}}"#, true),
            // Not one JSON value.
            (r#"{"a":1} {"b":2}"#, false),
            ("", false),
            (" {} \n", true),
        ];
        for (text, accepted) in cases {
            assert_eq!(check(text.as_bytes()).is_ok(), *accepted, "{text}");
        }
    }

    #[test]
    fn a_large_object_is_checked_too() {
        let mut members: Vec<String> = (0..100).map(|n| format!("\"m{n}\":{n}")).collect();
        let unique = format!("{{{}}}", members.join(","));
        assert!(check(unique.as_bytes()).is_ok());
        members.push("\"m7\":0".into());
        let repeated = format!("{{{}}}", members.join(","));
        let error = check(repeated.as_bytes()).unwrap_err().to_string();
        assert!(error.contains("duplicate member name \"m7\""), "{error}");
    }

    #[test]
    fn from_str_decodes_after_the_check() {
        let value: serde_json::Value = from_str(r#"{"a":[1,2]}"#).unwrap();
        assert_eq!(value["a"][1], 2);
        assert!(from_str::<serde_json::Value>(r#"{"a":1,"a":2}"#).is_err());
    }
}
