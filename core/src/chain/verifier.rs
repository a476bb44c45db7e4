//! Checks a run of events against the chain rules and names the first
//! event that breaks them.
//!
//! Rules (see `docs/spec/audit-chain.md` §5): `seq` continues by one; `prev`
//! is the previous `hash`; `hash` matches the canonical bytes; `sig` is a
//! valid Ed25519 signature by a key the chain already trusts. Event 1 is a
//! `signing_key.added` signed by the key it announces (the genesis key); a
//! later `signing_key.added` must be signed by a key trusted before it.

use std::collections::BTreeMap;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{Digest, Envelope, LEDGER_SUBJECT, SIGNING_KEY_ADDED, key_id, signed_message};
use crate::event::Event;

/// Runs shorter than this are verified on the calling thread.
const PARALLEL_FROM: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChainError {
    #[error("seq {expected}: missing (the next event found has seq {found})")]
    Missing { expected: u64, found: u64 },
    #[error("seq {seq}: out of order (expected seq {expected})")]
    OutOfOrder { seq: u64, expected: u64 },
    #[error("seq {seq}: prev does not link to the hash of seq {previous}")]
    BrokenLink { seq: u64, previous: u64 },
    #[error("seq {seq}: content does not match its hash (the event was altered)")]
    HashMismatch { seq: u64 },
    #[error("seq {seq}: content cannot be canonicalized: {reason}")]
    NotCanonical { seq: u64, reason: String },
    #[error("seq {seq}: signed by unknown key {key_id}")]
    UnknownKey { seq: u64, key_id: String },
    #[error("seq {seq}: signature is not valid for key {key_id}")]
    BadSignature { seq: u64, key_id: String },
    #[error("seq {seq}: invalid signing-key announcement: {reason}")]
    BadKeyAnnouncement { seq: u64, reason: String },
    /// The `ledger.archived` event the remaining log starts from does not
    /// hold.
    #[error("seq {seq}: invalid archive boundary: {reason}")]
    BadBoundary { seq: u64, reason: String },
}

impl ChainError {
    /// The seq of the first bad event.
    pub fn seq(&self) -> u64 {
        match self {
            ChainError::Missing { expected, .. } => *expected,
            ChainError::OutOfOrder { seq, .. }
            | ChainError::BrokenLink { seq, .. }
            | ChainError::HashMismatch { seq }
            | ChainError::NotCanonical { seq, .. }
            | ChainError::UnknownKey { seq, .. }
            | ChainError::BadSignature { seq, .. }
            | ChainError::BadKeyAnnouncement { seq, .. }
            | ChainError::BadBoundary { seq, .. } => *seq,
        }
    }
}

/// Where a verifier stands: enough to resume checking at `next_seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifierState {
    pub next_seq: u64,
    pub prev: Digest,
    /// Trusted public keys by key id, hex.
    pub keys: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct ChainVerifier {
    next_seq: u64,
    prev: Digest,
    keys: BTreeMap<String, VerifyingKey>,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainVerifier {
    /// A verifier that expects the chain from its genesis event (seq 1).
    pub fn new() -> Self {
        ChainVerifier {
            next_seq: 1,
            prev: Digest::ZERO,
            keys: BTreeMap::new(),
        }
    }

    /// A verifier that resumes after a known event: `prev` is the hash of
    /// event `next_seq - 1`, taken from a trusted source.
    pub fn resume(next_seq: u64, prev: Digest) -> Self {
        ChainVerifier {
            next_seq,
            prev,
            keys: BTreeMap::new(),
        }
    }

    /// Trusts a public key given from outside the chain (a pinned key, or
    /// the published `/.well-known/warden-audit-keys`).
    /// A weak (small-order) key is never trusted: anyone could sign for it.
    pub fn trust(&mut self, key: VerifyingKey) -> bool {
        if key.is_weak() {
            return false;
        }
        let id = key_id(&key);
        if self.keys.get(&id).is_some_and(|known| *known != key) {
            return false;
        }
        self.keys.insert(id, key);
        true
    }

    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    pub fn prev(&self) -> Digest {
        self.prev
    }

    pub fn trusted_keys(&self) -> impl Iterator<Item = (&String, &VerifyingKey)> {
        self.keys.iter()
    }

    pub fn state(&self) -> VerifierState {
        VerifierState {
            next_seq: self.next_seq,
            prev: self.prev,
            keys: self
                .keys
                .iter()
                .map(|(id, key)| (id.clone(), hex::encode(key.as_bytes())))
                .collect(),
        }
    }

    pub fn from_state(state: &VerifierState) -> Option<Self> {
        let mut keys = BTreeMap::new();
        for (id, public) in &state.keys {
            let bytes: [u8; 32] = hex::decode(public).ok()?.try_into().ok()?;
            keys.insert(id.clone(), VerifyingKey::from_bytes(&bytes).ok()?);
        }
        Some(ChainVerifier {
            next_seq: state.next_seq,
            prev: state.prev,
            keys,
        })
    }

    /// Checks one event and advances past it.
    pub fn check(&mut self, event: &Event) -> Result<(), ChainError> {
        let key = self.check_structure(event)?;
        key.verify_strict(
            &signed_message(&event.hash),
            &ed25519_dalek::Signature::from_bytes(&event.sig.0),
        )
        .map_err(|_| ChainError::BadSignature {
            seq: event.seq,
            key_id: event.key_id.clone(),
        })?;
        self.advance(event);
        Ok(())
    }

    /// Checks a run of events, verifying their signatures in batches
    /// spread over `threads` threads (batch verification is about twice as
    /// fast as one by one). On failure the verifier stays before the first
    /// bad event, which the error names.
    pub fn check_all(&mut self, events: &[Event], threads: usize) -> Result<(), ChainError> {
        let start = self.clone();
        let mut messages = Vec::with_capacity(events.len());
        let mut signatures = Vec::with_capacity(events.len());
        let mut keys = Vec::with_capacity(events.len());
        for event in events {
            let key = match self.check_structure(event) {
                Ok(key) => key,
                Err(error) => {
                    // Signatures before the structural error may be bad
                    // too: recheck one by one to name the first problem.
                    *self = start;
                    return self.check_each(events).and(Err(error));
                }
            };
            messages.push(signed_message(&event.hash));
            signatures.push(ed25519_dalek::Signature::from_bytes(&event.sig.0));
            keys.push(key);
            self.advance(event);
        }
        let message_refs: Vec<&[u8]> = messages.iter().map(|m| m.as_slice()).collect();
        // Threads only pay off for runs long enough to amortize spawning.
        let threads = if events.len() < PARALLEL_FROM {
            1
        } else {
            threads.max(1)
        };
        let part = message_refs.len().div_ceil(threads).max(1);
        let all_valid = if threads == 1 {
            ed25519_dalek::verify_batch(&message_refs, &signatures, &keys).is_ok()
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = message_refs
                    .chunks(part)
                    .zip(signatures.chunks(part))
                    .zip(keys.chunks(part))
                    .map(|((messages, signatures), keys)| {
                        scope.spawn(move || ed25519_dalek::verify_batch(messages, signatures, keys).is_ok())
                    })
                    .collect();
                handles.into_iter().all(|handle| handle.join().unwrap_or(false))
            })
        };
        if !all_valid {
            *self = start;
            return self.check_each(events);
        }
        Ok(())
    }

    fn check_each(&mut self, events: &[Event]) -> Result<(), ChainError> {
        events.iter().try_for_each(|event| self.check(event))
    }

    /// Everything but the signature itself; returns the key to verify with.
    fn check_structure(&mut self, event: &Event) -> Result<VerifyingKey, ChainError> {
        let seq = event.seq;
        if seq > self.next_seq {
            return Err(ChainError::Missing {
                expected: self.next_seq,
                found: seq,
            });
        }
        if seq < self.next_seq {
            return Err(ChainError::OutOfOrder {
                seq,
                expected: self.next_seq,
            });
        }
        if event.prev != self.prev {
            return Err(ChainError::BrokenLink {
                seq,
                previous: seq.saturating_sub(1),
            });
        }
        let hash = Envelope::of(event).hash().map_err(|error| ChainError::NotCanonical {
            seq,
            reason: error.to_string(),
        })?;
        if hash != event.hash {
            return Err(ChainError::HashMismatch { seq });
        }
        let announced = if event.kind == SIGNING_KEY_ADDED {
            let key = announced_key(event)?;
            // A key id selects the key that verifies a signature: it must
            // never come to name another key than the one it names already
            // (a 64-bit id collides only at about 2^64 work; refused all
            // the same, audit-chain §7.1).
            if self.keys.get(&key_id(&key)).is_some_and(|known| *known != key) {
                return Err(ChainError::BadKeyAnnouncement {
                    seq,
                    reason: "key_id already names another key".into(),
                });
            }
            Some(key)
        } else {
            None
        };
        if seq == 1 {
            // Genesis: self-signed by the key it announces.
            let Some(genesis) = announced else {
                return Err(ChainError::BadKeyAnnouncement {
                    seq,
                    reason: format!("event 1 must be {SIGNING_KEY_ADDED}"),
                });
            };
            if event.key_id != key_id(&genesis) {
                return Err(ChainError::BadKeyAnnouncement {
                    seq,
                    reason: "genesis is not signed by the key it announces".into(),
                });
            }
            // A verifier given pinned keys accepts only a pinned genesis.
            if !self.keys.is_empty() && !self.keys.contains_key(&event.key_id) {
                return Err(ChainError::UnknownKey {
                    seq,
                    key_id: event.key_id.clone(),
                });
            }
            return Ok(genesis);
        }
        self.keys
            .get(&event.key_id)
            .copied()
            .ok_or_else(|| ChainError::UnknownKey {
                seq,
                key_id: event.key_id.clone(),
            })
    }

    fn advance(&mut self, event: &Event) {
        if event.kind == SIGNING_KEY_ADDED
            && let Ok(key) = announced_key(event)
        {
            self.keys.insert(key_id(&key), key);
        }
        self.prev = event.hash;
        self.next_seq = event.seq + 1;
    }
}

/// An Ed25519 public key as the format accepts it (audit-chain §7.1): a
/// point decoded as RFC 8032 §5.1.3 says (its one canonical encoding: no
/// y ≥ p, no x = 0 with the sign bit set), not of small order.
pub fn public_key(bytes: &[u8; 32]) -> Result<VerifyingKey, &'static str> {
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| "public_key is not a valid Ed25519 point")?;
    if key.to_edwards().compress().as_bytes() != bytes {
        return Err("public_key is not a valid Ed25519 point");
    }
    if key.is_weak() {
        return Err("public_key is a weak (small-order) point");
    }
    Ok(key)
}

/// The public key a `signing_key.added` event introduces.
pub fn announced_key(event: &Event) -> Result<VerifyingKey, ChainError> {
    let bad = |reason: &str| ChainError::BadKeyAnnouncement {
        seq: event.seq,
        reason: reason.to_string(),
    };
    if event.subject != LEDGER_SUBJECT {
        return Err(bad("subject must be \"ledger\""));
    }
    if event.data.get("algorithm").and_then(|v| v.as_str()) != Some("ed25519") {
        return Err(bad("algorithm must be ed25519"));
    }
    let public = event
        .data
        .get("public_key")
        .and_then(|v| v.as_str())
        .and_then(Digest::from_hex)
        .ok_or_else(|| bad("public_key must be 64 lower-case hex digits"))?;
    let key = public_key(&public.0).map_err(bad)?;
    if event.data.get("key_id").and_then(|v| v.as_str()) != Some(key_id(&key).as_str()) {
        return Err(bad("key_id does not name public_key"));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{Signature, signing_key_added_data};
    use crate::event::{Actor, Outcome, now_micros};

    /// A second key under an id the verifier already trusts for another
    /// key is refused, as an announcement and as a pinned key. (A real
    /// collision of 64-bit ids costs about 2^64 work: the state is forged
    /// here.)
    #[test]
    fn a_key_id_never_comes_to_name_another_key() {
        let genesis_key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let mut genesis = Event::unsealed(
            1,
            now_micros(),
            crate::event::NewEvent::new(SIGNING_KEY_ADDED, LEDGER_SUBJECT, Actor::system())
                .data(signing_key_added_data(&genesis_key.verifying_key()))
                .request_id("genesis")
                .outcome(Outcome::Success),
        );
        genesis.key_id = key_id(&genesis_key.verifying_key());
        genesis.hash = crate::chain::Envelope::of(&genesis).hash().unwrap();
        genesis.sig = crate::chain::sign(&genesis_key, &genesis.hash);
        assert!(ChainVerifier::new().check(&genesis).is_ok());
        let impostor = ed25519_dalek::SigningKey::from_bytes(&[4; 32]).verifying_key();
        let mut forged = ChainVerifier::new();
        forged.keys.insert(key_id(&genesis_key.verifying_key()), impostor);
        assert!(matches!(
            forged.check(&genesis),
            Err(ChainError::BadKeyAnnouncement { seq: 1, ref reason }) if reason == "key_id already names another key"
        ));
        assert!(!forged.trust(genesis_key.verifying_key()));
        assert_eq!(forged.keys[&key_id(&genesis_key.verifying_key())], impostor);
    }

    #[test]
    fn public_keys_are_decoded_as_rfc_8032_says_and_weak_ones_refused() {
        let strong = ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key();
        assert!(public_key(strong.as_bytes()).is_ok());
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            public_key(&identity).err(),
            Some("public_key is a weak (small-order) point")
        );
        // x = 0 with the sign bit set: a second spelling of the identity.
        let mut signed_zero = identity;
        signed_zero[31] |= 0x80;
        assert_eq!(
            public_key(&signed_zero).err(),
            Some("public_key is not a valid Ed25519 point")
        );
        // y = p + 1 (≥ p): a second spelling of y = 1.
        let mut big_y = [0xff; 32];
        big_y[0] = 0xee;
        big_y[31] = 0x7f;
        assert_eq!(
            public_key(&big_y).err(),
            Some("public_key is not a valid Ed25519 point")
        );
    }

    /// The identity point "signs" everything with R = identity, S = 0;
    /// batch verification alone would accept it.
    #[test]
    fn a_weak_key_is_never_trusted() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let key = VerifyingKey::from_bytes(&identity).unwrap();
        assert!(!ChainVerifier::new().trust(key));
        let mut forged_signature = [0u8; 64];
        forged_signature[0] = 1;
        let mut event = Event {
            seq: 1,
            id: uuid::Uuid::now_v7(),
            at: now_micros(),
            kind: SIGNING_KEY_ADDED.into(),
            subject: LEDGER_SUBJECT.into(),
            subject_version: 1,
            actor: Actor::system(),
            request_id: "genesis".into(),
            outcome: Outcome::Success,
            data: signing_key_added_data(&key),
            prev: Digest::ZERO,
            hash: Digest::ZERO,
            key_id: key_id(&key),
            sig: Signature(forged_signature),
        };
        event.hash = Envelope::of(&event).hash().unwrap();
        for threads in [1, 2] {
            let result = ChainVerifier::new().check_all(std::slice::from_ref(&event), threads);
            assert!(
                matches!(result, Err(ChainError::BadKeyAnnouncement { seq: 1, .. })),
                "{result:?}"
            );
        }
    }
}
