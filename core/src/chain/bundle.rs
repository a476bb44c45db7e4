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

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::canonical::CanonicalError;
use super::checkpoint::Checkpoint;
use super::lines::{LineError, Lines};
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
    /// Absent or an array: `null` is refused like any value the format
    /// does not define.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
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

/// An optional member that, when present, holds a value (never `null`).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
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
    /// The digest of a header: a header with a number past 2^53 - 1 (a
    /// range no log reaches) has no canonical form, and no bundle.
    pub fn new(header: &Header) -> Result<Self, CanonicalError> {
        let value = serde_json::to_value(header).map_err(|error| CanonicalError::NotJson(error.to_string()))?;
        let mut bytes = Vec::new();
        canonical::write_value(&value, &mut bytes)?;
        let mut hasher = blake3::Hasher::new();
        hasher.update(SEAL_DOMAIN);
        hasher.update(&(bytes.len() as u64).to_be_bytes());
        hasher.update(&bytes);
        Ok(Marks(Digest(*hasher.finalize().as_bytes())))
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

/// Why a bundle does not verify: the line (from 1) and, on an event's
/// line, its seq; what failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}{}: {reason}", seq.map(|seq| format!(" (seq {seq})")).unwrap_or_default())]
pub struct BundleError {
    pub line: u64,
    pub seq: Option<u64>,
    pub reason: String,
}

/// What a verified bundle holds.
#[derive(Debug, Clone)]
pub struct Verified {
    pub selection: Selection,
    pub events: u64,
    /// The first event: its seq and its `prev` (the hash of the event
    /// before it, which a range bundle that does not start at 1 is
    /// anchored on).
    pub first: Option<(u64, Digest)>,
    /// The last event: its seq and hash.
    pub last: Option<(u64, Digest)>,
    pub checkpoint: Checkpoint,
    /// The key that signed the checkpoint and the seal: the one to compare
    /// with Warden's published keys.
    pub signer: (String, VerifyingKey),
    /// Every key the bundle carries, each proven announced in its log.
    pub keys: Vec<VerifyingKey>,
}

/// A key the header carries, and the seq of its announcement.
struct Carried {
    key: VerifyingKey,
    announced: u64,
}

/// §6 step 4: the event's hash is its content's, and it is signed by a
/// carried key announced before it (the genesis signs itself).
fn check_event(event: &Event, keys: &BTreeMap<String, Carried>) -> Result<(), String> {
    let hash = Envelope::of(event)
        .hash()
        .map_err(|error| format!("cannot be encoded: {error}"))?;
    if hash != event.hash {
        return Err("hash does not match its contents".into());
    }
    let carried = keys
        .get(&event.key_id)
        .ok_or_else(|| format!("signed by {}, a key the bundle does not carry", event.key_id))?;
    let genesis = event.seq == 1 && carried.announced == 1;
    if carried.announced >= event.seq && !genesis {
        return Err(format!(
            "signed by {}, a key announced at seq {}, after it",
            event.key_id, carried.announced
        ));
    }
    let signature = ed25519_dalek::Signature::from_bytes(&event.sig.0);
    carried
        .key
        .verify_strict(&signed(&event.hash), &signature)
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

/// §6 steps 2–3: the keys and the checkpoint, all on the header's line.
fn check_header(header: &Header, pinned: &[VerifyingKey]) -> Result<BTreeMap<String, Carried>, String> {
    if header.format != FORMAT {
        return Err(format!("format {:?} is not {FORMAT}", header.format));
    }
    let checkpoint = &header.checkpoint;
    if checkpoint.tree_size == 0 {
        return Err("the checkpoint's log is empty".into());
    }
    if let Selection::Range { from, to } = header.selection
        && !(1 <= from && from <= to && to <= checkpoint.tree_size)
    {
        return Err(format!(
            "the range {from}..{to} is not a range of the checkpoint's log of {} events",
            checkpoint.tree_size
        ));
    }
    // Each key: well formed, named by its id, announced in the log.
    let mut keys = BTreeMap::new();
    for carried in &header.keys {
        let bad = |reason: &str| format!("key {}: {reason}", carried.key_id);
        let bytes =
            Digest::from_hex(&carried.public_key).ok_or_else(|| bad("public_key is not 64 lower-case hex digits"))?;
        let public = super::public_key(&bytes.0).map_err(bad)?;
        if key_id(&public) != carried.key_id {
            return Err(bad("key_id does not name this public key"));
        }
        let announced = &carried.announced.event;
        if keys
            .insert(
                carried.key_id.clone(),
                Carried {
                    key: public,
                    announced: announced.seq,
                },
            )
            .is_some()
        {
            return Err(bad("listed twice"));
        }
    }
    for carried in &header.keys {
        let announced = &carried.announced.event;
        let bad = |reason: String| format!("key {}: announcement (seq {}): {reason}", carried.key_id, announced.seq);
        if announced.kind != SIGNING_KEY_ADDED {
            return Err(bad("is not a signing_key.added event".into()));
        }
        let key = super::announced_key(announced).map_err(|error| bad(error.to_string()))?;
        if hex::encode(key.as_bytes()) != carried.public_key {
            return Err(bad("announces another key".into()));
        }
        check_event(announced, &keys).map_err(bad)?;
        check_inclusion(announced, Some(&carried.announced.proof), checkpoint).map_err(bad)?;
    }
    let signer = keys.get(&checkpoint.key_id).ok_or_else(|| {
        format!(
            "checkpoint signed by {}, a key the bundle does not carry",
            checkpoint.key_id
        )
    })?;
    if !pinned.is_empty() && !pinned.contains(&signer.key) {
        return Err(format!(
            "checkpoint signed by {}, which is not a trusted key",
            checkpoint.key_id
        ));
    }
    if !checkpoint.verify(&signer.key) {
        return Err("the checkpoint's signature does not verify".into());
    }
    Ok(keys)
}

/// A line after the header: an event's, or the seal.
enum Line {
    Entry(Box<Entry>),
    Seal(SealLine),
}

fn next_line(lines: &mut Lines<impl BufRead>) -> Result<Option<Line>, BundleError> {
    let malformed = |error: LineError| BundleError {
        line: error.line,
        seq: None,
        reason: error.reason,
    };
    let number = lines.number() + 1;
    let Some(text) = lines.next_line().map_err(malformed)? else {
        return Ok(None);
    };
    crate::strict_json::check(text.as_bytes()).map_err(|error| BundleError {
        line: number,
        seq: None,
        reason: error.to_string(),
    })?;
    // An event line is the common case; a line that is not one may be the seal.
    match serde_json::from_str::<Entry>(text) {
        Ok(entry) => Ok(Some(Line::Entry(Box::new(entry)))),
        Err(error) => match serde_json::from_str::<SealLine>(text) {
            Ok(seal) => Ok(Some(Line::Seal(seal))),
            Err(_) => Err(BundleError {
                line: number,
                seq: None,
                reason: error.to_string(),
            }),
        },
    }
}

/// Verifies a bundle read line by line (memory: one event at a time),
/// in the order of `docs/spec/audit-bundle.md` §6; the first failure is
/// the one named. With `pinned` keys, the checkpoint must be signed by
/// one of them.
pub fn verify(input: impl BufRead, pinned: &[VerifyingKey]) -> Result<Verified, BundleError> {
    let mut lines = Lines::new(input);
    let at_header = |reason: String| BundleError {
        line: 1,
        seq: None,
        reason: format!("header: {reason}"),
    };
    let header: Header = match lines.next_json() {
        Ok(Some(header)) => header,
        Ok(None) => return Err(at_header("the bundle is empty".into())),
        Err(error) => return Err(at_header(error.reason)),
    };
    let keys = check_header(&header, pinned).map_err(at_header)?;
    let checkpoint = &header.checkpoint;
    let signer = keys[&checkpoint.key_id].key;

    // The events.
    let mut marks = Marks::new(&header).map_err(|error| at_header(error.to_string()))?;
    let mut count = 0u64;
    let mut first = None;
    let mut previous: Option<(u64, Digest)> = None;
    let seal = loop {
        let number = lines.number() + 1;
        let entry = match next_line(&mut lines)? {
            None => {
                return Err(BundleError {
                    line: number,
                    seq: None,
                    reason: "seal: missing: the bundle is cut short".into(),
                });
            }
            Some(Line::Seal(seal)) => break seal.seal,
            Some(Line::Entry(entry)) => entry,
        };
        let event = &entry.event;
        let bad = |reason: String| BundleError {
            line: number,
            seq: Some(event.seq),
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
        first.get_or_insert((event.seq, event.prev));
        previous = Some((event.seq, event.hash));
    };

    // The seal.
    let seal_line = lines.number();
    let at_seal = |reason: String| BundleError {
        line: seal_line,
        seq: None,
        reason: format!("seal: {reason}"),
    };
    if let Selection::Range { to, .. } = header.selection
        && previous.map(|(seq, _)| seq) != Some(to)
    {
        return Err(at_seal(format!(
            "the range ends at {to} but the events stop at {}",
            previous.map_or(0, |(seq, _)| seq)
        )));
    }
    if seal.key_id != checkpoint.key_id {
        return Err(at_seal("signed by another key than the checkpoint".into()));
    }
    let signature = ed25519_dalek::Signature::from_bytes(&seal.sig.0);
    if signer.verify_strict(&signed(&seal.digest), &signature).is_err() {
        return Err(at_seal("signature does not verify".into()));
    }
    if seal.events != count {
        return Err(at_seal(format!(
            "sealed {} events, the bundle holds {count}: events were added or removed",
            seal.events
        )));
    }
    if seal.digest != marks.current() {
        return Err(at_seal(
            "digest does not match the events: an event was added, removed or moved".into(),
        ));
    }
    let after = lines.number() + 1;
    match lines.next_line() {
        Ok(None) => {}
        Ok(Some(_)) => {
            return Err(BundleError {
                line: after,
                seq: None,
                reason: "text after the seal".into(),
            });
        }
        Err(error) => {
            return Err(BundleError {
                line: error.line,
                seq: None,
                reason: format!("text after the seal: {}", error.reason),
            });
        }
    }
    let signer = (header.checkpoint.key_id.clone(), signer);
    Ok(Verified {
        selection: header.selection,
        events: count,
        first,
        last: previous,
        checkpoint: header.checkpoint,
        signer,
        keys: keys.values().map(|carried| carried.key).collect(),
    })
}
