//! The chain's primitives (`docs/spec/audit-chain.md` §4–5): domains,
//! hashes, key ids, signatures, and the check of one event.

use std::collections::BTreeMap;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::Value;

use crate::canonical::canonical;

pub(crate) const FORMAT: &str = "warden-audit-bundle/v1";
pub(crate) const HASH_DOMAIN: &[u8] = b"warden/audit-chain/v1/event\n";
pub(crate) const SIGNATURE_DOMAIN: &[u8] = b"warden/audit-chain/v1/signature\n";
pub(crate) const KEY_ID_DOMAIN: &[u8] = b"warden/audit-chain/v1/key-id\n";
pub(crate) const LEAF_DOMAIN: &[u8] = b"warden/audit-chain/v1/merkle-leaf\n";
pub(crate) const NODE_DOMAIN: &[u8] = b"warden/audit-chain/v1/merkle-node\n";
pub(crate) const CHECKPOINT_DOMAIN: &[u8] = b"warden/audit-chain/v1/checkpoint\n";
pub(crate) const SEAL_DOMAIN: &[u8] = b"warden/audit-chain/v1/bundle\n";
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
        .filter(|text| text.len() == 128)
        .and_then(|text| hex::decode(text).ok())
        .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
        .map(|bytes| Signature::from_bytes(&bytes))
        .map_or_else(|| fail(format!("{what} is not 128 hex digits")), Ok)
}

pub(crate) fn signs(key: &VerifyingKey, digest: &Hash, sig: &Signature) -> bool {
    let mut message = Vec::with_capacity(64);
    message.extend_from_slice(SIGNATURE_DOMAIN);
    message.extend_from_slice(digest);
    key.verify(&message, sig).is_ok()
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

/// Checks an event's hash and signature; returns (seq, hash).
pub(crate) fn check_event(event: &Value, keys: &BTreeMap<String, VerifyingKey>) -> Result<(u64, Hash), Failure> {
    let seq = number(event, "seq")?;
    let stated = hex32(&event["hash"], "hash")?;
    if event_hash(event)? != stated {
        return fail("its hash does not match its contents");
    }
    let signer = text(event, "key_id")?;
    let Some(key) = keys.get(signer) else {
        return fail(format!("signed by {signer}, a key the bundle does not carry"));
    };
    if !signs(key, &stated, &signature(&event["sig"], "sig")?) {
        return fail("its signature does not verify");
    }
    Ok((seq, stated))
}
