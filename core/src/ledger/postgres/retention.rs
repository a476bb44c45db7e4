//! The PostgreSQL side of retention: the partitions a range can be
//! archived by, what the database keeps of an archived range, and removing
//! its partitions (`docs/decisions/0013-retention.md`).

use sqlx::{AssertSqlSafe, Connection, PgConnection, Row};

use super::PostgresStore;
use crate::chain::Digest;
use crate::event::Event;
use crate::ledger::LedgerError;
use crate::ledger::archive::{ArchiveBoundary, ArchiveRecord, unpack_hashes};

/// One partition of the log: seqs `from..to` (`to` excluded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub name: String,
    pub from: u64,
    pub to: u64,
}

impl PostgresStore {
    /// The log's partitions, in seq order.
    pub async fn partitions(&self) -> Result<Vec<Partition>, LedgerError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) \
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'events'::regclass",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut partitions = rows
            .into_iter()
            .map(|(name, bound)| {
                parse_bound(&bound)
                    .map(|(from, to)| Partition { name, from, to })
                    .ok_or_else(|| LedgerError::Corrupt {
                        seq: 0,
                        reason: format!("unexpected partition bound {bound:?}"),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        partitions.sort_by_key(|partition| partition.from);
        Ok(partitions)
    }

    pub(super) async fn latest_archive(&self) -> Result<Option<ArchiveBoundary>, LedgerError> {
        let row = sqlx::query(
            "SELECT from_seq, through_seq, event_seq, announcements FROM ledger_archives \
             ORDER BY through_seq DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let through = row.try_get::<i64, _>(1)? as u64;
        let announcements: String = row.try_get(3)?;
        let announcements: Vec<Event> =
            crate::strict_json::from_str(&announcements).map_err(|error| LedgerError::Corrupt {
                seq: through,
                reason: format!("archived key announcements: {error}"),
            })?;
        Ok(Some(ArchiveBoundary {
            from: row.try_get::<i64, _>(0)? as u64,
            through,
            event_seq: row.try_get::<i64, _>(2)? as u64,
            announcements,
        }))
    }

    pub(super) async fn all_archived_hashes(&self) -> Result<Vec<Digest>, LedgerError> {
        let rows: Vec<(i64, i64, Vec<u8>)> =
            sqlx::query_as("SELECT from_seq, through_seq, hashes FROM ledger_archives ORDER BY through_seq")
                .fetch_all(&self.pool)
                .await?;
        let mut hashes = Vec::new();
        for (from, through, packed) in rows {
            if from as u64 != hashes.len() as u64 + 1 {
                return Err(LedgerError::Corrupt {
                    seq: hashes.len() as u64 + 1,
                    reason: format!("the archive from seq {from} does not follow the previous one"),
                });
            }
            hashes.extend(unpack_hashes(&packed, through as u64)?);
        }
        Ok(hashes)
    }

    /// The newest key announcement among archived events.
    pub(super) async fn archived_signing_key_event(&self) -> Result<Option<Event>, LedgerError> {
        Ok(self
            .latest_archive()
            .await?
            .and_then(|archive| archive.announcements.last().cloned()))
    }
}

/// `FOR VALUES FROM ('1') TO ('11')` → (1, 11).
fn parse_bound(bound: &str) -> Option<(u64, u64)> {
    let numbers: Vec<u64> = bound
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    match numbers[..] {
        [from, to] if from < to => Some((from, to)),
        _ => None,
    }
}

/// Records an archived range and removes its partitions, in one
/// transaction as the schema owner (`url` must log in as the owner; the
/// writer role may not drop tables). Refused unless every snapshot in
/// `snapshots` is saved at or after the archived range: a node restores
/// its read models from them and never needs the archived events.
pub async fn remove_archived(
    url: &str,
    record: &ArchiveRecord,
    partitions: &[Partition],
    snapshots: &[String],
) -> Result<(), LedgerError> {
    let boundary = &record.boundary;
    let mut connection = PgConnection::connect(url).await?;
    let mut tx = connection.begin().await?;
    let saved: Vec<(String, i64)> = sqlx::query_as("SELECT name, seq FROM snapshots WHERE name = ANY($1)")
        .bind(snapshots)
        .fetch_all(&mut *tx)
        .await?;
    for name in snapshots {
        match saved.iter().find(|(saved, _)| saved == name) {
            Some((_, seq)) if *seq as u64 >= boundary.through => {}
            found => {
                return Err(LedgerError::Refused(format!(
                    "the snapshot of read model {name} is {}; it must be saved at or after seq {} \
                     before the range is removed",
                    found.map_or("missing".to_string(), |(_, seq)| format!("at seq {seq}")),
                    boundary.through
                )));
            }
        }
    }
    let announcements = serde_json::to_string(&boundary.announcements).map_err(|error| LedgerError::Corrupt {
        seq: boundary.through,
        reason: error.to_string(),
    })?;
    sqlx::query(
        "INSERT INTO ledger_archives (through_seq, from_seq, event_seq, hashes, announcements) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(boundary.through as i64)
    .bind(boundary.from as i64)
    .bind(boundary.event_seq as i64)
    .bind(record.packed_hashes())
    .bind(announcements)
    .execute(&mut *tx)
    .await?;
    for partition in partitions {
        let name = partition.name.replace('"', "\"\"");
        sqlx::query(AssertSqlSafe(format!("ALTER TABLE events DETACH PARTITION \"{name}\"")))
            .execute(&mut *tx)
            .await?;
        sqlx::query(AssertSqlSafe(format!("DROP TABLE \"{name}\"")))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_bound;

    #[test]
    fn partition_bounds_are_read_from_their_definition() {
        assert_eq!(parse_bound("FOR VALUES FROM ('1') TO ('11')"), Some((1, 11)));
        assert_eq!(
            parse_bound("FOR VALUES FROM (1000001) TO (2000001)"),
            Some((1000001, 2000001))
        );
        assert_eq!(parse_bound("DEFAULT"), None);
        assert_eq!(parse_bound("FOR VALUES FROM ('5') TO ('5')"), None);
    }
}
