//! The single sign-on benchmark of issue 22: what Warden spends on the
//! provider's way back (`GET /sso/callback`: the state, the code's
//! exchange at the provider, the ID token's signature and claims, the
//! account, the session), against a real `warden serve` (embedded
//! profile) and the real OpenID Provider peer on this machine.
//!
//! Callbacks are made ahead (each browser goes through the provider's
//! login and stops before Warden's callback), in batches the provider's
//! codes outlive (one minute), then fired at Warden: one at a time for
//! the latency, and from 32 connections at once for the throughput.
//! Warden's CPU is read from `/proc/<pid>/stat` around each firing, so the
//! provider's own work (another process) is not counted; the time a
//! callback waits for the provider's token endpoint is in its latency.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use tokio::sync::Mutex;
use warden_tests::oidc::{Browser, OidcProvider, user};

use crate::audit::percentile;
use crate::sessions::Node;

/// People at the provider: the first firings create their accounts (just
/// in time), the next ones sign them in again (linked).
const PEOPLE: usize = 180;
/// Callbacks per batch: made and fired within the codes' minute, and
/// fewer than the flows one network may hold open (100).
const BATCH: usize = 90;
/// Concurrent connections of the throughput firing.
const CONNECTIONS: usize = 32;

/// A callback made ahead: its address and the browser's flow cookie.
struct Callback {
    url: String,
    cookie: String,
}

/// CPU seconds (user + system) the process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command's closing parenthesis: utime and stime are
    // the 12th and 13th.
    let after = stat.rsplit_once(')').unwrap().1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // Linux reports in USER_HZ, 100 per second.
    ticks / 100.0
}

async fn make(url: &str, connection: &str, issuer: &str, people: std::ops::Range<usize>) -> Vec<Callback> {
    let mut made = Vec::new();
    for n in people {
        let mut browser = Browser::new();
        let start = browser.get(&format!("{url}/sso/start?connection={connection}")).await;
        let callback = browser.through_provider(start, issuer, &format!("p{n}")).await;
        let cookie = browser.cookie(url, "warden_sso").unwrap();
        made.push(Callback { url: callback, cookie });
    }
    made
}

/// Fires `callbacks` from `connections` connections at once: each one's
/// latency in milliseconds, the wall time, and Warden's CPU seconds.
async fn fire(pid: u32, callbacks: Vec<Callback>, connections: usize) -> (Vec<f64>, f64, f64) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap();
    let queue = Arc::new(Mutex::new(callbacks));
    let cpu = cpu_seconds(pid);
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let queue = queue.clone();
            let http = http.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let Some(callback) = queue.lock().await.pop() else {
                        break;
                    };
                    let sent = Instant::now();
                    let answer = http
                        .get(&callback.url)
                        .header("cookie", format!("warden_sso={}", callback.cookie))
                        .send()
                        .await
                        .unwrap();
                    latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                    assert_eq!(answer.status(), 303, "{:?}", answer.text().await);
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.unwrap());
    }
    let wall = started.elapsed().as_secs_f64();
    (latencies, wall, cpu_seconds(pid) - cpu)
}

/// Makes and fires a batch for each range of people: all the latencies,
/// and the firings' wall time and Warden's CPU, summed.
async fn phase(
    node: (&str, u32),
    (connection, issuer): (&str, &str),
    batches: &[std::ops::Range<usize>],
    connections: usize,
) -> (Vec<f64>, f64, f64) {
    let (url, pid) = node;
    let mut all = (Vec::new(), 0.0, 0.0);
    for people in batches {
        let made = make(url, connection, issuer, people.clone()).await;
        let (latencies, wall, cpu) = fire(pid, made, connections).await;
        all.0.extend(latencies);
        all.1 += wall;
        all.2 += cpu;
    }
    all
}

fn row(what: &str, connections: usize, (mut latencies, wall, cpu): (Vec<f64>, f64, f64)) {
    let count = latencies.len() as f64;
    println!(
        "| {what} | {connections} | {} | {:.1} | {:.1} | {:.0} | {:.2} |",
        latencies.len(),
        percentile(&mut latencies, 0.5),
        percentile(&mut latencies, 0.99),
        count / wall,
        cpu * 1000.0 / count,
    );
}

pub async fn run(warden: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_with(warden, dir.path(), &[("WARDEN_SSO_INSECURE_ISSUERS", "true")]).await;
    let pid = node.child.id();
    let people: Vec<(String, Value)> = (0..PEOPLE)
        .map(|n| user(&format!("p{n}"), &format!("p{n}@bench.test"), true, &[], &["pwd"]))
        .collect();
    let provider = OidcProvider::start(&format!("{}/sso/callback", node.url), &people);
    let (cookie, owner) = node.set_up().await;
    let csrf = owner["csrf_token"].as_str().unwrap_or_default().to_string();
    let http = reqwest::Client::new();
    let post = |path: String, body: Value| {
        http.post(format!("{}{path}", node.url))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&body)
            .send()
    };
    let created = post(
        "/api/v1/sso/connections".into(),
        provider.connection("Bench IdP", &["bench.test"]),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    for step in ["domains/bench.test/acknowledge", "enable"] {
        let answer = post(format!("/api/v1/sso/connections/{id}/{step}"), json!({}))
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{step}");
    }

    println!("## Single sign-on: the callback, at Warden\n");
    println!(
        "{PEOPLE} people at a local OpenID Provider (the `oidc-provider` peer); each callback exchanges its code at the provider, checks the ID token (RS256) and opens a session. Warden's CPU from /proc, the provider's not counted.\n"
    );
    println!("| callbacks | connections | count | p50 ms | p99 ms | callbacks/s | Warden CPU ms per callback |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let node_of = (node.url.as_str(), pid);
    let upstream = (id.as_str(), provider.issuer.as_str());
    let everyone = [0..BATCH, BATCH..PEOPLE];
    // First sign-ins: each creates its account (just in time).
    let first = phase(node_of, upstream, &everyone, CONNECTIONS).await;
    row("first sign-in (account created)", CONNECTIONS, first);
    // Returning people, one at a time, then 32 at once.
    let one = phase(node_of, upstream, &everyone[..1], 1).await;
    row("returning, one at a time", 1, one);
    let many = phase(
        node_of,
        upstream,
        &[everyone.clone(), everyone.clone()].concat(),
        CONNECTIONS,
    )
    .await;
    row("returning", CONNECTIONS, many);
    // What Warden spends doing nothing (its timers), to read the rows
    // above by: a firing of `n` callbacks over `t` seconds includes
    // `t` times this.
    let idle = cpu_seconds(pid);
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    println!(
        "\nWarden idle: {:.1} ms of CPU per second.",
        (cpu_seconds(pid) - idle) * 1000.0 / 5.0
    );
    let (rss, _) = node.rss_mib();
    println!("Warden's resident memory after: {rss:.0} MiB.");
    drop(provider);
    node.stop();
}
