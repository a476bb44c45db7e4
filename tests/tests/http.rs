//! The HTTP basics of a running `warden serve` (embedded profile): probes,
//! metrics, published keys, the error shape with request ids, application
//! events, and a graceful shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use warden_tests::process::{NodeEnv, Server, TOKEN};

async fn server() -> (Server, tempfile::TempDir, NodeEnv) {
    let dir = tempfile::tempdir().unwrap();
    let env = NodeEnv::in_dir(dir.path());
    (Server::start(&env, "http").await, dir, env)
}

/// Asserts the error shape and that the body's request id is the header's.
async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let header = response.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["request_id"], header.as_str());
    assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_metrics_and_published_keys() {
    let (server, _dir, _) = server().await;
    let client = reqwest::Client::new();
    let live = client.get(format!("{}/healthz", server.url)).send().await.unwrap();
    assert_eq!(live.status(), 200);
    assert!(live.headers().contains_key("x-request-id"));
    let ready: Value = server.get_json("/readyz").await;
    assert_eq!(ready["status"], "ready");
    // The genesis event and the setup link of a fresh instance.
    assert_eq!(ready["checks"]["projections"]["applied"], 2);

    let keys: Value = server.get_json("/.well-known/warden-audit-keys").await;
    assert_eq!(keys["format"], "warden-audit-keys/v1");
    assert_eq!(keys["keys"][0]["added_seq"], 1);
    assert_eq!(keys["current"], keys["keys"][0]["key_id"]);

    server
        .post_app_event(&json!({"kind": "app.thing.done", "subject": "thing:1"}))
        .await;
    let openapi: Value = server.get_json("/api/v1/openapi.json").await;
    assert_eq!(openapi["openapi"], "3.1.0");
    assert!(openapi["paths"]["/api/v1/app-events"]["post"].is_object());
    let metrics = client
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "warden_append_events_total 3",
        "warden_append_batch_seconds_bucket",
        "warden_append_latency_seconds_bucket",
        "warden_append_batch_events_bucket",
        "warden_projection_lag_events 0",
        "warden_relay_lag_events",
        "warden_ledger_head_seq 3",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics:\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_one_shape_and_carry_the_request_id() {
    let (server, _dir, _) = server().await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/app-events", server.url);
    assert_error(
        client.get(format!("{}/no/such/page", server.url)).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    assert_error(client.get(&url).send().await.unwrap(), 405, "method_not_allowed").await;
    assert_error(
        client
            .post(&url)
            .json(&json!({"kind": "app.x.y", "subject": "s"}))
            .send()
            .await
            .unwrap(),
        401,
        "unauthorized",
    )
    .await;
    assert_error(
        client
            .post(&url)
            .bearer_auth("wrong-token-0123456789abcdef0123456789")
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        401,
        "unauthorized",
    )
    .await;
    let malformed = client
        .post(&url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(malformed, 400, "bad_request").await;
    let missing = assert_error(
        client
            .post(&url)
            .bearer_auth(TOKEN)
            .json(&json!({"kind": "app.x.y"}))
            .send()
            .await
            .unwrap(),
        422,
        "unprocessable",
    )
    .await;
    assert!(
        missing["error"]["message"].as_str().unwrap().contains("subject"),
        "{missing}"
    );
    for (body, says) in [
        (json!({"kind": "login.succeeded", "subject": "s"}), "app."),
        (
            json!({"kind": "app.x.y", "subject": "s", "data": {"ratio": 0.5}}),
            "integer",
        ),
        (json!({"kind": "app.Bad Kind", "subject": "s"}), "kind"),
        (json!({"kind": "app.x.y", "subject": "s", "data": [1]}), "object"),
    ] {
        let error = assert_error(
            client.post(&url).bearer_auth(TOKEN).json(&body).send().await.unwrap(),
            400,
            "bad_request",
        )
        .await;
        assert!(error["error"]["message"].as_str().unwrap().contains(says), "{error}");
    }
    // A caller's request id is kept, and reaches the event.
    let response = client
        .post(&url)
        .bearer_auth(TOKEN)
        .header("x-request-id", "caller-chosen-42")
        .json(&json!({"kind": "app.x.y", "subject": "s", "expected_version": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-request-id"], "caller-chosen-42");
    let stale = client
        .post(&url)
        .bearer_auth(TOKEN)
        .json(&json!({"kind": "app.x.y", "subject": "s", "expected_version": 0}))
        .send()
        .await
        .unwrap();
    assert_error(stale, 409, "conflict").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_events_are_chained_and_read_your_writes() {
    let (mut server, dir, env) = server().await;
    let mut last = 0;
    for i in 0..5 {
        let created: Value = server
            .post_app_event(&json!({
                "kind": "app.invoice.paid",
                "subject": format!("invoice:{i}"),
                "on_behalf_of": "u-7",
                "data": {"amount_cents": 1200 + i},
            }))
            .await
            .json()
            .await
            .unwrap();
        let seq = created["seq"].as_u64().unwrap();
        assert!(seq > last);
        last = seq;
        // Answered only once this node's read models include it.
        let ready: Value = server.get_json("/readyz").await;
        assert!(ready["checks"]["projections"]["applied"].as_u64().unwrap() >= seq);
    }
    assert!(server.terminate().success(), "graceful shutdown exits 0");
    assert!(server.log().contains("stopped"));
    let export = dir.path().join("export.jsonl");
    assert!(env.run(&["export", "--out", export.to_str().unwrap()]).status.success());
    let lines = std::fs::read_to_string(&export).unwrap();
    assert_eq!(lines.lines().count() as u64, last);
    let event: Value = serde_json::from_str(lines.lines().last().unwrap()).unwrap();
    assert_eq!(
        (
            event["actor"]["kind"].as_str(),
            event["actor"]["id"].as_str(),
            event["actor"]["on_behalf_of"].as_str(),
            event["data"]["amount_cents"].as_i64()
        ),
        (Some("service"), Some("app:app"), Some("u-7"), Some(1204))
    );
    let verified = env.run(&["verify", "--file", export.to_str().unwrap()]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
}

/// The application records events on its own subjects only: every subject
/// Warden's events use (each prefix of the one list, bare, with an id, in
/// any case) is refused, and nothing is appended, so no application event
/// can move a Warden object's version (a rule, an endpoint, a legal hold).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_events_cannot_touch_warden_subjects() {
    use warden_core::commands::Prefix;

    let (server, _dir, _) = server().await;
    let before: Value = server.get_json("/readyz").await;
    for prefix in Prefix::ALL {
        let name = prefix.as_str();
        for subject in [
            name.to_string(),
            format!("{name}:0193a3c2-0000-7000-8000-000000000001"),
            format!("{}:x", name.to_uppercase()),
        ] {
            let response = server
                .post_app_event(&json!({"kind": "app.thing.done", "subject": subject}))
                .await;
            let body = assert_error(response, 400, "bad_request").await;
            assert!(
                body["error"]["message"].as_str().unwrap().contains("Warden's own"),
                "{body}"
            );
        }
    }
    let after: Value = server.get_json("/readyz").await;
    assert_eq!(
        before["checks"]["projections"]["applied"], after["checks"]["projections"]["applied"],
        "nothing was appended"
    );
    // The application's own subjects, even ones that merely look alike.
    for subject in ["invoice:42", "users:1", "user_profile:1", "alerts:9"] {
        let response = server
            .post_app_event(&json!({"kind": "app.thing.done", "subject": subject}))
            .await;
        assert_eq!(response.status(), 201, "{subject}");
    }
}

/// A client that lost the answer retries with the same `Idempotency-Key`
/// and gets the original event, not a second one: at once, concurrently,
/// and after a restart. A key reused for another event is refused; a bad
/// key is a 400. The bearer scheme is case-insensitive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_events_retry_safely_with_an_idempotency_key() {
    let (mut server, dir, env) = server().await;
    let post = |url: String, key: Option<&'static str>, body: Value, scheme: &'static str| async move {
        let mut request = reqwest::Client::new()
            .post(format!("{url}/api/v1/app-events"))
            .header("authorization", format!("{scheme} {TOKEN}"))
            .json(&body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request.send().await.unwrap()
    };
    let paid = json!({"kind": "app.invoice.paid", "subject": "invoice:7", "data": {"cents": 1200.0}});
    let first = post(server.url.clone(), Some("7f0c2c4e-retry-1"), paid.clone(), "Bearer").await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();

    // Retried: the same answer, marked as a replay (the data's 1200.0 is
    // the 1200 the ledger stored).
    let mut retried = json!(paid);
    retried["data"]["cents"] = json!(1200);
    let again = post(server.url.clone(), Some("7f0c2c4e-retry-1"), retried, "bearer").await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);

    // Concurrent retries of a new key: one event.
    let racing: Vec<_> = (0..8)
        .map(|_| {
            let body = json!({"kind": "app.invoice.paid", "subject": "invoice:8"});
            tokio::spawn(post(server.url.clone(), Some("race-key"), body, "BEARER"))
        })
        .collect();
    let mut seqs = std::collections::HashSet::new();
    for answer in racing {
        let answer = answer.await.unwrap();
        assert_eq!(answer.status(), 201);
        seqs.insert(answer.json::<Value>().await.unwrap()["seq"].as_u64().unwrap());
    }
    assert_eq!(seqs.len(), 1, "{seqs:?}");

    // Another event under a used key is refused, and a key that is not one.
    let other = json!({"kind": "app.invoice.voided", "subject": "invoice:7"});
    assert_error(
        post(server.url.clone(), Some("7f0c2c4e-retry-1"), other, "Bearer").await,
        409,
        "idempotency_key_reused",
    )
    .await;
    assert_error(
        post(server.url.clone(), Some("has space"), paid.clone(), "Bearer").await,
        400,
        "bad_request",
    )
    .await;

    // After a restart (a crash between commit and answer looks the same).
    server.kill9();
    let server = Server::start(&env, "http-again").await;
    let after = post(server.url.clone(), Some("7f0c2c4e-retry-1"), paid.clone(), "Bearer").await;
    assert_eq!(after.status(), 201);
    assert_eq!(after.json::<Value>().await.unwrap(), first);
    // Without a key, every request is a new event.
    let fresh: Value = post(server.url.clone(), None, paid, "Bearer")
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(fresh["seq"], first["seq"]);
    drop(dir);
}

/// Slow clients cannot hold the server: connections that send nothing,
/// trickle a header line every few hundred milliseconds, or sit idle after
/// a request are closed after the header-read timeout; past `max_connections` a connection gets a
/// clear 503 at once; and once the slow ones are gone, `/healthz` answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_closed_and_capped() {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    let dir = tempfile::tempdir().unwrap();
    let mut env = NodeEnv::in_dir(dir.path());
    env.extra = vec![
        ("WARDEN_HEADER_READ_TIMEOUT_SECONDS".into(), "1".into()),
        ("WARDEN_MAX_CONNECTIONS".into(), "16".into()),
    ];
    let server = Server::start(&env, "slow-clients").await;
    let address = server.url.trim_start_matches("http://").to_string();
    let began = Instant::now();
    // Twenty connections against a cap of sixteen: silent ones, trickling
    // ones, and idle keep-alive ones (one request answered, then nothing).
    // Those over the cap are answered 503 at once, before they send a
    // byte (the harness's own readiness probe may still hold one slot).
    let mut streams = Vec::new();
    for _ in 0..20 {
        streams.push(TcpStream::connect(&address).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut held = Vec::new();
    let mut refused = 0;
    for (n, mut stream) in streams.into_iter().enumerate() {
        let mut answer = vec![0u8; 1024];
        if let Ok(Ok(read)) = tokio::time::timeout(Duration::from_millis(10), stream.read(&mut answer)).await
            && read > 0
        {
            let answer = String::from_utf8_lossy(&answer[..read]).to_string();
            assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
            assert!(
                answer.contains("retry-after: 1") && answer.contains("too_many_connections"),
                "{answer}"
            );
            refused += 1;
            continue;
        }
        match n % 3 {
            1 => stream.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap(),
            2 => stream
                .write_all(b"GET /healthz HTTP/1.1\r\nhost: warden\r\n\r\n")
                .await
                .unwrap(),
            _ => {}
        }
        held.push((n, stream));
    }
    assert!((4..=5).contains(&refused), "{refused} of 20 refused with a cap of 16");
    // Trickle one header line every 300 ms into the trickling ones.
    let trickle = tokio::spawn(async move {
        for round in 0..20 {
            for (n, stream) in held.iter_mut() {
                if *n % 3 == 1 {
                    let _ = stream.write_all(format!("x-slow-{round}: 1\r\n").as_bytes()).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        held
    });

    // The held connections are closed by the server within the timeout
    // (and the trickle, which lasts 6 s, does not keep any open).
    let mut held = trickle.await.unwrap();
    for (_, stream) in &mut held {
        let mut buffer = [0u8; 512];
        let closed = tokio::time::timeout(Duration::from_secs(1), async {
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(
            closed.is_ok(),
            "a slow connection was still open after {:?}",
            began.elapsed()
        );
    }
    let health = reqwest::get(format!("{}/healthz", server.url)).await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(began.elapsed() < Duration::from_secs(20));
}
