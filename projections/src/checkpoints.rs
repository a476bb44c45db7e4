//! The checkpoints Warden published, as their `ledger.checkpointed`
//! events record them: what `GET /api/v1/audit/checkpoints` serves.

use serde::{Deserialize, Serialize};
use warden_core::Event;
use warden_core::chain::published::PublishedCheckpoint;
use warden_core::commands::checkpoint::LEDGER_CHECKPOINTED;
use warden_core::commands::payload;

use crate::Projection;

/// A published checkpoint and the seq of the event that holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub seq: u64,
    pub checkpoint: PublishedCheckpoint,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoints {
    /// Oldest first: tree sizes rise with seq.
    published: Vec<Published>,
}

impl Checkpoints {
    pub fn latest(&self) -> Option<&Published> {
        self.published.last()
    }

    /// Newest first, those of a tree size below `before` (every one when
    /// `None`), at most `limit`.
    pub fn newest_first(&self, before: Option<u64>, limit: usize) -> impl Iterator<Item = &Published> {
        self.published
            .iter()
            .rev()
            .filter(move |published| before.is_none_or(|size| published.checkpoint.tree_size < size))
            .take(limit)
    }

    pub fn len(&self) -> usize {
        self.published.len()
    }

    pub fn is_empty(&self) -> bool {
        self.published.is_empty()
    }
}

impl Projection for Checkpoints {
    const NAME: &'static str = warden_core::commands::catalogue::readers::CHECKPOINTS;
    const VERSION: u32 = 1;
    const NEW_KINDS_ONLY: bool = true;

    fn apply(&mut self, event: &Event) {
        if event.kind != LEDGER_CHECKPOINTED {
            return;
        }
        // The runner checked that the payload decodes (the catalogue).
        if let Some(checkpoint) = payload::<PublishedCheckpoint>(event) {
            self.published.push(Published {
                seq: event.seq,
                checkpoint,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_core::chain::Digest;
    use warden_core::commands::Context;
    use warden_core::commands::checkpoint::checkpointed;
    use warden_core::event::{Actor, now_micros};

    #[test]
    fn checkpoints_are_listed_newest_first_and_paged_by_tree_size() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let context = Context {
            actor: Actor::system(),
            request_id: "r".into(),
        };
        let mut model = Checkpoints::default();
        for (seq, size) in [(11, 10), (22, 21), (33, 32)] {
            let checkpoint = PublishedCheckpoint::sign(size, Digest([1; 32]), Digest([2; 32]), &now_micros(), &key);
            model.apply(&Event::unsealed(seq, now_micros(), checkpointed(&context, &checkpoint)));
        }
        assert_eq!(model.latest().map(|p| p.checkpoint.tree_size), Some(32));
        let sizes = |before, limit| {
            model
                .newest_first(before, limit)
                .map(|p| p.checkpoint.tree_size)
                .collect::<Vec<_>>()
        };
        assert_eq!(sizes(None, 10), [32, 21, 10]);
        assert_eq!(sizes(None, 2), [32, 21]);
        assert_eq!(sizes(Some(21), 10), [10]);
        assert_eq!(sizes(Some(10), 10), Vec::<u64>::new());
    }
}
