//! The projection runner: feeds every read model in `seq` order.
//!
//! It restores snapshots, catches up from the log (verifying the chain in
//! batches), then follows the bus. It checks every event against the chain
//! (continuity, link, hash, signature); a gap is repaired from the log; when
//! the bus is unreachable or silent it tails the log instead. A chain
//! violation stops the runner: read models never include an event that does
//! not verify.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use thiserror::Error;
use tokio::sync::watch;
use warden_core::Event;
use warden_core::bus::relay::Backoff;
use warden_core::bus::{Bus, BusError};
use warden_core::chain::{ChainError, ChainVerifier, VerifierState};
use warden_core::ledger::{LedgerError, LedgerStore, Snapshot};

use crate::ReadModels;
use crate::projection::Slot;

const CHUNK: usize = 1000;
/// Threads that verify signatures while catching up.
const VERIFY_THREADS: usize = 2;
/// With no bus traffic for this long, the runner checks the log itself.
const TAIL_INTERVAL: Duration = Duration::from_millis(250);
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_millis(500);
const RESUBSCRIBE_FIRST: Duration = Duration::from_secs(2);
const RESUBSCRIBE_MAX: Duration = Duration::from_secs(15);
const SNAPSHOT_EVERY_EVENTS: u64 = 10_000;
const SNAPSHOT_EVERY: Duration = Duration::from_secs(30);
/// The chain verifier's own snapshot.
const CHAIN_SNAPSHOT: &str = "chain";
const CHAIN_SNAPSHOT_VERSION: u32 = 1;

#[derive(Debug, Error)]
pub enum RunnerError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("the log fails verification: {0}")]
    Chain(#[from] ChainError),
}

/// Where the read models stand, for read-your-writes and readiness.
#[derive(Clone)]
pub struct Positions {
    applied: watch::Receiver<u64>,
    failure: watch::Receiver<Option<String>>,
}

impl Positions {
    /// The highest seq every read model has applied.
    pub fn applied(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Why the runner stopped, if it did (a chain violation).
    pub fn failure(&self) -> Option<String> {
        self.failure.borrow().clone()
    }

    /// Waits until the read models applied `seq`; false on timeout.
    pub async fn wait_for(&self, seq: u64, timeout: Duration) -> bool {
        let mut applied = self.applied.clone();
        tokio::time::timeout(timeout, applied.wait_for(|position| *position >= seq))
            .await
            .is_ok_and(|result| result.is_ok())
    }
}

pub struct Runner {
    store: Arc<dyn LedgerStore>,
    bus: Arc<dyn Bus>,
    slots: Vec<Box<dyn Slot>>,
    verifier: ChainVerifier,
    position: u64,
    applied: watch::Sender<u64>,
    failure: watch::Sender<Option<String>>,
    snapshot_seq: u64,
    snapshot_at: Instant,
}

impl Runner {
    /// Restores every read model from its snapshot (or resets it when its
    /// version changed) and returns the runner and its positions.
    pub async fn restore(
        store: Arc<dyn LedgerStore>,
        bus: Arc<dyn Bus>,
        models: &ReadModels,
    ) -> Result<(Self, Positions), RunnerError> {
        let mut slots = models.slots();
        for slot in &mut slots {
            let restored = match store.load_snapshot(slot.name()).await? {
                Some(snapshot) if snapshot.version == slot.version() => slot.restore(snapshot.seq, &snapshot.state),
                Some(_) => {
                    tracing::info!(
                        projection = slot.name(),
                        "projection version changed: rebuilding from seq 1"
                    );
                    false
                }
                None => false,
            };
            if !restored {
                slot.reset();
            }
        }
        let position = slots.iter().map(|slot| slot.position()).min().unwrap_or(0);
        let verifier = match store.load_snapshot(CHAIN_SNAPSHOT).await? {
            Some(snapshot) if snapshot.version == CHAIN_SNAPSHOT_VERSION => {
                serde_json::from_slice::<VerifierState>(&snapshot.state)
                    .ok()
                    .and_then(|state| ChainVerifier::from_state(&state))
                    .filter(|verifier| verifier.next_seq() == position + 1)
            }
            _ => None,
        };
        // Without a verifier state at the models' position, verify from 1.
        let (verifier, position) = match verifier {
            Some(verifier) => (verifier, position),
            None => (ChainVerifier::new(), 0),
        };
        let (applied, applied_receiver) = watch::channel(position);
        let (failure, failure_receiver) = watch::channel(None);
        let runner = Runner {
            store,
            bus,
            slots,
            verifier,
            position,
            applied,
            failure,
            snapshot_seq: position,
            snapshot_at: Instant::now(),
        };
        let positions = Positions {
            applied: applied_receiver,
            failure: failure_receiver,
        };
        Ok((runner, positions))
    }

    pub fn position(&self) -> u64 {
        self.position
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
                    return;
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
        if let Err(error) = self.save_snapshots().await {
            tracing::warn!(%error, "final snapshot not saved");
        }
    }

    async fn follow(&mut self, shutdown: &mut watch::Receiver<bool>) -> Result<(), RunnerError> {
        self.catch_up().await?;
        let mut stream = self.subscribe().await;
        if stream.is_none() {
            tracing::warn!("bus unreachable: tailing the log");
        }
        let mut retry = RESUBSCRIBE_FIRST;
        let mut resubscribe_at = Instant::now() + retry;
        while !*shutdown.borrow() {
            let next = async {
                match stream.as_mut() {
                    Some(stream) => stream.next().await,
                    None => std::future::pending().await,
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
                _ = tokio::time::sleep(TAIL_INTERVAL) => {
                    self.catch_up().await?;
                }
                _ = shutdown.changed() => {}
            }
            if stream.is_none() && Instant::now() >= resubscribe_at {
                stream = self.subscribe().await;
                retry = if stream.is_some() {
                    RESUBSCRIBE_FIRST
                } else {
                    (retry * 2).min(RESUBSCRIBE_MAX)
                };
                resubscribe_at = Instant::now() + retry;
            }
            self.maybe_snapshot().await;
        }
        Ok(())
    }

    /// Subscribes from the next seq, briefly: while the bus is down the
    /// runner tails the log instead of waiting on it.
    async fn subscribe(&self) -> Option<BoxStream<'static, Result<Event, BusError>>> {
        match tokio::time::timeout(SUBSCRIBE_TIMEOUT, self.bus.subscribe(self.position + 1)).await {
            Ok(Ok(stream)) => Some(stream),
            Ok(Err(error)) => {
                tracing::debug!(%error, "cannot subscribe to the bus");
                None
            }
            Err(_) => None,
        }
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
        self.apply_verified(run).await
    }

    /// Verifies a run of events (off the async workers) and applies it.
    async fn apply_verified(&mut self, events: Vec<Event>) -> Result<(), RunnerError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut verifier = self.verifier.clone();
        let (verifier, events, result) = tokio::task::spawn_blocking(move || {
            let result = verifier.check_all(&events, VERIFY_THREADS);
            (verifier, events, result)
        })
        .await
        .map_err(|error| {
            RunnerError::Ledger(LedgerError::Corrupt {
                seq: 0,
                reason: error.to_string(),
            })
        })?;
        self.verifier = verifier;
        result?;
        for slot in &mut self.slots {
            slot.apply_all(&events);
        }
        if let Some(last) = events.last() {
            self.position = last.seq;
            self.applied.send_replace(self.position);
            metrics::gauge!("warden_projection_position").set(self.position as f64);
        }
        Ok(())
    }

    async fn maybe_snapshot(&mut self) {
        let behind = self.position - self.snapshot_seq;
        let due = behind >= SNAPSHOT_EVERY_EVENTS || (behind > 0 && self.snapshot_at.elapsed() >= SNAPSHOT_EVERY);
        if due && let Err(error) = self.save_snapshots().await {
            tracing::warn!(%error, "snapshot not saved");
        }
    }

    /// Saves every read model and the chain verifier at one position.
    pub async fn save_snapshots(&mut self) -> Result<(), RunnerError> {
        let mut snapshots = Vec::with_capacity(self.slots.len() + 1);
        for slot in &self.slots {
            snapshots.push(Snapshot {
                name: slot.name().to_string(),
                version: slot.version(),
                seq: self.position,
                state: slot.encode().map_err(|error| LedgerError::Corrupt {
                    seq: self.position,
                    reason: error.to_string(),
                })?,
            });
        }
        snapshots.push(Snapshot {
            name: CHAIN_SNAPSHOT.to_string(),
            version: CHAIN_SNAPSHOT_VERSION,
            seq: self.position,
            state: serde_json::to_vec(&self.verifier.state()).map_err(|error| LedgerError::Corrupt {
                seq: self.position,
                reason: error.to_string(),
            })?,
        });
        self.store.save_snapshots(&snapshots).await?;
        self.snapshot_seq = self.position;
        self.snapshot_at = Instant::now();
        Ok(())
    }
}
