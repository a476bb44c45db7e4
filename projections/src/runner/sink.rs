//! What a runner feeds (a [`Sink`]) and where it starts from.

use std::future::Future;
use std::time::Duration;

use warden_core::Event;
use warden_core::chain::{ChainVerifier, VerifierState};
use warden_core::ledger::LedgerStore;
use warden_core::ledger::archive::start_verifier;

use super::RunnerError;

/// Restores `sink` and returns the verifier and the position the runner
/// goes on from.
pub(super) async fn start_at<S: Sink>(
    store: &dyn LedgerStore,
    sink: &mut S,
) -> Result<(ChainVerifier, u64), RunnerError> {
    let restored = sink.restore(store).await?;
    let mut position = restored.position;
    let mut verifier = restored
        .verifier
        .and_then(|state| ChainVerifier::from_state(&state))
        .filter(|verifier| verifier.next_seq() == position + 1);
    if let Some(boundary) = store.archive_boundary().await?
        && position < boundary.through
    {
        if !sink.start_after_archive(store, boundary.through).await? {
            return Err(RunnerError::Archived {
                position,
                through: boundary.through,
            });
        }
        position = boundary.through;
        verifier = None;
    }
    // Without a verifier state at the sink's position, verify from the
    // start of the log (its genesis, or the latest archive boundary);
    // the sink skips what it has seen.
    match verifier {
        Some(verifier) => Ok((verifier, position)),
        None => {
            let verifier = start_verifier(store, &[]).await?;
            let start = verifier.next_seq() - 1;
            Ok((verifier, start))
        }
    }
}

/// Where a sink stands after a restore.
pub struct Restored {
    /// Every event up to this seq has been applied.
    pub position: u64,
    /// The chain verifier's state at `position`; without it the runner
    /// verifies from seq 1 and the sink skips what it has seen.
    pub verifier: Option<VerifierState>,
}

/// What a runner feeds, in `seq` order, with verified events only: the
/// in-memory read models, or the audit index on disk. A sink saves its
/// own position together with its state, so the two move as one.
pub trait Sink: Send + 'static {
    /// Loads the saved state (or starts empty).
    fn restore(&mut self, store: &dyn LedgerStore) -> impl Future<Output = Result<Restored, RunnerError>> + Send;
    /// Applies a verified, contiguous run; events at or below the sink's
    /// own position are skipped.
    fn apply(&mut self, events: &[Event]) -> Result<(), RunnerError>;
    /// Whether to save now, given what is unsaved.
    fn save_due(&self, unsaved_events: u64, since_save: Duration) -> bool;
    /// The log was archived through `through`, past the sink's saved
    /// position: true when the sink can start after the archived range
    /// without its events (and has set its position to `through`). The
    /// in-memory models cannot: they need every event, and restore from
    /// snapshots saved before archiving.
    fn start_after_archive(
        &mut self,
        _store: &dyn LedgerStore,
        _through: u64,
    ) -> impl Future<Output = Result<bool, RunnerError>> + Send {
        async { Ok(false) }
    }
    /// Saves the state at `position`, with the verifier's state there.
    fn save(
        &mut self,
        store: &dyn LedgerStore,
        position: u64,
        verifier: &VerifierState,
    ) -> impl Future<Output = Result<(), RunnerError>> + Send;
}
