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

use super::archive::{ArchivedHashes, bound_archived_hashes};
use super::{Leader, Lease, Ledger, LedgerError};
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
    /// The next event: it must link to the head (the checkpointer signs
    /// only a chain; signatures are the runner's to check, which sounds
    /// the tampering alarm).
    fn see(&mut self, event: &crate::Event) -> Result<(), LedgerError> {
        if event.seq != self.frontier.size() + 1 || event.prev != self.head {
            return Err(LedgerError::Corrupt {
                seq: event.seq,
                reason: format!(
                    "does not follow seq {} (hash {}): the checkpointer signs no log that breaks its chain",
                    self.frontier.size(),
                    self.head.to_hex()
                ),
            });
        }
        self.frontier.push(&event.hash);
        self.head = event.hash;
        if event.kind == LEDGER_CHECKPOINTED {
            let stated = crate::commands::payload::<PublishedCheckpoint>(event);
            let at = stated.as_ref().and_then(|c| timestamp::parse(&c.at));
            if let (Some(stated), Some(at)) = (stated, at) {
                // A signer whose clock ran ahead must not switch the time
                // rule off until that date.
                self.checkpointed(stated.tree_size, at.min(now_micros()));
            }
        } else if !checkpoint::is_quiet(&event.kind) {
            self.news += 1;
            self.recent.push_back(event.seq);
            if self.recent.len() > RECENT {
                self.recent.pop_front();
            }
        }
        Ok(())
    }

    fn checkpointed(&mut self, tree_size: u64, at: chrono::DateTime<chrono::Utc>) {
        self.last = Some(Last { tree_size, at });
        self.recent.retain(|seq| *seq > tree_size);
        self.news = self.recent.len() as u64;
    }
}

/// The wait after a failure: 1 s, doubling to 5 minutes (a failure may
/// be a log that breaks its chain, which rereading will not mend soon).
struct Retry(Duration);

impl Retry {
    fn next_delay(&mut self) -> Duration {
        let current = self.0;
        self.0 = (self.0 * 2).min(Duration::from_secs(300));
        current
    }
}

impl Default for Retry {
    fn default() -> Self {
        Retry(Duration::from_secs(1))
    }
}

impl Checkpointer {
    pub async fn run(mut self) {
        let mut backoff = Retry::default();
        // Before the first checkpoint, the schedule counts from here, not
        // from each new lease (a lease that moves often must not starve it).
        let started = now_micros();
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
            match self.lead(lease, started).await {
                Ok(()) => backoff = Retry::default(),
                Err(error) => {
                    metrics::counter!("warden_checkpointer_errors_total").increment(1);
                    let delay = backoff.next_delay();
                    tracing::error!(%error, retry_in_seconds = delay.as_secs(), "no checkpoint is published: checkpointer stopped; starting over from the log");
                    self.pause(delay).await;
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
    async fn lead(
        &mut self,
        mut lease: Box<dyn Lease>,
        started: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), LedgerError> {
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

    /// The log from seq 1: archived hashes (the database keeps them),
    /// once they are those the archive boundary names, then every event
    /// kept.
    async fn start(&self) -> Result<Followed, LedgerError> {
        let mut followed = Followed::default();
        match bound_archived_hashes(self.ledger.store().as_ref()).await? {
            ArchivedHashes::None => {}
            ArchivedHashes::Bound(hashes) => {
                for hash in hashes {
                    followed.frontier.push(&hash);
                    followed.head = hash;
                }
            }
            ArchivedHashes::Unbound(reason) => {
                return Err(LedgerError::Corrupt { seq: 0, reason });
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
                followed.see(event)?;
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
        if let Some(dir) = self.dir.clone() {
            let document = checkpoint.clone();
            let written = tokio::task::spawn_blocking(move || write_to_dir(&dir, &document)).await;
            let error = match written {
                Ok(Ok(())) => None,
                Ok(Err(error)) => Some(error.to_string()),
                Err(error) => Some(error.to_string()),
            };
            if let Some(error) = error {
                // The checkpoint is in the log and on its way to every
                // other destination.
                metrics::counter!("warden_checkpoint_dir_failures_total").increment(1);
                tracing::error!(%error, "cannot write the checkpoint to its directory");
            }
        }
        Ok(())
    }
}

/// Writes `<tree_size, 16 digits>.json` and replaces `latest.json`, each
/// through a synced temporary file moved into place, so a reader never
/// sees half a document. A published file is never replaced: a size
/// already there with another document (a log restored and signed again)
/// is refused, as is `latest.json` moving back to a smaller tree. Both
/// mean the log went back; the files that say so stay.
pub fn write_to_dir(dir: &Path, checkpoint: &PublishedCheckpoint) -> std::io::Result<()> {
    use std::io::Write as _;

    std::fs::create_dir_all(dir)?;
    let mut text = serde_json::to_vec(checkpoint).map_err(std::io::Error::other)?;
    text.push(b'\n');
    let staged = |name: &str| -> std::io::Result<PathBuf> {
        let temporary = dir.join(format!(".{name}.tmp"));
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(&text)?;
        file.sync_all()?;
        Ok(temporary)
    };
    let name = format!("{:016}.json", checkpoint.tree_size);
    let temporary = staged(&name)?;
    let linked = std::fs::hard_link(&temporary, dir.join(&name));
    std::fs::remove_file(&temporary)?;
    match linked {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            if std::fs::read(dir.join(&name))? != text {
                return Err(std::io::Error::other(format!(
                    "{name} holds another checkpoint of {} events: the log was rolled back and signed again",
                    checkpoint.tree_size
                )));
            }
        }
        Err(error) => return Err(error),
    }
    let latest = dir.join("latest.json");
    if let Ok(previous) = std::fs::read_to_string(&latest)
        && let Ok(previous) = PublishedCheckpoint::parse(&previous)
        && previous.tree_size > checkpoint.tree_size
    {
        return Err(std::io::Error::other(format!(
            "latest.json is a checkpoint of {} events, this one of {}: the log went back; latest.json is kept",
            previous.tree_size, checkpoint.tree_size
        )));
    }
    let temporary = staged("latest.json")?;
    std::fs::rename(&temporary, latest)?;
    if let Ok(directory) = std::fs::File::open(dir) {
        // Best effort: the directory entries reach the disk too.
        let _ = directory.sync_all();
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

    #[test]
    fn a_published_file_is_never_replaced_and_latest_never_goes_back() {
        let dir = tempfile::tempdir().unwrap();
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let at = now_micros();
        let twenty = PublishedCheckpoint::sign(20, Digest([1; 32]), Digest([2; 32]), &at, &key);
        write_to_dir(dir.path(), &twenty).unwrap();
        // The same document again: nothing to do.
        write_to_dir(dir.path(), &twenty).unwrap();
        // Another history of 20 events: refused, the first file stays.
        let other = PublishedCheckpoint::sign(20, Digest([3; 32]), Digest([4; 32]), &at, &key);
        let error = write_to_dir(dir.path(), &other).unwrap_err();
        assert!(error.to_string().contains("rolled back"), "{error}");
        let kept = std::fs::read_to_string(dir.path().join("0000000000000020.json")).unwrap();
        assert_eq!(PublishedCheckpoint::parse(&kept), Ok(twenty.clone()));
        // A smaller tree: its own file, but latest.json stays at 20.
        let seven = PublishedCheckpoint::sign(7, Digest([5; 32]), Digest([6; 32]), &at, &key);
        let error = write_to_dir(dir.path(), &seven).unwrap_err();
        assert!(error.to_string().contains("went back"), "{error}");
        let latest = std::fs::read_to_string(dir.path().join("latest.json")).unwrap();
        assert_eq!(PublishedCheckpoint::parse(&latest), Ok(twenty));
        assert!(dir.path().join("0000000000000007.json").exists());
        assert!(
            std::fs::read_dir(dir.path())
                .unwrap()
                .all(|entry| { !entry.unwrap().file_name().to_string_lossy().ends_with(".tmp") })
        );
    }

    fn event(seq: u64, kind: &str, prev: Digest, data: serde_json::Value) -> crate::Event {
        let new = crate::NewEvent::new(kind, "s", crate::event::Actor::system()).data(data);
        let mut event = crate::Event::unsealed(seq, now_micros(), new);
        event.prev = prev;
        event.hash = Digest(*blake3::hash(&seq.to_le_bytes()).as_bytes());
        event
    }

    #[test]
    fn the_followed_log_counts_news_and_refuses_a_broken_chain() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let mut followed = Followed::default();
        let mut prev = Digest::ZERO;
        let mut push = |followed: &mut Followed, seq: u64, kind: &str, data: serde_json::Value| {
            let event = event(seq, kind, prev, data);
            prev = event.hash;
            followed.see(&event)
        };
        for seq in 1..=5 {
            push(&mut followed, seq, "login.failed", serde_json::Value::Null).unwrap();
        }
        assert_eq!((followed.news, followed.frontier.size()), (5, 5));
        // A checkpoint of 4 events, found in the log after seq 5: seq 5 is
        // still news; the checkpoint and its alerts are not.
        let at = now_micros();
        let checkpoint = PublishedCheckpoint::sign(4, Digest([1; 32]), Digest([2; 32]), &at, &key);
        push(
            &mut followed,
            6,
            LEDGER_CHECKPOINTED,
            serde_json::to_value(&checkpoint).unwrap(),
        )
        .unwrap();
        push(&mut followed, 7, "alert.fired", serde_json::Value::Null).unwrap();
        push(&mut followed, 8, "alert.delivered", serde_json::Value::Null).unwrap();
        assert_eq!(followed.last, Some(Last { tree_size: 4, at }));
        assert_eq!(followed.news, 1);
        push(&mut followed, 9, "alert.resolved", serde_json::Value::Null).unwrap();
        assert_eq!(followed.news, 2);
        // A signer's clock ahead does not silence the time rule.
        let ahead = at + chrono::Duration::days(365);
        let future = PublishedCheckpoint::sign(9, Digest([1; 32]), Digest([2; 32]), &ahead, &key);
        push(
            &mut followed,
            10,
            LEDGER_CHECKPOINTED,
            serde_json::to_value(&future).unwrap(),
        )
        .unwrap();
        assert!(followed.last.unwrap().at <= now_micros());
        assert_eq!(followed.news, 0);
        // A row that does not link to the head, or skips a seq, is refused.
        let stray = event(11, "login.failed", Digest([9; 32]), serde_json::Value::Null);
        assert!(matches!(
            followed.see(&stray),
            Err(LedgerError::Corrupt { seq: 11, .. })
        ));
        let skipped = event(12, "login.failed", followed.head, serde_json::Value::Null);
        assert!(matches!(
            followed.see(&skipped),
            Err(LedgerError::Corrupt { seq: 12, .. })
        ));
        assert_eq!(followed.frontier.size(), 10);
    }
}
