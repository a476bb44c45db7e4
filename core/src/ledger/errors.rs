//! Why an append or a read did not happen.

use thiserror::Error;

#[derive(Debug, Clone, Error)]
pub enum AppendError {
    /// The subject moved on since the command read it: re-run the command
    /// on fresh state.
    #[error("subject {subject} is at version {actual}, the command decided on version {expected}")]
    Conflict {
        subject: String,
        expected: u64,
        actual: u64,
    },
    #[error("{namespace} is already taken")]
    ClaimTaken { namespace: String, value: String },
    #[error("invalid event: {0}")]
    Invalid(String),
    /// The outcome is not known to be a commit: the events were not
    /// acknowledged.
    #[error("ledger unavailable: {0}")]
    Unavailable(String),
    /// The store failed recently (the breaker is open): refused without
    /// trying; a retry is worth it after `retry_after`.
    #[error("ledger unavailable: the store is failing; retry in {} ms", retry_after.as_millis())]
    Down { retry_after: std::time::Duration },
    #[error("no signing key is installed yet")]
    NoSigningKey,
    #[error("the ledger is shutting down")]
    Closed,
}

#[derive(Debug, Error)]
pub enum LedgerError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    MigrationNeeded(String),
    #[error("no ledger at {0}")]
    NotFound(String),
    /// The ledger's directory cannot be written.
    #[error("{0} is read-only: Warden must write its ledger there (mount it read-write, or point data_dir elsewhere)")]
    ReadOnly(String),
    /// An operation the log's state does not allow (an archive before
    /// the read models' snapshots reach it).
    #[error("refused: {0}")]
    Refused(String),
    /// A stored row cannot be read back as an event (it was altered).
    #[error("seq {seq}: stored row is unreadable: {reason}")]
    Corrupt { seq: u64, reason: String },
}
