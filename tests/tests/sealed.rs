//! Sealed fields: a secret put in an event sealed appears in clear nowhere
//! (database, stream, logs); crypto-shredding its subject makes it
//! unreadable for good while the chain still verifies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use sqlx::Row;
use tokio::sync::watch;
use warden_core::bus::relay::Relay;
use warden_core::chain::ChainVerifier;
use warden_core::keys::{DataKeys, SealError, Sealed};
use warden_core::{Actor, NewEvent};
use warden_tests::process::NodeEnv;
use warden_tests::{Backend, BusKind, TestBus, TestStore, stream_contents};

/// Collects every log line of the test (all levels, all crates).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

async fn sealed_secret_is_nowhere_in_clear(backend: Backend) {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let secret = format!("correct-horse-battery-{}", uuid::Uuid::new_v4().simple());
    let store = TestStore::open(backend).await;
    let ledger = store.ledger().await;
    let keys = DataKeys::new(store.store.clone(), store.kms());
    let sealed = keys.seal("user:alice", &secret).await.unwrap();
    assert!(!format!("{sealed:?}").contains(&secret));
    let event = ledger
        .append_one(
            NewEvent::new("app.password.set", "user:alice", Actor::system())
                .data(json!({ "password_hash": serde_json::to_value(&sealed).unwrap() })),
        )
        .await
        .unwrap();

    // The stream carries the event, sealed.
    let bus = TestBus::open(BusKind::Nats).await;
    let (stop, shutdown) = watch::channel(false);
    let relay = tokio::spawn(
        Relay {
            store: store.store.clone(),
            bus: bus.bus.clone(),
            committed: ledger.committed(),
            shutdown,
        }
        .run(),
    );
    let stream = bus.stream.as_ref().unwrap();
    while bus.bus.last_published().await.unwrap() < event.seq {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.send_replace(true);
    relay.await.unwrap();
    assert_eq!(
        stream_contents(&stream.url, &stream.prefix).await.len() as u64,
        event.seq
    );
    let payloads = stream_payloads(&stream.url, &stream.prefix).await;
    assert!(contains(&payloads, b"password_hash"), "the stream holds the event");
    assert!(!contains(&payloads, secret.as_bytes()), "secret in clear on the stream");

    // The database holds it sealed only.
    let stored = database_bytes(&store).await;
    assert!(contains(&stored, b"password_hash"));
    assert!(!contains(&stored, secret.as_bytes()), "secret in clear in the database");
    assert!(
        !contains(&stored, hex::encode(secret.as_bytes()).as_bytes()),
        "secret in hex in the database"
    );

    // It opens, from the stored event.
    let read_back = store.store.read(event.seq, 1).await.unwrap().remove(0);
    let from_log: Sealed<String> = serde_json::from_value(read_back.data["password_hash"].clone()).unwrap();
    assert_eq!(keys.open(&from_log).await.unwrap(), secret);

    // Crypto-shredding: unreadable for good, chain intact.
    assert!(keys.shred("user:alice").await.unwrap());
    assert!(matches!(keys.open(&from_log).await, Err(SealError::Shredded(_))));
    let resealed = keys.seal("user:alice", &"new".to_string()).await.unwrap();
    assert_eq!(keys.open(&resealed).await.unwrap(), "new");
    assert!(
        matches!(keys.open(&from_log).await, Err(SealError::Shredded(_))),
        "a new key does not revive old fields"
    );
    let events = store.store.read(1, 100).await.unwrap();
    ChainVerifier::new().check_all(&events, 1).unwrap();
    let env = NodeEnv {
        data_dir: store.dir.path().to_path_buf(),
        database_url: store.database.as_ref().map(|database| database.url.clone()),
        ..Default::default()
    };
    let verified = env.run(&["verify"]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );

    drop(_guard);
    let logs = logs.0.lock().unwrap().clone();
    assert!(contains(&logs, b"relay started"), "logs were captured");
    assert!(!contains(&logs, secret.as_bytes()), "secret in clear in the logs");
}

async fn stream_payloads(url: &str, prefix: &str) -> Vec<u8> {
    warden_tests::stream_messages(url, prefix)
        .await
        .into_iter()
        .flat_map(|(_, payload)| payload)
        .collect()
}

/// Every byte the database holds for Warden: the SQLite files, or every
/// row of every table as text on PostgreSQL.
async fn database_bytes(store: &TestStore) -> Vec<u8> {
    match &store.database {
        None => {
            let mut bytes = Vec::new();
            for entry in std::fs::read_dir(store.dir.path()).unwrap() {
                let path = entry.unwrap().path();
                if path.to_string_lossy().contains("ledger.sqlite") {
                    bytes.extend(std::fs::read(&path).unwrap());
                }
            }
            bytes
        }
        Some(database) => {
            let mut connection = database.superuser().await;
            let mut bytes = Vec::new();
            for table in [
                "events",
                "data_keys",
                "signing_keys",
                "snapshots",
                "subjects",
                "unique_claims",
            ] {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT t::text FROM {table} t")))
                    .fetch_all(&mut connection)
                    .await
                    .unwrap();
                for row in rows {
                    bytes.extend(row.get::<String, _>(0).into_bytes());
                }
            }
            bytes
        }
    }
}

#[tokio::test]
async fn postgres_sealed_secret_is_nowhere_in_clear() {
    sealed_secret_is_nowhere_in_clear(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_sealed_secret_is_nowhere_in_clear() {
    sealed_secret_is_nowhere_in_clear(Backend::Sqlite).await;
}
