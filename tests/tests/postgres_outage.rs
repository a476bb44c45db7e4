//! PostgreSQL goes away under a node and comes back: once the ledger is
//! known down, appends are refused at once with `Retry-After` instead of
//! each waiting for the pool's timeouts, `/readyz` says why, and the node
//! recovers by itself; nothing acknowledged is lost.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use warden_tests::process::{NodeEnv, Server};
use warden_tests::tcp_cut::TcpCut;
use warden_tests::{TestDatabase, acknowledged, append_app_event, assert_log_keeps};

/// Appends event `n`.
async fn append(client: &reqwest::Client, server: &Server, n: u64) -> reqwest::Response {
    append_app_event(
        client,
        server,
        ("app.outage.tested", "outage"),
        n,
        serde_json::json!({}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appends_fail_fast_while_postgres_is_down_and_recover_by_themselves() {
    let database = TestDatabase::create().await;
    let mut url = url::Url::parse(&database.url).unwrap();
    let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let cut = TcpCut::start(tokio::net::lookup_host(target).await.unwrap().next().unwrap()).await;
    url.set_port(Some(cut.port)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env = NodeEnv {
        database_url: Some(url.to_string()),
        ..NodeEnv::in_dir(dir.path())
    };
    let server = Server::start(&env, "node").await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut kept = Vec::new();
    for n in 0..5 {
        kept.push(acknowledged(append(&client, &server, n).await).await);
    }

    cut.cut();
    // The first append finds out (it may wait for the pool's timeout).
    let first = append(&client, &server, 100).await;
    assert_eq!(first.status(), 503);
    // From then on every append is refused at once, saying when to retry.
    for n in 101..111 {
        let began = Instant::now();
        let refused = append(&client, &server, n).await;
        let took = began.elapsed();
        assert_eq!(refused.status(), 503);
        let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=5).contains(&retry_after), "Retry-After {retry_after}");
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unavailable");
        assert!(body["error"]["request_id"].is_string());
        // Before, each waited for the pool's 10 s acquire timeout.
        assert!(took < Duration::from_secs(3), "append {n} took {took:?}");
    }
    let readiness = client.get(format!("{}/readyz", server.url)).send().await.unwrap();
    assert_eq!(readiness.status(), 503);
    let checks: serde_json::Value = readiness.json().await.unwrap();
    assert_eq!(checks["checks"]["ledger"]["ok"], false, "{checks}");
    assert!(checks["checks"]["ledger"]["error"].is_string(), "{checks}");

    cut.restore().await;
    // It comes back by itself: retries succeed within a few seconds.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut n = 200;
    loop {
        n += 1;
        let response = append(&client, &server, n).await;
        if response.status() == 201 {
            kept.push(acknowledged(response).await);
            break;
        }
        assert!(Instant::now() < deadline, "appends did not recover\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // And then every append succeeds.
    for n in 300..320 {
        kept.push(acknowledged(append(&client, &server, n).await).await);
    }
    let ready = client.get(format!("{}/readyz", server.url)).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    let store = database.store().await;
    let log = warden_core::ledger::LedgerStore::read(store.as_ref(), 1, 1_000_000)
        .await
        .unwrap();
    assert_log_keeps(&kept, &log);
}
