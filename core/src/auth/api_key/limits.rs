//! Counting a key's rate limits and uses on one node, in memory.
//!
//! Limits count in fixed windows aligned to Unix time (a limit of 10 per
//! 60 s counts 12:00:00–12:00:59, then 12:01:00–…), so every node counts
//! the same windows. Each node tells the others what changed in its own
//! counts ([`Counters::report`], every 100 ms over the bus) and holds what
//! they told it ([`Counters::absorb`]); a request is measured against the
//! sum. The nodes together stay within a limit except for what the others
//! admitted since their last report (decision 0022 gives the tolerance).
//!
//! Uses: a key's remaining uses are those the log records
//! ([`Key::remaining_uses`]) less the uses this node and the others
//! counted but have not recorded yet.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Key;
use crate::commands::api_key::RateLimit;

/// A limit as the `RateLimit` headers tell it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitState {
    pub name: String,
    pub limit: u64,
    pub window_seconds: u64,
    /// Requests left in the window.
    pub remaining: u64,
    /// Seconds until the window ends.
    pub reset_seconds: u64,
}

/// What counting a request gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Take {
    /// Counted; the limit with the fewest requests left, if the key has
    /// limits.
    Taken(Option<LimitState>),
    /// A limit is spent: nothing was counted against the others.
    RateLimited(LimitState),
    /// No uses left.
    UsedUp,
}

/// One node's counts of one limit's current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Unix seconds of the window's start.
    pub start: i64,
    pub count: u64,
}

/// What a node tells the others: the counts that changed since its last
/// report, each whole (so a report repeated or taken twice does no harm,
/// and a lost one is made good by the next change of the same count).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// `(key, limit name)` → the window it counts.
    pub windows: Vec<(String, String, Window)>,
    /// Key → uses counted and not recorded in the log yet.
    pub pending_uses: Vec<(String, u64)>,
}

#[derive(Debug, Default)]
pub struct Counters {
    windows: HashMap<(String, String), Window>,
    pending_uses: HashMap<String, u64>,
    /// What the other nodes reported, by node.
    others: HashMap<String, Others>,
    /// Counts changed since the last report.
    changed_windows: HashSet<(String, String)>,
    changed_uses: HashSet<String>,
    takes: u64,
}

#[derive(Debug, Default)]
struct Others {
    windows: HashMap<(String, String), Window>,
    pending_uses: HashMap<String, u64>,
}

const SWEEP_EVERY: u64 = 65_536;

impl Counters {
    /// Counts one request of `key` at `now`, if its limits and uses allow.
    pub fn take(&mut self, key: &Key, now: DateTime<Utc>) -> Take {
        self.takes += 1;
        if self.takes.is_multiple_of(SWEEP_EVERY) {
            self.sweep(now.timestamp());
        }
        let now_s = now.timestamp();
        let mut tightest: Option<LimitState> = None;
        for limit in &key.settings.limits {
            let state = self.state_of(&key.id, limit, now_s);
            if state.remaining == 0 {
                return Take::RateLimited(state);
            }
            if tightest.as_ref().is_none_or(|t| state.remaining - 1 < t.remaining) {
                tightest = Some(LimitState {
                    remaining: state.remaining - 1,
                    ..state
                });
            }
        }
        if let Some(left) = key.remaining_uses()
            && left <= self.pending_uses_of(&key.id)
        {
            return Take::UsedUp;
        }
        for limit in &key.settings.limits {
            let start = window_start(now_s, limit.window_seconds);
            let window = self
                .windows
                .entry((key.id.clone(), limit.name.clone()))
                .or_insert(Window { start, count: 0 });
            if window.start != start {
                *window = Window { start, count: 0 };
            }
            window.count += 1;
            self.changed_windows.insert((key.id.clone(), limit.name.clone()));
        }
        if key.settings.remaining_uses.is_some() {
            *self.pending_uses.entry(key.id.clone()).or_default() += 1;
            self.changed_uses.insert(key.id.clone());
        }
        Take::Taken(tightest)
    }

    /// `limit` of `key` at `now_s`, summed over this node and the others.
    fn state_of(&self, key: &str, limit: &RateLimit, now_s: i64) -> LimitState {
        let start = window_start(now_s, limit.window_seconds);
        let id = (key.to_string(), limit.name.clone());
        let count_in = |windows: &HashMap<(String, String), Window>| {
            windows
                .get(&id)
                .filter(|window| window.start == start)
                .map_or(0, |window| window.count)
        };
        let used = count_in(&self.windows) + self.others.values().map(|o| count_in(&o.windows)).sum::<u64>();
        let window = i64::try_from(limit.window_seconds).unwrap_or(i64::MAX);
        LimitState {
            name: limit.name.clone(),
            limit: limit.limit,
            window_seconds: limit.window_seconds,
            remaining: limit.limit.saturating_sub(used),
            reset_seconds: u64::try_from(start.saturating_add(window) - now_s).unwrap_or(0),
        }
    }

    fn pending_uses_of(&self, key: &str) -> u64 {
        self.pending_uses.get(key).copied().unwrap_or(0)
            + self
                .others
                .values()
                .map(|o| o.pending_uses.get(key).copied().unwrap_or(0))
                .sum::<u64>()
    }

    /// `uses` of `key` are now in the log (this node's `api_key.used` was
    /// applied): no longer pending.
    pub fn recorded(&mut self, key: &str, uses: u64) {
        if let Some(pending) = self.pending_uses.get_mut(key) {
            *pending = pending.saturating_sub(uses);
            if *pending == 0 {
                self.pending_uses.remove(key);
            }
            self.changed_uses.insert(key.to_string());
        }
    }

    /// The counts that changed since the last report, for the others.
    pub fn report(&mut self) -> Report {
        let windows = self
            .changed_windows
            .drain()
            .filter_map(|id| {
                let window = *self.windows.get(&id)?;
                Some((id.0, id.1, window))
            })
            .collect();
        let pending_uses = self
            .changed_uses
            .drain()
            .map(|key| {
                let uses = self.pending_uses.get(&key).copied().unwrap_or(0);
                (key, uses)
            })
            .collect();
        Report { windows, pending_uses }
    }

    /// What another node reported replaces what it reported before of the
    /// same counts.
    pub fn absorb(&mut self, node: &str, report: Report) {
        let others = self.others.entry(node.to_string()).or_default();
        for (key, limit, window) in report.windows {
            others.windows.insert((key, limit), window);
        }
        for (key, uses) in report.pending_uses {
            if uses == 0 {
                others.pending_uses.remove(&key);
            } else {
                others.pending_uses.insert(key, uses);
            }
        }
    }

    /// Forgets a node that stopped reporting.
    pub fn forget(&mut self, node: &str) {
        self.others.remove(node);
    }

    /// Windows that ended long ago go; a window of a day stays a day.
    fn sweep(&mut self, now_s: i64) {
        // The longest window allowed is 30 days.
        const LONGEST: i64 = 30 * 86_400;
        self.windows.retain(|_, window| window.start > now_s - LONGEST);
        for others in self.others.values_mut() {
            others.windows.retain(|_, window| window.start > now_s - LONGEST);
        }
    }

    /// Counted windows and pending keys, for the memory figures.
    pub fn len(&self) -> usize {
        self.windows.len() + self.pending_uses.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn window_start(now_s: i64, window_seconds: u64) -> i64 {
    let window = i64::try_from(window_seconds.max(1)).unwrap_or(i64::MAX);
    now_s - now_s.rem_euclid(window)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn key(limits: &[(&str, u64, u64)], remaining_uses: Option<u64>) -> Key {
        let mut key = crate::auth::api_key::test_key();
        key.settings.limits = limits
            .iter()
            .map(|(name, limit, window_seconds)| RateLimit {
                name: (*name).into(),
                limit: *limit,
                window_seconds: *window_seconds,
            })
            .collect();
        key.settings.remaining_uses = remaining_uses;
        key
    }

    #[test]
    fn a_limit_admits_its_count_per_aligned_window() {
        let key = key(&[("per_minute", 3, 60)], None);
        let mut counters = Counters::default();
        // 1_800_000_000 starts a minute: at(20) is 20 s into it.
        let mut remaining = Vec::new();
        for _ in 0..3 {
            match counters.take(&key, at(20)) {
                Take::Taken(Some(state)) => remaining.push((state.remaining, state.reset_seconds)),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(remaining, [(2, 40), (1, 40), (0, 40)]);
        match counters.take(&key, at(59)) {
            Take::RateLimited(state) => assert_eq!((state.remaining, state.reset_seconds), (0, 1)),
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(counters.take(&key, at(60)), Take::Taken(Some(_))),
            "a new window"
        );
    }

    #[test]
    fn the_tightest_limit_is_told_and_a_spent_one_counts_nothing_elsewhere() {
        let key = key(&[("per_second", 2, 1), ("per_day", 3, 86_400)], None);
        let mut counters = Counters::default();
        let Take::Taken(Some(first)) = counters.take(&key, at(0)) else {
            panic!()
        };
        assert_eq!((first.name.as_str(), first.remaining), ("per_second", 1));
        assert!(matches!(counters.take(&key, at(0)), Take::Taken(_)));
        let Take::RateLimited(spent) = counters.take(&key, at(0)) else {
            panic!()
        };
        assert_eq!(spent.name, "per_second");
        // The refused request was not counted in the day.
        let Take::Taken(Some(next)) = counters.take(&key, at(1)) else {
            panic!()
        };
        assert_eq!((next.name.as_str(), next.remaining), ("per_day", 0));
        let Take::RateLimited(day) = counters.take(&key, at(2)) else {
            panic!()
        };
        assert_eq!(day.name, "per_day");
    }

    #[test]
    fn uses_count_down_across_the_log_this_node_and_the_others() {
        let mut key = key(&[], Some(5));
        let mut a = Counters::default();
        let mut b = Counters::default();
        for _ in 0..2 {
            assert_eq!(a.take(&key, at(0)), Take::Taken(None));
        }
        b.absorb("a", a.report());
        for _ in 0..3 {
            assert_eq!(b.take(&key, at(0)), Take::Taken(None));
        }
        assert_eq!(b.take(&key, at(0)), Take::UsedUp, "2 on a and 3 on b");
        // a records its two uses; the log now says 3 left.
        key.uses_since_set = 2;
        a.recorded(&key.id, 2);
        b.absorb("a", a.report());
        assert_eq!(b.take(&key, at(1)), Take::UsedUp, "3 recorded-to-be on b");
        b.recorded(&key.id, 3);
        key.uses_since_set = 5;
        assert_eq!(b.take(&key, at(1)), Take::UsedUp, "none left at all");
    }

    #[test]
    fn nodes_share_a_limit_through_their_reports() {
        let key = key(&[("per_minute", 10, 60)], None);
        let mut a = Counters::default();
        let mut b = Counters::default();
        for _ in 0..6 {
            assert!(matches!(a.take(&key, at(0)), Take::Taken(_)));
        }
        b.absorb("a", a.report());
        let admitted = (0..10)
            .filter(|_| matches!(b.take(&key, at(1)), Take::Taken(_)))
            .count();
        assert_eq!(admitted, 4);
        // A report of a window that ended counts for nothing.
        let admitted_later = (0..10)
            .filter(|_| matches!(b.take(&key, at(60)), Take::Taken(_)))
            .count();
        assert_eq!(admitted_later, 10);
        b.forget("a");
        assert!(b.others.is_empty());
    }

    #[test]
    fn reports_carry_only_what_changed_each_whole() {
        let key = key(&[("per_minute", 100, 60)], Some(50));
        let mut a = Counters::default();
        let mut b = Counters::default();
        a.take(&key, at(0));
        a.take(&key, at(0));
        let first = a.report();
        assert_eq!(first.windows.len(), 1);
        assert_eq!(first.windows[0].2.count, 2);
        assert_eq!(first.pending_uses, [(key.id.clone(), 2)]);
        assert_eq!(a.report(), Report::default(), "nothing changed since");
        // Taken twice, a report does no harm: each count is whole.
        b.absorb("a", first.clone());
        b.absorb("a", first);
        let Take::Taken(Some(state)) = b.take(&key, at(1)) else {
            panic!()
        };
        assert_eq!(state.remaining, 97, "2 on a, 1 on b");
        a.recorded(&key.id, 2);
        b.absorb("a", a.report());
        assert_eq!(b.pending_uses_of(&key.id), 1, "a's uses are in the log now");
    }
}
