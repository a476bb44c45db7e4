//! `warden verify`: checks continuity, links, hashes and signatures of the
//! configured log, of an exported JSON Lines file, or of a signed export
//! bundle, and names the first bad `seq`; then compares it with the
//! checkpoints an auditor kept ([`checkpoints`]). Exit code 0 only when
//! everything is intact.

mod bundle;
mod checkpoints;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use ed25519_dalek::VerifyingKey;
use warden_core::Event;
use warden_core::chain::coverage::{self, Coverage, Expected};
use warden_core::chain::lines::Lines;
use warden_core::chain::merkle::Frontier;
use warden_core::chain::{ChainVerifier, Digest};
use warden_core::ledger::LedgerError;
use warden_core::ledger::archive::{ArchivedHashes, bound_archived_hashes, start_verifier};
use warden_core::ledger::verify::{VerifyError, verify_store};

use super::say;
use crate::config::Config;
use crate::node::open_existing_store;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// An exported JSON Lines file to verify instead of the database.
    #[arg(long, conflicts_with = "bundle")]
    file: Option<PathBuf>,
    /// A signed export bundle to verify (checkpoint, inclusion proofs,
    /// seal). With trusted keys given, its checkpoint must be signed by
    /// one of them.
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// Trust this Ed25519 public key (64 hex digits); repeatable. With
    /// keys given, a log must start from one of them.
    #[arg(long = "trusted-key")]
    trusted_keys: Vec<String>,
    /// Trust the keys of a `/.well-known/warden-audit-keys` document.
    #[arg(long)]
    keys: Option<PathBuf>,
    /// Threads verifying signatures (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// The seq the verified events must start at (1: from the genesis).
    /// A file or bundle that starts later fails, naming what is missing.
    #[arg(long, value_name = "SEQ")]
    expect_from: Option<u64>,
    /// An event the verified events must hold, with its hash, as a
    /// verdict printed it (`SEQ:HASH`): a head received earlier. Fails
    /// when the events stop before it (cut short, rolled back) or hold
    /// another hash there (rewritten, forked).
    #[arg(long, value_name = "SEQ:HASH", value_parser = parse_head)]
    expect_head: Option<(u64, Digest)>,
    /// A checkpoint kept from Warden's publications (the document, its
    /// `ledger.checkpointed` event, or the alert webhook body that carried
    /// it); repeatable. Fails when the events were cut short, rolled back
    /// or forked since it was signed.
    #[arg(long = "checkpoint", value_name = "FILE")]
    checkpoints: Vec<PathBuf>,
    /// A consistency proof (GET /api/v1/audit/checkpoints/consistency)
    /// between two kept checkpoints, or a kept checkpoint and the
    /// bundle's; repeatable.
    #[arg(long = "consistency", value_name = "FILE")]
    consistency: Vec<PathBuf>,
}

fn parse_head(text: &str) -> Result<(u64, Digest), String> {
    coverage::parse_head(text).ok_or_else(|| "expected SEQ:HASH, a seq above 0 and 64 lower-case hex digits".into())
}

const EXIT_TAMPERED: u8 = 1;
const EXIT_CANNOT_CHECK: u8 = 2;

/// Exit codes: 0 intact, 1 tampered (the first bad event is named), 2 the
/// check could not run (unreachable database, unreadable file, bad key).
pub async fn run(config: &Config, args: VerifyArgs) -> Result<ExitCode, String> {
    match check(config, args).await {
        Ok(code) => Ok(code),
        Err(error) => {
            eprintln!("warden: cannot verify: {error}");
            Ok(ExitCode::from(EXIT_CANNOT_CHECK))
        }
    }
}

/// What a verification of a log or file found: its span (`None` when it
/// held no event) and the hash of the event an `--expect-head` names.
struct Checked {
    covered: Option<Coverage>,
    expected_hash: Option<Digest>,
    /// The keys the verified events announced (and the pinned ones).
    keys: Vec<VerifyingKey>,
}

async fn check(config: &Config, args: VerifyArgs) -> Result<ExitCode, String> {
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let trusted = trusted_keys(&args)?;
    let expected = Expected {
        from: args.expect_from,
        head: args.expect_head,
    };
    let loaded = checkpoints::load_all(&args.checkpoints, &args.consistency);
    let (kept, proofs) = (&loaded.checkpoints, &loaded.proofs);
    let started = std::time::Instant::now();
    if let Some(path) = &args.bundle {
        return bundle::verify_bundle(path, &trusted, &expected, kept, proofs, &loaded.unusable);
    }
    let mut observer = checkpoints::Observer::new(kept, Some(Frontier::new()));
    let expected_seq = expected.head.map(|(seq, _)| seq);
    let outcome = match &args.file {
        Some(path) => verify_file(path, trusted.clone(), threads, expected_seq, &mut observer),
        None => verify_log(config, &trusted, threads, expected_seq, &mut observer, !kept.is_empty()).await,
    };
    let checked = match outcome {
        Ok(checked) => checked,
        Err(VerifyError::Chain(error)) => {
            say(format!("FAILED at seq {}: {error}", error.seq()));
            return Ok(ExitCode::from(EXIT_TAMPERED));
        }
        Err(VerifyError::Ledger(warden_core::ledger::LedgerError::Corrupt { seq, reason })) => {
            say(format!("FAILED at seq {seq}: stored row is unreadable: {reason}"));
            return Ok(ExitCode::from(EXIT_TAMPERED));
        }
        Err(VerifyError::Unreadable { line, reason }) => {
            say(format!("FAILED at line {line}: not an event: {reason}"));
            return Ok(ExitCode::from(EXIT_TAMPERED));
        }
        Err(error) => return Err(error.to_string()),
    };
    if let Err(unexpected) = coverage::decide(checked.covered.as_ref(), &expected, |_| checked.expected_hash) {
        say(format!("FAILED at {unexpected}"));
        return Ok(ExitCode::from(EXIT_TAMPERED));
    }
    let span = checked
        .covered
        .as_ref()
        .map(|covered| (covered.first.0, covered.last.0));
    let mut report = checkpoints::check_log(kept, proofs, &observer, span, &trusted, &checked.keys);
    report.unchecked.extend(loaded.unusable.iter().cloned());
    if !report.failed.is_empty() {
        for line in &report.failed {
            say(line);
        }
        say(match &checked.covered {
            Some(covered) => format!(
                "the {} events verified (seq {}..{}) are intact in themselves: what is missing or different is \
                 what the checkpoints name",
                covered.events(),
                covered.first.0,
                covered.last.0
            ),
            None => "the log holds no event at all".to_string(),
        });
        return Ok(ExitCode::from(EXIT_TAMPERED));
    }
    let Some(covered) = checked.covered else {
        say("nothing verified: 0 events");
        return Ok(ExitCode::from(EXIT_CANNOT_CHECK));
    };
    let seconds = started.elapsed().as_secs_f64();
    say(format!(
        "intact: {} events verified, head seq {} hash {} ({:.0} events/s)",
        covered.events(),
        covered.last.0,
        covered.last.1.to_hex(),
        covered.events() as f64 / seconds.max(1e-9)
    ));
    say(describe(&covered, &expected));
    Ok(checkpoint_lines(&report))
}

/// Prints what the kept checkpoints showed (none failed): 0, or 2 when
/// one could not be used or compared.
fn checkpoint_lines(report: &checkpoints::Report) -> ExitCode {
    for line in &report.held {
        say(format!("checkpoint: {line}"));
    }
    for line in &report.unchecked {
        say(format!("checkpoint: {line}"));
    }
    if report.unchecked.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CANNOT_CHECK)
    }
}

/// The verdict's second line: where the verified events start, and what
/// that start rests on.
fn describe(covered: &Coverage, expected: &Expected) -> String {
    let (first, prev) = covered.first;
    let span = format!("range: seq {first}..{}", covered.last.0);
    if covered.from_genesis() {
        return format!("{span}, from the genesis");
    }
    let promised = if expected.from == Some(first) {
        "as expected"
    } else {
        "not from the genesis"
    };
    format!(
        "{span}, {promised}: anchored on prev {} (the hash of seq {}), which these events alone do not prove",
        prev.to_hex(),
        first - 1
    )
}

/// Verifies the configured log: from its genesis, or after an archive
/// from the boundary its `ledger.archived` event names.
async fn verify_log(
    config: &Config,
    trusted: &[VerifyingKey],
    threads: usize,
    expected_seq: Option<u64>,
    observer: &mut checkpoints::Observer,
    observe: bool,
) -> Result<Checked, VerifyError> {
    let store = open_existing_store(config)
        .await
        .map_err(|e| VerifyError::Ledger(LedgerError::NotFound(e.to_string())))?;
    let verifier = start_verifier(store.as_ref(), trusted).await?;
    let first = (verifier.next_seq(), verifier.prev());
    if first.0 > 1 {
        say(format!(
            "events up to seq {} are archived: verifying from the boundary the log records",
            first.0 - 1
        ));
    }
    if observe {
        match bound_archived_hashes(store.as_ref()).await? {
            ArchivedHashes::None => {}
            // The archived events' hashes, bound to the boundary, stand
            // for them (audit-checkpoint §5.2).
            ArchivedHashes::Bound(hashes) => {
                for (index, hash) in hashes.iter().enumerate() {
                    observer.push(index as u64 + 1, hash);
                }
            }
            ArchivedHashes::Unbound(reason) => {
                say(format!("the archived hashes are not used: {reason}"));
                observer.start_from(None);
            }
        }
    }
    let verified = verify_store(store.clone(), verifier, threads, |events| {
        for event in events {
            observer.push(event.seq, &event.hash);
        }
    })
    .await?;
    if verified.events == 0 {
        return Ok(Checked {
            covered: None,
            expected_hash: None,
            keys: verified.keys,
        });
    }
    let expected_hash = match expected_seq {
        Some(seq) if (first.0..=verified.head.seq).contains(&seq) => {
            store.read_seqs(&[seq]).await?.first().map(|event| event.hash)
        }
        _ => None,
    };
    Ok(Checked {
        covered: Some(Coverage {
            first,
            last: (verified.head.seq, verified.head.hash),
        }),
        expected_hash,
        keys: verified.keys,
    })
}

fn trusted_keys(args: &VerifyArgs) -> Result<Vec<VerifyingKey>, String> {
    let mut texts = args.trusted_keys.clone();
    if let Some(path) = &args.keys {
        let document: serde_json::Value = warden_core::strict_json::from_str(
            &std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?,
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        if document.get("format").and_then(|format| format.as_str()) != Some("warden-audit-keys/v1") {
            return Err(format!("{}: not a warden-audit-keys/v1 document", path.display()));
        }
        let keys = document
            .get("keys")
            .and_then(|keys| keys.as_array())
            .ok_or("keys document has no \"keys\" list")?;
        for key in keys {
            texts.push(
                key.get("public_key")
                    .and_then(|v| v.as_str())
                    .ok_or("a key has no public_key")?
                    .to_string(),
            );
        }
    }
    let keys: Vec<VerifyingKey> = texts
        .iter()
        .map(|text| {
            Digest::from_hex(text)
                .and_then(|bytes| warden_core::chain::public_key(&bytes.0).ok())
                .ok_or_else(|| format!("trusted key {text:?} is not 64 lower-case hex digits of a strong Ed25519 key"))
        })
        .collect::<Result<_, _>>()?;
    // A key id selects a key: two trusted keys must not share one.
    let mut by_id = std::collections::BTreeMap::new();
    for key in &keys {
        let id = warden_core::chain::key_id(key);
        if by_id.insert(id.clone(), *key).is_some_and(|other| other != *key) {
            return Err(format!("two trusted keys share the key id {id}"));
        }
    }
    Ok(keys)
}

/// Verifies an export, read with the spec's file rules (audit-chain
/// §9.1). A file that starts after seq 1 is anchored on its first event's
/// `prev`, which the file alone cannot prove.
fn verify_file(
    path: &PathBuf,
    trusted: Vec<VerifyingKey>,
    threads: usize,
    expected_seq: Option<u64>,
    observer: &mut checkpoints::Observer,
) -> Result<Checked, VerifyError> {
    let file = std::fs::File::open(path)
        .map_err(|e| VerifyError::Ledger(LedgerError::NotFound(format!("{}: {e}", path.display()))))?;
    let mut lines = Lines::new(std::io::BufReader::new(file));
    let mut verifier: Option<ChainVerifier> = None;
    let mut first = None;
    let mut expected_hash = None;
    let mut chunk: Vec<Event> = Vec::with_capacity(5000);
    loop {
        let event: Event = match lines.next_json() {
            Ok(Some(event)) => event,
            Ok(None) => break,
            Err(error) => {
                // The events before the bad line are checked first: a
                // break among them is the first problem of the file.
                if let Some(verifier) = verifier.as_mut() {
                    verifier.check_all(&chunk, threads)?;
                }
                return Err(VerifyError::Unreadable {
                    line: error.line as usize,
                    reason: error.reason,
                });
            }
        };
        let verifier = verifier.get_or_insert_with(|| {
            let mut verifier = if event.seq == 1 {
                ChainVerifier::new()
            } else {
                ChainVerifier::resume(event.seq, event.prev)
            };
            for key in &trusted {
                verifier.trust(*key);
            }
            verifier
        });
        first.get_or_insert((event.seq, event.prev));
        if Some(event.seq) == expected_seq {
            expected_hash = Some(event.hash);
        }
        observer.push(event.seq, &event.hash);
        chunk.push(event);
        if chunk.len() == 5000 {
            verifier.check_all(&chunk, threads)?;
            chunk.clear();
        }
    }
    let (Some(mut verifier), Some(first)) = (verifier, first) else {
        return Ok(Checked {
            covered: None,
            expected_hash: None,
            keys: trusted,
        });
    };
    verifier.check_all(&chunk, threads)?;
    Ok(Checked {
        covered: Some(Coverage {
            first,
            last: (verifier.next_seq() - 1, verifier.prev()),
        }),
        expected_hash,
        keys: verifier.trusted_keys().map(|(_, key)| *key).collect(),
    })
}
