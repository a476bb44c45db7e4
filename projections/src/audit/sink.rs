//! The writing side of the audit index, fed by a runner: documents
//! added in `seq` order, committed with the position and the verifier's
//! state, the org directory saved beside them.

use std::ops::Bound;
use std::path::PathBuf;
use std::time::Duration;

use tantivy::{IndexWriter, TantivyDocument};
use warden_core::Event;
use warden_core::chain::VerifierState;
use warden_core::commands::payload;
use warden_core::commands::retention::{Archived, LEDGER_ARCHIVED};
use warden_core::ledger::LedgerStore;

use super::{
    AuditDoc, AuditIndex, AuditIndexError, COMMIT_EVERY, COMMIT_EVERY_EVENTS, DIRECTORY_SNAPSHOT,
    DIRECTORY_SNAPSHOT_VERSION, Directory, DirectoryFile, Payload, VERSION, query, read_directory,
};
use crate::runner::{Restored, RunnerError, Sink};

/// The writing side, fed by a runner.
pub struct AuditSink {
    pub(super) index: AuditIndex,
    pub(super) dir: PathBuf,
    pub(super) writer: Option<IndexWriter<TantivyDocument>>,
    pub(super) position: u64,
    pub(super) verifier: Option<VerifierState>,
    pub(super) directory: Directory,
    pub(super) directory_file: Option<DirectoryFile>,
    pub(super) directory_changed: bool,
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
