//! Signed export bundles: a selection of events that a third party can
//! verify offline, with nothing but the bundle and Warden's public key.
//!
//! A bundle is JSON Lines (`docs/spec/audit-bundle.md` is the normative
//! description; `tools/bundle-verify` is an independent implementation):
//!
//! 1. a header: the format, what was selected, a signed [`Checkpoint`] of
//!    the whole log, and every key that signed something in the bundle,
//!    each with its `signing_key.added` event and that event's inclusion
//!    proof;
//! 2. one line per event, in `seq` order: the event as stored, its
//!    inclusion proof under the checkpoint (every event of a search; only
//!    the last of a range, whose events are chained to each other), and
//!    `mark`, the bundle's running digest after it;
//! 3. a seal: the number of events and the last mark, signed with the
//!    checkpoint's key. The marks chain the whole header and every
//!    `(seq, hash)`: an event dropped, added or moved is caught, and the
//!    first mark that breaks names where.
//!
//! [`verify`] checks all of it and names the first bad event.

use std::collections::BTreeMap;
use std::io::BufRead;

use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::checkpoint::Checkpoint;
use super::merkle::verify_inclusion;
use super::{Digest, Envelope, SIGNATURE_DOMAIN, SIGNING_KEY_ADDED, Signature, canonical, key_id};
use crate::event::Event;

pub const FORMAT: &str = "warden-audit-bundle/v1";
pub const SEAL_DOMAIN: &[u8] = b"warden/audit-chain/v1/bundle\n";

/// What a bundle holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Selection {
    /// Every event `from..=to`, chained to one another.
    Range { from: u64, to: u64 },
    /// The events of one org's trail that a search matched.
    Search {
        org: String,
        filters: BTreeMap<String, String>,
    },
}

/// A signing key and the proof that the log announced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleKey {
    pub key_id: String,
    /// 64 hex digits.
    pub public_key: String,
    pub announced: Announcement,
}

/// The `signing_key.added` event of a key, and its inclusion proof.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Announcement {
    pub event: Event,
    pub proof: Vec<Digest>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format: String,
    /// RFC 3339; informative.
    pub created_at: String,
    pub selection: Selection,
    pub checkpoint: Checkpoint,
    pub keys: Vec<BundleKey>,
}

/// An event, with its inclusion proof under the checkpoint when it has
/// one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub event: Event,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<Vec<Digest>>,
    /// The bundle's running digest after this event.
    pub mark: Digest,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seal {
    pub events: u64,
    pub digest: Digest,
    pub key_id: String,
    pub sig: Signature,
}

/// The last line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealLine {
    pub seal: Seal,
}

/// The bundle's running digest: it starts from the whole header and
/// takes in each event's seq and hash; the seal signs its last value.
///
/// - start: `BLAKE3(SEAL_DOMAIN ‖ u64be(len) ‖ canonical header)`
/// - after an event: `BLAKE3(SEAL_DOMAIN ‖ previous ‖ u64be(seq) ‖ hash)`
pub struct Marks(Digest);

impl Marks {
    pub fn new(header: &Header) -> Self {
        let value = serde_json::to_value(header).unwrap_or_default();
        let mut bytes = Vec::new();
        // A header's numbers are small integers: it always has a canonical
        // form.
        let _ = canonical::write_value(&value, &mut bytes);
        let mut hasher = blake3::Hasher::new();
        hasher.update(SEAL_DOMAIN);
        hasher.update(&(bytes.len() as u64).to_be_bytes());
        hasher.update(&bytes);
        Marks(Digest(*hasher.finalize().as_bytes()))
    }

    /// Takes in an event; returns the new mark.
    pub fn add(&mut self, event: &Event) -> Digest {
        let mut hasher = blake3::Hasher::new();
        hasher.update(SEAL_DOMAIN);
        hasher.update(&self.0.0);
        hasher.update(&event.seq.to_be_bytes());
        hasher.update(&event.hash.0);
        self.0 = Digest(*hasher.finalize().as_bytes());
        self.0
    }

    pub fn current(&self) -> Digest {
        self.0
    }
}

fn signed(digest: &Digest) -> [u8; 64] {
    let mut message = [0u8; 64];
    message[..32].copy_from_slice(SIGNATURE_DOMAIN);
    message[32..].copy_from_slice(&digest.0);
    message
}

impl Seal {
    pub fn sign(events: u64, digest: Digest, key_id: &str, key: &SigningKey) -> Seal {
        Seal {
            events,
            digest,
            key_id: key_id.to_string(),
            sig: Signature(key.sign(&signed(&digest)).to_bytes()),
        }
    }
}

/// Why a bundle does not verify.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BundleError {
    #[error("line {line}: {reason}")]
    Malformed { line: u64, reason: String },
    #[error("header: {0}")]
    Header(String),
    #[error("seq {seq} (line {line}): {reason}")]
    Event { seq: u64, line: u64, reason: String },
    #[error("seal: {0}")]
    Seal(String),
}

/// What a verified bundle holds.
#[derive(Debug, Clone)]
pub struct Verified {
    pub selection: Selection,
    pub events: u64,
    pub first: Option<u64>,
    pub last: Option<u64>,
    pub checkpoint: Checkpoint,
    /// The key that signed the checkpoint and the seal: the one to compare
    /// with Warden's published keys.
    pub signer: (String, VerifyingKey),
}

fn check_event(event: &Event, keys: &BTreeMap<String, VerifyingKey>) -> Result<(), String> {
    let hash = Envelope::of(event)
        .hash()
        .map_err(|error| format!("cannot be encoded: {error}"))?;
    if hash != event.hash {
        return Err("hash does not match its contents".into());
    }
    let key = keys
        .get(&event.key_id)
        .ok_or_else(|| format!("signed by {}, a key the bundle does not carry", event.key_id))?;
    let signature = ed25519_dalek::Signature::from_bytes(&event.sig.0);
    key.verify(&signed(&event.hash), &signature)
        .map_err(|_| "signature does not verify".to_string())
}

fn check_inclusion(event: &Event, proof: Option<&Vec<Digest>>, checkpoint: &Checkpoint) -> Result<(), String> {
    let proof = proof.ok_or("no inclusion proof")?;
    if !verify_inclusion(event.seq, checkpoint.tree_size, &event.hash, proof, &checkpoint.root) {
        return Err(format!(
            "inclusion proof does not lead to the checkpoint's root (log of {} events)",
            checkpoint.tree_size
        ));
    }
    if event.seq == checkpoint.tree_size && event.hash != checkpoint.head {
        return Err("is the checkpoint's last event but its hash is not the checkpoint's head".into());
    }
    Ok(())
}

/// Verifies a bundle read line by line (memory: one event at a time).
/// With `pinned` keys, the checkpoint must be signed by one of them.
pub fn verify(input: impl BufRead, pinned: &[VerifyingKey]) -> Result<Verified, BundleError> {
    let mut lines = input.lines();
    let mut number = 0u64;
    let mut next_line = |number: &mut u64| -> Result<Option<String>, BundleError> {
        *number += 1;
        match lines.next() {
            None => Ok(None),
            Some(Ok(line)) => Ok(Some(line)),
            Some(Err(error)) => Err(BundleError::Malformed {
                line: *number,
                reason: error.to_string(),
            }),
        }
    };
    let header_line = next_line(&mut number)?.ok_or(BundleError::Header("the bundle is empty".into()))?;
    let header: Header = serde_json::from_str(&header_line).map_err(|error| BundleError::Header(error.to_string()))?;
    if header.format != FORMAT {
        return Err(BundleError::Header(format!(
            "format {:?} is not {FORMAT}",
            header.format
        )));
    }
    let checkpoint = &header.checkpoint;

    // The keys, each announced in the log (proven under the checkpoint).
    let mut keys = BTreeMap::new();
    for key in &header.keys {
        let bad = |reason: String| BundleError::Header(format!("key {}: {reason}", key.key_id));
        let bytes: [u8; 32] = hex::decode(&key.public_key)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| bad("public_key is not 64 hex digits".into()))?;
        let public = VerifyingKey::from_bytes(&bytes).map_err(|_| bad("not an Ed25519 public key".into()))?;
        if key_id(&public) != key.key_id {
            return Err(bad("key_id does not name this public key".into()));
        }
        keys.insert(key.key_id.clone(), public);
    }
    for key in &header.keys {
        let announced = &key.announced.event;
        let bad = |reason: String| {
            BundleError::Header(format!("key {}: announcement {}: {reason}", key.key_id, announced.seq))
        };
        let says = announced.data.get("public_key").and_then(serde_json::Value::as_str);
        if announced.kind != SIGNING_KEY_ADDED || says != Some(key.public_key.as_str()) {
            return Err(bad("is not the signing_key.added event of this key".into()));
        }
        check_event(announced, &keys).map_err(bad)?;
        check_inclusion(announced, Some(&key.announced.proof), checkpoint).map_err(bad)?;
    }
    let signer = keys.get(&checkpoint.key_id).copied().ok_or_else(|| {
        BundleError::Header(format!(
            "checkpoint signed by {}, a key the bundle does not carry",
            checkpoint.key_id
        ))
    })?;
    if !pinned.is_empty() && !pinned.contains(&signer) {
        return Err(BundleError::Header(format!(
            "checkpoint signed by {}, which is not a trusted key",
            checkpoint.key_id
        )));
    }
    if !checkpoint.verify(&signer) {
        return Err(BundleError::Header("the checkpoint's signature does not verify".into()));
    }

    // The events.
    let mut marks = Marks::new(&header);
    let mut count = 0u64;
    let mut first = None;
    let mut previous: Option<(u64, Digest)> = None;
    let seal_line = loop {
        let Some(line) = next_line(&mut number)? else {
            return Err(BundleError::Seal("missing: the bundle is cut short".into()));
        };
        if line.starts_with("{\"seal\"") {
            break line;
        }
        let entry: Entry = serde_json::from_str(&line).map_err(|error| BundleError::Malformed {
            line: number,
            reason: error.to_string(),
        })?;
        let event = &entry.event;
        let bad = |reason: String| BundleError::Event {
            seq: event.seq,
            line: number,
            reason,
        };
        check_event(event, &keys).map_err(bad)?;
        match (&header.selection, previous) {
            (Selection::Range { from, .. }, None) if event.seq != *from => {
                return Err(bad(format!("the range starts at {from}")));
            }
            (Selection::Range { .. }, Some((seq, hash))) => {
                if event.seq != seq + 1 {
                    return Err(bad(format!("follows seq {seq}: an event is missing or out of order")));
                }
                if event.prev != hash {
                    return Err(bad(format!("prev is not the hash of seq {seq}")));
                }
            }
            (Selection::Search { .. }, Some((seq, _))) if event.seq <= seq => {
                return Err(bad(format!("follows seq {seq}: out of order")));
            }
            _ => {}
        }
        let last_of_range = matches!(header.selection, Selection::Range { to, .. } if to == event.seq);
        if matches!(header.selection, Selection::Search { .. }) || last_of_range || entry.proof.is_some() {
            check_inclusion(event, entry.proof.as_ref(), checkpoint).map_err(bad)?;
        }
        if marks.add(event) != entry.mark {
            return Err(bad(
                "the bundle's running digest breaks here: an event before it was removed, added or moved".into(),
            ));
        }
        count += 1;
        first.get_or_insert(event.seq);
        previous = Some((event.seq, event.hash));
    };
    if let Selection::Range { to, .. } = header.selection
        && previous.map(|(seq, _)| seq) != Some(to)
    {
        return Err(BundleError::Seal(format!(
            "the range ends at {to} but the events stop at {}",
            previous.map_or(0, |(seq, _)| seq)
        )));
    }

    // The seal.
    let SealLine { seal: sealed } =
        serde_json::from_str(&seal_line).map_err(|error| BundleError::Seal(error.to_string()))?;
    if sealed.key_id != checkpoint.key_id {
        return Err(BundleError::Seal("signed by another key than the checkpoint".into()));
    }
    let signature = ed25519_dalek::Signature::from_bytes(&sealed.sig.0);
    if signer.verify(&signed(&sealed.digest), &signature).is_err() {
        return Err(BundleError::Seal("signature does not verify".into()));
    }
    if sealed.events != count {
        return Err(BundleError::Seal(format!(
            "sealed {} events, the bundle holds {count}: events were added or removed",
            sealed.events
        )));
    }
    if sealed.digest != marks.current() {
        return Err(BundleError::Seal(
            "digest does not match the events: an event was added, removed or moved".into(),
        ));
    }
    if next_line(&mut number)?.is_some_and(|line| !line.trim().is_empty()) {
        return Err(BundleError::Malformed {
            line: number,
            reason: "text after the seal".into(),
        });
    }
    let signer = (header.checkpoint.key_id.clone(), signer);
    Ok(Verified {
        selection: header.selection,
        events: count,
        first,
        last: previous.map(|(seq, _)| seq),
        checkpoint: header.checkpoint,
        signer,
    })
}
