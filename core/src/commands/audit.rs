//! The audit trail's own trail: who searched, viewed and exported what.
//! Each of these is an event in the same chain, so reading the trail
//! leaves a trace an outside auditor can check too.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::sentence::{Ref, Sentence, Summarize};
use super::{Context, Prefix, data};
use crate::event::{Event, NewEvent};

pub const AUDIT_SEARCHED: &str = "audit.searched";
pub const AUDIT_EVENT_VIEWED: &str = "audit.event_viewed";
pub const AUDIT_EXPORTED: &str = "audit.exported";

/// `audit:<org>`: the trail of one org's audit reads.
pub fn audit_subject(org: &str) -> String {
    super::subject(Prefix::Audit, org)
}

/// A search of an org's trail, as asked and as answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Searched {
    pub org: String,
    /// The filters given, by name (`kind`, `actor`, `q` …), as given.
    pub filters: BTreeMap<String, String>,
    /// `newest` or `oldest`.
    pub order: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
    /// Events on this page.
    pub returned: usize,
    /// Events matching the filters, on every page.
    pub total: usize,
    /// The last seq the index held when it answered.
    pub indexed_through: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventViewed {
    pub org: String,
    pub seq: u64,
    pub kind: String,
    /// Opened by a link on another site (an alert email in a webmail),
    /// not from Warden's own pages.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_another_site: bool,
}

/// An export of a selection of an org's trail, recorded before the first
/// byte is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exported {
    pub org: String,
    pub filters: BTreeMap<String, String>,
    /// `csv`, `jsonl` or `bundle`.
    pub format: String,
    /// Events in the export.
    pub total: usize,
    /// The export holds events up to this seq (the index's position when
    /// it began), whatever is appended while it streams.
    pub through: u64,
}

pub fn exported(context: &Context, exported: &Exported) -> NewEvent {
    context
        .event(AUDIT_EXPORTED, audit_subject(&exported.org))
        .data(data(exported))
}

pub fn searched(context: &Context, searched: &Searched) -> NewEvent {
    context
        .event(AUDIT_SEARCHED, audit_subject(&searched.org))
        .data(data(searched))
}

pub fn event_viewed(context: &Context, viewed: &EventViewed) -> NewEvent {
    context
        .event(AUDIT_EVENT_VIEWED, audit_subject(&viewed.org))
        .data(data(viewed))
}

/// `value` with every run of 32 or more hex digits (a hash, a login
/// identifier someone searched for) cut to its first 8 and `…`.
fn without_long_hex(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut run = String::new();
    let flush = |out: &mut String, run: &mut String| {
        match run.len() {
            32.. => {
                out.push_str(&run[..8]);
                out.push('…');
            }
            _ => out.push_str(run),
        }
        run.clear();
    };
    for character in value.chars() {
        match character.is_ascii_hexdigit() {
            true => run.push(character),
            false => {
                flush(&mut out, &mut run);
                out.push(character);
            }
        }
    }
    flush(&mut out, &mut run);
    out
}

/// " (kind login.failed, since 2026-11-27)": the filters of a search or
/// an export, as given; nothing without any.
pub(crate) fn with_filters(sentence: Sentence, filters: &BTreeMap<String, String>) -> Sentence {
    // In the order of the search form, any other after.
    const ORDER: [&str; 13] = [
        "kind",
        "actor",
        "actor_kind",
        "user",
        "session",
        "subject",
        "outcome",
        "ip",
        "request_id",
        "ticket",
        "from",
        "until",
        "q",
    ];
    let mut given: Vec<(&String, &String)> = filters.iter().filter(|(_, value)| !value.trim().is_empty()).collect();
    given.sort_by_key(|(name, _)| ORDER.iter().position(|known| known == name).unwrap_or(ORDER.len()));
    let given = given.into_iter();
    let sentence = given.enumerate().fold(sentence, |sentence, (index, (name, value))| {
        let sentence = sentence.words(if index == 0 { " (" } else { ", " });
        let value = without_long_hex(value);
        match name.as_str() {
            "user" => sentence.words("about ").user(&value),
            "session" => sentence.refer(Ref::Session(value)),
            "from" => sentence.words("since ").value(value),
            "until" => sentence.words("until ").value(value),
            "ip" => sentence.words("IP address ").value(value),
            "request_id" => sentence.words("request ").value(value),
            "ticket" => sentence.words("vendor ticket ").value(value),
            "q" => sentence.words("words \"").value(value).words("\""),
            other => sentence.words(other.replace('_', " ")).words(" ").value(value),
        }
    });
    match filters.values().any(|value| !value.trim().is_empty()) {
        true => sentence.words(")"),
        false => sentence,
    }
}

impl Summarize for Searched {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = with_filters(Sentence::by(event).words(" searched the audit trail"), &self.filters);
        let total = self.total as u64;
        Some(match self.returned == self.total {
            true => sentence
                .words(" and got ")
                .count(total, "matching event", "matching events"),
            false => sentence.words(format!(" and got {} of ", self.returned)).count(
                total,
                "matching event",
                "matching events",
            ),
        })
    }
}

impl Summarize for EventViewed {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event)
            .words(" opened ")
            .refer(Ref::Event(self.seq))
            .words(" (")
            .value(self.kind.as_str())
            .words(") of the audit trail");
        Some(match self.from_another_site {
            true => sentence.words(" by a link on another site"),
            false => sentence,
        })
    }
}

impl Summarize for Exported {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event)
            .words(" exported ")
            .count(self.total as u64, "event", "events")
            .words(" of the audit trail");
        let sentence = with_filters(sentence, &self.filters);
        let sentence = match self.format.as_str() {
            "csv" => sentence.words(" as CSV"),
            "jsonl" => sentence.words(" as JSON Lines"),
            "bundle" => sentence.words(" as a verifiable bundle"),
            other => sentence.words(" as ").value(other),
        };
        Some(sentence.words(", up to ").refer(Ref::Event(self.through)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_hex_runs_are_cut() {
        let hash = "ab".repeat(32);
        assert_eq!(without_long_hex(&format!("login:{hash}")), "login:abababab…");
        assert_eq!(without_long_hex("user:0193f1a2-8d10-7e42"), "user:0193f1a2-8d10-7e42");
        assert_eq!(without_long_hex(&hash[..31]), &hash[..31]);
    }
}
