//! Writing export bundles (`chain::bundle` is the format and its
//! verifier): the Merkle tree of the log up to the checkpoint, the signed
//! checkpoint, the announced keys, then the selected events and the seal.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::signer::ActiveKey;
use super::{LedgerError, LedgerStore};
use crate::chain::bundle::{Announcement, BundleKey, Entry, FORMAT, Header, Marks, Seal, SealLine, Selection};
use crate::chain::checkpoint::Checkpoint;
use crate::chain::merkle::Tree;
use crate::chain::{Digest, SIGNING_KEY_ADDED};
use crate::event::{Event, now_micros, timestamp};

const READ_CHUNK: usize = 10_000;

/// A bundle being written: the header first, then entries, then the seal.
pub struct BundleWriter {
    tree: Tree,
    header: Header,
    marks: Marks,
    count: u64,
    key: Arc<ActiveKey>,
}

/// A bundle line: the value's JSON and a line feed. A value that does not
/// serialize fails the bundle, never writes an empty line.
fn line(value: &impl serde::Serialize) -> Result<Vec<u8>, serde_json::Error> {
    let mut bytes = serde_json::to_vec(value)?;
    bytes.push(b'\n');
    Ok(bytes)
}

impl BundleWriter {
    /// Reads the log's hashes up to `tree_size`, builds its tree, signs
    /// the checkpoint with `key`, and gathers every key the log announced.
    /// Memory: about 64 bytes per event of the log.
    ///
    /// `tree_size` must reach `key`'s own announcement, or no verifier can
    /// prove the key (audit-bundle §4): writers checkpoint the log at its
    /// head, read after the key was chosen, and prove the selection inside
    /// it.
    pub async fn prepare(
        store: &dyn LedgerStore,
        key: Arc<ActiveKey>,
        selection: Selection,
        tree_size: u64,
    ) -> Result<BundleWriter, LedgerError> {
        let mut hashes: Vec<Digest> = Vec::with_capacity(tree_size as usize);
        let mut announcements: BTreeMap<String, Event> = BTreeMap::new();
        // Archived ranges: the database keeps their hashes and key
        // announcements, so the tree is the same as before they were removed.
        if let Some(boundary) = store.archive_boundary().await? {
            if tree_size <= boundary.through {
                return Err(LedgerError::Refused(format!(
                    "events up to seq {} are archived; their bundles prove them",
                    boundary.through
                )));
            }
            hashes = store.archived_hashes().await?;
            if hashes.len() as u64 != boundary.through {
                return Err(LedgerError::Corrupt {
                    seq: hashes.len() as u64 + 1,
                    reason: format!("the archives hold hashes up to seq {}", hashes.len()),
                });
            }
            hashes.reserve(tree_size as usize - hashes.len());
            for event in boundary.announcements {
                if let Some(id) = event.data.get("key_id").and_then(serde_json::Value::as_str) {
                    announcements.insert(id.to_string(), event);
                }
            }
        }
        let mut head = Digest::ZERO;
        while (hashes.len() as u64) < tree_size {
            let want = READ_CHUNK.min((tree_size - hashes.len() as u64) as usize);
            let events = store.read(hashes.len() as u64 + 1, want).await?;
            if events.is_empty() {
                return Err(LedgerError::Corrupt {
                    seq: hashes.len() as u64 + 1,
                    reason: "the log ends before the checkpoint".into(),
                });
            }
            for event in events {
                if event.kind == SIGNING_KEY_ADDED
                    && let Some(id) = event.data.get("key_id").and_then(serde_json::Value::as_str)
                {
                    announcements.insert(id.to_string(), event.clone());
                }
                head = event.hash;
                hashes.push(event.hash);
            }
        }
        let tree = Tree::of_hashes(hashes);
        let checkpoint = Checkpoint::sign(tree_size, tree.root(), head, &key.key_id, &key.secret);
        let keys = announcements
            .into_values()
            .map(|event| {
                // Every announcement was read from the log below the
                // checkpoint and decoded as a payload when appended: one
                // that lacks its key or its proof is a corrupt log, and
                // the bundle is not written.
                let corrupt = |reason: &str| LedgerError::Corrupt {
                    seq: event.seq,
                    reason: format!("the key announcement {reason}"),
                };
                let text = |member: &str| {
                    event.data[member]
                        .as_str()
                        .map(str::to_string)
                        .ok_or_else(|| corrupt(&format!("has no {member}")))
                };
                Ok(BundleKey {
                    key_id: text("key_id")?,
                    public_key: text("public_key")?,
                    announced: Announcement {
                        proof: tree
                            .proof(event.seq)
                            .ok_or_else(|| corrupt("is not under the checkpoint"))?,
                        event,
                    },
                })
            })
            .collect::<Result<Vec<BundleKey>, LedgerError>>()?;
        let header = Header {
            format: FORMAT.to_string(),
            created_at: timestamp::format(&now_micros()),
            selection,
            checkpoint,
            keys,
        };
        let marks = Marks::new(&header).map_err(|error| LedgerError::Corrupt {
            seq: tree_size,
            reason: format!("the bundle header has no canonical form: {error}"),
        })?;
        Ok(BundleWriter {
            marks,
            tree,
            header,
            count: 0,
            key,
        })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The root of the log's first `size` events (an archive records the
    /// root of what it archived, a prefix of the checkpoint's log).
    pub fn root_at(&self, size: u64) -> Option<Digest> {
        self.tree.root_at(size)
    }

    pub fn header_line(&self) -> Result<Vec<u8>, serde_json::Error> {
        line(&self.header)
    }

    /// One event's line, with its inclusion proof when asked.
    pub fn entry_line(&mut self, event: &Event, with_proof: bool) -> Result<Vec<u8>, serde_json::Error> {
        let mark = self.marks.add(event);
        self.count += 1;
        let proof = if with_proof { self.tree.proof(event.seq) } else { None };
        line(&Entry {
            event: event.clone(),
            proof,
            mark,
        })
    }

    pub fn seal_line(&self) -> Result<Vec<u8>, serde_json::Error> {
        let seal = Seal::sign(self.count, self.marks.current(), &self.key.key_id, &self.key.secret);
        line(&SealLine { seal })
    }
}
