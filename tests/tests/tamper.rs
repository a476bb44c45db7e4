//! The log refuses changes, and `warden verify` names the first event of
//! any change made around those refusals.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use sqlx::Connection;
use warden_core::{Actor, NewEvent};
use warden_tests::process::NodeEnv;
use warden_tests::{Backend, TestStore};

/// A log of genesis + 10 events.
async fn ten_events(backend: Backend) -> TestStore {
    let store = TestStore::open(backend).await;
    let ledger = store.ledger().await;
    for i in 0..10 {
        ledger
            .append_one(
                NewEvent::new("app.thing.done", format!("thing:{i}"), Actor::system())
                    .data(json!({"i": i, "note": "abc"})),
            )
            .await
            .unwrap();
    }
    store
}

fn env_of(store: &TestStore) -> NodeEnv {
    NodeEnv {
        data_dir: store.dir.path().to_path_buf(),
        database_url: store.database.as_ref().map(|database| database.url.clone()),
        ..Default::default()
    }
}

/// Runs `warden verify`; returns (exit code, stdout).
fn verify(store: &TestStore) -> (i32, String) {
    let output = env_of(store).run(&["verify"]);
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

fn assert_names(store: &TestStore, seq: u64, what: &str) {
    let (code, out) = verify(store);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with(&format!("FAILED at seq {seq}:")), "{out}");
    assert!(out.contains(what), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_writer_role_cannot_change_the_log() {
    let store = ten_events(Backend::Postgres).await;
    let database = store.database.as_ref().unwrap();
    let writer = warden_core::ledger::postgres::PostgresStore::connect(&database.url, Some("warden_writer"), 2)
        .await
        .unwrap();
    for statement in [
        "UPDATE events SET data = '{}' WHERE seq = 3",
        "DELETE FROM events WHERE seq = 3",
        "TRUNCATE events",
        "TRUNCATE events_p0000000000000000001",
        "DELETE FROM signing_keys",
    ] {
        let error = sqlx::query(statement).execute(writer.pool()).await.unwrap_err();
        let code = error.as_database_error().and_then(|e| e.code()).map(|c| c.into_owned());
        assert_eq!(code.as_deref(), Some("42501"), "{statement}: {error}");
    }
    assert_eq!(verify(&store).0, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_triggers_refuse_even_the_owner() {
    let store = ten_events(Backend::Postgres).await;
    let mut owner = store.database.as_ref().unwrap().superuser().await;
    for statement in [
        "UPDATE events SET data = '{}' WHERE seq = 3",
        "DELETE FROM events WHERE seq = 3",
        "TRUNCATE events",
        "TRUNCATE events_p0000000000000000001",
    ] {
        let error = sqlx::query(statement).execute(&mut owner).await.unwrap_err();
        let code = error.as_database_error().and_then(|e| e.code()).map(|c| c.into_owned());
        assert_eq!(code.as_deref(), Some("WA001"), "{statement}: {error}");
    }
    assert_eq!(verify(&store).0, 0);
}

/// A superuser who bypasses the triggers.
async fn tamper(store: &TestStore, statements: &[&str]) {
    let mut owner = store.database.as_ref().unwrap().superuser().await;
    let mut tx = owner.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_one_changed_byte_is_named() {
    let store = ten_events(Backend::Postgres).await;
    assert_eq!(verify(&store).0, 0);
    tamper(
        &store,
        &["UPDATE events SET data = replace(data, 'abc', 'abd') WHERE seq = 6"],
    )
    .await;
    assert_names(&store, 6, "does not match its hash");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_deleted_event_is_named() {
    let store = ten_events(Backend::Postgres).await;
    tamper(&store, &["DELETE FROM events WHERE seq = 7"]).await;
    assert_names(&store, 7, "missing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_reordered_events_are_named() {
    let store = ten_events(Backend::Postgres).await;
    tamper(
        &store,
        &[
            "UPDATE events SET seq = 999999 WHERE seq = 4",
            "UPDATE events SET seq = 4 WHERE seq = 5",
            "UPDATE events SET seq = 5 WHERE seq = 999999",
        ],
    )
    .await;
    assert_names(&store, 4, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_changed_actor_or_signature_is_named() {
    let store = ten_events(Backend::Postgres).await;
    tamper(
        &store,
        &[r#"UPDATE events SET actor = '{"kind":"user"}' WHERE seq = 9"#],
    )
    .await;
    assert_names(&store, 9, "does not match its hash");
    let store = ten_events(Backend::Postgres).await;
    tamper(
        &store,
        &["UPDATE events SET sig = set_byte(sig, 0, get_byte(sig, 0) # 1) WHERE seq = 2"],
    )
    .await;
    assert_names(&store, 2, "signature is not valid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_triggers_refuse_and_tampering_is_named() {
    let store = ten_events(Backend::Sqlite).await;
    let path = store.dir.path().join("ledger.sqlite");
    let mut connection = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    for statement in [
        "UPDATE events SET data = '{}' WHERE seq = 3",
        "DELETE FROM events WHERE seq = 3",
        "DELETE FROM events",
    ] {
        let error = sqlx::query(statement).execute(&mut connection).await.unwrap_err();
        assert!(error.to_string().contains("append-only"), "{statement}: {error}");
    }
    assert_eq!(verify(&store).0, 0);
    // Someone with the file drops the triggers and edits one event.
    sqlx::query("DROP TRIGGER events_no_update")
        .execute(&mut connection)
        .await
        .unwrap();
    sqlx::query("UPDATE events SET data = replace(data, 'abc', 'abx') WHERE seq = 8")
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    assert_names(&store, 8, "does not match its hash");
}
