//! `bundle-verify BUNDLE [--key HEX]… [--expect-from SEQ] [--expect-head SEQ:HASH]
//! [--checkpoint FILE]… [--consistency FILE]…`: verifies a Warden audit
//! bundle offline and names the first bad line (and its event's seq), then
//! compares it with the checkpoints the auditor kept. Without a bundle,
//! checks kept checkpoints and the consistency proofs between them.
//!
//! Written from `docs/spec/audit-chain.md`, `docs/spec/audit-bundle.md` and
//! `docs/spec/audit-checkpoint.md` alone, sharing no code with Warden, so
//! that it checks Warden rather than agreeing with it. Exit codes: 0
//! intact, 1 tampered (or cut short, rolled back, forked), 2 the check
//! could not run (unreadable file, bad argument, an untrusted checkpoint).

mod bundle;
mod canonical;
mod chain;
mod checkpoint;
mod json;
mod merkle;

use std::io::BufReader;
use std::process::ExitCode;

use ed25519_dalek::VerifyingKey;

use crate::bundle::verify;
use crate::chain::Failure;

const USAGE: &str = "usage: bundle-verify [BUNDLE] [--key PUBLIC_KEY_HEX]... [--expect-from SEQ] \
     [--expect-head SEQ:HASH] [--checkpoint FILE]... [--consistency FILE]...";

/// `SEQ:HASH`, the seq above 0, the hash 64 lower-case hex digits.
fn parse_head(text: &str) -> Option<(u64, [u8; 32])> {
    let (seq, hash) = text.split_once(':')?;
    let seq = seq.parse::<u64>().ok().filter(|seq| *seq > 0)?;
    let hash = crate::chain::hex32(&serde_json::Value::String(hash.to_string()), "hash").ok()?;
    Some((seq, hash))
}

fn main() -> ExitCode {
    let mut path = None;
    let mut pinned = Vec::new();
    let mut expect_from: Option<u64> = None;
    let mut expect_head: Option<(u64, [u8; 32])> = None;
    let mut kept = Vec::new();
    let mut proofs = Vec::new();
    // Files that could not be used are reported, not a reason to skip the
    // other checks.
    let mut unusable = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--key" => {
                let key = args
                    .next()
                    .and_then(|text| hex::decode(text).ok())
                    .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                    .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok());
                match key {
                    Some(key) => pinned.push(key),
                    None => {
                        eprintln!("bundle-verify: --key takes an Ed25519 public key, 64 hex digits");
                        return ExitCode::from(2);
                    }
                }
            }
            "--expect-from" => match args.next().and_then(|text| text.parse().ok()) {
                Some(seq) => expect_from = Some(seq),
                None => {
                    eprintln!("bundle-verify: --expect-from takes a seq");
                    return ExitCode::from(2);
                }
            },
            "--expect-head" => match args.next().as_deref().and_then(parse_head) {
                Some(head) => expect_head = Some(head),
                None => {
                    eprintln!("bundle-verify: --expect-head takes SEQ:HASH (64 lower-case hex digits)");
                    return ExitCode::from(2);
                }
            },
            "--checkpoint" => match args.next().map(|path| checkpoint::load(&path)) {
                Some(Ok(found)) => kept.extend(found),
                Some(Err(Failure(reason))) => unusable.push(format!("cannot use {reason}")),
                None => {
                    eprintln!("bundle-verify: --checkpoint takes a file");
                    return ExitCode::from(2);
                }
            },
            "--consistency" => match args.next().map(|path| checkpoint::load_proof(&path)) {
                Some(Ok(proof)) => proofs.push(proof),
                Some(Err(Failure(reason))) => unusable.push(format!("cannot use {reason}")),
                None => {
                    eprintln!("bundle-verify: --consistency takes a file");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                eprintln!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other if path.is_none() => path = Some(other.to_string()),
            other => {
                eprintln!("bundle-verify: unexpected argument {other:?}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(path) = path else {
        if kept.is_empty() && proofs.is_empty() && unusable.is_empty() {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
        // Checkpoints alone: trusted through pinned keys only.
        let mut findings = checkpoint::compare(&kept, &proofs, None, &pinned);
        findings.unchecked.extend(unusable);
        return conclude(&findings, None);
    };
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(error) => {
            eprintln!("bundle-verify: cannot read {path}: {error}");
            return ExitCode::from(2);
        }
    };
    let report = match verify(BufReader::new(file), &pinned) {
        Ok(report) => report,
        Err(Failure(reason)) => {
            report_line(format!("FAILED at {reason}"));
            return ExitCode::from(1);
        }
    };
    let checkpoint = &report.checkpoint;
    // What the auditor was promised: where the events start, and a head.
    if let Some(from) = expect_from
        && report.first.map(|(seq, _)| seq) != Some(from)
    {
        report_line(format!(
            "FAILED at seq {}: missing: the bundle's events start at {}, the expected start is seq {from}",
            report.first.map_or(from, |(seq, _)| seq.min(from)),
            report
                .first
                .map_or("no event".to_string(), |(seq, _)| format!("seq {seq}"))
        ));
        return ExitCode::from(1);
    }
    if let Some((seq, hash)) = expect_head {
        let held = (seq == checkpoint.tree_size && hash == checkpoint.head) || report.last == Some((seq, hash));
        if !held {
            if seq > checkpoint.tree_size {
                report_line(format!(
                    "FAILED at seq {}: missing: the checkpoint's log stops at seq {}, the expected head is seq {seq}",
                    checkpoint.tree_size + 1,
                    checkpoint.tree_size
                ));
                return ExitCode::from(1);
            }
            if seq == checkpoint.tree_size {
                report_line(format!(
                    "FAILED at seq {seq}: the checkpoint's head is {}, not the expected {}",
                    hex::encode(checkpoint.head),
                    hex::encode(hash)
                ));
                return ExitCode::from(1);
            }
            eprintln!(
                "bundle-verify: seq {seq} is before the bundle's checkpoint (seq {}): a consistency proof checks it",
                checkpoint.tree_size
            );
            return ExitCode::from(2);
        }
    }
    let mut trusted = pinned.clone();
    trusted.extend(report.keys.iter().copied());
    let mut findings = checkpoint::compare(&kept, &proofs, Some(checkpoint), &trusted);
    findings.unchecked.extend(unusable);
    if !findings.failed.is_empty() {
        return conclude(
            &findings,
            Some(format!(
                "the bundle itself verified: {} events, proven in its log of {} events",
                report.events, checkpoint.tree_size
            )),
        );
    }
    let trust = if pinned.is_empty() {
        "compare it with Warden's published keys (/.well-known/warden-audit-keys), or pass it with --key"
    } else {
        "a key you trust"
    };
    report_line(format!(
        "intact: {} events of {}, each proven in the log of {} events with root {}",
        report.events,
        report.selection,
        checkpoint.tree_size,
        hex::encode(checkpoint.root)
    ));
    report_line(match (report.first, report.last) {
        (Some((first, _)), Some((last, hash))) => format!(
            "events: seq {first}..{last}, last hash {}; checkpoint: head seq {} hash {}",
            hex::encode(hash),
            checkpoint.tree_size,
            hex::encode(checkpoint.head)
        ),
        _ => format!(
            "events: none (0 events, nothing but the checkpoint verified); checkpoint: head seq {} hash {}",
            checkpoint.tree_size,
            hex::encode(checkpoint.head)
        ),
    });
    report_line(format!(
        "signed by {} (public key {}): {trust}",
        report.signer,
        hex::encode(report.signer_key.as_bytes())
    ));
    conclude(&findings, None)
}

/// Prints what the checkpoints showed: failures first (exit 1), then what
/// held, then what could not be checked (exit 2).
fn conclude(findings: &checkpoint::Findings, after_failures: Option<String>) -> ExitCode {
    for line in &findings.failed {
        report_line(line.clone());
    }
    if !findings.failed.is_empty() {
        if let Some(line) = after_failures {
            report_line(line);
        }
        return ExitCode::from(1);
    }
    for line in findings.held.iter().chain(&findings.unchecked) {
        report_line(format!("checkpoint: {line}"));
    }
    if findings.unchecked.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

/// The verdict goes to standard output, for scripts to read.
#[allow(clippy::print_stdout)]
fn report_line(line: String) {
    println!("{line}");
}
