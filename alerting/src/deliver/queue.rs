//! The one delivery loop, for every kind of delivery (alerts, account
//! email): while this node holds the kind's lease, it takes what is due
//! from the kind's read model, attempts each at most once at a time, and
//! appends how each attempt ended, with the retry's due time from
//! [`retry_wait`]. A job stays taken until the model has applied that
//! event, so it is never attempted twice for one due time.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use warden_core::NewEvent;
use warden_core::ledger::{Leader, Lease, Ledger};
use warden_projections::Positions;

use super::Failure;
use super::backoff::retry_wait;

/// Jobs attempted at once.
const CONCURRENT: usize = 32;
/// How often the lease is checked, and the longest sleep between looks.
const TICK: Duration = Duration::from_secs(1);
/// After the log refused an attempt's event (or the attempt failed
/// unexpectedly): wait before trying again.
const APPEND_PAUSE: Duration = Duration::from_secs(5);

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Delivered,
    /// Failed; retried at the attempt's `next_at`.
    Failed,
    /// Failed for good, or on its last attempt.
    GaveUp,
}

/// An attempt, as its event records it.
#[derive(Debug, Clone)]
pub struct Attempted {
    pub end: End,
    /// The receiver's status (an HTTP status), when it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub next_at: Option<DateTime<Utc>>,
    pub duration: Duration,
}

/// A kind of delivery.
pub trait Queue: Send + Sync + 'static {
    type Job: Send + 'static;

    /// Names the lease, the logs and the metrics' `channel` label.
    const NAME: &'static str;
    const LEADER: Leader;

    /// What is due at `now`, and when the next one is due.
    fn due(&self, now: DateTime<Utc>) -> (Vec<Self::Job>, Option<DateTime<Utc>>);
    /// Which job this is: one attempt at a time per key.
    fn key(job: &Self::Job) -> String;
    /// The number of the attempt to make (1 for the first).
    fn attempt_number(job: &Self::Job) -> u32;
    /// The metrics' channel of a job (`webhook`, `email`).
    fn channel(job: &Self::Job) -> &'static str;
    /// Makes the attempt: the receiver's status, if it gives one.
    fn attempt(&self, job: &Self::Job) -> impl Future<Output = Result<Option<u16>, Failure>> + Send;
    /// The event that records the attempt.
    fn record(&self, job: &Self::Job, attempted: &Attempted) -> NewEvent;
    /// After the attempt's event is appended.
    fn recorded(&self, _job: &Self::Job, _attempted: &Attempted) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// What every kind's retries follow (`alert_delivery_attempts`,
/// `alert_delivery_first_retry_ms`).
#[derive(Debug, Clone, Copy)]
pub struct Retries {
    pub attempts: u32,
    pub first_retry: Duration,
}

/// Delivers `queue`'s jobs while this node leads, until `shutdown`.
pub async fn run<Q: Queue>(
    queue: Arc<Q>,
    ledger: Ledger,
    positions: Positions,
    retries: Retries,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        match ledger.store().try_lease(Q::LEADER).await {
            Ok(Some(lease)) => {
                tracing::info!(queue = Q::NAME, "deliverer started");
                metrics::gauge!("warden_delivery_leader", "queue" => Q::NAME).set(1.0);
                let worker = Worker {
                    queue: Arc::clone(&queue),
                    ledger: ledger.clone(),
                    retries,
                };
                worker.while_held(lease, positions.clone(), &mut shutdown).await;
                metrics::gauge!("warden_delivery_leader", "queue" => Q::NAME).set(0.0);
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, queue = Q::NAME, "deliverer cannot take the lease"),
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Where a taken job stands.
enum Taken {
    Attempting,
    /// Its event is at this seq; taken until the model applies it.
    Recorded(u64),
    /// The event could not be appended; let go at this instant.
    Paused(Instant),
}

struct Worker<Q> {
    queue: Arc<Q>,
    ledger: Ledger,
    retries: Retries,
}

impl<Q> Clone for Worker<Q> {
    fn clone(&self) -> Self {
        Worker {
            queue: Arc::clone(&self.queue),
            ledger: self.ledger.clone(),
            retries: self.retries,
        }
    }
}

impl<Q: Queue> Worker<Q> {
    async fn while_held(
        &self,
        mut lease: Box<dyn Lease>,
        mut positions: Positions,
        shutdown: &mut watch::Receiver<bool>,
    ) {
        let mut taken: HashMap<String, Taken> = HashMap::new();
        let mut attempts: JoinSet<Option<u64>> = JoinSet::new();
        // The job of each running attempt, found again even when the
        // attempt's task panicked.
        let mut running: HashMap<tokio::task::Id, String> = HashMap::new();
        let mut lease_checked = Instant::now();
        while !*shutdown.borrow() {
            if lease_checked.elapsed() >= TICK {
                if !lease.still_held().await {
                    tracing::warn!(queue = Q::NAME, "delivery lease lost");
                    return;
                }
                lease_checked = Instant::now();
            }
            let applied = positions.applied();
            let now = Instant::now();
            taken.retain(|_, state| match state {
                Taken::Attempting => true,
                Taken::Recorded(seq) => *seq > applied,
                Taken::Paused(until) => *until > now,
            });
            let (due, next_due) = self.queue.due(Utc::now());
            for job in due {
                let key = Q::key(&job);
                if taken.len() >= CONCURRENT || taken.contains_key(&key) {
                    continue;
                }
                taken.insert(key.clone(), Taken::Attempting);
                let worker = self.clone();
                let task = attempts.spawn(async move { worker.attempt(job).await });
                running.insert(task.id(), key);
            }
            let wait = next_due
                .and_then(|at| (at - Utc::now()).to_std().ok())
                .unwrap_or(TICK)
                .min(TICK);
            tokio::select! {
                Some(done) = attempts.join_next_with_id(), if !attempts.is_empty() => {
                    let (task, recorded) = match done {
                        Ok((task, recorded)) => (task, recorded),
                        Err(failed) => (failed.id(), None),
                    };
                    if let Some(key) = running.remove(&task) {
                        let state = match recorded {
                            Some(seq) => Taken::Recorded(seq),
                            None => Taken::Paused(Instant::now() + APPEND_PAUSE),
                        };
                        taken.insert(key, state);
                    }
                }
                _ = positions.changed() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// One attempt; the seq of the event recording it.
    async fn attempt(&self, job: Q::Job) -> Option<u64> {
        let started = Instant::now();
        let result = self.queue.attempt(&job).await;
        let duration = started.elapsed();
        let number = Q::attempt_number(&job);
        let attempted = match result {
            Ok(status) => Attempted {
                end: End::Delivered,
                status,
                error: None,
                next_at: None,
                duration,
            },
            Err(failure) if failure.permanent || number >= self.retries.attempts => Attempted {
                end: End::GaveUp,
                status: failure.status,
                error: Some(failure.error),
                next_at: None,
                duration,
            },
            Err(failure) => {
                let wait = retry_wait(
                    self.retries.first_retry,
                    number,
                    failure.retry_after,
                    rand::random::<f64>(),
                );
                Attempted {
                    end: End::Failed,
                    status: failure.status,
                    error: Some(failure.error),
                    next_at: Some(Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default()),
                    duration,
                }
            }
        };
        let outcome = match attempted.end {
            End::Delivered => "delivered",
            End::Failed => "failed",
            End::GaveUp => "gave_up",
        };
        let channel = Q::channel(&job);
        metrics::counter!("warden_delivery_attempts_total", "queue" => Q::NAME, "channel" => channel, "outcome" => outcome)
            .increment(1);
        metrics::histogram!("warden_delivery_seconds", "queue" => Q::NAME, "channel" => channel)
            .record(duration.as_secs_f64());
        match self.ledger.append_one(self.queue.record(&job, &attempted)).await {
            Ok(event) => {
                self.queue.recorded(&job, &attempted).await;
                Some(event.seq)
            }
            Err(error) => {
                tracing::warn!(%error, queue = Q::NAME, job = %Q::key(&job), "could not record a delivery attempt; it will be made again");
                None
            }
        }
    }
}

/// A request id for an attempt's event: the same attempt, the same id.
pub fn attempt_request_id(queue: &str, key: &str, attempt: u32) -> String {
    let hash = blake3::hash(format!("{key}\n{attempt}").as_bytes());
    format!("{queue}-delivery-{}", &hash.to_hex()[..32])
}
