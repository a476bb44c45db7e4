//! Two server processes appending at once to one PostgreSQL: `seq` stays
//! gapless, the chain is one valid line, every acknowledged event is
//! present, and exactly one node relays to NATS.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use tokio::sync::watch;
use warden_tests::process::{NodeEnv, Server, TOKEN, append_load};
use warden_tests::{Production, TestDatabase, assert_log_keeps, assert_stream_complete};

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
    // Both nodes share the database, the stream and the KMS master key.
    let production = Production::new().await;
    let env = &production.env;
    let (a, b) = tokio::join!(Server::start(env, "a"), Server::start(env, "b"));
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

    let store = production.database.store().await;
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

    assert_stream_complete(&production.stream.url, &production.stream.prefix, head, || {
        a.log() + &b.log()
    })
    .await;
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

/// The token of a printed setup link.
fn link_token(server: &Server) -> String {
    let link = server.setup_link().expect("no setup link printed");
    link.split("token=").nth(1).unwrap().to_string()
}

/// Nodes started together before setup print one link between them,
/// valid on every node; a restart prints the same one again. (Each node
/// used to issue its own, so the link printed first stopped working.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_started_before_setup_print_one_link_valid_on_every_node() {
    let database = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let env = NodeEnv {
        database_url: Some(database.url.clone()),
        ..NodeEnv::in_dir(dir.path())
    };
    let (a, mut b) = tokio::join!(Server::start(&env, "a"), Server::start(&env, "b"));
    let token = link_token(&a);
    assert_eq!(link_token(&b), token, "one live link per instance");
    b.terminate();
    let b = Server::start(&env, "b2").await;
    assert_eq!(link_token(&b), token, "a restart prints the live link again");
    // The link works on the node that did not issue it, once.
    let setup = |server: &Server| {
        let mut client = warden_tests::web::WebClient::new(server);
        let token = token.clone();
        async move {
            client
                .post(
                    "/api/v1/setup",
                    serde_json::json!({
                        "token": token,
                        "org_name": "Acme",
                        "org_slug": "acme",
                        "email": "owner@acme.test",
                        "display_name": "Olive Owner",
                        "password": warden_tests::web::OWNER_PASSWORD,
                    }),
                )
                .await
        }
    };
    let (on_a, on_b) = tokio::join!(setup(&a), setup(&b));
    let mut statuses = [on_a.status.as_u16(), on_b.status.as_u16()];
    statuses.sort_unstable();
    assert!(
        statuses == [201, 409],
        "exactly one setup succeeds: {statuses:?} {:?} {:?}",
        on_a.body,
        on_b.body
    );
}

/// During a NATS outage at most one node says it relays, and appends on
/// either node are answered with their read-your-writes wait met, before,
/// during and right after the outage: no append waits on the bus.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_nats_outage_leaves_one_leader_and_never_holds_appends() {
    let database = TestDatabase::create().await;
    let mut nats = warden_tests::process::NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let env = NodeEnv::production(dir.path(), &database.url, &nats.url(), "leaders");
    let (a, b) = tokio::join!(Server::start(&env, "a"), Server::start(&env, "b"));
    let (stop, stopped) = watch::channel(false);
    let writers: Vec<_> = [a.url.clone(), b.url.clone()]
        .into_iter()
        .enumerate()
        .map(|(i, url)| tokio::spawn(timed_appends(url, format!("w{i}"), stopped.clone())))
        .collect();
    let scrape = |phase: &'static str| {
        let (a, b) = (&a, &b);
        async move {
            let deadline = std::time::Instant::now() + Duration::from_millis(1500);
            while std::time::Instant::now() < deadline {
                let (on_a, on_b) = tokio::join!(leader(a), leader(b));
                assert!(!(on_a && on_b), "{phase}: both nodes report warden_relay_leader 1");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    scrape("before the outage").await;
    nats.stop();
    scrape("during the outage").await;
    nats.restart().await;
    scrape("after the outage").await;
    stop.send_replace(true);
    for writer in writers {
        let latencies = writer.await.unwrap();
        assert!(latencies.len() > 20, "{}", latencies.len());
        let slowest = latencies.iter().max().unwrap();
        // A stall on the bus (reconnecting, replaying) took 2 s before.
        assert!(
            *slowest < Duration::from_millis(1500),
            "an append took {slowest:?}\n{}",
            a.log() + &b.log()
        );
    }
}

/// Appends one event at a time until stopped; every one must be
/// acknowledged with the read models holding it. Returns each latency.
async fn timed_appends(url: String, tag: String, stop: watch::Receiver<bool>) -> Vec<Duration> {
    let client = reqwest::Client::new();
    let mut latencies = Vec::new();
    let mut n = 0u64;
    while !*stop.borrow() {
        n += 1;
        let began = std::time::Instant::now();
        let response = client
            .post(format!("{url}/api/v1/app-events"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({
                "kind": "app.load.recorded",
                "subject": format!("load:{tag}:{n}"),
                "data": { "n": n }
            }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(status, 201, "{body}");
        latencies.push(began.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    latencies
}
