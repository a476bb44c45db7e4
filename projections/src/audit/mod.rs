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
pub mod query;
pub mod schema;

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
use warden_core::Event;
use warden_core::chain::VerifierState;
use warden_core::commands::payload;
use warden_core::commands::retention::{Archived, LEDGER_ARCHIVED};
use warden_core::ledger::LedgerStore;

pub use document::{AuditDoc, Directory, org_of};
pub use query::{AuditQuery, IpRange, KindPattern, Order, Page, QueryError};

use crate::runner::{Restored, RunnerError, Sink};
use schema::Fields;

/// Bump when what is indexed changes: the index is then rebuilt.
pub const VERSION: u32 = 2;
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

/// The writing side, fed by a runner.
pub struct AuditSink {
    index: AuditIndex,
    dir: PathBuf,
    writer: Option<IndexWriter<TantivyDocument>>,
    position: u64,
    verifier: Option<VerifierState>,
    directory: Directory,
    directory_file: Option<DirectoryFile>,
    directory_changed: bool,
}

impl AuditSink {
    /// Writes the directory beside the index (a new file, synced, then
    /// renamed into place) and returns its name and hash.
    fn write_directory(&self, position: u64) -> Result<DirectoryFile, AuditIndexError> {
        let file = format!("directory-{position}.json");
        let path = self.dir.join(&file);
        // A directory that does not serialize fails the commit: never an
        // empty file that a restart would read as no directory.
        let bytes = serde_json::to_vec(&self.directory).map_err(|error| AuditIndexError::Io {
            path: path.clone(),
            error: error.into(),
        })?;
        let staging = self.dir.join(format!("{file}.tmp"));
        let io = |error| AuditIndexError::Io {
            path: path.clone(),
            error,
        };
        {
            use std::io::Write;
            let mut out = std::fs::File::create(&staging).map_err(io)?;
            out.write_all(&bytes).map_err(io)?;
            out.sync_all().map_err(io)?;
        }
        std::fs::rename(&staging, &path).map_err(io)?;
        Ok(DirectoryFile {
            file,
            blake3: blake3::hash(&bytes).to_hex().to_string(),
        })
    }

    /// After a write that failed (a full disk): back to the last commit.
    /// tantivy drops every document added since, so the position, the
    /// verifier state and the directory go back to what that commit
    /// saved, and the runner feeds the index again from there. The index
    /// never claims a position whose documents did not land.
    fn back_to_last_commit(&mut self, why: impl std::fmt::Display) -> RunnerError {
        let went_back = (|| {
            if let Some(writer) = self.writer.as_mut() {
                writer.rollback()?;
            }
            let payload: Option<Payload> = self
                .index
                .inner
                .index
                .load_metas()?
                .payload
                .and_then(|text| serde_json::from_str(&text).ok());
            let directory = match payload.as_ref().and_then(|payload| payload.directory.as_ref()) {
                Some(file) => read_directory(&self.dir, file).ok_or_else(|| AuditIndexError::Io {
                    path: self.dir.join(&file.file),
                    error: std::io::Error::other("the directory of the last commit cannot be read"),
                })?,
                None => Directory::default(),
            };
            Ok::<_, AuditIndexError>((payload, directory))
        })();
        match went_back {
            Ok((payload, directory)) => {
                let lost = self.position;
                self.position = payload.as_ref().map_or(0, |payload| payload.position);
                self.verifier = payload.as_ref().map(|payload| payload.verifier.clone());
                self.directory = directory;
                self.directory_file = payload.and_then(|payload| payload.directory);
                self.directory_changed = false;
                RunnerError::SetBack(format!(
                    "audit index: {why}; events {}..={lost} are indexed again from the log",
                    self.position + 1
                ))
            }
            Err(error) => sink_error(format!("{why}; and it cannot go back to its last commit: {error}")),
        }
    }

    /// Removes directory files the last commit no longer names.
    fn remove_old_directories(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let current = self.directory_file.as_ref().map(|file| file.file.as_str());
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with("directory-") && Some(name) != current {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

fn sink_error(error: impl std::fmt::Display) -> RunnerError {
    RunnerError::Sink(format!("audit index: {error}"))
}

impl Sink for AuditSink {
    async fn restore(&mut self, _store: &dyn LedgerStore) -> Result<Restored, RunnerError> {
        Ok(Restored {
            position: self.position,
            verifier: self.verifier.take(),
        })
    }

    fn apply(&mut self, events: &[Event]) -> Result<(), RunnerError> {
        let writer = self.writer.as_ref().ok_or_else(|| sink_error("the writer is gone"))?;
        let fields = &self.index.inner.fields;
        let seen = self.position;
        for event in events.iter().filter(|event| event.seq > seen) {
            self.directory_changed |= self.directory.learn(event);
            let doc = AuditDoc::of(event, &self.directory);
            if let Err(error) = writer.add_document(fields.document(&doc)) {
                return Err(self.back_to_last_commit(error));
            }
            // Archived events leave the log, and so the index: their
            // bundle is where they are searched from now on.
            if event.kind == LEDGER_ARCHIVED
                && let Some(archived) = payload::<Archived>(event)
            {
                let range = query::seq_range(
                    fields.seq,
                    Bound::Included(archived.from),
                    Bound::Included(archived.through),
                );
                if let Err(error) = writer.delete_query(range) {
                    return Err(self.back_to_last_commit(error));
                }
            }
            self.position = event.seq;
        }
        Ok(())
    }

    async fn start_after_archive(&mut self, store: &dyn LedgerStore, through: u64) -> Result<bool, RunnerError> {
        let writer = self.writer.as_ref().ok_or_else(|| sink_error("the writer is gone"))?;
        let fields = &self.index.inner.fields;
        writer
            .delete_query(query::seq_range(fields.seq, Bound::Unbounded, Bound::Included(through)))
            .map_err(sink_error)?;
        // Who the archived events created: `warden archive` saved it.
        self.directory = match store.load_snapshot(DIRECTORY_SNAPSHOT).await? {
            Some(snapshot) if snapshot.version == DIRECTORY_SNAPSHOT_VERSION => {
                serde_json::from_slice(&snapshot.state).map_err(sink_error)?
            }
            _ => {
                tracing::warn!(
                    through,
                    "no saved directory at the archive boundary: older events' orgs are unknown"
                );
                Directory::default()
            }
        };
        self.directory_changed = true;
        self.position = through;
        tracing::info!(through, "audit index starts after the archived range");
        Ok(true)
    }

    fn save_due(&self, unsaved_events: u64, since_save: Duration) -> bool {
        unsaved_events >= COMMIT_EVERY_EVENTS || since_save >= COMMIT_EVERY
    }

    async fn save(
        &mut self,
        _store: &dyn LedgerStore,
        position: u64,
        verifier: &VerifierState,
    ) -> Result<(), RunnerError> {
        if position < self.position {
            // The runner is re-verifying events the index already holds
            // (it restarted without a usable verifier state): the last
            // commit stays until it catches up.
            return Ok(());
        }
        if position > self.position {
            return Err(sink_error(format!(
                "asked to commit at seq {position}, indexed through {}",
                self.position
            )));
        }
        if self.directory_changed {
            match self.write_directory(position) {
                Ok(file) => self.directory_file = Some(file),
                Err(error) => return Err(self.back_to_last_commit(error)),
            }
            self.directory_changed = false;
        }
        let payload = Payload {
            version: VERSION,
            position,
            verifier: verifier.clone(),
            directory: self.directory_file.clone(),
        };
        let payload = serde_json::to_string(&payload).map_err(sink_error)?;
        let mut writer = self.writer.take().ok_or_else(|| sink_error("the writer is gone"))?;
        let index = self.index.clone();
        let (writer, committed) = tokio::task::spawn_blocking(move || {
            let committed = (|| {
                let mut prepared = writer.prepare_commit()?;
                prepared.set_payload(&payload);
                prepared.commit()?;
                index.inner.reader.reload()
            })();
            (writer, committed)
        })
        .await
        .map_err(sink_error)?;
        self.writer = Some(writer);
        if let Err(error) = committed {
            return Err(self.back_to_last_commit(error));
        }
        self.index.inner.committed.send_replace(position);
        self.remove_old_directories();
        Ok(())
    }
}
