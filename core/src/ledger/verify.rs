//! Verifying a stored log from its first event to its head: what
//! `warden verify` runs against either backend.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::{Head, LedgerError, LedgerStore};
use crate::chain::{ChainError, ChainVerifier};

const CHUNK: usize = 5000;

#[derive(Debug)]
pub struct Verified {
    pub events: u64,
    pub head: Head,
    /// The keys the chain trusted at its end: pinned, or announced by the
    /// verified events (or the archive boundary they start from).
    pub keys: Vec<ed25519_dalek::VerifyingKey>,
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Chain(#[from] ChainError),
    #[error("{0}")]
    Ledger(#[from] LedgerError),
    /// A line of an export file that is not an event.
    #[error("line {line}: {reason}")]
    Unreadable { line: usize, reason: String },
}

/// Reads the whole log in order (the next chunk is read while the current
/// one is checked) and checks it with `verifier` on `threads` threads;
/// `observe` sees each chunk once it verified (what a comparison with
/// kept checkpoints needs, from the same single pass).
pub async fn verify_store(
    store: Arc<dyn LedgerStore>,
    mut verifier: ChainVerifier,
    threads: usize,
    mut observe: impl FnMut(&[crate::Event]),
) -> Result<Verified, VerifyError> {
    let (chunks, mut received) = mpsc::channel(2);
    let from = verifier.next_seq();
    let reader = tokio::spawn(async move {
        let mut next = from;
        loop {
            let chunk = store.read(next, CHUNK).await;
            let done = match &chunk {
                Ok(events) => events.len() < CHUNK,
                Err(_) => true,
            };
            if let Ok(events) = &chunk
                && let Some(last) = events.last()
            {
                next = last.seq + 1;
            }
            if chunks.send(chunk).await.is_err() || done {
                return;
            }
        }
    });
    let mut count = 0u64;
    while let Some(chunk) = received.recv().await {
        let events = chunk?;
        count += events.len() as u64;
        let (returned, result, events) = tokio::task::spawn_blocking(move || {
            let result = verifier.check_all(&events, threads);
            (verifier, result, events)
        })
        .await
        .map_err(|error| LedgerError::Corrupt {
            seq: 0,
            reason: error.to_string(),
        })?;
        verifier = returned;
        result?;
        observe(&events);
    }
    let _ = reader.await;
    Ok(Verified {
        events: count,
        head: Head {
            seq: verifier.next_seq() - 1,
            hash: verifier.prev(),
        },
        keys: verifier.trusted_keys().map(|(_, key)| *key).collect(),
    })
}
