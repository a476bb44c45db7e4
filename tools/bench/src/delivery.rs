//! The delivery suite: latency from commit to webhook received, with
//! 1,000 events/s of background load. A real server (embedded, or
//! PostgreSQL + NATS), a rule matching `app.bench.trigger` that sends to
//! a webhook receiver on this machine (which checks each signature), and
//! application events posted at a steady rate. Each trigger's latency is
//! the receiver's clock at arrival minus the triggering event's `at`
//! (stamped when it was appended): evaluation, the `alert.fired` append,
//! the deliveries model, the deliverer and the HTTP post, all included.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_core::event::timestamp;
use warden_core::ledger::postgres::PostgresStore;
use warden_tests::peers::WebhookReceiver;
use warden_tests::process::TOKEN;
use warden_tests::{TestDatabase, nats_url, unique};

use crate::sessions::Node;

const BACKGROUND_PER_SECOND: u64 = 1000;
const TRIGGERS_PER_SECOND: u64 = 10;

pub async fn run(warden: &Path, seconds: u64, backends: &[String]) {
    println!("## Alert delivery: commit to webhook received ({BACKGROUND_PER_SECOND} events/s in the background)\n");
    println!(
        "| profile | triggers | background events/s | p50 ms | p99 ms | max ms |\n| --- | ---: | ---: | ---: | ---: | ---: |"
    );
    for backend in backends {
        let profile = match backend.as_str() {
            "sqlite" => "embedded (SQLite)",
            "postgres" => "production (PostgreSQL + NATS)",
            _ => continue,
        };
        let row = measure(warden, seconds, backend == "postgres").await;
        println!(
            "| {profile} | {} | {:.0} | {:.1} | {:.1} | {:.1} |",
            row.triggers, row.background, row.p50, row.p99, row.max
        );
    }
}

struct Row {
    triggers: usize,
    background: f64,
    p50: f64,
    p99: f64,
    max: f64,
}

async fn measure(warden: &Path, seconds: u64, production: bool) -> Row {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("app-events.token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let token_file = token_file.display().to_string();
    let mut env: Vec<(String, String)> = vec![
        ("WARDEN_APP_EVENTS_TOKEN_FILE".into(), token_file),
        ("WARDEN_ALERT_WEBHOOK_PRIVATE_ADDRESSES".into(), "true".into()),
    ];
    let _database = if production {
        let database = TestDatabase::create().await;
        PostgresStore::migrate(&database.url).await.unwrap();
        env.push(("DATABASE_URL".into(), database.url.clone()));
        env.push(("NATS_URL".into(), nats_url()));
        env.push(("WARDEN_NATS_PREFIX".into(), unique("bench_delivery_")));
        Some(database)
    } else {
        None
    };
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let node = Node::start_with(warden, dir.path(), &env).await;
    let (cookie, owner) = node.set_up().await;
    let csrf = owner["csrf_token"].as_str().unwrap_or_default().to_string();
    let http = reqwest::Client::new();
    let api = |path: &str| format!("{}{path}", node.url);
    let org = json_of(http.get(api("/api/v1/org")).header("cookie", &cookie)).await;
    let org = org["id"].as_str().unwrap().to_string();

    let receiver = WebhookReceiver::start().await;
    let endpoint = json_of(
        http.post(api("/api/v1/webhook-endpoints"))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&json!({"url": receiver.url()})),
    )
    .await;
    receiver.set_secret(endpoint["secret"].as_str().unwrap());
    let rule = http
        .post(api("/api/v1/alert-rules"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "Bench trigger", "severity": "info",
                      "condition": {"type": "match", "select": {"kinds": ["app.bench.trigger"]}},
                      "recipients": [{"webhook": endpoint["id"]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(rule.status(), 201);

    // The background: app events at a steady rate, each on its own task.
    let posted = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let post = {
        let http = http.clone();
        let url = api("/api/v1/app-events");
        let org = org.clone();
        move |kind: &'static str, n: u64| {
            let request = http
                .post(&url)
                .bearer_auth(TOKEN)
                .json(&json!({"kind": kind, "subject": format!("bench:{n}"), "data": {"org": org}}));
            async move { request.send().await.is_ok_and(|r| r.status() == 201) }
        }
    };
    let background = {
        let (post, posted, stop) = (post.clone(), posted.clone(), stop.clone());
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_micros(1_000_000 / BACKGROUND_PER_SECOND));
            let limit = Arc::new(tokio::sync::Semaphore::new(128));
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                ticks.tick().await;
                n += 1;
                let (post, posted) = (post.clone(), posted.clone());
                let permit = limit.clone().acquire_owned().await.unwrap();
                tokio::spawn(async move {
                    if post("app.bench.noise", n).await {
                        posted.fetch_add(1, Ordering::Relaxed);
                    }
                    drop(permit);
                });
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await; // steady state first
    let started = Instant::now();
    let before = posted.load(Ordering::Relaxed);
    let triggers = (seconds * TRIGGERS_PER_SECOND) as usize;
    let mut ticks = tokio::time::interval(Duration::from_millis(1000 / TRIGGERS_PER_SECOND));
    for n in 0..triggers {
        ticks.tick().await;
        assert!(post("app.bench.trigger", n as u64).await, "trigger refused");
    }
    let background_rate = (posted.load(Ordering::Relaxed) - before) as f64 / started.elapsed().as_secs_f64();
    let received = receiver.wait_for(triggers).await;
    stop.store(true, Ordering::Relaxed);
    let _ = background.await;
    node.stop();
    assert_eq!(received.len(), triggers, "every trigger's alert arrives");
    assert!(received.iter().all(|hook| hook.signature_valid));
    let mut latencies: Vec<f64> = received
        .iter()
        .map(|hook| {
            let at = timestamp::parse(hook.body["data"]["events"][0]["event"]["at"].as_str().unwrap()).unwrap();
            (hook.received_at - at).num_microseconds().unwrap() as f64 / 1000.0
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let percentile = |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1];
    Row {
        triggers,
        background: background_rate,
        p50: percentile(0.50),
        p99: percentile(0.99),
        max: *latencies.last().unwrap(),
    }
}

/// The JSON answer to a request the bench cannot go on without.
async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}
