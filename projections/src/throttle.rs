//! Recent failed sign-ins per account identifier and per client IP, from
//! `login.failed` events, and failed second factors per user, from
//! `mfa.failed` events (one counter for every factor): what the sign-in
//! throttle decides on. Every node sees every node's failures.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use warden_core::Event;
use warden_core::auth::throttle::{SignInFailures, ThrottlePolicy, sign_in_wait};
use warden_core::commands::account::{self, LoginFailed, LoginSucceeded};
use warden_core::commands::mfa::{self, Failed, FailureReason, Verified};
use warden_core::commands::payload;

use crate::Projection;

/// Failures kept per key: more than any policy counts.
const KEEP: usize = 64;
/// Stale keys are dropped every this many events.
const SWEEP_EVERY: u64 = 4096;

/// Networks remembered per account, most recent last.
const KNOWN_NETWORKS: usize = 16;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LoginThrottle {
    /// Failures per account identifier, from anywhere.
    accounts: HashMap<String, Vec<DateTime<Utc>>>,
    ips: HashMap<String, Vec<DateTime<Utc>>>,
    /// Failures per account identifier and client network (`pair_key`).
    #[serde(default)]
    pairs: HashMap<String, Vec<DateTime<Utc>>>,
    /// The networks (`network_key`) each account identifier signed in
    /// from, with when it last did.
    #[serde(default)]
    known: HashMap<String, Vec<(String, DateTime<Utc>)>>,
    /// Per user: wrong or replayed second-factor codes.
    #[serde(default)]
    second_factors: HashMap<String, Vec<DateTime<Utc>>>,
    applied: u64,
}

impl LoginThrottle {
    /// How long a sign-in for `identifier` (an
    /// [`account::identifier_key`]) from `ip` must still wait at `now`
    /// ([`sign_in_wait`]). `pending`: attempts for the pair, the network
    /// and the account being checked right now, counted as failures (a
    /// parallel burst gets no more guesses than a sequential one).
    pub fn wait(
        &self,
        identifier: &str,
        ip: Option<&str>,
        now: DateTime<Utc>,
        pending: (usize, usize, usize),
    ) -> Option<Duration> {
        let with_pending = |failures: Option<&Vec<DateTime<Utc>>>, pending: usize| {
            let mut all = failures.cloned().unwrap_or_default();
            all.extend(std::iter::repeat_n(now, pending));
            all
        };
        let pair = with_pending(self.pairs.get(&pair_key(identifier, ip)), pending.0);
        let client = with_pending(ip.and_then(|ip| self.ips.get(&ip_key(ip))), pending.1);
        let account = with_pending(self.accounts.get(identifier), pending.2);
        let known_client = ip.is_some_and(|ip| {
            let network = network_key(ip);
            self.known
                .get(identifier)
                .is_some_and(|known| known.iter().any(|(seen, _)| *seen == network))
        });
        sign_in_wait(
            &SignInFailures {
                account_from_client: &pair,
                client: if ip.is_some() { &client } else { &[] },
                account: &account,
                known_client,
            },
            now,
        )
    }

    /// How long a second-factor attempt of `user` must still wait at
    /// `now`; `pending`: their attempts being checked right now.
    pub fn second_factor_wait(&self, user: &str, now: DateTime<Utc>, pending: usize) -> Option<Duration> {
        let mut failures = self.second_factors.get(user).cloned().unwrap_or_default();
        failures.extend(std::iter::repeat_n(now, pending));
        ThrottlePolicy::SECOND_FACTOR.wait(&failures, now)
    }

    pub fn failures(&self, identifier: &str) -> usize {
        self.accounts.get(identifier).map_or(0, Vec::len)
    }
}

/// The key of an account identifier and a client's address.
pub fn pair_key(identifier: &str, ip: Option<&str>) -> String {
    format!("{identifier}/{}", ip.map(ip_key).unwrap_or_default())
}

/// The network a sign-in came from, as an account remembers it: the /24
/// of an IPv4 address (home and office addresses move within one), the
/// /64 of an IPv6 one.
pub fn network_key(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>().map(|ip| ip.to_canonical()) {
        Ok(std::net::IpAddr::V4(v4)) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        _ => ip_key(ip),
    }
}

/// The per-IP throttle's key: an IPv4 address, or an IPv6 address's /64
/// (one host usually holds a whole /64).
pub fn ip_key(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let segments = v6.segments();
            format!(
                "{:x}:{:x}:{:x}:{:x}::/64",
                segments[0], segments[1], segments[2], segments[3]
            )
        }
        _ => ip.to_string(),
    }
}

fn record(map: &mut HashMap<String, Vec<DateTime<Utc>>>, key: &str, at: DateTime<Utc>) {
    let failures = map.entry(key.to_string()).or_default();
    failures.push(at);
    if failures.len() > KEEP {
        failures.remove(0);
    }
}

impl Projection for LoginThrottle {
    const NAME: &'static str = warden_core::commands::catalogue::readers::LOGIN_THROTTLE;
    const VERSION: u32 = 3;

    fn apply(&mut self, event: &Event) {
        self.applied += 1;
        if self.applied.is_multiple_of(SWEEP_EVERY) {
            let window = chrono::Duration::from_std(ThrottlePolicy::ACCOUNT.window.max(ThrottlePolicy::IP.window))
                .unwrap_or_default();
            let fresh = |failures: &Vec<DateTime<Utc>>| failures.last().is_some_and(|last| event.at - *last < window);
            self.accounts.retain(|_, failures| fresh(failures));
            self.ips.retain(|_, failures| fresh(failures));
            self.pairs.retain(|_, failures| fresh(failures));
            self.second_factors.retain(|_, failures| fresh(failures));
        }
        match event.kind.as_str() {
            account::LOGIN_FAILED => {
                let Some(failed) = payload::<LoginFailed>(event) else {
                    return;
                };
                if !failed.reason.counts_toward_throttle() {
                    return;
                }
                record(&mut self.accounts, &failed.identifier, event.at);
                record(
                    &mut self.pairs,
                    &pair_key(&failed.identifier, event.actor.ip.as_deref()),
                    event.at,
                );
                if let Some(ip) = &event.actor.ip {
                    record(&mut self.ips, &ip_key(ip), event.at);
                }
            }
            account::LOGIN_SUCCEEDED => {
                // Clears this client's failures only: the account's count
                // from everywhere stays (a success must not reset a
                // guesser's allowance elsewhere), but no longer holds a
                // client from this network.
                if let Some(succeeded) = payload::<LoginSucceeded>(event) {
                    self.pairs
                        .remove(&pair_key(&succeeded.identifier, event.actor.ip.as_deref()));
                    if let Some(ip) = &event.actor.ip {
                        let network = network_key(ip);
                        let known = self.known.entry(succeeded.identifier).or_default();
                        known.retain(|(seen, _)| *seen != network);
                        known.push((network, event.at));
                        if known.len() > KNOWN_NETWORKS {
                            known.remove(0);
                        }
                    }
                }
            }
            mfa::FAILED => {
                if let Some(failed) = payload::<Failed>(event)
                    && failed.reason != FailureReason::Throttled
                {
                    record(&mut self.second_factors, &failed.user, event.at);
                }
            }
            mfa::VERIFIED => {
                if let Some(verified) = payload::<Verified>(event) {
                    self.second_factors.remove(&verified.user);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ip_key;

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        assert_eq!(ip_key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(ip_key("2001:db8:1:2:ffff::1"), ip_key("2001:db8:1:2::9"));
        assert_ne!(ip_key("2001:db8:1:2::1"), ip_key("2001:db8:1:3::1"));
        assert_eq!(ip_key("203.0.113.7"), "203.0.113.7");
        assert_eq!(ip_key("::ffff:203.0.113.7"), "::ffff:203.0.113.7");
    }
}
