//! Following the bus: events as they are published, the log tailed
//! beside it, gaps repaired from the log.

use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use tokio::sync::watch;
use warden_core::Event;
use warden_core::bus::BusError;

use super::{CHUNK, Runner, RunnerError, Sink};

type EventStream = BoxStream<'static, Result<Event, BusError>>;

/// The runner checks the log itself this often, whatever the bus carries
/// (a bus replaying a backlog never holds newer events back).
const TAIL_INTERVAL: Duration = Duration::from_millis(250);
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_millis(500);
const RESUBSCRIBE_FIRST: Duration = Duration::from_secs(2);
const RESUBSCRIBE_MAX: Duration = Duration::from_secs(15);

impl<S: Sink> Runner<S> {
    pub(super) async fn follow(&mut self, shutdown: &mut watch::Receiver<bool>) -> Result<(), RunnerError> {
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
}
