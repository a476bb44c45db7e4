//! The relay copies committed events from the log to the bus, in `seq`
//! order, and only committed ones. It resumes from what the bus holds, so a
//! restart or a bus outage loses and duplicates nothing. On a shared bus one
//! node relays at a time (a lease from the ledger); the others wait.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::Bus;
use crate::ledger::{Leader, Lease, LedgerStore};

const CHUNK: usize = 1000;
/// How often the relay reads the log without being woken: commits (this
/// process's, and other nodes' as the store announces them) wake it at
/// once; this only covers announcements lost while reconnecting.
const POLL: Duration = Duration::from_millis(250);
const LEASE_CHECK: Duration = Duration::from_secs(1);

pub struct Relay {
    pub store: Arc<dyn LedgerStore>,
    pub bus: Arc<dyn Bus>,
    /// Commits known to the ledger (`Ledger::committed`): wake the relay.
    pub committed: watch::Receiver<u64>,
    pub shutdown: watch::Receiver<bool>,
}

impl Relay {
    pub async fn run(mut self) {
        let mut backoff = Backoff::default();
        while !*self.shutdown.borrow() {
            let lease = if self.bus.is_shared() {
                match self.store.try_lease(Leader::Relay).await {
                    Ok(Some(lease)) => Some(lease),
                    Ok(None) => {
                        metrics::gauge!("warden_relay_leader").set(0.0);
                        self.pause(LEASE_CHECK).await;
                        continue;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "relay cannot take the lease");
                        self.pause(backoff.next_delay()).await;
                        continue;
                    }
                }
            } else {
                None
            };
            tracing::info!("relay started");
            metrics::gauge!("warden_relay_leader").set(1.0);
            let outcome = self.relay_while_held(lease).await;
            // The lease is gone with `relay_while_held`: another node may
            // lead from now on, so this one no longer says it does.
            metrics::gauge!("warden_relay_leader").set(0.0);
            if let Err(error) = outcome {
                tracing::warn!(%error, "relay interrupted; resuming from the bus position");
                self.pause(backoff.next_delay()).await;
            } else {
                backoff = Backoff::default();
            }
        }
    }

    /// Relays until the lease is lost (Ok) or the bus or log fails (Err).
    async fn relay_while_held(&mut self, mut lease: Option<Box<dyn Lease>>) -> Result<(), String> {
        let mut published = self.bus.last_published().await.map_err(|e| e.to_string())?;
        let head = self.store.head().await.map_err(|e| e.to_string())?.seq;
        if published > head {
            // The stream belongs to another history (a restored backup, a
            // reverted database): publishing would skip our events.
            metrics::gauge!("warden_relay_bus_ahead_of_log").set(1.0);
            return Err(format!(
                "the bus holds seq {published} but the log ends at {head}: \
                 the stream does not belong to this log; delete it to republish"
            ));
        }
        metrics::gauge!("warden_relay_bus_ahead_of_log").set(0.0);
        let mut lease_checked = tokio::time::Instant::now();
        while !*self.shutdown.borrow() {
            if let Some(held) = lease.as_mut()
                && lease_checked.elapsed() > LEASE_CHECK
            {
                if !held.still_held().await {
                    tracing::warn!("relay lease lost");
                    return Ok(());
                }
                lease_checked = tokio::time::Instant::now();
            }
            let events = self.store.read(published + 1, CHUNK).await.map_err(|e| e.to_string())?;
            if let Some(last) = events.last() {
                self.bus.publish(&events).await.map_err(|e| e.to_string())?;
                published = last.seq;
                metrics::gauge!("warden_relay_published_seq").set(published as f64);
                let head = (*self.committed.borrow()).max(published);
                metrics::gauge!("warden_relay_lag_events").set((head - published) as f64);
                if events.len() == CHUNK {
                    continue;
                }
            }
            metrics::gauge!("warden_relay_lag_events").set(0.0);
            tokio::select! {
                _ = self.committed.changed() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = self.shutdown.changed() => {}
            }
        }
        Ok(())
    }

    async fn pause(&mut self, duration: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(duration) => {}
            _ = self.shutdown.changed() => {}
        }
    }
}

/// Exponential backoff from 100 ms to 5 s.
pub struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Backoff(Duration::from_millis(100))
    }
}

impl Backoff {
    pub fn next_delay(&mut self) -> Duration {
        let current = self.0;
        self.0 = (self.0 * 2).min(Duration::from_secs(5));
        current
    }
}
