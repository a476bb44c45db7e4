//! API keys across two `warden serve` processes on one PostgreSQL and one
//! NATS JetStream: a key revoked on one node is refused on the other
//! within a second, and a rate limit or a number of uses holds for the two
//! nodes together (they tell each other their counts every 100 ms).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use serde_json::json;
use warden_tests::Production;
use warden_tests::keys::{application, code, create};
use warden_tests::process::Server;
use warden_tests::web::{WebClient, set_up};

/// Until `app`'s node knows the key (its creation reached the node).
async fn known(app: &mut WebClient, key: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while code(app, key, &[]).await == "not_found" {
        assert!(Instant::now() < deadline, "the key never reached the other node");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revocations_reach_every_node_within_a_second_and_limits_hold_across_nodes() {
    let production = Production::new().await;
    let env = &production.env;
    let a = Server::start(env, "a").await;
    let mut owner = set_up(&a).await;
    let b = Server::start(env, "b").await;
    let (mut on_a, mut on_b) = (application(&a), application(&b));

    // Revoked on B, refused on A within a second, five times over.
    for round in 0..5 {
        let (id, key) = create(&mut owner, json!({ "kind": "app", "name": format!("k{round}") })).await;
        known(&mut on_b, &key).await;
        assert_eq!(code(&mut on_a, &key, &[]).await, "valid");
        let revoked = owner.on(&b).post(&format!("/api/v1/keys/{id}/revoke"), json!({})).await;
        assert_eq!(revoked.status, 200, "{:?}", revoked.body);
        let at = Instant::now();
        while code(&mut on_a, &key, &[]).await != "revoked" {
            assert!(
                at.elapsed() < Duration::from_secs(1),
                "round {round}: A still accepts a key revoked on B"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    // A limit of 100 a day: 60 taken on A, then B admits only 40.
    let (_, limited) = create(
        &mut owner,
        json!({ "kind": "app", "name": "limited", "limits": [{ "name": "per_day", "limit": 100, "window_seconds": 86400 }] }),
    )
    .await;
    known(&mut on_b, &limited).await;
    // The probe above was B's first use.
    for _ in 0..59 {
        assert_eq!(code(&mut on_a, &limited, &[]).await, "valid");
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut admitted_on_b = 0;
    for _ in 0..60 {
        if code(&mut on_b, &limited, &[]).await == "valid" {
            admitted_on_b += 1;
        }
    }
    assert_eq!(admitted_on_b, 40, "B counts A's 59 and its own probe");

    // Uses: 30 in all, spent on both nodes at once. Each node alone would
    // admit 30; together they stay near 30 (the tolerance: what the other
    // node admitted in its last 100 ms).
    let (_, counted) = create(
        &mut owner,
        json!({ "kind": "app", "name": "counted", "remaining_uses": 30 }),
    )
    .await;
    known(&mut on_b, &counted).await;
    let spend = |mut app: WebClient, key: String| async move {
        let mut valid = 0;
        for _ in 0..40 {
            if code(&mut app, &key, &[]).await == "valid" {
                valid += 1;
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        valid
    };
    let (from_a, from_b) = tokio::join!(
        spend(application(&a), counted.clone()),
        spend(application(&b), counted.clone())
    );
    let admitted = from_a + from_b + 1;
    assert!(
        (30..=34).contains(&admitted),
        "{admitted} uses admitted of 30 ({from_a} on A, {from_b} on B, 1 probe)"
    );
}
