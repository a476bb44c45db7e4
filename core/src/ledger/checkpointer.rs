//! The checkpointer (decision 0020): one node at a time (a lease from the
//! ledger) follows the log's Merkle root with a [`Frontier`], and when a
//! checkpoint is due ([`checkpoint::due`]) signs one with the current key,
//! appends it as `ledger.checkpointed` (from where the bus, the alert
//! rules that select it and the endpoint take it) and writes it to the
//! checkpoint directory, if one is configured.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::watch;

use super::{Leader, Lease, Ledger, LedgerError};
use crate::bus::relay::Backoff;
use crate::chain::Digest;
use crate::chain::merkle::Frontier;
use crate::chain::published::PublishedCheckpoint;
use crate::commands::Context;
use crate::commands::checkpoint::{self, LEDGER_CHECKPOINTED, Last, Schedule};
use crate::event::{Actor, now_micros, timestamp};

const READ_CHUNK: usize = 10_000;
/// How often the lease is checked, and the time rule looked at, when no
/// commit wakes the checkpointer.
const TICK: Duration = Duration::from_secs(1);

pub struct Checkpointer {
    pub ledger: Ledger,
    pub schedule: Schedule,
    /// Where each checkpoint is also written (`audit_checkpoint_dir`).
    pub dir: Option<PathBuf>,
    pub shutdown: watch::Receiver<bool>,
}

/// The seqs of recent news kept, to count those after a checkpoint found
/// in the log (appended while it was being signed).
const RECENT: usize = 4096;

/// What the leader knows of the log: its root so far, its head, the
/// latest checkpoint in it, and the news since ([`checkpoint::due`]).
#[derive(Default)]
struct Followed {
    frontier: Frontier,
    head: Digest,
    last: Option<Last>,
    news: u64,
    /// The seqs of the latest news, oldest first.
    recent: VecDeque<u64>,
}

impl Followed {
    fn see(&mut self, event: &crate::Event) {
        self.frontier.push(&event.hash);
        self.head = event.hash;
        if event.kind == LEDGER_CHECKPOINTED {
            let stated = crate::commands::payload::<PublishedCheckpoint>(event);
            let at = stated.as_ref().and_then(|c| timestamp::parse(&c.at));
            if let (Some(stated), Some(at)) = (stated, at) {
                self.checkpointed(stated.tree_size, at);
            }
        } else if !checkpoint::is_quiet(&event.kind) {
            self.news += 1;
            self.recent.push_back(event.seq);
            if self.recent.len() > RECENT {
                self.recent.pop_front();
            }
        }
    }

    fn checkpointed(&mut self, tree_size: u64, at: chrono::DateTime<chrono::Utc>) {
        self.last = Some(Last { tree_size, at });
        self.recent.retain(|seq| *seq > tree_size);
        self.news = self.recent.len() as u64;
    }
}

impl Checkpointer {
    pub async fn run(mut self) {
        let mut backoff = Backoff::default();
        while !*self.shutdown.borrow() {
            let lease = match self.ledger.store().try_lease(Leader::Checkpoints).await {
                Ok(Some(lease)) => lease,
                Ok(None) => {
                    self.pause(TICK * 5).await;
                    continue;
                }
                Err(error) => {
                    tracing::warn!(%error, "the checkpointer cannot take its lease");
                    self.pause(backoff.next_delay()).await;
                    continue;
                }
            };
            tracing::info!("checkpointer started");
            match self.lead(lease).await {
                Ok(()) => backoff = Backoff::default(),
                Err(error) => {
                    tracing::warn!(%error, "checkpointer interrupted; starting over from the log");
                    self.pause(backoff.next_delay()).await;
                }
            }
        }
    }

    async fn pause(&mut self, delay: Duration) {
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = self.shutdown.changed() => {}
        }
    }

    /// Checkpoints while the lease is held (Ok when it is lost or at
    /// shutdown).
    async fn lead(&mut self, mut lease: Box<dyn Lease>) -> Result<(), LedgerError> {
        let started = now_micros();
        let mut followed = self.start().await?;
        let mut committed = self.ledger.committed();
        while !*self.shutdown.borrow() {
            if !lease.still_held().await {
                tracing::info!("checkpointer lease lost");
                return Ok(());
            }
            self.follow(&mut followed).await?;
            let now = now_micros();
            let last = followed.last.unwrap_or(Last {
                tree_size: 0,
                at: started,
            });
            if checkpoint::due(&self.schedule, &last, followed.news, now) {
                self.publish(&mut followed).await?;
                continue;
            }
            tokio::select! {
                _ = committed.changed() => {}
                () = tokio::time::sleep(TICK) => {}
                _ = self.shutdown.changed() => {}
            }
        }
        Ok(())
    }

    /// The log from seq 1: archived hashes (the database keeps them), then
    /// every event kept.
    async fn start(&self) -> Result<Followed, LedgerError> {
        let store = self.ledger.store();
        let mut followed = Followed::default();
        if store.archive_boundary().await?.is_some() {
            for hash in store.archived_hashes().await? {
                followed.frontier.push(&hash);
                followed.head = hash;
            }
        }
        self.follow(&mut followed).await?;
        Ok(followed)
    }

    /// Reads the events after what `followed` holds, up to the head.
    async fn follow(&self, followed: &mut Followed) -> Result<(), LedgerError> {
        loop {
            let events = self.ledger.read(followed.frontier.size() + 1, READ_CHUNK).await?;
            for event in &events {
                if event.seq != followed.frontier.size() + 1 {
                    return Err(LedgerError::Corrupt {
                        seq: followed.frontier.size() + 1,
                        reason: format!("the log skips to seq {}", event.seq),
                    });
                }
                followed.see(event);
            }
            if events.len() < READ_CHUNK {
                return Ok(());
            }
        }
    }

    /// Signs the log as followed so far, appends the checkpoint and writes
    /// it out.
    async fn publish(&self, followed: &mut Followed) -> Result<(), LedgerError> {
        // The key first, then the head: the key's announcement is then
        // inside the checkpointed log, where a verifier can find it.
        let Some(key) = self.ledger.signer().current() else {
            return Err(LedgerError::Refused("no signing key is installed".into()));
        };
        self.follow(followed).await?;
        let now = now_micros();
        let checkpoint = PublishedCheckpoint::sign(
            followed.frontier.size(),
            followed.frontier.root(),
            followed.head,
            &now,
            &key.secret,
        );
        let context = Context {
            actor: Actor::system(),
            request_id: format!("checkpoint-{}", checkpoint.tree_size),
        };
        let event = self
            .ledger
            .append_one(checkpoint::checkpointed(&context, &checkpoint))
            .await
            .map_err(|error| LedgerError::Refused(format!("cannot append the checkpoint: {error}")))?;
        followed.checkpointed(checkpoint.tree_size, now);
        metrics::gauge!("warden_checkpoint_tree_size").set(checkpoint.tree_size as f64);
        tracing::info!(
            tree_size = checkpoint.tree_size,
            seq = event.seq,
            "checkpoint published"
        );
        if let Some(dir) = &self.dir
            && let Err(error) = write_to_dir(dir, &checkpoint)
        {
            // The checkpoint is in the log and on its way to every other
            // destination; the next one is written again.
            metrics::counter!("warden_checkpoint_dir_failures_total").increment(1);
            tracing::error!(%error, dir = %dir.display(), "cannot write the checkpoint to its directory");
        }
        Ok(())
    }
}

/// Writes `<tree_size, 16 digits>.json` and replaces `latest.json`, each
/// through a temporary file renamed into place, so a reader never sees
/// half a document.
pub fn write_to_dir(dir: &Path, checkpoint: &PublishedCheckpoint) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut text = serde_json::to_vec(checkpoint).map_err(std::io::Error::other)?;
    text.push(b'\n');
    for name in [format!("{:016}.json", checkpoint.tree_size), "latest.json".to_string()] {
        let temporary = dir.join(format!(".{name}.tmp"));
        std::fs::write(&temporary, &text)?;
        std::fs::rename(&temporary, dir.join(&name))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_is_written_by_its_size_and_as_the_latest() {
        let dir = tempfile::tempdir().unwrap();
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        for size in [7, 20] {
            let checkpoint = PublishedCheckpoint::sign(size, Digest([1; 32]), Digest([2; 32]), &now_micros(), &key);
            write_to_dir(dir.path(), &checkpoint).unwrap();
            let written = std::fs::read_to_string(dir.path().join(format!("{size:016}.json"))).unwrap();
            assert_eq!(PublishedCheckpoint::parse(&written), Ok(checkpoint.clone()));
            let latest = std::fs::read_to_string(dir.path().join("latest.json")).unwrap();
            assert_eq!(latest, written);
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["0000000000000007.json", "0000000000000020.json", "latest.json"]);
    }
}
