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
    Ok(bytes
        .chunks_exact(32)
        .filter_map(Digest::from_slice)
        .collect())
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
    let vouching: &[VerifyingKey] = if pinned.is_empty() { &named } else { pinned };
    let signer = vouching
        .iter()
        .find(|key| key_id(key) == event.key_id)
        .ok_or_else(|| ChainError::UnknownKey {
            seq: event.seq,
            key_id: event.key_id.clone(),
        })?;
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
