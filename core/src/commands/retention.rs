//! Retention: archiving an old range of the log, and the legal holds that
//! forbid it. See `docs/decisions/0013-retention.md`.
//!
//! `ledger.archived` is the boundary the remaining log is verified from:
//! it names the hash of the last archived event and the keys the chain
//! trusted there, and it is signed and chained like any other event.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::sentence::{Ref, Sentence, Summarize};
use super::{Context, Prefix, data, subject};
use crate::chain::Digest;
use crate::event::{Event, NewEvent};

pub const LEDGER_ARCHIVED: &str = "ledger.archived";
pub const LEGAL_HOLD_PLACED: &str = "legal_hold.placed";
pub const LEGAL_HOLD_RELEASED: &str = "legal_hold.released";

/// The subject of every archive: archives happen one after the other.
pub const RETENTION_SUBJECT: &str = Prefix::Retention.as_str();

/// `legal_hold:<id>`.
pub fn legal_hold_subject(hold: &str) -> String {
    subject(Prefix::LegalHold, hold)
}

/// A range of the log moved to a bundle and removed from the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Archived {
    /// First and last archived seq.
    pub from: u64,
    pub through: u64,
    /// The hash of event `through`: the `prev` of the first event kept.
    pub last_hash: Digest,
    /// The Merkle root of the log's first `through` events, as in the
    /// bundle's checkpoint.
    pub root: Digest,
    /// BLAKE3 of the bundle file, and the events it holds.
    pub bundle_blake3: Digest,
    pub bundle_events: u64,
    /// The PostgreSQL partitions removed.
    pub partitions: Vec<String>,
    /// The keys the chain trusted after event `through`, by key id (hex
    /// public keys): what verifying the rest of the log starts from.
    pub keys: BTreeMap<String, String>,
}

/// What a legal hold protects from archiving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum HoldScope {
    /// Every event of this org's trail.
    Org { org: String },
    /// Every event `from..=to`.
    Range { from: u64, to: u64 },
}

impl HoldScope {
    /// Whether the hold covers any seq of `from..=through` (org holds are
    /// decided event by event).
    pub fn covers_range(&self, from: u64, through: u64) -> bool {
        match self {
            HoldScope::Range { from: start, to } => *start <= through && from <= *to,
            HoldScope::Org { .. } => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalHoldPlaced {
    pub hold: String,
    pub scope: HoldScope,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalHoldReleased {
    pub hold: String,
    pub reason: String,
}

pub fn archived(context: &Context, archived: &Archived, expected_version: u64) -> NewEvent {
    context
        .event(LEDGER_ARCHIVED, RETENTION_SUBJECT)
        .expect_version(expected_version)
        .data(data(archived))
}

pub fn legal_hold_placed(context: &Context, placed: &LegalHoldPlaced) -> NewEvent {
    context
        .event(LEGAL_HOLD_PLACED, legal_hold_subject(&placed.hold))
        .expect_version(0)
        .data(data(placed))
}

/// Releases a hold whose subject is at `version` (as the read model saw it).
pub fn legal_hold_released(context: &Context, version: u64, released: &LegalHoldReleased) -> NewEvent {
    context
        .event(LEGAL_HOLD_RELEASED, legal_hold_subject(&released.hold))
        .expect_version(version)
        .data(data(released))
}

impl Summarize for Archived {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        Some(
            Sentence::by(event)
                .words(format!(
                    " archived events {} to {} of the log to a bundle, removing ",
                    self.from, self.through
                ))
                .count(
                    self.partitions.len() as u64,
                    "database partition",
                    "database partitions",
                ),
        )
    }
}

/// `, giving the reason "litigation 2026-114"`, nothing for an empty
/// reason.
fn reason(sentence: Sentence, reason: &str) -> Sentence {
    match reason.trim() {
        "" => sentence,
        reason => sentence.words(", giving the reason \"").value(reason).words("\""),
    }
}

impl Summarize for LegalHoldPlaced {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event)
            .words(" placed legal hold ")
            .value(self.hold.as_str());
        let sentence = match &self.scope {
            HoldScope::Org { org } => sentence.words(" on the audit trail of ").refer(Ref::Org(org.clone())),
            HoldScope::Range { from, to } => sentence.words(format!(" on events {from} to {to} of the log")),
        };
        Some(reason(sentence, &self.reason))
    }
}

impl Summarize for LegalHoldReleased {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event)
            .words(" released legal hold ")
            .value(self.hold.as_str());
        Some(reason(sentence, &self.reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_hold_covers_overlapping_ranges_only() {
        let hold = HoldScope::Range { from: 40, to: 60 };
        assert!(hold.covers_range(1, 40));
        assert!(hold.covers_range(60, 100));
        assert!(hold.covers_range(45, 50));
        assert!(!hold.covers_range(1, 39));
        assert!(!hold.covers_range(61, 100));
        let org = HoldScope::Org { org: "o".into() };
        assert!(!org.covers_range(1, 100));
    }
}
