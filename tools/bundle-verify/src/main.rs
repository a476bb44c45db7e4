//! `bundle-verify BUNDLE [--key HEX]…`: verifies a Warden audit bundle
//! offline and names the first bad event.
//!
//! Written from `docs/spec/audit-chain.md` and `docs/spec/audit-bundle.md`
//! alone, sharing no code with Warden, so that it checks Warden rather
//! than agreeing with it. Exit codes: 0 intact, 1 tampered, 2 the check
//! could not run (unreadable file, bad argument).

mod bundle;
mod canonical;
mod chain;
mod merkle;

use std::io::BufReader;
use std::process::ExitCode;

use ed25519_dalek::VerifyingKey;

use crate::bundle::verify;
use crate::chain::Failure;

fn main() -> ExitCode {
    let mut path = None;
    let mut pinned = Vec::new();
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
            "-h" | "--help" => {
                eprintln!("usage: bundle-verify BUNDLE [--key PUBLIC_KEY_HEX]...");
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
        eprintln!("usage: bundle-verify BUNDLE [--key PUBLIC_KEY_HEX]...");
        return ExitCode::from(2);
    };
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(error) => {
            eprintln!("bundle-verify: cannot read {path}: {error}");
            return ExitCode::from(2);
        }
    };
    match verify(BufReader::new(file), &pinned) {
        Ok(report) => {
            let trust = if pinned.is_empty() {
                "compare it with Warden's published keys (/.well-known/warden-audit-keys), or pass it with --key"
            } else {
                "a key you trust"
            };
            report_line(format!(
                "intact: {} events of {}, each proven in the log of {} events with root {}",
                report.events,
                report.selection,
                report.tree_size,
                hex::encode(report.root)
            ));
            report_line(format!(
                "signed by {} (public key {}): {trust}",
                report.signer,
                hex::encode(report.signer_key.as_bytes())
            ));
            ExitCode::SUCCESS
        }
        Err(Failure(reason)) => {
            report_line(format!("FAILED: {reason}"));
            ExitCode::from(1)
        }
    }
}

/// The verdict goes to standard output, for scripts to read.
#[allow(clippy::print_stdout)]
fn report_line(line: String) {
    println!("{line}");
}
