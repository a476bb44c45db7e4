//! Requests answered but not yet in the read models (an email code or a
//! reset link is recorded after its answer, so that the answer takes the
//! same time for every address): each counts against its limits from the
//! moment it is decided until its reservation is dropped, by which time
//! its event is in the read model or was never appended.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::ApiError;

/// How long after the answer a request is recorded.
const AFTER_THE_ANSWER: Duration = Duration::from_millis(20);

/// Records a request after its answer has left, in a task of its own:
/// the work that differs between an address with an account and one
/// without must not compete with the answer for the CPU. The reservation
/// counts the request until then. A failure is logged (`what` was not
/// recorded, and so not sent).
pub fn after_the_answer<F>(reservation: Reservation, request_id: String, what: &'static str, record: F)
where
    F: Future<Output = Result<(), ApiError>> + Send + 'static,
{
    tokio::spawn(async move {
        let _reservation = reservation;
        tokio::time::sleep(AFTER_THE_ANSWER).await;
        if let Err(error) = record.await {
            tracing::warn!(message = %error.message, %request_id, "{what} was not recorded; it was not sent");
        }
    });
}

type Times = HashMap<String, Vec<DateTime<Utc>>>;

/// The requests in flight on this node, by limit key (`address:<ref>`,
/// `client:<network>`).
#[derive(Default, Clone)]
pub struct InFlight(Arc<Mutex<Times>>);

impl InFlight {
    /// Decide under this lock and reserve with it: two requests at once
    /// see each other.
    pub fn lock(&self) -> Locked<'_> {
        Locked {
            times: self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()),
            shared: &self.0,
        }
    }
}

pub struct Locked<'a> {
    times: MutexGuard<'a, Times>,
    shared: &'a Arc<Mutex<Times>>,
}

impl Locked<'_> {
    /// When the requests in flight under `key` were decided.
    pub fn times(&self, key: &str) -> Vec<DateTime<Utc>> {
        self.times.get(key).cloned().unwrap_or_default()
    }

    /// Counts a request decided at `at` under each of `keys` until the
    /// reservation is dropped.
    pub fn reserve(mut self, keys: Vec<String>, at: DateTime<Utc>) -> Reservation {
        for key in &keys {
            self.times.entry(key.clone()).or_default().push(at);
        }
        Reservation {
            shared: Arc::clone(self.shared),
            keys,
            at,
        }
    }
}

/// A request counted against its limits until dropped.
pub struct Reservation {
    shared: Arc<Mutex<Times>>,
    keys: Vec<String>,
    at: DateTime<Utc>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut times = self.shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for key in &self.keys {
            if let Some(at) = times.get_mut(key) {
                if let Some(index) = at.iter().position(|at| *at == self.at) {
                    at.swap_remove(index);
                }
                if at.is_empty() {
                    times.remove(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reservation_counts_until_dropped() {
        let in_flight = InFlight::default();
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let first = in_flight
            .lock()
            .reserve(vec!["address:a".into(), "client:n".into()], at);
        let second = in_flight.lock().reserve(vec!["client:n".into()], at);
        assert_eq!(in_flight.lock().times("client:n"), vec![at, at]);
        assert_eq!(in_flight.lock().times("address:a"), vec![at]);
        drop(first);
        assert!(in_flight.lock().times("address:a").is_empty());
        assert_eq!(in_flight.lock().times("client:n"), vec![at]);
        drop(second);
        assert!(in_flight.lock().times("client:n").is_empty());
    }
}
