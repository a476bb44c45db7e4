//! Verifying a second factor by code (a TOTP code or a backup code):
//! completing a partial session, or refreshing a full one's strong
//! authentication for a sensitive action (step-up). Passkeys are verified
//! by their own ceremony and come in as a `Verified` of their own.
//!
//! The factor's event is decided on the version of the user's factors
//! (`mfa:<user>`) and appended with the session's elevation: two requests
//! can never both spend one TOTP step or one backup code. Wrong, used and
//! replayed codes get one answer, each recorded with its true reason.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::step_up::{Elevated, Elevation, elevate};
use super::totp::Totp;
use super::{Refusal, SessionState, backup_codes};
use crate::commands::Caller;
use crate::commands::mfa::{self, Factor, Failed, FailureReason, Verified};
use crate::commands::org::SessionPolicy;
use crate::commands::session::{ElevationReason, Level, Pending};
use crate::event::NewEvent;

/// A user's backup codes, their hashes opened.
#[derive(Debug, Clone)]
pub struct BackupCodes<'a> {
    pub set: &'a str,
    pub hashes: &'a [String],
    pub used: &'a BTreeSet<usize>,
    pub remaining: usize,
}

/// The user's second factors, as verification needs them.
#[derive(Debug, Clone)]
pub struct Factors<'a> {
    /// The version of `mfa:<user>`.
    pub version: u64,
    /// The factors that can complete a sign-in now (the read model's
    /// `second_factors`).
    pub usable: &'a [Factor],
    /// The confirmed authenticator, its secret opened.
    pub totp: Option<&'a Totp>,
    /// No TOTP step at or before it is accepted again.
    pub last_totp_step: u64,
    pub backup_codes: Option<BackupCodes<'a>>,
}

/// A code to verify in the current session.
#[derive(Debug, Clone)]
pub struct Command<'a> {
    pub caller: &'a Caller,
    pub code: &'a str,
    /// The elevated session's new token's hash.
    pub token_hash: &'a str,
    pub policy: SessionPolicy,
}

/// Why no factor was verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Wrong, expired or already used: one answer.
    InvalidCode,
    /// The user has no factor this session may prove.
    NoSecondFactor,
    /// The session waits for an enrolment, and the user has no factor yet
    /// to prove who they are with.
    EnrolmentRequired,
}

/// The factors this session may prove now: for a partial session, those
/// its sign-in was offered; for a step-up, or a session waiting for an
/// enrolment (whose user proves who they are before setting up the
/// factor the org counts), any the user has.
pub fn allowed(pending: Option<&Pending>, usable: &[Factor]) -> Vec<Factor> {
    match pending {
        Some(pending) if pending.is_second_factor() => usable
            .iter()
            .copied()
            .filter(|factor| pending.offers(*factor))
            .collect(),
        _ => usable.to_vec(),
    }
}

/// Verifies `command.code` at `now` (Unix seconds from it for TOTP).
pub fn decide(
    session: &SessionState,
    factors: &Factors,
    command: &Command,
    now: DateTime<Utc>,
) -> Result<Proved, Refusal<Rejection>> {
    let allowed = allowed(session.pending, factors.usable);
    if allowed.is_empty() {
        let enrolling = session.pending.is_some_and(Pending::is_enrolment);
        return Err(Refusal::new(if enrolling {
            Rejection::EnrolmentRequired
        } else {
            Rejection::NoSecondFactor
        }));
    }
    let refuse = |factor, reason| {
        Refusal::recorded(
            Rejection::InvalidCode,
            vec![failed(command.caller, session, factor, reason)],
        )
    };
    let verified = |factor| Verified {
        user: session.user.to_string(),
        factor,
        session: session.id.to_string(),
        step: None,
        set: None,
        index: None,
        remaining: None,
        credential: None,
        authentication: None,
        ceremony: None,
    };
    let verified = if allowed.contains(&Factor::BackupCode) && backup_codes::looks_like_code(command.code) {
        let factor = Some(Factor::BackupCode);
        let Some(codes) = &factors.backup_codes else {
            return Err(refuse(factor, FailureReason::WrongCode));
        };
        match backup_codes::find(session.user, command.code, codes.hashes) {
            Some(index) if !codes.used.contains(&index) => Verified {
                set: Some(codes.set.to_string()),
                index: Some(index),
                remaining: Some(codes.remaining.saturating_sub(1)),
                ..verified(Factor::BackupCode)
            },
            Some(_) => return Err(refuse(factor, FailureReason::Replayed)),
            None => return Err(refuse(factor, FailureReason::WrongCode)),
        }
    } else {
        let Some(totp) = factors.totp.filter(|_| allowed.contains(&Factor::Totp)) else {
            return Err(refuse(None, FailureReason::WrongCode));
        };
        let at = u64::try_from(now.timestamp()).unwrap_or_default();
        match totp.check(command.code, at) {
            Some(step) if step > factors.last_totp_step => Verified {
                step: Some(step),
                ..verified(Factor::Totp)
            },
            Some(_) => return Err(refuse(Some(Factor::Totp), FailureReason::Replayed)),
            None => return Err(refuse(Some(Factor::Totp), FailureReason::WrongCode)),
        }
    };
    Ok(verify(session, factors.version, verified, command, now))
}

/// A factor proved: the events to append, and the elevation they make.
#[derive(Debug, Clone)]
pub struct Proved {
    pub factor: Factor,
    /// `mfa.verified`, then `session.elevated`.
    pub events: Vec<NewEvent>,
    pub elevated: Elevated,
}

/// A factor proved (a code here, a passkey by its ceremony): `mfa.verified`
/// on the user's factors at `version`, and the session's elevation to
/// `aal2` with a new token.
pub fn verify(
    session: &SessionState,
    version: u64,
    verified: Verified,
    command: &Command,
    now: DateTime<Utc>,
) -> Proved {
    let factor = verified.factor;
    let mut methods = session.assurance.methods.clone();
    if !methods.iter().any(|method| method == factor.as_str()) {
        methods.push(factor.as_str().to_string());
    }
    let reason = match session.pending {
        Some(pending) if pending.is_second_factor() => ElevationReason::SecondFactor,
        _ => ElevationReason::StepUp,
    };
    let elevation = Elevation {
        level: Level::Aal2,
        methods,
        reason,
    };
    let elevated = elevate(
        command.caller,
        session,
        elevation,
        command.token_hash,
        command.policy,
        now,
    );
    let context = command.caller.as_user(session.user, session.org);
    Proved {
        factor,
        events: vec![mfa::verified(&context, version, &verified), elevated.event.clone()],
        elevated,
    }
}

/// `mfa.failed`: a wrong, replayed or throttled attempt in `session`.
pub fn failed(caller: &Caller, session: &SessionState, factor: Option<Factor>, reason: FailureReason) -> NewEvent {
    mfa::failed(
        &caller.as_user(session.user, session.org),
        &Failed {
            user: session.user.to_string(),
            factor,
            reason,
            session: session.id.to_string(),
        },
    )
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::auth::sign_in::fixtures::{caller, now};
    use crate::auth::totp::TotpParams;
    use crate::commands::session::Assurance;

    const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

    fn at(now: DateTime<Utc>) -> u64 {
        u64::try_from(now.timestamp()).unwrap()
    }

    struct World {
        totp: Totp,
        codes: Vec<String>,
        hashes: Vec<String>,
        used: BTreeSet<usize>,
        assurance: Assurance,
    }

    fn world() -> World {
        let generated = backup_codes::generate("u-1");
        World {
            totp: Totp::new(SECRET, TotpParams::default()).unwrap(),
            codes: generated.codes.iter().map(|code| code.to_string()).collect(),
            hashes: generated.hashes,
            used: BTreeSet::from([1]),
            assurance: Assurance {
                level: Level::Aal1,
                methods: vec!["password".into()],
                at: now() - Duration::minutes(1),
            },
        }
    }

    /// (name, pending, usable factors, the code, last TOTP step offset,
    /// expected: the recorded failure, or the verified factor and reason)
    type Row = (
        &'static str,
        Option<Pending>,
        Vec<Factor>,
        &'static str,
        Result<(Factor, ElevationReason), (Rejection, Option<(Option<Factor>, FailureReason)>)>,
    );

    fn rows() -> Vec<Row> {
        let both = vec![Factor::Totp, Factor::BackupCode];
        let second = Some(Pending::second_factor(both.clone()));
        let totp_only = Some(Pending::second_factor(vec![Factor::Totp]));
        let enrol = Some(Pending::enrolment(vec![Factor::Passkey]));
        vec![
            (
                "the current code completes a sign-in",
                second.clone(),
                both.clone(),
                "totp:now",
                Ok((Factor::Totp, ElevationReason::SecondFactor)),
            ),
            (
                "the current code is a step-up in a full session",
                None,
                both.clone(),
                "totp:now",
                Ok((Factor::Totp, ElevationReason::StepUp)),
            ),
            (
                "a code of a step already used",
                second.clone(),
                both.clone(),
                "totp:used",
                Err((
                    Rejection::InvalidCode,
                    Some((Some(Factor::Totp), FailureReason::Replayed)),
                )),
            ),
            (
                "a wrong code",
                second.clone(),
                both.clone(),
                "000000x",
                Err((
                    Rejection::InvalidCode,
                    Some((Some(Factor::Totp), FailureReason::WrongCode)),
                )),
            ),
            (
                "a backup code",
                second.clone(),
                both.clone(),
                "backup:0",
                Ok((Factor::BackupCode, ElevationReason::SecondFactor)),
            ),
            (
                "a used backup code",
                second.clone(),
                both.clone(),
                "backup:1",
                Err((
                    Rejection::InvalidCode,
                    Some((Some(Factor::BackupCode), FailureReason::Replayed)),
                )),
            ),
            (
                "a backup code the sign-in was not offered is a wrong TOTP code",
                totp_only,
                both.clone(),
                "backup:0",
                Err((
                    Rejection::InvalidCode,
                    Some((Some(Factor::Totp), FailureReason::WrongCode)),
                )),
            ),
            (
                "a user without factors",
                None,
                vec![],
                "totp:now",
                Err((Rejection::NoSecondFactor, None)),
            ),
            (
                "waiting for an enrolment, without factors",
                enrol.clone(),
                vec![],
                "totp:now",
                Err((Rejection::EnrolmentRequired, None)),
            ),
            (
                "waiting for an enrolment, an existing factor proves who",
                enrol,
                both.clone(),
                "totp:now",
                Ok((Factor::Totp, ElevationReason::StepUp)),
            ),
            (
                "backup codes alone cannot be asked for a TOTP code",
                None,
                vec![Factor::BackupCode],
                "totp:now",
                Err((Rejection::InvalidCode, Some((None, FailureReason::WrongCode)))),
            ),
        ]
    }

    #[test]
    fn second_factor_table() {
        let world = world();
        let step_now = at(now()) / 30;
        for (name, pending, usable, code, expect) in rows() {
            let code = match code {
                "totp:now" => world.totp.code_at(at(now())),
                "totp:used" => world.totp.code_at(at(now())),
                other => match other.strip_prefix("backup:") {
                    Some(index) => world.codes[index.parse::<usize>().unwrap()].clone(),
                    None => other.to_string(),
                },
            };
            let last_totp_step = if name.contains("already used") {
                step_now + 1
            } else {
                step_now - 5
            };
            let session = SessionState {
                id: "s-1",
                user: "u-1",
                org: "o-1",
                assurance: &world.assurance,
                pending: pending.as_ref(),
                created_at: now() - Duration::minutes(2),
                expires_at: now() + Duration::minutes(8),
            };
            let factors = Factors {
                version: 7,
                usable: &usable,
                totp: Some(&world.totp),
                last_totp_step,
                backup_codes: Some(BackupCodes {
                    set: "set-1",
                    hashes: &world.hashes,
                    used: &world.used,
                    remaining: world.hashes.len() - world.used.len(),
                }),
            };
            let caller = caller();
            let command = Command {
                caller: &caller,
                code: &code,
                token_hash: "new-hash",
                policy: SessionPolicy::default(),
            };
            match (decide(&session, &factors, &command, now()), expect) {
                (
                    Ok(Proved {
                        events,
                        elevated,
                        factor: proved,
                    }),
                    Ok((factor, reason)),
                ) => {
                    assert_eq!(proved, factor, "{name}");
                    let kinds: Vec<&str> = events.iter().map(|event| event.kind.as_str()).collect();
                    assert_eq!(kinds, ["mfa.verified", "session.elevated"], "{name}");
                    assert_eq!(
                        events[0].expected_version,
                        Some(7),
                        "{name}: decided on the factors' version"
                    );
                    let verified: Verified = serde_json::from_value(events[0].data.clone()).unwrap();
                    assert_eq!(verified.factor, factor, "{name}");
                    let data: crate::commands::session::SessionElevated =
                        serde_json::from_value(elevated.event.data.clone()).unwrap();
                    assert_eq!(data.reason, reason, "{name}");
                    assert_eq!(data.assurance.level, Level::Aal2, "{name}");
                    assert_eq!(data.token_hash, "new-hash", "{name}");
                    if factor == Factor::BackupCode {
                        assert_eq!((verified.index, verified.remaining), (Some(0), Some(8)), "{name}");
                    }
                }
                (Err(refusal), Err((rejection, recorded))) => {
                    assert_eq!(refusal.reason, rejection, "{name}");
                    let got: Vec<(Option<Factor>, FailureReason)> = refusal
                        .events
                        .iter()
                        .map(|event| {
                            let failed: Failed = serde_json::from_value(event.data.clone()).unwrap();
                            (failed.factor, failed.reason)
                        })
                        .collect();
                    assert_eq!(got, recorded.into_iter().collect::<Vec<_>>(), "{name}");
                }
                (got, _) => panic!("{name}: {:?}", got.map(|proved| proved.events)),
            }
        }
    }
}
