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

/// An event inserted into the log behind Warden's back (by someone who can
/// write to the database) stops the read models, and the node sends the
/// built-in "audit chain verification failed" alarm to the rule's webhook
/// at once, signed, without appending to the suspect log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forged_event_raises_the_tampering_alarm_through_the_webhook() {
    use warden_tests::peers::WebhookReceiver;
    use warden_tests::process::Server;
    use warden_tests::web::set_up;

    let dir = tempfile::tempdir().unwrap();
    let mut env = NodeEnv::in_dir(dir.path());
    env.extra = vec![("WARDEN_ALERT_WEBHOOK_PRIVATE_ADDRESSES".into(), "true".into())];
    let server = Server::start(&env, "node").await;
    let mut owner = set_up(&server).await;
    let receiver = WebhookReceiver::start().await;
    let endpoint = owner
        .post("/api/v1/webhook-endpoints", json!({"url": receiver.url()}))
        .await;
    assert_eq!(endpoint.status, 201, "{:?}", endpoint.body);
    receiver.set_secret(endpoint.body["secret"].as_str().unwrap());
    let endpoint_id = endpoint.body["id"].as_str().unwrap();
    // The built-in template, as served, with the endpoint as recipient.
    let templates = owner.get("/api/v1/alert-templates").await;
    assert_eq!(templates.status, 200, "{:?}", templates.body);
    let mut spec = templates.body["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|template| template["template"] == "audit_chain_verification_failed")
        .expect("the template is served")["rule"]
        .clone();
    spec["recipients"] = json!([{"webhook": endpoint_id}]);
    let rule = owner.post("/api/v1/alert-rules", spec).await;
    assert_eq!(rule.status, 201, "{:?}", rule.body);
    let rule_id = rule.body["id"].as_str().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(receiver.received().is_empty());

    // Insert a copy of the last event as the next one: its link is wrong.
    let path = dir.path().join("ledger.sqlite");
    let mut connection = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let forged: i64 = sqlx::query_scalar(
        "INSERT INTO events (seq, id, at, kind, subject, subject_version, actor, request_id, outcome, data, prev, hash, key_id, sig)
         SELECT seq + 1, '01a23c98-0000-7000-8000-000000000001', at, kind, subject, subject_version, actor, request_id,
                outcome, data, prev, hash, key_id, sig
         FROM events WHERE seq = (SELECT max(seq) FROM events)
         RETURNING seq",
    )
    .fetch_one(&mut connection)
    .await
    .unwrap();

    let received = receiver.wait_for(1).await;
    assert_eq!(received.len(), 1, "no alarm arrived\n{}", server.log());
    let alarm = &received[0];
    assert!(alarm.signature_valid, "signed with the endpoint's secret");
    assert_eq!(alarm.body["type"], "ledger.verification_failed");
    assert_eq!(alarm.body["data"]["rule"], rule_id.as_str());
    assert_eq!(alarm.body["data"]["severity"], "critical");
    let violation = alarm.body["data"]["violation"].as_str().unwrap();
    assert!(violation.contains(&forged.to_string()), "{violation}");
    // The log itself was not written to: the forged row is still its last.
    let head: i64 = sqlx::query_scalar("SELECT max(seq) FROM events")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(head, forged);
    let readiness = reqwest::get(format!("{}/readyz", server.url)).await.unwrap();
    assert_eq!(readiness.status(), 503);
}
