//! Two server processes appending at once to one PostgreSQL: `seq` stays
//! gapless, the chain is one valid line, every acknowledged event is
//! present, and exactly one node relays to NATS.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use tokio::sync::watch;
use warden_tests::process::{NodeEnv, Server, TOKEN, append_load};
use warden_tests::{TestDatabase, TestStream, assert_log_keeps, assert_stream_complete};

async fn leader(server: &Server) -> bool {
    let text = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines().any(|line| line == "warden_relay_leader 1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_many_writers_one_chain() {
    let database = TestDatabase::create().await;
    let stream = TestStream::new();
    let dir = tempfile::tempdir().unwrap();
    // Both nodes share the database, the stream and the KMS master key.
    let env = NodeEnv {
        database_url: Some(database.url.clone()),
        nats_url: Some(stream.url.clone()),
        nats_prefix: Some(stream.prefix.clone()),
        ..NodeEnv::in_dir(dir.path())
    };
    let (a, b) = tokio::join!(Server::start(&env, "a"), Server::start(&env, "b"));
    let (stop, stopped) = watch::channel(false);
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let url = if i % 2 == 0 { a.url.clone() } else { b.url.clone() };
            tokio::spawn(append_load(url, TOKEN.to_string(), format!("w{i}"), stopped.clone()))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.send_replace(true);
    let mut acknowledged = Vec::new();
    for task in tasks {
        acknowledged.extend(task.await.unwrap());
    }
    assert!(acknowledged.len() > 200, "{}", acknowledged.len());

    let store = database.store().await;
    let log = warden_core::ledger::LedgerStore::read(store.as_ref(), 1, 10_000_000)
        .await
        .unwrap();
    let head = log.len() as u64;
    assert_log_keeps(&acknowledged, &log);
    let verified = env.run(&["verify"]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );

    assert_stream_complete(&stream.url, &stream.prefix, head, || a.log() + &b.log()).await;
    assert_ne!(leader(&a).await, leader(&b).await, "exactly one node relays");
}

/// `warden keys rotate` on one host: every running node signs with the new
/// key within a second, and the chain verifies across the rotation.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotated_key_reaches_every_node() {
    let database = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let env = NodeEnv {
        database_url: Some(database.url.clone()),
        ..NodeEnv::in_dir(dir.path())
    };
    let (a, b) = tokio::join!(Server::start(&env, "a"), Server::start(&env, "b"));
    let rotated = env.run(&["keys", "rotate"]);
    assert!(rotated.status.success(), "{}", String::from_utf8_lossy(&rotated.stderr));
    let new_key = String::from_utf8_lossy(&rotated.stdout)
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string();
    assert!(new_key.starts_with("ed25519-"), "{new_key}");

    let store = database.store().await;
    for server in [&a, &b] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let created: serde_json::Value = server
                .post_app_event(&serde_json::json!({"kind": "app.thing.done", "subject": "thing:1"}))
                .await
                .json()
                .await
                .unwrap();
            let seq = created["seq"].as_u64().unwrap();
            let event = warden_core::ledger::LedgerStore::read(store.as_ref(), seq, 1)
                .await
                .unwrap()
                .remove(0);
            if event.key_id == new_key {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} still signs with {}",
                server.url,
                event.key_id
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let keys = b.get_json("/.well-known/warden-audit-keys").await;
    assert_eq!(keys["current"], new_key.as_str());
    assert_eq!(keys["keys"].as_array().unwrap().len(), 2);
    let verified = env.run(&["verify"]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
}
