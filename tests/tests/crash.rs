//! `kill -9` of a server under append load, then a restart: every
//! acknowledged event is in the log, the chain verifies, and the relay and
//! the read models continue with no gap and no duplicate.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use warden_core::ledger::LedgerStore;
use warden_core::ledger::sqlite::SqliteStore;
use warden_tests::process::{NodeEnv, Server, TOKEN, append_load};
use warden_tests::{Production, assert_log_keeps, assert_stream_complete};

/// Runs `writers` load tasks against `url` for `duration`; returns the
/// acknowledged (seq, hash) pairs and a way to stop early.
async fn load_for(url: &str, writers: usize, until: impl std::future::Future<Output = ()>) -> Vec<(u64, String)> {
    let (stop, stopped) = watch::channel(false);
    let tasks: Vec<_> = (0..writers)
        .map(|i| {
            tokio::spawn(append_load(
                url.to_string(),
                TOKEN.to_string(),
                format!("w{i}"),
                stopped.clone(),
            ))
        })
        .collect();
    until.await;
    stop.send_replace(true);
    let mut acknowledged = Vec::new();
    for task in tasks {
        acknowledged.extend(task.await.unwrap());
    }
    acknowledged
}

async fn read_all(store: &dyn LedgerStore) -> Vec<warden_core::Event> {
    store.read(1, usize::MAX >> 1).await.unwrap()
}

async fn applied(server: &Server) -> (u64, Option<String>) {
    let body = server.get_json("/readyz").await;
    let projections = &body["checks"]["projections"];
    (
        projections["applied"].as_u64().unwrap(),
        projections["failure"].as_str().map(str::to_string),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn production_kill_9_under_load_loses_nothing_acknowledged() {
    let production = Production::new().await;
    let env = &production.env;
    let mut server = Server::start(env, "first").await;
    let url = server.url.clone();
    let acknowledged = load_for(&url, 8, async {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        server.kill9();
    })
    .await;
    assert!(
        acknowledged.len() > 100,
        "load too small to mean anything: {}",
        acknowledged.len()
    );

    let server = Server::start(env, "second").await;
    let store = production.database.store().await;
    let log = read_all(store.as_ref()).await;
    assert_log_keeps(&acknowledged, &log);
    let head = log.len() as u64;
    let verified = env.run(&["verify"]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );

    // The relay resumes: the stream holds every seq exactly once.
    assert_stream_complete(&production.stream.url, &production.stream.prefix, head, || server.log()).await;
    // The read models continue from their snapshot without a gap.
    assert!(server.log().contains("read models caught up"));
    let (position, failure) = applied(&server).await;
    assert_eq!((position, failure), (head, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_kill_9_under_load_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let env = NodeEnv::in_dir(dir.path());
    let mut server = Server::start(&env, "first").await;
    let url = server.url.clone();
    let acknowledged = load_for(&url, 8, async {
        tokio::time::sleep(Duration::from_millis(2000)).await;
        server.kill9();
    })
    .await;
    assert!(
        acknowledged.len() > 100,
        "load too small to mean anything: {}",
        acknowledged.len()
    );
    let server = Server::start(&env, "second").await;
    let store: Arc<dyn LedgerStore> = Arc::new(SqliteStore::open(&dir.path().join("ledger.sqlite")).await.unwrap());
    let log = read_all(store.as_ref()).await;
    assert_log_keeps(&acknowledged, &log);
    let verified = env.run(&["verify"]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
    assert_eq!(applied(&server).await, (log.len() as u64, None));
}

/// SIGTERM under load: in-flight requests finish, the process exits 0,
/// every acknowledged event is in the log, and the read models' snapshot is
/// saved so the next start replays only what came after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn graceful_stop_under_load_keeps_everything_and_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let env = NodeEnv::in_dir(dir.path());
    let mut server = Server::start(&env, "first").await;
    let url = server.url.clone();
    let mut status = None;
    let acknowledged = load_for(&url, 8, async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        status = Some(server.terminate());
    })
    .await;
    assert!(status.unwrap().success(), "graceful stop exits 0:\n{}", server.log());
    assert!(acknowledged.len() > 100, "{}", acknowledged.len());
    let store: Arc<dyn LedgerStore> = Arc::new(SqliteStore::open(&dir.path().join("ledger.sqlite")).await.unwrap());
    let log = read_all(store.as_ref()).await;
    assert_log_keeps(&acknowledged, &log);
    let snapshot = store
        .load_snapshot("signing_keys")
        .await
        .unwrap()
        .expect("snapshot saved on stop");
    assert_eq!(snapshot.seq, log.len() as u64, "snapshot at the head");
    let restarted = Server::start(&env, "second").await;
    assert!(
        restarted
            .log()
            .contains(&format!("from={} to={}", log.len(), log.len())),
        "the restart replayed more than the tail:\n{}",
        restarted.log()
    );
}
