//! The append transaction's statements: one read of the state the batch
//! is decided on, and as few inserts as the batch allows.

use std::collections::{HashMap, HashSet};

use sqlx::{Postgres, Transaction};

use crate::chain::Digest;
use crate::event::{Event, UniqueClaim};
use crate::ledger::rows::EventColumns;
use crate::ledger::seal::{SealInput, SealedBatch};
use crate::ledger::{Head, LedgerError};

/// Over TCP, statements are kept below the kernel's initial send buffer
/// (16 KiB on Linux): sqlx cannot set `TCP_NODELAY`, and a statement the
/// kernel sends in two parts waits on Nagle and delayed ACK for 40 ms.
pub(super) const TCP_STATEMENT_BYTES: usize = 10 * 1024;
/// Over a Unix socket there is no such stall.
pub(super) const SOCKET_STATEMENT_BYTES: usize = 1024 * 1024;

/// Opens the append transaction and takes the transaction-scoped advisory
/// lock that serializes appends, in one round trip. The key is
/// 0x5741_5244_454E_0001 ("WARDEN\0\1").
pub(super) const BEGIN_AND_LOCK: &str = "BEGIN; SELECT pg_advisory_xact_lock(6287397007959916545)";

/// One row of `read_state`: a tag (`head`, `version`, `claim`), two texts,
/// a number and a hash.
type StateRow = (String, Option<String>, Option<String>, Option<i64>, Option<Vec<u8>>);

/// Under the lock, in one round trip: the head, the current versions of
/// the batch's subjects, and which of its claims are taken.
pub(super) async fn read_state(
    tx: &mut Transaction<'_, Postgres>,
    input: &SealInput<'_>,
) -> Result<(Head, HashMap<String, u64>, HashSet<UniqueClaim>), LedgerError> {
    let subjects = input.subjects();
    let claims = input.claims();
    let namespaces: Vec<&str> = claims.iter().map(|c| c.namespace.as_str()).collect();
    let values: Vec<&str> = claims.iter().map(|c| c.value.as_str()).collect();
    let rows: Vec<StateRow> = sqlx::query_as(
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

/// Signs and inserts a sealed batch: one statement when it fits in
/// `max_statement_bytes` (events, subject versions and claims together).
/// A longer batch is sent in parts, each part signed while the previous
/// one is on its way, so signing and the round trips overlap.
pub(super) async fn sign_and_insert(
    tx: &mut Transaction<'_, Postgres>,
    input: &SealInput<'_>,
    sealed: &mut SealedBatch,
    max_statement_bytes: usize,
) -> Result<(), LedgerError> {
    if !sealed.released.is_empty() {
        // Released claims go first, so the batch may claim them again.
        let namespaces: Vec<&str> = sealed.released.iter().map(|c| c.namespace.as_str()).collect();
        let values: Vec<&str> = sealed.released.iter().map(|c| c.value.as_str()).collect();
        sqlx::query(DELETE_CLAIMS)
            .bind(&namespaces)
            .bind(&values)
            .execute(&mut **tx)
            .await?;
    }
    let mut columns = EventColumns::of(sealed.events())?;
    let count = columns.seq.len();
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
    // Versions and claims ride with the last part when they are small; the
    // parts leave room for them.
    let side_along = side_bytes < max_statement_bytes / 4;
    let room = if side_along {
        max_statement_bytes - side_bytes
    } else {
        max_statement_bytes
    };
    let limit = if count >= PIPELINE_FROM {
        room.min(columns.estimated_bytes().div_ceil(2))
    } else {
        room
    };
    let mut parts = std::mem::take(&mut columns).split(limit);
    let (subjects, versions) = version_columns(&sealed.versions);
    let (namespaces, values, seqs) = claim_columns(&sealed.claims);

    // Field by field, so the versions and claims stay borrowed alongside.
    let mut events: Vec<&mut Event> = sealed
        .results
        .iter_mut()
        .filter_map(|result| result.as_mut().ok())
        .flatten()
        .collect();
    let mut first = parts.first().map(|part| part.seq.len()).unwrap_or(0);
    input.sign(&mut events[..first]);
    if let Some(part) = parts.first_mut() {
        part.set_signatures(&events[..first]);
    }
    let part_count = parts.len();
    for index in 0..part_count {
        let (sent, waiting) = parts.split_at_mut(index + 1);
        let next = waiting.first_mut();
        let next_len = next.as_ref().map(|part| part.seq.len()).unwrap_or(0);
        let to_sign = &mut events[first..first + next_len];
        let with_side = side_along && index + 1 == part_count;
        let query = if with_side {
            bind_events(sqlx::query(INSERT_ALL), &sent[index])
                .bind(&subjects)
                .bind(&versions)
                .bind(&namespaces)
                .bind(&values)
                .bind(&seqs)
        } else {
            bind_events(sqlx::query(INSERT_EVENTS), &sent[index])
        };
        let insert = query.execute(&mut **tx);
        let sign_next = async {
            input.sign(to_sign);
            if let Some(next) = next {
                next.set_signatures(to_sign);
            }
        };
        let (inserted, ()) = tokio::join!(insert, sign_next);
        inserted?;
        first += next_len;
    }
    if side_along {
        return Ok(());
    }
    for versions in sealed.versions.chunks(max_statement_bytes / 64) {
        let (subjects, versions) = version_columns(versions);
        sqlx::query(INSERT_VERSIONS)
            .bind(&subjects)
            .bind(&versions)
            .execute(&mut **tx)
            .await?;
    }
    for claims in sealed.claims.chunks(max_statement_bytes / 128) {
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

/// Batches at least this long are sent in two or more parts so signing
/// overlaps the round trips.
const PIPELINE_FROM: usize = 32;

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
const DELETE_CLAIMS: &str = "DELETE FROM unique_claims WHERE (namespace, value) IN \
     (SELECT * FROM UNNEST($1::text[], $2::text[]))";
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
