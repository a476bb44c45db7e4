//! Where the read models stand: what a runner has applied, and why it
//! stopped if it did.

use std::time::Duration;

use tokio::sync::watch;

/// Where the read models stand, for read-your-writes and readiness.
#[derive(Clone)]
pub struct Positions {
    pub(super) applied: watch::Receiver<u64>,
    pub(super) failure: watch::Receiver<Option<String>>,
    /// Set with `failure` when it is a chain violation.
    pub(super) violation: watch::Receiver<Option<String>>,
    pub(super) setback: watch::Receiver<Option<String>>,
}

impl Positions {
    /// The highest seq every read model has applied.
    pub fn applied(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Why the runner stopped, if it did (a chain violation, an event
    /// that cannot be read, a sink that cannot keep events).
    pub fn failure(&self) -> Option<String> {
        self.failure.borrow().clone()
    }

    /// Waits until the runner stops on a chain violation (an event of the
    /// log that does not verify); returns what the verifier said. Never
    /// returns while the log verifies.
    pub async fn violation(&self) -> String {
        let mut violation = self.violation.clone();
        let found = match violation.wait_for(Option::is_some).await {
            Ok(found) => found.clone(),
            Err(_) => None,
        };
        match found {
            Some(violation) => violation,
            None => std::future::pending().await,
        }
    }

    /// Why the sink went back to its last save and is reading the log
    /// again, until it saves past that point.
    pub fn setback(&self) -> Option<String> {
        self.setback.borrow().clone()
    }

    /// Waits until the read models apply more (or their runner ends).
    pub async fn changed(&mut self) {
        if self.applied.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Waits until the read models applied `seq`; false on timeout.
    pub async fn wait_for(&self, seq: u64, timeout: Duration) -> bool {
        let mut applied = self.applied.clone();
        tokio::time::timeout(timeout, applied.wait_for(|position| *position >= seq))
            .await
            .is_ok_and(|result| result.is_ok())
    }
}
