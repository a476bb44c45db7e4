//! The SQLite ledger: the embedded profile, one file in the data directory.
//!
//! Appends run in `BEGIN IMMEDIATE` transactions (SQLite's write lock
//! serializes them across processes); WAL with `synchronous = FULL` so an
//! acknowledged append survives a crash. Triggers refuse UPDATE and DELETE.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Connection, Row, Sqlite, SqliteConnection};

use super::rows::EventRow;
use super::seal::{SealInput, SealedBatch};
use super::{Head, Leader, Lease, LedgerError, LedgerStore, Snapshot, StoredDataKey};
use crate::chain::Digest;
use crate::event::{Event, timestamp};

mod append;
mod keys;

use append::commit_on;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

macro_rules! select_events {
    ($rest:literal) => {
        concat!(
            "SELECT seq, id, at, kind, subject, subject_version, actor, request_id, ",
            "outcome, data, prev, hash, key_id, sig FROM events ",
            $rest
        )
    };
}

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the ledger file and migrates it.
    pub async fn open(path: &Path) -> Result<Self, LedgerError> {
        Self::open_with(path, true).await
    }

    /// Opens an existing ledger file; refuses a path that holds none.
    pub async fn open_existing(path: &Path) -> Result<Self, LedgerError> {
        if !path.exists() {
            return Err(LedgerError::NotFound(path.display().to_string()));
        }
        Self::open_with(path, false).await
    }

    async fn open_with(path: &Path, create: bool) -> Result<Self, LedgerError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| read_only(parent, error))?;
            check_writable(parent)?;
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    pub async fn migrate_down(&self) -> Result<(), LedgerError> {
        MIGRATOR.undo(&self.pool, 0).await?;
        Ok(())
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// SQLite says only "unable to open database file" on a read-only
/// directory: find out first, and say so.
fn check_writable(dir: &Path) -> Result<(), LedgerError> {
    let probe = dir.join(format!(".warden-write-check-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .map_err(|error| read_only(dir, error))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

fn read_only(dir: &Path, error: std::io::Error) -> LedgerError {
    match error.kind() {
        std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied => {
            LedgerError::ReadOnly(dir.display().to_string())
        }
        _ => LedgerError::Database(sqlx::Error::Io(error)),
    }
}

fn row_to_event(row: sqlx::sqlite::SqliteRow) -> Result<Event, LedgerError> {
    let seq: i64 = row.try_get(0)?;
    let at: String = row.try_get(2)?;
    EventRow {
        seq,
        id: row.try_get(1)?,
        at: timestamp::parse(&at).ok_or(LedgerError::Corrupt {
            seq: seq as u64,
            reason: "at is not an RFC 3339 UTC time with six fractional digits".into(),
        })?,
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

async fn read_head(connection: &mut sqlx::SqliteConnection) -> Result<Head, LedgerError> {
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

async fn save_snapshots_on(connection: &mut SqliteConnection, snapshots: &[Snapshot]) -> Result<(), LedgerError> {
    let mut tx = connection.begin().await?;
    for snapshot in snapshots {
        sqlx::query(
            "INSERT INTO snapshots (name, version, seq, state) VALUES (?, ?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET version = excluded.version, seq = excluded.seq, \
             state = excluded.state, saved_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        )
        .bind(&snapshot.name)
        .bind(snapshot.version as i64)
        .bind(snapshot.seq as i64)
        .bind(&snapshot.state)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn insert_new_data_keys_on(connection: &mut SqliteConnection, keys: &[StoredDataKey]) -> Result<(), LedgerError> {
    let mut tx = connection.begin().await?;
    for key in keys {
        sqlx::query("INSERT INTO data_keys (subject, key_id, wrapped, kms_key_ref) VALUES (?, ?, ?, ?)")
            .bind(&key.subject)
            .bind(&key.key_id)
            .bind(&key.wrapped)
            .bind(&key.kms_key_ref)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn probe_on(connection: &mut SqliteConnection) -> Result<(), LedgerError> {
    let mut tx = connection.begin_with("BEGIN IMMEDIATE").await?;
    let version: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&mut *tx).await?;
    sqlx::query(AssertSqlSafe(format!("PRAGMA user_version = {version}")))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// After a failed transaction the connection may still be inside it (a
/// COMMIT that failed for lack of space leaves SQLite and sqlx disagreeing
/// on whether a transaction is open): close it rather than return it to
/// the pool, so the next append starts on a clean connection.
fn discard_if_failed<T>(mut connection: PoolConnection<Sqlite>, result: &Result<T, LedgerError>) {
    if result.is_err() {
        connection.close_on_drop();
    }
}

#[async_trait]
impl LedgerStore for SqliteStore {
    async fn commit(&self, input: SealInput<'_>) -> Result<SealedBatch, LedgerError> {
        let mut connection = self.pool.acquire().await?;
        let result = commit_on(&mut connection, input).await;
        discard_if_failed(connection, &result);
        result
    }

    async fn read(&self, from: u64, limit: usize) -> Result<Vec<Event>, LedgerError> {
        let rows = sqlx::query(select_events!("WHERE seq >= ? ORDER BY seq LIMIT ?"))
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
        let wanted = format!("[{}]", seqs.iter().map(u64::to_string).collect::<Vec<_>>().join(","));
        let rows = sqlx::query(select_events!(
            "WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq"
        ))
        .bind(wanted)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(row_to_event).collect()
    }

    async fn head(&self) -> Result<Head, LedgerError> {
        let mut connection = self.pool.acquire().await?;
        read_head(&mut connection).await
    }

    /// A write transaction that rewrites the header page (its user
    /// version, unchanged): it fails where an append would for lack of
    /// space, which a read does not show.
    async fn probe(&self) -> Result<(), LedgerError> {
        let mut connection = self.pool.acquire().await?;
        let result = probe_on(&mut connection).await;
        discard_if_failed(connection, &result);
        result
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
        row.map(row_to_event).transpose()
    }

    async fn ping(&self) -> Result<(), LedgerError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn claim_holder(&self, namespace: &str, value: &str) -> Result<Option<u64>, LedgerError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM unique_claims WHERE namespace = ? AND value = ?")
            .bind(namespace)
            .bind(value)
            .fetch_optional(&self.pool)
            .await?;
        Ok(seq.and_then(|seq| u64::try_from(seq).ok()))
    }

    async fn load_snapshot(&self, name: &str) -> Result<Option<Snapshot>, LedgerError> {
        let row: Option<(i64, i64, Vec<u8>)> =
            sqlx::query_as("SELECT version, seq, state FROM snapshots WHERE name = ?")
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
        let mut connection = self.pool.acquire().await?;
        let result = save_snapshots_on(&mut connection, snapshots).await;
        discard_if_failed(connection, &result);
        result
    }

    /// The embedded profile runs one node: its relay always holds the lease.
    async fn try_lease(&self, _leader: Leader) -> Result<Option<Box<dyn Lease>>, LedgerError> {
        Ok(Some(Box::new(LocalLease)))
    }
}

struct LocalLease;

#[async_trait]
impl Lease for LocalLease {
    async fn still_held(&mut self) -> bool {
        true
    }
}
