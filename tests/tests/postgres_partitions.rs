//! PostgreSQL partitions of the log are created by Warden ahead of need,
//! carry the append-only triggers, and the chain spans them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use warden_core::chain::ChainVerifier;
use warden_core::{Actor, NewEvent};
use warden_tests::TestDatabase;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_are_created_ahead_and_the_chain_spans_them() {
    let database = TestDatabase::create().await;
    warden_core::ledger::postgres::PostgresStore::migrate(&database.url)
        .await
        .unwrap();
    let mut owner = database.superuser().await;
    // Small partitions so a test crosses several boundaries.
    sqlx::query("UPDATE ledger_settings SET value = 10 WHERE name = 'partition_size'")
        .execute(&mut owner)
        .await
        .unwrap();
    let store = std::sync::Arc::new(
        warden_core::ledger::postgres::PostgresStore::connect(&database.url, Some("warden_writer"), 4)
            .await
            .unwrap(),
    );
    let ledger = warden_core::ledger::Ledger::new(store.clone());
    let kms: std::sync::Arc<dyn warden_core::keys::Kms> = std::sync::Arc::new(
        warden_core::keys::LocalKms::open(&tempfile::tempdir().unwrap().path().join("k"), true).unwrap(),
    );
    warden_core::keys::signing::establish(&ledger, &kms.into())
        .await
        .unwrap();
    for batch in 0..7 {
        let events = (0..5)
            .map(|i| NewEvent::new("app.thing.done", format!("thing:{batch}:{i}"), Actor::system()))
            .collect();
        ledger.append(events).await.unwrap();
    }
    // 36 events in partitions of 10: four hold rows, and the next one exists.
    let partitions: Vec<(String, i64)> = sqlx::query_as(
        "SELECT c.relname::text, (SELECT count(*) FROM events e WHERE e.tableoid = c.oid) \
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'events'::regclass ORDER BY c.relname",
    )
    .fetch_all(&mut owner)
    .await
    .unwrap();
    let counts: Vec<i64> = partitions.iter().map(|(_, count)| *count).collect();
    assert_eq!(&counts[..4], &[10, 10, 10, 6], "{partitions:?}");
    assert!(
        counts.len() >= 5 && counts[4] == 0,
        "the next partition exists ahead: {partitions:?}"
    );
    let error = sqlx::query(sqlx::AssertSqlSafe(format!("TRUNCATE {}", partitions[2].0)))
        .execute(&mut owner)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("append-only"), "{error}");
    let events = warden_core::ledger::LedgerStore::read(store.as_ref(), 1, 100)
        .await
        .unwrap();
    assert_eq!(events.len(), 36);
    ChainVerifier::new().check_all(&events, 2).unwrap();
}
