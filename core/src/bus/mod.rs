//! The bus: fan-out of committed events to projections and the alert
//! evaluator. The log is the truth; the bus only carries copies, in `seq`
//! order, and holds at most one copy of each `seq`.
//!
//! Two implementations: NATS JetStream (production; stream sequence equals
//! `seq`) and in-process (embedded). Consumers never trust the bus alone:
//! they check continuity and repair gaps from the log.

pub mod local;
pub mod nats;
pub mod relay;

use async_trait::async_trait;
use futures::stream::BoxStream;
use thiserror::Error;

use crate::event::Event;

#[derive(Debug, Clone, Error)]
pub enum BusError {
    #[error("bus unavailable: {0}")]
    Unavailable(String),
    /// The bus holds a different history than the log (for example a
    /// message whose `seq` does not follow): the relay must resynchronize.
    #[error("bus out of step: {0}")]
    OutOfStep(String),
    #[error("subscriber fell behind and missed events")]
    Lagged,
}

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// The highest `seq` the bus holds (0 when empty).
    async fn last_published(&self) -> Result<u64, BusError>;
    /// Publishes events that directly follow `last_published`, in order.
    /// Events the bus already holds are skipped, never duplicated.
    async fn publish(&self, events: &[Event]) -> Result<(), BusError>;
    /// Events from `from` onward, live. The stream may start later than
    /// `from` or skip (the consumer repairs from the log) but is in order.
    async fn subscribe(&self, from: u64) -> Result<BoxStream<'static, Result<Event, BusError>>, BusError>;
    async fn ping(&self) -> Result<(), BusError>;
    /// Whether several processes share this bus (and so need one relay).
    fn is_shared(&self) -> bool;

    /// Sends a best-effort note to the other nodes on `topic` (never the
    /// log, never kept: a node that is not listening misses it). A bus of
    /// one process has no one to tell.
    async fn broadcast(&self, _topic: &str, _payload: Vec<u8>) -> Result<(), BusError> {
        Ok(())
    }

    /// The notes on `topic`, from every node but none before this call
    /// (this node's own included: the caller tells them apart).
    async fn listen(&self, _topic: &str) -> Result<BoxStream<'static, Vec<u8>>, BusError> {
        Ok(Box::pin(futures::stream::pending()))
    }
}
