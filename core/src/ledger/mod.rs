//! The ledger: the append-only, hash-chained, signed event log.
//!
//! [`Ledger`] is what the rest of Warden uses. It validates events, groups
//! concurrent appends into one transaction (group commit: each caller learns
//! its `seq` only after the commit), seals them ([`seal`]) and hands them to
//! a [`LedgerStore`]: PostgreSQL in production, SQLite embedded. Both keep
//! `seq` gapless, refuse UPDATE and DELETE with triggers, and serialize
//! appends so the chain stays one line.

pub mod archive;
pub mod breaker;
pub mod bundle;
pub mod checkpointer;
mod errors;
mod key_store;
pub mod postgres;
mod rows;
pub mod seal;
pub mod signer;
pub mod sqlite;
mod store;
pub mod verify;
mod writer;

pub use errors::{AppendError, LedgerError};
pub use key_store::{KeyStore, StoredDataKey, StoredSigningKey, Wrap};
pub use store::{Head, Leader, Lease, LedgerStore, Snapshot};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, mpsc, oneshot, watch};

use self::signer::Signer;
use crate::chain::{LEDGER_SUBJECT, SIGNING_KEY_ADDED, canonical};
use crate::event::{Event, NewEvent, valid_kind};
use breaker::{Admission, Breaker};
use writer::{Request, Writer};

/// The most events one command may append, and the size at which the
/// writer stops adding requests to a batch.
pub const MAX_BATCH_EVENTS: usize = 2048;

#[derive(Clone)]
pub struct Ledger {
    store: Arc<dyn LedgerStore>,
    requests: mpsc::Sender<Request>,
    committed: watch::Receiver<u64>,
    /// The highest `seq` known committed by any process (this one's
    /// commits and heads read from the store); the lock makes concurrent
    /// callers of [`Ledger::is_committed`] share one read of the head.
    known_head: Arc<(AtomicU64, Mutex<()>)>,
    signer: Signer,
    breaker: Arc<std::sync::Mutex<Breaker>>,
    /// The events this process signed, and the data keys it unwrapped,
    /// counted for the per-minute key-use summaries.
    key_use: Arc<crate::keys::usage::KeyUse>,
}

impl Ledger {
    /// Starts the group-commit writer over `store`. Appends are refused
    /// (`NoSigningKey`) until a signing key is installed
    /// (`keys::signing::establish`).
    pub fn new(store: Arc<dyn LedgerStore>) -> Self {
        let (requests, receiver) = mpsc::channel(4096);
        let (committed_sender, committed) = watch::channel(0);
        let committed_sender = Arc::new(committed_sender);
        let signer = Signer::default();
        let breaker = Arc::new(std::sync::Mutex::new(Breaker::default()));
        let writer = Writer {
            store: store.clone(),
            requests: receiver,
            committed: committed_sender.clone(),
            signer: signer.clone(),
            breaker: breaker.clone(),
        };
        tokio::spawn(writer.run());
        let follower = store.clone();
        tokio::spawn(async move { follower.follow_commits(committed_sender).await });
        Ledger {
            store,
            requests,
            committed,
            known_head: Arc::new((AtomicU64::new(0), Mutex::new(()))),
            signer,
            breaker,
            key_use: Arc::default(),
        }
    }

    /// This process's key uses, counted (`keys::usage`).
    pub fn key_use(&self) -> &Arc<crate::keys::usage::KeyUse> {
        &self.key_use
    }

    pub fn store(&self) -> &Arc<dyn LedgerStore> {
        &self.store
    }

    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// Appends the events of one command atomically: all get consecutive
    /// `seq`s, or none is appended.
    pub async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<Event>, AppendError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        if events.len() > MAX_BATCH_EVENTS {
            return Err(AppendError::Invalid(format!(
                "one command may append at most {MAX_BATCH_EVENTS} events"
            )));
        }
        let mut events = events;
        for event in &mut events {
            validate(event)?;
        }
        let started = std::time::Instant::now();
        let (reply, response) = oneshot::channel();
        self.requests
            .send(Request { events, reply })
            .await
            .map_err(|_| AppendError::Closed)?;
        let result = response.await.map_err(|_| AppendError::Closed)?;
        metrics::histogram!("warden_append_latency_seconds").record(started.elapsed().as_secs_f64());
        if let Ok(sealed) = &result {
            self.key_use.signed(sealed);
        }
        result
    }

    pub async fn append_one(&self, event: NewEvent) -> Result<Event, AppendError> {
        let mut events = self.append(vec![event]).await?;
        events.pop().ok_or(AppendError::Closed)
    }

    /// The highest `seq` known committed: this process's commits at once,
    /// other processes' as the store announces them (0 before any). Wakes
    /// the relay and the projection runners without polling.
    pub fn committed(&self) -> watch::Receiver<u64> {
        self.committed.clone()
    }

    /// Whether `seq` names an event some process has committed: this
    /// process's commits, else the store's head (read once for all the
    /// callers asking at the same time). A `seq` from outside (a cookie)
    /// is only worth waiting for when it is committed. An unreadable head
    /// answers false: nothing to wait for while the store is down.
    pub async fn is_committed(&self, seq: u64) -> bool {
        let (known, refresh) = &*self.known_head;
        let known_now = || known.load(Ordering::Acquire).max(*self.committed.borrow());
        if seq <= known_now() {
            return true;
        }
        let _single_flight = refresh.lock().await;
        if seq <= known_now() {
            return true;
        }
        match self.store.head().await {
            Ok(head) => {
                known.fetch_max(head.seq, Ordering::AcqRel);
                seq <= head.seq
            }
            Err(_) => false,
        }
    }

    pub async fn read(&self, from: u64, limit: usize) -> Result<Vec<Event>, LedgerError> {
        self.store.read(from, limit).await
    }

    pub async fn head(&self) -> Result<Head, LedgerError> {
        self.store.head().await
    }

    /// For readiness: the head, if the store answers within `timeout` and
    /// appends are not being refused; otherwise why not. A store that does
    /// not answer opens the breaker (appends are then refused at once).
    pub async fn readiness(&self, timeout: Duration) -> Result<Head, String> {
        let head = match tokio::time::timeout(timeout, self.store.head()).await {
            Ok(Ok(head)) => head,
            Ok(Err(error)) => {
                writer::lock(&self.breaker).failed(std::time::Instant::now());
                return Err(format!("the store does not answer: {error}"));
            }
            Err(_) => {
                writer::lock(&self.breaker).failed(std::time::Instant::now());
                return Err(format!("the store did not answer within {} s", timeout.as_secs()));
            }
        };
        let breaker = writer::lock(&self.breaker);
        match (breaker.admit(std::time::Instant::now()), breaker.down_since()) {
            (Admission::Refuse { retry_after }, Some(since)) => Err(format!(
                "appends are refused: the store has been failing them for {} s; next try in {} ms",
                since.elapsed().as_secs(),
                retry_after.as_millis()
            )),
            _ => Ok(head),
        }
    }

    /// Waits until every append sent before this call is committed or
    /// refused: an empty request is a barrier, answered after the batches
    /// before it. False on timeout.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let (reply, response) = oneshot::channel();
        let barrier = async {
            self.requests
                .send(Request {
                    events: Vec::new(),
                    reply,
                })
                .await
                .is_ok()
                && response.await.is_ok()
        };
        tokio::time::timeout(timeout, barrier).await.unwrap_or(false)
    }
}

/// Checks an event and normalizes its data (integral floats to integers).
fn validate(event: &mut NewEvent) -> Result<(), AppendError> {
    if !valid_kind(&event.kind) {
        return Err(AppendError::Invalid(format!(
            "kind {:?} must be dotted lower-case words, like session.created",
            event.kind
        )));
    }
    // The `ledger` subject carries the signing-key history and nothing else.
    if (event.subject == LEDGER_SUBJECT) != (event.kind == SIGNING_KEY_ADDED) {
        return Err(AppendError::Invalid(format!(
            "subject {LEDGER_SUBJECT:?} is reserved for {SIGNING_KEY_ADDED} events"
        )));
    }
    if event.subject.is_empty() || event.subject.chars().count() > 256 {
        return Err(AppendError::Invalid("subject must be 1 to 256 characters".into()));
    }
    if event.request_id.len() > 128 {
        return Err(AppendError::Invalid("request_id must be at most 128 bytes".into()));
    }
    canonical::normalize(&mut event.data).map_err(|error| AppendError::Invalid(error.to_string()))?;
    crate::commands::catalogue::decodes(&event.kind, &event.data).map_err(|reason| {
        AppendError::Invalid(format!(
            "the data of this {} event does not decode: {reason}",
            event.kind
        ))
    })?;
    let mut scratch = Vec::new();
    canonical::write_value(&event.data, &mut scratch).map_err(|error| AppendError::Invalid(error.to_string()))?;
    if scratch.len() > 64 * 1024 {
        return Err(AppendError::Invalid("data must be at most 64 KiB".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::commands::session::SESSION_REVOKED;
    use crate::event::Actor;

    fn revoked(data: serde_json::Value) -> NewEvent {
        NewEvent::new(SESSION_REVOKED, "session:s-1", Actor::system()).data(data)
    }

    /// A payload that would not read back (a `null` from a payload that
    /// failed to serialize, a renamed member, a value outside its enum) is
    /// refused at the append: read models never meet it.
    #[test]
    fn an_event_whose_data_does_not_read_back_is_refused() {
        for data in [
            json!(null),
            json!({"user": "u-1"}),
            json!({"user": "u-1", "reason": "went_away"}),
        ] {
            let refused = validate(&mut revoked(data.clone()));
            assert!(
                matches!(&refused, Err(AppendError::Invalid(message)) if message.contains("does not decode")),
                "{data}: {refused:?}"
            );
        }
        assert!(validate(&mut revoked(json!({"user": "u-1", "reason": "signed_out"}))).is_ok());
        // Kinds outside the catalogue are the application's.
        let mut app = NewEvent::new("app.thing.done", "thing:1", Actor::system()).data(json!(null));
        assert!(validate(&mut app).is_ok());
    }
}
