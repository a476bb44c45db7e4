//! Recent failed sign-ins per account identifier and per client IP, from
//! `login.failed` events: what the sign-in throttle decides on. Every node
//! sees every node's failures.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use warden_core::Event;
use warden_core::auth::throttle::ThrottlePolicy;
use warden_core::commands::account::{self, LoginFailed, LoginSucceeded};
use warden_core::commands::payload;

use crate::Projection;

/// Failures kept per key: more than any policy counts.
const KEEP: usize = 64;
/// Stale keys are dropped every this many events.
const SWEEP_EVERY: u64 = 4096;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LoginThrottle {
    accounts: HashMap<String, Vec<DateTime<Utc>>>,
    ips: HashMap<String, Vec<DateTime<Utc>>>,
    applied: u64,
}

impl LoginThrottle {
    /// How long a sign-in for `identifier` (an
    /// [`account::identifier_key`]) from `ip` must still wait at `now`.
    pub fn wait(&self, identifier: &str, ip: Option<&str>, now: DateTime<Utc>) -> Option<Duration> {
        let by_account = self
            .accounts
            .get(identifier)
            .and_then(|failures| ThrottlePolicy::ACCOUNT.wait(failures, now));
        let by_ip = ip
            .and_then(|ip| self.ips.get(ip))
            .and_then(|failures| ThrottlePolicy::IP.wait(failures, now));
        by_account.max(by_ip)
    }

    pub fn failures(&self, identifier: &str) -> usize {
        self.accounts.get(identifier).map_or(0, Vec::len)
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
    const NAME: &'static str = "login_throttle";
    const VERSION: u32 = 1;

    fn apply(&mut self, event: &Event) {
        self.applied += 1;
        if self.applied.is_multiple_of(SWEEP_EVERY) {
            let window = chrono::Duration::from_std(ThrottlePolicy::ACCOUNT.window.max(ThrottlePolicy::IP.window))
                .unwrap_or_default();
            let fresh = |failures: &Vec<DateTime<Utc>>| failures.last().is_some_and(|last| event.at - *last < window);
            self.accounts.retain(|_, failures| fresh(failures));
            self.ips.retain(|_, failures| fresh(failures));
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
                if let Some(ip) = &event.actor.ip {
                    record(&mut self.ips, ip, event.at);
                }
            }
            account::LOGIN_SUCCEEDED => {
                if let Some(succeeded) = payload::<LoginSucceeded>(event) {
                    self.accounts.remove(&succeeded.identifier);
                }
            }
            _ => {}
        }
    }
}
