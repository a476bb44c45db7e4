//! API keys' accountability through a real `warden serve`: usage events
//! that add up to the requests the client made, the usage API, a secret
//! that appears nowhere in clear, and refusals that tell no key ids apart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use warden_core::auth::api_key::format::KeyText;
use warden_tests::audit::{signed_in, two_orgs};
use warden_tests::keys::{application, code, create, verify_from};
use warden_tests::process::Server;
use warden_tests::web::{assert_refused, events};

/// Uses recorded per key and minute add up to what the client counted;
/// the key's text is nowhere in clear: log, data directory, server log,
/// metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_adds_up_and_the_secret_is_nowhere() {
    let mut instance = two_orgs(&[]).await;
    let mut owner = signed_in(&instance.server, "owner@acme.test").await;
    let mut app = application(&instance.server);
    let (id, text) = create(
        &mut owner,
        json!({ "kind": "app", "name": "billing", "scopes": ["invoices:read"], "limits": [{ "name": "per_day", "limit": 20, "window_seconds": 86400 }] }),
    )
    .await;
    let mut counted: BTreeMap<String, u64> = BTreeMap::new();
    for i in 0..40 {
        let scopes: &[&str] = if i % 4 == 3 {
            &["refunds:write"]
        } else {
            &["invoices:read"]
        };
        *counted.entry(code(&mut app, &text, scopes).await).or_default() += 1;
    }
    assert_eq!(counted.get("rate_limited"), Some(&10), "{counted:?}");
    let metrics = reqwest::get(format!("{}/metrics", instance.server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // A graceful stop records the minute under way.
    assert!(instance.server.terminate().success());
    let log = instance.server.log();
    let all = events(&instance);
    let mut recorded: BTreeMap<String, u64> = BTreeMap::new();
    for event in all.iter().filter(|event| event["kind"] == "api_key.used") {
        assert_eq!(event["data"]["key"], id.as_str());
        for (outcome, n) in event["data"]["counts"].as_object().unwrap() {
            *recorded.entry(outcome.clone()).or_default() += n.as_u64().unwrap();
        }
    }
    assert_eq!(recorded, counted, "every answer is counted once");
    let refusals = all.iter().filter(|event| event["kind"] == "api_key.refused").count();
    assert!(refusals >= 1, "a scope refusal is an event of its own");
    let secret = &text[24..67];
    let exported = serde_json::to_string(&all).unwrap();
    assert!(!exported.contains(secret), "the log holds no secret");
    assert!(!log.contains(secret), "the server log holds no secret");
    assert!(!metrics.contains(secret), "the metrics hold no secret");
    for path in walk(&instance.env.data_dir) {
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|window| window == secret.as_bytes()),
            "{} holds the secret",
            path.display()
        );
    }
    // The key's usage, as the API tells it after a restart.
    instance.server = Server::start(&instance.env, "again").await;
    let mut owner = signed_in(&instance.server, "owner@acme.test").await;
    let usage = owner.get(&format!("/api/v1/keys/{id}/usage")).await;
    assert_eq!(usage.status, 200, "{:?}", usage.body);
    for (outcome, n) in &counted {
        assert_eq!(usage.body["last_day"][outcome], *n, "{outcome}");
        assert_eq!(usage.body["last_hour"][outcome], *n, "{outcome}");
    }
    let hourly: u64 = usage.body["hourly"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(hourly, 40);
    assert_eq!(usage.body["top_addresses"][0]["address"], "127.0.0.1");
    assert!(usage.body["last_used"].is_string());
    let mut globex = signed_in(&instance.server, "owner@globex.test").await;
    assert_refused(&globex.get(&format!("/api/v1/keys/{id}/usage")).await, 404, "not_found");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// A malformed key, an unknown one and a known id with a wrong secret get
/// the same answer in comparable time: the answer tells nothing of which
/// ids exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_unknown_and_wrong_keys_look_alike() {
    let instance = two_orgs(&[]).await;
    let mut owner = signed_in(&instance.server, "owner@acme.test").await;
    let (_, known) = create(&mut owner, json!({ "kind": "app", "name": "billing" })).await;
    let mut app = application(&instance.server);
    let wrong = || {
        // The known id with another secret (its checksum right).
        let other = KeyText::generate_for(&known[8..24]);
        other.expose().to_string()
    };
    type Maker<'a> = Box<dyn Fn() -> String + 'a>;
    let kinds: [(&str, Maker); 3] = [
        ("malformed", Box::new(|| format!("wk_live_{}", "x".repeat(65)))),
        ("unknown", Box::new(|| KeyText::generate().expose().to_string())),
        ("wrong secret", Box::new(wrong)),
    ];
    let mut timings: Vec<Vec<Duration>> = vec![Vec::new(); kinds.len()];
    let mut answers: Vec<Value> = Vec::new();
    for _ in 0..60 {
        for (i, (_, text)) in kinds.iter().enumerate() {
            let text = text();
            let began = std::time::Instant::now();
            let answer = app.post("/api/v1/keys/verify", json!({ "key": text })).await;
            timings[i].push(began.elapsed());
            answers.push(answer.body);
        }
    }
    assert!(
        answers
            .iter()
            .all(|answer| *answer == json!({ "valid": false, "code": "not_found" }))
    );
    let medians: Vec<Duration> = timings
        .iter_mut()
        .map(|times| {
            times.sort();
            times[times.len() / 2]
        })
        .collect();
    for (i, (name, _)) in kinds.iter().enumerate() {
        assert!(
            medians[i] < medians[0] * 2 && medians[0] < medians[i] * 2,
            "{name} {:?} vs malformed {:?}",
            medians[i],
            medians[0]
        );
    }
}

/// A key used from a network it was not used from before: its minute's
/// `api_key.used` names the network, and the template fires on it; the
/// key's first network and a second address of a known one are no news.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_used_from_a_new_network_fires_its_template() {
    let mut instance = two_orgs(&[("WARDEN_TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let mut owner = signed_in(&instance.server, "owner@acme.test").await;
    let templates = owner.get("/api/v1/alert-templates").await;
    let template = templates.body["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|template| template["template"] == "api_key_used_from_new_network")
        .unwrap()
        .clone();
    let rule = owner.post("/api/v1/alert-rules", template["rule"].clone()).await;
    assert_eq!(rule.status, 201, "{:?}", rule.body);
    let rule = rule.body["id"].as_str().unwrap().to_string();
    let (id, text) = create(&mut owner, json!({ "kind": "app", "name": "billing" })).await;

    use_from(&mut instance, &text, &["10.1.1.1"]).await;
    use_from(
        &mut instance,
        &text,
        &["10.1.1.2", "192.0.2.9", "2001:db8:5::1", "192.0.2.10"],
    )
    .await;
    use_from(&mut instance, &text, &["192.0.2.11"]).await;

    let used: Vec<Value> = events(&instance)
        .into_iter()
        .filter(|event| event["kind"] == "api_key.used" && event["data"]["key"] == id.as_str())
        .collect();
    assert_eq!(used.len(), 3, "{used:?}");
    assert!(used[0]["data"].get("new_networks").is_none(), "a first use is no news");
    assert_eq!(
        used[1]["data"]["new_networks"],
        json!(["192.0.2.0/24", "2001:db8:5::/64"])
    );
    assert!(used[2]["data"].get("new_networks").is_none(), "known by now");

    let mut owner = signed_in(&instance.server, "owner@acme.test").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let alerts = owner.get("/api/v1/alerts").await;
        let fired: Vec<&Value> = alerts.body["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|alert| alert["rule"] == rule.as_str())
            .collect();
        if !fired.is_empty() {
            assert_eq!(fired.len(), 1, "{fired:?}");
            assert_eq!(fired[0]["seqs"], json!([used[1]["seq"]]));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the template did not fire");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// Uses `key` from each address (an `X-Forwarded-For` of a trusted
/// proxy), then stops the server, which records the minute under way, and
/// starts it again.
async fn use_from(instance: &mut warden_tests::web::Instance, key: &str, addresses: &[&str]) {
    let mut app = application(&instance.server);
    for address in addresses {
        assert_eq!(
            verify_from(&mut app, key, &[], Some(address)).await.body["code"],
            "valid"
        );
    }
    assert!(instance.server.terminate().success());
    instance.server = Server::start(&instance.env, "again").await;
}
