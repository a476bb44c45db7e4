//! Exports and bundles of a node's log, made by the real binary, for the
//! audit-format tests.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::process::{NodeEnv, Ran, bundle_verify};

/// `bundle-verify` on the file `path`, with `args`.
pub fn tool(path: &Path, args: &[&str]) -> Ran {
    bundle_verify(&[&[path.to_str().unwrap()], args].concat())
}

/// The seqs of the log's key announcements, its head seq and hash, and
/// the current public key, from a full export.
pub fn log_facts(env: &NodeEnv) -> (Vec<u64>, (u64, String), String) {
    let path = env.data_dir.join("all.jsonl");
    let exported = env.ran(&["export", "--out", path.to_str().unwrap()]);
    assert_eq!(exported.code, 0, "{}", exported.out);
    let events: Vec<Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let announcements: Vec<&Value> = events.iter().filter(|e| e["kind"] == "signing_key.added").collect();
    let last = events.last().unwrap();
    (
        announcements.iter().map(|e| e["seq"].as_u64().unwrap()).collect(),
        (
            last["seq"].as_u64().unwrap(),
            last["hash"].as_str().unwrap().to_string(),
        ),
        announcements.last().unwrap()["data"]["public_key"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

/// `warden export --bundle` of seqs `from..=to`, into the data directory.
pub fn export_bundle(env: &NodeEnv, from: u64, to: u64) -> PathBuf {
    let path = env.data_dir.join(format!("range-{from}-{to}.jsonl"));
    let exported = env.ran(&[
        "export",
        "--bundle",
        "--from",
        &from.to_string(),
        "--to",
        &to.to_string(),
        "--out",
        path.to_str().unwrap(),
    ]);
    assert_eq!(exported.code, 0, "{}", exported.out);
    path
}
