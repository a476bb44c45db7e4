//! Step-up: sensitive actions need a recent strong authentication, and a
//! further proof elevates a session (a new assurance and a new token; the
//! old token stops working).
//!
//! "Strong" is a second factor for users who have one, the password for
//! those who have none: a password alone never refreshes a two-factor
//! session.

use chrono::{DateTime, Duration, Utc};

use super::password::Verification;
use super::{Refusal, SessionState};
use crate::commands::Caller;
use crate::commands::account::FailureReason;
use crate::commands::org::SessionPolicy;
use crate::commands::session::{self, Assurance, ElevationReason, Level, Pending, SessionElevated};
use crate::event::NewEvent;

/// Why a sensitive action or a re-authentication was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The session's last strong authentication is too old (or too weak):
    /// prove a second factor (`with_second_factor`) or the password again.
    ReauthenticationRequired { with_second_factor: bool },
    /// A password re-authentication by a user who has a second factor.
    UseSecondFactor,
    /// The password given to re-authenticate is wrong.
    WrongPassword,
    /// An API key asks: a key never authenticates strongly and recently,
    /// so what needs a step-up needs a person.
    NotAPerson,
}

/// Whether the session's last strong authentication is recent enough for
/// a sensitive action.
pub fn require(
    session: &SessionState,
    has_second_factor: bool,
    max_age: Duration,
    now: DateTime<Utc>,
) -> Result<(), Rejection> {
    let assurance = session.assurance;
    let fresh = now - assurance.at <= max_age;
    let strong = !has_second_factor || assurance.level == Level::Aal2;
    if fresh && strong {
        Ok(())
    } else {
        Err(Rejection::ReauthenticationRequired {
            with_second_factor: has_second_factor,
        })
    }
}

/// A new assurance for a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elevation {
    pub level: Level,
    /// Every method proved in the session, in order.
    pub methods: Vec<String>,
    pub reason: ElevationReason,
}

/// The elevation decided: its event, and what the answer tells.
#[derive(Debug, Clone)]
pub struct Elevated {
    pub event: NewEvent,
    pub expires_at: DateTime<Utc>,
    /// Still pending after it: an enrolment the org requires, when the user
    /// proved an existing factor the org does not count.
    pub pending: Option<Pending>,
}

/// `session.elevated` for `session`, with the new token's hash. A session
/// waiting for an enrolment stays waiting unless this is that enrolment; a
/// completed sign-in gets the org's absolute lifetime from its start, and
/// a step-up (or a sign-in still pending) keeps the session's end.
pub fn elevate(
    caller: &Caller,
    session: &SessionState,
    elevation: Elevation,
    token_hash: &str,
    policy: SessionPolicy,
    now: DateTime<Utc>,
) -> Elevated {
    let pending = session
        .pending
        .filter(|pending| pending.is_enrolment() && elevation.reason != ElevationReason::Enrolment)
        .cloned();
    let expires_at = if session.pending.is_none() || pending.is_some() {
        session.expires_at
    } else {
        session.created_at + super::sign_in::seconds(policy.absolute_timeout_seconds)
    };
    let event = session::elevate(
        &caller.as_user(session.user, session.org),
        session.id,
        &SessionElevated {
            user: session.user.to_string(),
            token_hash: token_hash.to_string(),
            assurance: Assurance {
                level: elevation.level,
                methods: elevation.methods,
                at: now,
            },
            reason: elevation.reason,
            expires_at,
            pending: pending.clone(),
        },
    );
    Elevated {
        event,
        expires_at,
        pending,
    }
}

/// What a password re-authentication is decided on.
#[derive(Debug, Clone)]
pub struct Reauthentication<'a> {
    pub session: &'a SessionState<'a>,
    pub has_second_factor: bool,
    /// The password checked against the user's hash.
    pub verification: Verification,
    pub policy: SessionPolicy,
}

/// Re-authenticates with the password (users without a second factor):
/// a fresh `aal1`, a new token. A wrong password is a `login.failed`
/// (method `reauthenticate`) on the user's identifier, throttled with the
/// sign-ins.
pub fn reauthenticate(
    state: &Reauthentication,
    caller: &Caller,
    identifier: &str,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Elevated, Refusal<Rejection>> {
    let session = state.session;
    if state.has_second_factor {
        return Err(Refusal::new(Rejection::UseSecondFactor));
    }
    if state.verification == Verification::Invalid {
        let event = super::sign_in::failed(
            &caller.as_user(session.user, session.org),
            Some(session.user),
            identifier,
            FailureReason::WrongPassword,
            "reauthenticate",
        );
        return Err(Refusal::recorded(Rejection::WrongPassword, vec![event]));
    }
    let elevation = Elevation {
        level: Level::Aal1,
        methods: vec!["password".into()],
        reason: ElevationReason::StepUp,
    };
    Ok(elevate(caller, session, elevation, token_hash, state.policy, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sign_in::fixtures::{caller, now, session};
    use crate::commands::mfa::Factor;

    fn assurance(level: Level, minutes_ago: i64) -> Assurance {
        Assurance {
            level,
            methods: vec!["password".into()],
            at: now() - Duration::minutes(minutes_ago),
        }
    }

    #[test]
    fn recent_strong_authentication_table() {
        let max_age = Duration::minutes(10);
        // (level, minutes ago, has a second factor, allowed)
        let cases = [
            (Level::Aal1, 1, false, true),
            (Level::Aal1, 10, false, true),
            (Level::Aal1, 11, false, false),
            (Level::Aal1, 1, true, false),
            (Level::Aal2, 1, true, true),
            (Level::Aal2, 11, true, false),
            (Level::Aal2, 1, false, true),
        ];
        for (level, minutes, has_factor, allowed) in cases {
            let assurance = assurance(level, minutes);
            let decided = require(&session(&assurance, None), has_factor, max_age, now());
            let expected = if allowed {
                Ok(())
            } else {
                Err(Rejection::ReauthenticationRequired {
                    with_second_factor: has_factor,
                })
            };
            assert_eq!(decided, expected, "{level:?} {minutes} min ago, factor: {has_factor}");
        }
    }

    #[test]
    fn elevation_table() {
        let policy = SessionPolicy {
            idle_timeout_seconds: 3600,
            absolute_timeout_seconds: 86_400,
        };
        let second = Pending::second_factor(vec![Factor::Totp]);
        let enrol = Pending::enrolment(vec![Factor::Totp]);
        let assurance = assurance(Level::Aal1, 1);
        let session_end = now() + Duration::minutes(5);
        let full_lifetime = now() - Duration::hours(1) + Duration::days(1);
        // (pending before, reason, pending after, session end after)
        let cases = [
            (None, ElevationReason::StepUp, None, session_end),
            (Some(&second), ElevationReason::SecondFactor, None, full_lifetime),
            (Some(&enrol), ElevationReason::StepUp, Some(enrol.clone()), session_end),
            (Some(&enrol), ElevationReason::Enrolment, None, full_lifetime),
        ];
        for (before, reason, after, expires_at) in cases {
            let elevation = Elevation {
                level: Level::Aal2,
                methods: vec!["password".into(), "totp".into()],
                reason,
            };
            let elevated = elevate(
                &caller(),
                &session(&assurance, before),
                elevation,
                "hash",
                policy,
                now(),
            );
            assert_eq!(elevated.pending, after, "{before:?} {reason:?}");
            assert_eq!(elevated.expires_at, expires_at, "{before:?} {reason:?}");
            let data: SessionElevated = serde_json::from_value(elevated.event.data).unwrap();
            assert_eq!((data.reason, data.assurance.level), (reason, Level::Aal2));
            assert_eq!(data.assurance.at, now());
            assert_eq!(elevated.event.subject, "session:s-1");
        }
    }

    #[test]
    fn reauthentication_table() {
        let assurance = assurance(Level::Aal1, 30);
        let current = session(&assurance, None);
        let valid = Verification::Valid { rehash: false };
        // (has a second factor, verdict, outcome, recorded kinds)
        type Row = (bool, Verification, Result<(), Rejection>, &'static [&'static str]);
        let cases: [Row; 3] = [
            (true, valid, Err(Rejection::UseSecondFactor), &[]),
            (
                false,
                Verification::Invalid,
                Err(Rejection::WrongPassword),
                &["login.failed"],
            ),
            (false, valid, Ok(()), &["session.elevated"]),
        ];
        for (has_second_factor, verification, outcome, kinds) in cases {
            let state = Reauthentication {
                session: &current,
                has_second_factor,
                verification,
                policy: SessionPolicy::default(),
            };
            let decided = reauthenticate(&state, &caller(), "id-1", "hash", now());
            let (got, events) = match decided {
                Ok(elevated) => (Ok(()), vec![elevated.event]),
                Err(refusal) => (Err(refusal.reason), refusal.events),
            };
            assert_eq!(got, outcome);
            let got_kinds: Vec<&str> = events.iter().map(|event| event.kind.as_str()).collect();
            assert_eq!(got_kinds, kinds);
        }
    }
}
