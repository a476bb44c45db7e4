//! A fresh log on one backend, with its signing key installed.

use std::sync::Arc;

use serde_json::json;
use sqlx::Connection;
use warden_core::keys::{Kms, LocalKms};
use warden_core::ledger::postgres::PostgresStore;
use warden_core::ledger::sqlite::SqliteStore;
use warden_core::ledger::{Ledger, LedgerStore};
use warden_core::{Actor, ActorKind, NewEvent};

pub struct Target {
    pub name: String,
    pub store: Arc<dyn LedgerStore>,
    pub ledger: Ledger,
    pub dir: tempfile::TempDir,
    /// PostgreSQL: (admin URL, database name, database URL).
    pub postgres: Option<(String, String, String)>,
}

impl Target {
    pub async fn create(backend: &str) -> Target {
        let dir = tempfile::tempdir().unwrap();
        let (store, postgres): (Arc<dyn LedgerStore>, _) = match backend {
            "postgres" | "postgres-socket" => {
                let admin = if backend == "postgres" {
                    std::env::var("WARDEN_TEST_DATABASE_URL")
                        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
                } else {
                    // The same server through its Unix socket (no TCP, no Nagle).
                    let directory =
                        std::env::var("WARDEN_BENCH_SOCKET_DIR").unwrap_or_else(|_| "/var/run/postgresql".into());
                    format!("postgres://postgres@{}/postgres", directory.replace('/', "%2F"))
                };
                let name = format!("warden_bench_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
                let mut connection = sqlx::PgConnection::connect(&admin).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut connection)
                    .await
                    .unwrap();
                let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
                PostgresStore::migrate(&url).await.unwrap();
                let store = PostgresStore::connect(&url, Some("warden_writer"), 16).await.unwrap();
                (Arc::new(store), Some((admin, name, url)))
            }
            "sqlite" => (
                Arc::new(SqliteStore::open(&dir.path().join("ledger.sqlite")).await.unwrap()),
                None,
            ),
            other => panic!("unknown backend {other}"),
        };
        let ledger = Ledger::new(store.clone());
        let kms: Arc<dyn Kms> = Arc::new(LocalKms::open(&dir.path().join("master.key"), true).unwrap());
        warden_core::keys::signing::establish(&ledger, &kms.clone().into())
            .await
            .unwrap();
        Target {
            name: backend.to_string(),
            store,
            ledger,
            dir,
            postgres,
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let Some((admin, name, _)) = self.postgres.clone() else {
            return;
        };
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                if let Ok(mut connection) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut connection)
                    .await;
                }
            });
        })
        .join();
    }
}

/// A typical sign-in event (~350 bytes canonical).
pub fn sample(n: u64) -> NewEvent {
    NewEvent::new(
        "login.succeeded",
        format!("user:{}", n % 50_000),
        Actor {
            id: Some(format!("u-{}", n % 50_000)),
            org: Some("org-bench".into()),
            ip: Some("203.0.113.7".into()),
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Bench/1.0".into()),
            ..Actor::of_kind(ActorKind::User)
        },
    )
    .request_id(format!("req-{n}"))
    // A `login.succeeded` payload that decodes (read models stop on one
    // that does not), padded to the typical size.
    .data(
        json!({"user": format!("u-{}", n % 50_000), "method": "password", "session": format!("s-{n}"),
                 "identifier": format!("{:032x}", n % 50_000), "attempt": n % 7,
                 "device": {"browser": "Firefox", "os": "Linux"}}),
    )
}
