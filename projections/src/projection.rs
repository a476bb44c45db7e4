//! What a read model is to the runner.

use std::sync::{Arc, RwLock, RwLockReadGuard};

use serde::Serialize;
use serde::de::DeserializeOwned;
use warden_core::Event;

/// A read model built from the log.
pub trait Projection: Default + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Stable name, the key of its snapshot.
    const NAME: &'static str;
    /// Bump when `apply` or the state's shape changes: the model is then
    /// rebuilt from seq 1 instead of restored from its snapshot.
    const VERSION: u32;

    /// Folds one event into the state. Infallible, no I/O.
    fn apply(&mut self, event: &Event);
}

/// A read model shared between the runner (writer) and readers.
pub type Shared<P> = Arc<RwLock<P>>;

/// Reads a shared model; a poisoned lock still holds a consistent state
/// (apply cannot panic halfway by design), so it is read through.
pub fn read<P>(shared: &Shared<P>) -> RwLockReadGuard<'_, P> {
    shared.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The runner's view of one projection, type-erased.
pub(crate) trait Slot: Send + Sync {
    fn name(&self) -> &'static str;
    fn version(&self) -> u32;
    fn position(&self) -> u64;
    fn reset(&mut self);
    fn restore(&mut self, seq: u64, state: &[u8]) -> bool;
    fn encode(&self) -> Result<Vec<u8>, serde_json::Error>;
    /// Applies the events this projection has not seen yet.
    fn apply_all(&mut self, events: &[Event]);
}

pub(crate) struct SlotOf<P: Projection> {
    model: Shared<P>,
    position: u64,
}

impl<P: Projection> SlotOf<P> {
    pub fn new(model: Shared<P>) -> Self {
        SlotOf { model, position: 0 }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, P> {
        self.model.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<P: Projection> Slot for SlotOf<P> {
    fn name(&self) -> &'static str {
        P::NAME
    }

    fn version(&self) -> u32 {
        P::VERSION
    }

    fn position(&self) -> u64 {
        self.position
    }

    fn reset(&mut self) {
        *self.write() = P::default();
        self.position = 0;
    }

    fn restore(&mut self, seq: u64, state: &[u8]) -> bool {
        match serde_json::from_slice::<P>(state) {
            Ok(restored) => {
                *self.write() = restored;
                self.position = seq;
                true
            }
            Err(_) => false,
        }
    }

    fn encode(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&*read(&self.model))
    }

    fn apply_all(&mut self, events: &[Event]) {
        let fresh: Vec<&Event> = events.iter().filter(|event| event.seq > self.position).collect();
        let Some(last) = fresh.last() else { return };
        let last = last.seq;
        {
            let mut model = self.write();
            for event in fresh {
                model.apply(event);
            }
        }
        self.position = last;
    }
}
