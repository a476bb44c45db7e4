//! Publishing checkpoints (`docs/spec/audit-checkpoint.md`, decision 0020): when one is
//! due, and the `ledger.checkpointed` event that records it. The event's
//! `data` is the published document itself, so every copy (the alert
//! webhook and email, the directory, the endpoint, the bus) carries the
//! same signed bytes.

use chrono::{DateTime, Duration, Utc};

use super::sentence::{Sentence, Summarize};
use super::{Context, Prefix, data};
use crate::chain::published::PublishedCheckpoint;
use crate::event::{Event, NewEvent};

pub const LEDGER_CHECKPOINTED: &str = "ledger.checkpointed";

/// Every checkpoint is on one subject: they follow one another.
pub const CHECKPOINT_SUBJECT: &str = Prefix::Checkpoints.as_str();

/// How often checkpoints are published (configuration:
/// `audit_checkpoint_every_events`, `audit_checkpoint_every_seconds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Once the log has grown by this many events since the last one.
    pub every_events: u64,
    /// Once this long has passed since the last one, if anything was
    /// appended since.
    pub every: Duration,
}

/// The latest checkpoint published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Last {
    pub tree_size: u64,
    pub at: DateTime<Utc>,
}

/// Warden's bookkeeping of checkpoints and of alert delivery: a
/// checkpoint, and the alert that fires on it and delivers it, must not
/// themselves make the next one due (an idle log would be checkpointed
/// forever). They are covered by the next checkpoint other events bring.
/// What people do with alerts (acknowledge, resolve, re-send) is not
/// bookkeeping. Nor are the key-use summaries: a checkpoint is signed, and
/// each signature is counted in the next summary.
pub const QUIET_KINDS: &[&str] = &[
    LEDGER_CHECKPOINTED,
    "alert.fired",
    "alert.delivered",
    "alert.delivery_failed",
    "alert.dead_lettered",
    super::kms::DATA_KEYS_UNWRAPPED,
    super::kms::SIGNING_KEY_USED,
];

pub fn is_quiet(kind: &str) -> bool {
    QUIET_KINDS.contains(&kind)
}

/// Whether a checkpoint is due at `now`, `news` being the events after
/// `last`'s tree size that are not [`is_quiet`]: once `news` reaches
/// `every_events`, or once `every` has passed since `last` with any news.
///
/// Before the first checkpoint, `last` is the log before its first event
/// (tree size 0) at the time the checkpointer started: a log that already
/// holds `every_events` events is checkpointed at once, a young one after
/// `every`.
pub fn due(schedule: &Schedule, last: &Last, news: u64, now: DateTime<Utc>) -> bool {
    news > 0 && (news >= schedule.every_events || now - last.at >= schedule.every)
}

pub fn checkpointed(context: &Context, checkpoint: &PublishedCheckpoint) -> NewEvent {
    context
        .event(LEDGER_CHECKPOINTED, CHECKPOINT_SUBJECT)
        .data(data(checkpoint))
}

impl Summarize for PublishedCheckpoint {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        Some(
            Sentence::by(event)
                .words(" signed a checkpoint of the first ")
                .count(self.tree_size, "event", "events")
                .words(" of the log with the key ")
                .value(self.key_id.as_str()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_is_due_when_enough_happened_or_long_ago() {
        let schedule = Schedule {
            every_events: 100,
            every: Duration::seconds(60),
        };
        let t0 = crate::event::timestamp::parse("2026-12-04T02:00:00.000000Z").unwrap();
        let last = Last { tree_size: 500, at: t0 };
        let later = |seconds| t0 + Duration::seconds(seconds);
        let start = Last { tree_size: 0, at: t0 };
        // (last, news, now, due)
        let cases = [
            // Before the first: an empty log, a young one, a large one.
            (start, 0, later(3600), false),
            (start, 5, later(59), false),
            (start, 5, later(60), true),
            (start, 100, t0, true),
            // Only its own event and alerts since: an idle log.
            (last, 0, later(3600), false),
            (last, 1, later(59), false),
            (last, 1, later(60), true),
            (last, 99, later(1), false),
            (last, 100, later(1), true),
            // A clock that went back: the count still decides.
            (last, 100, t0 - Duration::seconds(30), true),
            (last, 50, t0 - Duration::seconds(30), false),
        ];
        for (last, news, now, expected) in cases {
            assert_eq!(
                due(&schedule, &last, news, now),
                expected,
                "{last:?} news {news} at {now}"
            );
        }
    }

    #[test]
    fn checkpoints_and_alert_delivery_are_quiet_and_nothing_else_is() {
        for kind in [
            LEDGER_CHECKPOINTED,
            "alert.fired",
            "alert.delivered",
            "alert.delivery_failed",
            "alert.dead_lettered",
        ] {
            assert!(is_quiet(kind), "{kind}");
        }
        for kind in [
            "alert.acknowledged",
            "alert.resolved",
            "alert.resend_requested",
            "alert_rule.created",
            "login.failed",
            "ledger.archived",
            "signing_key.added",
            "app.alert.fired",
        ] {
            assert!(!is_quiet(kind), "{kind}");
        }
    }
}
