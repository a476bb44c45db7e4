//! API keys: what a key is ([`Key`], the read model's record), its text
//! ([`format`]), the decisions that create, change, rotate and revoke it
//! ([`manage`]) and the checks of its settings ([`settings`]), the one check order of a verification ([`verify`]), the
//! counting of rate limits and uses ([`limits`]), the networks a key is
//! used from ([`networks`]), the scopes of Warden's
//! own API and who holds them ([`scopes`]) and what a vendor key's
//! requests must name ([`vendor`]).

pub mod format;
pub mod limits;
pub mod manage;
pub mod networks;
pub mod scopes;
pub mod settings;
pub mod vendor;
pub mod verify;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::commands::api_key::{KeyCreated, KeyKind, Owner, SecretDigest, Settings};

/// A key as the read model holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    pub id: String,
    pub org: String,
    pub kind: KeyKind,
    pub owner: Owner,
    pub settings: Settings,
    pub secret: SecretDigest,
    /// The secret before the last rotation, and until when it works.
    pub previous: Option<(SecretDigest, DateTime<Utc>)>,
    pub created_at: DateTime<Utc>,
    /// Who created it (the actor's id).
    pub created_by: Option<String>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Its subject version: what a change is decided on.
    pub version: u64,
    /// Valid uses recorded since `settings.remaining_uses` was last set.
    pub uses_since_set: u64,
    pub last_used: Option<DateTime<Utc>>,
}

impl Key {
    /// The key as its creation made it: `at` the event's time, `by` its
    /// actor's id, `version` its subject version.
    pub fn created(created: KeyCreated, at: DateTime<Utc>, by: Option<String>, version: u64) -> Key {
        Key {
            id: created.key,
            org: created.org,
            kind: created.kind,
            owner: created.owner,
            settings: created.settings,
            secret: created.secret,
            previous: None,
            created_at: at,
            created_by: by,
            rotated_at: None,
            revoked_at: None,
            version,
            uses_since_set: 0,
            last_used: None,
        }
    }

    /// The status a list shows at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.settings.expires_at.is_some_and(|at| at <= now) {
            "expired"
        } else if self.remaining_uses() == Some(0) {
            "used_up"
        } else {
            "active"
        }
    }

    /// Uses left as recorded in the log (the node adds what it has not
    /// recorded yet); `None`: unlimited.
    pub fn remaining_uses(&self) -> Option<u64> {
        self.settings
            .remaining_uses
            .map(|left| left.saturating_sub(self.uses_since_set))
    }
}

/// A plain key for the decisions' tests: an app key of `org-1` owned by
/// user `u-1`, named `k`, no settings, secret digest `c…c`, created at
/// 1,800,000,000 s; each test changes what it is about.
#[cfg(test)]
pub(crate) fn test_key() -> Key {
    Key::created(
        KeyCreated {
            key: "KKKKKKKKKKKKKKKK".into(),
            org: "org-1".into(),
            kind: KeyKind::App,
            owner: Owner::User { id: "u-1".into() },
            settings: Settings {
                name: "k".into(),
                scopes: Vec::new(),
                expires_at: None,
                allowed_networks: Vec::new(),
                limits: Vec::new(),
                remaining_uses: None,
                ticket_pattern: None,
            },
            secret: SecretDigest {
                digest: "c".repeat(64),
                hint: "cccc".into(),
            },
        },
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default(),
        Some("u-1".into()),
        1,
    )
}
