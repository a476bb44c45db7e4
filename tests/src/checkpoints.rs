//! What an auditor does with published checkpoints: receives them by
//! webhook and keeps them as received, fetches consistency proofs, and
//! checks a log (or a restored copy of it) against what they kept.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use warden_core::chain::published::PublishedCheckpoint;
use warden_core::ledger::LedgerStore;
use warden_core::ledger::postgres::PostgresStore;

use crate::TestDatabase;
use crate::peers::WebhookReceiver;
use crate::process::{NodeEnv, Ran};
use crate::web::WebClient;

/// `warden verify` on the node's log, with `args`.
pub fn verify(env: &NodeEnv, args: &[&str]) -> Ran {
    env.ran(&[&["verify"], args].concat())
}

/// The checkpoints a webhook body carries.
pub fn carried(body: &Value) -> Vec<PublishedCheckpoint> {
    body["data"]["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| item["event"]["kind"] == "ledger.checkpointed")
        .map(|item| PublishedCheckpoint::parse(&item["event"]["data"].to_string()).unwrap())
        .collect()
}

/// Waits for a webhook (after the first `skip` received) that carries a
/// checkpoint of at least `size` events, and keeps its body, as received,
/// in `dir`.
pub async fn received_checkpoint(
    receiver: &WebhookReceiver,
    size: u64,
    dir: &Path,
    skip: usize,
) -> (PathBuf, PublishedCheckpoint) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for received in receiver.received().into_iter().skip(skip) {
            assert!(received.signature_valid, "a webhook without a valid signature");
            if let Some(checkpoint) = carried(&received.body).into_iter().find(|c| c.tree_size >= size) {
                let path = dir.join(format!("received-{}.json", checkpoint.tree_size));
                std::fs::write(&path, &received.raw).unwrap();
                return (path, checkpoint);
            }
        }
        assert!(Instant::now() < deadline, "no checkpoint of {size} events arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The seq of the log's head.
pub async fn head(store: &PostgresStore) -> u64 {
    store.head().await.unwrap().seq
}

/// Runs a PostgreSQL client tool (`pg_dump`, `pg_restore`), which must succeed.
pub fn pg(tool: &str, args: &[&str]) {
    let output = Command::new(tool).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A new database restored from `dump`.
pub async fn restored(dump: &Path) -> TestDatabase {
    let database = TestDatabase::create().await;
    pg("pg_restore", &["--dbname", &database.url, dump.to_str().unwrap()]);
    database
}

/// Keeps `value` as the file `name` in `dir`.
pub fn write(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path
}

/// The consistency proof between two tree sizes, as the auditor fetches
/// it, kept in `dir` as `name`.
pub async fn kept_proof(auditor: &mut WebClient, (from, to): (u64, u64), dir: &Path, name: &str) -> PathBuf {
    let proof = auditor
        .get(&format!("/api/v1/audit/checkpoints/consistency?from={from}&to={to}"))
        .await;
    assert_eq!(proof.status, 200, "{:?}", proof.body);
    write(dir, name, &proof.body)
}
