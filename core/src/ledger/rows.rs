//! Stored rows to events and back. Actor and data are stored as their
//! canonical JSON text, so a stored event re-hashes to exactly its `hash`
//! and any change to a stored byte shows.

use chrono::{DateTime, Utc};

use super::LedgerError;
use crate::chain::canonical;
use crate::chain::{Digest, Signature};
use crate::event::{Actor, Event, Outcome};

/// An event row as both backends read it.
pub struct EventRow {
    pub seq: i64,
    pub id: String,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub subject: String,
    pub subject_version: i64,
    pub actor: String,
    pub request_id: String,
    pub outcome: String,
    pub data: String,
    pub prev: Vec<u8>,
    pub hash: Vec<u8>,
    pub key_id: String,
    pub sig: Vec<u8>,
}

impl EventRow {
    pub fn into_event(self) -> Result<Event, LedgerError> {
        let seq = u64::try_from(self.seq).map_err(|_| corrupt(0, "negative seq"))?;
        let bad = |what: &str| corrupt(seq, what);
        Ok(Event {
            seq,
            id: crate::event::uuid_text::parse(&self.id)
                .ok_or_else(|| bad("id is not a hyphenated lower-case UUID"))?,
            at: self.at,
            kind: self.kind,
            subject: self.subject,
            subject_version: u64::try_from(self.subject_version).map_err(|_| bad("negative subject_version"))?,
            actor: crate::strict_json::from_str::<Actor>(&self.actor).map_err(|e| bad(&format!("actor: {e}")))?,
            request_id: self.request_id,
            outcome: Outcome::parse(&self.outcome).ok_or_else(|| bad("unknown outcome"))?,
            data: crate::strict_json::from_str(&self.data).map_err(|e| bad(&format!("data: {e}")))?,
            prev: Digest::from_slice(&self.prev).ok_or_else(|| bad("prev is not 32 bytes"))?,
            hash: Digest::from_slice(&self.hash).ok_or_else(|| bad("hash is not 32 bytes"))?,
            key_id: self.key_id,
            sig: Signature::from_slice(&self.sig).ok_or_else(|| bad("sig is not 64 bytes"))?,
        })
    }
}

fn corrupt(seq: u64, reason: &str) -> LedgerError {
    LedgerError::Corrupt {
        seq,
        reason: reason.to_string(),
    }
}

/// Column values of events about to be inserted, one vector per column.
#[derive(Default)]
pub struct EventColumns {
    pub seq: Vec<i64>,
    pub id: Vec<uuid::Uuid>,
    pub at: Vec<DateTime<Utc>>,
    pub kind: Vec<String>,
    pub subject: Vec<String>,
    pub subject_version: Vec<i64>,
    pub actor: Vec<String>,
    pub request_id: Vec<String>,
    pub outcome: Vec<String>,
    pub data: Vec<String>,
    pub prev: Vec<Vec<u8>>,
    pub hash: Vec<Vec<u8>>,
    pub key_id: Vec<String>,
    pub sig: Vec<Vec<u8>>,
}

impl EventColumns {
    pub fn of<'a>(events: impl Iterator<Item = &'a Event>) -> Self {
        let mut columns = EventColumns::default();
        for event in events {
            columns.seq.push(event.seq as i64);
            columns.id.push(event.id);
            columns.at.push(event.at);
            columns.kind.push(event.kind.clone());
            columns.subject.push(event.subject.clone());
            columns.subject_version.push(event.subject_version as i64);
            let mut actor = Vec::with_capacity(64);
            crate::chain::write_actor(&event.actor, &mut actor);
            columns.actor.push(String::from_utf8(actor).unwrap_or_default());
            columns.request_id.push(event.request_id.clone());
            columns.outcome.push(event.outcome.as_str().to_string());
            columns.data.push(canonical_text(&event.data));
            columns.prev.push(event.prev.0.to_vec());
            columns.hash.push(event.hash.0.to_vec());
            columns.key_id.push(event.key_id.clone());
            columns.sig.push(event.sig.0.to_vec());
        }
        columns
    }
}

impl EventColumns {
    /// About how many bytes row `i` takes in a statement: fixed-size
    /// fields and array overhead, then the texts.
    fn row_bytes(&self, i: usize) -> usize {
        240 + self.kind[i].len()
            + self.subject[i].len()
            + self.actor[i].len()
            + self.request_id[i].len()
            + self.data[i].len()
            + self.key_id[i].len()
    }

    pub fn estimated_bytes(&self) -> usize {
        (0..self.seq.len()).map(|i| self.row_bytes(i)).sum()
    }

    /// Copies the signatures of `events` (the same events, in order).
    pub fn set_signatures(&mut self, events: &[&mut Event]) {
        for (column, event) in self.sig.iter_mut().zip(events) {
            column.copy_from_slice(&event.sig.0);
        }
    }

    /// Splits into column sets of at most about `max_bytes` encoded each.
    pub fn split(self, max_bytes: usize) -> Vec<EventColumns> {
        let mut parts = Vec::new();
        let mut part = EventColumns::default();
        let mut size = 0;
        for i in 0..self.seq.len() {
            let row = self.row_bytes(i);
            if size + row > max_bytes && !part.seq.is_empty() {
                parts.push(std::mem::take(&mut part));
                size = 0;
            }
            size += row;
            part.seq.push(self.seq[i]);
            part.id.push(self.id[i]);
            part.at.push(self.at[i]);
            part.kind.push(self.kind[i].clone());
            part.subject.push(self.subject[i].clone());
            part.subject_version.push(self.subject_version[i]);
            part.actor.push(self.actor[i].clone());
            part.request_id.push(self.request_id[i].clone());
            part.outcome.push(self.outcome[i].clone());
            part.data.push(self.data[i].clone());
            part.prev.push(self.prev[i].clone());
            part.hash.push(self.hash[i].clone());
            part.key_id.push(self.key_id[i].clone());
            part.sig.push(self.sig[i].clone());
        }
        if !part.seq.is_empty() {
            parts.push(part);
        }
        parts
    }
}

/// Values reaching here were checked canonicalizable on append.
fn canonical_text(value: &serde_json::Value) -> String {
    canonical::to_vec(value)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_default()
}
