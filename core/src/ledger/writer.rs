//! Group commit: one writer task per process drains every pending append
//! into one transaction, then answers each caller after the commit.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot, watch};

use super::seal::SealInput;
use super::store::raise;
use super::{AppendError, LedgerStore, MAX_BATCH_EVENTS};
use crate::event::{Event, NewEvent};
use crate::keys::signing::Signer;

pub(super) struct Request {
    pub events: Vec<NewEvent>,
    pub reply: oneshot::Sender<Result<Vec<Event>, AppendError>>,
}

pub(super) struct Writer {
    pub store: Arc<dyn LedgerStore>,
    pub requests: mpsc::Receiver<Request>,
    pub committed: Arc<watch::Sender<u64>>,
    pub signer: Signer,
}

impl Writer {
    pub async fn run(mut self) {
        while let Some(first) = self.requests.recv().await {
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
