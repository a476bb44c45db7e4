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

use super::{Context, Prefix, data, subject};
use crate::auth::totp::TotpParams;
use crate::auth::webauthn::{AuthenticationResult, CEREMONY_CLAIM, CREDENTIAL_CLAIM, Passkey};
use crate::event::{NewEvent, Outcome};
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
