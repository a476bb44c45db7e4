//! Second factors of a user: a TOTP authenticator, passkeys and backup
//! codes.
//!
//! Every factor event of a user lives on the subject `mfa:<user>` and is
//! appended with the version it was decided on, so two requests can never
//! both use the same TOTP step or the same backup code, even on two nodes.
//! Failed attempts live on `mfa-attempts:<user>`, so a flood of wrong codes
//! cannot block the right one with version conflicts. Secrets (the TOTP
//! secret, the backup codes' hashes) travel only sealed under the user's
//! data key (`docs/decisions/0010-mfa.md`).

use serde::{Deserialize, Serialize};

use super::sentence::{Ref, Sentence, Summarize, methods_in_words};
use super::{Context, Prefix, data, subject};
use crate::auth::totp::TotpParams;
use crate::auth::webauthn::{AuthenticationResult, CEREMONY_CLAIM, CREDENTIAL_CLAIM, Passkey};
use crate::event::{Event, NewEvent, Outcome};
use crate::keys::Sealed;

/// A TOTP secret was generated for a user; it counts once confirmed.
pub const TOTP_ENROLMENT_STARTED: &str = "mfa.totp.enrolment_started";
/// The user proved with a first valid code that their authenticator holds
/// the secret: from now on it is a second factor.
pub const TOTP_ENROLLED: &str = "mfa.totp.enrolled";
pub const TOTP_REMOVED: &str = "mfa.totp.removed";
/// A new set of backup codes; the previous set is dead.
pub const BACKUP_CODES_GENERATED: &str = "mfa.backup_codes.generated";
/// The user confirmed they saved the codes shown once.
pub const BACKUP_CODES_ACKNOWLEDGED: &str = "mfa.backup_codes.acknowledged";
/// A passkey was registered to the user (claims its credential id).
pub const PASSKEY_REGISTERED: &str = "mfa.passkey.registered";
pub const PASSKEY_RENAMED: &str = "mfa.passkey.renamed";
/// A passkey was removed (releases its credential id).
pub const PASSKEY_REMOVED: &str = "mfa.passkey.removed";
/// An owner, an admin or the operator removed every second factor of a
/// user (releases the passkeys' credential ids).
pub const RESET: &str = "mfa.reset";
/// A second factor verified: a TOTP step or a backup code is used up.
pub const VERIFIED: &str = "mfa.verified";
/// A wrong, replayed or throttled second-factor attempt.
pub const FAILED: &str = "mfa.failed";

pub fn mfa_subject(user: &str) -> String {
    subject(Prefix::Mfa, user)
}

pub fn attempts_subject(user: &str) -> String {
    subject(Prefix::MfaAttempts, user)
}

/// The second-factor methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    Totp,
    Passkey,
    BackupCode,
}

impl Factor {
    pub fn as_str(self) -> &'static str {
        match self {
            Factor::Totp => "totp",
            Factor::Passkey => "passkey",
            Factor::BackupCode => "backup_code",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasskeyRegistered {
    pub user: String,
    /// The credential id, base64url.
    pub credential: String,
    pub name: String,
    /// The public key and its metadata (no secret).
    pub passkey: Passkey,
    /// The ceremony that registered it (claimed: a registration answer
    /// works once).
    pub ceremony: String,
    /// The authenticator model, when an attestation allowlist admitted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aaguid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyRenamed {
    pub user: String,
    pub credential: String,
    pub old: String,
    pub new: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyRemoved {
    pub user: String,
    pub credential: String,
    pub name: String,
}

/// Every second factor of a user removed at once, by someone else: the
/// user lost them (a phone, a security key) and cannot sign in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactorsReset {
    pub user: String,
    /// Whether an authenticator app (confirmed or being set up) was removed.
    pub totp: bool,
    /// The credential ids of the passkeys removed.
    pub passkeys: Vec<String>,
    /// Whether a set of backup codes was removed.
    pub backup_codes: bool,
    pub reason: String,
    /// The operating-system user, when the operator ran `warden users
    /// recover --second-factors`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_user: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TotpEnrolmentStarted {
    pub user: String,
    pub enrolment: String,
    /// The base32 secret, sealed under the user's data key.
    pub secret: Sealed<String>,
    #[serde(flatten)]
    pub params: TotpParams,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpEnrolled {
    pub user: String,
    pub enrolment: String,
    /// The time step of the confirming code: it cannot be used again.
    pub step: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpRemoved {
    pub user: String,
    pub enrolment: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupCodesGenerated {
    pub user: String,
    pub set: String,
    /// The codes' hashes, in order, sealed under the user's data key.
    pub hashes: Sealed<Vec<String>>,
    pub count: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupCodesAcknowledged {
    pub user: String,
    pub set: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verified {
    pub user: String,
    pub factor: Factor,
    /// The session the factor was verified for.
    pub session: String,
    /// TOTP: the time step used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u64>,
    /// Backup codes: the set and the position of the code used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// Backup codes left in the set after this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<usize>,
    /// Passkeys: the credential used, and what the assertion said (its
    /// signature counter, user verification, backup state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<AuthenticationResult>,
    /// Passkeys: the ceremony (claimed: an assertion works once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceremony: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    WrongCode,
    /// A passkey assertion that did not verify (wrong signature, unknown
    /// credential, counter gone backwards, no user verification).
    InvalidAssertion,
    /// A TOTP code of a step already used, a used backup code, or a
    /// passkey ceremony already finished.
    Replayed,
    Throttled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failed {
    pub user: String,
    /// The factor tried, when the attempt named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<Factor>,
    pub reason: FailureReason,
    pub session: String,
}

pub fn start_totp(context: &Context, version: u64, started: &TotpEnrolmentStarted) -> NewEvent {
    context
        .event(TOTP_ENROLMENT_STARTED, mfa_subject(&started.user))
        .expect_version(version)
        .data(data(started))
}

pub fn enrol_totp(context: &Context, version: u64, enrolled: &TotpEnrolled) -> NewEvent {
    context
        .event(TOTP_ENROLLED, mfa_subject(&enrolled.user))
        .expect_version(version)
        .data(data(enrolled))
}

pub fn remove_totp(context: &Context, version: u64, removed: &TotpRemoved) -> NewEvent {
    context
        .event(TOTP_REMOVED, mfa_subject(&removed.user))
        .expect_version(version)
        .data(data(removed))
}

pub fn generate_backup_codes(context: &Context, version: u64, generated: &BackupCodesGenerated) -> NewEvent {
    context
        .event(BACKUP_CODES_GENERATED, mfa_subject(&generated.user))
        .expect_version(version)
        .data(data(generated))
}

pub fn acknowledge_backup_codes(context: &Context, version: u64, acknowledged: &BackupCodesAcknowledged) -> NewEvent {
    context
        .event(BACKUP_CODES_ACKNOWLEDGED, mfa_subject(&acknowledged.user))
        .expect_version(version)
        .data(data(acknowledged))
}

pub fn verified(context: &Context, version: u64, verified: &Verified) -> NewEvent {
    let event = context
        .event(VERIFIED, mfa_subject(&verified.user))
        .expect_version(version)
        .data(data(verified));
    match &verified.ceremony {
        Some(ceremony) => event.claim(CEREMONY_CLAIM, ceremony.clone()),
        None => event,
    }
}

pub fn register_passkey(context: &Context, version: u64, registered: &PasskeyRegistered) -> NewEvent {
    context
        .event(PASSKEY_REGISTERED, mfa_subject(&registered.user))
        .expect_version(version)
        .claim(CREDENTIAL_CLAIM, registered.credential.clone())
        .claim(CEREMONY_CLAIM, registered.ceremony.clone())
        .data(data(registered))
}

pub fn rename_passkey(context: &Context, version: u64, renamed: &PasskeyRenamed) -> NewEvent {
    context
        .event(PASSKEY_RENAMED, mfa_subject(&renamed.user))
        .expect_version(version)
        .data(data(renamed))
}

pub fn remove_passkey(context: &Context, version: u64, removed: &PasskeyRemoved) -> NewEvent {
    context
        .event(PASSKEY_REMOVED, mfa_subject(&removed.user))
        .expect_version(version)
        .release(CREDENTIAL_CLAIM, removed.credential.clone())
        .data(data(removed))
}

pub fn reset(context: &Context, version: u64, reset: &FactorsReset) -> NewEvent {
    let event = context
        .event(RESET, mfa_subject(&reset.user))
        .expect_version(version)
        .data(data(reset));
    reset.passkeys.iter().fold(event, |event, credential| {
        event.release(CREDENTIAL_CLAIM, credential.clone())
    })
}

pub fn failed(context: &Context, failed: &Failed) -> NewEvent {
    let outcome = match failed.reason {
        FailureReason::Throttled => Outcome::Denied,
        _ => Outcome::Failure,
    };
    context
        .event(FAILED, attempts_subject(&failed.user))
        .outcome(outcome)
        .data(data(failed))
}

/// Whether the actor of `event` is `user` (their own factors).
fn own(event: &Event, user: &str) -> bool {
    event.actor.id.as_deref() == Some(user)
}

/// " for mia@example.org" when someone else did it for `user`.
fn for_user(sentence: Sentence, event: &Event, user: &str) -> Sentence {
    match own(event, user) {
        true => sentence,
        false => sentence.words(" for ").user(user),
    }
}

/// "their passkey" or "the passkey of mia@example.org".
fn whose(sentence: Sentence, event: &Event, user: &str, what: &'static str) -> Sentence {
    match own(event, user) {
        true => sentence.words("their ").words(what),
        false => sentence.words("the ").words(what).words(" of ").user(user),
    }
}

fn quoted(sentence: Sentence, value: &str) -> Sentence {
    sentence.words("\"").value(value).words("\"")
}

impl Summarize for TotpEnrolmentStarted {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event).words(" started setting up an authenticator app");
        Some(for_user(sentence, event, &self.user))
    }
}

impl Summarize for TotpEnrolled {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event).words(" set up an authenticator app as a second factor");
        Some(for_user(sentence, event, &self.user))
    }
}

impl Summarize for TotpRemoved {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        Some(whose(
            Sentence::by(event).words(" removed "),
            event,
            &self.user,
            "authenticator app",
        ))
    }
}

impl Summarize for BackupCodesGenerated {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence =
            Sentence::by(event)
                .words(" generated ")
                .count(self.count as u64, "new backup code", "new backup codes");
        Some(for_user(sentence, event, &self.user).words(", replacing any earlier set"))
    }
}

impl Summarize for BackupCodesAcknowledged {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        Some(whose(
            Sentence::by(event).words(" confirmed saving "),
            event,
            &self.user,
            "backup codes",
        ))
    }
}

impl Summarize for PasskeyRegistered {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = quoted(Sentence::by(event).words(" registered the passkey "), &self.name);
        Some(for_user(sentence, event, &self.user))
    }
}

impl Summarize for PasskeyRenamed {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = whose(Sentence::by(event).words(" renamed "), event, &self.user, "passkey");
        Some(quoted(quoted(sentence.words(" "), &self.old).words(" to "), &self.new))
    }
}

impl Summarize for PasskeyRemoved {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = whose(Sentence::by(event).words(" removed "), event, &self.user, "passkey");
        Some(quoted(sentence.words(" "), &self.name))
    }
}

impl Summarize for FactorsReset {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = match self.os_user.as_deref() {
            Some(os_user) => Sentence::by(event).words(" (run by ").value(os_user).words(")"),
            None => Sentence::by(event),
        };
        let sentence = sentence.words(" removed every second factor of ").user(&self.user);
        let mut removed = Vec::new();
        if self.totp {
            removed.push("an authenticator app".to_string());
        }
        match self.passkeys.len() {
            0 => {}
            1 => removed.push("1 passkey".to_string()),
            n => removed.push(format!("{n} passkeys")),
        }
        if self.backup_codes {
            removed.push("backup codes".to_string());
        }
        let sentence = match removed.split_last() {
            None => sentence.words(" (none were set up)"),
            Some((last, [])) => sentence.words(format!(" ({last})")),
            Some((last, rest)) => sentence.words(format!(" ({} and {last})", rest.join(", "))),
        };
        Some(match self.reason.trim() {
            "" => sentence,
            reason => quoted(sentence.words(", giving the reason "), reason),
        })
    }
}

impl Summarize for Verified {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event).words(" confirmed their identity with ");
        let sentence = methods_in_words(sentence, std::iter::once(self.factor.as_str()), " and ");
        let sentence = match (self.factor, self.remaining) {
            (Factor::BackupCode, Some(remaining)) => sentence.words(format!(" ({remaining} left)")),
            _ => sentence,
        };
        Some(
            sentence
                .words(" in ")
                .refer(Ref::Session(self.session.clone()))
                .from_where(event),
        )
    }
}

impl Summarize for Failed {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event).words(" failed to confirm their identity with ");
        let sentence = match self.factor {
            Some(factor) => methods_in_words(sentence, std::iter::once(factor.as_str()), " and "),
            None => sentence.words("a second factor"),
        };
        Some(
            sentence
                .words(" in ")
                .refer(Ref::Session(self.session.clone()))
                .words(match self.reason {
                    FailureReason::WrongCode => " (wrong code)",
                    FailureReason::InvalidAssertion => " (the passkey's answer did not verify)",
                    FailureReason::Replayed => " (a code or passkey answer already used)",
                    FailureReason::Throttled => " (too many attempts)",
                })
                .from_where(event),
        )
    }
}
