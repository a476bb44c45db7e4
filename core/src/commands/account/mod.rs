//! Users: their membership of an org with a role, their status, their
//! password, and their sign-in attempts.
//!
//! A user belongs to one org (`docs/decisions/0008-accounts.md`). Emails
//! are claimed globally, lower-cased: two nodes can never both create
//! `alice@example.org`. Password hashes travel only sealed under the user's
//! data key.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Context, Prefix, data, subject, subject_id};
use crate::event::{ActorKind, NewEvent, Outcome};
use crate::keys::Sealed;

pub const USER_CREATED: &str = "user.created";
pub const USER_INVITATION_ACCEPTED: &str = "user.invitation_accepted";
/// The user's sign-in address changed (after the new one was verified):
/// the unique claim moves from the old address to the new.
pub const USER_EMAIL_CHANGED: &str = "user.email_changed";
pub const USER_ROLE_CHANGED: &str = "user.role_changed";
pub const USER_DISABLED: &str = "user.disabled";
pub const USER_ENABLED: &str = "user.enabled";
/// A user taken away by a compensating event (an import reverted); their
/// email is released.
pub const USER_REMOVED: &str = "user.removed";
/// A password set by setup, an invitation, an admin or an import.
pub const PASSWORD_SET: &str = "password.set";
/// A password the user changed themselves.
pub const PASSWORD_CHANGED: &str = "password.changed";
/// The same password re-hashed with the current parameters at sign-in.
pub const PASSWORD_REHASHED: &str = "password.rehashed";
/// The time zone a user reads times in, in the console.
pub const USER_TIME_ZONE_CHANGED: &str = "user.time_zone_changed";
pub const LOGIN_SUCCEEDED: &str = "login.succeeded";
pub const LOGIN_FAILED: &str = "login.failed";

/// Uniqueness namespace of emails.
pub const EMAIL_CLAIM: &str = "email";

pub fn user_subject(id: &str) -> String {
    subject(Prefix::User, id)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Member,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }

    /// Owners and admins manage users.
    pub fn manages_users(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }

    /// Owners and auditors search and export their org's audit trail.
    pub fn reads_audit_trail(self) -> bool {
        matches!(self, Role::Owner | Role::Auditor)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Created by invitation; becomes active when the invitation is used.
    Invited,
    Active,
    Disabled,
}

impl Status {
    /// A status an admin may set: `active` or `disabled`.
    pub fn settable(text: &str) -> Option<Status> {
        match text {
            "active" => Some(Status::Active),
            "disabled" => Some(Status::Disabled),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Invited => "invited",
            Status::Active => "active",
            Status::Disabled => "disabled",
        }
    }
}

/// Emails are compared and claimed trimmed and lower-cased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A plausible address: one `@`, something on each side, a dot in the
/// domain, no spaces, at most 254 characters.
pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// What sign-in throttling and sign-in events know an account by: a MAC of
/// the normalized identifier under the instance's identifier key (a data
/// key that never leaves the KMS envelope), the same for known and
/// unknown accounts. Keyed, so that a password typed into the email field
/// cannot be recovered from an exported log by guessing.
pub fn identifier_key(key: &[u8; 32], email: &str) -> String {
    let normalized = normalize_email(email);
    blake3::keyed_hash(key, normalized.as_bytes()).as_bytes()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The subject of an account identifier's sign-in attempts. Sign-in events
/// live here, not on the user, so that a flood of failed sign-ins never
/// moves the user's version under an admin's command.
pub fn login_subject(identifier: &str) -> String {
    subject(Prefix::Login, identifier)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub token_hash: String,
    #[serde(with = "crate::event::timestamp")]
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCreated {
    pub org: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation: Option<Invitation>,
    /// The import batch that created the user, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_id: Option<String>,
    /// The user's id in the system it was imported from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRemoved {
    pub email: String,
    /// `import_reverted`.
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleChanged {
    pub org: String,
    pub old: Role,
    pub new: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChanged {
    pub old: Status,
    pub new: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A password hash, sealed. `scheme` names the algorithm of the hash
/// (`argon2id`, or a legacy scheme from an import until the first
/// sign-in replaces it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasswordSet {
    pub hash: Sealed<String>,
    pub scheme: String,
    pub reason: PasswordReason,
}

/// Why a password hash was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PasswordReason {
    /// The first owner's, at setup.
    Setup,
    /// Chosen when accepting an invitation.
    Invitation,
    /// Set by an owner or admin creating the user.
    Admin,
    /// Imported from another system (its own scheme until the first
    /// sign-in).
    Import,
    /// Changed by the user (`password.changed`).
    Change,
    /// The same password hashed again with the current parameters at
    /// sign-in (`password.rehashed`).
    Rehash,
    /// Chosen through a reset link (`password_reset.used`).
    Reset,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginSucceeded {
    pub user: String,
    pub method: String,
    pub session: String,
    pub identifier: String,
    /// The first factor passed and the session is partial until a second
    /// factor is verified (`mfa.verified`, `session.elevated`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub second_factor_pending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    UnknownAccount,
    WrongPassword,
    Disabled,
    Invited,
    Throttled,
    /// A passkey sign-in whose assertion did not verify.
    InvalidPasskey,
    /// An email-code sign-in whose code was refused (why:
    /// `email_code.refused`).
    InvalidCode,
}

impl FailureReason {
    /// Refusals of the throttle itself do not count toward it.
    pub fn counts_toward_throttle(self) -> bool {
        self != FailureReason::Throttled
    }
}

/// A user chose the time zone the console shows them times in
/// (`auth::preferences`); `None` is the default, UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeZoneChanged {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
}

/// A user's address changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailChanged {
    pub old: String,
    pub new: String,
    /// The verified change (`email_change:<change>`).
    pub change: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginFailed {
    /// The account, when one has this identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub method: String,
    pub reason: FailureReason,
    /// [`identifier_key`] of what was typed: never the identifier itself,
    /// which is sometimes a password typed in the wrong field.
    pub identifier: String,
}

pub fn create(context: &Context, id: &str, created: &UserCreated) -> NewEvent {
    context
        .event(USER_CREATED, user_subject(id))
        .expect_version(0)
        .claim(EMAIL_CLAIM, normalize_email(&created.email))
        .data(data(created))
}

/// Removes a user and releases their email.
pub fn remove(context: &Context, id: &str, version: u64, removed: &UserRemoved) -> NewEvent {
    context
        .event(USER_REMOVED, user_subject(id))
        .expect_version(version)
        .release(EMAIL_CLAIM, normalize_email(&removed.email))
        .data(data(removed))
}

/// Moves the user's address: claims the new one (refused when another
/// account holds it) and releases the old.
pub fn change_email(context: &Context, id: &str, version: u64, changed: &EmailChanged) -> NewEvent {
    context
        .event(USER_EMAIL_CHANGED, user_subject(id))
        .expect_version(version)
        .claim(EMAIL_CLAIM, normalize_email(&changed.new))
        .release(EMAIL_CLAIM, normalize_email(&changed.old))
        .data(data(changed))
}

pub fn accept_invitation(context: &Context, id: &str, version: u64) -> NewEvent {
    context
        .event(USER_INVITATION_ACCEPTED, user_subject(id))
        .expect_version(version)
        .data(data(&StatusChanged {
            old: Status::Invited,
            new: Status::Active,
            reason: None,
        }))
}

pub fn change_role(context: &Context, id: &str, version: u64, change: &RoleChanged) -> NewEvent {
    context
        .event(USER_ROLE_CHANGED, user_subject(id))
        .expect_version(version)
        .data(data(change))
}

pub fn change_status(context: &Context, id: &str, version: u64, change: &StatusChanged) -> NewEvent {
    let kind = if change.new == Status::Disabled {
        USER_DISABLED
    } else {
        USER_ENABLED
    };
    context
        .event(kind, user_subject(id))
        .expect_version(version)
        .data(data(change))
}

pub fn change_time_zone(context: &Context, id: &str, version: u64, changed: &TimeZoneChanged) -> NewEvent {
    context
        .event(USER_TIME_ZONE_CHANGED, user_subject(id))
        .expect_version(version)
        .data(data(changed))
}

/// Records a new password hash. `version` is `None` where the hash does not
/// depend on the user's state (a rehash after a verified sign-in).
pub fn set_password(context: &Context, id: &str, version: Option<u64>, set: &PasswordSet) -> NewEvent {
    let kind = match set.reason {
        PasswordReason::Change => PASSWORD_CHANGED,
        PasswordReason::Rehash => PASSWORD_REHASHED,
        PasswordReason::Setup
        | PasswordReason::Invitation
        | PasswordReason::Admin
        | PasswordReason::Import
        | PasswordReason::Reset => PASSWORD_SET,
    };
    let event = context.event(kind, user_subject(id)).data(data(set));
    match version {
        Some(version) => event.expect_version(version),
        None => event,
    }
}

pub fn login_succeeded(context: &Context, succeeded: &LoginSucceeded) -> NewEvent {
    context
        .event(LOGIN_SUCCEEDED, login_subject(&succeeded.identifier))
        .data(data(succeeded))
}

/// A failed sign-in, about the identifier (`data.user` names the account
/// when there is one).
pub fn login_failed(context: &Context, failed: &LoginFailed) -> NewEvent {
    let subject = login_subject(&failed.identifier);
    let outcome = match failed.reason {
        FailureReason::Throttled | FailureReason::Disabled => Outcome::Denied,
        _ => Outcome::Failure,
    };
    context.event(LOGIN_FAILED, subject).outcome(outcome).data(data(failed))
}

mod saved_search;
mod sentences;

pub use saved_search::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(valid_email("alice@example.org"));
        for bad in [
            "",
            "alice",
            "@example.org",
            "alice@",
            "alice@example",
            "a b@example.org",
            "a@b@c.org",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
        assert_eq!(normalize_email(" Alice@Example.ORG "), "alice@example.org");
        let key = [7u8; 32];
        assert_eq!(
            identifier_key(&key, "Alice@example.org"),
            identifier_key(&key, "alice@example.org ")
        );
        assert_eq!(identifier_key(&key, "alice@example.org").len(), 32);
        assert_ne!(
            identifier_key(&key, "alice@example.org"),
            identifier_key(&[8u8; 32], "alice@example.org")
        );
    }
}
