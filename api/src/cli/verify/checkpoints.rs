//! `warden verify --checkpoint FILE --consistency FILE`: the checkpoints an
//! auditor kept, compared with what was verified (audit-checkpoint §4–§6).
//!
//! A checkpoint file holds a checkpoint document, a `ledger.checkpointed`
//! event, or an `alert.fired` webhook body that carries such events (every
//! checkpoint in it is taken): what the auditor received, as received.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use serde_json::Value;
use warden_core::chain::Digest;
use warden_core::chain::checkpoint::Checkpoint;
use warden_core::chain::merkle::Frontier;
use warden_core::chain::published::{ConsistencyProof, Finding, Observed, PublishedCheckpoint, compare};
use warden_core::commands::checkpoint::LEDGER_CHECKPOINTED;

/// Every checkpoint a file holds.
pub fn load_checkpoints(path: &Path) -> Result<Vec<PublishedCheckpoint>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let direct = match PublishedCheckpoint::parse(&text) {
        Ok(checkpoint) => return Ok(vec![checkpoint]),
        Err(error) => error,
    };
    let named = |error: String| format!("{}: {error}", path.display());
    let value: Value = warden_core::strict_json::from_str(&text).map_err(|e| named(format!("not JSON: {e}")))?;
    let events: Vec<&Value> = if value.get("kind").is_some() {
        vec![&value]
    } else if value.get("type").and_then(Value::as_str) == Some("alert.fired") {
        value
            .pointer("/data/events")
            .and_then(Value::as_array)
            .map(|events| events.iter().filter_map(|item| item.get("event")).collect())
            .unwrap_or_default()
    } else {
        return Err(named(direct));
    };
    let checkpoints = events
        .into_iter()
        .filter(|event| event.get("kind").and_then(Value::as_str) == Some(LEDGER_CHECKPOINTED))
        .map(|event| {
            let data = event.get("data").map(Value::to_string).unwrap_or_default();
            PublishedCheckpoint::parse(&data).map_err(|error| named(format!("the checkpoint it carries: {error}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if checkpoints.is_empty() {
        return Err(named(format!(
            "holds no {LEDGER_CHECKPOINTED} event, and is not a checkpoint document: {direct}"
        )));
    }
    Ok(checkpoints)
}

pub fn load_proof(path: &Path) -> Result<ConsistencyProof, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    ConsistencyProof::parse(&text).map_err(|error| format!("{}: {error}", path.display()))
}

/// What the kept checkpoints need from the events being verified: their
/// hash at each checkpoint's tree size, and the root of the log's first
/// that many events when the events (or hashes bound to them) reach back
/// to seq 1.
pub struct Observer {
    sizes: BTreeSet<u64>,
    frontier: Option<Frontier>,
    heads: BTreeMap<u64, Digest>,
    roots: BTreeMap<u64, Digest>,
}

impl Observer {
    /// `frontier`: the tree of the events before the first one pushed, if
    /// known (empty for a log from its genesis).
    pub fn new(checkpoints: &[PublishedCheckpoint], frontier: Option<Frontier>) -> Self {
        Observer {
            sizes: checkpoints.iter().map(|checkpoint| checkpoint.tree_size).collect(),
            frontier,
            heads: BTreeMap::new(),
            roots: BTreeMap::new(),
        }
    }

    /// The tree of the events before the first one to be pushed, when it
    /// is known; else roots are not recomputed.
    pub fn start_from(&mut self, frontier: Option<Frontier>) {
        self.frontier = frontier;
    }

    /// The largest tree size asked about: events after it are not needed.
    pub fn needs_up_to(&self) -> u64 {
        self.sizes.last().copied().unwrap_or(0)
    }

    /// The next event, in seq order.
    pub fn push(&mut self, seq: u64, hash: &Digest) {
        if let Some(frontier) = &mut self.frontier {
            if frontier.size() + 1 == seq {
                frontier.push(hash);
            } else {
                self.frontier = None;
            }
        }
        if self.sizes.contains(&seq) {
            self.heads.insert(seq, *hash);
            if let Some(frontier) = &self.frontier {
                self.roots.insert(seq, frontier.root());
            }
        }
    }

    fn observed(&self, size: u64, span: Option<(u64, u64)>) -> Observed {
        let (first, last) = span.unwrap_or((1, 0));
        Observed {
            first,
            last,
            head: self.heads.get(&size).copied(),
            root: self.roots.get(&size).copied(),
        }
    }
}

/// What the checks found: lines to print, and whether any failed or could
/// not be made.
#[derive(Default)]
pub struct Report {
    pub failed: Vec<String>,
    pub held: Vec<String>,
    pub unchecked: Vec<String>,
}

/// Compares every kept checkpoint with a verified log or file whose
/// events span `span` (`None`: no event), and checks the consistency
/// proofs between trusted checkpoints.
pub fn check_log(
    checkpoints: &[PublishedCheckpoint],
    proofs: &[ConsistencyProof],
    observer: &Observer,
    span: Option<(u64, u64)>,
    pinned: &[VerifyingKey],
    announced: &[VerifyingKey],
) -> Report {
    let mut report = Report::default();
    let trusted = trusted_only(checkpoints, pinned, announced, &mut report);
    for checkpoint in &trusted {
        let finding = compare(checkpoint, &observer.observed(checkpoint.tree_size, span));
        file(&mut report, &finding, checkpoint);
    }
    check_proofs(proofs, &trusted, &mut report);
    report
}

/// Compares every kept checkpoint with a verified bundle: through its
/// checkpoint when the sizes are equal, else through a consistency proof
/// between the two sizes.
pub fn check_bundle(
    checkpoints: &[PublishedCheckpoint],
    proofs: &[ConsistencyProof],
    bundle: &Checkpoint,
    pinned: &[VerifyingKey],
    announced: &[VerifyingKey],
) -> Report {
    let mut report = Report::default();
    let trusted = trusted_only(checkpoints, pinned, announced, &mut report);
    let mut used = Vec::new();
    for checkpoint in &trusted {
        let size = checkpoint.tree_size;
        if size == bundle.tree_size {
            let observed = Observed {
                first: 1,
                last: size,
                head: Some(bundle.head),
                root: Some(bundle.root),
            };
            file(&mut report, &compare(checkpoint, &observed), checkpoint);
            continue;
        }
        let (older, newer) = if size < bundle.tree_size {
            ((size, &checkpoint.root), (bundle.tree_size, &bundle.root))
        } else {
            ((bundle.tree_size, &bundle.root), (size, &checkpoint.root))
        };
        let proof = proofs.iter().find(|proof| (proof.from, proof.to) == (older.0, newer.0));
        used.extend(proof.map(|proof| (proof.from, proof.to)));
        match proof.map(|proof| proof.proves(older, newer)) {
            Some(Ok(())) => report.held.push(format!(
                "holds {}: the log of {} events begins with the log of {} events (consistency proof)",
                checkpoint.describe(),
                newer.0,
                older.0
            )),
            Some(Err(reason)) => report.failed.push(format!(
                "FAILED against {}: the bundle's log (tree size {}): {reason}",
                checkpoint.describe(),
                bundle.tree_size
            )),
            None => report.unchecked.push(format!(
                "cannot compare {} with the bundle's checkpoint of tree size {}: pass --consistency with the proof \
                 from GET /api/v1/audit/checkpoints/consistency?from={}&to={}",
                checkpoint.describe(),
                bundle.tree_size,
                older.0,
                newer.0
            )),
        }
    }
    let rest: Vec<ConsistencyProof> = proofs
        .iter()
        .filter(|proof| !used.contains(&(proof.from, proof.to)))
        .cloned()
        .collect();
    check_proofs(&rest, &trusted, &mut report);
    report
}

fn trusted_only<'a>(
    checkpoints: &'a [PublishedCheckpoint],
    pinned: &[VerifyingKey],
    announced: &[VerifyingKey],
    report: &mut Report,
) -> Vec<&'a PublishedCheckpoint> {
    checkpoints
        .iter()
        .filter(|checkpoint| match checkpoint.trusted(pinned, announced) {
            Ok(()) => true,
            Err(reason) => {
                report
                    .unchecked
                    .push(format!("cannot use {}: {reason}", checkpoint.describe()));
                false
            }
        })
        .collect()
}

fn file(report: &mut Report, finding: &Finding, checkpoint: &PublishedCheckpoint) {
    let line = finding.verdict(checkpoint);
    match finding {
        Finding::Holds { .. } => report.held.push(line),
        Finding::Before { .. } => report.unchecked.push(line),
        Finding::CutShort { .. } | Finding::Forked { .. } => report.failed.push(line),
    }
}

/// Each proof between two trusted checkpoints of its sizes.
fn check_proofs(proofs: &[ConsistencyProof], trusted: &[&PublishedCheckpoint], report: &mut Report) {
    let mut roots: BTreeMap<u64, Vec<Digest>> = BTreeMap::new();
    for checkpoint in trusted {
        let of_size = roots.entry(checkpoint.tree_size).or_default();
        if !of_size.contains(&checkpoint.root) {
            of_size.push(checkpoint.root);
        }
    }
    for proof in proofs {
        let (Some(olds), Some(news)) = (roots.get(&proof.from), roots.get(&proof.to)) else {
            report.unchecked.push(format!(
                "cannot check the consistency proof from tree size {} to {}: no trusted checkpoint of each size \
                 was given",
                proof.from, proof.to
            ));
            continue;
        };
        for old in olds {
            for new in news {
                match proof.proves((proof.from, old), (proof.to, new)) {
                    Ok(()) => report.held.push(format!(
                        "consistent: the log of {} events begins with the log of {} events",
                        proof.to, proof.from
                    )),
                    Err(reason) => report.failed.push(format!("FAILED: {reason}")),
                }
            }
        }
    }
}
