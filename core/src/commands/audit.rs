//! The audit trail's own trail: who searched, viewed and exported what.
//! Each of these is an event in the same chain, so reading the trail
//! leaves a trace an outside auditor can check too.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Context, Prefix, data};
use crate::event::NewEvent;

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
