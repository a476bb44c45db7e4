//! What a node counts of its keys' uses before the log records them: one
//! `api_key.used` per key and minute, appended once the minute is over (and
//! at shutdown for the minute under way), and the sampling of refusal
//! events.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use warden_core::auth::api_key::Key;
use warden_core::commands::api_key::{ADDRESSES_MAX, KeyUsed, VerifyOutcome};

/// One refusal event per key (or client address, for unknown keys) and
/// outcome per this long; the ones between are counted in the next.
pub const REFUSALS_EVERY: Duration = Duration::from_secs(10);

/// Most refusal samplers kept before old ones are dropped.
const SAMPLERS_MAX: usize = 100_000;

#[derive(Debug, Default)]
pub struct Usage {
    /// The minute under way, per key.
    open: HashMap<String, KeyUsed>,
    /// Minutes over, waiting for their append.
    closed: Vec<KeyUsed>,
    refusals: HashMap<(String, VerifyOutcome), Sampled>,
}

#[derive(Debug, Clone, Copy)]
struct Sampled {
    last: Instant,
    unrecorded: u64,
}

impl Usage {
    /// Counts one verification of `key`.
    pub fn record(
        &mut self,
        key: &Key,
        outcome: VerifyOutcome,
        ip: Option<&str>,
        request_id: &str,
        now: DateTime<Utc>,
    ) {
        let minute = now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now);
        // The key's minute is open on every request but the first of a
        // minute: found without cloning the id.
        if let Some(open) = self.open.get_mut(&key.id) {
            if open.minute != minute {
                let over = std::mem::replace(open, fresh(key, minute, request_id, now));
                self.closed.push(over);
            }
            count(open, outcome, ip, request_id, now);
            return;
        }
        let used = self
            .open
            .entry(key.id.clone())
            .or_insert_with(|| fresh(key, minute, request_id, now));
        count(used, outcome, ip, request_id, now);
    }

    /// The minutes to append now: those that ended before `now`, or all
    /// of them (`all`, at shutdown).
    pub fn take(&mut self, now: DateTime<Utc>, all: bool) -> Vec<KeyUsed> {
        let minute = now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now);
        let mut due = std::mem::take(&mut self.closed);
        let ended: Vec<String> = self
            .open
            .iter()
            .filter(|(_, used)| all || used.minute < minute)
            .map(|(key, _)| key.clone())
            .collect();
        due.extend(ended.iter().filter_map(|key| self.open.remove(key)));
        due
    }

    /// Minutes whose append failed: kept for the next try.
    pub fn put_back(&mut self, minutes: Vec<KeyUsed>) {
        self.closed.extend(minutes);
    }

    /// Whether to append a refusal event for `sample` (a key id or client
    /// address) and `outcome` now, and how many went unrecorded before it.
    pub fn admit_refusal(&mut self, sample: &str, outcome: VerifyOutcome) -> Option<u64> {
        let now = Instant::now();
        if self.refusals.len() >= SAMPLERS_MAX {
            self.refusals
                .retain(|_, sampled| now.duration_since(sampled.last) < REFUSALS_EVERY);
        }
        match self.refusals.get_mut(&(sample.to_string(), outcome)) {
            Some(sampled) if now.duration_since(sampled.last) < REFUSALS_EVERY => {
                sampled.unrecorded += 1;
                None
            }
            Some(sampled) => {
                let before = sampled.unrecorded;
                *sampled = Sampled {
                    last: now,
                    unrecorded: 0,
                };
                Some(before)
            }
            None => {
                self.refusals.insert(
                    (sample.to_string(), outcome),
                    Sampled {
                        last: now,
                        unrecorded: 0,
                    },
                );
                Some(0)
            }
        }
    }
}

fn fresh(key: &Key, minute: DateTime<Utc>, request_id: &str, now: DateTime<Utc>) -> KeyUsed {
    KeyUsed {
        key: key.id.clone(),
        org: key.org.clone(),
        minute,
        counts: BTreeMap::new(),
        addresses: Vec::new(),
        more_addresses: false,
        new_networks: Vec::new(),
        first_request_id: request_id.to_string(),
        last_request_id: request_id.to_string(),
        last_at: now,
    }
}

/// One more verification of `outcome` in a key's minute.
fn count(used: &mut KeyUsed, outcome: VerifyOutcome, ip: Option<&str>, request_id: &str, now: DateTime<Utc>) {
    *used.counts.entry(outcome).or_default() += 1;
    used.last_request_id.clear();
    used.last_request_id.push_str(request_id);
    used.last_at = now;
    if let Some(ip) = ip
        && !used.addresses.iter().any(|known| known == ip)
    {
        if used.addresses.len() < ADDRESSES_MAX {
            used.addresses.push(ip.to_string());
        } else {
            used.more_addresses = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_core::commands::api_key::{KeyKind, Owner, SecretDigest, Settings};

    fn key(id: &str) -> Key {
        Key {
            id: id.into(),
            org: "org".into(),
            kind: KeyKind::App,
            owner: Owner::Service { name: "s".into() },
            settings: Settings {
                name: "k".into(),
                scopes: vec![],
                expires_at: None,
                allowed_networks: vec![],
                limits: vec![],
                remaining_uses: None,
                ticket_pattern: None,
            },
            secret: SecretDigest {
                digest: String::new(),
                hint: String::new(),
            },
            previous: None,
            created_at: Utc::now(),
            created_by: None,
            rotated_at: None,
            revoked_at: None,
            version: 1,
            uses_since_set: 0,
            last_used: None,
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        // 1_800_000_000 starts a minute.
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn uses_are_counted_per_key_and_minute_and_taken_once_over() {
        let mut usage = Usage::default();
        let (a, b) = (key("A"), key("B"));
        usage.record(&a, VerifyOutcome::Valid, Some("10.0.0.1"), "r1", at(1));
        usage.record(&a, VerifyOutcome::Valid, Some("10.0.0.1"), "r2", at(2));
        usage.record(&a, VerifyOutcome::RateLimited, Some("10.0.0.2"), "r3", at(3));
        usage.record(&b, VerifyOutcome::Revoked, None, "r4", at(4));
        assert!(usage.take(at(59), false).is_empty(), "the minute is not over");
        usage.record(&a, VerifyOutcome::Valid, Some("10.0.0.3"), "r5", at(61));
        let over = usage.take(at(62), false);
        assert_eq!(over.len(), 2, "a's first minute and b's");
        let first = over.iter().find(|used| used.key == "A").unwrap();
        assert_eq!(first.counts[&VerifyOutcome::Valid], 2);
        assert_eq!(first.counts[&VerifyOutcome::RateLimited], 1);
        assert_eq!(first.addresses, ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(
            (first.first_request_id.as_str(), first.last_request_id.as_str()),
            ("r1", "r3")
        );
        assert_eq!(first.minute, at(0));
        let rest = usage.take(at(63), true);
        assert_eq!(rest.len(), 1, "at shutdown, the minute under way too");
        assert_eq!(rest[0].counts[&VerifyOutcome::Valid], 1);
        assert!(usage.take(at(200), true).is_empty());
    }

    #[test]
    fn addresses_are_capped() {
        let mut usage = Usage::default();
        let a = key("A");
        for i in 0..40 {
            usage.record(&a, VerifyOutcome::Valid, Some(&format!("10.0.0.{i}")), "r", at(1));
        }
        let used = usage.take(at(0), true).pop().unwrap();
        assert_eq!(used.addresses.len(), ADDRESSES_MAX);
        assert!(used.more_addresses);
        assert_eq!(used.counts[&VerifyOutcome::Valid], 40);
    }

    #[test]
    fn refusals_are_sampled_and_count_what_they_skipped() {
        let mut usage = Usage::default();
        assert_eq!(usage.admit_refusal("A", VerifyOutcome::Revoked), Some(0));
        assert_eq!(usage.admit_refusal("A", VerifyOutcome::Revoked), None);
        assert_eq!(usage.admit_refusal("A", VerifyOutcome::Revoked), None);
        assert_eq!(usage.admit_refusal("A", VerifyOutcome::Expired), Some(0), "per outcome");
        assert_eq!(usage.admit_refusal("B", VerifyOutcome::Revoked), Some(0), "per key");
        usage
            .refusals
            .get_mut(&("A".to_string(), VerifyOutcome::Revoked))
            .unwrap()
            .last -= REFUSALS_EVERY;
        assert_eq!(usage.admit_refusal("A", VerifyOutcome::Revoked), Some(2));
    }
}
