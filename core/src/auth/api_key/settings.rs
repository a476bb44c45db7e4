//! What an owner or admin sets on a key, as asked ([`Draft`], [`Patch`]),
//! and the one check of every setting ([`checked`]).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::manage::{Rejection, invalid};
use super::scopes::is_warden_scope;
use crate::commands::api_key::{KeyKind, RateLimit, Settings};
use crate::net::IpNet;

pub const MAX_SCOPES: usize = 50;
pub const MAX_NETWORKS: usize = 100;
pub const MAX_LIMITS: usize = 10;
/// The longest limit window: 30 days.
pub const MAX_WINDOW_SECONDS: u64 = 30 * 86_400;
/// Settings as asked for, before they are checked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Draft {
    pub name: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub allowed_networks: Vec<String>,
    #[serde(default)]
    pub limits: Vec<RateLimit>,
    #[serde(default)]
    pub remaining_uses: Option<u64>,
    #[serde(default)]
    pub ticket_pattern: Option<String>,
}

/// A change as asked for: each field present is set (`null` clears an
/// optional one).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default, with = "present")]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    #[serde(default)]
    pub allowed_networks: Option<Vec<String>>,
    #[serde(default)]
    pub limits: Option<Vec<RateLimit>>,
    #[serde(default, with = "present")]
    pub remaining_uses: Option<Option<u64>>,
    #[serde(default, with = "present")]
    pub ticket_pattern: Option<Option<String>>,
}

/// `Some(value)` for a member that is present, even as `null`.
mod present {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

/// The limits of a vendor key that is given none: 60 requests a minute
/// and 2,000 a day. A vendor key given limits has those instead.
pub fn vendor_default_limits() -> Vec<RateLimit> {
    vec![
        RateLimit {
            name: "per_minute".into(),
            limit: 60,
            window_seconds: 60,
        },
        RateLimit {
            name: "per_day".into(),
            limit: 2_000,
            window_seconds: 86_400,
        },
    ]
}

/// Checks every setting of a key of `kind`.
pub(super) fn checked(kind: KeyKind, draft: Draft, now: DateTime<Utc>) -> Result<Settings, Rejection> {
    let name = draft.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(invalid("name", "1 to 100 characters, without control characters"));
    }
    let mut scopes = draft.scopes;
    scopes.sort();
    scopes.dedup();
    if scopes.len() > MAX_SCOPES {
        return Err(invalid("scopes", format!("at most {MAX_SCOPES} scopes")));
    }
    for scope in &scopes {
        if !is_scope(scope) {
            return Err(invalid(
                "scopes",
                format!("{scope:?}: a scope is 1 to 64 of a-z, 0-9, '.', '_', ':' and '-', starting with a letter"),
            ));
        }
        if kind == KeyKind::Service && !is_warden_scope(scope) {
            return Err(invalid(
                "scopes",
                format!("{scope:?} is not a scope of Warden's API; a service key has only those"),
            ));
        }
    }
    if draft.allowed_networks.len() > MAX_NETWORKS {
        return Err(invalid("allowed_networks", format!("at most {MAX_NETWORKS} ranges")));
    }
    let mut allowed_networks = Vec::with_capacity(draft.allowed_networks.len());
    for text in &draft.allowed_networks {
        let net = IpNet::parse(text.trim()).ok_or_else(|| {
            invalid(
                "allowed_networks",
                format!("{text:?} is not an address or range (10.0.0.0/8, 2001:db8::/32)"),
            )
        })?;
        if !allowed_networks.contains(&net) {
            allowed_networks.push(net);
        }
    }
    if draft.limits.len() > MAX_LIMITS {
        return Err(invalid("limits", format!("at most {MAX_LIMITS} limits")));
    }
    for (i, limit) in draft.limits.iter().enumerate() {
        let good_name = !limit.name.is_empty()
            && limit.name.len() <= 32
            && limit
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !good_name {
            return Err(invalid("limits", "a limit's name is 1 to 32 of a-z, 0-9, '_' and '-'"));
        }
        if draft.limits[..i].iter().any(|other| other.name == limit.name) {
            return Err(invalid("limits", format!("two limits are named {:?}", limit.name)));
        }
        if !(1..=1_000_000_000).contains(&limit.limit) {
            return Err(invalid("limits", "a limit is 1 to 1000000000 requests"));
        }
        if !(1..=MAX_WINDOW_SECONDS).contains(&limit.window_seconds) {
            return Err(invalid("limits", "a window is 1 to 2592000 seconds (30 days)"));
        }
    }
    if draft
        .remaining_uses
        .is_some_and(|uses| !(1..=1_000_000_000_000).contains(&uses))
    {
        return Err(invalid(
            "remaining_uses",
            "1 to 1000000000000 uses, or none for unlimited",
        ));
    }
    let ticket_pattern = match (kind, draft.ticket_pattern) {
        (KeyKind::Vendor, Some(pattern)) => Some(checked_ticket_pattern(pattern)?),
        (KeyKind::Vendor, None) => {
            return Err(invalid(
                "ticket_pattern",
                "a vendor key needs the pattern its ticket references match, e.g. ^[A-Z]+-[0-9]+$",
            ));
        }
        (_, Some(_)) => return Err(invalid("ticket_pattern", "only vendor keys have a ticket pattern")),
        (_, None) => None,
    };
    // A vendor acts for the org's users from outside it: never unlimited
    // by omission.
    let limits = if kind == KeyKind::Vendor && draft.limits.is_empty() {
        vendor_default_limits()
    } else {
        draft.limits
    };
    Ok(Settings {
        name,
        scopes,
        expires_at: checked_expiry(draft.expires_at, now)?,
        allowed_networks,
        limits,
        remaining_uses: draft.remaining_uses,
        ticket_pattern,
    })
}

pub(super) fn checked_expiry(
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, Rejection> {
    match expires_at {
        Some(at) if at <= now => Err(invalid("expires_at", "the expiry must be in the future")),
        other => Ok(other),
    }
}

/// A ticket pattern: a regular expression every reference must match
/// whole.
fn checked_ticket_pattern(pattern: String) -> Result<String, Rejection> {
    if pattern.is_empty() || pattern.chars().count() > 200 || pattern.chars().any(char::is_control) {
        return Err(invalid(
            "ticket_pattern",
            "1 to 200 characters, without control characters",
        ));
    }
    ticket_matcher(&pattern)
        .map_err(|error| invalid("ticket_pattern", format!("not a regular expression: {error}")))?;
    Ok(pattern)
}

/// A compiled ticket pattern.
#[derive(Debug, Clone)]
pub struct TicketMatcher(regex::Regex);

impl TicketMatcher {
    /// Whether `reference` matches the pattern whole.
    pub fn is_match(&self, reference: &str) -> bool {
        self.0.is_match(reference)
    }
}

/// The matcher of a ticket pattern: the whole reference must match.
pub fn ticket_matcher(pattern: &str) -> Result<TicketMatcher, regex::Error> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(64 * 1024)
        .build()
        .map(TicketMatcher)
}

fn is_scope(scope: &str) -> bool {
    let bytes = scope.as_bytes();
    (1..=64).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._:-".contains(&b))
}

pub(super) fn is_service_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=64).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}
