//! NATS stops during appends: appends go on, the read models tail the log,
//! and when NATS returns the stream catches up in order, with no gap and
//! no duplicate.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use tokio::sync::watch;
use warden_tests::process::{NatsServer, NodeEnv, Server, TOKEN, append_load};
use warden_tests::{TestDatabase, assert_stream_complete};

async fn head(database: &TestDatabase) -> u64 {
    let store = database.store().await;
    warden_core::ledger::LedgerStore::head(store.as_ref())
        .await
        .unwrap()
        .seq
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appends_survive_a_nats_outage_and_the_stream_catches_up() {
    let database = TestDatabase::create().await;
    let mut nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let env = NodeEnv::production(dir.path(), &database.url, &nats.url(), "outage");
    let server = Server::start(&env, "node").await;
    let (stop, stopped) = watch::channel(false);
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            tokio::spawn(append_load(
                server.url.clone(),
                TOKEN.into(),
                format!("w{i}"),
                stopped.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(800)).await;
    nats.stop();
    let at_outage = head(&database).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during_outage = head(&database).await;
    let readiness = reqwest::get(format!("{}/readyz", server.url)).await.unwrap();
    assert_eq!(readiness.status(), 503);
    let checks: serde_json::Value = readiness.json().await.unwrap();
    assert_eq!(checks["checks"]["bus"]["ok"], false, "{checks}");
    assert_eq!(checks["checks"]["ledger"]["ok"], true, "{checks}");
    assert!(
        during_outage > at_outage + 20,
        "appends stalled without NATS: {at_outage} -> {during_outage}"
    );
    nats.restart().await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.send_replace(true);
    let mut acknowledged = 0;
    for task in tasks {
        acknowledged += task.await.unwrap().len();
    }
    assert!(acknowledged > 0);

    let final_head = head(&database).await;
    assert_stream_complete(&nats.url(), "outage", final_head, || server.log()).await;
    server.wait_ready(Duration::from_secs(30)).await;
}
