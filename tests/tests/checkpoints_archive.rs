//! Published checkpoints across an archive and a restart (issue 15.9),
//! production profile (PostgreSQL), through the real binaries: the
//! checkpoints an auditor kept still hold for the log once old partitions
//! were archived and the node restarted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::{Duration, Instant};

use warden_core::chain::published::PublishedCheckpoint;
use warden_core::ledger::postgres::PostgresStore;
use warden_tests::TestDatabase;
use warden_tests::audit::two_orgs_on;
use warden_tests::checkpoints::{head, verify, write};
use warden_tests::process::Server;

/// Polls the checkpoint directory's `latest.json` until it describes at
/// least `size` events (60 s at most: under a loaded CI a checkpointer
/// that met an error waits out its backoff first). On failure, the
/// server's log says why.
async fn latest_in_dir(dir: &Path, size: u64, server: &Server) -> PublishedCheckpoint {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(text) = std::fs::read_to_string(dir.join("latest.json"))
            && let Ok(checkpoint) = PublishedCheckpoint::parse(&text)
            && checkpoint.tree_size >= size
        {
            return checkpoint;
        }
        if Instant::now() >= deadline {
            let log = server.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            panic!(
                "no checkpoint of {size} events in {}; the server's log ends:\n{}",
                dir.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// After an archive the checkpointer starts from the archived hashes the
/// database keeps, and `warden verify` recomputes roots from them once
/// they are the ones the boundary names: checkpoints from before and after
/// the archive both hold, head and root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_hold_across_an_archive_and_a_restart() {
    let database = TestDatabase::create().await;
    PostgresStore::migrate(&database.url).await.unwrap();
    let mut owner_db = database.superuser().await;
    sqlx::query("UPDATE ledger_settings SET value = '40' WHERE name = 'partition_size'")
        .execute(&mut owner_db)
        .await
        .unwrap();
    let kept = tempfile::tempdir().unwrap();
    let published = kept.path().join("published");
    let instance = two_orgs_on(
        &[
            ("WARDEN_AUDIT_CHECKPOINT_EVERY_SECONDS", "1"),
            ("WARDEN_AUDIT_CHECKPOINT_DIR", published.to_str().unwrap()),
        ],
        Some(&database.url),
    )
    .await;
    let mut env = instance.env.clone();
    let store = database.store().await;
    instance.server.post_invoices(90, "a").await;
    let before = latest_in_dir(&published, head(&store).await, &instance.server).await;
    let before_path = write(kept.path(), "before.json", &serde_json::to_value(&before).unwrap());
    let mut server = instance.server;
    server.terminate();

    let bundle = kept.path().join("archive.jsonl");
    let archived = env.run(&["archive", "--through", "80", "--out", bundle.to_str().unwrap()]);
    assert!(
        archived.status.success(),
        "{}",
        String::from_utf8_lossy(&archived.stderr)
    );

    // A new process: its checkpointer starts from the archived hashes.
    env.extra.push((
        "WARDEN_AUDIT_INDEX_DIR".into(),
        kept.path().join("index").to_str().unwrap().into(),
    ));
    let server = Server::start(&env, "after-archive").await;
    server.post_invoices(5, "b").await;
    let after = latest_in_dir(&published, head(&store).await, &server).await;
    assert!(after.tree_size > before.tree_size);
    let after_path = write(kept.path(), "after.json", &serde_json::to_value(&after).unwrap());
    let mut server = server;
    server.terminate();

    let ran = verify(
        &env,
        &[
            "--checkpoint",
            before_path.to_str().unwrap(),
            "--checkpoint",
            after_path.to_str().unwrap(),
        ],
    );
    assert_eq!(ran.code, 0, "{}", ran.out);
    assert!(ran.out.contains("events up to seq 80 are archived"), "{}", ran.out);
    assert_eq!(ran.out.matches("same head and root").count(), 2, "{}", ran.out);

    // A checkpoint signed by a key the log never announced proves
    // nothing, either way: said, not failed.
    let early = PublishedCheckpoint::sign(
        40,
        before.root,
        before.head,
        &chrono::Utc::now(),
        &ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
    );
    let early_path = write(kept.path(), "stranger.json", &serde_json::to_value(&early).unwrap());
    let ran = verify(&env, &["--checkpoint", early_path.to_str().unwrap()]);
    assert_eq!(ran.code, 2, "{}", ran.out);
    assert!(ran.out.contains("which is not a key you trust"), "{}", ran.out);
}
