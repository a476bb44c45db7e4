//! The event envelope: one immutable, signed fact in Warden's log.
//!
//! Commands produce [`NewEvent`]s; the ledger assigns `seq`, `id`, `at`,
//! `subject_version`, `prev`, `hash`, `key_id` and `sig` and returns the
//! sealed [`Event`]. Field names here are the wire names of
//! `docs/spec/audit-chain.md`; renaming a Rust item never changes them.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::chain::{Digest, Signature};

/// Who did it. Typed and inside the hash: the audit context cannot be
/// altered without breaking the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    pub kind: ActorKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// For vendor calls: the user the vendor acts for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    /// For vendor calls: the support ticket that justifies the access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

impl Actor {
    /// Warden itself (startup, maintenance, key rotation from the CLI).
    pub fn system() -> Self {
        Self::of_kind(ActorKind::System)
    }

    pub fn of_kind(kind: ActorKind) -> Self {
        Actor {
            kind,
            id: None,
            org: None,
            ip: None,
            user_agent: None,
            on_behalf_of: None,
            ticket: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    User,
    ApiKey,
    Vendor,
    Service,
    System,
    Anonymous,
}

impl ActorKind {
    pub const ALL: [ActorKind; 6] = [
        ActorKind::User,
        ActorKind::ApiKey,
        ActorKind::Vendor,
        ActorKind::Service,
        ActorKind::System,
        ActorKind::Anonymous,
    ];

    /// The wire name, as in the canonical encoding.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::ApiKey => "api_key",
            ActorKind::Vendor => "vendor",
            ActorKind::Service => "service",
            ActorKind::System => "system",
            ActorKind::Anonymous => "anonymous",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "success" => Some(Outcome::Success),
            "failure" => Some(Outcome::Failure),
            "denied" => Some(Outcome::Denied),
            _ => None,
        }
    }
}

/// A value claimed globally unique in the same transaction as the append
/// (an email, an org slug, an API-key prefix). Two appends can never both
/// claim the same `(namespace, value)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UniqueClaim {
    pub namespace: String,
    pub value: String,
}

/// What a command decided: an event before the ledger seals it.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: String,
    pub subject: String,
    /// The subject version the command decided on (`Some(0)`: the subject
    /// must not exist yet). `None` appends whatever the version is, for
    /// facts that do not depend on the subject's state (a failed sign-in).
    pub expected_version: Option<u64>,
    pub actor: Actor,
    pub request_id: String,
    pub outcome: Outcome,
    pub data: serde_json::Value,
    pub claims: Vec<UniqueClaim>,
    /// Claims this event gives up (made by earlier events), in the same
    /// transaction as the append: the values can be claimed again.
    pub releases: Vec<UniqueClaim>,
}

impl NewEvent {
    pub fn new(kind: impl Into<String>, subject: impl Into<String>, actor: Actor) -> Self {
        NewEvent {
            kind: kind.into(),
            subject: subject.into(),
            expected_version: None,
            actor,
            request_id: String::new(),
            outcome: Outcome::Success,
            data: serde_json::Value::Object(serde_json::Map::new()),
            claims: Vec::new(),
            releases: Vec::new(),
        }
    }

    pub fn data(mut self, data: serde_json::Value) -> Self {
        self.data = data;
        self
    }

    pub fn request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = request_id.into();
        self
    }

    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    pub fn expect_version(mut self, version: u64) -> Self {
        self.expected_version = Some(version);
        self
    }

    pub fn claim(mut self, namespace: impl Into<String>, value: impl Into<String>) -> Self {
        self.claims.push(UniqueClaim {
            namespace: namespace.into(),
            value: value.into(),
        });
        self
    }

    pub fn release(mut self, namespace: impl Into<String>, value: impl Into<String>) -> Self {
        self.releases.push(UniqueClaim {
            namespace: namespace.into(),
            value: value.into(),
        });
        self
    }
}

/// A sealed event as stored, published and exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub seq: u64,
    #[serde(with = "uuid_text")]
    pub id: Uuid,
    #[serde(with = "timestamp")]
    pub at: DateTime<Utc>,
    pub kind: String,
    pub subject: String,
    pub subject_version: u64,
    pub actor: Actor,
    pub request_id: String,
    pub outcome: Outcome,
    pub data: serde_json::Value,
    pub prev: Digest,
    pub hash: Digest,
    pub key_id: String,
    pub sig: Signature,
}

impl Event {
    /// An event as the ledger would record `new` at `seq` and `at`, but
    /// not chained or signed (zero hashes, zero signature): for tests and
    /// benchmarks of what reads events, never for anything that verifies.
    pub fn unsealed(seq: u64, at: DateTime<Utc>, new: NewEvent) -> Event {
        Event {
            seq,
            id: Uuid::now_v7(),
            at,
            kind: new.kind,
            subject: new.subject,
            subject_version: new.expected_version.map_or(1, |version| version + 1),
            actor: new.actor,
            request_id: new.request_id,
            outcome: new.outcome,
            data: new.data,
            prev: Digest::ZERO,
            hash: Digest::ZERO,
            key_id: String::new(),
            sig: Signature([0; 64]),
        }
    }
}

/// Recorded times are UTC with exactly microsecond precision.
pub fn now_micros() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// `at` on the wire: RFC 3339, UTC, `Z`, exactly six fractional digits.
pub mod timestamp {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn format(at: &DateTime<Utc>) -> String {
        at.to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    /// Parses only the exact wire form, so that every stored time has one
    /// spelling: a real Gregorian date of the years 0001 to 9999, seconds
    /// 00 to 59 (a leap second `:60` is refused: Warden's clock never
    /// writes one, and readers without them could not read it).
    pub fn parse(text: &str) -> Option<DateTime<Utc>> {
        use chrono::{Datelike, Timelike};
        let parsed = DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc);
        let ordinary = parsed.year() >= 1 && parsed.nanosecond() < 1_000_000_000;
        (ordinary && format(&parsed) == text).then_some(parsed)
    }

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text)
            .ok_or_else(|| serde::de::Error::custom("expected RFC 3339 UTC time with six fractional digits and Z"))
    }
}

/// `id` on the wire: the hyphenated lower-case form only, so every id has
/// one spelling.
pub mod uuid_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use uuid::Uuid;

    pub fn parse(text: &str) -> Option<Uuid> {
        let id = Uuid::try_parse(text).ok()?;
        (id.hyphenated().to_string() == text).then_some(id)
    }

    pub fn serialize<S: Serializer>(id: &Uuid, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&id.hyphenated())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Uuid, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text).ok_or_else(|| serde::de::Error::custom("expected a hyphenated lower-case UUID"))
    }
}

/// Event kinds are dotted, lower-case, past tense: `session.created`.
pub fn valid_kind(kind: &str) -> bool {
    let mut parts = 0;
    for part in kind.split('.') {
        parts += 1;
        if part.is_empty()
            || !part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return false;
        }
    }
    parts >= 2 && kind.len() <= 128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_dotted_lower_case() {
        assert!(valid_kind("session.created"));
        assert!(valid_kind("app.invoice.paid_2"));
        assert!(!valid_kind("session"));
        assert!(!valid_kind("Session.created"));
        assert!(!valid_kind("session..created"));
        assert!(!valid_kind("session.created "));
    }

    #[test]
    fn timestamps_have_one_spelling() {
        let at = timestamp::parse("2026-11-28T04:06:26.123456Z").unwrap();
        assert_eq!(timestamp::format(&at), "2026-11-28T04:06:26.123456Z");
        assert!(timestamp::parse("2026-11-28T04:06:26.123Z").is_none());
        assert!(timestamp::parse("2026-11-28T05:06:26.123456+01:00").is_none());
        // Only real dates, no leap second, years 0001 to 9999.
        for refused in [
            "2026-02-29T00:00:00.000000Z",
            "2026-04-31T00:00:00.000000Z",
            "2016-12-31T23:59:60.000000Z",
            "0000-01-01T00:00:00.000000Z",
            "2026-11-28t04:06:26.123456z",
            "2026-11-28 04:06:26.123456Z",
        ] {
            assert!(timestamp::parse(refused).is_none(), "{refused}");
        }
        for accepted in [
            "2024-02-29T23:59:59.999999Z",
            "0001-01-01T00:00:00.000000Z",
            "9999-12-31T23:59:59.999999Z",
        ] {
            assert!(timestamp::parse(accepted).is_some(), "{accepted}");
        }
    }
}
