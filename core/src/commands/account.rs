//! Users: their membership of an org with a role, their status, their
//! password, and their sign-in attempts.
//!
//! A user belongs to one org (`docs/decisions/0008-accounts.md`). Emails
//! are claimed globally, lower-cased: two nodes can never both create
//! `alice@example.org`. Password hashes travel only sealed under the user's
//! data key.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::sentence::{Sentence, Summarize, by_themselves, method_words};
use super::{Context, Prefix, data, subject, subject_id};
use crate::event::{ActorKind, Event, NewEvent, Outcome};
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

// The sentences of these kinds (`commands::sentence`).

/// The user of `event`'s subject (`user:<id>`).
fn subject_user(event: &Event) -> Option<&str> {
    subject_id(&event.subject, Prefix::User)
}

/// `user`, or "a user" when the subject has no id.
fn user_ref(sentence: Sentence, user: Option<&str>) -> Sentence {
    match user {
        Some(user) => sentence.user(user),
        None => sentence.words("a user"),
    }
}

/// `user`, or the address the event names when its subject has no id.
fn user_or(sentence: Sentence, user: Option<&str>, email: &str) -> Sentence {
    match user {
        Some(user) => sentence.user(user),
        None => sentence.value(email),
    }
}

/// "their password" when the user did it, "the password of mia@…"
/// otherwise.
fn whose_password(sentence: Sentence, event: &Event, user: Option<&str>) -> Sentence {
    match user {
        Some(user) if by_themselves(event, user) => sentence.words("their password"),
        Some(user) => sentence.words("the password of ").user(user),
        None => sentence.words("a password"),
    }
}

/// ` as a member`, ` as an admin`.
fn as_role(sentence: Sentence, role: Role) -> Sentence {
    let article = match role {
        Role::Owner | Role::Admin | Role::Auditor => " as an ",
        Role::Member => " as a ",
    };
    sentence.words(article).value(role.as_str())
}

/// ` with a password`, or the method as written when Warden has no words
/// for it.
fn with_method(sentence: Sentence, method: &str) -> Sentence {
    match method_words(method) {
        Some(words) => sentence.words(" with ").words(words),
        None => sentence.words(" with ").value(method),
    }
}

impl Summarize for UserCreated {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let user = subject_user(event);
        let by = Sentence::by(event);
        let sentence = if self.import_id.is_some() {
            let imported = as_role(user_or(by.words(" imported "), user, &self.email), self.role);
            match self.status {
                Status::Active => imported,
                Status::Invited => imported.words(", invited"),
                Status::Disabled => imported.words(", disabled"),
            }
        } else if user.is_some_and(|user| by_themselves(event, user)) {
            as_role(by.words(" created their account"), self.role)
        } else {
            match self.status {
                Status::Invited => as_role(user_or(by.words(" invited "), user, &self.email), self.role),
                Status::Active => as_role(user_or(by.words(" added "), user, &self.email), self.role),
                Status::Disabled => {
                    as_role(user_or(by.words(" added "), user, &self.email), self.role).words(", disabled")
                }
            }
        };
        Some(sentence)
    }
}

impl Summarize for UserRemoved {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        // The removed user's name is gone with them: their address and id.
        let sentence = Sentence::by(event).words(" removed ").value(self.email.as_str());
        let sentence = match subject_user(event) {
            Some(user) => sentence.words(" (").user(user).words(")"),
            None => sentence,
        };
        Some(match self.reason.as_str() {
            "import_reverted" => sentence.words(", as the import that created them was reverted"),
            reason => sentence.words(" (").value(reason.replace('_', " ")).words(")"),
        })
    }
}

impl Summarize for RoleChanged {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = user_ref(Sentence::by(event).words(" changed the role of "), subject_user(event));
        Some(sentence.from_to(self.old.as_str(), self.new.as_str()))
    }
}

impl Summarize for StatusChanged {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let user = subject_user(event);
        let by = Sentence::by(event);
        let sentence = match event.kind.as_str() {
            USER_INVITATION_ACCEPTED if user.is_some_and(|user| by_themselves(event, user)) => {
                by.words(" accepted their invitation")
            }
            USER_INVITATION_ACCEPTED => user_ref(by.words(" accepted the invitation of "), user),
            USER_DISABLED => user_ref(by.words(" disabled "), user),
            USER_ENABLED => user_ref(by.words(" enabled "), user).words(" again"),
            _ => return None,
        };
        Some(
            match self
                .reason
                .as_deref()
                .map(str::trim)
                .filter(|reason| !reason.is_empty())
            {
                Some(reason) => sentence.words(" (reason: ").value(reason).words(")"),
                None => sentence,
            },
        )
    }
}

impl Summarize for EmailChanged {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let by = Sentence::by(event);
        let sentence = match subject_user(event) {
            Some(user) if by_themselves(event, user) => by.words(" changed their sign-in address"),
            Some(user) => by.words(" changed the sign-in address of ").user(user),
            None => by.words(" changed a sign-in address"),
        };
        Some(sentence.from_to(self.old.as_str(), self.new.as_str()))
    }
}

impl Summarize for TimeZoneChanged {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let by = Sentence::by(event);
        let sentence = match subject_user(event) {
            Some(user) if by_themselves(event, user) => by.words(" chose to read times"),
            Some(user) => by.words(" chose for ").user(user).words(" to read times"),
            None => by.words(" chose to read times"),
        };
        Some(match &self.new {
            Some(zone) => sentence.words(" in ").value(zone.as_str()),
            None => sentence.words(" in UTC, the default"),
        })
    }
}

impl Summarize for PasswordSet {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let user = subject_user(event);
        let own = user.is_some_and(|user| by_themselves(event, user));
        let by = Sentence::by(event);
        let sentence = match (event.kind.as_str(), self.reason) {
            (PASSWORD_SET, PasswordReason::Setup) => {
                whose_password(by.words(" set "), event, user).words(" during setup")
            }
            (PASSWORD_SET, PasswordReason::Invitation) if own => {
                by.words(" chose their password on accepting their invitation")
            }
            (PASSWORD_SET, PasswordReason::Invitation) => {
                whose_password(by.words(" set "), event, user).words(" on accepting the invitation")
            }
            (PASSWORD_SET, PasswordReason::Import) => whose_password(by.words(" imported "), event, user)
                .words(" (hashed with ")
                .value(self.scheme.as_str())
                .words(")"),
            (PASSWORD_SET, PasswordReason::Reset) if own => by.words(" set a new password through a reset link"),
            (PASSWORD_SET, PasswordReason::Reset) => match user {
                Some(user) => by
                    .words(" set a new password for ")
                    .user(user)
                    .words(" through a reset link"),
                None => by.words(" set a new password through a reset link"),
            },
            (PASSWORD_SET, _) => whose_password(by.words(" set "), event, user),
            (PASSWORD_CHANGED, _) => whose_password(by.words(" changed "), event, user),
            (PASSWORD_REHASHED, _) if own => by
                .words(" had their password hashed again with ")
                .value(self.scheme.as_str())
                .words(" on signing in"),
            (PASSWORD_REHASHED, _) if matches!(event.actor.kind, ActorKind::Anonymous | ActorKind::System) => {
                whose_password(Sentence::new().words("Warden hashed "), event, user)
                    .words(" again with ")
                    .value(self.scheme.as_str())
                    .words(" at sign-in")
            }
            (PASSWORD_REHASHED, _) => whose_password(by.words(" hashed "), event, user)
                .words(" again with ")
                .value(self.scheme.as_str()),
            _ => return None,
        };
        Some(sentence)
    }
}

impl Summarize for LoginSucceeded {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        // The person who proved who they are is the user, whoever the
        // request's actor was recorded as.
        let sentence = if by_themselves(event, &self.user) {
            Sentence::by(event).words(" signed in")
        } else if event.actor.kind == ActorKind::Anonymous {
            Sentence::new().user(&self.user).words(" signed in")
        } else {
            Sentence::by(event).words(" signed in as ").user(&self.user)
        };
        let sentence = with_method(sentence, &self.method);
        let sentence = if self.second_factor_pending {
            sentence.words(" (a second factor still to come)")
        } else {
            sentence
        };
        Some(sentence.from_where(event))
    }
}

impl Summarize for LoginFailed {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let user = self.user.as_deref();
        let own = user.is_some_and(|user| by_themselves(event, user));
        // What was tried, as "… to sign in as mia@…" (`gerund`: "signing
        // in as mia@…").
        let attempt = |sentence: Sentence, gerund: bool| match (self.method.as_str(), user) {
            ("password_change", _) if own => sentence.words(if gerund {
                "changing their password"
            } else {
                "change their password"
            }),
            ("password_change", Some(user)) => sentence
                .words(if gerund {
                    "changing the password of "
                } else {
                    "change the password of "
                })
                .user(user),
            ("reauthenticate", _) if own => sentence.words(if gerund {
                "confirming it was them"
            } else {
                "confirm it was them"
            }),
            ("reauthenticate", Some(user)) => sentence
                .words(if gerund {
                    "confirming they were "
                } else {
                    "confirm they were "
                })
                .user(user),
            (_, Some(user)) => sentence
                .words(if gerund { "signing in as " } else { "sign in as " })
                .user(user),
            (_, None) => sentence.words(if gerund { "signing in" } else { "sign in" }),
        };
        let sign_in = !matches!(self.method.as_str(), "password_change" | "reauthenticate");
        let by = Sentence::by(event);
        let sentence = match self.reason {
            FailureReason::WrongPassword if self.method == "password_change" => {
                attempt(by.words(" gave a wrong current password to "), false)
            }
            FailureReason::WrongPassword => attempt(by.words(" gave a wrong password to "), false),
            FailureReason::InvalidPasskey => attempt(by.words(" used a passkey that did not verify to "), false),
            FailureReason::InvalidCode => attempt(by.words(" used an email code that was refused to "), false),
            FailureReason::UnknownAccount if self.method == "passkey" => {
                by.words(" tried to sign in with a passkey that belongs to no account")
            }
            FailureReason::UnknownAccount => with_method(by.words(" tried to sign in"), &self.method)
                .words(" as an email address that has no account"),
            FailureReason::Disabled | FailureReason::Invited => {
                let tried = attempt(by.words(" tried to "), false);
                let tried = if sign_in {
                    with_method(tried, &self.method)
                } else {
                    tried
                };
                tried.words(if self.reason == FailureReason::Disabled {
                    " (account disabled)"
                } else {
                    " (invitation not yet accepted)"
                })
            }
            FailureReason::Throttled => {
                attempt(by.words(" was stopped from "), true).words(" after too many failed attempts")
            }
        };
        Some(sentence.from_where(event))
    }
}

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
