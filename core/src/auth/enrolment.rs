//! Enrolling a second factor: setting up an authenticator (TOTP), and what
//! every new factor brings with it (a passkey's registration ceremony is
//! checked elsewhere and comes in as its event).
//!
//! - Only a recent strong authentication may add a factor: a stolen session
//!   must not add its thief's authenticator (a sign-in that waits for an
//!   enrolment is recent: its user just proved their password).
//! - A session waiting for an enrolment may set up only a factor the org
//!   counts; completing it elevates the session to `aal2`.
//! - The first factor comes with backup codes (and so does any factor when
//!   no code is left).

use chrono::{DateTime, Utc};

use super::step_up::{self, Elevated, Elevation, elevate};
use super::totp::Totp;
use super::{Refusal, SessionState};
use crate::commands::Caller;
use crate::commands::mfa::{self, BackupCodesGenerated, Factor, FailureReason, TotpEnrolled, TotpEnrolmentStarted};
use crate::commands::org::SessionPolicy;
use crate::commands::session::{ElevationReason, Level};
use crate::event::NewEvent;

/// Why a factor was not set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The session waits for an enrolment the org counts only these
    /// factors for.
    FactorNotAllowed(Vec<Factor>),
    /// Adding a factor needs a recent strong authentication.
    StepUp(step_up::Rejection),
    /// An authenticator is set up already: remove it first.
    AlreadyEnrolled,
    /// No authenticator is being set up.
    NoEnrolment,
    /// The confirming code is wrong or already used (an `mfa.failed`).
    InvalidCode,
}

/// Whether the session may set up `factor`: refused when it waits for an
/// enrolment the org does not count `factor` for, or without a recent
/// strong authentication.
pub fn may_enrol(
    session: &SessionState,
    factor: Factor,
    recent_authentication: Result<(), step_up::Rejection>,
) -> Result<(), Rejection> {
    match session.pending {
        Some(pending) if pending.is_enrolment() && !pending.offers(factor) => {
            Err(Rejection::FactorNotAllowed(pending.factors.clone()))
        }
        _ => recent_authentication.map_err(Rejection::StepUp),
    }
}

/// Whether a new factor comes with a new set of backup codes: when the
/// user has none left (`remaining`: the codes left, `None` without a set).
pub fn needs_backup_codes(remaining: Option<usize>) -> bool {
    remaining.is_none_or(|remaining| remaining == 0)
}

/// What the user's factors are when a TOTP enrolment is decided.
#[derive(Debug, Clone)]
pub struct TotpState<'a> {
    /// The version of `mfa:<user>`.
    pub version: u64,
    pub enrolled: bool,
    /// The authenticator being set up: its enrolment id and checker.
    pub pending: Option<(&'a str, &'a Totp)>,
    pub last_totp_step: u64,
}

/// Starts setting up an authenticator (replacing one being set up) with a
/// secret drawn and sealed by the flow.
pub fn start_totp(
    caller: &Caller,
    session: &SessionState,
    factors: &TotpState,
    recent_authentication: Result<(), step_up::Rejection>,
    started: &TotpEnrolmentStarted,
) -> Result<Vec<NewEvent>, Rejection> {
    may_enrol(session, Factor::Totp, recent_authentication)?;
    if factors.enrolled {
        return Err(Rejection::AlreadyEnrolled);
    }
    let context = caller.as_user(session.user, session.org);
    Ok(vec![mfa::start_totp(&context, factors.version, started)])
}

/// What completing an enrolment appends, and the elevation it made.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub events: Vec<NewEvent>,
    /// Set when the session was waiting for this enrolment.
    pub elevated: Option<Elevated>,
}

/// What a new factor brings along, drawn by the flow.
#[derive(Debug, Clone)]
pub struct Along<'a> {
    /// A new set of backup codes, when [`needs_backup_codes`] said so.
    pub backup_codes: Option<BackupCodesGenerated>,
    /// The session's new token, if the enrolment completes its sign-in.
    pub token_hash: &'a str,
    pub policy: SessionPolicy,
}

/// Confirms the authenticator being set up with a first code valid at
/// `now` and newer than any step used.
pub fn confirm_totp(
    caller: &Caller,
    session: &SessionState,
    factors: &TotpState,
    code: &str,
    along: Along,
    now: DateTime<Utc>,
) -> Result<Enrolled, Refusal<Rejection>> {
    let Some((enrolment, totp)) = factors.pending else {
        return Err(Refusal::new(Rejection::NoEnrolment));
    };
    let at = u64::try_from(now.timestamp()).unwrap_or_default();
    let step = match totp.check(code, at) {
        Some(step) if step > factors.last_totp_step => step,
        found => {
            let reason = match found {
                Some(_) => FailureReason::Replayed,
                None => FailureReason::WrongCode,
            };
            let event = super::second_factor::failed(caller, session, Some(Factor::Totp), reason);
            return Err(Refusal::recorded(Rejection::InvalidCode, vec![event]));
        }
    };
    let context = caller.as_user(session.user, session.org);
    let event = mfa::enrol_totp(
        &context,
        factors.version,
        &TotpEnrolled {
            user: session.user.to_string(),
            enrolment: enrolment.to_string(),
            step,
        },
    );
    Ok(enrol(caller, session, Factor::Totp, factors.version, event, along, now))
}

/// A factor's enrolment event (decided on the factors at `version`), with
/// the backup codes it brings (decided on the next version) and the
/// session's elevation when its sign-in waited for this factor.
pub fn enrol(
    caller: &Caller,
    session: &SessionState,
    factor: Factor,
    version: u64,
    event: NewEvent,
    along: Along,
    now: DateTime<Utc>,
) -> Enrolled {
    let context = caller.as_user(session.user, session.org);
    let mut events = vec![event];
    if let Some(generated) = &along.backup_codes {
        events.push(mfa::generate_backup_codes(&context, version + 1, generated));
    }
    let completes = session
        .pending
        .is_some_and(|pending| pending.is_enrolment() && pending.offers(factor));
    let elevated = completes.then(|| {
        let mut methods = session.assurance.methods.clone();
        methods.push(factor.as_str().to_string());
        let elevation = Elevation {
            level: Level::Aal2,
            methods,
            reason: ElevationReason::Enrolment,
        };
        elevate(caller, session, elevation, along.token_hash, along.policy, now)
    });
    if let Some(elevated) = &elevated {
        events.push(elevated.event.clone());
    }
    Enrolled { events, elevated }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::auth::sign_in::fixtures::{caller, now, session};
    use crate::auth::totp::TotpParams;
    use crate::commands::session::{Assurance, Pending};

    const STALE: Result<(), step_up::Rejection> = Err(step_up::Rejection::ReauthenticationRequired {
        with_second_factor: false,
    });

    fn assurance() -> Assurance {
        Assurance {
            level: Level::Aal1,
            methods: vec!["password".into()],
            at: now() - Duration::minutes(1),
        }
    }

    #[test]
    fn who_may_enrol_table() {
        let assurance = assurance();
        let enrol_passkey = Pending::enrolment(vec![Factor::Passkey]);
        let enrol_totp = Pending::enrolment(vec![Factor::Totp, Factor::Passkey]);
        let second = Pending::second_factor(vec![Factor::Totp]);
        // (pending, factor, recent authentication, outcome)
        type Row<'a> = (
            Option<&'a Pending>,
            Factor,
            Result<(), step_up::Rejection>,
            Result<(), Rejection>,
        );
        let rows: Vec<Row> = vec![
            (None, Factor::Totp, Ok(()), Ok(())),
            (None, Factor::Totp, STALE, Err(Rejection::StepUp(STALE.unwrap_err()))),
            (Some(&enrol_totp), Factor::Totp, Ok(()), Ok(())),
            (
                Some(&enrol_passkey),
                Factor::Totp,
                Ok(()),
                Err(Rejection::FactorNotAllowed(vec![Factor::Passkey])),
            ),
            (
                Some(&second),
                Factor::Totp,
                STALE,
                Err(Rejection::StepUp(STALE.unwrap_err())),
            ),
        ];
        for (pending, factor, recent, expected) in rows {
            assert_eq!(
                may_enrol(&session(&assurance, pending), factor, recent),
                expected,
                "{pending:?} {factor:?} {recent:?}"
            );
        }
    }

    #[test]
    fn backup_codes_come_with_a_factor_when_none_are_left() {
        for (remaining, needed) in [(None, true), (Some(0), true), (Some(1), false), (Some(10), false)] {
            assert_eq!(needs_backup_codes(remaining), needed, "{remaining:?}");
        }
    }

    fn generated() -> BackupCodesGenerated {
        serde_json::from_str(include_str!(
            "../../tests/fixtures/events/mfa.backup_codes.generated.json"
        ))
        .unwrap()
    }

    #[test]
    fn confirming_an_authenticator_table() {
        let totp = Totp::new("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", TotpParams::default()).unwrap();
        let at = u64::try_from(now().timestamp()).unwrap();
        let current = totp.code_at(at);
        let step = at / 30;
        let assurance = assurance();
        let enrol = Pending::enrolment(vec![Factor::Totp]);
        // (pending enrolment, pending step, last step used, backup codes
        // drawn, code, outcome: kinds appended, or the rejection and what
        // it records)
        type Row<'a> = (
            bool,
            Option<&'a Pending>,
            u64,
            bool,
            &'a str,
            Result<&'static [&'static str], (Rejection, &'static [&'static str])>,
        );
        let rows: Vec<Row> = vec![
            (false, None, 0, false, &current, Err((Rejection::NoEnrolment, &[]))),
            (
                true,
                None,
                0,
                false,
                "000000",
                Err((Rejection::InvalidCode, &["mfa.failed"])),
            ),
            (
                true,
                None,
                step,
                false,
                &current,
                Err((Rejection::InvalidCode, &["mfa.failed"])),
            ),
            (true, None, 0, false, &current, Ok(&["mfa.totp.enrolled"])),
            (
                true,
                None,
                0,
                true,
                &current,
                Ok(&["mfa.totp.enrolled", "mfa.backup_codes.generated"]),
            ),
            (
                true,
                Some(&enrol),
                0,
                true,
                &current,
                Ok(&["mfa.totp.enrolled", "mfa.backup_codes.generated", "session.elevated"]),
            ),
        ];
        for (has_pending, pending, last_step, codes, code, expected) in rows {
            let factors = TotpState {
                version: 3,
                enrolled: false,
                pending: has_pending.then_some(("e-1", &totp)),
                last_totp_step: last_step,
            };
            let along = Along {
                backup_codes: codes.then(generated),
                token_hash: "new-hash",
                policy: SessionPolicy::default(),
            };
            let decided = confirm_totp(&caller(), &session(&assurance, pending), &factors, code, along, now());
            let kinds = |events: &[NewEvent]| events.iter().map(|event| event.kind.clone()).collect::<Vec<_>>();
            match (decided, expected) {
                (Ok(enrolled), Ok(expected)) => {
                    assert_eq!(kinds(&enrolled.events), expected, "{pending:?}");
                    assert_eq!(enrolled.elevated.is_some(), pending.is_some());
                    let versions: Vec<_> = enrolled.events.iter().map(|event| event.expected_version).collect();
                    assert_eq!(versions[0], Some(3));
                    if codes {
                        assert_eq!(versions[1], Some(4), "the codes follow the factor");
                    }
                }
                (Err(refusal), Err((rejection, recorded))) => {
                    assert_eq!(refusal.reason, rejection);
                    assert_eq!(kinds(&refusal.events), recorded);
                }
                (got, expected) => panic!("{got:?} vs {expected:?}"),
            }
        }
    }

    #[test]
    fn starting_an_authenticator_refuses_a_second_one() {
        let assurance = assurance();
        let started: TotpEnrolmentStarted = serde_json::from_str(include_str!(
            "../../tests/fixtures/events/mfa.totp.enrolment_started.json"
        ))
        .unwrap();
        for (enrolled, expected) in [
            (false, Ok(vec!["mfa.totp.enrolment_started".to_string()])),
            (true, Err(Rejection::AlreadyEnrolled)),
        ] {
            let factors = TotpState {
                version: 2,
                enrolled,
                pending: None,
                last_totp_step: 0,
            };
            let decided = start_totp(&caller(), &session(&assurance, None), &factors, Ok(()), &started)
                .map(|events| events.iter().map(|event| event.kind.clone()).collect::<Vec<_>>());
            assert_eq!(decided, expected);
        }
    }
}
