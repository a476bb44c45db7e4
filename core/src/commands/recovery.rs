//! Account recovery (decision 0028): password-reset links as events.
//!
//! A request by email is `password_reset.requested` on the address's
//! subject (`email_address:<address_ref>`), recorded alike for addresses
//! with and without an account so that the hourly limits count both. A
//! link is `password_reset.issued` on its own subject
//! (`password_reset:<link>`), by the user's request, an admin or an
//! operator; only its token's hash is recorded, the token itself is in
//! the (sealed) email or on the operator's terminal only. Using it is
//! `password_reset.used`, decided on the link's version, so a link opens
//! once even when two tabs submit it at once; the new password is
//! `password.set` (reason `reset`) and every session of the user ends.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::email::address_subject;
use super::sentence::{Sentence, Summarize, by_themselves};
use super::{Context, Prefix, data, subject};
use crate::auth::recovery::{Issuer, Refused};
use crate::event::{Event, NewEvent, Outcome};

pub const PASSWORD_RESET_REQUESTED: &str = "password_reset.requested";
pub const PASSWORD_RESET_ISSUED: &str = "password_reset.issued";
pub const PASSWORD_RESET_USED: &str = "password_reset.used";
pub const PASSWORD_RESET_REFUSED: &str = "password_reset.refused";

/// The subject of one reset link.
pub fn link_subject(link: &str) -> String {
    subject(Prefix::PasswordReset, link)
}

/// Someone asked for a reset link for an address. For an address without
/// an active account (`link` absent) nothing is sent; the request is
/// recorded and counted like any other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequested {
    pub request: String,
    pub address_ref: String,
    /// The client network that asked (the sign-in throttle's key of its
    /// address), counted against the per-client limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The link issued for it (`password_reset.issued` in the same commit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// A reset link was made for a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetIssued {
    pub link: String,
    pub user: String,
    pub org: String,
    /// BLAKE3 of the link's token in its own domain
    /// (`TokenKind::PasswordReset`).
    pub token_hash: String,
    #[serde(with = "crate::event::timestamp")]
    pub expires_at: DateTime<Utc>,
    pub issuer: Issuer,
    /// The email that carries it, when it was emailed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Why an admin or an operator made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The operating-system user who ran `warden users recover`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_user: Option<String>,
}

/// A link set a new password (`password.set`, reason `reset`, in the same
/// commit) and ended the user's sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetUsed {
    pub link: String,
    pub user: String,
    /// How many sessions it ended.
    pub sessions_revoked: usize,
}

/// A known link was presented and reset nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRefused {
    pub link: String,
    pub user: String,
    pub reason: Refused,
}

/// Appended without an expected version: the limits were decided before
/// the answer, with the requests in flight on this node.
pub fn requested(context: &Context, requested: &ResetRequested) -> NewEvent {
    context
        .event(PASSWORD_RESET_REQUESTED, address_subject(&requested.address_ref))
        .data(data(requested))
}

/// A link's subject is new: it must not exist yet.
pub fn issued(context: &Context, issued: &ResetIssued) -> NewEvent {
    context
        .event(PASSWORD_RESET_ISSUED, link_subject(&issued.link))
        .data(data(issued))
        .expect_version(0)
}

/// Decided on the link's version: a link opens once.
pub fn used(context: &Context, used: &ResetUsed, link_version: u64) -> NewEvent {
    context
        .event(PASSWORD_RESET_USED, link_subject(&used.link))
        .data(data(used))
        .expect_version(link_version)
}

pub fn refused(context: &Context, refused: &ResetRefused) -> NewEvent {
    context
        .event(PASSWORD_RESET_REFUSED, link_subject(&refused.link))
        .data(data(refused))
        .outcome(Outcome::Failure)
}

// The sentences of these kinds (`super::sentence`); never the token or
// its hash.

impl Summarize for ResetRequested {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event)
            .words(" asked for a password reset link by email")
            .from_where(event);
        Some(match self.link {
            Some(_) => sentence,
            None => sentence.words("; no active account has that address, so nothing was sent"),
        })
    }
}

impl Summarize for ResetIssued {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event);
        let sentence = match self.issuer {
            Issuer::User if by_themselves(event, &self.user) => {
                sentence.words(" had a password reset link emailed to them")
            }
            Issuer::User => sentence
                .words(" had a password reset link emailed to ")
                .user(&self.user),
            Issuer::Admin if self.message.is_some() => sentence
                .words(" sent ")
                .user(&self.user)
                .words(" a password reset link"),
            Issuer::Admin => sentence.words(" made a password reset link for ").user(&self.user),
            Issuer::Operator => {
                let sentence = sentence.words(" printed a password reset link for ").user(&self.user);
                match self.os_user.as_deref() {
                    Some(os_user) => sentence.words(" for the operator ").value(os_user),
                    None => sentence.words(" for an operator"),
                }
            }
        };
        Some(
            match self.reason.as_deref().filter(|reason| !reason.trim().is_empty()) {
                Some(reason) => sentence.words(" (reason: ").value(reason).words(")"),
                None => sentence,
            },
        )
    }
}

impl Summarize for ResetUsed {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event);
        let sentence = if by_themselves(event, &self.user) {
            sentence.words(" reset their password with a reset link")
        } else {
            sentence
                .words(" reset the password of ")
                .user(&self.user)
                .words(" with a reset link")
        };
        let sentence = sentence.from_where(event);
        Some(match self.sessions_revoked {
            0 => sentence,
            n => sentence.words(", ending ").count(n as u64, "session", "sessions"),
        })
    }
}

impl Summarize for ResetRefused {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        Some(
            Sentence::by(event)
                .words(" tried a password reset link for ")
                .user(&self.user)
                .from_where(event)
                .words(", refused because ")
                .words(refusal_words(self.reason)),
        )
    }
}

/// Why a reset link or an address change's link did nothing.
pub(super) fn refusal_words(reason: Refused) -> &'static str {
    match reason {
        Refused::Unknown => "no such link exists",
        Refused::Expired => "it had expired",
        Refused::Used => "it was already used",
        Refused::Replaced => "a newer link replaced it",
        Refused::Inactive => "the account is no longer active",
        Refused::Taken => "another account signs in with that address",
    }
}
