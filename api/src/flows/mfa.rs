//! Second factors: setting up a TOTP authenticator, enrolling any factor,
//! and verifying one (completing a partial session, or a step-up). Backup
//! codes live in `backup_codes`, assurance and step-up in `assurance`.
//!
//! A factor decision is appended with the version of the user's factors
//! (`mfa:<user>`) it was made on, in the same append as the session's
//! elevation: two requests can never both spend one TOTP step or one
//! backup code, on one node or two.

use warden_core::auth::Refusal;
use warden_core::auth::second_factor::{self, BackupCodes, Factors, Proved, Rejection};
use warden_core::auth::step_up::{Elevated, Elevation, elevate};
use warden_core::auth::totp::{Totp, TotpParams};
use warden_core::commands::account;
use warden_core::commands::mfa::{
    self, Factor, FailureReason, TotpEnrolled, TotpEnrolmentStarted, TotpRemoved, Verified,
};
use warden_core::commands::session::{ElevationReason, Level};
use warden_core::event::now_micros;
use warden_projections::mfa::{TotpFactor, UserFactors};
use warden_projections::projection::read;
use zeroize::Zeroizing;

pub use super::backup_codes::IssuedCodes;
use super::backup_codes::backup_codes_event;
use super::issued::{self, Drawn, Issued};
use super::step_up::require_recent_authentication;
use super::{commit, key_service, new_id, read as state_of, refused, throttle};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

/// An authenticator being set up: shown to its user until confirmed.
pub struct TotpSetup {
    pub enrolment: String,
    pub secret: Zeroizing<String>,
    pub uri: Zeroizing<String>,
    pub params: TotpParams,
}

/// Starts setting up an authenticator (replacing one being set up). Needs
/// a recent strong authentication: a stolen session must not add its
/// thief's authenticator.
pub async fn start_totp(state: &AppState, current: &CurrentSession, client: &Client) -> Result<TotpSetup, ApiError> {
    check_enrollable(current, Factor::Totp)?;
    require_recent_authentication(state, current)?;
    let user = &current.user;
    let factors = read(&state.models.mfa).factors(&user.id);
    if factors.totp.is_some() {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "already_enrolled",
            "an authenticator is already set up; remove it first to set up another",
        ));
    }
    let secret = Totp::generate_secret();
    let params = state.mfa.totp;
    let sealed = state
        .data_keys
        .seal(&account::user_subject(&user.id), &*secret)
        .await
        .map_err(key_service)?;
    let enrolment = new_id();
    let context = client.as_user(&user.id, &user.org);
    let event = mfa::start_totp(
        &context,
        factors.version,
        &TotpEnrolmentStarted {
            user: user.id.clone(),
            enrolment: enrolment.clone(),
            secret: sealed,
            params,
        },
    );
    commit(state, vec![event]).await?;
    let uri = Zeroizing::new(Totp::uri(&secret, params, &state.mfa.issuer, &user.email));
    Ok(TotpSetup {
        enrolment,
        secret,
        uri,
        params,
    })
}

/// The authenticator being set up, to show again (a reload of the page).
pub async fn pending_totp(state: &AppState, current: &CurrentSession) -> Result<Option<TotpSetup>, ApiError> {
    let factors = read(&state.models.mfa).factors(&current.user.id);
    let Some(pending) = factors.totp_pending else {
        return Ok(None);
    };
    let secret = Zeroizing::new(state.data_keys.open(&pending.secret).await.map_err(key_service)?);
    let uri = Zeroizing::new(Totp::uri(
        &secret,
        pending.params,
        &state.mfa.issuer,
        &current.user.email,
    ));
    Ok(Some(TotpSetup {
        enrolment: pending.enrolment,
        secret,
        uri,
        params: pending.params,
    }))
}

/// What completing an enrolment gave: backup codes the first time, and a
/// new session token when the enrolment was the step a partial session
/// was waiting for (the organization required a second factor).
pub struct Enrolled {
    pub backup_codes: Option<IssuedCodes>,
    pub session: Option<Issued>,
}

/// Confirms the authenticator being set up with a first code. The first
/// time a user gets a second factor, they get backup codes with it.
pub async fn confirm_totp(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    code: &str,
) -> Result<Enrolled, ApiError> {
    let user = &current.user;
    let _attempt = throttle::second_factor(state, client, current).await?;
    let factors = read(&state.models.mfa).factors(&user.id);
    let Some(pending) = factors.totp_pending.clone() else {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "no_enrolment",
            "no authenticator is being set up; start again",
        ));
    };
    let step = match totp_step(state, &pending, code).await? {
        Some(step) if step > factors.last_totp_step => step,
        found => {
            let reason = if found.is_some() {
                FailureReason::Replayed
            } else {
                FailureReason::WrongCode
            };
            return Err(refuse(state, current, client, Some(Factor::Totp), reason).await);
        }
    };
    let context = client.as_user(&user.id, &user.org);
    let events = vec![mfa::enrol_totp(
        &context,
        factors.version,
        &TotpEnrolled {
            user: user.id.clone(),
            enrolment: pending.enrolment,
            step,
        },
    )];
    commit_enrolment(state, current, client, &factors, Factor::Totp, events)
        .await
        .map_err(factors_changed)
}

/// Appends a new factor's event with what comes with it: backup codes when
/// the user has none left (shown once), and the session's elevation when
/// it was waiting for this enrolment.
pub(super) async fn commit_enrolment(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    factors: &UserFactors,
    factor: Factor,
    mut events: Vec<warden_core::NewEvent>,
) -> Result<Enrolled, ApiError> {
    let needs_codes = factors.backup_codes.as_ref().is_none_or(|codes| codes.remaining() == 0);
    let backup_codes = if needs_codes {
        let (event, issued) = backup_codes_event(state, current, client, factors.version + 1).await?;
        events.push(event);
        Some(issued)
    } else {
        None
    };
    let elevation = enrolment_completes(state, current, client, factor);
    if let Some((_, elevated)) = &elevation {
        events.push(elevated.event.clone());
    }
    let sealed = commit(state, events).await?;
    let session = elevation
        .map(|(drawn, elevated)| issued::elevated(current, drawn.token, &sealed, elevated))
        .transpose()?;
    Ok(Enrolled { backup_codes, session })
}

/// Refuses setting up `factor` in a session waiting for an enrolment the
/// org's policy does not count it for (it would not complete the sign-in).
pub(super) fn check_enrollable(current: &CurrentSession, factor: Factor) -> Result<(), ApiError> {
    match &current.session.pending {
        Some(pending) if pending.is_enrolment() && !pending.offers(factor) => Err(ApiError::forbidden_code(
            "factor_not_allowed",
            format!(
                "your organization counts only these second factors here: {}",
                pending
                    .factors
                    .iter()
                    .map(|factor| factor.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
        _ => Ok(()),
    }
}

/// When the session was waiting for this enrolment: its elevation (the
/// user just proved the new factor, on top of the first one).
pub(super) fn enrolment_completes(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    factor: Factor,
) -> Option<(Drawn, Elevated)> {
    let pending = current.session.pending.as_ref()?;
    if !pending.is_enrolment() || !pending.offers(factor) {
        return None;
    }
    let mut methods = current.session.assurance.methods.clone();
    methods.push(factor.as_str().to_string());
    let drawn = Drawn::for_session(current.session.id.clone());
    let elevated = elevate(
        &client.caller(),
        &state_of::session(current),
        Elevation {
            level: Level::Aal2,
            methods,
            reason: ElevationReason::Enrolment,
        },
        &drawn.session.token_hash,
        state_of::session_policy(state, &current.user.org),
        now_micros(),
    );
    Some((drawn, elevated))
}

/// Removes the authenticator. Needs a recent strong authentication.
pub async fn remove_totp(state: &AppState, current: &CurrentSession, client: &Client) -> Result<(), ApiError> {
    require_recent_authentication(state, current)?;
    let user = &current.user;
    let factors = read(&state.models.mfa).factors(&user.id);
    let enrolment = factors
        .totp
        .as_ref()
        .or(factors.totp_pending.as_ref())
        .map(|totp| totp.enrolment.clone())
        .ok_or_else(ApiError::not_found)?;
    let context = client.as_user(&user.id, &user.org);
    let event = mfa::remove_totp(
        &context,
        factors.version,
        &TotpRemoved {
            user: user.id.clone(),
            enrolment,
        },
    );
    commit(state, vec![event]).await.map(|_| ())
}

/// Verifies a second factor (a TOTP code or a backup code): completes a
/// partial session, or refreshes a full one's strong authentication for a
/// sensitive action. The session gets a new token either way.
pub async fn verify(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    code: &str,
) -> Result<Issued, ApiError> {
    let user = &current.user;
    let _attempt = throttle::second_factor(state, client, current).await?;
    let factors = read(&state.models.mfa).factors(&user.id);
    let totp = match &factors.totp {
        Some(totp) => Some(totp_checker(state, totp).await?),
        None => None,
    };
    let hashes = match &factors.backup_codes {
        Some(codes) => Some(state.data_keys.open(&codes.hashes).await.map_err(key_service)?),
        None => None,
    };
    let usable = factors.second_factors();
    let state_factors = Factors {
        version: factors.version,
        usable: &usable,
        totp: totp.as_ref(),
        last_totp_step: factors.last_totp_step,
        backup_codes: factors
            .backup_codes
            .as_ref()
            .zip(hashes.as_deref())
            .map(|(codes, hashes)| BackupCodes {
                set: &codes.set,
                hashes,
                used: &codes.used,
                remaining: codes.remaining(),
            }),
    };
    let session = state_of::session(current);
    let drawn = Drawn::for_session(current.session.id.clone());
    let caller = client.caller();
    let command = second_factor::Command {
        caller: &caller,
        code,
        token_hash: &drawn.session.token_hash,
        policy: state_of::session_policy(state, &user.org),
    };
    match second_factor::decide(&session, &state_factors, &command, now_micros()) {
        Ok(proved) => commit_verified(state, current, client, drawn, proved).await,
        Err(refusal) => Err(refused(state, refusal).await),
    }
}

/// Verifies a factor proved by its own ceremony (a passkey), decided on
/// the user's factors at `version`.
pub(super) async fn commit_verification(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    version: u64,
    verified: Verified,
) -> Result<Issued, ApiError> {
    let session = state_of::session(current);
    let drawn = Drawn::for_session(current.session.id.clone());
    let caller = client.caller();
    let command = second_factor::Command {
        caller: &caller,
        code: "",
        token_hash: &drawn.session.token_hash,
        policy: state_of::session_policy(state, &current.user.org),
    };
    let proved = second_factor::verify(&session, version, verified, &command, now_micros());
    commit_verified(state, current, client, drawn, proved).await
}

/// Appends a verified factor and the session's elevation. A conflict means
/// another request spent a factor of this user meanwhile (maybe the same
/// one), and a taken claim that the passkey ceremony is spent: replays.
async fn commit_verified(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    drawn: Drawn,
    Proved {
        factor,
        events,
        elevated,
    }: Proved,
) -> Result<Issued, ApiError> {
    match commit(state, events).await {
        Ok(sealed) => issued::elevated(current, drawn.token, &sealed, elevated),
        Err(error) if matches!(error.code, "conflict" | "taken") => {
            Err(refuse(state, current, client, Some(factor), FailureReason::Replayed).await)
        }
        Err(error) => Err(error),
    }
}

/// The factors this session may prove now (`second_factor::allowed`).
pub(super) fn allowed_factors(current: &CurrentSession, factors: &UserFactors) -> Vec<Factor> {
    second_factor::allowed(current.session.pending.as_ref(), &factors.second_factors())
}

/// The authenticator's checker, its secret opened.
async fn totp_checker(state: &AppState, totp: &TotpFactor) -> Result<Totp, ApiError> {
    let secret = Zeroizing::new(state.data_keys.open(&totp.secret).await.map_err(key_service)?);
    Totp::new(&secret, totp.params).map_err(|error| {
        tracing::error!(%error, "a stored TOTP secret does not load");
        ApiError::internal("the authenticator cannot be checked")
    })
}

/// The step of `code` for the authenticator being set up, if valid now.
async fn totp_step(state: &AppState, totp: &TotpFactor, code: &str) -> Result<Option<u64>, ApiError> {
    let checker = totp_checker(state, totp).await?;
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default();
    Ok(checker.check(code, now))
}

/// Records a failed attempt and returns the answer for it. Wrong, used
/// and replayed codes get the same answer.
pub(super) async fn refuse(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    factor: Option<Factor>,
    reason: FailureReason,
) -> ApiError {
    let event = second_factor::failed(&client.caller(), &state_of::session(current), factor, reason);
    refused(state, Refusal::recorded(Rejection::InvalidCode, vec![event])).await
}

fn factors_changed(error: ApiError) -> ApiError {
    if error.code == "conflict" {
        ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "conflict",
            "your second factors changed meanwhile; reload and try again",
        )
    } else {
        error
    }
}
