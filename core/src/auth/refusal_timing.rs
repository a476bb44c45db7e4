//! How long a refused sign-in takes: the same, whoever the account.
//!
//! A wrong password costs what the account's hash costs to verify: an
//! imported bcrypt hash of cost 12 takes ten times what Warden's Argon2id
//! does, and an unknown email costs a decoy Argon2id. Timed from outside,
//! that tells imported accounts from unknown ones. So every refused
//! password sign-in is padded to the typical cost of the slowest kind of
//! hash this process has verified ([`RefusalTiming::floor`]): an
//! exponentially weighted average per cost class (the scheme and its
//! parameters, never the salt or the hash), so one slow outlier does not
//! slow every refusal for good. `warden serve` verifies a sample of each
//! legacy class at start, so the floor holds from the first request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Weight of the newest sample in a class's average.
const WEIGHT: f64 = 0.2;

#[derive(Debug, Default)]
pub struct RefusalTiming {
    /// Average verification time per cost class, in seconds.
    classes: Mutex<HashMap<String, f64>>,
}

impl RefusalTiming {
    /// Records that verifying a hash of `class` took `took`.
    pub fn record(&self, class: String, took: Duration) {
        let seconds = took.as_secs_f64();
        let mut classes = self.classes.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        classes
            .entry(class)
            .and_modify(|average| *average = *average * (1.0 - WEIGHT) + seconds * WEIGHT)
            .or_insert(seconds);
    }

    /// The typical cost of the slowest class verified so far.
    pub fn floor(&self) -> Duration {
        let classes = self.classes.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Duration::from_secs_f64(classes.values().copied().fold(0.0, f64::max))
    }

    /// Waits until a refusal that began at `started` has taken the floor
    /// and `extra` (what a KMS unwrap of the account's data key costs
    /// when it was not cached: the decoy's always is).
    pub async fn pad(&self, started: Instant, extra: Duration) {
        let due = started + self.floor() + extra;
        tokio::time::sleep_until(due.into()).await;
    }
}

/// The cost class of a stored hash: what decides how long it takes to
/// verify (scheme and parameters), without salt or hash.
pub fn cost_class(stored: &str) -> String {
    let parts: Vec<&str> = stored.split('$').collect();
    let keep = if stored.starts_with("$2") {
        // `$2b$12$<salt and hash>`
        3
    } else {
        // PHC: `$id$v=19$m=…,t=…,p=…$salt$hash`, `$scrypt$ln=…$salt$hash`
        parts.len().saturating_sub(2)
    };
    parts[..keep.min(parts.len())].join("$")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_keep_parameters_and_drop_salts() {
        assert_eq!(
            cost_class("$2b$12$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"),
            "$2b$12"
        );
        assert_eq!(
            cost_class("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"),
            "$argon2id$v=19$m=19456,t=2,p=1"
        );
        assert_eq!(
            cost_class("$scrypt$ln=15,r=8,p=1$c2FsdA$aGFzaA"),
            "$scrypt$ln=15,r=8,p=1"
        );
        assert_eq!(cost_class(""), "");
    }

    #[tokio::test]
    async fn the_floor_is_the_slowest_class_on_average() {
        let timing = RefusalTiming::default();
        assert_eq!(timing.floor(), Duration::ZERO);
        timing.record("argon2".into(), Duration::from_millis(40));
        timing.record("bcrypt12".into(), Duration::from_millis(300));
        assert_eq!(timing.floor(), Duration::from_millis(300));
        // One outlier moves the average a fifth of the way.
        timing.record("bcrypt12".into(), Duration::from_millis(1300));
        assert_eq!(timing.floor(), Duration::from_millis(500));
        let started = Instant::now();
        timing.pad(started, Duration::ZERO).await;
        assert!(started.elapsed() >= Duration::from_millis(500));
    }
}
