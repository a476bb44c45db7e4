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
    /// The columns of sealed events. Sealing hashed each one's canonical
    /// form, so each has its text; one without is refused, never written
    /// as an empty row.
    pub fn of<'a>(events: impl Iterator<Item = &'a Event>) -> Result<Self, LedgerError> {
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
            let unwritable =
                |what: &str| LedgerError::Refused(format!("seq {}: its {what} has no canonical text", event.seq));
            columns
                .actor
                .push(String::from_utf8(actor).map_err(|_| unwritable("actor"))?);
            columns.request_id.push(event.request_id.clone());
            columns.outcome.push(event.outcome.as_str().to_string());
            columns
                .data
                .push(canonical_text(&event.data).ok_or_else(|| unwritable("data"))?);
            columns.prev.push(event.prev.0.to_vec());
            columns.hash.push(event.hash.0.to_vec());
            columns.key_id.push(event.key_id.clone());
            columns.sig.push(event.sig.0.to_vec());
        }
        Ok(columns)
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

fn canonical_text(value: &serde_json::Value) -> Option<String> {
    canonical::to_vec(value)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::event::NewEvent;

    /// An event whose data has no canonical text (sealing refuses it
    /// first; this is the last line) is refused, never written as a row
    /// with empty data.
    #[test]
    fn an_event_without_canonical_text_is_not_a_row() {
        let event = |data| {
            Event::unsealed(
                7,
                Utc::now(),
                NewEvent::new("app.x.y", "x:1", Actor::system()).data(data),
            )
        };
        let columns = EventColumns::of([event(json!({"n": 1})), event(json!({"n": 2}))].iter()).unwrap();
        assert_eq!(columns.data, [r#"{"n":1}"#, r#"{"n":2}"#]);
        let refused = EventColumns::of([event(json!({"n": 1})), event(json!({"n": 1.5}))].iter());
        assert!(
            matches!(&refused, Err(LedgerError::Refused(reason)) if reason.contains("seq 7") && reason.contains("data")),
            "{:?}",
            refused.err()
        );
    }
}
