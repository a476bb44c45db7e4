//! In-memory guards against floods that events alone cannot stop.
//!
//! * [`Attempts`]: sign-in attempts being checked right now, per key, so
//!   that a burst of parallel guesses counts as the failures it may become
//!   before the first of them is recorded.
//! * [`Sampler`]: refusals that are recorded as events (throttled sign-ins,
//!   CSRF refusals) are recorded at most once per key and period, so that
//!   an attacker cannot turn a refusal into unbounded writes to the log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Attempts {
    pending: Mutex<HashMap<String, usize>>,
    /// Signalled whenever an attempt ends.
    ended: tokio::sync::Notify,
}

/// Ends the attempt when dropped.
pub struct Attempt {
    attempts: Arc<Attempts>,
    keys: Vec<String>,
    /// Whether its end is news to attempts waiting on it (an attempt that
    /// was withdrawn before it started is not).
    signal: bool,
}

impl Attempts {
    /// Starts an attempt under `keys`; returns it and, per key, how many
    /// other attempts were already pending.
    pub fn begin(self: &Arc<Self>, keys: Vec<String>) -> (Attempt, Vec<usize>) {
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let before = keys
            .iter()
            .map(|key| {
                let count = pending.entry(key.clone()).or_default();
                *count += 1;
                *count - 1
            })
            .collect();
        (
            Attempt {
                attempts: Arc::clone(self),
                keys,
                signal: true,
            },
            before,
        )
    }
}

impl Attempts {
    /// Resolves when some attempt ends (after being created and enabled, so
    /// a caller that does so before giving up its own attempt misses
    /// nothing).
    pub fn ended(&self) -> tokio::sync::futures::Notified<'_> {
        self.ended.notified()
    }
}

impl Attempt {
    /// Ends an attempt that never started (it waits for others): nobody is
    /// woken by it.
    pub fn withdraw(mut self) {
        self.signal = false;
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        {
            let mut pending = self
                .attempts
                .pending
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for key in &self.keys {
                if let Some(count) = pending.get_mut(key) {
                    *count = count.saturating_sub(1);
                    if *count == 0 {
                        pending.remove(key);
                    }
                }
            }
        }
        if self.signal {
            self.attempts.ended.notify_waiters();
        }
    }
}

#[derive(Default)]
pub struct Sampler {
    last: Mutex<HashMap<String, Instant>>,
}

impl Sampler {
    /// Whether to record an event for `key` now: once per `every`.
    pub fn admit(&self, key: String, every: Duration) -> bool {
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if last.len() > 100_000 {
            last.retain(|_, at| now.duration_since(*at) < every);
        }
        match last.get(&key) {
            Some(at) if now.duration_since(*at) < every => false,
            _ => {
                last.insert(key, now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_count_while_pending() {
        let attempts = Arc::new(Attempts::default());
        let (first, before) = attempts.begin(vec!["a".into(), "ip".into()]);
        assert_eq!(before, [0, 0]);
        let (_second, before) = attempts.begin(vec!["a".into(), "ip".into()]);
        assert_eq!(before, [1, 1]);
        drop(first);
        let (_third, before) = attempts.begin(vec!["a".into(), "other".into()]);
        assert_eq!(before, [1, 0]);
    }

    #[test]
    fn sampler_admits_once_per_period() {
        let sampler = Sampler::default();
        assert!(sampler.admit("k".into(), Duration::from_secs(60)));
        assert!(!sampler.admit("k".into(), Duration::from_secs(60)));
        assert!(sampler.admit("other".into(), Duration::from_secs(60)));
        assert!(sampler.admit("k".into(), Duration::ZERO));
    }
}
