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

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use thiserror::Error;
use tokio::sync::watch;
use warden_core::Event;
use warden_core::bus::relay::Backoff;
use warden_core::bus::{Bus, BusError};
use warden_core::chain::{ChainError, ChainVerifier, VerifierState};
use warden_core::commands::catalogue::{self, PayloadError};
use warden_core::ledger::archive::start_verifier;
use warden_core::ledger::verify::VerifyError;
use warden_core::ledger::{LedgerError, LedgerStore};

use crate::ReadModels;
use crate::projection::Models;

const CHUNK: usize = 1000;

type EventStream = BoxStream<'static, Result<Event, BusError>>;
/// Threads that verify signatures while catching up.
const VERIFY_THREADS: usize = 2;
/// The runner checks the log itself this often, whatever the bus carries
/// (a bus replaying a backlog never holds newer events back).
const TAIL_INTERVAL: Duration = Duration::from_millis(250);
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_millis(500);
const RESUBSCRIBE_FIRST: Duration = Duration::from_secs(2);
const RESUBSCRIBE_MAX: Duration = Duration::from_secs(15);

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

/// Restores `sink` and returns the verifier and the position the runner
/// goes on from.
async fn start_at<S: Sink>(store: &dyn LedgerStore, sink: &mut S) -> Result<(ChainVerifier, u64), RunnerError> {
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

/// Where the read models stand, for read-your-writes and readiness.
#[derive(Clone)]
pub struct Positions {
    applied: watch::Receiver<u64>,
    failure: watch::Receiver<Option<String>>,
    /// Set with `failure` when it is a chain violation.
    violation: watch::Receiver<Option<String>>,
    setback: watch::Receiver<Option<String>>,
}

impl Positions {
    /// The highest seq every read model has applied.
    pub fn applied(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Why the runner stopped, if it did (a chain violation, an event
    /// that cannot be read, a sink that cannot keep events).
    pub fn failure(&self) -> Option<String> {
        self.failure.borrow().clone()
    }

    /// Waits until the runner stops on a chain violation (an event of the
    /// log that does not verify); returns what the verifier said. Never
    /// returns while the log verifies.
    pub async fn violation(&self) -> String {
        let mut violation = self.violation.clone();
        let found = match violation.wait_for(Option::is_some).await {
            Ok(found) => found.clone(),
            Err(_) => None,
        };
        match found {
            Some(violation) => violation,
            None => std::future::pending().await,
        }
    }

    /// Why the sink went back to its last save and is reading the log
    /// again, until it saves past that point.
    pub fn setback(&self) -> Option<String> {
        self.setback.borrow().clone()
    }

    /// Waits until the read models apply more (or their runner ends).
    pub async fn changed(&mut self) {
        if self.applied.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Waits until the read models applied `seq`; false on timeout.
    pub async fn wait_for(&self, seq: u64, timeout: Duration) -> bool {
        let mut applied = self.applied.clone();
        tokio::time::timeout(timeout, applied.wait_for(|position| *position >= seq))
            .await
            .is_ok_and(|result| result.is_ok())
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

    async fn follow(&mut self, shutdown: &mut watch::Receiver<bool>) -> Result<(), RunnerError> {
        self.catch_up().await?;
        let mut stream: Option<EventStream> = None;
        // Subscribing runs beside the loop: a bus that is slow to answer
        // (reconnecting) never holds back reading the log.
        let mut subscribing = Some(self.subscribe());
        let mut retry = RESUBSCRIBE_FIRST;
        let mut resubscribe_at = Instant::now() + retry;
        let mut tail = tokio::time::interval(TAIL_INTERVAL);
        tail.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut committed = self.committed.clone();
        while !*shutdown.borrow() {
            let next = async {
                match stream.as_mut() {
                    Some(stream) => stream.next().await,
                    None => std::future::pending().await,
                }
            };
            let subscribed = async {
                match subscribing.as_mut() {
                    Some(subscribing) => subscribing.await,
                    None => std::future::pending().await,
                }
            };
            let local = async {
                let Some(committed) = committed.as_mut() else {
                    return std::future::pending().await;
                };
                match committed.changed().await {
                    Ok(()) => *committed.borrow_and_update(),
                    // The ledger is gone: nothing more to wake on.
                    Err(_) => std::future::pending().await,
                }
            };
            tokio::select! {
                item = next => match item {
                    Some(Ok(event)) => {
                        // Take whatever else the bus already delivered, to
                        // verify and apply it as one run.
                        let mut run = vec![event];
                        while run.len() < CHUNK {
                            match stream.as_mut().and_then(|stream| stream.next().now_or_never()) {
                                Some(Some(Ok(event))) => run.push(event),
                                _ => break,
                            }
                        }
                        self.receive(run).await?
                    }
                    Some(Err(error)) => {
                        tracing::debug!(%error, "bus stream interrupted; repairing from the log");
                        stream = None;
                        self.catch_up().await?;
                    }
                    None => stream = None,
                },
                new = subscribed => {
                    subscribing = None;
                    retry = if new.is_some() {
                        RESUBSCRIBE_FIRST
                    } else {
                        if stream.is_none() && retry == RESUBSCRIBE_FIRST {
                            tracing::warn!("bus unreachable: tailing the log");
                        }
                        (retry * 2).min(RESUBSCRIBE_MAX)
                    };
                    resubscribe_at = Instant::now() + retry;
                    stream = new;
                }
                seq = local => {
                    if seq > self.position {
                        self.catch_up().await?;
                    }
                }
                _ = tail.tick() => {
                    self.catch_up().await?;
                }
                _ = shutdown.changed() => {}
            }
            if stream.is_none() && subscribing.is_none() && Instant::now() >= resubscribe_at {
                subscribing = Some(self.subscribe());
            }
            self.maybe_snapshot().await?;
        }
        Ok(())
    }

    /// Subscribes from the next seq, briefly: while the bus is down the
    /// runner tails the log instead of waiting on it.
    fn subscribe(&self) -> BoxFuture<'static, Option<EventStream>> {
        let bus = self.bus.clone();
        let from = self.position + 1;
        async move {
            match tokio::time::timeout(SUBSCRIBE_TIMEOUT, bus.subscribe(from)).await {
                Ok(Ok(stream)) => Some(stream),
                Ok(Err(error)) => {
                    tracing::debug!(%error, "cannot subscribe to the bus");
                    None
                }
                Err(_) => None,
            }
        }
        .boxed()
    }

    /// A run of events from the bus: those seen are skipped, a gap before
    /// them is repaired from the log, and the contiguous rest applied.
    async fn receive(&mut self, run: Vec<Event>) -> Result<(), RunnerError> {
        let mut run: Vec<Event> = run.into_iter().filter(|event| event.seq > self.position).collect();
        let Some(first) = run.first().map(|event| event.seq) else {
            return Ok(());
        };
        if first > self.position + 1 {
            metrics::counter!("warden_projection_gap_repairs_total").increment(1);
            while self.position + 1 < first {
                let missing = (first - self.position - 1) as usize;
                let events = self.store.read(self.position + 1, missing.min(CHUNK)).await?;
                if events.is_empty() {
                    break;
                }
                self.apply_verified(events).await?;
            }
        }
        // Keep the contiguous part; anything after a hole comes from the log
        // on the next tail or bus item.
        run.retain(|event| event.seq > self.position);
        let contiguous = run
            .iter()
            .enumerate()
            .take_while(|(offset, event)| event.seq == self.position + 1 + *offset as u64)
            .count();
        run.truncate(contiguous);
        match self.apply_verified(run).await {
            // The bus is fan-out, not the truth: an event on it that does
            // not verify (forged, or corrupted in transit) is dropped and
            // the same seqs are read from the log. Only the log failing
            // verification stops the runner.
            Err(RunnerError::Chain(error)) => {
                metrics::counter!("warden_bus_events_rejected_total").increment(1);
                tracing::warn!(%error, "an event from the bus does not verify: ignored, reading the log instead");
                self.catch_up().await.map(|_| ())
            }
            other => other,
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
