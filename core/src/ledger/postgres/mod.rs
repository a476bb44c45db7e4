//! The PostgreSQL ledger: the production profile.
//!
//! Appends from every process serialize on one transaction-scoped advisory
//! lock, so the chain stays one line however many nodes write. The server
//! runs as role `warden_writer` (INSERT and SELECT on the log); triggers
//! refuse UPDATE, DELETE and TRUNCATE whoever asks. The log is partitioned
//! by ranges of `seq`, created ahead by `warden_ensure_partitions`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgConnection, Postgres, Row, Transaction};
use tokio::sync::watch;

use crate::chain::Digest;
use crate::event::Event;
use crate::ledger::archive::ArchiveBoundary;
use crate::ledger::rows::EventRow;
use crate::ledger::seal::{SealInput, SealedBatch};
use crate::ledger::{Head, Leader, Lease, LedgerError, LedgerStore, Snapshot};

mod append;
mod keys;
mod leases;
pub mod retention;
mod schema;

use append::{BEGIN_AND_LOCK, SOCKET_STATEMENT_BYTES, TCP_STATEMENT_BYTES, read_state, sign_and_insert};
use leases::COMMITS_CHANNEL;
pub use schema::MIGRATOR;

macro_rules! select_events {
    ($rest:literal) => {
        concat!(
            "SELECT seq, id::text, at, kind, subject, subject_version, actor, request_id, ",
            "outcome, data, prev, hash, key_id, sig FROM events ",
            $rest
        )
    };
}

pub struct PostgresStore {
    pool: PgPool,
    /// First seq beyond the partitions known to exist.
    partitions_end: AtomicU64,
    /// Seqs per partition (`ledger_settings.partition_size`).
    partition_size: AtomicU64,
    /// Largest statement sent at once (see `append::TCP_STATEMENT_BYTES`).
    max_statement_bytes: usize,
}

impl PostgresStore {
    /// Connects; every connection assumes `role` (normally `warden_writer`)
    /// when given, so the server holds only the writer's rights.
    pub async fn connect(url: &str, role: Option<&str>, max_connections: u32) -> Result<Self, LedgerError> {
        let options: PgConnectOptions = url.parse()?;
        let unix_socket = options.get_socket().is_some() || options.get_host().starts_with('/');
        let set_role = role.map(|role| format!("SET ROLE \"{}\"", role.replace('"', "\"\"")));
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |connection, _| {
                let set_role = set_role.clone();
                Box::pin(async move {
                    if let Some(statement) = set_role {
                        sqlx::query(AssertSqlSafe(statement)).execute(&mut *connection).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(PostgresStore {
            pool,
            partitions_end: AtomicU64::new(0),
            partition_size: AtomicU64::new(0),
            max_statement_bytes: if unix_socket {
                SOCKET_STATEMENT_BYTES
            } else {
                TCP_STATEMENT_BYTES
            },
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn ensure_partitions(&self, tx: &mut Transaction<'_, Postgres>, last_seq: u64) -> Result<(), LedgerError> {
        // Once appends enter the last partition, the next one is created,
        // so no append waits on creating the partition it needs.
        let end = self.partitions_end.load(Ordering::Relaxed);
        let size = self.partition_size.load(Ordering::Relaxed);
        if last_seq.saturating_add(size) < end {
            return Ok(());
        }
        let (end, size): (i64, i64) = sqlx::query_as(
            "SELECT warden_ensure_partitions($1), \
             (SELECT value FROM ledger_settings WHERE name = 'partition_size')",
        )
        .bind(last_seq as i64)
        .fetch_one(&mut **tx)
        .await?;
        self.partitions_end.store(end as u64, Ordering::Relaxed);
        self.partition_size.store(size as u64, Ordering::Relaxed);
        Ok(())
    }
}

fn row_to_event(row: sqlx::postgres::PgRow) -> Result<Event, LedgerError> {
    EventRow {
        seq: row.try_get(0)?,
        id: row.try_get(1)?,
        at: row.try_get(2)?,
        kind: row.try_get(3)?,
        subject: row.try_get(4)?,
        subject_version: row.try_get(5)?,
        actor: row.try_get(6)?,
        request_id: row.try_get(7)?,
        outcome: row.try_get(8)?,
        data: row.try_get(9)?,
        prev: row.try_get(10)?,
        hash: row.try_get(11)?,
        key_id: row.try_get(12)?,
        sig: row.try_get(13)?,
    }
    .into_event()
}

async fn read_head(connection: &mut PgConnection) -> Result<Head, LedgerError> {
    let row: Option<(i64, Vec<u8>)> = sqlx::query_as("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")
        .fetch_optional(connection)
        .await?;
    Ok(match row {
        None => Head::EMPTY,
        Some((seq, hash)) => Head {
            seq: seq as u64,
            hash: Digest::from_slice(&hash).ok_or(LedgerError::Corrupt {
                seq: seq as u64,
                reason: "hash is not 32 bytes".into(),
            })?,
        },
    })
}

#[async_trait]
impl LedgerStore for PostgresStore {
    /// Four round trips in the common case: begin + lock; read head,
    /// versions and claims; insert everything; commit.
    async fn commit(&self, input: SealInput<'_>) -> Result<SealedBatch, LedgerError> {
        let mut tx = self.pool.begin_with(BEGIN_AND_LOCK).await?;
        let (head, versions, taken) = read_state(&mut tx, &input).await?;
        let mut sealed = input.seal_unsigned(head, &versions, &taken);
        let Some(last_seq) = sealed.last_seq() else {
            tx.rollback().await?;
            return Ok(sealed);
        };
        self.ensure_partitions(&mut tx, last_seq).await?;
        sign_and_insert(&mut tx, &input, &mut sealed, self.max_statement_bytes).await?;
        // Delivered to the listeners when (and only if) this commits.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(COMMITS_CHANNEL)
            .bind(last_seq.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(sealed)
    }

    async fn read(&self, from: u64, limit: usize) -> Result<Vec<Event>, LedgerError> {
        let rows = sqlx::query(select_events!("WHERE seq >= $1 ORDER BY seq LIMIT $2"))
            .bind(from as i64)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(row_to_event).collect()
    }

    async fn read_seqs(&self, seqs: &[u64]) -> Result<Vec<Event>, LedgerError> {
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<i64> = seqs.iter().map(|&seq| seq as i64).collect();
        let rows = sqlx::query(select_events!("WHERE seq = ANY($1) ORDER BY seq"))
            .bind(wanted)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(row_to_event).collect()
    }

    async fn head(&self) -> Result<Head, LedgerError> {
        let mut connection = self.pool.acquire().await?;
        read_head(&mut connection).await
    }

    async fn latest_kms_event(&self) -> Result<Option<Event>, LedgerError> {
        let row = sqlx::query(select_events!(
            "WHERE subject = 'kms' ORDER BY subject_version DESC LIMIT 1"
        ))
        .fetch_optional(&self.pool)
        .await?;
        row.map(row_to_event).transpose()
    }

    async fn latest_signing_key_event(&self) -> Result<Option<Event>, LedgerError> {
        let row = sqlx::query(select_events!(
            "WHERE subject = 'ledger' AND kind = 'signing_key.added' ORDER BY subject_version DESC LIMIT 1"
        ))
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => row_to_event(row).map(Some),
            // Every announcement was archived: the database keeps them.
            None => self.archived_signing_key_event().await,
        }
    }

    async fn archive_boundary(&self) -> Result<Option<ArchiveBoundary>, LedgerError> {
        self.latest_archive().await
    }

    async fn archived_hashes(&self) -> Result<Vec<Digest>, LedgerError> {
        self.all_archived_hashes().await
    }

    async fn ping(&self) -> Result<(), LedgerError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn claim_holder(&self, namespace: &str, value: &str) -> Result<Option<u64>, LedgerError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM unique_claims WHERE namespace = $1 AND value = $2")
            .bind(namespace)
            .bind(value)
            .fetch_optional(&self.pool)
            .await?;
        Ok(seq.and_then(|seq| u64::try_from(seq).ok()))
    }

    async fn load_snapshot(&self, name: &str) -> Result<Option<Snapshot>, LedgerError> {
        let row: Option<(i32, i64, Vec<u8>)> =
            sqlx::query_as("SELECT version, seq, state FROM snapshots WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(version, seq, state)| Snapshot {
            name: name.to_string(),
            version: version as u32,
            seq: seq as u64,
            state,
        }))
    }

    async fn save_snapshots(&self, snapshots: &[Snapshot]) -> Result<(), LedgerError> {
        let mut tx = self.pool.begin().await?;
        for snapshot in snapshots {
            sqlx::query(
                "INSERT INTO snapshots (name, version, seq, state, saved_at) VALUES ($1, $2, $3, $4, now()) \
                 ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, seq = EXCLUDED.seq, \
                 state = EXCLUDED.state, saved_at = EXCLUDED.saved_at",
            )
            .bind(&snapshot.name)
            .bind(snapshot.version as i32)
            .bind(snapshot.seq as i64)
            .bind(&snapshot.state)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn follow_commits(&self, into: Arc<watch::Sender<u64>>) {
        leases::follow_commits(&self.pool, into).await
    }

    async fn try_lease(&self, leader: Leader) -> Result<Option<Box<dyn Lease>>, LedgerError> {
        leases::try_lease(&self.pool, leader).await
    }
}
