//! Shared harness of Warden's integration tests: throwaway PostgreSQL
//! databases, uniquely named NATS streams, private NATS servers that a test
//! can stop and restart, and `warden` server processes.
//!
//! Environment (set by `tools/test-env.sh`): `WARDEN_TEST_DATABASE_URL`,
//! `WARDEN_TEST_NATS_URL`, `WARDEN_NATS_SERVER`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod audit;
pub mod browser;
pub mod checkpoints;
pub mod coverage;
pub mod email;
pub mod exports;
pub mod keys;
pub mod kms;
pub mod mfa;
pub mod oidc;
pub mod passkeys;
pub mod peers;
pub mod process;
pub mod small_fs;
pub mod tcp_cut;
pub mod vault;
pub mod web;

use std::sync::Arc;

use sqlx::Connection;
use warden_core::bus::Bus;
use warden_core::bus::local::LocalBus;
use warden_core::bus::nats::NatsBus;
use warden_core::keys::{Kms, LocalKms};
use warden_core::ledger::postgres::PostgresStore;
use warden_core::ledger::sqlite::SqliteStore;
use warden_core::ledger::{Ledger, LedgerStore};

pub fn admin_url() -> String {
    std::env::var("WARDEN_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn nats_url() -> String {
    std::env::var("WARDEN_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// What a production node runs on: a fresh database, a NATS stream, and
/// a data directory, with the environment that names them.
pub struct Production {
    pub database: TestDatabase,
    pub stream: TestStream,
    pub dir: tempfile::TempDir,
    pub env: process::NodeEnv,
}

impl Production {
    pub async fn new() -> Production {
        let database = TestDatabase::create().await;
        let stream = TestStream::new();
        let dir = tempfile::tempdir().unwrap();
        let env = process::NodeEnv::production(dir.path(), &database.url, &stream.url, &stream.prefix);
        Production {
            database,
            stream,
            dir,
            env,
        }
    }
}

/// A throwaway PostgreSQL database, dropped when this is dropped.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let name = unique("warden_test_");
        let admin = admin_url();
        let mut connection = sqlx::PgConnection::connect(&admin)
            .await
            .expect("PostgreSQL reachable (tools/test-env.sh)");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut connection)
            .await
            .unwrap();
        let base = admin.rsplit_once('/').unwrap().0;
        TestDatabase {
            url: format!("{base}/{name}"),
            name,
        }
    }

    /// A connection as the superuser (for tampering and inspection).
    pub async fn superuser(&self) -> sqlx::PgConnection {
        sqlx::PgConnection::connect(&self.url).await.unwrap()
    }

    /// A migrated store whose connections run as `warden_writer`.
    pub async fn store(&self) -> Arc<PostgresStore> {
        PostgresStore::migrate(&self.url).await.unwrap();
        Arc::new(
            PostgresStore::connect(&self.url, Some("warden_writer"), 8)
                .await
                .unwrap(),
        )
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin = admin_url();
        clean_up(async move {
            if let Ok(mut connection) = sqlx::PgConnection::connect(&admin).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut connection)
                .await;
            }
        });
    }
}

/// Runs a clean-up from `Drop` (maybe inside a runtime) on a thread of its
/// own, and waits for it.
fn clean_up(work: impl std::future::Future<Output = ()> + Send + 'static) {
    let _ = std::thread::spawn(move || {
        if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
            runtime.block_on(work);
        }
    })
    .join();
}

/// Which log a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A store of either backend with what keeps it alive.
pub struct TestStore {
    pub store: Arc<dyn LedgerStore>,
    pub database: Option<TestDatabase>,
    pub dir: tempfile::TempDir,
}

impl TestStore {
    pub async fn open(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Postgres => {
                let database = TestDatabase::create().await;
                let store: Arc<dyn LedgerStore> = database.store().await;
                TestStore {
                    store,
                    database: Some(database),
                    dir,
                }
            }
            Backend::Sqlite => {
                let store: Arc<dyn LedgerStore> =
                    Arc::new(SqliteStore::open(&dir.path().join("ledger.sqlite")).await.unwrap());
                TestStore {
                    store,
                    database: None,
                    dir,
                }
            }
        }
    }

    pub fn kms(&self) -> Arc<dyn Kms> {
        Arc::new(LocalKms::open(&self.dir.path().join("master.key"), true).unwrap())
    }

    /// A ledger with its signing key installed (genesis appended).
    pub async fn ledger(&self) -> Ledger {
        let ledger = Ledger::new(self.store.clone());
        warden_core::keys::signing::establish(&ledger, &self.kms().into())
            .await
            .unwrap();
        ledger
    }
}

/// A uniquely named JetStream stream on the shared test server, deleted
/// when dropped.
pub struct TestStream {
    pub prefix: String,
    pub url: String,
}

impl TestStream {
    pub fn new() -> Self {
        TestStream {
            prefix: unique("t"),
            url: nats_url(),
        }
    }

    pub async fn bus(&self) -> Arc<NatsBus> {
        Arc::new(NatsBus::connect(&self.url, &self.prefix).await.unwrap())
    }
}

impl Default for TestStream {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestStream {
    fn drop(&mut self) {
        let (url, stream) = (self.url.clone(), format!("{}_EVENTS", self.prefix.to_ascii_uppercase()));
        clean_up(async move {
            if let Ok(client) = async_nats::connect(&url).await {
                let _ = async_nats::jetstream::new(client).delete_stream(&stream).await;
            }
        });
    }
}

/// Which bus a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusKind {
    Nats,
    Local,
}

pub struct TestBus {
    pub bus: Arc<dyn Bus>,
    pub stream: Option<TestStream>,
}

impl TestBus {
    pub async fn open(kind: BusKind) -> Self {
        match kind {
            BusKind::Nats => {
                let stream = TestStream::new();
                let bus: Arc<dyn Bus> = stream.bus().await;
                TestBus {
                    bus,
                    stream: Some(stream),
                }
            }
            BusKind::Local => TestBus {
                bus: Arc::new(LocalBus::default()),
                stream: None,
            },
        }
    }
}

/// Every message of a JetStream stream: (stream sequence, payload).
pub async fn stream_messages(url: &str, prefix: &str) -> Vec<(u64, Vec<u8>)> {
    use futures::StreamExt;
    let client = async_nats::connect(url).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    let mut stream = jetstream
        .get_stream(format!("{}_EVENTS", prefix.to_ascii_uppercase()))
        .await
        .unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    if last == 0 {
        return Vec::new();
    }
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig {
            deliver_policy: async_nats::jetstream::consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut contents = Vec::new();
    while let Some(message) = messages.next().await {
        let message = message.unwrap();
        let stream_sequence = message.info().unwrap().stream_sequence;
        contents.push((stream_sequence, message.payload.to_vec()));
        if stream_sequence >= last {
            break;
        }
    }
    contents
}

/// Every message of a JetStream stream: (stream sequence, event seq).
pub async fn stream_contents(url: &str, prefix: &str) -> Vec<(u64, u64)> {
    stream_messages(url, prefix)
        .await
        .into_iter()
        .map(|(stream_sequence, payload)| {
            let event: warden_core::Event = serde_json::from_slice(&payload).unwrap();
            (stream_sequence, event.seq)
        })
        .collect()
}

/// Asserts the log runs gapless from seq 1 and holds every acknowledged
/// append unchanged: (seq, hash) as the server answered it.
/// Appends application event `n` of `kind` on subject `<prefix>:<n>`,
/// with `data` beside `n` (the outage tests' load).
pub async fn append_app_event(
    client: &reqwest::Client,
    server: &process::Server,
    (kind, prefix): (&str, &str),
    n: u64,
    data: serde_json::Value,
) -> reqwest::Response {
    let mut data = data;
    data["n"] = serde_json::json!(n);
    client
        .post(format!("{}/api/v1/app-events", server.url))
        .bearer_auth(process::TOKEN)
        .json(&serde_json::json!({"kind": kind, "subject": format!("{prefix}:{n}"), "data": data}))
        .send()
        .await
        .unwrap()
}

/// The `(seq, hash)` an acknowledged append answered.
pub async fn acknowledged(response: reqwest::Response) -> (u64, String) {
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    (
        body["seq"].as_u64().unwrap(),
        body["hash"].as_str().unwrap().to_string(),
    )
}

pub fn assert_log_keeps(acknowledged: &[(u64, String)], log: &[warden_core::Event]) {
    for (index, event) in log.iter().enumerate() {
        assert_eq!(event.seq, index as u64 + 1, "the log has a gap");
    }
    let by_seq: std::collections::HashMap<u64, String> =
        log.iter().map(|event| (event.seq, event.hash.to_hex())).collect();
    for (seq, hash) in acknowledged {
        assert_eq!(by_seq.get(seq), Some(hash), "acknowledged seq {seq} lost or changed");
    }
}

/// Waits up to 30 s for the relay to publish `head`, then asserts the
/// stream holds seqs 1..=head once each, in order, stream sequence = seq.
/// `context` (a server log) is shown if it does not.
pub async fn assert_stream_complete(url: &str, prefix: &str, head: u64, context: impl Fn() -> String) {
    use warden_core::bus::Bus;
    let bus = NatsBus::connect(url, prefix).await.unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while bus.last_published().await.unwrap_or(0) < head {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the relay did not catch up:\n{}",
            context()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let contents = stream_contents(url, prefix).await;
    assert_eq!(
        contents,
        (1..=head).map(|seq| (seq, seq)).collect::<Vec<_>>(),
        "in order, no gap, no duplicate"
    );
}
