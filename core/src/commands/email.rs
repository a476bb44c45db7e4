//! Email to users (decision 0028): sign-in codes, and every account email
//! Warden sends, as events.
//!
//! A code's events are on the subject of the address it was sent to
//! (`email_address:<address_ref>`, the address's keyed hash); a try is
//! decided on that subject's version: two tries of one code at once cannot
//! both count as the first. The code itself is never in an event: only its
//! keyed hash (`auth::email_code::hash`).
//!
//! An email is `email.queued` with its recipient and body sealed under a
//! data key of its own (`email:<message>`), then `email.sent`,
//! `email.failed` (retried) or `email.bounced` (refused for good, or out
//! of attempts). The key is shredded when the email is sent or given up,
//! so the log keeps that it was sent and never what it said.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::sentence::{Ref, Sentence, Summarize, by_themselves, readable_time_text};
use super::{Context, Prefix, data, subject};
use crate::event::{Event, NewEvent};
use crate::keys::Sealed;

pub const EMAIL_CODE_ISSUED: &str = "email_code.issued";
pub const EMAIL_CODE_REFUSED: &str = "email_code.refused";
pub const EMAIL_CODE_USED: &str = "email_code.used";
pub const EMAIL_QUEUED: &str = "email.queued";
pub const EMAIL_SENT: &str = "email.sent";
pub const EMAIL_FAILED: &str = "email.failed";
pub const EMAIL_BOUNCED: &str = "email.bounced";

/// The subject of an address's codes.
pub fn address_subject(address_ref: &str) -> String {
    subject(Prefix::EmailAddress, address_ref)
}

/// The subject of one email, and of the data key its body is sealed with.
pub fn email_subject(message: &str) -> String {
    subject(Prefix::Email, message)
}

/// A sign-in code was drawn for an address. For an address without an
/// account (`user` absent) it is recorded and counted like any other, and
/// not sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeIssued {
    pub code: String,
    pub address_ref: String,
    /// The keyed hash of the code, bound to `code` and `address_ref`.
    pub hash: String,
    #[serde(with = "crate::event::timestamp")]
    pub expires_at: DateTime<Utc>,
    /// The client network that asked (the sign-in throttle's key of its
    /// address), counted against the per-client limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// The email that carries it (`email.queued` in the same commit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Why a presented code was refused (`auth::email_code::Refused`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeRefusal {
    NoCode,
    Wrong,
    TooManyAttempts,
    Expired,
    Used,
}

/// A presented code was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeRefused {
    /// The code the try counted against, if the address had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub address_ref: String,
    pub reason: CodeRefusal,
    /// Whether the try used up one of the code's attempts.
    pub counted: bool,
}

/// A code opened a sign-in: it is spent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeUsed {
    pub code: String,
    pub address_ref: String,
    pub user: String,
    pub session: String,
}

/// Appended without an expected version: the limits were decided
/// before the answer (with the codes in flight on this node), and a
/// code's tries are decided on the version this event moves, so a try of
/// the code it replaces, decided before it, is decided again.
pub fn code_issued(context: &Context, issued: &CodeIssued) -> NewEvent {
    context
        .event(EMAIL_CODE_ISSUED, address_subject(&issued.address_ref))
        .data(data(issued))
}

pub fn code_refused(context: &Context, refused: &CodeRefused, address_version: u64) -> NewEvent {
    context
        .event(EMAIL_CODE_REFUSED, address_subject(&refused.address_ref))
        .data(data(refused))
        .outcome(crate::event::Outcome::Failure)
        .expect_version(address_version)
}

pub fn code_used(context: &Context, used: &CodeUsed, address_version: u64) -> NewEvent {
    context
        .event(EMAIL_CODE_USED, address_subject(&used.address_ref))
        .data(data(used))
        .expect_version(address_version)
}

/// What is sealed in `email.queued`: everything that would tell what the
/// email said, or to whom.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Holds codes and links: never printed.
impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Envelope(…)")
    }
}

/// An email was composed and is to be sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailQueued {
    pub message: String,
    /// Which email (`sign_in_code`, `password_reset`, …).
    pub template: String,
    /// The user it is for; absent for an address without an account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// Recipient, subject and body, under the key of `email:<message>`.
    pub envelope: Sealed<Envelope>,
}

/// One attempt to hand an email to the mail server, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailAttempt {
    pub message: String,
    pub template: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// 1 for the first.
    pub attempt: u32,
    /// Why it failed (the SMTP reply code, never the address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For a failed attempt that will be retried: when (the log's time
    /// format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_at: Option<String>,
    pub duration_ms: u64,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailEnd {
    Sent,
    /// Failed; retried at `next_at`.
    Failed,
    /// Refused for good, or failed its last attempt.
    Bounced,
}

pub fn queued(context: &Context, queued: &EmailQueued) -> NewEvent {
    context
        .event(EMAIL_QUEUED, email_subject(&queued.message))
        .data(data(queued))
}

/// Appended by the one deliverer, without an expected version.
pub fn attempted(context: &Context, attempt: &EmailAttempt, end: EmailEnd) -> NewEvent {
    let kind = match end {
        EmailEnd::Sent => EMAIL_SENT,
        EmailEnd::Failed => EMAIL_FAILED,
        EmailEnd::Bounced => EMAIL_BOUNCED,
    };
    let event = context.event(kind, email_subject(&attempt.message)).data(data(attempt));
    match end {
        EmailEnd::Sent => event,
        EmailEnd::Failed | EmailEnd::Bounced => event.outcome(crate::event::Outcome::Failure),
    }
}

// The sentences of these kinds (`super::sentence`); never the code, its
// hash or what an email said.

impl Summarize for CodeIssued {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event).words(" asked for a sign-in code by email");
        Some(match &self.user {
            Some(user) => sentence.words(" for ").user(user).from_where(event),
            None => sentence
                .words(" for an address no account can sign in with by code")
                .from_where(event)
                .words("; nothing was sent"),
        })
    }
}

impl Summarize for CodeRefused {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let what = match self.reason {
            CodeRefusal::NoCode => " entered a sign-in code for an address that was sent none",
            CodeRefusal::Wrong => " entered a wrong sign-in code",
            CodeRefusal::TooManyAttempts => " entered a sign-in code whose tries were used up",
            CodeRefusal::Expired => " entered an expired sign-in code",
            CodeRefusal::Used => " entered a sign-in code that was already used",
        };
        let sentence = Sentence::by(event).words(what).from_where(event);
        Some(if self.counted {
            sentence.words("; the try counted against the code")
        } else {
            sentence
        })
    }
}

impl Summarize for CodeUsed {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event);
        let sentence = if by_themselves(event, &self.user) {
            sentence.words(" signed in")
        } else {
            sentence.words(" signed in as ").user(&self.user)
        };
        Some(
            sentence
                .words(" with a code sent by email")
                .from_where(event)
                .words(", opening ")
                .refer(Ref::Session(self.session.clone())),
        )
    }
}

impl Summarize for EmailQueued {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = recipient(Sentence::by(event).words(" queued an email to "), self.user.as_deref());
        Some(template(sentence.words(" with "), &self.template))
    }
}

impl Summarize for EmailAttempt {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let verb = match event.kind.as_str() {
            EMAIL_SENT => " sent ",
            EMAIL_FAILED => " could not send ",
            EMAIL_BOUNCED => " gave up sending ",
            _ => return None,
        };
        let sentence = recipient(Sentence::by(event).words(verb), self.user.as_deref());
        let sentence = template(sentence.words(" an email with "), &self.template);
        if event.kind == EMAIL_SENT {
            return Some(match self.attempt {
                0 | 1 => sentence,
                attempt => sentence.words(" on attempt ").value(attempt.to_string()),
            });
        }
        let sentence = sentence.words(" (attempt ").value(self.attempt.to_string());
        let sentence = match self.error.as_deref() {
            Some(error) => sentence.words(": ").value(error).words(")"),
            None => sentence.words(")"),
        };
        Some(match self.next_at.as_deref() {
            Some(next) => sentence
                .words("; it will try again at ")
                .value(readable_time_text(next)),
            None => sentence,
        })
    }
}

/// The user an email is for, or an address of no account.
fn recipient(sentence: Sentence, user: Option<&str>) -> Sentence {
    match user {
        Some(user) => sentence.user(user),
        None => sentence.words("an address of no account"),
    }
}

/// What an email of `template` carries (`a sign-in code`).
fn template(sentence: Sentence, template: &str) -> Sentence {
    let what = match template {
        "sign_in_code" => "a sign-in code",
        "password_reset" => "a password reset link",
        "invitation" => "an invitation",
        "verify_email" => "a link to verify a new sign-in address",
        "new_device" => "a security notice of a sign-in from a new device",
        "password_changed" => "a security notice of a password change",
        "factor_added" => "a security notice of a second factor added",
        "factor_removed" => "a security notice of a second factor removed",
        "key_created" => "a security notice of an API key created",
        "email_changed" => "a security notice of a sign-in address change",
        other => return sentence.words("the message ").value(other),
    };
    sentence.words(what)
}
