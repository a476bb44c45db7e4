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
}
