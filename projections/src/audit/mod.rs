//! The audit index: every event, searchable, in a tantivy index on disk.
//!
//! A runner feeds it like any read model ([`AuditSink`]); searches go
//! through [`AuditIndex`]. The position it has indexed through, and the
//! chain verifier's state there, are the payload of each index commit, so
//! index and position move together: after a crash the index resumes from
//! its last commit. A new [`VERSION`] (or a damaged index) rebuilds it
//! from the log.
//!
//! Beside the tantivy files lives the [`Directory`] of users the index
//! attributes events with (`directory-<seq>.json`); the commit payload
//! names the file and its BLAKE3 hash.

pub mod document;
pub mod facets;
pub mod query;
pub mod schema;
mod sink;

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, Occur, Query};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument};
use thiserror::Error;
use tokio::sync::watch;
use warden_core::chain::VerifierState;

pub use document::{AuditDoc, Directory, org_of};
pub use query::{AuditQuery, IpRange, KindPattern, Order, Page, QueryError};

use schema::Fields;
pub use sink::AuditSink;

/// Bump when what is indexed changes: the index is then rebuilt.
pub const VERSION: u32 = 3;
/// The snapshot `warden archive` saves of the [`Directory`] at an archive
/// boundary, for indexes that start after it.
pub const DIRECTORY_SNAPSHOT: &str = "audit_directory";
pub const DIRECTORY_SNAPSHOT_VERSION: u32 = 1;
const TANTIVY_DIR: &str = "index";
const WRITER_MEMORY: usize = 32 * 1024 * 1024;
const COMMIT_EVERY: Duration = Duration::from_secs(1);
const COMMIT_EVERY_EVENTS: u64 = 100_000;

#[derive(Debug, Error)]
pub enum AuditIndexError {
    #[error("audit index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("audit index {path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error(transparent)]
    Query(#[from] QueryError),
}

/// The commit payload.
#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    version: u32,
    position: u64,
    verifier: VerifierState,
    directory: Option<DirectoryFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DirectoryFile {
    file: String,
    blake3: String,
}

/// The search side, shared by request handlers.
#[derive(Clone)]
pub struct AuditIndex {
    inner: Arc<Inner>,
}

struct Inner {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    committed: watch::Sender<u64>,
}

impl AuditIndex {
    /// Opens (or creates, or rebuilds) the index in `dir`; returns the
    /// search side and the sink a runner feeds.
    pub fn open(dir: &Path) -> Result<(AuditIndex, AuditSink), AuditIndexError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |error| AuditIndexError::Io { path, error }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let (schema, fields) = schema::build();
        let tantivy_dir = dir.join(TANTIVY_DIR);
        let existing = Index::open_in_dir(&tantivy_dir)
            .ok()
            .filter(|index| index.schema() == schema)
            .and_then(|index| {
                let payload: Option<Payload> = index
                    .load_metas()
                    .ok()?
                    .payload
                    .and_then(|text| serde_json::from_str(&text).ok());
                match payload {
                    Some(payload) if payload.version != VERSION => None,
                    Some(payload) => {
                        let directory = match &payload.directory {
                            Some(file) => read_directory(dir, file)?,
                            None => Directory::default(),
                        };
                        Some((index, Some(payload), directory))
                    }
                    None => Some((index, None, Directory::default())),
                }
            });
        let (index, payload, directory) = match existing {
            Some(found) => found,
            None => {
                if tantivy_dir.exists() {
                    tracing::info!(dir = %dir.display(), "audit index version changed or damaged: rebuilding from seq 1");
                    std::fs::remove_dir_all(&tantivy_dir).map_err(io(&tantivy_dir))?;
                }
                std::fs::create_dir_all(&tantivy_dir).map_err(io(&tantivy_dir))?;
                (Index::create_in_dir(&tantivy_dir, schema)?, None, Directory::default())
            }
        };
        let writer: IndexWriter<TantivyDocument> = index.writer_with_num_threads(1, WRITER_MEMORY)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let position = payload.as_ref().map_or(0, |payload| payload.position);
        let (committed, _) = watch::channel(position);
        let audit = AuditIndex {
            inner: Arc::new(Inner {
                index,
                reader,
                fields,
                committed,
            }),
        };
        let sink = AuditSink {
            index: audit.clone(),
            dir: dir.to_path_buf(),
            writer: Some(writer),
            position,
            verifier: payload.as_ref().map(|payload| payload.verifier.clone()),
            directory,
            directory_file: payload.and_then(|payload| payload.directory),
            directory_changed: false,
        };
        Ok((audit, sink))
    }

    /// Every event up to this seq is searchable.
    pub fn indexed_through(&self) -> u64 {
        *self.inner.committed.borrow()
    }

    /// Waits until the index is searchable through `seq`; false on timeout.
    pub async fn wait_for(&self, seq: u64, timeout: Duration) -> bool {
        let mut committed = self.inner.committed.subscribe();
        tokio::time::timeout(timeout, committed.wait_for(|position| *position >= seq))
            .await
            .is_ok_and(|result| result.is_ok())
    }

    /// One page of a search, continuing after the seq `after` (a previous
    /// page's `next`), with the number of matches on every page. Blocking:
    /// run it off the async workers.
    pub fn search(
        &self,
        query: &AuditQuery,
        order: Order,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Page, AuditIndexError> {
        let Inner {
            index, reader, fields, ..
        } = &*self.inner;
        let filter = query.build(index, fields)?;
        let searcher = reader.searcher();
        let total = searcher.search(&filter, &Count)?;
        let limit = limit.clamp(1, query::MAX_LIMIT);
        let (seqs, next) = self.page(&searcher, filter, order, after, limit)?;
        Ok(Page { seqs, total, next })
    }

    /// The next `limit` matches after `after`, oldest first, without
    /// counting them all: what an export reads, page by page.
    pub fn export_page(
        &self,
        query: &AuditQuery,
        after: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<u64>, Option<u64>), AuditIndexError> {
        let Inner {
            index, reader, fields, ..
        } = &*self.inner;
        let filter = query.build(index, fields)?;
        self.page(&reader.searcher(), filter, Order::OldestFirst, after, limit.max(1))
    }

    fn page(
        &self,
        searcher: &tantivy::Searcher,
        filter: Box<dyn Query>,
        order: Order,
        after: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<u64>, Option<u64>), AuditIndexError> {
        let (bound, tantivy_order) = match (order, after) {
            (Order::NewestFirst, Some(after)) => {
                (Some((Bound::Unbounded, Bound::Excluded(after))), tantivy::Order::Desc)
            }
            (Order::OldestFirst, Some(after)) => {
                (Some((Bound::Excluded(after), Bound::Unbounded)), tantivy::Order::Asc)
            }
            (Order::NewestFirst, None) => (None, tantivy::Order::Desc),
            (Order::OldestFirst, None) => (None, tantivy::Order::Asc),
        };
        let page_query: Box<dyn Query> = match bound {
            Some((from, to)) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, filter),
                (Occur::Must, query::seq_range(self.inner.fields.seq, from, to)),
            ])),
            None => filter,
        };
        let top = TopDocs::with_limit(limit + 1).order_by_fast_field::<u64>("seq", tantivy_order);
        let found = searcher.search(&page_query, &top)?;
        let mut seqs: Vec<u64> = found.into_iter().filter_map(|(seq, _)| seq).collect();
        let next = if seqs.len() > limit {
            seqs.truncate(limit);
            seqs.last().copied()
        } else {
            None
        };
        Ok((seqs, next))
    }

    /// Whether the event `seq` is in `org`'s trail (any org's for `None`).
    pub fn holds(&self, org: Option<&str>, seq: u64) -> Result<bool, AuditIndexError> {
        let query = AuditQuery {
            org: org.map(str::to_string),
            seqs: Some((seq, seq)),
            ..AuditQuery::default()
        };
        let page = self.search(&query, Order::NewestFirst, None, 1)?;
        Ok(page.total > 0)
    }
}

fn read_directory(dir: &Path, file: &DirectoryFile) -> Option<Directory> {
    let bytes = std::fs::read(dir.join(&file.file)).ok()?;
    if blake3::hash(&bytes).to_hex().as_str() != file.blake3 {
        return None;
    }
    serde_json::from_slice(&bytes).ok()
}
