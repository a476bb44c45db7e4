//! What the log keeps of an archived range, and how verification starts
//! after it (`docs/decisions/0013-retention.md`).
//!
//! Archiving removes the events of a range; the database keeps, per
//! range, the 32-byte hash of each event (so the Merkle tree of the log,
//! and every later bundle's proofs, stay the same) and the log's key
//! announcements up to it (so bundles still carry them with proofs, and a
//! node still finds its signing key). The `ledger.archived` event, later
//! in the chain, is the boundary: verifying the remaining log starts from
//! the hash and keys it names, and checks its signature first.

use ed25519_dalek::VerifyingKey;

use super::verify::VerifyError;
use super::{LedgerError, LedgerStore};
use crate::chain::{ChainError, ChainVerifier, Digest, Envelope, key_id, signed_message};
use crate::commands::payload;
use crate::commands::retention::{Archived, LEDGER_ARCHIVED};
use crate::event::Event;

/// Where the log starts after its latest archive.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveBoundary {
    /// The first archived seq of this archive (earlier archives hold the
    /// events before it).
    pub from: u64,
    /// The last archived seq: the log now starts at `through + 1`.
    pub through: u64,
    /// The seq of the `ledger.archived` event that records it.
    pub event_seq: u64,
    /// Every `signing_key.added` event up to `through`, in seq order.
    pub announcements: Vec<Event>,
}

/// What `warden archive` stores when it removes a range.
#[derive(Debug, Clone)]
pub struct ArchiveRecord {
    pub boundary: ArchiveBoundary,
    /// The hashes of events `from..=through`, in order.
    pub hashes: Vec<Digest>,
}

impl ArchiveRecord {
    /// The hashes as stored: 32 bytes each, concatenated.
    pub fn packed_hashes(&self) -> Vec<u8> {
        self.hashes.iter().flat_map(|hash| hash.0).collect()
    }
}

/// Unpacks stored hashes (32 bytes each).
pub fn unpack_hashes(bytes: &[u8], seq: u64) -> Result<Vec<Digest>, LedgerError> {
    if !bytes.len().is_multiple_of(32) {
        return Err(LedgerError::Corrupt {
            seq,
            reason: "archived hashes are not a whole number of 32-byte hashes".into(),
        });
    }
    Ok(bytes.chunks_exact(32).filter_map(Digest::from_slice).collect())
}

/// A verifier for the log as stored: from its genesis, or, once a range
/// was archived, from the boundary its `ledger.archived` event names.
/// With `pinned` keys, only a genesis or a boundary signed by one of them
/// is accepted.
pub async fn start_verifier(store: &dyn LedgerStore, pinned: &[VerifyingKey]) -> Result<ChainVerifier, VerifyError> {
    let Some(boundary) = store.archive_boundary().await? else {
        let mut verifier = ChainVerifier::new();
        for key in pinned {
            verifier.trust(*key);
        }
        return Ok(verifier);
    };
    let event = store
        .read_seqs(&[boundary.event_seq])
        .await?
        .into_iter()
        .next()
        .ok_or(ChainError::Missing {
            expected: boundary.event_seq,
            found: 0,
        })?;
    Ok(verifier_after(&event, boundary.through, pinned)?)
}

/// The hashes of the archived events, as the database keeps them, and
/// whether they are the ones the log's `ledger.archived` boundary names.
#[derive(Debug)]
pub enum ArchivedHashes {
    /// Nothing was archived: the log starts at its genesis.
    None,
    /// Events `1..=hashes.len()` were archived, and these hashes have the
    /// boundary's count, Merkle root and last hash.
    Bound(Vec<Digest>),
    /// They are not what the boundary names (the reason says how).
    Unbound(String),
}

/// Reads the archived hashes and binds them to the boundary event
/// (audit-checkpoint §5.2): what the checkpointer builds its tree on and
/// `warden verify` recomputes roots from. The boundary event itself is
/// verified with the rest of the log ([`start_verifier`]).
pub async fn bound_archived_hashes(store: &dyn LedgerStore) -> Result<ArchivedHashes, LedgerError> {
    let Some(boundary) = store.archive_boundary().await? else {
        return Ok(ArchivedHashes::None);
    };
    let Some(event) = store.read_seqs(&[boundary.event_seq]).await?.into_iter().next() else {
        return Ok(ArchivedHashes::Unbound(format!(
            "the boundary event, seq {}, is missing",
            boundary.event_seq
        )));
    };
    let Some(archived) = payload::<Archived>(&event).filter(|_| event.kind == LEDGER_ARCHIVED) else {
        return Ok(ArchivedHashes::Unbound(format!(
            "seq {} is not a ledger.archived event",
            boundary.event_seq
        )));
    };
    let hashes = store.archived_hashes().await?;
    let mut frontier = crate::chain::merkle::Frontier::new();
    for hash in &hashes {
        frontier.push(hash);
    }
    let unbound = |what: &str| {
        Ok(ArchivedHashes::Unbound(format!(
            "the archived hashes' {what} is not the boundary's"
        )))
    };
    if hashes.len() as u64 != archived.through || boundary.through != archived.through {
        return unbound("count");
    }
    if frontier.root() != archived.root {
        return unbound("Merkle root");
    }
    if hashes.last() != Some(&archived.last_hash) {
        return unbound("last hash");
    }
    Ok(ArchivedHashes::Bound(hashes))
}

/// Checks a `ledger.archived` event on its own (content against its hash,
/// signature by one of the keys it names, or by a pinned key) and returns
/// a verifier that resumes after the archived range.
pub fn verifier_after(event: &Event, through: u64, pinned: &[VerifyingKey]) -> Result<ChainVerifier, ChainError> {
    let bad = |reason: &str| ChainError::BadBoundary {
        seq: event.seq,
        reason: reason.to_string(),
    };
    if event.kind != LEDGER_ARCHIVED {
        return Err(bad("the recorded boundary event is not ledger.archived"));
    }
    let archived: Archived = payload(event).ok_or_else(|| bad("its data is not an archive record"))?;
    if archived.through != through {
        return Err(bad("it archives another range than the database records"));
    }
    if Envelope::of(event).hash().ok() != Some(event.hash) {
        return Err(ChainError::HashMismatch { seq: event.seq });
    }
    let mut verifier = ChainVerifier::resume(archived.through + 1, archived.last_hash);
    let mut named = Vec::new();
    for (id, public) in &archived.keys {
        let key = Digest::from_hex(public)
            .and_then(|bytes| VerifyingKey::from_bytes(&bytes.0).ok())
            .filter(|key| key_id(key) == *id)
            .ok_or_else(|| bad("a key it names is not a valid Ed25519 key under its id"))?;
        named.push(key);
    }
    // Pinned keys, when given, are the only ones that may vouch for it.
    // Without them, a boundary signed by a key the chain announced after
    // the archived range (a rotation between `through` and the boundary)
    // is checked where it stands in the chain, with the keys trusted
    // there: its hash already binds the state the check starts from, and
    // the walk up to it must reach it intact (audit-chain §10.1).
    let vouching: &[VerifyingKey] = if pinned.is_empty() { &named } else { pinned };
    let signer = match vouching.iter().find(|key| key_id(key) == event.key_id) {
        Some(signer) => signer,
        None if pinned.is_empty() => {
            for key in named {
                verifier.trust(key);
            }
            return Ok(verifier);
        }
        None => {
            return Err(ChainError::UnknownKey {
                seq: event.seq,
                key_id: event.key_id.clone(),
            });
        }
    };
    signer
        .verify_strict(
            &signed_message(&event.hash),
            &ed25519_dalek::Signature::from_bytes(&event.sig.0),
        )
        .map_err(|_| ChainError::BadSignature {
            seq: event.seq,
            key_id: event.key_id.clone(),
        })?;
    for key in named.into_iter().chain(pinned.iter().copied()) {
        verifier.trust(key);
    }
    Ok(verifier)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::chain::{Signature, sign};
    use crate::commands::data;
    use crate::commands::retention::RETENTION_SUBJECT;
    use crate::event::{Actor, Outcome, now_micros};

    /// A `ledger.archived` event at seq 50 for `1..=40`, signed by `signer`,
    /// naming `named` as the keys trusted after seq 40.
    fn boundary(signer: &SigningKey, named: &[&SigningKey]) -> Event {
        let keys: BTreeMap<String, String> = named
            .iter()
            .map(|key| {
                (
                    key_id(&key.verifying_key()),
                    hex::encode(key.verifying_key().as_bytes()),
                )
            })
            .collect();
        let archived = Archived {
            from: 1,
            through: 40,
            last_hash: Digest([4; 32]),
            root: Digest([5; 32]),
            bundle_blake3: Digest([6; 32]),
            bundle_events: 40,
            partitions: vec!["events_p1".into()],
            keys,
        };
        let mut event = Event {
            seq: 50,
            id: uuid::Uuid::now_v7(),
            at: now_micros(),
            kind: LEDGER_ARCHIVED.into(),
            subject: RETENTION_SUBJECT.into(),
            subject_version: 1,
            actor: Actor::system(),
            request_id: "r".into(),
            outcome: Outcome::Success,
            data: data(&archived),
            prev: Digest([9; 32]),
            hash: Digest::ZERO,
            key_id: key_id(&signer.verifying_key()),
            sig: Signature([0; 64]),
        };
        event.hash = Envelope::of(&event).hash().unwrap();
        event.sig = sign(signer, &event.hash);
        event
    }

    #[test]
    fn a_boundary_signed_by_a_key_it_names_anchors_the_rest_of_the_log() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let verifier = verifier_after(&boundary(&key, &[&key]), 40, &[]).unwrap();
        assert_eq!(verifier.next_seq(), 41);
        assert_eq!(verifier.prev(), Digest([4; 32]));
        assert_eq!(verifier.trusted_keys().count(), 1);
        // With pinned keys, only a pinned signer is accepted.
        assert!(verifier_after(&boundary(&key, &[&key]), 40, &[key.verifying_key()]).is_ok());
        let other = SigningKey::from_bytes(&[2; 32]);
        assert!(matches!(
            verifier_after(&boundary(&key, &[&key]), 40, &[other.verifying_key()]),
            Err(ChainError::UnknownKey { seq: 50, .. })
        ));
    }

    #[test]
    fn a_boundary_that_does_not_hold_is_refused() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let other = SigningKey::from_bytes(&[2; 32]);
        // Signed by a key it does not name: with pinned keys, refused at
        // once; without, left to the walk, which reaches it with only the
        // keys it names and refuses it there.
        assert!(matches!(
            verifier_after(&boundary(&other, &[&key]), 40, &[key.verifying_key()]),
            Err(ChainError::UnknownKey { seq: 50, .. })
        ));
        let deferred = verifier_after(&boundary(&other, &[&key]), 40, &[]).unwrap();
        assert_eq!(deferred.trusted_keys().count(), 1);
        assert!(
            deferred
                .trusted_keys()
                .all(|(id, _)| *id == key_id(&key.verifying_key()))
        );
        // Another range than the database records.
        assert!(matches!(
            verifier_after(&boundary(&key, &[&key]), 80, &[]),
            Err(ChainError::BadBoundary { seq: 50, .. })
        ));
        // Its content changed (a key swapped in).
        let mut altered = boundary(&key, &[&key]);
        altered.data["keys"] = serde_json::json!({
            key_id(&other.verifying_key()): hex::encode(other.verifying_key().as_bytes())
        });
        assert!(matches!(
            verifier_after(&altered, 40, &[]),
            Err(ChainError::HashMismatch { seq: 50 })
        ));
        // Re-hashed after the change: the signature no longer holds.
        altered.hash = Envelope::of(&altered).hash().unwrap();
        altered.key_id = key_id(&other.verifying_key());
        assert!(matches!(
            verifier_after(&altered, 40, &[]),
            Err(ChainError::BadSignature { seq: 50, .. })
        ));
        // Not a boundary at all.
        let mut other_kind = boundary(&key, &[&key]);
        other_kind.kind = "app.thing.done".into();
        assert!(matches!(
            verifier_after(&other_kind, 40, &[]),
            Err(ChainError::BadBoundary { seq: 50, .. })
        ));
    }
}
