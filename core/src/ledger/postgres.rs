//! The PostgreSQL ledger: the production profile.
//!
//! Appends from every process serialize on one transaction-scoped advisory
//! lock, so the chain stays one line however many nodes write. The server
//! runs as role `warden_writer` (INSERT and SELECT on the log); triggers
//! refuse UPDATE, DELETE and TRUNCATE whoever asks. The log is partitioned
//! by ranges of `seq`, created ahead by `warden_ensure_partitions`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection, Postgres, Row, Transaction};

use super::rows::{EventColumns, EventRow};
use super::seal::{SealInput, SealedBatch};
use super::{Head, LedgerError, LedgerStore, RelayLease, Snapshot, StoredDataKey, StoredSigningKey};
use crate::chain::{Digest, LEDGER_SUBJECT, SIGNING_KEY_ADDED};
use crate::event::{Event, UniqueClaim};

/// Statements are kept below the kernel's initial TCP send buffer (16 KiB
/// on Linux): sqlx cannot set `TCP_NODELAY`, and a statement the kernel
/// sends in two parts waits on Nagle and delayed ACK for 40 ms.
const MAX_STATEMENT_BYTES: usize = 12 * 1024;

/// Opens the append transaction and takes the transaction-scoped advisory
/// lock that serializes appends, in one round trip. The key is
/// 0x5741_5244_454E_0001 ("WARDEN\0\1").
const BEGIN_AND_LOCK: &str = "BEGIN; SELECT pg_advisory_xact_lock(6287397007959916545)";
/// `pg_try_advisory_lock` key held by the one relay ("WARDEN\0\2").
const RELAY_LOCK: i64 = 0x5741_5244_454E_0002;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

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
}

impl PostgresStore {
    /// Connects; every connection assumes `role` (normally `warden_writer`)
    /// when given, so the server holds only the writer's rights.
    pub async fn connect(url: &str, role: Option<&str>, max_connections: u32) -> Result<Self, LedgerError> {
        let options: PgConnectOptions = url.parse()?;
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
        })
    }

    /// Applies the migrations (needs the schema owner's rights).
    pub async fn migrate(url: &str) -> Result<(), LedgerError> {
        let mut connection = PgConnection::connect(url).await?;
        MIGRATOR.run(&mut connection).await?;
        Ok(())
    }

    /// Applies the migrations unless the schema is already current, so a
    /// node whose login holds only the writer's rights starts on a schema
    /// the owner migrated (`warden migrate`).
    pub async fn migrate_if_needed(url: &str) -> Result<(), LedgerError> {
        let mut connection = PgConnection::connect(url).await?;
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&mut connection)
            .await?;
        let applied: Vec<i64> = if exists {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&mut connection)
                .await?
        } else {
            Vec::new()
        };
        let current = MIGRATOR
            .iter()
            .filter(|migration| !migration.migration_type.is_down_migration())
            .all(|migration| applied.contains(&migration.version));
        if current {
            return Ok(());
        }
        MIGRATOR.run(&mut connection).await.map_err(|error| match &error {
            sqlx::migrate::MigrateError::Execute(sqlx::Error::Database(database))
                if database.code().as_deref() == Some("42501") =>
            {
                LedgerError::MigrationNeeded(format!(
                    "the schema needs migrations this login may not apply ({database}); \
                     run `warden migrate` with the owner's DATABASE_URL"
                ))
            }
            _ => LedgerError::Migration(error),
        })
    }

    pub async fn migrate_down(url: &str) -> Result<(), LedgerError> {
        let mut connection = PgConnection::connect(url).await?;
        MIGRATOR.undo(&mut connection, 0).await?;
        Ok(())
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

/// Under the lock, in one round trip: the head, the current versions of
/// the batch's subjects, and which of its claims are taken.
async fn read_state(
    tx: &mut Transaction<'_, Postgres>,
    input: &SealInput<'_>,
) -> Result<(Head, HashMap<String, u64>, HashSet<UniqueClaim>), LedgerError> {
    let subjects = input.subjects();
    let claims = input.claims();
    let namespaces: Vec<&str> = claims.iter().map(|c| c.namespace.as_str()).collect();
    let values: Vec<&str> = claims.iter().map(|c| c.value.as_str()).collect();
    let rows: Vec<(String, Option<String>, Option<String>, Option<i64>, Option<Vec<u8>>)> = sqlx::query_as(
        "(SELECT 'head', NULL::text, NULL::text, seq, hash FROM events ORDER BY seq DESC LIMIT 1) \
         UNION ALL \
         SELECT 'version', subject, NULL, version, NULL FROM subjects WHERE subject = ANY($1) \
         UNION ALL \
         SELECT 'claim', c.namespace, c.value, NULL, NULL FROM unique_claims c \
         JOIN UNNEST($2::text[], $3::text[]) AS wanted(namespace, value) \
         ON c.namespace = wanted.namespace AND c.value = wanted.value",
    )
    .bind(&subjects)
    .bind(&namespaces)
    .bind(&values)
    .fetch_all(&mut **tx)
    .await?;
    let mut head = Head::EMPTY;
    let mut versions = HashMap::new();
    let mut taken = HashSet::new();
    for (tag, name, value, number, hash) in rows {
        match (tag.as_str(), name, value, number, hash) {
            ("head", _, _, Some(seq), Some(hash)) => {
                head = Head {
                    seq: seq as u64,
                    hash: Digest::from_slice(&hash).ok_or(LedgerError::Corrupt {
                        seq: seq as u64,
                        reason: "hash is not 32 bytes".into(),
                    })?,
                }
            }
            ("version", Some(subject), _, Some(version), _) => {
                versions.insert(subject, version as u64);
            }
            ("claim", Some(namespace), Some(value), _, _) => {
                taken.insert(UniqueClaim { namespace, value });
            }
            _ => {}
        }
    }
    Ok((head, versions, taken))
}

/// Inserts a sealed batch: one statement when it fits in
/// `MAX_STATEMENT_BYTES` (events, subject versions and claims together),
/// otherwise one statement per part.
async fn insert(tx: &mut Transaction<'_, Postgres>, sealed: &SealedBatch) -> Result<(), LedgerError> {
    let mut events = EventColumns::of(sealed.events()).split(MAX_STATEMENT_BYTES);
    let side_bytes = sealed
        .versions
        .iter()
        .map(|(subject, _)| subject.len() + 16)
        .sum::<usize>()
        + sealed
            .claims
            .iter()
            .map(|(c, _)| c.namespace.len() + c.value.len() + 16)
            .sum::<usize>();
    let together = events.len() == 1 && side_bytes < MAX_STATEMENT_BYTES / 4;
    let last = if together { events.pop() } else { None };
    for part in &events {
        bind_events(sqlx::query(INSERT_EVENTS), part).execute(&mut **tx).await?;
    }
    if let Some(part) = last {
        let (subjects, versions) = version_columns(&sealed.versions);
        let (namespaces, values, seqs) = claim_columns(&sealed.claims);
        bind_events(sqlx::query(INSERT_ALL), &part)
            .bind(&subjects)
            .bind(&versions)
            .bind(&namespaces)
            .bind(&values)
            .bind(&seqs)
            .execute(&mut **tx)
            .await?;
        return Ok(());
    }
    for versions in sealed.versions.chunks(MAX_STATEMENT_BYTES / 64) {
        let (subjects, versions) = version_columns(versions);
        sqlx::query(INSERT_VERSIONS)
            .bind(&subjects)
            .bind(&versions)
            .execute(&mut **tx)
            .await?;
    }
    for claims in sealed.claims.chunks(MAX_STATEMENT_BYTES / 128) {
        let (namespaces, values, seqs) = claim_columns(claims);
        sqlx::query(INSERT_CLAIMS)
            .bind(&namespaces)
            .bind(&values)
            .bind(&seqs)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

macro_rules! insert_events {
    () => {
        "INSERT INTO events (seq, id, at, kind, subject, subject_version, actor, request_id, outcome, \
         data, prev, hash, key_id, sig) \
         SELECT * FROM UNNEST($1::int8[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], \
         $6::int8[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bytea[], $12::bytea[], \
         $13::text[], $14::bytea[])"
    };
}

const INSERT_EVENTS: &str = insert_events!();
const INSERT_VERSIONS: &str = "INSERT INTO subjects (subject, version) SELECT * FROM UNNEST($1::text[], $2::int8[]) \
     ON CONFLICT (subject) DO UPDATE SET version = EXCLUDED.version";
const INSERT_CLAIMS: &str = "INSERT INTO unique_claims (namespace, value, seq) \
     SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[])";
/// Data-modifying CTEs all run, referenced or not.
const INSERT_ALL: &str = concat!(
    "WITH inserted AS (",
    insert_events!(),
    "), versioned AS (INSERT INTO subjects (subject, version) SELECT * FROM UNNEST($15::text[], $16::int8[]) \
     ON CONFLICT (subject) DO UPDATE SET version = EXCLUDED.version), \
     claimed AS (INSERT INTO unique_claims (namespace, value, seq) \
     SELECT * FROM UNNEST($17::text[], $18::text[], $19::int8[])) \
     SELECT 1"
);

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

fn bind_events<'q>(query: PgQuery<'q>, c: &'q EventColumns) -> PgQuery<'q> {
    query
        .bind(&c.seq)
        .bind(&c.id)
        .bind(&c.at)
        .bind(&c.kind)
        .bind(&c.subject)
        .bind(&c.subject_version)
        .bind(&c.actor)
        .bind(&c.request_id)
        .bind(&c.outcome)
        .bind(&c.data)
        .bind(&c.prev)
        .bind(&c.hash)
        .bind(&c.key_id)
        .bind(&c.sig)
}

fn version_columns(versions: &[(String, u64)]) -> (Vec<&str>, Vec<i64>) {
    versions
        .iter()
        .map(|(subject, version)| (subject.as_str(), *version as i64))
        .unzip()
}

fn claim_columns(claims: &[(UniqueClaim, u64)]) -> (Vec<&str>, Vec<&str>, Vec<i64>) {
    (
        claims.iter().map(|(c, _)| c.namespace.as_str()).collect(),
        claims.iter().map(|(c, _)| c.value.as_str()).collect(),
        claims.iter().map(|(_, seq)| *seq as i64).collect(),
    )
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
        let sealed = input.seal(head, &versions, &taken);
        let Some(last_seq) = sealed.last_seq() else {
            tx.rollback().await?;
            return Ok(sealed);
        };
        self.ensure_partitions(&mut tx, last_seq).await?;
        insert(&mut tx, &sealed).await?;
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

    async fn head(&self) -> Result<Head, LedgerError> {
        let mut connection = self.pool.acquire().await?;
        read_head(&mut connection).await
    }

    async fn latest_signing_key_event(&self) -> Result<Option<Event>, LedgerError> {
        let row = sqlx::query(select_events!(
            "WHERE subject = $1 AND kind = $2 ORDER BY subject_version DESC LIMIT 1"
        ))
        .bind(LEDGER_SUBJECT)
        .bind(SIGNING_KEY_ADDED)
        .fetch_optional(&self.pool)
        .await?;
        row.map(row_to_event).transpose()
    }

    async fn ping(&self) -> Result<(), LedgerError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
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

    async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<(), LedgerError> {
        sqlx::query(
            "INSERT INTO signing_keys (key_id, public_key, wrapped_secret, kms_key_ref) VALUES ($1, $2, $3, $4)",
        )
        .bind(&key.key_id)
        .bind(&key.public_key)
        .bind(&key.wrapped_secret)
        .bind(&key.kms_key_ref)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn signing_key(&self, key_id: &str) -> Result<Option<StoredSigningKey>, LedgerError> {
        let row: Option<(Vec<u8>, Vec<u8>, String)> =
            sqlx::query_as("SELECT public_key, wrapped_secret, kms_key_ref FROM signing_keys WHERE key_id = $1")
                .bind(key_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(public_key, wrapped_secret, kms_key_ref)| StoredSigningKey {
            key_id: key_id.to_string(),
            public_key,
            wrapped_secret,
            kms_key_ref,
        }))
    }

    async fn insert_data_key(&self, key: &StoredDataKey) -> Result<StoredDataKey, LedgerError> {
        sqlx::query(
            "INSERT INTO data_keys (subject, key_id, wrapped, kms_key_ref) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (subject) DO NOTHING",
        )
        .bind(&key.subject)
        .bind(&key.key_id)
        .bind(&key.wrapped)
        .bind(&key.kms_key_ref)
        .execute(&self.pool)
        .await?;
        self.data_key(&key.subject).await?.ok_or(LedgerError::Corrupt {
            seq: 0,
            reason: format!("data key of {} vanished while it was created", key.subject),
        })
    }

    async fn data_key(&self, subject: &str) -> Result<Option<StoredDataKey>, LedgerError> {
        let row: Option<(String, Vec<u8>, String)> =
            sqlx::query_as("SELECT key_id, wrapped, kms_key_ref FROM data_keys WHERE subject = $1")
                .bind(subject)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(key_id, wrapped, kms_key_ref)| StoredDataKey {
            subject: subject.to_string(),
            key_id,
            wrapped,
            kms_key_ref,
        }))
    }

    async fn shred_data_key(&self, subject: &str) -> Result<bool, LedgerError> {
        let result = sqlx::query("DELETE FROM data_keys WHERE subject = $1")
            .bind(subject)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    async fn try_relay_lease(&self) -> Result<Option<Box<dyn RelayLease>>, LedgerError> {
        let mut connection = self.pool.acquire().await?;
        let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(RELAY_LOCK)
            .fetch_one(&mut *connection)
            .await?;
        if held {
            // The lock lives as long as this connection: take it out of the pool.
            Ok(Some(Box::new(PostgresLease {
                connection: connection.detach(),
            })))
        } else {
            Ok(None)
        }
    }
}

/// A session-level advisory lock on a dedicated connection: released by
/// PostgreSQL as soon as the connection ends, whatever happens to us.
struct PostgresLease {
    connection: PgConnection,
}

#[async_trait]
impl RelayLease for PostgresLease {
    async fn still_held(&mut self) -> bool {
        self.connection.ping().await.is_ok()
    }
}
