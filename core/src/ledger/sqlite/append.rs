//! The append path: one batch in one `BEGIN IMMEDIATE` transaction.

use std::collections::{HashMap, HashSet};

use sqlx::{Connection, QueryBuilder, Sqlite, SqliteConnection};

use super::read_head;
use crate::event::{Event, UniqueClaim, timestamp};
use crate::ledger::LedgerError;
use crate::ledger::rows::EventColumns;
use crate::ledger::seal::{SealInput, SealedBatch};

/// SQLite allows 32,766 bound parameters per statement; 14 per event row.
const PARAMETERS_PER_INSERT: usize = 28_000;

/// One append in a `BEGIN IMMEDIATE` transaction on `connection`.
pub(super) async fn commit_on(
    connection: &mut SqliteConnection,
    input: SealInput<'_>,
) -> Result<SealedBatch, LedgerError> {
    let mut tx = connection.begin_with("BEGIN IMMEDIATE").await?;
    let head = read_head(&mut tx).await?;

    let mut versions = HashMap::new();
    for subject in input.subjects() {
        let version: Option<i64> = sqlx::query_scalar("SELECT version FROM subjects WHERE subject = ?")
            .bind(&subject)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(version) = version {
            versions.insert(subject, version as u64);
        }
    }
    let mut taken = HashSet::new();
    for claim in input.claims() {
        let exists: Option<i64> = sqlx::query_scalar("SELECT seq FROM unique_claims WHERE namespace = ? AND value = ?")
            .bind(&claim.namespace)
            .bind(&claim.value)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            taken.insert(UniqueClaim { ..claim });
        }
    }

    let sealed = input.seal(head, &versions, &taken);
    if sealed.last_seq().is_none() {
        tx.rollback().await?;
        return Ok(sealed);
    }
    let events: Vec<&Event> = sealed.events().collect();
    for chunk in events.chunks(PARAMETERS_PER_INSERT / 14) {
        let c = EventColumns::of(chunk.iter().copied())?;
        let mut insert: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO events (seq, id, at, kind, subject, subject_version, actor, request_id, outcome, \
             data, prev, hash, key_id, sig) ",
        );
        insert.push_values(0..c.seq.len(), |mut row, i| {
            row.push_bind(c.seq[i])
                .push_bind(c.id[i].hyphenated().to_string())
                .push_bind(timestamp::format(&c.at[i]))
                .push_bind(c.kind[i].clone())
                .push_bind(c.subject[i].clone())
                .push_bind(c.subject_version[i])
                .push_bind(c.actor[i].clone())
                .push_bind(c.request_id[i].clone())
                .push_bind(c.outcome[i].clone())
                .push_bind(c.data[i].clone())
                .push_bind(c.prev[i].clone())
                .push_bind(c.hash[i].clone())
                .push_bind(c.key_id[i].clone())
                .push_bind(c.sig[i].clone());
        });
        insert.build().execute(&mut *tx).await?;
    }
    for (subject, version) in &sealed.versions {
        sqlx::query(
            "INSERT INTO subjects (subject, version) VALUES (?, ?) \
             ON CONFLICT (subject) DO UPDATE SET version = excluded.version",
        )
        .bind(subject)
        .bind(*version as i64)
        .execute(&mut *tx)
        .await?;
    }
    for claim in &sealed.released {
        sqlx::query("DELETE FROM unique_claims WHERE namespace = ? AND value = ?")
            .bind(&claim.namespace)
            .bind(&claim.value)
            .execute(&mut *tx)
            .await?;
    }
    for (claim, seq) in &sealed.claims {
        sqlx::query("INSERT INTO unique_claims (namespace, value, seq) VALUES (?, ?, ?)")
            .bind(&claim.namespace)
            .bind(&claim.value)
            .bind(*seq as i64)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(sealed)
}
