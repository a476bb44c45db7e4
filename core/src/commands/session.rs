//! Sessions: a signed-in browser. The token lives only in the cookie; the
//! events carry its hash.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::sentence::{Ref, Sentence, Summarize, methods_in_words};
use super::{Context, Prefix, data, subject, subject_id};
use crate::auth::device::Device;
use crate::commands::mfa::Factor;
use crate::event::{ActorKind, Event, NewEvent, Outcome};

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

/// How strongly a session's user proved who they are (NIST SP 800-63B's
/// authenticator assurance levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// One factor.
    Aal1,
    /// Two factors, or a passkey with user verification.
    Aal2,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Aal1 => "aal1",
            Level::Aal2 => "aal2",
        }
    }
}

/// How a session reached its assurance level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assurance {
    pub level: Level,
    /// The methods used, in order: `password`, `totp`, `passkey` …
    pub methods: Vec<String>,
    #[serde(with = "crate::event::timestamp")]
    pub at: DateTime<Utc>,
}

/// The step a partial session must still do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Prove one of the offered factors.
    SecondFactor,
    /// Set up one of the offered factors (the org requires a second
    /// factor and the user has none it counts).
    Enrolment,
}

/// What a partial session must still do before it is a full one. Until
/// then it may only complete that step or sign out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub step: Step,
    /// The factors that complete the step.
    pub factors: Vec<Factor>,
}

impl Pending {
    /// Prove one of `factors`.
    pub fn second_factor(factors: Vec<Factor>) -> Self {
        Pending {
            step: Step::SecondFactor,
            factors,
        }
    }

    /// Set up one of `factors` (the org requires a second factor).
    pub fn enrolment(factors: Vec<Factor>) -> Self {
        Pending {
            step: Step::Enrolment,
            factors,
        }
    }

    pub fn is_enrolment(&self) -> bool {
        self.step == Step::Enrolment
    }

    pub fn is_second_factor(&self) -> bool {
        self.step == Step::SecondFactor
    }

    /// Whether `factor` completes it.
    pub fn offers(&self, factor: Factor) -> bool {
        self.factors.contains(&factor)
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
    pub reason: RotationReason,
}

/// Why a session got a new token without a new assurance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationReason {
    /// The user's role or status changed since the token was issued.
    PrivilegesChanged,
    /// The user changed their password in this session.
    PasswordChanged,
}

/// Why a session was elevated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ElevationReason {
    /// A partial session proved its second factor.
    SecondFactor,
    /// A fresh authentication for a sensitive action.
    StepUp,
    /// A partial session set up the factor the org requires.
    Enrolment,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionElevated {
    pub user: String,
    /// The new token's hash: the old token stops working.
    pub token_hash: String,
    /// The assurance now: its `at` is the time of this authentication.
    pub assurance: Assurance,
    pub reason: ElevationReason,
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
    pub reason: RevocationReason,
}

/// Why a session ended before its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// The user signed out of this session.
    SignedOut,
    /// The user ended this session from another one.
    RevokedByUser,
    /// The user signed out everywhere else.
    SignedOutElsewhere,
    /// An owner or admin ended the user's sessions.
    RevokedByAdmin,
    /// The user was disabled.
    UserDisabled,
    /// The user changed their password (every other session ends).
    PasswordChanged,
    /// The import that created the user was reverted.
    ImportReverted,
    /// The user's password was reset by a link.
    PasswordReset,
    /// An admin or the operator removed the user's second factors.
    SecondFactorsReset,
}

impl RevocationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::SignedOut => "signed_out",
            RevocationReason::RevokedByUser => "revoked_by_user",
            RevocationReason::SignedOutElsewhere => "signed_out_elsewhere",
            RevocationReason::RevokedByAdmin => "revoked_by_admin",
            RevocationReason::UserDisabled => "user_disabled",
            RevocationReason::PasswordChanged => "password_changed",
            RevocationReason::ImportReverted => "import_reverted",
            RevocationReason::PasswordReset => "password_reset",
            RevocationReason::SecondFactorsReset => "second_factors_reset",
        }
    }
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

/// The session an event of `session:<id>` is about.
fn this_session(sentence: Sentence, event: &Event) -> Sentence {
    match subject_id(&event.subject, Prefix::Session) {
        Some(id) => sentence.refer(Ref::Session(id.to_string())),
        None => sentence.words("a session"),
    }
}

/// " (yet to prove an authenticator app or a backup code)".
fn still_pending(sentence: Sentence, pending: Option<&Pending>) -> Sentence {
    let Some(pending) = pending else {
        return sentence;
    };
    let sentence = match pending.step {
        Step::SecondFactor => sentence.words(" (yet to prove "),
        Step::Enrolment => sentence.words(" (yet to set up "),
    };
    let sentence = match pending.factors.is_empty() {
        true => sentence.words("a second factor"),
        false => methods_in_words(sentence, pending.factors.iter().map(|factor| factor.as_str()), " or "),
    };
    sentence.words(")")
}

impl Summarize for SessionCreated {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = this_session(Sentence::by(event).words(" started "), event).words(" with ");
        let sentence = methods_in_words(sentence, self.assurance.methods.iter().map(String::as_str), " and ");
        Some(still_pending(sentence, self.pending.as_ref()).from_where(event))
    }
}

impl Summarize for SessionRefreshed {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        Some(this_session(Sentence::by(event).words(" was active again in "), event).from_where(event))
    }
}

impl Summarize for SessionRotated {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = match event.actor.kind {
            ActorKind::System => this_session(Sentence::by(event).words(" gave "), event).words(" a new token"),
            _ => this_session(Sentence::by(event).words(" received a new token for "), event),
        };
        Some(match self.reason {
            RotationReason::PrivilegesChanged => sentence.words(" because the user's role or status changed"),
            RotationReason::PasswordChanged => sentence.words(" because the user changed their password"),
        })
    }
}

impl Summarize for SessionRevoked {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let own = event.actor.id.as_deref() == Some(self.user.as_str());
        if self.reason == RevocationReason::SignedOut && own {
            return Some(this_session(Sentence::by(event).words(" signed out of "), event));
        }
        let sentence = this_session(Sentence::by(event).words(" ended "), event);
        let sentence = match own {
            true => sentence,
            false => sentence.words(" of ").user(&self.user),
        };
        Some(sentence.words(match self.reason {
            RevocationReason::SignedOut => " (signed out)",
            RevocationReason::RevokedByUser => " from another session",
            RevocationReason::SignedOutElsewhere => " by signing out everywhere else",
            RevocationReason::RevokedByAdmin => "",
            RevocationReason::UserDisabled => " because the account was disabled",
            RevocationReason::PasswordChanged => " because the password was changed",
            RevocationReason::ImportReverted => " because the import that created the account was reverted",
            RevocationReason::PasswordReset => " because the password was reset by an emailed link",
            RevocationReason::SecondFactorsReset => " because the account's second factors were reset",
        }))
    }
}

impl Summarize for SessionElevated {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        // The factor just proved is the last of the methods.
        let proved = |sentence: Sentence, words: &'static str| match self.assurance.methods.last() {
            Some(method) => methods_in_words(sentence.words(words), std::iter::once(method.as_str()), " and "),
            None => sentence,
        };
        let sentence = Sentence::by(event);
        let sentence = match self.reason {
            ElevationReason::SecondFactor => proved(
                this_session(sentence.words(" completed signing in to "), event),
                " with ",
            ),
            ElevationReason::Enrolment => proved(
                this_session(sentence.words(" completed signing in to "), event),
                " by setting up ",
            ),
            ElevationReason::StepUp => {
                let sentence = proved(sentence.words(" confirmed it was them"), " with ");
                this_session(sentence.words(" for a sensitive action in "), event)
            }
        };
        Some(still_pending(sentence, self.pending.as_ref()).from_where(event))
    }
}

impl Summarize for DeviceFirstSeen {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let device = format!("{} on {}", self.device.browser, self.device.os);
        let sentence = Sentence::by(event)
            .words(" signed in on a new device (")
            .value(device)
            .words(")");
        let sentence = match self.ip.as_deref() {
            Some(ip) => sentence.words(" from ").value(ip),
            None => sentence,
        };
        Some(sentence.words(" in ").refer(Ref::Session(self.session.clone())))
    }
}

impl Summarize for CsrfRefused {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event)
            .words(" was refused the request ")
            .value(format!("{} {}", self.method, self.path));
        let sentence = match self.reason.as_str() {
            "missing_token" => sentence.words(" because it had no CSRF token"),
            "wrong_token" => sentence.words(" because its CSRF token was wrong"),
            "foreign_origin" => sentence.words(" because it came from another origin"),
            "cross_site" => sentence.words(" because it came from another site"),
            other => sentence.words(" (").value(other.replace('_', " ")).words(")"),
        };
        Some(match self.origin.as_deref() {
            Some(origin) => sentence.words(" (").value(origin).words(")"),
            None => sentence,
        })
    }
}

impl Summarize for AccessDenied {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event)
            .words(" was refused the request ")
            .value(format!("{} {}", self.method, self.path))
            .words(" (");
        let sentence = match self.code.as_str() {
            "session_required" => sentence.words("not signed in"),
            "unauthorized" => sentence.words("no valid credentials"),
            "forbidden" => sentence.words("not permitted"),
            "second_factor_required" => sentence.words("a second factor not yet proved"),
            "enrolment_required" => sentence.words("a required second factor not yet set up"),
            "reauthentication_required" => sentence.words("a recent sign-in needed for a sensitive action"),
            other => sentence.value(other.replace('_', " ")),
        };
        Some(sentence.words(")"))
    }
}
