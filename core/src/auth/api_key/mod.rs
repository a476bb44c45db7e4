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

use crate::commands::api_key::{KeyKind, Owner, SecretDigest, Settings};

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
