//! API keys: machine credentials of an org. Owners and admins create,
//! change, rotate and revoke them; each of those is an event naming who
//! did it. A key's secret is never in an event: only its keyed digest
//! (`auth::api_key::format`), which checks nothing without the KMS-held
//! digest key.
//!
//! Uses are not an event each: the node that served them appends one
//! `api_key.used` per key and minute (counts by outcome), and a refusal
//! other than a rate limit is an `api_key.refused` of its own (sampled, so
//! a flood does not flood the log).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Context, Prefix, data, subject};
use crate::event::{NewEvent, Outcome};
use crate::net::IpNet;

pub const API_KEY_CREATED: &str = "api_key.created";
pub const API_KEY_CHANGED: &str = "api_key.changed";
pub const API_KEY_ROTATED: &str = "api_key.rotated";
pub const API_KEY_REVOKED: &str = "api_key.revoked";
pub const API_KEY_USED: &str = "api_key.used";
pub const API_KEY_REFUSED: &str = "api_key.refused";

/// The subject id of refusals of text that names no key.
pub const UNKNOWN_KEY: &str = "unknown";

/// The claim that keeps key ids unique across nodes.
pub const KEY_ID_CLAIM: &str = "api_key_id";

/// `api_key:<id>`: the key's life (created, changed, rotated, revoked).
pub fn key_subject(key: &str) -> String {
    subject(Prefix::ApiKey, key)
}

/// `api_key_use:<id>`: its uses and refusals, apart from its life, so
/// that they never move the version a change of the key is decided on.
pub fn use_subject(key: &str) -> String {
    subject(Prefix::ApiKeyUse, key)
}

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// The consuming application's own keys, verified for it
    /// (`POST /api/v1/keys/verify`, forward authentication).
    App,
    /// Warden's own API, within its scopes.
    Service,
    /// A third party acting for a user of the org, under a ticket.
    Vendor,
}

impl KeyKind {
    pub const ALL: [KeyKind; 3] = [KeyKind::App, KeyKind::Service, KeyKind::Vendor];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::App => "app",
            KeyKind::Service => "service",
            KeyKind::Vendor => "vendor",
        }
    }

    pub fn parse(text: &str) -> Option<KeyKind> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Who answers for a key: a user of the org, or a named service (a
/// script, a SIEM). A key of a user stops working while the user is not
/// active.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Owner {
    User { id: String },
    Service { name: String },
}

/// A named limit: at most `limit` requests per `window_seconds`, in
/// windows aligned to Unix time (so every node counts the same windows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub name: String,
    pub limit: u64,
    pub window_seconds: u64,
}

/// What an owner or admin sets on a key, and changes later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub name: String,
    /// Sorted, without repeats.
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Canonical ranges; empty: any address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_networks: Vec<IpNet>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<RateLimit>,
    /// Uses left from this event on; `None`: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_uses: Option<u64>,
    /// Vendor keys: the pattern every `X-Ticket-Reference` must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_pattern: Option<String>,
}

/// A secret as Warden keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretDigest {
    /// Keyed BLAKE3 of the key's text, hex.
    pub digest: String,
    /// The text's last four characters (of its checksum).
    pub hint: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyCreated {
    pub key: String,
    pub org: String,
    pub kind: KeyKind,
    pub owner: Owner,
    pub settings: Settings,
    pub secret: SecretDigest,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyChanged {
    pub key: String,
    pub org: String,
    /// The settings after the change, whole.
    pub settings: Settings,
    /// The names of the settings that changed.
    pub changed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRotated {
    pub key: String,
    pub org: String,
    pub secret: SecretDigest,
    /// The secret before this one keeps working until then (the rotation's
    /// time itself for no grace).
    pub previous_valid_until: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRevoked {
    pub key: String,
    pub org: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// How a verification ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyOutcome {
    Valid,
    NotFound,
    Revoked,
    Expired,
    DisabledOwner,
    IpNotAllowed,
    InsufficientScope,
    RateLimited,
    UsageExceeded,
    // Added after the others so that the order of existing maps of
    // outcomes stays as it was; `ALL` gives the order of the checks.
    ActorNotAllowed,
    InvalidTicket,
}

impl VerifyOutcome {
    /// Every outcome, in the order of the checks (`auth::api_key::verify`).
    pub const ALL: [VerifyOutcome; 11] = [
        VerifyOutcome::Valid,
        VerifyOutcome::NotFound,
        VerifyOutcome::Revoked,
        VerifyOutcome::Expired,
        VerifyOutcome::DisabledOwner,
        VerifyOutcome::IpNotAllowed,
        VerifyOutcome::InsufficientScope,
        VerifyOutcome::ActorNotAllowed,
        VerifyOutcome::InvalidTicket,
        VerifyOutcome::RateLimited,
        VerifyOutcome::UsageExceeded,
    ];

    /// The wire name (`valid`, `not_found`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyOutcome::Valid => "valid",
            VerifyOutcome::NotFound => "not_found",
            VerifyOutcome::Revoked => "revoked",
            VerifyOutcome::Expired => "expired",
            VerifyOutcome::DisabledOwner => "disabled_owner",
            VerifyOutcome::IpNotAllowed => "ip_not_allowed",
            VerifyOutcome::InsufficientScope => "insufficient_scope",
            VerifyOutcome::RateLimited => "rate_limited",
            VerifyOutcome::UsageExceeded => "usage_exceeded",
            VerifyOutcome::ActorNotAllowed => "actor_not_allowed",
            VerifyOutcome::InvalidTicket => "invalid_ticket",
        }
    }
}

/// One key's uses in one minute, on the node that served them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyUsed {
    pub key: String,
    pub org: String,
    /// The minute's start.
    pub minute: DateTime<Utc>,
    /// Requests by outcome (only outcomes that happened).
    pub counts: BTreeMap<VerifyOutcome, u64>,
    /// Distinct client addresses, in order of first use, at most
    /// `ADDRESSES_MAX`.
    pub addresses: Vec<String>,
    /// More distinct addresses than listed.
    #[serde(default)]
    pub more_addresses: bool,
    /// The networks of `addresses` (IPv4 /24, IPv6 /64) the key was not
    /// used from before, as the node's read model knew when it appended
    /// this (`auth::api_key::networks`); never for a key's first use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new_networks: Vec<String>,
    pub first_request_id: String,
    pub last_request_id: String,
    /// When the minute's last request was served.
    pub last_at: DateTime<Utc>,
}

/// Most client addresses one `api_key.used` lists.
pub const ADDRESSES_MAX: usize = 32;

/// A refused verification (not a rate limit: those are counted in
/// `api_key.used`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRefused {
    /// The key's id; for `not_found`, the id the text names when it has
    /// the key format (absent when it has not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The key's org (absent for `not_found`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    pub outcome: VerifyOutcome,
    /// The scopes asked for, for `insufficient_scope`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Refusals of the same kind not recorded one by one since the last
    /// one that was (sampling).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unrecorded_before: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

pub fn created(context: &Context, created: &KeyCreated) -> NewEvent {
    context
        .event(API_KEY_CREATED, key_subject(&created.key))
        .expect_version(0)
        .claim(KEY_ID_CLAIM, created.key.clone())
        .data(data(created))
}

pub fn changed(context: &Context, changed: &KeyChanged, version: u64) -> NewEvent {
    context
        .event(API_KEY_CHANGED, key_subject(&changed.key))
        .expect_version(version)
        .data(data(changed))
}

pub fn rotated(context: &Context, rotated: &KeyRotated, version: u64) -> NewEvent {
    context
        .event(API_KEY_ROTATED, key_subject(&rotated.key))
        .expect_version(version)
        .data(data(rotated))
}

pub fn revoked(context: &Context, revoked: &KeyRevoked, version: u64) -> NewEvent {
    context
        .event(API_KEY_REVOKED, key_subject(&revoked.key))
        .expect_version(version)
        .data(data(revoked))
}

/// Usage is a fact whatever the key's state: it appends at any version.
pub fn used(context: &Context, used: &KeyUsed) -> NewEvent {
    context.event(API_KEY_USED, use_subject(&used.key)).data(data(used))
}

/// Under the key's use subject, or `api_key_use:unknown` for text that
/// names no key.
pub fn refused(context: &Context, refused: &KeyRefused) -> NewEvent {
    let id = match (&refused.org, &refused.key) {
        (Some(_), Some(key)) => key.as_str(),
        _ => UNKNOWN_KEY,
    };
    context
        .event(API_KEY_REFUSED, use_subject(id))
        .outcome(Outcome::Denied)
        .data(data(refused))
}

mod sentences;
