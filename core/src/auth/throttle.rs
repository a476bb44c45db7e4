//! The sign-in throttle: how long a client must wait after failed sign-ins.
//!
//! Guessing must stay slow, and nobody may lock anyone else out. So the
//! wait before a password is checked, [`sign_in_wait`], is the longest of:
//!
//! - per account **and client network** ([`ThrottlePolicy::ACCOUNT`]):
//!   one address guessing one account gets 5 free failures, then doubling
//!   waits; the same account from another network is not held by them;
//! - per client network, over all accounts ([`ThrottlePolicy::IP`]);
//! - per account, over all networks ([`ThrottlePolicy::ACCOUNT_ANY_CLIENT`]):
//!   many addresses guessing one account together are slowed down too,
//!   except a client from a network the account signed in from before
//!   (its owner at home or at the office), whom this wait never holds.
//!
//! Failures are counted per account identifier (known or not, so the
//! throttle tells nobody which accounts exist) over a sliding window; each
//! wait ends by itself at most 15 minutes after the last failure. The
//! per-account count over all networks is also what alert rules watch.

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

    /// Per account over every client: 20 free failures in 15 minutes from
    /// anywhere, then the same doubling; never applied to a client from a
    /// network the account signed in from before.
    pub const ACCOUNT_ANY_CLIENT: ThrottlePolicy = ThrottlePolicy {
        window: Duration::from_secs(15 * 60),
        free: 20,
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

/// The failures that bear on one password sign-in attempt (oldest first).
#[derive(Debug, Clone, Copy, Default)]
pub struct SignInFailures<'a> {
    /// This account from this client's network.
    pub account_from_client: &'a [DateTime<Utc>],
    /// This client's network, any account.
    pub client: &'a [DateTime<Utc>],
    /// This account, any network.
    pub account: &'a [DateTime<Utc>],
    /// The account signed in successfully from this client's network
    /// before.
    pub known_client: bool,
}

/// The wait due before this attempt's password may be checked, if any.
pub fn sign_in_wait(failures: &SignInFailures<'_>, now: DateTime<Utc>) -> Option<Duration> {
    let pair = ThrottlePolicy::ACCOUNT.wait(failures.account_from_client, now);
    let client = ThrottlePolicy::IP.wait(failures.client, now);
    let account = if failures.known_client {
        None
    } else {
        ThrottlePolicy::ACCOUNT_ANY_CLIENT.wait(failures.account, now)
    };
    pair.max(client).max(account)
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

    #[test]
    fn nobody_locks_out_an_account_from_a_network_it_knows() {
        // `n` failures, one a second, the last a second ago.
        let recent = |n: i64| (100 - n..100).map(at).collect::<Vec<_>>();
        let (none, four, seven, forty, sixty) = (recent(0), recent(4), recent(7), recent(40), recent(60));
        let now = at(100);
        let wait = |account_from_client: &[DateTime<Utc>],
                    client: &[DateTime<Utc>],
                    account: &[DateTime<Utc>],
                    known_client| {
            sign_in_wait(
                &SignInFailures {
                    account_from_client,
                    client,
                    account,
                    known_client,
                },
                now,
            )
        };
        type Failures<'a> = &'a [DateTime<Utc>];
        // (case, this pair, this network, the account, known network, held?)
        let cases: &[(&str, Failures, Failures, Failures, bool, bool)] = &[
            ("a quiet account", &none, &none, &none, false, false),
            (
                "the owner, after 40 failures from elsewhere",
                &none,
                &none,
                &forty,
                true,
                false,
            ),
            (
                "a new network, after 40 failures from elsewhere",
                &none,
                &none,
                &forty,
                false,
                true,
            ),
            ("the guesser's own network", &seven, &seven, &seven, false, true),
            (
                "the guesser's network, once known to the account",
                &seven,
                &seven,
                &seven,
                true,
                true,
            ),
            (
                "a network guessing many accounts a little",
                &none,
                &forty,
                &none,
                false,
                false,
            ),
            (
                "a network over the per-network allowance",
                &none,
                &sixty,
                &none,
                true,
                true,
            ),
            ("four failures of one's own", &four, &four, &four, false, false),
        ];
        for (case, pair, network, account, known, held) in cases {
            assert_eq!(wait(pair, network, account, *known).is_some(), *held, "{case}");
        }
    }

    #[test]
    fn many_networks_together_guess_no_faster_than_the_account_allows() {
        // One guess from each of 25 networks, one a second.
        let account: Vec<_> = (0..25).map(at).collect();
        let one = [at(24)];
        let failures = SignInFailures {
            account_from_client: &[],
            client: &[],
            account: &account,
            known_client: false,
        };
        // 25 − 20 free = 5 doublings: 32 s from the last failure.
        assert_eq!(sign_in_wait(&failures, at(25)), Some(Duration::from_secs(31)));
        let guesser = SignInFailures {
            account_from_client: &one,
            client: &one,
            ..failures
        };
        assert_eq!(sign_in_wait(&guesser, at(25)), Some(Duration::from_secs(31)));
    }
}
