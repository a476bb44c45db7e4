//! Published checkpoints (`docs/spec/audit-checkpoint.md`): Warden's signed, timed
//! statement that its log of `tree_size` events has this Merkle `root` and
//! ends with the event whose hash is `head`, sent outside the log (webhook,
//! email, a directory, an endpoint) so that a log later cut short, rolled
//! back or forked is caught by whoever kept one.
//!
//! The signature covers `SIGNATURE_DOMAIN ‖ digest`, where
//! `digest = BLAKE3("warden/audit-chain/v1/published-checkpoint\n" ‖ canonical)`
//! and `canonical` is `{"at":"…","head":"<hex>","root":"<hex>","tree_size":<n>}`:
//! a bundle's checkpoint statement plus the time, under its own domain, so
//! neither signature passes for the other or for an event's.
//!
//! A consistency proof document (`warden-audit-consistency/v1`) carries
//! RFC 9162 §2.1.4's proof that the log of one size begins with the log of
//! a smaller one; the roots it is checked against come from checkpoints
//! the auditor kept, never from the proof.

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::merkle::verify_consistency;
use super::{Digest, Signature, key_id, public_key, signed_message};
use crate::event::timestamp;

pub const FORMAT: &str = "warden-audit-checkpoint/v1";
pub const DOMAIN: &[u8] = b"warden/audit-chain/v1/published-checkpoint\n";
pub const CONSISTENCY_FORMAT: &str = "warden-audit-consistency/v1";
const SIZES: &str = "from and to must be tree sizes with 1 <= from <= to <= 2^53-1";
/// The largest tree size a checkpoint may state (as `seq`, audit-chain §3.2).
const MAX_TREE_SIZE: u64 = (1 << 53) - 1;
/// The members of a checkpoint document, in the spec's order.
const MEMBERS: [&str; 8] = [
    "format",
    "tree_size",
    "root",
    "head",
    "at",
    "key_id",
    "public_key",
    "sig",
];
const CONSISTENCY_MEMBERS: [&str; 4] = ["format", "from", "to", "proof"];

/// A member that must be a string of `digits` lower-case hex digits.
fn hex_member<T>(
    value: serde_json::Value,
    name: &str,
    decode: fn(&str) -> Option<T>,
    digits: usize,
) -> Result<T, String> {
    value
        .as_str()
        .and_then(decode)
        .ok_or_else(|| format!("{name} must be {digits} lower-case hex digits"))
}

fn public_key_of(bytes: &[u8; 32]) -> Result<VerifyingKey, String> {
    public_key(bytes).map_err(str::to_string)
}

/// A published checkpoint, as it travels (and as the `data` of its
/// `ledger.checkpointed` event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedCheckpoint {
    pub format: String,
    pub tree_size: u64,
    pub root: Digest,
    pub head: Digest,
    /// When it was signed: the log had `tree_size` events then.
    pub at: String,
    pub key_id: String,
    /// 64 lower-case hex digits; `key_id` is derived from it.
    pub public_key: String,
    pub sig: Signature,
}

/// The digest a published checkpoint's signature covers.
pub fn digest(tree_size: u64, root: &Digest, head: &Digest, at: &str) -> Digest {
    let canonical = format!(
        "{{\"at\":\"{at}\",\"head\":\"{}\",\"root\":\"{}\",\"tree_size\":{tree_size}}}",
        head.to_hex(),
        root.to_hex()
    );
    let mut hasher = blake3::Hasher::new();
    hasher.update(DOMAIN);
    hasher.update(canonical.as_bytes());
    Digest(*hasher.finalize().as_bytes())
}

impl PublishedCheckpoint {
    pub fn sign(tree_size: u64, root: Digest, head: Digest, at: &DateTime<Utc>, key: &SigningKey) -> Self {
        let at = timestamp::format(at);
        let sig = Signature(
            key.sign(&signed_message(&digest(tree_size, &root, &head, &at)))
                .to_bytes(),
        );
        PublishedCheckpoint {
            format: FORMAT.into(),
            tree_size,
            root,
            head,
            at,
            key_id: key_id(&key.verifying_key()),
            public_key: hex::encode(key.verifying_key().as_bytes()),
            sig,
        }
    }

    /// Reads a checkpoint document with the spec's checks (audit-checkpoint
    /// §3.2), in its order and with its reasons: JSON, duplicate members,
    /// exactly the 8 members, then each member, the key, the key id and
    /// the signature under that key. Whether the key is *trusted* is
    /// [`PublishedCheckpoint::trusted`]'s question.
    pub fn parse(text: &str) -> Result<PublishedCheckpoint, String> {
        let members = crate::strict_json::object_members(text)?;
        let mut members = crate::strict_json::exact_members(members, &MEMBERS)?;
        let mut take = |name: &str| members.remove(name).unwrap_or_default();
        let format = take("format");
        if format.as_str() != Some(FORMAT) {
            return Err(format!("format is {format}, not \"{FORMAT}\""));
        }
        let tree_size = take("tree_size")
            .as_u64()
            .filter(|size| (1..=MAX_TREE_SIZE).contains(size))
            .ok_or("tree_size must be from 1 to 2^53-1")?;
        let root = hex_member(take("root"), "root", Digest::from_hex, 64)?;
        let head = hex_member(take("head"), "head", Digest::from_hex, 64)?;
        let at = take("at")
            .as_str()
            .filter(|at| timestamp::parse(at).is_some())
            .ok_or("at is not a timestamp like 2026-01-02T03:04:05.000000Z")?
            .to_string();
        let public_key = hex_member(take("public_key"), "public_key", Digest::from_hex, 64)?;
        let key_id_value = take("key_id");
        let sig = take("sig");
        let key = public_key_of(&public_key.0)?;
        if key_id_value.as_str() != Some(key_id(&key).as_str()) {
            return Err("key_id does not name public_key".into());
        }
        let sig = hex_member(sig, "sig", Signature::from_hex, 128)?;
        let checkpoint = PublishedCheckpoint {
            format: FORMAT.into(),
            tree_size,
            root,
            head,
            at,
            key_id: key_id(&key),
            public_key: public_key.to_hex(),
            sig,
        };
        checkpoint.check()?;
        Ok(checkpoint)
    }

    /// The checks of [`PublishedCheckpoint::parse`] on a decoded document
    /// (one Warden wrote, or decoded from an event).
    pub fn check(&self) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!("format is {:?}, not \"{FORMAT}\"", self.format));
        }
        if self.tree_size == 0 || self.tree_size > MAX_TREE_SIZE {
            return Err("tree_size must be from 1 to 2^53-1".into());
        }
        if timestamp::parse(&self.at).is_none() {
            return Err("at is not a timestamp like 2026-01-02T03:04:05.000000Z".into());
        }
        let key = self.key()?;
        if key_id(&key) != self.key_id {
            return Err("key_id does not name public_key".into());
        }
        let signature = ed25519_dalek::Signature::from_bytes(&self.sig.0);
        key.verify_strict(
            &signed_message(&digest(self.tree_size, &self.root, &self.head, &self.at)),
            &signature,
        )
        .map_err(|_| "the signature does not verify under public_key".to_string())
    }

    /// Whether the key that signed it is one the verifier trusts
    /// (audit-checkpoint §4): a pinned key, or one the verified log
    /// announced, compared by bytes.
    pub fn trusted(&self, pinned: &[VerifyingKey], announced: &[VerifyingKey]) -> Result<(), String> {
        let key = self.key()?;
        if pinned
            .iter()
            .chain(announced)
            .any(|trusted| trusted.as_bytes() == key.as_bytes())
        {
            Ok(())
        } else {
            Err(format!(
                "the checkpoint is signed by {}, which is not a key you trust",
                self.key_id
            ))
        }
    }

    /// The key the document names (not yet trusted).
    pub fn key(&self) -> Result<VerifyingKey, String> {
        let bytes = Digest::from_hex(&self.public_key).ok_or("public_key must be 64 lower-case hex digits")?;
        public_key_of(&bytes.0)
    }

    /// One line for people: `seq 1200 hash … (root …), signed at …`.
    pub fn describe(&self) -> String {
        format!(
            "the checkpoint of {} (tree size {}, head {}, root {})",
            self.at,
            self.tree_size,
            self.head.to_hex(),
            self.root.to_hex()
        )
    }
}

/// What a verified log (or file, or bundle) holds about a checkpoint's
/// tree size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The first and last seq verified.
    pub first: u64,
    pub last: u64,
    /// The hash of event `tree_size`, when it was among those verified.
    pub head: Option<Digest>,
    /// The root of the log's first `tree_size` events, when the verified
    /// events (with any archived hashes) reach back to seq 1.
    pub root: Option<Digest>,
}

/// How a log stands against a checkpoint someone kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// It holds the checkpoint's head at its tree size (and its root,
    /// when `root_checked`): the log only grew since.
    Holds { root_checked: bool },
    /// It ends before the checkpoint's tree size: events were cut from its
    /// end, or it was rolled back to an earlier state.
    CutShort { last: u64 },
    /// It holds another event at the checkpoint's tree size, or another
    /// history before it: rewritten or forked.
    Forked { seq: u64, found: Digest, root: bool },
    /// Its verified events start after the checkpoint's tree size: nothing
    /// to compare.
    Before { first: u64 },
    /// The event at the checkpoint's tree size is among those verified but
    /// its hash was not observed: nothing was compared, so nothing holds
    /// (a verifier fails closed).
    Unobserved,
}

/// Compares a checkpoint with what was verified (audit-checkpoint §5).
pub fn compare(checkpoint: &PublishedCheckpoint, observed: &Observed) -> Finding {
    let size = checkpoint.tree_size;
    if observed.last < size {
        return Finding::CutShort { last: observed.last };
    }
    if observed.first > size {
        return Finding::Before { first: observed.first };
    }
    match (observed.head, observed.root) {
        (None, _) => Finding::Unobserved,
        (Some(head), _) if head != checkpoint.head => Finding::Forked {
            seq: size,
            found: head,
            root: false,
        },
        (_, Some(root)) if root != checkpoint.root => Finding::Forked {
            seq: size,
            found: root,
            root: true,
        },
        (Some(_), root) => Finding::Holds {
            root_checked: root.is_some(),
        },
    }
}

impl Finding {
    /// The verdict line: `FAILED at …` for a log that does not hold the
    /// checkpoint.
    pub fn verdict(&self, checkpoint: &PublishedCheckpoint) -> String {
        let size = checkpoint.tree_size;
        let of = checkpoint.describe();
        match self {
            Finding::Holds { root_checked: true } => format!("holds {of}: same head and root at seq {size}"),
            Finding::Holds { root_checked: false } => {
                format!(
                    "holds {of}: same head at seq {size} (the root was not recomputed: the events do not start at seq 1)"
                )
            }
            Finding::CutShort { last } => format!(
                "FAILED at seq {}: missing: the log ends at seq {last}, but {of} saw {size} events: events were cut \
                 from the end, or the log was rolled back",
                last + 1
            ),
            Finding::Forked {
                seq,
                found,
                root: false,
            } => format!(
                "FAILED at seq {seq}: the event there has hash {}, {of} says {}: the log was rewritten or forked",
                found.to_hex(),
                checkpoint.head.to_hex()
            ),
            Finding::Forked { seq, found, root: true } => format!(
                "FAILED at seq {seq}: the first {seq} events have root {}, {of} says {}: the log was rewritten or forked",
                found.to_hex(),
                checkpoint.root.to_hex()
            ),
            Finding::Before { first } => {
                format!("cannot compare {of}: the verified events start at seq {first}, after it")
            }
            Finding::Unobserved => format!("cannot compare {of}: the event at seq {size} was not observed"),
        }
    }

    pub fn failed(&self) -> bool {
        matches!(self, Finding::CutShort { .. } | Finding::Forked { .. })
    }
}

/// A consistency proof between two tree sizes, as the API serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    pub format: String,
    /// The smaller and the larger tree size.
    pub from: u64,
    pub to: u64,
    /// RFC 9162 §2.1.4.1's hashes, in order.
    pub proof: Vec<Digest>,
}

impl ConsistencyProof {
    pub fn new(from: u64, to: u64, proof: Vec<Digest>) -> Self {
        ConsistencyProof {
            format: CONSISTENCY_FORMAT.into(),
            from,
            to,
            proof,
        }
    }

    /// Reads a consistency proof document with the spec's checks
    /// (audit-checkpoint §6.1), in its order and with its reasons.
    pub fn parse(text: &str) -> Result<ConsistencyProof, String> {
        let members = crate::strict_json::object_members(text)?;
        let mut members = crate::strict_json::exact_members(members, &CONSISTENCY_MEMBERS)?;
        let mut take = |name: &str| members.remove(name).unwrap_or_default();
        let format = take("format");
        if format.as_str() != Some(CONSISTENCY_FORMAT) {
            return Err(format!("format is {format}, not \"{CONSISTENCY_FORMAT}\""));
        }
        let (from, to) = (take("from").as_u64(), take("to").as_u64());
        let (Some(from), Some(to)) = (from, to) else {
            return Err(SIZES.into());
        };
        if from == 0 || from > to || to > MAX_TREE_SIZE {
            return Err(SIZES.into());
        }
        let proof = take("proof")
            .as_array()
            .and_then(|hashes| {
                hashes
                    .iter()
                    .map(|hash| hash.as_str().and_then(Digest::from_hex))
                    .collect::<Option<Vec<Digest>>>()
            })
            .ok_or("proof must be an array of hashes of 64 lower-case hex digits")?;
        Ok(ConsistencyProof::new(from, to, proof))
    }

    /// Whether the log `newer` describes begins with the log `older`
    /// describes: the proof must be for their two sizes, and verify
    /// against their roots.
    pub fn proves(&self, older: (u64, &Digest), newer: (u64, &Digest)) -> Result<(), String> {
        if (self.from, self.to) != (older.0, newer.0) {
            return Err(format!(
                "the proof is from tree size {} to {}, not from {} to {}",
                self.from, self.to, older.0, newer.0
            ));
        }
        if verify_consistency(older.0, newer.0, older.1, newer.1, &self.proof) {
            Ok(())
        } else {
            Err(format!(
                "the log of {} events does not begin with the log of {} events: it was rewritten or forked between them",
                newer.0, older.0
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::merkle::Tree;

    fn key(byte: u8) -> SigningKey {
        SigningKey::from_bytes(&[byte; 32])
    }

    fn at() -> DateTime<Utc> {
        timestamp::parse("2026-12-04T02:00:00.000000Z").unwrap()
    }

    fn signed() -> PublishedCheckpoint {
        PublishedCheckpoint::sign(10, Digest([1; 32]), Digest([2; 32]), &at(), &key(7))
    }

    #[test]
    fn a_signed_checkpoint_round_trips_and_every_signed_field_is_bound() {
        let checkpoint = signed();
        let text = serde_json::to_string(&checkpoint).unwrap();
        assert_eq!(PublishedCheckpoint::parse(&text), Ok(checkpoint.clone()));
        let changes: [(&str, PublishedCheckpoint); 4] = [
            (
                "tree_size",
                PublishedCheckpoint {
                    tree_size: 11,
                    ..checkpoint.clone()
                },
            ),
            (
                "root",
                PublishedCheckpoint {
                    root: Digest([3; 32]),
                    ..checkpoint.clone()
                },
            ),
            (
                "head",
                PublishedCheckpoint {
                    head: Digest([3; 32]),
                    ..checkpoint.clone()
                },
            ),
            (
                "at",
                PublishedCheckpoint {
                    at: "2026-12-04T02:00:00.000001Z".into(),
                    ..checkpoint.clone()
                },
            ),
        ];
        for (field, changed) in changes {
            assert_eq!(
                changed.check(),
                Err("the signature does not verify under public_key".into()),
                "{field}"
            );
        }
    }

    /// The golden payload of `ledger.checkpointed` was signed by another
    /// implementation (Python, from the spec): it verifies here.
    #[test]
    fn the_golden_checkpoint_written_from_the_spec_verifies() {
        let text = include_str!("../../tests/fixtures/events/ledger.checkpointed.json");
        let checkpoint = PublishedCheckpoint::parse(text).unwrap();
        assert_eq!(checkpoint.tree_size, 1200);
        assert_eq!(checkpoint.key().unwrap(), key(7).verifying_key());
    }

    #[test]
    fn a_document_is_refused_for_each_rule_it_breaks() {
        let good = serde_json::to_value(signed()).unwrap();
        let cases: Vec<(serde_json::Value, &str)> = vec![
            (with(&good, "format", "warden-audit-checkpoint/v2"), "format is"),
            (with(&good, "tree_size", 0), "tree_size must be"),
            (with(&good, "tree_size", 1u64 << 53), "tree_size must be"),
            (with(&good, "at", "2026-12-04T02:00:00Z"), "at is not"),
            (with(&good, "key_id", "ed25519-0000000000000000"), "does not name"),
            (
                with(&good, "public_key", hex::encode(key(8).verifying_key().as_bytes())),
                "does not name",
            ),
            (with(&good, "public_key", "00".repeat(32)), "weak"),
            (with(&good, "public_key", "AB".repeat(32)), "64 lower-case hex"),
            (with(&good, "extra", 1), "unknown member"),
        ];
        for (document, expected) in cases {
            let error = PublishedCheckpoint::parse(&document.to_string()).unwrap_err();
            assert!(error.contains(expected), "{document}: {error}");
        }
        let text = good.to_string();
        let duplicated = text.replacen("{", "{\"tree_size\":9,", 1);
        assert!(
            PublishedCheckpoint::parse(&duplicated)
                .unwrap_err()
                .contains("duplicate")
        );
    }

    fn with(document: &serde_json::Value, field: &str, value: impl Serialize) -> serde_json::Value {
        let mut document = document.clone();
        document[field] = serde_json::to_value(value).unwrap();
        document
    }

    #[test]
    fn a_log_is_compared_with_a_checkpoint() {
        let checkpoint = signed();
        let (head, root) = (checkpoint.head, checkpoint.root);
        let other = Digest([9; 32]);
        let observed = |first, last, head, root| Observed {
            first,
            last,
            head,
            root,
        };
        let cases = [
            (
                observed(1, 10, Some(head), Some(root)),
                Finding::Holds { root_checked: true },
            ),
            (
                observed(1, 50, Some(head), Some(root)),
                Finding::Holds { root_checked: true },
            ),
            (
                observed(5, 50, Some(head), None),
                Finding::Holds { root_checked: false },
            ),
            (observed(1, 9, None, None), Finding::CutShort { last: 9 }),
            (observed(1, 0, None, None), Finding::CutShort { last: 0 }),
            (
                observed(1, 50, Some(other), Some(root)),
                Finding::Forked {
                    seq: 10,
                    found: other,
                    root: false,
                },
            ),
            (
                observed(1, 50, Some(head), Some(other)),
                Finding::Forked {
                    seq: 10,
                    found: other,
                    root: true,
                },
            ),
            (observed(11, 50, None, None), Finding::Before { first: 11 }),
            (observed(1, 50, None, None), Finding::Unobserved),
            (observed(1, 50, None, Some(root)), Finding::Unobserved),
        ];
        for (observed, expected) in cases {
            let finding = compare(&checkpoint, &observed);
            assert_eq!(finding, expected, "{observed:?}");
            assert_eq!(finding.failed(), finding.verdict(&checkpoint).starts_with("FAILED"));
        }
    }

    #[test]
    fn a_consistency_proof_proves_growth_and_nothing_else() {
        let hashes: Vec<Digest> = (0u64..40)
            .map(|i| Digest(*blake3::hash(&i.to_le_bytes()).as_bytes()))
            .collect();
        let tree = Tree::of_hashes(hashes.clone());
        let (old_root, new_root) = (tree.root_at(13).unwrap(), tree.root());
        let proof = ConsistencyProof::new(13, 40, tree.consistency(13).unwrap());
        let proof = ConsistencyProof::parse(&serde_json::to_string(&proof).unwrap()).unwrap();
        assert_eq!(proof.proves((13, &old_root), (40, &new_root)), Ok(()));
        assert!(
            proof
                .proves((12, &old_root), (40, &new_root))
                .unwrap_err()
                .contains("not from")
        );
        assert!(proof.proves((13, &new_root), (40, &new_root)).is_err());
        // Changed after seq 13: the old checkpoint saw none of it, so the
        // new log still begins with the old one.
        let mut grown = hashes.clone();
        grown[19] = Digest([5; 32]);
        let grown = Tree::of_hashes(grown);
        let grown_proof = ConsistencyProof::new(13, 40, grown.consistency(13).unwrap());
        assert_eq!(grown_proof.proves((13, &old_root), (40, &grown.root())), Ok(()));
        // Changed at seq 5: no proof takes the old root to the new one.
        let mut forked = hashes;
        forked[4] = Digest([5; 32]);
        let forked = Tree::of_hashes(forked);
        let forked_proof = ConsistencyProof::new(13, 40, forked.consistency(13).unwrap());
        assert!(
            forked_proof
                .proves((13, &old_root), (40, &forked.root()))
                .unwrap_err()
                .contains("forked")
        );
        assert!(proof.proves((13, &old_root), (40, &forked.root())).is_err());
    }
}
