//! Publishing checkpoints (`docs/spec/audit-checkpoint.md`, decision 0020): when one is
//! due, and the `ledger.checkpointed` event that records it. The event's
//! `data` is the published document itself, so every copy (the alert
//! webhook and email, the directory, the endpoint, the bus) carries the
//! same signed bytes.

use chrono::{DateTime, Duration, Utc};

use super::{Context, Prefix, data};
use crate::chain::published::PublishedCheckpoint;
use crate::event::NewEvent;

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
    /// The seq of its own `ledger.checkpointed` event.
    pub event_seq: u64,
    pub at: DateTime<Utc>,
}

/// Whether a checkpoint of the log at `head` is due at `now`.
///
/// Never for an empty log, nor when nothing but the last checkpoint's own
/// event was appended since it (an idle log is not checkpointed again and
/// again: the last checkpoint still describes it, minus its own event).
pub fn due(schedule: &Schedule, last: Option<&Last>, head: u64, now: DateTime<Utc>) -> bool {
    let Some(last) = last else {
        return head > 0;
    };
    if head <= last.event_seq.max(last.tree_size) {
        return false;
    }
    head - last.tree_size >= schedule.every_events || now - last.at >= schedule.every
}

pub fn checkpointed(context: &Context, checkpoint: &PublishedCheckpoint) -> NewEvent {
    context
        .event(LEDGER_CHECKPOINTED, CHECKPOINT_SUBJECT)
        .data(data(checkpoint))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_is_due_when_the_log_grew_enough_or_long_ago() {
        let schedule = Schedule {
            every_events: 100,
            every: Duration::seconds(60),
        };
        let t0 = crate::event::timestamp::parse("2026-12-04T02:00:00.000000Z").unwrap();
        let last = Last {
            tree_size: 500,
            event_seq: 501,
            at: t0,
        };
        let later = |seconds| t0 + Duration::seconds(seconds);
        // (last, head, now, due)
        let cases = [
            (None, 0, t0, false),
            (None, 1, t0, true),
            (None, 10_000, t0, true),
            (Some(last), 501, later(3600), false),
            (Some(last), 500, later(3600), false),
            (Some(last), 502, later(59), false),
            (Some(last), 502, later(60), true),
            (Some(last), 599, later(1), false),
            (Some(last), 600, later(1), true),
            (Some(last), 600, t0 - Duration::seconds(30), true),
            (Some(last), 550, t0 - Duration::seconds(30), false),
            // The checkpoint event landed after others (a busy log).
            (Some(Last { event_seq: 510, ..last }), 510, later(600), false),
            (Some(Last { event_seq: 510, ..last }), 511, later(600), true),
        ];
        for (last, head, now, expected) in cases {
            assert_eq!(
                due(&schedule, last.as_ref(), head, now),
                expected,
                "{last:?} head {head} at {now}"
            );
        }
    }
}
