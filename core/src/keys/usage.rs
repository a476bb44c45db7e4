//! What a node counts of its key uses before the log records them: the
//! data keys it unwrapped with the KMS (outside its cache) and the events
//! it signed, per minute, appended once the minute is over as
//! `kms.data_keys_unwrapped` and `signing_key.used` (and at shutdown for
//! the minute under way).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use crate::commands::kms::{DataKeysUnwrapped, SIGNING_KEY_USED, SigningKeyUsed, UNWRAPPED_SUBJECTS_MAX};
use crate::event::Event;

#[derive(Debug, Default)]
pub struct KeyUse {
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    unwrapped: BTreeMap<DateTime<Utc>, DataKeysUnwrapped>,
    signed: BTreeMap<(DateTime<Utc>, String), SigningKeyUsed>,
}

/// The summaries of the minutes that are over.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summaries {
    pub unwrapped: Vec<DataKeysUnwrapped>,
    pub signed: Vec<SigningKeyUsed>,
}

impl Summaries {
    pub fn is_empty(&self) -> bool {
        self.unwrapped.is_empty() && self.signed.is_empty()
    }
}

fn minute_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::minutes(1)).unwrap_or(at)
}

impl KeyUse {
    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts one unwrap of `subject`'s data key by the KMS key `kms_key_ref`.
    pub fn unwrapped(&self, subject: &str, kms_key_ref: &str, now: DateTime<Utc>) {
        let minute = minute_of(now);
        let mut counts = self.counts();
        let summary = counts.unwrapped.entry(minute).or_insert_with(|| DataKeysUnwrapped {
            minute,
            unwraps: 0,
            subjects: Vec::new(),
            more_subjects: false,
            kms_keys: Vec::new(),
        });
        summary.unwraps += 1;
        if !summary.subjects.iter().any(|known| known == subject) {
            if summary.subjects.len() < UNWRAPPED_SUBJECTS_MAX {
                summary.subjects.push(subject.to_string());
            } else {
                summary.more_subjects = true;
            }
        }
        if !summary.kms_keys.iter().any(|known| known == kms_key_ref) {
            summary.kms_keys.push(kms_key_ref.to_string());
        }
    }

    /// Counts the events this node signed and appended (its own
    /// `signing_key.used` left out: they would count each other forever).
    pub fn signed(&self, events: &[Event]) {
        let mut counts = self.counts();
        for event in events.iter().filter(|event| event.kind != SIGNING_KEY_USED) {
            let minute = minute_of(event.at);
            let used = counts
                .signed
                .entry((minute, event.key_id.clone()))
                .or_insert_with(|| SigningKeyUsed {
                    minute,
                    key_id: event.key_id.clone(),
                    events: 0,
                    first_seq: event.seq,
                    last_seq: event.seq,
                });
            used.events += 1;
            used.first_seq = used.first_seq.min(event.seq);
            used.last_seq = used.last_seq.max(event.seq);
        }
    }

    /// The summaries of the minutes before `now`'s (all of them when `all`).
    pub fn take(&self, now: DateTime<Utc>, all: bool) -> Summaries {
        let current = minute_of(now);
        let over = |minute: &DateTime<Utc>| all || *minute < current;
        let mut counts = self.counts();
        let unwrapped_minutes: Vec<DateTime<Utc>> = counts.unwrapped.keys().copied().filter(over).collect();
        let signed_keys: Vec<(DateTime<Utc>, String)> = counts
            .signed
            .keys()
            .filter(|(minute, _)| over(minute))
            .cloned()
            .collect();
        Summaries {
            unwrapped: unwrapped_minutes
                .iter()
                .filter_map(|minute| counts.unwrapped.remove(minute))
                .collect(),
            signed: signed_keys.iter().filter_map(|key| counts.signed.remove(key)).collect(),
        }
    }

    /// Gives back summaries whose append failed, for the next try.
    pub fn put_back(&self, summaries: Summaries) {
        let mut counts = self.counts();
        for unwrapped in summaries.unwrapped {
            let minute = unwrapped.minute;
            match counts.unwrapped.get_mut(&minute) {
                None => {
                    counts.unwrapped.insert(minute, unwrapped);
                }
                Some(present) => {
                    present.unwraps += unwrapped.unwraps;
                    let known: BTreeSet<String> = present.subjects.iter().cloned().collect();
                    for subject in unwrapped
                        .subjects
                        .into_iter()
                        .filter(|subject| !known.contains(subject))
                    {
                        if present.subjects.len() < UNWRAPPED_SUBJECTS_MAX {
                            present.subjects.push(subject);
                        } else {
                            present.more_subjects = true;
                        }
                    }
                    present.more_subjects |= unwrapped.more_subjects;
                    for key in unwrapped.kms_keys {
                        if !present.kms_keys.contains(&key) {
                            present.kms_keys.push(key);
                        }
                    }
                }
            }
        }
        for used in summaries.signed {
            let key = (used.minute, used.key_id.clone());
            match counts.signed.get_mut(&key) {
                None => {
                    counts.signed.insert(key, used);
                }
                Some(present) => {
                    present.events += used.events;
                    present.first_seq = present.first_seq.min(used.first_seq);
                    present.last_seq = present.last_seq.max(used.last_seq);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::event::{Actor, NewEvent};

    fn event(seq: u64, kind: &str, at: DateTime<Utc>, key: &str) -> Event {
        let mut event = Event::unsealed(seq, at, NewEvent::new(kind, "s", Actor::system()));
        event.key_id = key.to_string();
        event
    }

    #[test]
    fn counts_per_minute_and_gives_the_minutes_that_are_over() {
        let at = |second| Utc.with_ymd_and_hms(2026, 12, 5, 9, 0, 0).unwrap() + TimeDelta::seconds(second);
        let uses = KeyUse::default();
        uses.unwrapped("user:1", "aws:k", at(1));
        uses.unwrapped("user:1", "aws:k", at(2));
        uses.unwrapped("user:2", "local:f", at(3));
        uses.unwrapped("user:3", "aws:k", at(61));
        uses.signed(&[
            event(10, "session.created", at(5), "ed25519-a"),
            event(11, "session.created", at(6), "ed25519-a"),
            event(12, SIGNING_KEY_USED, at(7), "ed25519-a"),
            event(13, "session.created", at(65), "ed25519-a"),
        ]);
        let over = uses.take(at(70), false);
        assert_eq!(over.unwrapped.len(), 1);
        assert_eq!(over.unwrapped[0].unwraps, 3);
        assert_eq!(over.unwrapped[0].subjects, ["user:1", "user:2"]);
        assert_eq!(over.unwrapped[0].kms_keys, ["aws:k", "local:f"]);
        assert_eq!(over.signed.len(), 1);
        assert_eq!(
            (over.signed[0].events, over.signed[0].first_seq, over.signed[0].last_seq),
            (2, 10, 11),
            "its own summaries are not counted"
        );
        uses.put_back(over);
        let all = uses.take(at(70), true);
        assert_eq!(all.unwrapped.iter().map(|u| u.unwraps).sum::<u64>(), 4);
        assert_eq!(all.signed.iter().map(|s| s.events).sum::<u64>(), 3);
        assert!(uses.take(at(70), true).is_empty());
    }

    #[test]
    fn lists_a_bounded_number_of_subjects() {
        let uses = KeyUse::default();
        let now = Utc::now();
        for n in 0..UNWRAPPED_SUBJECTS_MAX + 5 {
            uses.unwrapped(&format!("user:{n}"), "aws:k", now);
        }
        let all = uses.take(now, true);
        assert_eq!(all.unwrapped[0].subjects.len(), UNWRAPPED_SUBJECTS_MAX);
        assert!(all.unwrapped[0].more_subjects);
        assert_eq!(all.unwrapped[0].unwraps, UNWRAPPED_SUBJECTS_MAX as u64 + 5);
    }
}
