//! Organizations: the tenant every user, role and policy belongs to.

use serde::{Deserialize, Serialize};

use super::{Context, Prefix, data, subject};
use crate::auth::mfa_policy::MfaPolicy;
use crate::auth::security_email::SecurityEmails;
use crate::event::NewEvent;

pub const ORG_CREATED: &str = "org.created";
pub const ORG_SESSION_POLICY_CHANGED: &str = "org.session_policy_changed";
/// An owner or admin changed the org's MFA policy (which methods, which
/// factors, grace period, trust in an upstream provider's MFA).
pub const ORG_MFA_POLICY_CHANGED: &str = "org.mfa_policy_changed";
/// An owner or admin turned security emails to the org's users on or off.
pub const ORG_SECURITY_EMAILS_CHANGED: &str = "org.security_emails_changed";
/// An org taken away by a compensating event; its slug is released.
pub const ORG_REMOVED: &str = "org.removed";

/// Uniqueness namespace of org slugs.
pub const SLUG_CLAIM: &str = "org_slug";

pub fn org_subject(id: &str) -> String {
    subject(Prefix::Org, id)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgCreated {
    pub name: String,
    pub slug: String,
    pub session_policy: SessionPolicy,
    /// The import batch that created the org, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgRemoved {
    pub slug: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_id: Option<String>,
}

pub fn remove(context: &Context, id: &str, version: u64, removed: &OrgRemoved) -> NewEvent {
    context
        .event(ORG_REMOVED, org_subject(id))
        .expect_version(version)
        .release(SLUG_CLAIM, removed.slug.clone())
        .data(data(removed))
}

/// How long a session of the org lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionPolicy {
    /// Without a request for this long, the session ends.
    pub idle_timeout_seconds: u64,
    /// The session ends this long after sign-in, whatever its use.
    pub absolute_timeout_seconds: u64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle_timeout_seconds: 8 * 3600,
            absolute_timeout_seconds: 7 * 24 * 3600,
        }
    }
}

impl SessionPolicy {
    /// The shortest timeout an org may choose.
    pub const ORG_MINIMUM_SECONDS: u64 = 300;

    /// Between `minimum` seconds and 30 days, idle no longer than absolute.
    pub fn validate(&self, minimum: u64) -> Result<(), String> {
        let range = minimum..=30 * 24 * 3600;
        if !range.contains(&self.idle_timeout_seconds) || !range.contains(&self.absolute_timeout_seconds) {
            return Err(format!("timeouts must be between {minimum} seconds and 30 days"));
        }
        if self.idle_timeout_seconds > self.absolute_timeout_seconds {
            return Err("idle_timeout_seconds must not exceed absolute_timeout_seconds".into());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionPolicyChanged {
    pub old: SessionPolicy,
    pub new: SessionPolicy,
}

/// A new org; its slug is claimed globally.
pub fn create(context: &Context, id: &str, created: &OrgCreated) -> NewEvent {
    context
        .event(ORG_CREATED, org_subject(id))
        .expect_version(0)
        .claim(SLUG_CLAIM, created.slug.clone())
        .data(data(created))
}

pub fn change_session_policy(context: &Context, id: &str, version: u64, change: &SessionPolicyChanged) -> NewEvent {
    context
        .event(ORG_SESSION_POLICY_CHANGED, org_subject(id))
        .expect_version(version)
        .data(data(change))
}

/// Slugs are 2 to 63 lower-case letters, digits and inner hyphens.
pub fn valid_slug(slug: &str) -> bool {
    (2..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaPolicyChanged {
    pub old: MfaPolicy,
    pub new: MfaPolicy,
}

pub fn change_mfa_policy(context: &Context, id: &str, version: u64, change: &MfaPolicyChanged) -> NewEvent {
    context
        .event(ORG_MFA_POLICY_CHANGED, org_subject(id))
        .expect_version(version)
        .data(data(change))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityEmailsChanged {
    pub old: SecurityEmails,
    pub new: SecurityEmails,
}

pub fn change_security_emails(context: &Context, id: &str, version: u64, change: &SecurityEmailsChanged) -> NewEvent {
    context
        .event(ORG_SECURITY_EMAILS_CHANGED, org_subject(id))
        .expect_version(version)
        .data(data(change))
}
