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

/// Every checkpoint of every file, and why a file could not be used (an
/// unusable file is reported, never a reason to skip the other checks).
pub fn load_all(checkpoints: &[std::path::PathBuf], proofs: &[std::path::PathBuf]) -> Loaded {
    let mut loaded = Loaded::default();
    for path in checkpoints {
        match load_checkpoints(path) {
            Ok(found) => loaded.checkpoints.extend(found),
            Err(reason) => loaded.unusable.push(format!("cannot use {reason}")),
        }
    }
    for path in proofs {
        match load_proof(path) {
            Ok(proof) => loaded.proofs.push(proof),
            Err(reason) => loaded.unusable.push(format!("cannot use {reason}")),
        }
    }
    loaded
}

#[derive(Default)]
pub struct Loaded {
    pub checkpoints: Vec<PublishedCheckpoint>,
    pub proofs: Vec<ConsistencyProof>,
    pub unusable: Vec<String>,
}

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
    /// The first seq pushed.
    from: Option<u64>,
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
            from: None,
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

    /// The next event, in seq order (nothing to do without checkpoints).
    pub fn push(&mut self, seq: u64, hash: &Digest) {
        if self.sizes.is_empty() {
            return;
        }
        self.from.get_or_insert(seq);
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
            // Bound archived hashes stand for the events before the span.
            first: self.from.map_or(first, |from| from.min(first)),
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
    conflicts(&trusted, &mut report);
    for checkpoint in &trusted {
        let finding = compare(checkpoint, &observer.observed(checkpoint.tree_size, span));
        file(&mut report, &finding, checkpoint);
    }
    check_proofs(proofs, &trusted, &mut report);
    report
}

/// Compares every kept checkpoint with a verified bundle through its
/// checkpoint (of `B` events): equal sizes compare head and root; a kept
/// checkpoint of `T < B` events holds when a consistency proof from `T`
/// to `B` verifies. A bundle of fewer events than a kept checkpoint never
/// shows that the log still holds it: its log ends before (a proof from
/// `B` to `T` only shows it is a prefix).
pub fn check_bundle(
    checkpoints: &[PublishedCheckpoint],
    proofs: &[ConsistencyProof],
    bundle: &Checkpoint,
    pinned: &[VerifyingKey],
    announced: &[VerifyingKey],
) -> Report {
    let mut report = Report::default();
    let trusted = trusted_only(checkpoints, pinned, announced, &mut report);
    conflicts(&trusted, &mut report);
    let b = bundle.tree_size;
    let for_pair = |from: u64, to: u64| proofs.iter().filter(move |proof| (proof.from, proof.to) == (from, to));
    for checkpoint in &trusted {
        let t = checkpoint.tree_size;
        let of = checkpoint.describe();
        if t == b {
            let observed = Observed {
                first: 1,
                last: t,
                head: Some(bundle.head),
                root: Some(bundle.root),
            };
            file(&mut report, &compare(checkpoint, &observed), checkpoint);
            continue;
        }
        let (older, newer) = if t < b {
            ((t, &checkpoint.root), (b, &bundle.root))
        } else {
            ((b, &bundle.root), (t, &checkpoint.root))
        };
        let mut checked = false;
        for proof in for_pair(older.0, newer.0) {
            checked = true;
            match proof.proves(older, newer) {
                Err(reason) => report.failed.push(format!(
                    "FAILED against {of}: the bundle's log of {b} events and the checkpoint's: {reason}"
                )),
                Ok(()) if t < b => report.held.push(format!(
                    "holds {of}: the bundle's log of {b} events begins with the log of {t} events (consistency proof)"
                )),
                Ok(()) => report.unchecked.push(format!(
                    "cannot show the log still holds {of}: the bundle's log of {b} events ends before it (it is a \
                     prefix of it, which the consistency proof shows)"
                )),
            }
        }
        if !checked {
            report.unchecked.push(if t < b {
                format!(
                    "cannot compare {of} with the bundle's checkpoint of {b} events: pass --consistency with the \
                     proof from GET /api/v1/audit/checkpoints/consistency?from={t}&to={b}"
                )
            } else {
                format!("cannot show the log still holds {of}: the bundle's log of {b} events ends before it")
            });
        }
    }
    let rest: Vec<ConsistencyProof> = proofs
        .iter()
        .filter(|proof| proof.to != b && proof.from != b)
        .cloned()
        .collect();
    check_proofs(&rest, &trusted, &mut report);
    report
}

/// Two trusted checkpoints of one size that disagree: the log showed two
/// histories, which is evidence by itself (audit-checkpoint §6.2).
fn conflicts(trusted: &[&PublishedCheckpoint], report: &mut Report) {
    for (index, one) in trusted.iter().enumerate() {
        for other in &trusted[index + 1..] {
            if one.tree_size == other.tree_size && (one.root, one.head) != (other.root, other.head) {
                report.failed.push(format!(
                    "FAILED at seq {}: {} and {} disagree: the log showed two histories",
                    one.tree_size,
                    one.describe(),
                    other.describe()
                ));
            }
        }
    }
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
        Finding::Before { .. } | Finding::Unobserved => report.unchecked.push(line),
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

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use warden_core::chain::merkle::Tree;
    use warden_core::event::now_micros;

    fn hashes(n: u64, fork_at: Option<u64>) -> Vec<Digest> {
        (1..=n)
            .map(|seq| {
                let salt: &[u8] = if Some(seq) >= fork_at && fork_at.is_some() {
                    b"fork"
                } else {
                    b"real"
                };
                Digest(*blake3::hash(&[salt, &seq.to_le_bytes()[..]].concat()).as_bytes())
            })
            .collect()
    }

    fn signer() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn checkpoint_of(log: &[Digest], size: u64) -> PublishedCheckpoint {
        let tree = Tree::of_hashes(log[..size as usize].to_vec());
        PublishedCheckpoint::sign(size, tree.root(), log[size as usize - 1], &now_micros(), &signer())
    }

    fn observe(kept: &[PublishedCheckpoint], log: &[Digest], from: u64, frontier: Option<Frontier>) -> Observer {
        let mut observer = Observer::new(kept, frontier);
        for (index, hash) in log.iter().enumerate().skip(from as usize - 1) {
            observer.push(index as u64 + 1, hash);
        }
        observer
    }

    /// `kept` compared with the whole of `log`, read from seq 1 with a
    /// frontier, trusting the signer.
    fn check_whole(kept: &[PublishedCheckpoint], log: &[Digest]) -> Report {
        let observer = observe(kept, log, 1, Some(Frontier::new()));
        check_log(
            kept,
            &[],
            &observer,
            Some((1, log.len() as u64)),
            &[signer().verifying_key()],
            &[],
        )
    }

    #[test]
    fn the_observer_sees_heads_and_roots_of_a_log_from_seq_1() {
        let log = hashes(30, None);
        let kept = [checkpoint_of(&log, 10), checkpoint_of(&log, 30)];
        let report = check_whole(&kept, &log);
        assert_eq!(report.held.len(), 2, "{:?}", report.held);
        assert!(report.held.iter().all(|line| line.contains("same head and root")));
        assert!(report.failed.is_empty() && report.unchecked.is_empty());
    }

    #[test]
    fn a_range_without_the_hashes_before_it_compares_heads_only() {
        let log = hashes(30, None);
        let kept = [checkpoint_of(&log, 10), checkpoint_of(&log, 20)];
        let key = [signer().verifying_key()];
        // Starts at 15: no frontier, seq 10 is before it.
        let observer = observe(&kept, &log, 15, Some(Frontier::new()));
        let report = check_log(&kept, &[], &observer, Some((15, 30)), &key, &[]);
        assert_eq!(report.held.len(), 1, "{:?}", report.held);
        assert!(report.held[0].contains("same head at seq 20 (the root was not recomputed"));
        assert_eq!(report.unchecked.len(), 1);
        assert!(report.unchecked[0].contains("start at seq 15, after it"));
    }

    #[test]
    fn a_head_never_observed_is_not_held() {
        let log = hashes(30, None);
        let kept = [checkpoint_of(&log, 10)];
        let key = [signer().verifying_key()];
        // The events 1..=30 verified, but seq 10 was never pushed (a read
        // that skipped it): nothing is compared, nothing holds.
        let mut observer = Observer::new(&kept, Some(Frontier::new()));
        for (index, hash) in log.iter().enumerate() {
            if index != 9 {
                observer.push(index as u64 + 1, hash);
            }
        }
        let report = check_log(&kept, &[], &observer, Some((1, 30)), &key, &[]);
        assert!(report.held.is_empty(), "{:?}", report.held);
        assert!(
            report.unchecked[0].contains("was not observed"),
            "{:?}",
            report.unchecked
        );
    }

    #[test]
    fn a_forked_or_short_log_fails_and_two_histories_fail() {
        let log = hashes(30, None);
        let forked = hashes(30, Some(8));
        let kept = [checkpoint_of(&log, 10)];
        let on_fork = check_whole(&kept, &forked);
        assert!(
            on_fork.failed[0].starts_with("FAILED at seq 10: the event there has hash"),
            "{:?}",
            on_fork.failed
        );
        let short = check_whole(&kept, &log[..9]);
        assert!(short.failed[0].starts_with("FAILED at seq 10: missing: the log ends at seq 9"));
        let both = [checkpoint_of(&log, 10), checkpoint_of(&forked, 10)];
        let two = check_whole(&both, &log);
        assert!(
            two.failed
                .iter()
                .any(|line| line.contains("disagree: the log showed two histories")),
            "{:?}",
            two.failed
        );
    }

    #[test]
    fn a_bundle_holds_an_older_checkpoint_through_a_proof_and_never_a_newer_one() {
        let log = hashes(30, None);
        let key = [signer().verifying_key()];
        let tree = Tree::of_hashes(log.clone());
        let bundle_of = |size: u64| {
            Checkpoint::sign(
                size,
                tree.root_at(size).unwrap(),
                log[size as usize - 1],
                "k",
                &signer(),
            )
        };
        let bundle = bundle_of(20);
        let older = checkpoint_of(&log, 10);
        let newer = checkpoint_of(&log, 30);
        let proof = |from: u64, to: u64| {
            let tree = Tree::of_hashes(log[..to as usize].to_vec());
            ConsistencyProof::new(from, to, tree.consistency(from).unwrap())
        };
        // Older, with its proof: holds. Without: cannot compare.
        let with = check_bundle(std::slice::from_ref(&older), &[proof(10, 20)], &bundle, &key, &[]);
        assert!(
            with.held[0].contains("begins with the log of 10 events"),
            "{:?}",
            with.held
        );
        let without = check_bundle(std::slice::from_ref(&older), &[], &bundle, &key, &[]);
        assert!(without.held.is_empty() && without.unchecked[0].contains("pass --consistency"));
        // A proof that fails among good ones: FAILED.
        let mut bent = proof(10, 20);
        bent.proof[0] = Digest([1; 32]);
        let bad = check_bundle(std::slice::from_ref(&older), &[proof(10, 20), bent], &bundle, &key, &[]);
        assert_eq!(bad.failed.len(), 1, "{:?}", bad.failed);
        // Newer than the bundle: never holds, even with a proof 20 -> 30.
        for proofs in [vec![], vec![proof(20, 30)]] {
            let report = check_bundle(std::slice::from_ref(&newer), &proofs, &bundle, &key, &[]);
            assert!(report.held.is_empty(), "{:?}", report.held);
            assert!(report.failed.is_empty());
            assert!(report.unchecked[0].contains("ends before it"), "{:?}", report.unchecked);
        }
        // The same size: compared head and root.
        let same = check_bundle(&[checkpoint_of(&log, 20)], &[], &bundle, &key, &[]);
        assert!(same.held[0].contains("same head and root"));
        // Signed by a key neither pinned nor carried: not used.
        let stranger = check_bundle(std::slice::from_ref(&older), &[proof(10, 20)], &bundle, &[], &[]);
        assert!(stranger.held.is_empty() && stranger.unchecked[0].contains("not a key you trust"));
    }
}
