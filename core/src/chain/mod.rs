//! The audit chain: canonical encoding, hashing, signing and verification.
//!
//! No I/O happens here, so the offline verifier can share this module.
//! The format is specified in `docs/spec/audit-chain.md`:
//!
//! * `canonical = RFC 8785 JSON of the envelope without hash, key_id, sig`
//! * `hash = BLAKE3("warden/audit-chain/v1/event\n" || canonical)`
//! * `sig = Ed25519(signing key, "warden/audit-chain/v1/signature\n" || hash)`
//! * `prev` of event `n` is the `hash` of event `n-1` (32 zero bytes for 1).

pub mod bundle;
pub mod canonical;
pub mod checkpoint;
pub mod coverage;
mod digest;
pub mod lines;
pub mod merkle;
pub mod published;
mod verifier;

pub use digest::{Digest, Signature};
pub use verifier::{ChainError, ChainVerifier, VerifierState, announced_key, public_key};

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};

use crate::event::{Actor, Event, timestamp};
use canonical::{CanonicalError, write_string, write_value};

pub const HASH_DOMAIN: &[u8] = b"warden/audit-chain/v1/event\n";
pub const SIGNATURE_DOMAIN: &[u8] = b"warden/audit-chain/v1/signature\n";
pub const KEY_ID_DOMAIN: &[u8] = b"warden/audit-chain/v1/key-id\n";

/// The kind of the event that introduces a signing key into the chain.
pub const SIGNING_KEY_ADDED: &str = "signing_key.added";
/// The subject that carries the signing-key history.
pub const LEDGER_SUBJECT: &str = "ledger";

/// The fields that are hashed, borrowed from an event being sealed or
/// checked.
pub struct Envelope<'a> {
    pub seq: u64,
    pub id: &'a uuid::Uuid,
    pub at: &'a chrono::DateTime<chrono::Utc>,
    pub kind: &'a str,
    pub subject: &'a str,
    pub subject_version: u64,
    pub actor: &'a Actor,
    pub request_id: &'a str,
    pub outcome: crate::event::Outcome,
    pub data: &'a serde_json::Value,
    pub prev: &'a Digest,
}

impl<'a> Envelope<'a> {
    pub fn of(event: &'a Event) -> Self {
        Envelope {
            seq: event.seq,
            id: &event.id,
            at: &event.at,
            kind: &event.kind,
            subject: &event.subject,
            subject_version: event.subject_version,
            actor: &event.actor,
            request_id: &event.request_id,
            outcome: event.outcome,
            data: &event.data,
            prev: &event.prev,
        }
    }

    /// The RFC 8785 bytes of the envelope. Members are written in their
    /// canonical (sorted) order directly.
    pub fn canonical(&self) -> Result<Vec<u8>, CanonicalError> {
        for number in [self.seq, self.subject_version] {
            if number > canonical::MAX_SAFE_INTEGER as u64 {
                return Err(CanonicalError::UnsupportedNumber(number.to_string()));
            }
        }
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(b"{\"actor\":");
        write_actor(self.actor, &mut out);
        out.extend_from_slice(b",\"at\":");
        write_string(&timestamp::format(self.at), &mut out);
        out.extend_from_slice(b",\"data\":");
        write_value(self.data, &mut out)?;
        out.extend_from_slice(b",\"id\":");
        write_string(&self.id.hyphenated().to_string(), &mut out);
        out.extend_from_slice(b",\"kind\":");
        write_string(self.kind, &mut out);
        out.extend_from_slice(b",\"outcome\":");
        write_string(self.outcome.as_str(), &mut out);
        out.extend_from_slice(b",\"prev\":");
        write_string(&self.prev.to_hex(), &mut out);
        out.extend_from_slice(b",\"request_id\":");
        write_string(self.request_id, &mut out);
        out.extend_from_slice(b",\"seq\":");
        out.extend_from_slice(self.seq.to_string().as_bytes());
        out.extend_from_slice(b",\"subject\":");
        write_string(self.subject, &mut out);
        out.extend_from_slice(b",\"subject_version\":");
        out.extend_from_slice(self.subject_version.to_string().as_bytes());
        out.push(b'}');
        Ok(out)
    }

    pub fn hash(&self) -> Result<Digest, CanonicalError> {
        Ok(hash_canonical(&self.canonical()?))
    }
}

/// Actor members in canonical order; absent members are omitted.
pub fn write_actor(actor: &Actor, out: &mut Vec<u8>) {
    let kind = actor.kind.as_str();
    let members: [(&str, Option<&str>); 7] = [
        ("id", actor.id.as_deref()),
        ("ip", actor.ip.as_deref()),
        ("kind", Some(kind)),
        ("on_behalf_of", actor.on_behalf_of.as_deref()),
        ("org", actor.org.as_deref()),
        ("ticket", actor.ticket.as_deref()),
        ("user_agent", actor.user_agent.as_deref()),
    ];
    out.push(b'{');
    let mut first = true;
    for (name, value) in members {
        let Some(value) = value else { continue };
        if !first {
            out.push(b',');
        }
        first = false;
        write_string(name, out);
        out.push(b':');
        write_string(value, out);
    }
    out.push(b'}');
}

pub fn hash_canonical(canonical: &[u8]) -> Digest {
    let mut hasher = blake3::Hasher::new();
    hasher.update(HASH_DOMAIN);
    hasher.update(canonical);
    Digest(*hasher.finalize().as_bytes())
}

/// The exact bytes an Ed25519 signature covers.
pub fn signed_message(hash: &Digest) -> [u8; 64] {
    let mut message = [0u8; 64];
    message[..32].copy_from_slice(SIGNATURE_DOMAIN);
    message[32..].copy_from_slice(&hash.0);
    message
}

pub fn sign(key: &SigningKey, hash: &Digest) -> Signature {
    Signature(key.sign(&signed_message(hash)).to_bytes())
}

/// A key id names a public key: 16 hex digits of a domain-separated BLAKE3.
pub fn key_id(public_key: &VerifyingKey) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(KEY_ID_DOMAIN);
    hasher.update(public_key.as_bytes());
    format!("ed25519-{}", hex::encode(&hasher.finalize().as_bytes()[..8]))
}

/// The data of a `signing_key.added` event.
pub fn signing_key_added_data(public_key: &VerifyingKey) -> serde_json::Value {
    serde_json::json!({
        "algorithm": "ed25519",
        "key_id": key_id(public_key),
        "public_key": hex::encode(public_key.as_bytes()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_fill_the_signed_message_prefix() {
        assert_eq!(SIGNATURE_DOMAIN.len(), 32);
    }
}
