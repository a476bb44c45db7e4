//! Group commit: one writer task per process drains every pending append
//! into one transaction, then answers each caller after the commit.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use super::breaker::{Admission, Breaker};
use super::seal::SealInput;
use super::signer::Signer;
use super::store::raise;
use super::{AppendError, LedgerStore, MAX_BATCH_EVENTS};
use crate::event::{Event, NewEvent};

pub(super) struct Request {
    pub events: Vec<NewEvent>,
    pub reply: oneshot::Sender<Result<Vec<Event>, AppendError>>,
}

pub(super) struct Writer {
    pub store: Arc<dyn LedgerStore>,
    pub requests: mpsc::Receiver<Request>,
    pub committed: Arc<watch::Sender<u64>>,
    pub signer: Signer,
    pub breaker: Arc<Mutex<Breaker>>,
}

/// How long a probe of a failing store may take.
pub(super) const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The shared breaker, whatever a panicking holder left.
pub(super) fn lock(breaker: &Mutex<Breaker>) -> std::sync::MutexGuard<'_, Breaker> {
    breaker.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Writer {
    pub async fn run(mut self) {
        loop {
            // While the breaker is open, probe the store when its period
            // ends even if no append comes: an idle node recovers too.
            let probe_at = lock(&self.breaker).probe_at();
            let probe = async {
                match probe_at {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            let first = tokio::select! {
                request = self.requests.recv() => match request {
                    Some(request) => request,
                    None => return,
                },
                () = probe => {
                    self.probe().await;
                    continue;
                }
            };
            let mut size = first.events.len();
            let mut batch = vec![first];
            while size < MAX_BATCH_EVENTS {
                match self.requests.try_recv() {
                    Ok(request) => {
                        size += request.events.len();
                        batch.push(request);
                    }
                    Err(_) => break,
                }
            }
            self.commit(batch, size).await;
        }
    }

    /// Asks the store whether it can write again: half-opens the breaker
    /// if it can, opens it for longer if not.
    async fn probe(&self) {
        let answered = matches!(
            tokio::time::timeout(PROBE_TIMEOUT, self.store.probe()).await,
            Ok(Ok(()))
        );
        let mut breaker = lock(&self.breaker);
        if answered {
            breaker.answered();
        } else {
            breaker.failed(Instant::now());
        }
    }

    /// Whether to send a batch to the store now; `Err` with the wait
    /// before a retry is worth it.
    async fn admit(&self) -> Result<(), Duration> {
        let admission = lock(&self.breaker).admit(Instant::now());
        let admission = match admission {
            Admission::Probe => {
                self.probe().await;
                lock(&self.breaker).admit(Instant::now())
            }
            other => other,
        };
        match admission {
            Admission::Admit => Ok(()),
            Admission::Refuse { retry_after } => Err(retry_after),
            // Probed just now and it failed: a new period began.
            Admission::Probe => Err(Duration::ZERO),
        }
    }

    async fn commit(&self, batch: Vec<Request>, size: usize) {
        if size == 0 {
            // Only flush barriers: nothing to write.
            for request in batch {
                let _ = request.reply.send(Ok(Vec::new()));
            }
            return;
        }
        let Some(key) = self.signer.current() else {
            for request in batch {
                let _ = request.reply.send(Err(AppendError::NoSigningKey));
            }
            return;
        };
        if let Err(retry_after) = self.admit().await {
            metrics::counter!("warden_append_refused_down_total").increment(batch.len() as u64);
            for request in batch {
                let _ = request.reply.send(Err(AppendError::Down { retry_after }));
            }
            return;
        }
        let (events, replies): (Vec<Vec<NewEvent>>, Vec<_>) =
            batch.into_iter().map(|request| (request.events, request.reply)).unzip();
        let started = Instant::now();
        let outcome = self
            .store
            .commit(SealInput {
                requests: &events,
                key: &key,
            })
            .await;
        metrics::histogram!("warden_append_batch_seconds").record(started.elapsed().as_secs_f64());
        metrics::histogram!("warden_append_batch_events").record(size as f64);
        match &outcome {
            Ok(_) => lock(&self.breaker).succeeded(),
            Err(_) => lock(&self.breaker).failed(Instant::now()),
        }
        match outcome {
            Ok(sealed) => {
                if let Some(last) = sealed.last_seq() {
                    let count = sealed.events().count();
                    metrics::counter!("warden_append_events_total").increment(count as u64);
                    raise(&self.committed, last);
                }
                for (reply, result) in replies.into_iter().zip(sealed.results) {
                    if let Err(AppendError::Conflict { .. } | AppendError::ClaimTaken { .. }) = &result {
                        metrics::counter!("warden_append_refused_total").increment(1);
                    }
                    let _ = reply.send(result);
                }
            }
            Err(error) => {
                tracing::error!(%error, events = size, "append batch failed; nothing in it was acknowledged");
                metrics::counter!("warden_append_failed_batches_total").increment(1);
                let message = error.to_string();
                for reply in replies {
                    let _ = reply.send(Err(AppendError::Unavailable(message.clone())));
                }
            }
        }
    }
}
