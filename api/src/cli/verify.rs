//! `warden verify`: checks continuity, links, hashes and signatures of the
//! configured log, of an exported JSON Lines file, or of a signed export
//! bundle, and names the first bad `seq`. Exit code 0 only when everything
//! is intact.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use ed25519_dalek::VerifyingKey;
use warden_core::Event;
use warden_core::chain::{ChainVerifier, Digest};
use warden_core::ledger::LedgerError;
use warden_core::ledger::archive::start_verifier;
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

async fn check(config: &Config, args: VerifyArgs) -> Result<ExitCode, String> {
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let trusted = trusted_keys(&args)?;
    let started = std::time::Instant::now();
    if let Some(path) = &args.bundle {
        return verify_bundle(path, &trusted);
    }
    let outcome = match &args.file {
        Some(path) => verify_file(path, trusted, threads),
        None => {
            let store = open_existing_store(config).await.map_err(|e| e.to_string())?;
            // After an archive, from the boundary its ledger.archived event names.
            match start_verifier(store.as_ref(), &trusted).await {
                Ok(verifier) => {
                    if verifier.next_seq() > 1 {
                        say(format!(
                            "events up to seq {} are archived: verifying from the boundary the log records",
                            verifier.next_seq() - 1
                        ));
                    }
                    verify_store(store, verifier, threads)
                        .await
                        .map(|verified| (verified.events, verified.head.seq, verified.head.hash))
                }
                Err(error) => Err(error),
            }
        }
    };
    match outcome {
        Ok((count, head, hash)) => {
            let seconds = started.elapsed().as_secs_f64();
            say(format!(
                "intact: {count} events verified, head seq {head} hash {} ({:.0} events/s)",
                hash.to_hex(),
                count as f64 / seconds.max(1e-9)
            ));
            Ok(ExitCode::SUCCESS)
        }
        Err(VerifyError::Chain(error)) => {
            say(format!("FAILED at seq {}: {error}", error.seq()));
            Ok(ExitCode::from(EXIT_TAMPERED))
        }
        Err(VerifyError::Ledger(warden_core::ledger::LedgerError::Corrupt { seq, reason })) => {
            say(format!("FAILED at seq {seq}: stored row is unreadable: {reason}"));
            Ok(ExitCode::from(EXIT_TAMPERED))
        }
        Err(VerifyError::Unreadable { line, reason }) => {
            say(format!("FAILED at line {line}: not an event: {reason}"));
            Ok(ExitCode::from(EXIT_TAMPERED))
        }
        Err(error) => Err(error.to_string()),
    }
}

fn trusted_keys(args: &VerifyArgs) -> Result<Vec<VerifyingKey>, String> {
    let mut texts = args.trusted_keys.clone();
    if let Some(path) = &args.keys {
        let document: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?)
                .map_err(|e| format!("{}: {e}", path.display()))?;
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
    texts
        .iter()
        .map(|text| {
            Digest::from_hex(text)
                .and_then(|bytes| VerifyingKey::from_bytes(&bytes.0).ok())
                .filter(|key| !key.is_weak())
                .ok_or_else(|| format!("trusted key {text:?} is not 64 lower-case hex digits of a strong Ed25519 key"))
        })
        .collect()
}

/// Verifies an export. A file that starts after seq 1 is anchored on its
/// first event's `prev`, which the file alone cannot prove.
fn verify_file(path: &PathBuf, trusted: Vec<VerifyingKey>, threads: usize) -> Result<(u64, u64, Digest), VerifyError> {
    let unreadable = |line: usize, reason: String| VerifyError::Unreadable { line, reason };
    let file = std::fs::File::open(path)
        .map_err(|e| VerifyError::Ledger(LedgerError::NotFound(format!("{}: {e}", path.display()))))?;
    let mut verifier: Option<ChainVerifier> = None;
    let mut chunk: Vec<Event> = Vec::with_capacity(5000);
    let mut count = 0u64;
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| unreadable(index + 1, e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let event: Event = serde_json::from_str(&line).map_err(|e| unreadable(index + 1, e.to_string()))?;
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
        chunk.push(event);
        if chunk.len() == 5000 {
            verifier.check_all(&chunk, threads)?;
            count += chunk.len() as u64;
            chunk.clear();
        }
    }
    let Some(mut verifier) = verifier else {
        return Ok((0, 0, Digest::ZERO));
    };
    verifier.check_all(&chunk, threads)?;
    count += chunk.len() as u64;
    Ok((count, verifier.next_seq() - 1, verifier.prev()))
}

/// Verifies a signed bundle and says what it proves.
fn verify_bundle(path: &PathBuf, trusted: &[VerifyingKey]) -> Result<ExitCode, String> {
    use warden_core::chain::bundle::{self, Selection};

    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match bundle::verify(std::io::BufReader::new(file), trusted) {
        Ok(verified) => {
            let selection = match &verified.selection {
                Selection::Range { from, to } => format!("the range {from}..{to}"),
                Selection::Search { org, filters } => format!("a search of org {org} ({} filters)", filters.len()),
            };
            say(format!(
                "intact: {} events of {selection}, each proven in the log of {} events with root {}",
                verified.events,
                verified.checkpoint.tree_size,
                verified.checkpoint.root.to_hex()
            ));
            let (key_id, key) = &verified.signer;
            let trust = if trusted.is_empty() {
                "compare it with Warden's published keys, or pass it with --trusted-key"
            } else {
                "a trusted key"
            };
            say(format!(
                "signed by {key_id} (public key {}): {trust}",
                hex::encode(key.as_bytes())
            ));
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            say(format!("FAILED: {error}"));
            Ok(ExitCode::from(EXIT_TAMPERED))
        }
    }
}
