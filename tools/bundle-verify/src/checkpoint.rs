//! Published checkpoints and consistency proofs, from
//! `docs/spec/audit-checkpoint.md`: `--checkpoint FILE` (a checkpoint
//! document, a `ledger.checkpointed` event, or an alert webhook body that
//! carries such events) and `--consistency FILE`.

use ed25519_dalek::VerifyingKey;
use serde_json::Value;

use crate::chain::{Failure, Hash, MAX_SAFE_INTEGER, PUBLISHED_DOMAIN, blake3_of, fail, key_id, signs, valid_at};
use crate::json::document;
use crate::merkle::{Checkpoint, node};

const FORMAT: &str = "warden-audit-checkpoint/v1";
const CONSISTENCY_FORMAT: &str = "warden-audit-consistency/v1";
const KIND: &str = "ledger.checkpointed";

/// A valid checkpoint (§3.2); whether its key is trusted is §4's question.
pub(crate) struct Kept {
    pub(crate) tree_size: u64,
    pub(crate) root: Hash,
    pub(crate) head: Hash,
    pub(crate) at: String,
    pub(crate) key_id: String,
    pub(crate) key: VerifyingKey,
}

impl Kept {
    pub(crate) fn describe(&self) -> String {
        format!(
            "the checkpoint of {} (tree size {}, head {}, root {})",
            self.at,
            self.tree_size,
            hex::encode(self.head),
            hex::encode(self.root)
        )
    }
}

fn size(value: &Value) -> Option<u64> {
    value.as_u64().filter(|n| (1..=MAX_SAFE_INTEGER as u64).contains(n))
}

/// §3.2's members row: no member but `names`, then none missing (the first
/// unknown in the text, the first missing in the spec's order).
fn exact(value: &Value, names: &[&str]) -> Result<(), Failure> {
    let Some(object) = value.as_object() else {
        return fail("not an object");
    };
    if let Some(unknown) = object.keys().find(|name| !names.contains(&name.as_str())) {
        return fail(format!("unknown member {unknown:?}"));
    }
    match names.iter().find(|name| !object.contains_key(**name)) {
        Some(missing) => fail(format!("missing member {missing:?}")),
        None => Ok(()),
    }
}

/// `digits` lower-case hex digits, as bytes.
fn hex_of(value: &Value, name: &str, digits: usize) -> Result<Vec<u8>, Failure> {
    value
        .as_str()
        .filter(|text| text.len() == digits && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .and_then(|text| hex::decode(text).ok())
        .ok_or_else(|| Failure(format!("{name} must be {digits} lower-case hex digits")))
}

fn hash_of(value: &Value, name: &str) -> Result<Hash, Failure> {
    hex_of(value, name, 64).map(|bytes| bytes.try_into().unwrap_or([0; 32]))
}

/// §3.2, row by row in its order: the members, each value, the key, its
/// id and the signature.
fn check(value: &Value) -> Result<Kept, Failure> {
    exact(
        value,
        &[
            "format",
            "tree_size",
            "root",
            "head",
            "at",
            "key_id",
            "public_key",
            "sig",
        ],
    )?;
    if value["format"] != FORMAT {
        return fail(format!("format is {}, not {FORMAT:?}", value["format"]));
    }
    let tree_size = size(&value["tree_size"]).ok_or(Failure("tree_size must be from 1 to 2^53-1".into()))?;
    let root = hash_of(&value["root"], "root")?;
    let head = hash_of(&value["head"], "head")?;
    let at = value["at"]
        .as_str()
        .filter(|at| valid_at(at))
        .ok_or(Failure("at is not a timestamp like 2026-01-02T03:04:05.000000Z".into()))?;
    let public = hash_of(&value["public_key"], "public_key")?;
    let key = VerifyingKey::from_bytes(&public)
        .ok()
        .filter(|key| key.to_edwards().compress().to_bytes() == public)
        .ok_or(Failure("public_key is not a valid Ed25519 point".into()))?;
    if key.is_weak() {
        return fail("public_key is a weak (small-order) point");
    }
    if value["key_id"].as_str() != Some(key_id(&key).as_str()) {
        return fail("key_id does not name public_key");
    }
    let sig = hex_of(&value["sig"], "sig", 128)?;
    let sig = ed25519_dalek::Signature::from_slice(&sig)
        .map_err(|_| Failure("sig must be 128 lower-case hex digits".into()))?;
    let canonical = format!(
        "{{\"at\":\"{at}\",\"head\":\"{}\",\"root\":\"{}\",\"tree_size\":{tree_size}}}",
        hex::encode(head),
        hex::encode(root)
    );
    if !signs(&key, &blake3_of(&[PUBLISHED_DOMAIN, canonical.as_bytes()]), &sig) {
        return fail("the signature does not verify under public_key");
    }
    Ok(Kept {
        tree_size,
        root,
        head,
        at: at.to_string(),
        key_id: key_id(&key),
        key,
    })
}

/// Every checkpoint a file holds, as received.
pub(crate) fn load(path: &str) -> Result<Vec<Kept>, Failure> {
    let text = std::fs::read_to_string(path).map_err(|error| Failure(format!("{path}: {error}")))?;
    let named = |Failure(reason): Failure| Failure(format!("{path}: {reason}"));
    let value = document(&text).map_err(named)?;
    if value.get("format").is_some() {
        return check(&value).map(|kept| vec![kept]).map_err(named);
    }
    let events: Vec<&Value> = if value.get("kind").is_some() {
        vec![&value]
    } else if value["type"] == "alert.fired" {
        value["data"]["events"]
            .as_array()
            .map(|items| items.iter().map(|item| &item["event"]).collect())
            .unwrap_or_default()
    } else {
        return Err(named(Failure(
            "not a checkpoint document, a ledger.checkpointed event or an alert webhook body".into(),
        )));
    };
    let kept = events
        .into_iter()
        .filter(|event| event["kind"] == KIND)
        .map(|event| check(&event["data"]))
        .collect::<Result<Vec<_>, _>>()
        .map_err(named)?;
    if kept.is_empty() {
        return Err(named(Failure(format!("holds no {KIND} event"))));
    }
    Ok(kept)
}

/// A consistency proof document (§6.1).
pub(crate) struct Proof {
    pub(crate) from: u64,
    pub(crate) to: u64,
    pub(crate) hashes: Vec<Hash>,
}

pub(crate) fn load_proof(path: &str) -> Result<Proof, Failure> {
    let text = std::fs::read_to_string(path).map_err(|error| Failure(format!("{path}: {error}")))?;
    let named = |Failure(reason): Failure| Failure(format!("{path}: {reason}"));
    let value = document(&text).map_err(named)?;
    exact(&value, &["format", "from", "to", "proof"]).map_err(named)?;
    if value["format"] != CONSISTENCY_FORMAT {
        return Err(named(Failure(format!(
            "format is {}, not {CONSISTENCY_FORMAT:?}",
            value["format"]
        ))));
    }
    let sizes = Failure("from and to must be tree sizes with 1 <= from <= to <= 2^53-1".into());
    let (Some(from), Some(to)) = (size(&value["from"]), size(&value["to"])) else {
        return Err(named(sizes));
    };
    if from > to {
        return Err(named(sizes));
    }
    let hashes = value["proof"]
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .map(|item| hash_of(item, "proof").ok())
                .collect::<Option<Vec<_>>>()
        })
        .ok_or(Failure(
            "proof must be an array of hashes of 64 lower-case hex digits".into(),
        ))
        .map_err(named)?;
    Ok(Proof { from, to, hashes })
}

/// RFC 9162 §2.1.4.2: the log of `to` events with root `new` begins with
/// the log of `from` events with root `old`.
pub(crate) fn consistent(proof: &Proof, old: &Hash, new: &Hash) -> bool {
    let (m, n) = (proof.from, proof.to);
    if m == n {
        return proof.hashes.is_empty() && old == new;
    }
    let mut path: Vec<Hash> = Vec::new();
    if m.is_power_of_two() {
        path.push(*old);
    }
    path.extend_from_slice(&proof.hashes);
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut fn_, mut sn) = (m - 1, n - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node(c, &fr);
            sr = node(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && fr == *old && sr == *new
}

/// What the checks found.
#[derive(Default)]
pub(crate) struct Findings {
    pub(crate) failed: Vec<String>,
    pub(crate) held: Vec<String>,
    pub(crate) unchecked: Vec<String>,
}

/// Checks the kept checkpoints (against the bundle's checkpoint, when a
/// bundle was verified) and the consistency proofs between them. A kept
/// checkpoint of more events than the bundle's never holds: the bundle's
/// log ends before it.
pub(crate) fn compare(
    kept: &[Kept],
    proofs: &[Proof],
    bundle: Option<&Checkpoint>,
    trusted: &[VerifyingKey],
) -> Findings {
    let mut findings = Findings::default();
    let mut usable: Vec<&Kept> = Vec::new();
    for checkpoint in kept {
        if trusted.iter().any(|key| key.as_bytes() == checkpoint.key.as_bytes()) {
            usable.push(checkpoint);
        } else {
            findings.unchecked.push(format!(
                "cannot use {}: the checkpoint is signed by {}, which is not a key you trust",
                checkpoint.describe(),
                checkpoint.key_id
            ));
        }
    }
    for (index, one) in usable.iter().enumerate() {
        for other in &usable[index + 1..] {
            if one.tree_size == other.tree_size && (one.root, one.head) != (other.root, other.head) {
                findings.failed.push(format!(
                    "FAILED at seq {}: {} and {} disagree: the log showed two histories",
                    one.tree_size,
                    one.describe(),
                    other.describe()
                ));
            }
        }
    }
    // Each end a proof may join: the kept checkpoints, and the bundle's.
    let mut ends: Vec<(u64, Hash)> = usable.iter().map(|c| (c.tree_size, c.root)).collect();
    if let Some(bundle) = bundle {
        ends.push((bundle.tree_size, bundle.root));
    }
    let mut shown: Vec<(u64, Hash)> = Vec::new();
    for proof in proofs {
        let olds: Vec<&Hash> = ends
            .iter()
            .filter(|(size, _)| *size == proof.from)
            .map(|(_, root)| root)
            .collect();
        let news: Vec<&Hash> = ends
            .iter()
            .filter(|(size, _)| *size == proof.to)
            .map(|(_, root)| root)
            .collect();
        if olds.is_empty() || news.is_empty() {
            findings.unchecked.push(format!(
                "cannot check the consistency proof from tree size {} to {}: no trusted checkpoint of each size",
                proof.from, proof.to
            ));
            continue;
        }
        for old in &olds {
            for new in &news {
                if consistent(proof, old, new) {
                    findings.held.push(format!(
                        "consistent: the log of {} events begins with the log of {} events",
                        proof.to, proof.from
                    ));
                    shown.push((proof.from, **old));
                    shown.push((proof.to, **new));
                } else {
                    findings.failed.push(format!(
                        "FAILED: the log of {} events does not begin with the log of {} events: it was rewritten or \
                         forked between them",
                        proof.to, proof.from
                    ));
                }
            }
        }
    }
    for checkpoint in &usable {
        let Some(bundle) = bundle else {
            // Alone, a checkpoint is only checked through a proof.
            if !shown.contains(&(checkpoint.tree_size, checkpoint.root)) {
                findings.unchecked.push(format!(
                    "{} was compared with nothing: pass a bundle, or a consistency proof to another checkpoint",
                    checkpoint.describe()
                ));
            }
            continue;
        };
        let (t, b) = (checkpoint.tree_size, bundle.tree_size);
        if t == b {
            if (checkpoint.head, checkpoint.root) == (bundle.head, bundle.root) {
                findings
                    .held
                    .push(format!("holds {}: same head and root", checkpoint.describe()));
            } else {
                findings.failed.push(format!(
                    "FAILED at seq {b}: the bundle's checkpoint has head {} and root {}, {} says otherwise: the log \
                     was rewritten or forked",
                    hex::encode(bundle.head),
                    hex::encode(bundle.root),
                    checkpoint.describe()
                ));
            }
        } else if t > b {
            findings.unchecked.push(format!(
                "cannot show the log still holds {}: the bundle's log of {b} events ends before it",
                checkpoint.describe()
            ));
        } else if shown.contains(&(t, checkpoint.root)) && shown.contains(&(b, bundle.root)) {
            findings.held.push(format!(
                "holds {}: the bundle's log of {b} events begins with it (consistency proof)",
                checkpoint.describe()
            ));
        } else if !findings
            .failed
            .iter()
            .any(|line| line.contains(&format!("log of {b} events does not begin with the log of {t} events")))
        {
            findings.unchecked.push(format!(
                "cannot compare {} with the bundle's checkpoint of {b} events: pass --consistency with the proof \
                 from tree size {t} to {b}",
                checkpoint.describe()
            ));
        }
    }
    findings
}
