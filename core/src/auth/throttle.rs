//! The sign-in throttle: how long a client must wait after failed sign-ins.
//!
//! Failures are counted per account identifier (known or not, so the
//! throttle tells nobody which accounts exist) and per client IP, over a
//! sliding window. Past a free allowance, each further failure doubles the
//! wait counted from the last failure, up to a cap. The wait ends by itself
//! at most 15 minutes after the last failure; an attacker who keeps failing
//! keeps the account at that pace (a few guesses an hour), which is the
//! point, and the account's owner can still sign in with another factor
//! or reset their password once those exist.

use std::time::Duration;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures counted are those within this window.
    pub window: Duration,
    /// Failures allowed in the window before any wait.
    pub free: usize,
    /// The first wait; each further failure doubles it.
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl ThrottlePolicy {
    /// Per account: 5 free failures in 15 minutes, then 1 s, 2 s, 4 s … up
    /// to 15 minutes.
    pub const ACCOUNT: ThrottlePolicy = ThrottlePolicy {
        window: Duration::from_secs(15 * 60),
        free: 5,
        first_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(15 * 60),
    };

    /// Per IP: 50 free failures in 15 minutes (a shared office NAT), then
    /// the same doubling.
    pub const IP: ThrottlePolicy = ThrottlePolicy {
        window: Duration::from_secs(15 * 60),
        free: 50,
        first_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(15 * 60),
    };

    /// Per user, for second factors (TOTP, backup codes, passkeys share
    /// one counter): 5 free failures in 15 minutes, then the same doubling.
    /// Six-digit codes give 5 guesses in a million per quarter hour.
    pub const SECOND_FACTOR: ThrottlePolicy = ThrottlePolicy {
        window: Duration::from_secs(15 * 60),
        free: 5,
        first_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(15 * 60),
    };

    /// The wait still due at `now` after the failures `failures` (oldest
    /// first), or `None` when another attempt is allowed now.
    pub fn wait(&self, failures: &[DateTime<Utc>], now: DateTime<Utc>) -> Option<Duration> {
        let window = chrono::Duration::from_std(self.window).ok()?;
        let recent: Vec<&DateTime<Utc>> = failures.iter().filter(|at| now - **at < window).collect();
        let last = **recent.last()?;
        if recent.len() < self.free {
            return None;
        }
        let doublings = u32::try_from(recent.len() - self.free).unwrap_or(u32::MAX).min(20);
        let delay = self.first_delay.saturating_mul(1 << doublings).min(self.max_delay);
        let elapsed = (now - last).to_std().unwrap_or_default();
        delay.checked_sub(elapsed).filter(|left| !left.is_zero())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn free_failures_then_doubling_waits() {
        let policy = ThrottlePolicy::ACCOUNT;
        let four: Vec<_> = (0..4).map(at).collect();
        assert_eq!(policy.wait(&four, at(4)), None);
        let five: Vec<_> = (0..5).map(at).collect();
        assert_eq!(policy.wait(&five, at(4)), Some(Duration::from_secs(1)));
        assert_eq!(policy.wait(&five, at(5)), None);
        let seven: Vec<_> = (0..7).map(at).collect();
        assert_eq!(policy.wait(&seven, at(6)), Some(Duration::from_secs(4)));
        assert_eq!(policy.wait(&seven, at(8)), Some(Duration::from_secs(2)));
        assert_eq!(policy.wait(&seven, at(10)), None);
    }

    #[test]
    fn waits_are_capped_and_old_failures_forgotten() {
        let policy = ThrottlePolicy::ACCOUNT;
        let many: Vec<_> = (0..60).map(at).collect();
        assert_eq!(policy.wait(&many, at(59)), Some(Duration::from_secs(15 * 60)));
        assert_eq!(policy.wait(&many, at(59 + 15 * 60)), None);
        let old: Vec<_> = (0..10).map(at).collect();
        assert_eq!(policy.wait(&old, at(10 + 16 * 60)), None);
    }
}
