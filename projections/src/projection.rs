//! What a read model is to the runner.

use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use warden_core::Event;
use warden_core::chain::VerifierState;
use warden_core::ledger::{LedgerError, LedgerStore, Snapshot};

use crate::runner::{Restored, RunnerError, Sink};

const SNAPSHOT_EVERY_EVENTS: u64 = 10_000;
const SNAPSHOT_EVERY: Duration = Duration::from_secs(30);
/// The chain verifier's own snapshot.
pub(crate) const CHAIN_SNAPSHOT: &str = "chain";
const CHAIN_SNAPSHOT_VERSION: u32 = 1;

/// A read model built from the log.
pub trait Projection: Default + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Stable name, the key of its snapshot.
    const NAME: &'static str;
    /// Bump when `apply` or the state's shape changes: the model is then
    /// rebuilt from seq 1 instead of restored from its snapshot.
    const VERSION: u32;
    /// True when every kind the model reads came in the same release as
    /// the model: on a log whose other models have snapshots but this one
    /// has none (it is new there), it is empty wherever they are, and
    /// starts at their position instead of seq 1, which an archived log
    /// no longer has.
    const NEW_KINDS_ONLY: bool = false;

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
    fn new_kinds_only(&self) -> bool;
    /// An empty model standing at `seq` (see [`Projection::NEW_KINDS_ONLY`]).
    fn start_empty_at(&mut self, seq: u64);
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

    fn new_kinds_only(&self) -> bool {
        P::NEW_KINDS_ONLY
    }

    fn start_empty_at(&mut self, seq: u64) {
        self.reset();
        self.position = seq;
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

/// The in-memory read models as one sink: each restored from its own
/// snapshot in the ledger, all saved together at one position.
pub struct Models {
    slots: Vec<Box<dyn Slot>>,
}

impl Models {
    pub(crate) fn new(slots: Vec<Box<dyn Slot>>) -> Self {
        Models { slots }
    }
}

impl Sink for Models {
    async fn restore(&mut self, store: &dyn LedgerStore) -> Result<Restored, RunnerError> {
        let mut new_here = Vec::new();
        for (index, slot) in self.slots.iter_mut().enumerate() {
            let restored = match store.load_snapshot(slot.name()).await? {
                Some(snapshot) if snapshot.version == slot.version() => slot.restore(snapshot.seq, &snapshot.state),
                Some(_) => {
                    tracing::info!(
                        projection = slot.name(),
                        "projection version changed: rebuilding from seq 1"
                    );
                    false
                }
                None => {
                    if slot.new_kinds_only() {
                        new_here.push(index);
                    }
                    false
                }
            };
            if !restored {
                slot.reset();
            }
        }
        // Snapshots are saved together: a model without one beside models
        // with theirs is new to this log.
        let others = self
            .slots
            .iter()
            .enumerate()
            .filter(|(index, _)| !new_here.contains(index))
            .map(|(_, slot)| slot.position())
            .min()
            .unwrap_or(0);
        for index in new_here {
            if others > 0 {
                tracing::info!(
                    projection = self.slots[index].name(),
                    seq = others,
                    "new projection starts empty"
                );
            }
            self.slots[index].start_empty_at(others);
        }
        let position = self.slots.iter().map(|slot| slot.position()).min().unwrap_or(0);
        let verifier = match store.load_snapshot(CHAIN_SNAPSHOT).await? {
            Some(snapshot) if snapshot.version == CHAIN_SNAPSHOT_VERSION => {
                serde_json::from_slice::<VerifierState>(&snapshot.state).ok()
            }
            _ => None,
        };
        Ok(Restored { position, verifier })
    }

    fn apply(&mut self, events: &[Event]) -> Result<(), RunnerError> {
        for slot in &mut self.slots {
            slot.apply_all(events);
        }
        Ok(())
    }

    fn save_due(&self, unsaved_events: u64, since_save: Duration) -> bool {
        unsaved_events >= SNAPSHOT_EVERY_EVENTS || since_save >= SNAPSHOT_EVERY
    }

    async fn save(
        &mut self,
        store: &dyn LedgerStore,
        position: u64,
        verifier: &VerifierState,
    ) -> Result<(), RunnerError> {
        let corrupt = |error: serde_json::Error| LedgerError::Corrupt {
            seq: position,
            reason: error.to_string(),
        };
        let mut snapshots = Vec::with_capacity(self.slots.len() + 1);
        for slot in &self.slots {
            snapshots.push(Snapshot {
                name: slot.name().to_string(),
                version: slot.version(),
                seq: position,
                state: slot.encode().map_err(corrupt)?,
            });
        }
        snapshots.push(Snapshot {
            name: CHAIN_SNAPSHOT.to_string(),
            version: CHAIN_SNAPSHOT_VERSION,
            seq: position,
            state: serde_json::to_vec(verifier).map_err(corrupt)?,
        });
        store.save_snapshots(&snapshots).await?;
        Ok(())
    }
}
