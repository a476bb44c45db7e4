//! The vault benchmarks of issue 19, against a real `warden serve`
//! (embedded profile) driven by `wrk`, beside a session check measured the
//! same way (the target: a cached read costs no more than one):
//!
//! * `GET /api/v1/secrets/{name}` by a service key: repeats within the
//!   access cache (counted), every read an event (`vault_access_cache_seconds
//!   = 0`), and every read an event with no data-key cache either
//!   (`kms_data_key_cache_seconds = 0`: each opens the data key with the
//!   KMS), on the local KMS and on AWS KMS (moto, on this machine);
//! * data-key opens per second in process (local KMS), with and without
//!   the cache.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use warden_core::keys::{DataKeys, Kms, LocalKms};
use warden_core::ledger::sqlite::SqliteStore;
use warden_tests::kms::Moto;

use crate::sessions::{Node, wrk_with};

const CONNECTIONS: u32 = 32;

pub async fn run(warden: &Path, seconds: u64) {
    let moto = Moto::start().await;
    let arn = moto.create_key("alias/warden-bench").await;
    let aws_env: Vec<(String, String)> = moto.env(&arn);

    println!("## Vault reads ({CONNECTIONS} connections, wrk sharing the 2 cores)\n");
    println!("| KMS | read | requests/s | p50 ms | p99 ms |\n| --- | --- | ---: | ---: | ---: |");
    for (kms, env) in [("local", Vec::new()), ("AWS (moto)", aws_env)] {
        for (read, extra) in [
            ("session check (`GET /api/v1/session`)", None),
            ("cached: a repeat within the access cache", Some(vec![])),
            (
                "uncached: every read a `secret.accessed`",
                Some(vec![("WARDEN_VAULT_ACCESS_CACHE_SECONDS", "0")]),
            ),
            (
                "uncached, and the data key unwrapped by the KMS each time",
                Some(vec![
                    ("WARDEN_VAULT_ACCESS_CACHE_SECONDS", "0"),
                    ("WARDEN_KMS_DATA_KEY_CACHE_SECONDS", "0"),
                ]),
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let mut vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            vars.extend(extra.clone().unwrap_or_default());
            let node = Node::start_with(warden, dir.path(), &vars).await;
            let (cookie, owner) = node.set_up().await;
            let csrf = owner["csrf_token"].as_str().unwrap().to_string();
            let key = reader_key(&node, &cookie, &csrf).await;
            node.settle().await;
            let (rate, p50, p99) = match extra {
                None => wrk_with(
                    &format!("{}/api/v1/session", node.url),
                    &[&format!("Cookie: {cookie}")],
                    None,
                    CONNECTIONS,
                    seconds,
                ),
                Some(_) => wrk_with(
                    &format!("{}/api/v1/secrets/bench.db-password?reason=bench", node.url),
                    &[&format!("Authorization: Bearer {key}")],
                    None,
                    CONNECTIONS,
                    seconds,
                ),
            };
            println!("| {kms} | {read} | {rate:.0} | {p50:.2} | {p99:.2} |");
            node.stop();
        }
    }

    // The KMS's own cost shows in the last row of each: every read then
    // unwraps its data key. In process, the local KMS alone (the AWS SDK
    // takes its credentials from this process's environment, which the
    // bench does not touch).
    println!("\n## Data-key opens in process (one task, local KMS)\n");
    println!("| cache | opens/s |\n| --- | ---: |");
    let dir = tempfile::tempdir().unwrap();
    let local: Arc<dyn Kms> = Arc::new(LocalKms::open(&dir.path().join("master.key"), true).unwrap());
    let store = Arc::new(SqliteStore::open(&dir.path().join("ledger.sqlite")).await.unwrap());
    let keys = DataKeys::new(store, local);
    let sealed = keys.seal("vault_secret:bench/x", &"value".to_string()).await.unwrap();
    for (cache, keys) in [
        ("yes (300 s)", keys.clone()),
        ("none", keys.clone().with_cache(std::time::Duration::ZERO, 0)),
    ] {
        let started = Instant::now();
        let mut opens = 0u64;
        while started.elapsed().as_secs_f64() < 2.0 {
            let _: String = keys.open(&sealed).await.unwrap();
            opens += 1;
        }
        println!("| {cache} | {:.0} |", opens as f64 / started.elapsed().as_secs_f64());
    }
    drop(moto);
}

/// A service key with `secrets:read`, named as the reader of a secret
/// `bench.db-password`: its text.
async fn reader_key(node: &Node, cookie: &str, csrf: &str) -> String {
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        client
            .post(format!("{}{path}", node.url))
            .header("cookie", cookie)
            .header("x-csrf-token", csrf)
            .header("origin", &node.url)
            .json(&body)
            .send()
    };
    let created: Value = post(
        "/api/v1/keys",
        json!({"kind": "service", "name": "bench", "owner": {"kind": "service", "name": "bench"},
               "scopes": ["secrets:read"]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let id = created["id"].as_str().unwrap_or_else(|| panic!("{created}"));
    let secret = post(
        "/api/v1/secrets",
        json!({"name": "bench.db-password", "value": "a database password of 32 chars",
               "readers": {"roles": ["owner"], "keys": [id]}}),
    )
    .await
    .unwrap();
    assert_eq!(secret.status(), 201);
    created["key"].as_str().unwrap().to_string()
}
