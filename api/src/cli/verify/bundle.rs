//! `warden verify --bundle`: a signed export bundle, what it proves, and
//! the kept checkpoints compared with its checkpoint.

use std::path::PathBuf;
use std::process::ExitCode;

use ed25519_dalek::VerifyingKey;
use warden_core::chain::coverage::{self, Coverage, Expected};
use warden_core::chain::published::{ConsistencyProof, PublishedCheckpoint};

use super::{EXIT_CANNOT_CHECK, EXIT_TAMPERED, checkpoint_lines, checkpoints};
use crate::cli::say;

/// Verifies a signed bundle and says what it proves.
pub(super) fn verify_bundle(
    path: &PathBuf,
    trusted: &[VerifyingKey],
    expected: &Expected,
    kept: &[PublishedCheckpoint],
    proofs: &[ConsistencyProof],
    unusable: &[String],
) -> Result<ExitCode, String> {
    use warden_core::chain::bundle::{self, Selection};

    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let verified = match bundle::verify(std::io::BufReader::new(file), trusted) {
        Ok(verified) => verified,
        Err(error) => {
            say(format!("FAILED at {error}"));
            return Ok(ExitCode::from(EXIT_TAMPERED));
        }
    };
    let checkpoint = &verified.checkpoint;
    // The span a bundle's events cover; a promised head is checked
    // against the checkpoint, which the bundle proves.
    let span = verified
        .first
        .zip(verified.last)
        .map(|(first, last)| Coverage { first, last });
    let from_ok = coverage::decide(
        span.as_ref(),
        &Expected {
            from: expected.from,
            head: None,
        },
        |_| None,
    );
    let tampered = |reason: String| (EXIT_TAMPERED, reason);
    let head_ok = match expected.head {
        None => Ok(()),
        Some((seq, hash)) if seq == checkpoint.tree_size && hash == checkpoint.head => Ok(()),
        Some((seq, hash)) if Some((seq, hash)) == verified.last => Ok(()),
        Some((seq, hash)) if seq == checkpoint.tree_size => Err(tampered(format!(
            "seq {seq}: the checkpoint's head is {}, not the expected {}: the log was rewritten or forked",
            checkpoint.head.to_hex(),
            hash.to_hex()
        ))),
        Some((seq, _)) if seq > checkpoint.tree_size => Err(tampered(format!(
            "seq {}: missing: the checkpoint's log stops at seq {}, the expected head is seq {seq}: events were \
             cut from the end, or the log was rolled back",
            checkpoint.tree_size + 1,
            checkpoint.tree_size
        ))),
        Some((seq, _)) => Err((
            EXIT_CANNOT_CHECK,
            format!(
                "seq {seq}: the bundle's checkpoint is of a later head (seq {}); an earlier head is checked \
                 against the log with a consistency proof",
                checkpoint.tree_size
            ),
        )),
    };
    if let Err(unexpected) = from_ok {
        say(format!("FAILED at {unexpected}"));
        return Ok(ExitCode::from(EXIT_TAMPERED));
    }
    match head_ok {
        Ok(()) => {}
        Err((EXIT_TAMPERED, reason)) => {
            say(format!("FAILED at {reason}"));
            return Ok(ExitCode::from(EXIT_TAMPERED));
        }
        Err((_, reason)) => return Err(reason),
    }
    let mut report = checkpoints::check_bundle(kept, proofs, checkpoint, trusted, &verified.keys);
    report.unchecked.extend(unusable.iter().cloned());
    if !report.failed.is_empty() {
        for line in &report.failed {
            say(line);
        }
        say(format!(
            "the bundle itself verified: {} events, proven in its log of {} events",
            verified.events, checkpoint.tree_size
        ));
        return Ok(ExitCode::from(EXIT_TAMPERED));
    }
    let selection = match &verified.selection {
        Selection::Range { from, to } => format!("the range {from}..{to}"),
        Selection::Search { org, filters } => format!("a search of org {org} ({} filters)", filters.len()),
    };
    say(format!(
        "intact: {} events of {selection}, each proven in the log of {} events with root {}",
        verified.events,
        checkpoint.tree_size,
        checkpoint.root.to_hex()
    ));
    say(match span {
        Some(span) => format!(
            "events: seq {}..{}, last hash {}; checkpoint: head seq {} hash {}",
            span.first.0,
            span.last.0,
            span.last.1.to_hex(),
            checkpoint.tree_size,
            checkpoint.head.to_hex()
        ),
        None => format!(
            "events: none (0 events, nothing but the checkpoint verified); checkpoint: head seq {} hash {}",
            checkpoint.tree_size,
            checkpoint.head.to_hex()
        ),
    });
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
    Ok(checkpoint_lines(&report))
}
