//! The projection runner: feeds every read model in `seq` order.
//!
//! It restores snapshots, catches up from the log (verifying the chain in
//! batches), then follows the bus. It checks every event against the chain
//! (continuity, link, hash, signature); a gap is repaired from the log; when
//! the bus is unreachable, silent or behind it tails the log instead. This
//! process's own commits wake it at once (`woken_by`): a node reads its own
//! writes from the log, never waiting on the relay to publish them. A chain
//! violation stops the runner: read models never include an event that does
//! not verify. So does an event whose `data` does not decode as its kind's
//! payload (`commands::catalogue`): a read model never skips an event it
//! cannot read.

use std::sync::Arc;
use std::time::Instant;

use thiserror::Error;
use tokio::sync::watch;
use warden_core::Event;
use warden_core::bus::Bus;
use warden_core::bus::relay::Backoff;
use warden_core::chain::{ChainError, ChainVerifier};
use warden_core::commands::catalogue::{self, PayloadError};
use warden_core::ledger::verify::VerifyError;
use warden_core::ledger::{LedgerError, LedgerStore};

use crate::ReadModels;
use crate::projection::Models;

mod follow;
mod positions;
mod sink;

pub use positions::Positions;
use sink::start_at;
pub use sink::{Restored, Sink};

const CHUNK: usize = 1000;

/// Threads that verify signatures while catching up.
const VERIFY_THREADS: usize = 2;

#[derive(Debug, Error)]
pub enum RunnerError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("the log fails verification: {0}")]
    Chain(#[from] ChainError),
    /// A verified event whose `data` does not decode as its kind's
    /// payload (a payload type changed incompatibly): the runner stops
    /// rather than skip it.
    #[error("an event cannot be read: {0}")]
    Payload(#[from] PayloadError),
    /// The sink cannot keep what it was given (a disk error): the runner
    /// stops rather than skip events.
    #[error("{0}")]
    Sink(String),
    /// The sink could not keep events it was given (its disk is full) and
    /// went back to its last save: the runner restores it and reads the
    /// log again from there, after a pause. Nothing is skipped.
    #[error("{0}")]
    SetBack(String),
    /// The sink's saved state ends before an archived range, and it cannot
    /// do without the archived events.
    #[error(
        "a read model is saved at seq {position}, but events up to seq {through} are archived: \
         it cannot be rebuilt from the log (restore the snapshots saved before archiving)"
    )]
    Archived { position: u64, through: u64 },
}

impl From<VerifyError> for RunnerError {
    fn from(error: VerifyError) -> Self {
        match error {
            VerifyError::Chain(error) => RunnerError::Chain(error),
            VerifyError::Ledger(error) => RunnerError::Ledger(error),
            VerifyError::Unreadable { line, reason } => RunnerError::Ledger(LedgerError::Corrupt {
                seq: line as u64,
                reason,
            }),
        }
    }
}

pub struct Runner<S: Sink = Models> {
    store: Arc<dyn LedgerStore>,
    bus: Arc<dyn Bus>,
    sink: S,
    verifier: ChainVerifier,
    position: u64,
    applied: watch::Sender<u64>,
    failure: watch::Sender<Option<String>>,
    violation: watch::Sender<Option<String>>,
    setback: watch::Sender<Option<String>>,
    saved_seq: u64,
    saved_at: Instant,
    /// This process's commits (the ledger's committed seq), if it appends.
    committed: Option<watch::Receiver<u64>>,
    /// After a snapshot could not be saved: when to try again.
    save_retry_at: Option<Instant>,
    save_backoff: Backoff,
}

impl Runner<Models> {
    /// Restores every read model from its snapshot (or resets it when its
    /// version changed) and returns the runner and its positions.
    pub async fn restore(
        store: Arc<dyn LedgerStore>,
        bus: Arc<dyn Bus>,
        models: &ReadModels,
    ) -> Result<(Self, Positions), RunnerError> {
        Self::with_sink(store, bus, Models::new(models.slots())).await
    }
}

impl<S: Sink> Runner<S> {
    /// Restores a sink and returns the runner that feeds it.
    pub async fn with_sink(
        store: Arc<dyn LedgerStore>,
        bus: Arc<dyn Bus>,
        mut sink: S,
    ) -> Result<(Self, Positions), RunnerError> {
        let (verifier, position) = start_at(store.as_ref(), &mut sink).await?;
        let (applied, applied_receiver) = watch::channel(position);
        let (failure, failure_receiver) = watch::channel(None);
        let (setback, setback_receiver) = watch::channel(None);
        let (violation, violation_receiver) = watch::channel(None);
        let runner = Runner {
            store,
            bus,
            sink,
            verifier,
            position,
            applied,
            failure,
            violation,
            setback,
            saved_seq: position,
            saved_at: Instant::now(),
            committed: None,
            save_retry_at: None,
            save_backoff: Backoff::default(),
        };
        let positions = Positions {
            applied: applied_receiver,
            failure: failure_receiver,
            violation: violation_receiver,
            setback: setback_receiver,
        };
        Ok((runner, positions))
    }

    pub fn position(&self) -> u64 {
        self.position
    }

    /// Reads from the log as soon as this process commits past the
    /// runner's position (`Ledger::committed`).
    pub fn woken_by(mut self, committed: watch::Receiver<u64>) -> Self {
        self.committed = Some(committed);
        self
    }

    /// Applies everything the log holds now.
    pub async fn catch_up(&mut self) -> Result<u64, RunnerError> {
        loop {
            let events = self.store.read(self.position + 1, CHUNK).await?;
            let count = events.len();
            self.apply_verified(events).await?;
            if count < CHUNK {
                return Ok(self.position);
            }
        }
    }

    /// Catches up, then follows the bus until `shutdown`; saves a final
    /// snapshot on the way out.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Backoff::default();
        while !*shutdown.borrow() {
            match self.follow(&mut shutdown).await {
                Ok(()) => backoff = Backoff::default(),
                Err(RunnerError::Chain(error)) => {
                    tracing::error!(%error, "chain verification failed; read models stopped");
                    metrics::counter!("warden_chain_violations_total").increment(1);
                    self.failure.send_replace(Some(error.to_string()));
                    self.violation.send_replace(Some(error.to_string()));
                    return;
                }
                Err(RunnerError::Payload(error)) => {
                    tracing::error!(
                        seq = error.seq,
                        kind = %error.kind,
                        %error,
                        "an event's data does not decode as its kind's payload; read models stopped"
                    );
                    metrics::counter!("warden_payload_violations_total").increment(1);
                    self.failure.send_replace(Some(error.to_string()));
                    return;
                }
                Err(RunnerError::Sink(error)) => {
                    tracing::error!(%error, "a read model cannot keep events; it stopped");
                    self.failure.send_replace(Some(error));
                    return;
                }
                Err(RunnerError::SetBack(error)) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "a read model went back to its last save; reading the log again from there");
                    metrics::counter!("warden_projection_setbacks_total").increment(1);
                    self.setback.send_replace(Some(error));
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shutdown.changed() => {}
                    }
                    match start_at(self.store.as_ref(), &mut self.sink).await {
                        Ok((verifier, position)) => {
                            self.verifier = verifier;
                            self.position = position;
                            self.saved_seq = position;
                            self.saved_at = Instant::now();
                        }
                        Err(error) => {
                            tracing::error!(%error, "a read model cannot be restored; it stopped");
                            self.failure.send_replace(Some(error.to_string()));
                            return;
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "projection runner interrupted");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff.next_delay()) => {}
                        _ = shutdown.changed() => {}
                    }
                }
            }
        }
        if self.position > self.saved_seq
            && let Err(error) = self.save_snapshots().await
        {
            tracing::warn!(%error, "final snapshot not saved");
        }
    }

    /// Verifies a run of events and checks that each one's payload decodes
    /// (off the async workers), then applies it.
    async fn apply_verified(&mut self, events: Vec<Event>) -> Result<(), RunnerError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut verifier = self.verifier.clone();
        let (verifier, events, result) = tokio::task::spawn_blocking(move || {
            let result = verifier
                .check_all(&events, VERIFY_THREADS)
                .map_err(RunnerError::Chain)
                .and_then(|()| {
                    events
                        .iter()
                        .try_for_each(catalogue::check)
                        .map_err(RunnerError::Payload)
                });
            (verifier, events, result)
        })
        .await
        .map_err(|error| {
            RunnerError::Ledger(LedgerError::Corrupt {
                seq: 0,
                reason: error.to_string(),
            })
        })?;
        // On failure (an event that does not verify, or that no read model
        // could read) the verifier stays where the runner is: nothing of the
        // run is applied.
        result?;
        self.verifier = verifier;
        self.sink.apply(&events)?;
        if let Some(last) = events.last() {
            self.position = last.seq;
            self.applied.send_replace(self.position);
            metrics::gauge!("warden_projection_position").set(self.position as f64);
        }
        Ok(())
    }

    /// Saves when the sink says it is due. A sink that lost what it had
    /// not saved (a set-back) or cannot go on is reported; a snapshot the
    /// store did not take is tried again later.
    async fn maybe_snapshot(&mut self) -> Result<(), RunnerError> {
        let behind = self.position - self.saved_seq;
        let due = behind > 0
            && self.sink.save_due(behind, self.saved_at.elapsed())
            && self.save_retry_at.is_none_or(|at| Instant::now() >= at);
        if !due {
            return Ok(());
        }
        match self.save_snapshots().await {
            Ok(()) => {
                self.save_backoff = Backoff::default();
                self.save_retry_at = None;
                self.setback.send_if_modified(|setback| setback.take().is_some());
            }
            Err(error @ (RunnerError::SetBack(_) | RunnerError::Sink(_))) => return Err(error),
            Err(error) => {
                // A full disk: try again later, not on every event.
                let delay = self.save_backoff.next_delay();
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "snapshot not saved");
                self.save_retry_at = Some(Instant::now() + delay);
            }
        }
        Ok(())
    }

    /// Saves the sink's state and the chain verifier's at one position.
    pub async fn save_snapshots(&mut self) -> Result<(), RunnerError> {
        self.sink
            .save(self.store.as_ref(), self.position, &self.verifier.state())
            .await?;
        self.saved_seq = self.position;
        self.saved_at = Instant::now();
        Ok(())
    }
}
