//! What a storage backend provides to the ledger.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::watch;

use super::archive::ArchiveBoundary;
use super::seal::{SealInput, SealedBatch};
use super::{KeyStore, LedgerError};
use crate::chain::Digest;
use crate::event::Event;

/// The last event of the log (`seq` 0 and zero hash when empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub hash: Digest,
}

impl Head {
    pub const EMPTY: Head = Head {
        seq: 0,
        hash: Digest::ZERO,
    };
}

/// A saved read-model state at a `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub name: String,
    pub version: u32,
    pub seq: u64,
    pub state: Vec<u8>,
}

/// Work that one node of a cluster does at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leader {
    /// Copying the log to the bus.
    Relay,
    /// Delivering alerts to their recipients.
    AlertDelivery,
    /// Publishing checkpoints of the log.
    Checkpoints,
    /// Sending account email (codes, links, security notices).
    EmailDelivery,
}

/// Held while this process leads; dropping it lets another node take
/// over.
#[async_trait]
pub trait Lease: Send {
    /// False once the lease is lost (for example the connection dropped).
    async fn still_held(&mut self) -> bool;
}

#[async_trait]
pub trait LedgerStore: KeyStore + Send + Sync + 'static {
    /// In one transaction under the append lock: reads the head, the
    /// subject versions and the taken claims, lets `seal` decide and sign,
    /// and inserts what it accepted.
    async fn commit(&self, input: SealInput<'_>) -> Result<SealedBatch, LedgerError>;
    /// Events with `seq >= from`, ascending, at most `limit`.
    async fn read(&self, from: u64, limit: usize) -> Result<Vec<Event>, LedgerError>;
    /// The events with these seqs, in `seq` order (those that exist).
    async fn read_seqs(&self, seqs: &[u64]) -> Result<Vec<Event>, LedgerError>;
    async fn head(&self) -> Result<super::Head, LedgerError>;
    /// The latest event on the `ledger` subject (the current signing key).
    async fn latest_signing_key_event(&self) -> Result<Option<Event>, LedgerError>;
    /// The latest event on the `kms` subject (the KMS key rotations).
    async fn latest_kms_event(&self) -> Result<Option<Event>, LedgerError>;
    async fn ping(&self) -> Result<(), LedgerError>;
    /// Whether an append could be written now, after appends failed: a
    /// write where a ping would not tell (a full disk). By default a ping.
    async fn probe(&self) -> Result<(), LedgerError> {
        self.ping().await
    }
    /// The seq of the event that holds this unique claim, if one does.
    async fn claim_holder(&self, namespace: &str, value: &str) -> Result<Option<u64>, LedgerError>;

    /// Where the log starts after its latest archive; `None` while it
    /// starts at its genesis (always, for a backend without retention).
    async fn archive_boundary(&self) -> Result<Option<ArchiveBoundary>, LedgerError> {
        Ok(None)
    }
    /// The hashes of every archived event, seq 1 up to the latest
    /// boundary, in order.
    async fn archived_hashes(&self) -> Result<Vec<Digest>, LedgerError> {
        Ok(Vec::new())
    }

    async fn load_snapshot(&self, name: &str) -> Result<Option<Snapshot>, LedgerError>;
    async fn save_snapshots(&self, snapshots: &[Snapshot]) -> Result<(), LedgerError>;

    /// Tries to become the one node that does this work.
    async fn try_lease(&self, leader: Leader) -> Result<Option<Box<dyn Lease>>, LedgerError>;

    /// Raises `into` to the seq of every commit made by another process
    /// sharing this store, as the store announces it (PostgreSQL
    /// `LISTEN`/`NOTIFY`), until every receiver of `into` is gone. A store
    /// only this process writes announces nothing: the ledger's writer
    /// raises `into` itself.
    async fn follow_commits(&self, into: Arc<watch::Sender<u64>>) {
        into.closed().await;
    }
}

/// Raises a committed-seq watch to `seq` (never lowers it).
pub fn raise(committed: &watch::Sender<u64>, seq: u64) {
    committed.send_if_modified(|known| {
        let advanced = seq > *known;
        *known = (*known).max(seq);
        advanced
    });
}
