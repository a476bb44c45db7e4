//! One sign-in through a connection, between the browser leaving for the
//! provider and coming back: what Warden sent (the `state`, the nonce,
//! the PKCE verifier) and where to go after. It is sealed into a cookie
//! of the browser that started it, so only that browser can finish it;
//! it lives ten minutes, and ends once (its end claims its id).
//!
//! Nothing here does I/O, reads a clock or draws randomness.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::tokens::constant_time_eq;
use crate::commands::sso::sign_in::Failure;

/// How long a flow may take.
pub const LIFETIME: Duration = Duration::minutes(10);

/// Flows one client network may have open (started, not ended, within
/// their [`LIFETIME`]). Anyone may start one (an `sso.started` in the log)
/// by loading `/sso/start`; people finish theirs, at the provider and
/// back, so an office behind one address rarely holds more than a few
/// open at once, while a stranger who only starts flows is held to this
/// many every ten minutes.
pub const OPEN_FLOWS_PER_NETWORK: usize = 100;

/// How long a network with flows open since `open` (their starts) waits
/// before starting another, if it must: until enough of them are past
/// their lifetime (whole seconds, at least one).
pub fn start_wait(open: &[DateTime<Utc>], now: DateTime<Utc>) -> Option<std::time::Duration> {
    let mut open: Vec<DateTime<Utc>> = open.iter().copied().filter(|at| now - *at < LIFETIME).collect();
    if open.len() < OPEN_FLOWS_PER_NETWORK {
        return None;
    }
    open.sort_unstable();
    let frees_at = open[open.len() - OPEN_FLOWS_PER_NETWORK] + LIFETIME;
    let wait = (frees_at - now).to_std().unwrap_or_default();
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Some(std::time::Duration::from_secs(seconds.max(1)))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    /// Also the `state` sent to the provider: 256 random bits.
    pub id: String,
    pub connection: String,
    pub org: String,
    pub nonce: String,
    /// The PKCE code verifier.
    pub verifier: String,
    /// Where the browser goes once signed in (a local path).
    pub next: String,
    /// "Test connection", by this user: nobody signs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tester: Option<String>,
    /// A signed-in user confirming it's them (`sso::step_up`): nobody
    /// signs in; their session is elevated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirming: Option<Confirming>,
    #[serde(with = "crate::event::timestamp")]
    pub started_at: DateTime<Utc>,
}

/// Whose session a confirmation is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirming {
    pub user: String,
    pub session: String,
}

/// Whether the browser's flow is the one the provider's answer is for
/// (`state`), and still running.
pub fn check(flow: &Flow, state: &str, now: DateTime<Utc>) -> Result<(), Failure> {
    if !constant_time_eq(&flow.id, state) {
        return Err(Failure::StateMismatch);
    }
    if now > flow.started_at + LIFETIME {
        return Err(Failure::FlowExpired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_holds_a_bounded_number_of_flows_open() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        // One a second: the oldest is `n` seconds old.
        let open = |n: i64| -> Vec<DateTime<Utc>> { (1..=n).map(|ago| now - Duration::seconds(ago)).collect() };
        let limit = i64::try_from(OPEN_FLOWS_PER_NETWORK).unwrap();
        // (flows open, the wait in seconds)
        let cases = [
            (0, None),
            (limit - 1, None),
            // Until the `limit`-th newest (`limit` seconds old) is past
            // its ten minutes.
            (limit, Some(600 - limit.unsigned_abs())),
            (limit + 50, Some(600 - limit.unsigned_abs())),
        ];
        for (count, wait) in cases {
            assert_eq!(
                start_wait(&open(count), now).map(|wait| wait.as_secs()),
                wait,
                "{count} open"
            );
        }
        // Flows past their lifetime do not count.
        let old: Vec<_> = (0..limit).map(|_| now - LIFETIME).collect();
        assert_eq!(start_wait(&old, now), None);
        // Never a wait of nothing.
        let just: Vec<_> = (0..limit).map(|_| now - LIFETIME + Duration::milliseconds(1)).collect();
        assert_eq!(start_wait(&just, now), Some(std::time::Duration::from_secs(1)));
    }

    #[test]
    fn a_flow_ends_in_the_browser_that_started_it_within_ten_minutes() {
        let started = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let flow = Flow {
            id: "state-1".into(),
            connection: "c".into(),
            org: "o".into(),
            nonce: "n".into(),
            verifier: "v".into(),
            next: "/".into(),
            tester: None,
            confirming: None,
            started_at: started,
        };
        let cases = [
            ("state-1", 0, Ok(())),
            ("state-1", 600, Ok(())),
            ("state-1", 601, Err(Failure::FlowExpired)),
            ("state-2", 0, Err(Failure::StateMismatch)),
            ("", 0, Err(Failure::StateMismatch)),
        ];
        for (state, seconds, expected) in cases {
            assert_eq!(
                check(&flow, state, started + Duration::seconds(seconds)),
                expected,
                "{state} {seconds}"
            );
        }
    }
}
