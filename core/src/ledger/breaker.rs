//! The ledger's circuit breaker: once the store fails an append, appends
//! are refused at once (503 with `Retry-After`) instead of each waiting
//! for the database's timeouts, until a probe finds the store answering.
//!
//! Closed: appends go to the store. A failed batch (or a failed readiness
//! check) opens it for a backoff period, 250 ms doubling to 5 s with each
//! failure in a row; appends meanwhile are refused without touching the
//! store. The first append after the period is a probe: the store is
//! pinged, and if it answers the append is tried (half-open). The first
//! batch that commits closes the breaker. A readiness check that pings the
//! store successfully also half-opens it, so an idle node recovers too.

use std::time::{Duration, Instant};

/// The first backoff period after a failure.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest backoff period.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed,
    /// Appends are refused until `until`.
    Open {
        until: Instant,
    },
    /// The store answered a ping: the next append tries it.
    HalfOpen,
}

/// What to do with the appends waiting now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Send them to the store.
    Admit,
    /// Ping the store first; send them only if it answers.
    Probe,
    /// Refuse them at once; a retry is worth it after `retry_after`.
    Refuse { retry_after: Duration },
}

#[derive(Debug, Clone)]
pub struct Breaker {
    state: State,
    /// Failures in a row since the store last committed.
    failures: u32,
    /// When the current run of failures began.
    down_since: Option<Instant>,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            state: State::Closed,
            failures: 0,
            down_since: None,
        }
    }
}

impl Breaker {
    /// The decision for appends arriving at `now`.
    pub fn admit(&self, now: Instant) -> Admission {
        match self.state {
            State::Closed | State::HalfOpen => Admission::Admit,
            State::Open { until } if now < until => Admission::Refuse {
                retry_after: until - now,
            },
            State::Open { .. } => Admission::Probe,
        }
    }

    /// When the current period ends, while the breaker is open.
    pub fn probe_at(&self) -> Option<Instant> {
        match self.state {
            State::Open { until } => Some(until),
            State::Closed | State::HalfOpen => None,
        }
    }

    /// A batch committed: the store works.
    pub fn succeeded(&mut self) {
        *self = Breaker::default();
    }

    /// A batch or a ping failed at `now`: refuse for the next backoff.
    pub fn failed(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        self.down_since.get_or_insert(now);
        self.state = State::Open {
            until: now + backoff(self.failures),
        };
    }

    /// A ping answered: let the next append try the store.
    pub fn answered(&mut self) {
        if matches!(self.state, State::Open { .. }) {
            self.state = State::HalfOpen;
        }
    }

    /// Whether the last thing tried on the store worked (closed), and if
    /// not, since when it has been failing.
    pub fn down_since(&self) -> Option<Instant> {
        match self.state {
            State::Closed => None,
            State::Open { .. } | State::HalfOpen => self.down_since,
        }
    }
}

/// The period after the `failures`-th failure in a row.
fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_BACKOFF.saturating_mul(1 << doublings).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    /// (history of events at offsets in ms, the decision at `at` ms).
    #[test]
    fn decisions() {
        #[derive(Clone, Copy)]
        enum Step {
            Fail(u64),
            Commit,
            Answer,
        }
        use Step::{Answer, Commit, Fail};
        let cases: &[(&str, &[Step], u64, Admission)] = &[
            ("a new breaker admits", &[], 0, Admission::Admit),
            (
                "a failure refuses for 250 ms",
                &[Fail(0)],
                100,
                Admission::Refuse { retry_after: ms(150) },
            ),
            ("after the period, a probe", &[Fail(0)], 250, Admission::Probe),
            (
                "a second failure in a row doubles the period",
                &[Fail(0), Fail(250)],
                600,
                Admission::Refuse { retry_after: ms(150) },
            ),
            (
                "the period stops at 5 s",
                &[Fail(0), Fail(0), Fail(0), Fail(0), Fail(0), Fail(0), Fail(0), Fail(0)],
                4_999,
                Admission::Refuse { retry_after: ms(1) },
            ),
            (
                "a ping that answers half-opens",
                &[Fail(0), Answer],
                10,
                Admission::Admit,
            ),
            (
                "a failure when half-open opens again, longer",
                &[Fail(0), Answer, Fail(300)],
                700,
                Admission::Refuse { retry_after: ms(100) },
            ),
            ("a commit closes", &[Fail(0), Answer, Commit], 1, Admission::Admit),
            (
                "after a commit, the next failure starts at 250 ms again",
                &[Fail(0), Fail(0), Fail(0), Answer, Commit, Fail(1_000)],
                1_200,
                Admission::Refuse { retry_after: ms(50) },
            ),
            ("an answer while closed changes nothing", &[Answer], 0, Admission::Admit),
        ];
        for (name, steps, at, expected) in cases {
            let start = Instant::now();
            let mut breaker = Breaker::default();
            for step in *steps {
                match step {
                    Fail(offset) => breaker.failed(start + ms(*offset)),
                    Commit => breaker.succeeded(),
                    Answer => breaker.answered(),
                }
            }
            assert_eq!(breaker.admit(start + ms(*at)), *expected, "{name}");
        }
    }

    #[test]
    fn down_since_is_the_first_failure_of_the_run() {
        let start = Instant::now();
        let mut breaker = Breaker::default();
        assert_eq!(breaker.down_since(), None);
        breaker.failed(start);
        breaker.failed(start + ms(300));
        assert_eq!(breaker.down_since(), Some(start));
        breaker.answered();
        assert_eq!(breaker.down_since(), Some(start), "half-open is not yet up");
        breaker.succeeded();
        assert_eq!(breaker.down_since(), None);
    }
}
