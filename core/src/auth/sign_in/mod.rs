//! Signing in: what a first factor that passed leads to, and the session
//! it opens. Every way of signing in (a password here, a passkey, and the
//! methods to come) goes through [`after_first_factor`] (the org's MFA
//! policy) and [`open`], so none can open a session the policy does not
//! allow, or open one differently.
//!
//! Nothing here does I/O, reads a clock or draws randomness: the flows
//! read the state, check the factor, draw the session's id and token, and
//! pass them in.

pub mod password;

use chrono::{DateTime, Duration, Utc};

use super::device::Device;
use super::mfa_policy::{self, Decision, Method, MfaPolicy, SignIn};
use crate::commands::account::{FailureReason, LoginFailed, LoginSucceeded, Role, Status};
use crate::commands::mfa::Factor;
use crate::commands::org::SessionPolicy;
use crate::commands::session::{self, Assurance, DeviceFirstSeen, Level, Pending, SessionCreated};
use crate::commands::{Caller, Context, account};
use crate::event::NewEvent;

/// How long a partial session (a sign-in waiting for its second factor)
/// lives.
pub const PARTIAL_SESSION: Duration = Duration::minutes(10);

/// What sign-in decisions know of an account (from the accounts read
/// model).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub org: String,
    pub status: Status,
    /// Owners keep their other methods where the org requires single
    /// sign-on.
    pub role: Role,
    /// The version of `user:<id>`: a password change is decided on it.
    pub version: u64,
    pub created_at: DateTime<Utc>,
}

/// The rules of the account's org that a sign-in follows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OrgRules {
    pub session: SessionPolicy,
    pub mfa: MfaPolicy,
    /// When the org's policy last began to require a second factor.
    pub mfa_required_since: Option<DateTime<Utc>>,
}

/// What the flow drew for a new session: its id and its token's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub id: String,
    pub token_hash: String,
}

/// The device a sign-in comes from, and whether the account used it
/// before (a `device.first_seen` otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSeen {
    pub device: Device,
    pub known: bool,
}

/// What a first factor that passed leads to under the org's MFA policy: a
/// step still pending, and the end of the enrolment grace period when the
/// user is inside it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AfterFirstFactor {
    pub pending: Option<Pending>,
    pub enrolment_due: Option<DateTime<Utc>>,
}

/// Why no session was opened, though the first factor passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodNotAllowed {
    /// The org's policy does not allow the method (or allows it only
    /// with a second factor it allows none of): why.
    ByPolicy(&'static str),
    /// The org requires single sign-on of everyone but its owners.
    SsoRequired,
}

impl MethodNotAllowed {
    pub fn message(self) -> &'static str {
        match self {
            MethodNotAllowed::ByPolicy(reason) => reason,
            MethodNotAllowed::SsoRequired => "your organization signs in with single sign-on: use it to sign in",
        }
    }
}

/// The MFA policy's decision for `account` signing in by `method`, given
/// the second factors it has (`enrolled`).
pub fn after_first_factor(
    account: &Account,
    rules: &OrgRules,
    enrolled: &[Factor],
    method: Method,
    first_factor_is_mfa: bool,
    now: DateTime<Utc>,
) -> Result<AfterFirstFactor, MethodNotAllowed> {
    decided(account, rules, enrolled, method, (first_factor_is_mfa, false), now)
}

/// The same for a sign-in at an identity provider (single sign-on),
/// which may have asserted a second factor of its own (`upstream_mfa`):
/// it counts where the org's policy trusts the provider's.
pub fn after_upstream_sign_in(
    account: &Account,
    rules: &OrgRules,
    enrolled: &[Factor],
    method: Method,
    upstream_mfa: bool,
    now: DateTime<Utc>,
) -> Result<AfterFirstFactor, MethodNotAllowed> {
    decided(account, rules, enrolled, method, (false, upstream_mfa), now)
}

fn decided(
    account: &Account,
    rules: &OrgRules,
    enrolled: &[Factor],
    method: Method,
    (first_factor_is_mfa, upstream_mfa): (bool, bool),
    now: DateTime<Utc>,
) -> Result<AfterFirstFactor, MethodNotAllowed> {
    let required_since = rules
        .mfa_required_since
        .map_or(account.created_at, |since| since.max(account.created_at));
    let decision = mfa_policy::decide(
        &rules.mfa,
        &SignIn {
            method,
            owner: account.role == Role::Owner,
            enrolled,
            first_factor_is_mfa,
            upstream_mfa,
            required_since,
            now,
        },
    );
    Ok(match decision {
        Decision::Full => AfterFirstFactor::default(),
        Decision::FullUntilEnrolled { deadline } => AfterFirstFactor {
            pending: None,
            enrolment_due: Some(deadline),
        },
        Decision::SecondFactor { factors } => AfterFirstFactor {
            pending: Some(Pending::second_factor(factors)),
            enrolment_due: None,
        },
        Decision::Enrol { factors } => AfterFirstFactor {
            pending: Some(Pending::enrolment(factors)),
            enrolment_due: None,
        },
        Decision::Refused { reason } => return Err(MethodNotAllowed::ByPolicy(reason)),
        Decision::SsoRequired => return Err(MethodNotAllowed::SsoRequired),
    })
}

/// A session to open: who, how they proved it, and what is still pending.
#[derive(Debug, Clone)]
pub struct Opening<'a> {
    pub account: &'a Account,
    pub session: &'a NewSession,
    pub level: Level,
    pub methods: &'a [&'a str],
    pub pending: Option<Pending>,
    pub policy: SessionPolicy,
    pub device: &'a DeviceSeen,
}

/// The events that open a session: `session.created`, and
/// `device.first_seen` for a device the account never used. A partial
/// session lives [`PARTIAL_SESSION`]; a full one the org's absolute
/// timeout.
pub fn open(caller: &Caller, opening: Opening, now: DateTime<Utc>) -> Vec<NewEvent> {
    let Opening {
        account,
        session,
        level,
        methods,
        pending,
        policy,
        device,
    } = opening;
    let context = caller.as_user(&account.id, &account.org);
    let expires_at = match pending {
        Some(_) => now + PARTIAL_SESSION,
        None => now + seconds(policy.absolute_timeout_seconds),
    };
    let fingerprint = device.device.fingerprint();
    let mut events = vec![session::create(
        &context,
        &session.id,
        &SessionCreated {
            user: account.id.clone(),
            org: account.org.clone(),
            token_hash: session.token_hash.clone(),
            ip: caller.ip.clone(),
            user_agent: caller.user_agent.clone(),
            device: device.device.clone(),
            fingerprint: fingerprint.clone(),
            assurance: Assurance {
                level,
                methods: methods.iter().map(|method| method.to_string()).collect(),
                at: now,
            },
            pending,
            idle_timeout_seconds: policy.idle_timeout_seconds,
            expires_at,
        },
    )];
    if !device.known {
        events.push(session::device_first_seen(
            &context,
            &DeviceFirstSeen {
                user: account.id.clone(),
                fingerprint,
                device: device.device.clone(),
                session: session.id.clone(),
                ip: caller.ip.clone(),
            },
        ));
    }
    events
}

/// `login.succeeded` for a session just opened.
pub fn succeeded(caller: &Caller, account: &Account, method: &str, identifier: &str, opened: &SignedIn) -> NewEvent {
    account::login_succeeded(
        &caller.as_user(&account.id, &account.org),
        &LoginSucceeded {
            user: account.id.clone(),
            method: method.into(),
            session: opened.session.clone(),
            identifier: identifier.to_string(),
            second_factor_pending: opened.pending.is_some(),
        },
    )
}

/// `login.failed`: a sign-in (or a password confirmation, by `method`)
/// refused for `reason`, about the typed identifier.
pub fn failed(
    context: &Context,
    user: Option<&str>,
    identifier: &str,
    reason: FailureReason,
    method: &str,
) -> NewEvent {
    account::login_failed(
        context,
        &LoginFailed {
            user: user.map(str::to_string),
            method: method.into(),
            reason,
            identifier: identifier.to_string(),
        },
    )
}

/// A sign-in decided: the events to append, and what the answer says
/// beyond them.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub events: Vec<NewEvent>,
    pub session: String,
    pub pending: Option<Pending>,
    /// Inside the enrolment grace period: enrol a second factor before.
    pub enrolment_due: Option<DateTime<Utc>>,
}

/// Whole seconds as a duration, saturating far beyond any real timeout.
pub fn seconds(value: u64) -> Duration {
    Duration::seconds(
        i64::try_from(value)
            .unwrap_or(i64::MAX / 1_000_000)
            .min(i64::MAX / 1_000_000),
    )
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! The state the sign-in tables start from.

    use super::*;

    pub fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    pub fn caller() -> Caller {
        Caller {
            request_id: "req-1".into(),
            ip: Some("192.0.2.7".into()),
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0".into()),
        }
    }

    /// Session `s-1` of `u-1`, an hour old, ending in five minutes.
    pub fn session<'a>(
        assurance: &'a crate::commands::session::Assurance,
        pending: Option<&'a Pending>,
    ) -> crate::auth::SessionState<'a> {
        crate::auth::SessionState {
            id: "s-1",
            user: "u-1",
            org: "o-1",
            assurance,
            pending,
            created_at: now() - Duration::hours(1),
            expires_at: now() + Duration::minutes(5),
        }
    }

    pub fn account(status: Status) -> Account {
        Account {
            id: "u-1".into(),
            org: "o-1".into(),
            status,
            role: Role::Member,
            version: 3,
            created_at: now() - Duration::days(30),
        }
    }

    pub fn new_session() -> NewSession {
        NewSession {
            id: "s-1".into(),
            token_hash: "ab".repeat(32),
        }
    }

    pub fn device(known: bool) -> DeviceSeen {
        DeviceSeen {
            device: Device::from_user_agent(caller().user_agent.as_deref().unwrap_or("")),
            known,
        }
    }

    /// An org that requires a second factor after a password, since long
    /// enough that no grace is left.
    pub fn requiring_mfa() -> OrgRules {
        let mut rules = OrgRules::default();
        for rule in rules.mfa.rules.values_mut() {
            rule.require_mfa = true;
        }
        rules.mfa_required_since = Some(now() - Duration::days(60));
        rules.mfa.enrolment_grace_seconds = 7 * 24 * 3600;
        rules
    }
}
