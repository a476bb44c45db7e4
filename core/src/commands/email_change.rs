//! Changing a user's sign-in address (decision 0028) as events.
//!
//! The user asks (`email_change.requested` on `email_change:<change>`, with
//! the new address and the hash of the link's token, the link mailed to
//! the new address); opening the link and confirming verifies the address
//! (`email_change.verified`, decided on the change's version: once) and
//! moves it (`user.email_changed`, which claims the new address and
//! releases the old one in the same append). Until then the old address
//! is the account's, for signing in, codes and recovery.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::recovery::refusal_words;
use super::sentence::{Sentence, Summarize, by_themselves};
use super::{Context, Prefix, data, subject};
use crate::auth::recovery::Refused;
use crate::event::{Event, NewEvent, Outcome};

pub const EMAIL_CHANGE_REQUESTED: &str = "email_change.requested";
pub const EMAIL_CHANGE_VERIFIED: &str = "email_change.verified";
pub const EMAIL_CHANGE_REFUSED: &str = "email_change.refused";

/// The subject of one change.
pub fn change_subject(change: &str) -> String {
    subject(Prefix::EmailChange, change)
}

/// A user asked to sign in with a new address; a link to verify it was
/// mailed to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequested {
    pub change: String,
    pub user: String,
    pub org: String,
    /// The new address, normalized.
    pub email: String,
    /// BLAKE3 of the link's token in its own domain
    /// (`TokenKind::EmailVerification`).
    pub token_hash: String,
    #[serde(with = "crate::event::timestamp")]
    pub expires_at: DateTime<Utc>,
    /// The email that carries the link.
    pub message: String,
}

/// The new address was verified (beside `user.email_changed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeVerified {
    pub change: String,
    pub user: String,
}

/// A known link was presented and changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeRefused {
    pub change: String,
    pub user: String,
    pub reason: Refused,
}

/// A change's subject is new.
pub fn requested(context: &Context, requested: &ChangeRequested) -> NewEvent {
    context
        .event(EMAIL_CHANGE_REQUESTED, change_subject(&requested.change))
        .data(data(requested))
        .expect_version(0)
}

/// Decided on the change's version: a link verifies once.
pub fn verified(context: &Context, verified: &ChangeVerified, version: u64) -> NewEvent {
    context
        .event(EMAIL_CHANGE_VERIFIED, change_subject(&verified.change))
        .data(data(verified))
        .expect_version(version)
}

pub fn refused(context: &Context, refused: &ChangeRefused) -> NewEvent {
    context
        .event(EMAIL_CHANGE_REFUSED, change_subject(&refused.change))
        .data(data(refused))
        .outcome(Outcome::Failure)
}

// The sentences of these kinds (`super::sentence`); never the token or
// its hash.

impl Summarize for ChangeRequested {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event);
        let sentence = if by_themselves(event, &self.user) {
            sentence.words(" asked to change their sign-in address to ")
        } else {
            sentence
                .words(" asked to change the sign-in address of ")
                .user(&self.user)
                .words(" to ")
        };
        Some(
            sentence
                .value(self.email.as_str())
                .words("; a link to confirm it was sent there"),
        )
    }
}

impl Summarize for ChangeVerified {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event);
        let sentence = if by_themselves(event, &self.user) {
            sentence.words(" confirmed their new sign-in address")
        } else {
            sentence
                .words(" confirmed the new sign-in address of ")
                .user(&self.user)
        };
        Some(sentence.from_where(event))
    }
}

impl Summarize for ChangeRefused {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        Some(
            Sentence::by(event)
                .words(" tried the link to confirm a new sign-in address of ")
                .user(&self.user)
                .from_where(event)
                .words(", refused because ")
                .words(refusal_words(self.reason)),
        )
    }
}
