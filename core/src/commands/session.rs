//! Sessions: a signed-in browser. The token lives only in the cookie; the
//! events carry its hash.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Context, Prefix, data, subject};
use crate::auth::device::Device;
use crate::event::{NewEvent, Outcome};

pub const SESSION_CREATED: &str = "session.created";
/// The session was used after a quiet spell: its idle timer restarts.
pub const SESSION_REFRESHED: &str = "session.refreshed";
/// A new token for the same session (after a privilege change).
pub const SESSION_ROTATED: &str = "session.rotated";
pub const SESSION_REVOKED: &str = "session.revoked";
/// A session proved a further factor (completing a sign-in that needed a
/// second factor, or re-authenticating for a sensitive action): a new
/// assurance, and a new token.
pub const SESSION_ELEVATED: &str = "session.elevated";
/// The first sign-in to an account from a device fingerprint.
pub const DEVICE_FIRST_SEEN: &str = "device.first_seen";
/// A state-changing request refused for a missing or wrong CSRF token or a
/// foreign origin.
pub const CSRF_REFUSED: &str = "csrf.refused";
pub const ACCESS_DENIED: &str = "access.denied";

pub fn session_subject(id: &str) -> String {
    subject(Prefix::Session, id)
}

/// How a session reached its assurance level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assurance {
    /// `aal1` (one factor) or `aal2` (two factors, or a passkey with user
    /// verification).
    pub level: String,
    /// The methods used, in order: `password`, `totp`, `passkey` …
    pub methods: Vec<String>,
    #[serde(with = "crate::event::timestamp")]
    pub at: DateTime<Utc>,
}

/// What a partial session must still do before it is a full one. Until
/// then it may only complete that step or sign out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// `second_factor`: prove one of `factors`.
    pub step: String,
    /// The factors that complete the step: `totp`, `backup_code` …
    pub factors: Vec<String>,
}

impl Pending {
    pub const SECOND_FACTOR: &'static str = "second_factor";
    pub const ENROLMENT: &'static str = "enrolment";

    /// Prove one of `factors`.
    pub fn second_factor(factors: Vec<String>) -> Self {
        Pending {
            step: Self::SECOND_FACTOR.into(),
            factors,
        }
    }

    /// Set up one of `factors` (the org requires a second factor).
    pub fn enrolment(factors: Vec<String>) -> Self {
        Pending {
            step: Self::ENROLMENT.into(),
            factors,
        }
    }

    pub fn is_enrolment(&self) -> bool {
        self.step == Self::ENROLMENT
    }

    pub fn is_second_factor(&self) -> bool {
        self.step == Self::SECOND_FACTOR
    }

    /// Whether `factor` (`totp`, `passkey`, `backup_code`) completes it.
    pub fn offers(&self, factor: &str) -> bool {
        self.factors.iter().any(|offered| offered == factor)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionCreated {
    pub user: String,
    pub org: String,
    pub token_hash: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub device: Device,
    pub fingerprint: String,
    pub assurance: Assurance,
    /// Set when the sign-in is not complete yet (a partial session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
    pub idle_timeout_seconds: u64,
    #[serde(with = "crate::event::timestamp")]
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRefreshed {
    #[serde(with = "crate::event::timestamp")]
    pub last_seen: DateTime<Utc>,
    pub ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRotated {
    pub token_hash: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionElevated {
    pub user: String,
    /// The new token's hash: the old token stops working.
    pub token_hash: String,
    /// The assurance now: its `at` is the time of this authentication.
    pub assurance: Assurance,
    /// `second_factor` (a partial session completed) or `step_up` (a fresh
    /// authentication for a sensitive action).
    pub reason: String,
    /// The session's absolute end from now on (a partial session lives
    /// minutes; completed, it gets the org's absolute timeout).
    #[serde(with = "crate::event::timestamp")]
    pub expires_at: DateTime<Utc>,
    /// What is still pending after it: an enrolment the org requires,
    /// when the user proved an existing factor the org does not count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRevoked {
    pub user: String,
    /// `signed_out`, `revoked_by_user`, `signed_out_elsewhere`,
    /// `revoked_by_admin`, `user_disabled`, `password_changed`.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceFirstSeen {
    pub user: String,
    pub fingerprint: String,
    pub device: Device,
    pub session: String,
    pub ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsrfRefused {
    /// `missing_token`, `wrong_token`, `foreign_origin`, `cross_site`.
    pub reason: String,
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// A request refused with 401 or 403 that no other event records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessDenied {
    pub status: u16,
    /// The error code the caller got (`session_required`, `forbidden` …).
    pub code: String,
    pub method: String,
    pub path: String,
}

pub fn create(context: &Context, id: &str, created: &SessionCreated) -> NewEvent {
    context
        .event(SESSION_CREATED, session_subject(id))
        .expect_version(0)
        .data(data(created))
}

pub fn refresh(context: &Context, id: &str, refreshed: &SessionRefreshed) -> NewEvent {
    context
        .event(SESSION_REFRESHED, session_subject(id))
        .data(data(refreshed))
}

pub fn rotate(context: &Context, id: &str, rotated: &SessionRotated) -> NewEvent {
    context.event(SESSION_ROTATED, session_subject(id)).data(data(rotated))
}

/// Appended with the factor's own event (`mfa.verified`, decided on the
/// user's factor version), which is what keeps a code single-use.
pub fn elevate(context: &Context, id: &str, elevated: &SessionElevated) -> NewEvent {
    context
        .event(SESSION_ELEVATED, session_subject(id))
        .data(data(elevated))
}

pub fn revoke(context: &Context, id: &str, revoked: &SessionRevoked) -> NewEvent {
    context.event(SESSION_REVOKED, session_subject(id)).data(data(revoked))
}

/// Subject `devices:<user>`: the user's own version is not moved by it.
pub fn device_first_seen(context: &Context, seen: &DeviceFirstSeen) -> NewEvent {
    context
        .event(DEVICE_FIRST_SEEN, subject(Prefix::Devices, &seen.user))
        .data(data(seen))
}

/// Subject: the session when there is one, the request otherwise.
pub fn csrf_refused(context: &Context, session: Option<&str>, refused: &CsrfRefused) -> NewEvent {
    let subject = match session {
        Some(id) => session_subject(id),
        None => subject(Prefix::Request, &context.request_id),
    };
    context
        .event(CSRF_REFUSED, subject)
        .outcome(Outcome::Denied)
        .data(data(refused))
}

/// Subject: the session when there is one, the request otherwise.
pub fn access_denied(context: &Context, session: Option<&str>, denied: &AccessDenied) -> NewEvent {
    let subject = match session {
        Some(id) => session_subject(id),
        None => subject(Prefix::Request, &context.request_id),
    };
    context
        .event(ACCESS_DENIED, subject)
        .outcome(Outcome::Denied)
        .data(data(denied))
}
