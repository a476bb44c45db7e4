//! The API-key benchmarks of issue 17, against a real `warden serve`
//! (embedded profile) driven by `wrk` at 32 connections, in the same run as
//! an empty axum handler measured the same way (the ceiling):
//!
//! * `POST /api/v1/keys/verify` and forward authentication with a key,
//!   with 100,000 keys in the read model, without and with rate limits;
//! * server memory per key (RSS with the keys, replayed from the log at
//!   start, less RSS without them).

use std::path::Path;

use serde_json::json;
use warden_core::auth::api_key::format::{HashKey, KeyText};
use warden_core::commands::Context;
use warden_core::commands::api_key::{self, KeyCreated, KeyKind, Owner, RateLimit, SecretDigest, Settings};
use warden_core::keys::{DataKeys, Kms, LocalKms};
use warden_core::ledger::Ledger;
use warden_core::ledger::sqlite::SqliteStore;
use warden_core::{Actor, ActorKind};

use warden_core::ledger::postgres::PostgresStore;
use warden_tests::{TestDatabase, nats_url, unique};

use crate::sessions::{Node, empty_server, wrk_with};

const TOKEN: &str = "bench-token-0123456789abcdef0123456789abcdef";
const CONNECTIONS: u32 = 32;

pub async fn run(warden: &Path, seconds: u64, keys: u64) {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("app.token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let token_env = token_file.display().to_string();
    let env = [("WARDEN_APP_EVENTS_TOKEN_FILE", token_env.as_str())];
    let node = Node::start_with(warden, dir.path(), &env).await;
    let (_, owner) = node.set_up().await;
    node.stop();
    let org = owner["org"]["id"].as_str().unwrap().to_string();
    let user = owner["user"]["id"].as_str().unwrap().to_string();
    let node = Node::start_with(warden, dir.path(), &env).await;
    node.settle().await;
    let (without_keys, _) = node.rss_mib();
    node.stop();
    let (plain, limited) = add_keys(dir.path(), &user, &org, keys).await;
    let node = Node::start_with(warden, dir.path(), &env).await;
    node.settle().await;
    let (with_keys, peak) = node.rss_mib();

    let ceiling = wrk_with(&empty_server().await, &[], None, CONNECTIONS, seconds);
    let verify_url = format!("{}/api/v1/keys/verify", node.url);
    let forward_url = format!("{}/api/v1/auth/forward", node.url);
    let auth = format!("Authorization: Bearer {TOKEN}");
    let body = |key: &str| json!({ "key": key }).to_string();
    let rows = [
        (
            "`POST /api/v1/keys/verify`",
            wrk_with(&verify_url, &[&auth], Some(&body(&plain)), CONNECTIONS, seconds),
        ),
        (
            "`POST /api/v1/keys/verify`, two rate limits",
            wrk_with(&verify_url, &[&auth], Some(&body(&limited)), CONNECTIONS, seconds),
        ),
        (
            "`GET /api/v1/auth/forward` with the key",
            wrk_with(
                &forward_url,
                &[&format!("Authorization: Bearer {plain}")],
                None,
                CONNECTIONS,
                seconds,
            ),
        ),
        (
            "`GET /api/v1/auth/forward`, two rate limits",
            wrk_with(
                &forward_url,
                &[&format!("Authorization: Bearer {limited}")],
                None,
                CONNECTIONS,
                seconds,
            ),
        ),
    ];
    println!(
        "## API-key verification ({keys} keys in the read model, {CONNECTIONS} connections, wrk sharing the 2 cores)\n"
    );
    println!("| endpoint | requests/s | of the ceiling | p50 ms | p99 ms |\n| --- | ---: | ---: | ---: | ---: |");
    println!(
        "| empty axum handler (ceiling) | {:.0} | 100 % | {:.2} | {:.2} |",
        ceiling.0, ceiling.1, ceiling.2
    );
    for (name, (rate, p50, p99)) in rows {
        println!(
            "| {name} | {rate:.0} | {:.0} % | {p50:.2} | {p99:.2} |",
            rate / ceiling.0 * 100.0
        );
    }
    println!("\n## Memory\n");
    println!(
        "`warden serve` RSS: {without_keys:.0} MiB without keys, {with_keys:.0} MiB with {keys} (peak {peak:.0} MiB): \
         {:.0} bytes per key",
        (with_keys - without_keys) * 1024.0 * 1024.0 / keys as f64
    );
    // The requests above were counted: the node records them at its stop.
    node.stop();

    let (p50, p99, max) = propagation(warden, 100).await;
    println!("\n## Revocation across two nodes (PostgreSQL + NATS)\n");
    println!(
        "From the revocation's answer on node A to node B answering `revoked` (100 keys, B polled every millisecond): \
         p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms"
    );
}

/// Revokes keys on node A and measures until node B refuses each: p50,
/// p99 and max in milliseconds.
async fn propagation(warden: &Path, rounds: usize) -> (f64, f64, f64) {
    let database = TestDatabase::create().await;
    PostgresStore::migrate(&database.url).await.unwrap();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let token_file = dir_a.path().join("app.token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let token_file = token_file.display().to_string();
    let prefix = unique("bench_keys_");
    let nats = nats_url();
    let env = [
        ("DATABASE_URL", database.url.as_str()),
        ("NATS_URL", nats.as_str()),
        ("WARDEN_NATS_PREFIX", prefix.as_str()),
        ("WARDEN_APP_EVENTS_TOKEN_FILE", token_file.as_str()),
    ];
    let a = Node::start_with(warden, dir_a.path(), &env).await;
    // Both nodes open the same data keys: the same master key.
    std::fs::copy(dir_a.path().join("master.key"), dir_b.path().join("master.key")).unwrap();
    let b = Node::start_with(warden, dir_b.path(), &env).await;
    let (cookie, owner) = a.set_up().await;
    let csrf = owner["csrf_token"].as_str().unwrap_or_default().to_string();
    let http = reqwest::Client::new();
    let verify = |key: String| {
        let http = http.clone();
        let url = format!("{}/api/v1/keys/verify", b.url);
        async move {
            let answer: serde_json::Value = http
                .post(url)
                .bearer_auth(TOKEN)
                .json(&json!({ "key": key }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            answer["code"].as_str().unwrap_or_default().to_string()
        }
    };
    let mut took = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let created: serde_json::Value = http
            .post(format!("{}/api/v1/keys", a.url))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&json!({ "kind": "app", "name": format!("k{round}") }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let (id, key) = (
            created["id"].as_str().unwrap(),
            created["key"].as_str().unwrap().to_string(),
        );
        while verify(key.clone()).await != "valid" {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let revoked = http
            .post(format!("{}/api/v1/keys/{id}/revoke", a.url))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(revoked.status(), 200);
        let at = std::time::Instant::now();
        while verify(key.clone()).await != "revoked" {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        took.push(at.elapsed().as_secs_f64() * 1000.0);
    }
    a.stop();
    b.stop();
    took.sort_by(f64::total_cmp);
    let p = |q: f64| took[((took.len() as f64 * q) as usize).min(took.len() - 1)];
    (p(0.5), p(0.99), took[took.len() - 1])
}

/// Appends `count` app keys to the stopped node's log, as an owner would
/// create them; returns the text of one without limits and one with two.
async fn add_keys(dir: &Path, user: &str, org: &str, count: u64) -> (String, String) {
    let store = std::sync::Arc::new(SqliteStore::open(&dir.join("ledger.sqlite")).await.unwrap());
    let ledger = Ledger::new(store.clone());
    let kms: std::sync::Arc<dyn Kms> = std::sync::Arc::new(LocalKms::open(&dir.join("master.key"), false).unwrap());
    warden_core::keys::signing::establish(&ledger, &kms.clone().into())
        .await
        .unwrap();
    let data_keys = DataKeys::new(store, kms);
    let hash_key = HashKey::from_data_key(&data_keys.secret("secret:api-key-digest").await.unwrap());
    let mut actor = Actor::of_kind(ActorKind::User);
    actor.id = Some(user.to_string());
    actor.org = Some(org.to_string());
    let context = Context {
        actor,
        request_id: "bench".into(),
    };
    let created = |text: &KeyText, limits: Vec<RateLimit>| KeyCreated {
        key: text.id().to_string(),
        org: org.to_string(),
        kind: KeyKind::App,
        owner: Owner::Service { name: "bench".into() },
        settings: Settings {
            name: format!("key {}", text.id()),
            scopes: vec!["invoices:read".into(), "invoices:write".into()],
            expires_at: None,
            allowed_networks: Vec::new(),
            limits,
            remaining_uses: None,
            ticket_pattern: None,
        },
        secret: SecretDigest {
            digest: text.digest(&hash_key),
            hint: text.hint(),
        },
    };
    let plain = KeyText::generate();
    let limited = KeyText::generate();
    let limits = vec![
        RateLimit {
            name: "per_second".into(),
            limit: 1_000_000_000,
            window_seconds: 1,
        },
        RateLimit {
            name: "per_day".into(),
            limit: 1_000_000_000,
            window_seconds: 86_400,
        },
    ];
    ledger
        .append(vec![
            api_key::created(&context, &created(&plain, Vec::new())),
            api_key::created(&context, &created(&limited, limits)),
        ])
        .await
        .unwrap();
    let mut added = 2;
    while added < count {
        let batch: Vec<_> = (0..1000.min(count - added))
            .map(|_| api_key::created(&context, &created(&KeyText::generate(), Vec::new())))
            .collect();
        added += batch.len() as u64;
        ledger.append(batch).await.unwrap();
    }
    ledger.flush(std::time::Duration::from_secs(30)).await;
    (plain.expose().to_string(), limited.expose().to_string())
}
