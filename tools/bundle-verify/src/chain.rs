//! The chain's primitives (`docs/spec/audit-chain.md` §4–5): domains,
//! hashes, key ids, signatures, and the check of one event.

use std::collections::BTreeMap;

use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;

use crate::canonical::canonical;
use crate::json::members;

pub(crate) const FORMAT: &str = "warden-audit-bundle/v1";
pub(crate) const HASH_DOMAIN: &[u8] = b"warden/audit-chain/v1/event\n";
pub(crate) const SIGNATURE_DOMAIN: &[u8] = b"warden/audit-chain/v1/signature\n";
pub(crate) const KEY_ID_DOMAIN: &[u8] = b"warden/audit-chain/v1/key-id\n";
pub(crate) const LEAF_DOMAIN: &[u8] = b"warden/audit-chain/v1/merkle-leaf\n";
pub(crate) const NODE_DOMAIN: &[u8] = b"warden/audit-chain/v1/merkle-node\n";
pub(crate) const CHECKPOINT_DOMAIN: &[u8] = b"warden/audit-chain/v1/checkpoint\n";
pub(crate) const SEAL_DOMAIN: &[u8] = b"warden/audit-chain/v1/bundle\n";
pub(crate) const PUBLISHED_DOMAIN: &[u8] = b"warden/audit-chain/v1/published-checkpoint\n";
pub(crate) const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

pub(crate) type Hash = [u8; 32];

/// Why the bundle is refused: where, and what is wrong.
pub(crate) struct Failure(pub(crate) String);

pub(crate) fn fail<T>(message: impl Into<String>) -> Result<T, Failure> {
    Err(Failure(message.into()))
}

// Hashes, keys and signatures.

pub(crate) fn blake3_of(parts: &[&[u8]]) -> Hash {
    let mut hasher = blake3::Hasher::new();
    for part in parts {
        hasher.update(part);
    }
    *hasher.finalize().as_bytes()
}

pub(crate) fn hex32(value: &Value, what: &str) -> Result<Hash, Failure> {
    value
        .as_str()
        .filter(|text| text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .and_then(|text| hex::decode(text).ok())
        .and_then(|bytes| bytes.try_into().ok())
        .map_or_else(|| fail(format!("{what} is not 64 lower-case hex digits")), Ok)
}

pub(crate) fn signature(value: &Value, what: &str) -> Result<Signature, Failure> {
    value
        .as_str()
        .filter(|text| text.len() == 128 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .and_then(|text| hex::decode(text).ok())
        .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
        .map(|bytes| Signature::from_bytes(&bytes))
        .map_or_else(|| fail(format!("{what} is not 128 hex digits")), Ok)
}

pub(crate) fn signs(key: &VerifyingKey, digest: &Hash, sig: &Signature) -> bool {
    let mut message = Vec::with_capacity(64);
    message.extend_from_slice(SIGNATURE_DOMAIN);
    message.extend_from_slice(digest);
    // Strict (audit-chain §5.1): S below the group order, no small-order
    // R or key, the cofactorless equation.
    key.verify_strict(&message, sig).is_ok()
}

pub(crate) fn key_id(key: &VerifyingKey) -> String {
    format!(
        "ed25519-{}",
        hex::encode(&blake3_of(&[KEY_ID_DOMAIN, key.as_bytes()])[..8])
    )
}

pub(crate) fn text<'a>(value: &'a Value, field: &str) -> Result<&'a str, Failure> {
    value[field]
        .as_str()
        .map_or_else(|| fail(format!("{field} is missing or not a string")), Ok)
}

pub(crate) fn number(value: &Value, field: &str) -> Result<u64, Failure> {
    value[field]
        .as_u64()
        .map_or_else(|| fail(format!("{field} is missing or not a whole number")), Ok)
}

/// The event's own hash, recomputed from its contents: BLAKE3 over the
/// canonical envelope without `hash`, `key_id` and `sig`.
pub(crate) fn event_hash(event: &Value) -> Result<Hash, Failure> {
    let Some(members) = event.as_object() else {
        return fail("the event is not an object");
    };
    let mut envelope = members.clone();
    for sealed_by_the_ledger in ["hash", "key_id", "sig"] {
        envelope.remove(sealed_by_the_ledger);
    }
    let mut bytes = Vec::with_capacity(512);
    canonical(&Value::Object(envelope), &mut bytes)?;
    Ok(blake3_of(&[HASH_DOMAIN, &bytes]))
}

/// A key a bundle carries: the key, and the seq of its announcement.
pub(crate) struct Carried {
    pub(crate) key: VerifyingKey,
    pub(crate) announced: u64,
}

/// Checks an event's form (§2, §9), hash and signature, by a carried key
/// announced before it (the genesis signs itself); returns (seq, hash).
pub(crate) fn check_event(event: &Value, keys: &BTreeMap<String, Carried>) -> Result<(u64, Hash), Failure> {
    check_wire(event)?;
    let seq = number(event, "seq")?;
    let stated = hex32(&event["hash"], "hash")?;
    if event_hash(event)? != stated {
        return fail("its hash does not match its contents");
    }
    let signer = text(event, "key_id")?;
    let Some(carried) = keys.get(signer) else {
        return fail(format!("signed by {signer}, a key the bundle does not carry"));
    };
    if carried.announced >= seq && !(seq == 1 && carried.announced == 1) {
        return fail(format!(
            "signed by {signer}, a key announced at seq {}, after it",
            carried.announced
        ));
    }
    if !signs(&carried.key, &stated, &signature(&event["sig"], "sig")?) {
        return fail("its signature does not verify");
    }
    Ok((seq, stated))
}

const EVENT_MEMBERS: [&str; 14] = [
    "seq",
    "id",
    "at",
    "kind",
    "subject",
    "subject_version",
    "actor",
    "request_id",
    "outcome",
    "data",
    "prev",
    "hash",
    "key_id",
    "sig",
];

/// The event's wire form (audit-chain §2 and §9): its 14 members with
/// their types and spellings.
fn check_wire(event: &Value) -> Result<(), Failure> {
    members(event, "the event", &EVENT_MEMBERS, &[])?;
    if number(event, "seq")? == 0 {
        return fail("seq is 0");
    }
    number(event, "subject_version")?;
    let id = text(event, "id")?;
    let groups: Vec<&str> = id.split('-').collect();
    let lower_hex = |part: &str| part.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if groups.iter().map(|g| g.len()).collect::<Vec<_>>() != [8, 4, 4, 4, 12] || !groups.iter().all(|g| lower_hex(g)) {
        return fail("id is not a hyphenated lower-case UUID");
    }
    if !valid_at(text(event, "at")?) {
        return fail("at is not a time written YYYY-MM-DDTHH:MM:SS.ffffffZ on a real date");
    }
    for field in ["kind", "subject", "request_id"] {
        text(event, field)?;
    }
    if !["success", "failure", "denied"].contains(&text(event, "outcome")?) {
        return fail("outcome is not success, failure or denied");
    }
    let actor = &event["actor"];
    members(
        actor,
        "the actor",
        &["kind"],
        &["id", "org", "ip", "user_agent", "on_behalf_of", "ticket"],
    )?;
    if actor
        .as_object()
        .is_some_and(|members| members.values().any(|v| !v.is_string()))
    {
        return fail("an actor member is not a string");
    }
    if !["user", "api_key", "vendor", "service", "system", "anonymous"].contains(&text(actor, "kind")?) {
        return fail("the actor's kind is not one of the format's");
    }
    hex32(&event["prev"], "prev")?;
    hex32(&event["hash"], "hash")?;
    text(event, "key_id")?;
    signature(&event["sig"], "sig")?;
    Ok(())
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, years 0001 to 9999, a real Gregorian
/// date, seconds 00 to 59.
pub(crate) fn valid_at(at: &str) -> bool {
    let bytes = at.as_bytes();
    let shape = "dddd-dd-ddTdd:dd:dd.ddddddZ";
    if bytes.len() != shape.len()
        || !shape.bytes().zip(bytes).all(|(want, got)| {
            if want == b'd' {
                got.is_ascii_digit()
            } else {
                want == *got
            }
        })
    {
        return false;
    }
    let field = |from: usize, to: usize| at[from..to].parse::<u32>().unwrap_or(u32::MAX);
    let (year, month, day) = (field(0, 4), field(5, 7), field(8, 10));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    year >= 1 && (1..=days).contains(&day) && field(11, 13) < 24 && field(14, 16) < 60 && field(17, 19) < 60
}
