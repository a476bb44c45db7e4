//! The in-process bus of the embedded profile: a broadcast channel.
//! It keeps no history; a subscriber that starts late or lags repairs from
//! the log.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::broadcast;

use super::{Bus, BusError};
use crate::event::Event;

pub struct LocalBus {
    sender: broadcast::Sender<Event>,
    last: AtomicU64,
}

impl Default for LocalBus {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl LocalBus {
    pub fn new(capacity: usize) -> Self {
        Self::starting_after(capacity, 0)
    }

    /// A bus whose history starts after `seq`: in-process consumers read
    /// everything before it from the log, so a restart relays nothing old.
    pub fn starting_after(capacity: usize, seq: u64) -> Self {
        let (sender, _) = broadcast::channel(capacity);
        LocalBus {
            sender,
            last: AtomicU64::new(seq),
        }
    }
}

#[async_trait]
impl Bus for LocalBus {
    async fn last_published(&self) -> Result<u64, BusError> {
        Ok(self.last.load(Ordering::Acquire))
    }

    async fn publish(&self, events: &[Event]) -> Result<(), BusError> {
        for event in events {
            let last = self.last.load(Ordering::Acquire);
            if event.seq <= last {
                continue;
            }
            if event.seq != last + 1 {
                return Err(BusError::OutOfStep(format!("seq {} does not follow {last}", event.seq)));
            }
            // No receivers is fine: nobody is listening yet.
            let _ = self.sender.send(event.clone());
            self.last.store(event.seq, Ordering::Release);
        }
        Ok(())
    }

    async fn subscribe(&self, from: u64) -> Result<BoxStream<'static, Result<Event, BusError>>, BusError> {
        let receiver = self.sender.subscribe();
        let stream = futures::stream::unfold(receiver, |mut receiver| async move {
            let item = match receiver.recv().await {
                Ok(event) => Ok(event),
                Err(broadcast::error::RecvError::Lagged(_)) => Err(BusError::Lagged),
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((item, receiver))
        })
        .filter(move |item| futures::future::ready(!matches!(item, Ok(event) if event.seq < from)));
        Ok(stream.boxed())
    }

    async fn ping(&self) -> Result<(), BusError> {
        Ok(())
    }

    fn is_shared(&self) -> bool {
        false
    }
}
