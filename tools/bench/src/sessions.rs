//! The session benchmarks of issue 3, against a real `warden serve`
//! (embedded profile, default Argon2id parameters) driven by `wrk`:
//!
//! * `GET /api/v1/session` with a valid cookie at 64 connections, beside an
//!   empty axum handler measured the same way in the same run (the ceiling);
//! * sign-in throughput and latency with the pool saturated, and the
//!   session-check latency meanwhile;
//! * server memory with 100,000 live sessions.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_core::auth::device::Device;
use warden_core::auth::tokens::{Token, TokenKind};
use warden_core::commands::Context;
use warden_core::commands::session::{self, Assurance, Level, SessionCreated};
use warden_core::keys::{Kms, LocalKms};
use warden_core::ledger::Ledger;
use warden_core::ledger::sqlite::SqliteStore;
use warden_core::{Actor, ActorKind};

const PASSWORD: &str = "correct horse battery staple 9";

pub(crate) struct Node {
    pub(crate) child: Child,
    pub(crate) url: String,
    dir: PathBuf,
}

impl Node {
    async fn start(warden: &Path, dir: &Path) -> Node {
        Self::start_with(warden, dir, &[]).await
    }

    /// A `warden serve` in `dir`, with more environment variables.
    pub(crate) async fn start_with(warden: &Path, dir: &Path, env: &[(&str, &str)]) -> Node {
        let log_path = dir.join("serve.log");
        let out_path = dir.join("serve.out");
        let mut command = Command::new(warden);
        command.envs(env.iter().copied());
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("WARDEN_DATA_DIR", dir)
            .env("WARDEN_LOG", "warn,warden_api=info")
            .env("NO_COLOR", "1")
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .unwrap();
        let url = loop {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            if let Some(rest) = log.split("listening on http://").nth(1) {
                break format!("http://{}", rest.split_whitespace().next().unwrap());
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("warden exited {status}: {log}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let client = reqwest::Client::new();
        while !client
            .get(format!("{url}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Node {
            child,
            url,
            dir: dir.to_path_buf(),
        }
    }

    pub(crate) fn rss_mib(&self) -> (f64, f64) {
        rss_mib(self.child.id())
    }

    /// Waits until the node is idle (under 3 % of a core over a second,
    /// at most two minutes): after a start it rebuilds its read models and
    /// catches its audit index up, which would eat into what is measured.
    pub(crate) async fn settle(&self) {
        let cpu_ticks = || -> u64 {
            let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
            // After the command's closing parenthesis: utime and stime
            // are the 12th and 13th fields.
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map_or("", |(_, rest)| rest)
                .split_whitespace()
                .collect();
            let field = |i: usize| fields.get(i).and_then(|text| text.parse::<u64>().ok()).unwrap_or(0);
            field(11) + field(12)
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        let mut before = cpu_ticks();
        while std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = cpu_ticks();
            // Clock ticks are hundredths of a second: 3 ticks in a second
            // is 3 % of a core.
            if now.saturating_sub(before) <= 3 {
                return;
            }
            before = now;
        }
    }

    pub(crate) fn stop(mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }

    /// Completes setup; returns the cookie header value and the answer.
    pub(crate) async fn set_up(&self) -> (String, Value) {
        let out = std::fs::read_to_string(self.dir.join("serve.out")).unwrap();
        let token = out.split("token=").nth(1).unwrap().split_whitespace().next().unwrap();
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/setup", self.url))
            .json(
                &json!({"token": token, "org_name": "Bench", "org_slug": "bench", "email": "owner@bench.test",
                          "display_name": "Owner", "password": PASSWORD}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let cookie = cookie_of(&response);
        (cookie, response.json().await.unwrap())
    }
}

pub(crate) fn cookie_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|line| line.starts_with("warden_session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// One `wrk` run: requests/s, p50 and p99 in milliseconds.
fn wrk(url: &str, cookie: Option<&str>, connections: u32, seconds: u64) -> (f64, f64, f64) {
    let cookie = cookie.map(|cookie| format!("Cookie: {cookie}"));
    let headers: Vec<&str> = cookie.iter().map(String::as_str).collect();
    wrk_with(url, &headers, None, connections, seconds)
}

/// One `wrk` run with these header lines, and a JSON body to POST when
/// given (through a Lua script: wrk's command line has no option for a
/// body): requests/s, p50 and p99 in milliseconds.
pub(crate) fn wrk_with(
    url: &str,
    headers: &[&str],
    post: Option<&str>,
    connections: u32,
    seconds: u64,
) -> (f64, f64, f64) {
    let mut command = Command::new("wrk");
    command.args([
        "-t2",
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--latency",
    ]);
    for header in headers {
        command.args(["-H", header]);
    }
    let script = tempfile::NamedTempFile::new().unwrap();
    if let Some(body) = post {
        let escaped = body.replace('\\', "\\\\").replace('\'', "\\'");
        std::fs::write(
            script.path(),
            format!(
                "wrk.method = \"POST\"\nwrk.body = '{escaped}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
            ),
        )
        .unwrap();
        command.arg("-s").arg(script.path());
    }
    let output = command
        .arg(url)
        .stderr(Stdio::inherit())
        .output()
        .expect("wrk (apt install wrk)");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!text.contains("Non-2xx"), "wrk saw errors:\n{text}");
    let rate = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("Requests/sec:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(f64::NAN);
    let percentile = |p: &str| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(p))
            .map(|value| millis(value.trim()))
            .unwrap_or(f64::NAN)
    };
    (rate, percentile("50% "), percentile("99% "))
}

fn millis(text: &str) -> f64 {
    let split = text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => number / 1000.0,
        "ms" => number,
        "s" => number * 1000.0,
        _ => f64::NAN,
    }
}

pub(crate) async fn empty_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/", axum::routing::get(|| async {}));
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/")
}

/// Seconds per Argon2id verification with the default parameters, on one
/// core (the mean of 20).
/// Argon2id verifications of Warden's own hashes outside the server:
/// seconds per verification on one core alone, and verifications per
/// second with one running on each core at once (the real ceiling for
/// sign-in: two verifications in parallel each run slower than one alone,
/// as they share the memory bus and the L3 cache).
fn argon2_cost() -> (f64, f64) {
    use warden_core::auth::password::{HashParams, Password, PasswordHashing};
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let password = Password::new(PASSWORD);
        let alone = PasswordHashing::new(HashParams::default(), 1).unwrap();
        let hash = alone.hash(&password).await.unwrap();
        let started = Instant::now();
        for _ in 0..20 {
            alone.verify(&password, &hash).await.unwrap();
        }
        let per_hash = started.elapsed().as_secs_f64() / 20.0;
        let parallel = PasswordHashing::new(HashParams::default(), cores).unwrap();
        let rounds = 40 * cores;
        let started = Instant::now();
        let verifications = (0..rounds).map(|_| parallel.verify(&password, &hash));
        for verified in futures::future::join_all(verifications).await {
            verified.unwrap();
        }
        (per_hash, rounds as f64 / started.elapsed().as_secs_f64())
    })
}

/// 16 clients, each signing in as its own user, for `seconds`: sign-ins/s, p50 and p99 in ms.
async fn sign_ins(url: &str, seconds: u64) -> (f64, f64, f64) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..16)
        .map(|client_number| {
            let url = url.to_string();
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut latencies = Vec::new();
                let email = format!("user{client_number}@bench.test");
                while Instant::now() < deadline {
                    let began = Instant::now();
                    let response = client
                        .post(format!("{url}/api/v1/sign-in"))
                        .json(&json!({"email": email, "password": PASSWORD}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 200);
                    latencies.push(began.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.unwrap());
    }
    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)].as_secs_f64() * 1000.0;
    (latencies.len() as f64 / seconds as f64, p(0.5), p(0.99))
}

pub async fn run(warden: &Path, seconds: u64, sessions: u64) {
    let dir = tempfile::tempdir().unwrap();
    let ceiling = wrk(&empty_server().await, None, 64, seconds);
    let node = Node::start(warden, dir.path()).await;
    let (cookie, owner) = node.set_up().await;
    let checks = wrk(&format!("{}/api/v1/session", node.url), Some(&cookie), 64, seconds);
    println!("## Session checks (64 connections, wrk sharing the 2 cores)\n");
    println!("| endpoint | requests/s | p50 ms | p99 ms |\n| --- | ---: | ---: | ---: |");
    println!(
        "| empty axum handler (ceiling) | {:.0} | {:.2} | {:.2} |",
        ceiling.0, ceiling.1, ceiling.2
    );
    println!(
        "| `GET /api/v1/session` | {:.0} | {:.2} | {:.2} |",
        checks.0, checks.1, checks.2
    );

    // Sign-ins alone, then sign-ins saturating the pool with session
    // checks meanwhile.
    // Sixteen users, one per client: a flood of sign-ins by many people.
    let admin = reqwest::Client::new();
    for number in 0..16 {
        let created = admin
            .post(format!("{}/api/v1/users", node.url))
            .header("cookie", &cookie)
            .header("x-csrf-token", owner["csrf_token"].as_str().unwrap_or_default())
            .json(
                &json!({"email": format!("user{number}@bench.test"), "display_name": format!("User {number}"),
                          "role": "member", "password": PASSWORD}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    let alone = sign_ins(&node.url, seconds).await;
    // Measured right after, so both see the machine in the same state.
    let (per_hash, ceiling) = tokio::task::spawn_blocking(argon2_cost).await.unwrap();
    let check_url = format!("{}/api/v1/session", node.url);
    let cookie_for_wrk = cookie.clone();
    let during = tokio::task::spawn_blocking(move || {
        wrk(&check_url, Some(&cookie_for_wrk), 8, seconds.saturating_sub(1).max(1))
    });
    let loaded = sign_ins(&node.url, seconds).await;
    let during = during.await.unwrap();
    println!("\n## Sign-in (Argon2id m=19 MiB t=2 p=1, 16 clients each signing in as its own user, {seconds} s)\n");
    println!(
        "One Argon2id verification takes {:.1} ms on one core alone here. With one on each core at once, \
         outside the server, they reach {:.0}/s: the ceiling for sign-in. Warden's sign-ins alone reach {:.0} % of it.\n",
        per_hash * 1000.0,
        ceiling,
        alone.0 / ceiling * 100.0
    );
    println!("| measure | alone | with session checks (wrk, 8 connections) |\n| --- | ---: | ---: |");
    println!("| sign-ins/s | {:.0} | {:.0} |", alone.0, loaded.0);
    println!(
        "| sign-in p50 / p99 ms | {:.0} / {:.0} | {:.0} / {:.0} |",
        alone.1, alone.2, loaded.1, loaded.2
    );
    println!("| session checks/s | | {:.0} |", during.0);
    println!("| session check p50 / p99 ms | | {:.2} / {:.2} |", during.1, during.2);

    // Memory with many live sessions: appended straight to the stopped
    // node's log, then replayed by a fresh start.
    node.stop();
    let user = owner["user"]["id"].as_str().unwrap().to_string();
    let org = owner["org"]["id"].as_str().unwrap().to_string();
    add_sessions(dir.path(), &user, &org, sessions).await;
    let node = Node::start(warden, dir.path()).await;
    let (ready_rss, ready_peak) = node.rss_mib();
    // The owner's own session still works after the replay.
    let check = reqwest::Client::new()
        .get(format!("{}/api/v1/session", node.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(check.status(), 200);
    println!("\n## Memory\n");
    println!(
        "`warden serve` with {} live sessions (replayed from the log at start): RSS {ready_rss:.0} MiB, peak {ready_peak:.0} MiB",
        sessions + 1
    );
    node.stop();
}

async fn add_sessions(dir: &Path, user: &str, org: &str, count: u64) {
    let store = std::sync::Arc::new(SqliteStore::open(&dir.join("ledger.sqlite")).await.unwrap());
    let ledger = Ledger::new(store);
    let kms: std::sync::Arc<dyn Kms> = std::sync::Arc::new(LocalKms::open(&dir.join("master.key"), false).unwrap());
    warden_core::keys::signing::establish(&ledger, &kms.clone().into())
        .await
        .unwrap();
    let mut actor = Actor::of_kind(ActorKind::User);
    actor.id = Some(user.to_string());
    actor.org = Some(org.to_string());
    actor.ip = Some("10.1.2.3".into());
    let context = Context {
        actor,
        request_id: "bench".into(),
    };
    let agent = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    let device = Device::from_user_agent(agent);
    let now = warden_core::event::now_micros();
    let mut added = 0;
    while added < count {
        let batch: Vec<_> = (0..1000.min(count - added))
            .map(|_| {
                session::create(
                    &context,
                    &uuid::Uuid::now_v7().to_string(),
                    &SessionCreated {
                        user: user.to_string(),
                        org: org.to_string(),
                        token_hash: Token::generate().hash(TokenKind::Session),
                        ip: Some("10.1.2.3".into()),
                        user_agent: Some(agent.into()),
                        device: device.clone(),
                        fingerprint: device.fingerprint(),
                        assurance: Assurance {
                            level: Level::Aal1,
                            methods: vec!["password".into()],
                            at: now,
                        },
                        pending: None,
                        idle_timeout_seconds: 8 * 3600,
                        expires_at: now + chrono::Duration::days(7),
                    },
                )
            })
            .collect();
        added += batch.len() as u64;
        ledger.append(batch).await.unwrap();
    }
    ledger.flush(Duration::from_secs(30)).await;
}

/// A process's resident memory and its peak, in MiB (NaN where
/// `/proc/<pid>/status` does not say).
pub(crate) fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
