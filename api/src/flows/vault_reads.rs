//! The node's access cache of vault reads (decision 0027): the first read
//! of a secret's version by a caller, for a reason, is a `secret.accessed`
//! event appended before the value is answered; repeats of that same read
//! within `vault_access_cache_seconds` are answered at once and counted,
//! and each minute's counts are one `secret.reads_counted` per secret,
//! appended once the minute is over (and at shutdown).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use warden_core::commands::Context;
use warden_core::commands::secret::{self, CountedReads, ReadsCounted};

use crate::state::AppState;

/// One read, as the cache tells repeats apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReadKey {
    pub org: String,
    pub name: String,
    pub version: u32,
    /// `user:<id>` or `api_key:<id>`.
    pub reader: String,
    pub ticket: Option<String>,
    pub reason: String,
}

/// Most reads remembered; past it the oldest are forgotten (their next
/// read is an event again).
const MAX_REMEMBERED: usize = 100_000;

#[derive(Debug)]
pub struct VaultReads {
    ttl: Duration,
    recorded: Mutex<HashMap<ReadKey, Instant>>,
    /// Counted repeats per minute, then per read.
    counted: Mutex<BTreeMap<DateTime<Utc>, BTreeMap<ReadKey, u64>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl VaultReads {
    pub fn new(ttl: Duration) -> Self {
        VaultReads {
            ttl,
            recorded: Mutex::default(),
            counted: Mutex::default(),
        }
    }

    /// Whether `read` was recorded by an event within the cache's time:
    /// then it is counted here and needs no event of its own.
    pub fn repeat(&self, read: &ReadKey, now: DateTime<Utc>) -> bool {
        let fresh = lock(&self.recorded).get(read).is_some_and(|at| at.elapsed() < self.ttl);
        if fresh {
            let minute = now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now);
            let mut counted = lock(&self.counted);
            let reads = counted.entry(minute).or_default();
            // The read is copied once a minute, not on every repeat.
            match reads.get_mut(read) {
                Some(count) => *count += 1,
                None => {
                    reads.insert(read.clone(), 1);
                }
            }
            metrics::counter!("warden_vault_reads_total", "recorded" => "counted").increment(1);
        }
        fresh
    }

    /// `read` was recorded by an event just now.
    pub fn recorded(&self, read: ReadKey) {
        metrics::counter!("warden_vault_reads_total", "recorded" => "event").increment(1);
        if self.ttl.is_zero() {
            return;
        }
        let mut recorded = lock(&self.recorded);
        if recorded.len() >= MAX_REMEMBERED {
            let ttl = self.ttl;
            recorded.retain(|_, at| at.elapsed() < ttl);
            if recorded.len() >= MAX_REMEMBERED {
                recorded.clear();
            }
        }
        recorded.insert(read, Instant::now());
    }

    /// Forgets every read of a secret (its readers changed, it was
    /// shredded): the next read is checked and recorded afresh.
    pub fn forget(&self, org: &str, name: &str) {
        lock(&self.recorded).retain(|read, _| read.org != org || read.name != name);
    }

    /// The counts of minutes over (all of them when `all`), as events.
    fn take(&self, now: DateTime<Utc>, all: bool) -> Vec<ReadsCounted> {
        let current = now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now);
        let mut counted = lock(&self.counted);
        let minutes: Vec<DateTime<Utc>> = counted
            .keys()
            .copied()
            .filter(|minute| all || *minute < current)
            .collect();
        let mut events = Vec::new();
        for minute in minutes {
            let Some(reads) = counted.remove(&minute) else { continue };
            let mut by_secret: BTreeMap<(String, String), Vec<CountedReads>> = BTreeMap::new();
            for (read, count) in reads {
                by_secret
                    .entry((read.org.clone(), read.name.clone()))
                    .or_default()
                    .push(CountedReads {
                        reader: read.reader,
                        ticket: read.ticket,
                        version: read.version,
                        reason: read.reason,
                        count,
                    });
            }
            events.extend(by_secret.into_iter().map(|((org, name), reads)| ReadsCounted {
                org,
                name,
                minute,
                reads,
            }));
        }
        events
    }

    fn put_back(&self, events: Vec<ReadsCounted>) {
        let mut counted = lock(&self.counted);
        for event in events {
            let minute = counted.entry(event.minute).or_default();
            for reads in event.reads {
                let read = ReadKey {
                    org: event.org.clone(),
                    name: event.name.clone(),
                    version: reads.version,
                    reader: reads.reader,
                    ticket: reads.ticket,
                    reason: reads.reason,
                };
                *minute.entry(read).or_default() += reads.count;
            }
        }
    }

    /// Appends the counts of the minutes that are over (all when `all`);
    /// a failed append keeps them for the next try.
    pub async fn flush(&self, state: &AppState, all: bool) {
        let due = self.take(Utc::now(), all);
        if due.is_empty() {
            return;
        }
        let context = Context {
            actor: warden_core::Actor::system(),
            request_id: super::new_id(),
        };
        let events = due
            .iter()
            .map(|counted| secret::reads_counted(&context, counted))
            .collect();
        if let Err(error) = super::commit(state, events).await {
            tracing::warn!(message = %error.message, "vault reads not recorded yet; retrying");
            self.put_back(due);
        }
    }
}

/// Runs until the node stops: appends the counted reads as minutes end.
pub async fn flush_reads(state: AppState) {
    let mut tick = tokio::time::interval(super::key_check::FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        state.vault_reads.flush(&state, false).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(reader: &str, reason: &str) -> ReadKey {
        ReadKey {
            org: "o".into(),
            name: "db".into(),
            version: 2,
            reader: reader.into(),
            ticket: None,
            reason: reason.into(),
        }
    }

    #[test]
    fn a_read_repeats_only_the_same_read_within_the_ttl_and_is_counted_per_minute() {
        let reads = VaultReads::new(Duration::from_secs(60));
        let now = Utc::now();
        assert!(!reads.repeat(&read("api_key:a", "start"), now), "never recorded");
        reads.recorded(read("api_key:a", "start"));
        assert!(reads.repeat(&read("api_key:a", "start"), now));
        assert!(reads.repeat(&read("api_key:a", "start"), now));
        assert!(!reads.repeat(&read("api_key:a", "another reason"), now));
        assert!(!reads.repeat(&read("api_key:b", "start"), now));
        assert!(reads.take(now, false).is_empty(), "the minute is not over");
        let taken = reads.take(now, true);
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].reads.len(), 1);
        assert_eq!(taken[0].reads[0].count, 2);
        reads.put_back(taken);
        assert_eq!(reads.take(now, true)[0].reads[0].count, 2, "put back whole");
        reads.forget("o", "db");
        assert!(!reads.repeat(&read("api_key:a", "start"), now), "forgotten");
        let off = VaultReads::new(Duration::ZERO);
        off.recorded(read("api_key:a", "start"));
        assert!(
            !off.repeat(&read("api_key:a", "start"), now),
            "no cache: every read an event"
        );
    }
}
