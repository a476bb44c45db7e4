//! The embedded profile on a filesystem that runs out of space, gets it
//! back, or is read-only: appends are refused quickly while full,
//! `/readyz` says the ledger cannot append, and once space is freed every
//! append succeeds again without a restart; nothing acknowledged is lost.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use warden_core::ledger::LedgerStore;
use warden_core::ledger::sqlite::SqliteStore;
use warden_tests::process::{NodeEnv, Server, TOKEN};
use warden_tests::small_fs::SmallFs;
use warden_tests::{acknowledged, append_app_event, assert_log_keeps};

/// Appends event `n` (with some bulk, so that the log needs new pages quickly).
async fn append(client: &reqwest::Client, server: &Server, n: u64) -> reqwest::Response {
    append_app_event(
        client,
        server,
        ("app.disk.tested", "disk"),
        n,
        serde_json::json!({ "padding": "x".repeat(2000) }),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_refuses_appends_and_every_append_succeeds_once_space_is_freed() {
    let fs = SmallFs::mount(48);
    let env = NodeEnv::in_dir(fs.path());
    let server = Server::start(&env, "node").await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut kept = Vec::new();
    let mut n = 0;
    for _ in 0..20 {
        n += 1;
        kept.push(acknowledged(append(&client, &server, n).await).await);
    }

    fs.fill();
    // SQLite may still write into space its files already hold: append
    // until the disk refuses.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        n += 1;
        let response = append(&client, &server, n).await;
        if response.status() == 201 {
            kept.push(acknowledged(response).await);
        } else {
            assert_eq!(response.status(), 503);
            break;
        }
        assert!(Instant::now() < deadline, "appends never failed on a full disk");
    }
    // While full: refused quickly, with Retry-After, and not ready.
    for _ in 0..5 {
        n += 1;
        let began = Instant::now();
        let refused = append(&client, &server, n).await;
        assert_eq!(refused.status(), 503);
        assert!(refused.headers().contains_key("retry-after"));
        assert!(began.elapsed() < Duration::from_secs(3), "{:?}", began.elapsed());
    }
    let readiness = client.get(format!("{}/readyz", server.url)).send().await.unwrap();
    assert_eq!(readiness.status(), 503);
    let checks: serde_json::Value = readiness.json().await.unwrap();
    assert_eq!(checks["checks"]["ledger"]["ok"], false, "{checks}");
    // Snapshot saves back off rather than retry in a tight loop.
    tokio::time::sleep(Duration::from_secs(2)).await;

    fs.free();
    // Back without a restart: once an append succeeds, every later one
    // does (before, about half kept failing on connections left inside a
    // failed transaction, until a restart).
    let deadline = Instant::now() + Duration::from_secs(20);
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
    for _ in 0..60 {
        n += 1;
        kept.push(acknowledged(append(&client, &server, n).await).await);
    }
    let ready = client.get(format!("{}/readyz", server.url)).send().await.unwrap();
    assert_eq!(ready.status(), 200, "{}", ready.text().await.unwrap());
    let log = server.log();
    assert!(
        !log.contains("non-zero transaction depth"),
        "a connection was reused inside a failed transaction"
    );
    let snapshot_failures = log.matches("snapshot not saved").count();
    assert!(
        snapshot_failures < 20,
        "{snapshot_failures} snapshot attempts while full"
    );

    let store = SqliteStore::open_existing(&fs.path().join("ledger.sqlite"))
        .await
        .unwrap();
    let events = store.read(1, 1_000_000).await.unwrap();
    assert_log_keeps(&kept, &events);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_data_directory_is_named_as_such() {
    let fs = SmallFs::mount(16);
    let env = NodeEnv::in_dir(fs.path());
    // A new instance, then an existing one.
    fs.remount_read_only();
    let refused = env
        .run_until_exit(&["serve", "--listen", "127.0.0.1:0"], Duration::from_secs(30))
        .await;
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr).to_string();
    assert!(said.contains("read-only"), "{said}");
    assert!(!said.contains("unable to open database file"), "{said}");
    fs.remount_read_write();
    let mut server = Server::start(&env, "node").await;
    server.terminate();
    fs.remount_read_only();
    let refused = env
        .run_until_exit(&["serve", "--listen", "127.0.0.1:0"], Duration::from_secs(30))
        .await;
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr).to_string();
    assert!(said.contains("read-only"), "{said}");
}

/// Every `app.disk.indexed` event the audit search finds for Acme, by
/// seq, following the cursor; and the last answer's lag fields.
async fn searched(auditor: &mut warden_tests::web::WebClient) -> (Vec<u64>, serde_json::Value) {
    let mut seqs = Vec::new();
    let mut path = "/api/v1/audit/events?kind=app.disk.indexed&order=oldest&limit=1000".to_string();
    loop {
        let answer = auditor.get(&path).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        seqs.extend(
            answer.body["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|event| event["seq"].as_u64().unwrap()),
        );
        match answer.body["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/api/v1/audit/events?kind=app.disk.indexed&order=oldest&limit=1000&cursor={cursor}")
            }
            None => return (seqs, answer.body),
        }
    }
}

/// The audit index on a filesystem of its own that fills up: events that
/// arrive meanwhile are never claimed before they are written. The search
/// says the index is behind while it is, and once space is freed (and
/// after a restart) it finds every event the log holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_audit_index_never_claims_events_it_could_not_write() {
    let fs = SmallFs::mount(24);
    let index_dir = fs.path().join("audit-index");
    let mut instance = warden_tests::audit::two_orgs(&[("WARDEN_AUDIT_INDEX_DIR", index_dir.to_str().unwrap())]).await;
    let mut auditor = warden_tests::audit::signed_in(&instance.server, "auditor@acme.test").await;
    let acme = auditor.get("/api/v1/session").await.body["org"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let client = reqwest::Client::new();
    let mut appended = Vec::new();
    let mut n = 0u64;
    let mut append_some = async |server: &Server, count: usize, appended: &mut Vec<u64>| {
        for _ in 0..count {
            n += 1;
            let response = client
                .post(format!("{}/api/v1/app-events", server.url))
                .bearer_auth(TOKEN)
                .json(&serde_json::json!({
                    "kind": "app.disk.indexed",
                    "subject": format!("disk:{n}"),
                    "data": { "org": acme, "n": n, "words": "lorem ipsum ".repeat(50) }
                }))
                .send()
                .await
                .unwrap();
            let body: serde_json::Value = response.json().await.unwrap();
            appended.push(body["seq"].as_u64().expect("acknowledged"));
        }
    };
    append_some(&instance.server, 50, &mut appended).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while searched(&mut auditor).await.0.len() < appended.len() {
        assert!(Instant::now() < deadline, "the first events were never indexed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    fs.fill();
    // Appends go on (the log is elsewhere); the index cannot commit them.
    let deadline = Instant::now() + Duration::from_secs(60);
    let behind = loop {
        append_some(&instance.server, 100, &mut appended).await;
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let (_, answer) = searched(&mut auditor).await;
        if answer["index_error"].is_string() {
            break answer;
        }
        assert!(
            Instant::now() < deadline,
            "the index never failed on a full disk: behind {}",
            answer["behind"]
        );
    };
    assert!(behind["behind"].as_u64().unwrap() > 0, "behind {}", behind["behind"]);

    fs.free();
    let everything = |found: &[u64]| found == appended.as_slice();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (found, answer) = searched(&mut auditor).await;
        if everything(&found) && answer["index_error"].is_null() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the index did not recover: {} of {} found, behind {}, {}\n{}",
            found.len(),
            appended.len(),
            answer["behind"],
            answer["index_error"],
            instance.server.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // What it committed holds: a restart finds every event too (before,
    // the commit claimed events it never wrote, lost for good).
    instance.server.terminate();
    instance.server = Server::start(&instance.env, "again").await;
    let mut auditor = warden_tests::audit::signed_in(&instance.server, "auditor@acme.test").await;
    let (found, _) = searched(&mut auditor).await;
    assert_eq!(found.len(), appended.len());
    assert!(everything(&found));
}
