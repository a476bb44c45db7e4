//! What each API key was used for, from its `api_key.used` events: requests
//! by outcome per minute (the last two hours) and per hour (the last 30
//! days), when it was last used, and the client addresses that used it
//! most. Time is the log's (each event's minute), so every node holds the
//! same figures.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use warden_core::Event;
use warden_core::auth::api_key::networks;
use warden_core::commands::api_key::{self, KeyUsed, VerifyOutcome};
use warden_core::commands::payload;

use crate::Projection;

/// Minutes kept per key.
const MINUTES_KEPT: i64 = 120;
/// Hours kept per key.
const HOURS_KEPT: i64 = 30 * 24;
/// Client addresses kept per key (the least seen go first).
const ADDRESSES_KEPT: usize = 256;
/// Networks remembered per key (the least recently seen go first: a key
/// used from more places than this finds an old one new again).
const NETWORKS_KEPT: usize = 256;

type Counts = BTreeMap<VerifyOutcome, u64>;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KeyUsage {
    keys: HashMap<String, Usage>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Usage {
    /// Minute start (Unix seconds) → counts.
    minutes: BTreeMap<i64, Counts>,
    /// Hour start (Unix seconds) → counts.
    hours: BTreeMap<i64, Counts>,
    /// Address → minutes in which it used the key.
    addresses: HashMap<String, u64>,
    /// Network (`api_key::networks`) → the last minute it used the key.
    #[serde(default)]
    networks: HashMap<String, i64>,
    last_used: Option<DateTime<Utc>>,
}

/// A key's usage as the API and the console show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UsageView {
    pub last_hour: Counts,
    pub last_day: Counts,
    pub last_30_days: Counts,
    /// Requests per hour over the last 24 hours, oldest first (24 values,
    /// the last one the hour under way).
    pub hourly: Vec<u64>,
    /// The addresses that used the key in the most minutes, most first
    /// (at most 10).
    pub top_addresses: Vec<(String, u64)>,
    pub last_used: Option<DateTime<Utc>>,
}

impl KeyUsage {
    /// Whether any use of `key` is recorded.
    pub fn used_before(&self, key: &str) -> bool {
        self.keys.contains_key(key)
    }

    /// Whether `key` was used from `network` (as far as remembered).
    pub fn knows_network(&self, key: &str, network: &str) -> bool {
        self.keys
            .get(key)
            .is_some_and(|usage| usage.networks.contains_key(network))
    }

    /// The usage of `key` as of `now`.
    pub fn view(&self, key: &str, now: DateTime<Utc>) -> UsageView {
        let Some(usage) = self.keys.get(key) else {
            return UsageView {
                hourly: vec![0; 24],
                ..UsageView::default()
            };
        };
        let hour = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now).timestamp();
        let since = |seconds: i64| now.timestamp() - seconds;
        let sum = |buckets: &BTreeMap<i64, Counts>, from: i64| {
            let mut total = Counts::new();
            for counts in buckets.range(from..).map(|(_, counts)| counts) {
                for (outcome, n) in counts {
                    *total.entry(*outcome).or_default() += n;
                }
            }
            total
        };
        let hourly = (0..24)
            .rev()
            .map(|back| {
                usage
                    .hours
                    .get(&(hour - back * 3600))
                    .map_or(0, |counts| counts.values().sum())
            })
            .collect();
        let mut top: Vec<(String, u64)> = usage
            .addresses
            .iter()
            .map(|(address, minutes)| (address.clone(), *minutes))
            .collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        top.truncate(10);
        UsageView {
            last_hour: sum(&usage.minutes, since(3600) + 1 - 60),
            last_day: sum(&usage.hours, hour - 23 * 3600),
            last_30_days: sum(&usage.hours, hour - (HOURS_KEPT - 1) * 3600),
            hourly,
            top_addresses: top,
            last_used: usage.last_used,
        }
    }

    /// Keys with usage held (for the memory figures).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl Projection for KeyUsage {
    const NAME: &'static str = warden_core::commands::catalogue::readers::KEY_USAGE;
    const VERSION: u32 = 2;
    const NEW_KINDS_ONLY: bool = true;

    fn apply(&mut self, event: &Event) {
        if event.kind != api_key::API_KEY_USED {
            return;
        }
        let Some(used) = payload::<KeyUsed>(event) else {
            return;
        };
        let usage = self.keys.entry(used.key.clone()).or_default();
        let minute = used.minute.timestamp();
        let hour = used
            .minute
            .duration_trunc(TimeDelta::hours(1))
            .unwrap_or(used.minute)
            .timestamp();
        for (outcome, n) in &used.counts {
            *usage.minutes.entry(minute).or_default().entry(*outcome).or_default() += n;
            *usage.hours.entry(hour).or_default().entry(*outcome).or_default() += n;
        }
        let newest_minute = usage.minutes.keys().next_back().copied().unwrap_or(minute);
        usage.minutes = usage.minutes.split_off(&(newest_minute - (MINUTES_KEPT - 1) * 60));
        let newest_hour = usage.hours.keys().next_back().copied().unwrap_or(hour);
        usage.hours = usage.hours.split_off(&(newest_hour - (HOURS_KEPT - 1) * 3600));
        for address in &used.addresses {
            *usage.addresses.entry(address.clone()).or_default() += 1;
        }
        for network in used
            .addresses
            .iter()
            .filter_map(|address| networks::network_of(address))
        {
            let last = usage.networks.entry(network).or_insert(minute);
            *last = (*last).max(minute);
        }
        if usage.networks.len() > NETWORKS_KEPT {
            let mut seen: Vec<(String, i64)> = usage.networks.drain().collect();
            seen.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            seen.truncate(NETWORKS_KEPT / 2);
            usage.networks = seen.into_iter().collect();
        }
        if usage.addresses.len() > ADDRESSES_KEPT {
            let mut seen: Vec<(String, u64)> = usage.addresses.drain().collect();
            seen.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            seen.truncate(ADDRESSES_KEPT / 2);
            usage.addresses = seen.into_iter().collect();
        }
        if used.counts.get(&VerifyOutcome::Valid).is_some_and(|n| *n > 0) {
            usage.last_used = usage.last_used.max(Some(used.last_at));
        }
    }
}

#[cfg(test)]
mod tests {
    use warden_core::commands::Caller;

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        // 1_800_000_000 starts an hour (and a minute).
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn used(minute: i64, valid: u64, refused: u64, addresses: &[&str]) -> Event {
        let used = KeyUsed {
            key: "K".into(),
            org: "org".into(),
            minute: at(minute),
            counts: [(VerifyOutcome::Valid, valid), (VerifyOutcome::RateLimited, refused)]
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .collect(),
            addresses: addresses.iter().map(|a| a.to_string()).collect(),
            more_addresses: false,
            new_networks: Vec::new(),
            first_request_id: "r".into(),
            last_request_id: "r".into(),
            last_at: at(minute + 59),
        };
        let context = Caller::default().anonymous();
        Event::unsealed(1, at(minute + 60), api_key::used(&context, &used))
    }

    #[test]
    fn the_networks_a_key_was_used_from_are_remembered() {
        let mut usage = KeyUsage::default();
        assert!(!usage.used_before("K"));
        usage.apply(&used(0, 1, 0, &["10.0.0.9", "2001:db8:0:1::5"]));
        assert!(usage.used_before("K"));
        assert!(usage.knows_network("K", "10.0.0.0/24"));
        assert!(usage.knows_network("K", "2001:db8:0:1::/64"));
        assert!(!usage.knows_network("K", "10.0.1.0/24"));
        assert!(!usage.knows_network("other", "10.0.0.0/24"));
        for i in 0..(NETWORKS_KEPT as i64) {
            usage.apply(&used(
                60 * (i + 1),
                1,
                0,
                &[&format!("10.{}.{}.1", i / 250, i % 250 + 1)],
            ));
        }
        assert!(usage.keys["K"].networks.len() <= NETWORKS_KEPT);
        assert!(usage.knows_network("K", "10.1.6.0/24"), "the most recent stay");
        assert!(!usage.knows_network("K", "2001:db8:0:1::/64"), "the least recent go");
    }

    #[test]
    fn usage_is_summed_over_the_last_hour_day_and_month() {
        let mut usage = KeyUsage::default();
        usage.apply(&used(-40 * 86_400, 1000, 0, &["10.0.0.9"]));
        usage.apply(&used(-3 * 86_400, 7, 0, &["10.0.0.1"]));
        usage.apply(&used(-5 * 3600, 5, 1, &["10.0.0.1", "10.0.0.2"]));
        usage.apply(&used(-120, 3, 2, &["10.0.0.2"]));
        usage.apply(&used(0, 2, 0, &["10.0.0.2"]));
        let view = usage.view("K", at(30));
        let valid = |counts: &Counts| counts.get(&VerifyOutcome::Valid).copied().unwrap_or(0);
        assert_eq!(valid(&view.last_hour), 5);
        assert_eq!(valid(&view.last_day), 10);
        assert_eq!(valid(&view.last_30_days), 17, "40 days ago is gone");
        assert_eq!(view.last_day.get(&VerifyOutcome::RateLimited), Some(&3));
        assert_eq!(view.hourly.len(), 24);
        assert_eq!(view.hourly[23], 2, "the hour under way");
        assert_eq!(view.hourly[22], 5, "the hour before: 3 valid, 2 limited");
        assert_eq!(view.hourly[18], 6);
        assert_eq!(view.top_addresses[0], ("10.0.0.2".to_string(), 3));
        assert_eq!(view.last_used, Some(at(59)));
        assert_eq!(usage.view("other", at(0)).hourly, vec![0; 24]);
    }
}
