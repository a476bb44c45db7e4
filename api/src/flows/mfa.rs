//! Second factors: setting up a TOTP authenticator, enrolling any factor,
//! and verifying one (completing a partial session, or a step-up). Backup
//! codes live in `backup_codes`, assurance and step-up in `assurance`.
//!
//! A factor decision is appended with the version of the user's factors
//! (`mfa:<user>`) it was made on, in the same append as the session's
//! elevation: two requests can never both spend one TOTP step or one
//! backup code, on one node or two.

use chrono::Utc;
use warden_core::auth::backup_codes;
use warden_core::auth::totp::{Totp, TotpParams};
use warden_core::commands::account;
use warden_core::commands::mfa::{
    self, Factor, Failed, FailureReason, TotpEnrolled, TotpEnrolmentStarted, TotpRemoved, Verified,
};
use warden_core::commands::session::Pending;
use warden_projections::mfa::{TotpFactor, UserFactors};
use warden_projections::projection::read;
use zeroize::Zeroizing;

use super::assurance::Elevation;
pub use super::assurance::{
    AfterFirstFactor, after_first_factor, enrolled, reauthenticate_with_password, require_recent_authentication,
};
pub use super::backup_codes::{acknowledge_backup_codes, regenerate_backup_codes};
use super::backup_codes::{backup_codes_event, check_backup_code};
use super::sign_in::NewSession;
use super::{commit, new_id};
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

/// Backup codes shown once.
pub struct IssuedCodes {
    pub set: String,
    pub codes: Vec<Zeroizing<String>>,
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
    pub session: Option<NewSession>,
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
    let _attempt = second_factor_throttle(state, client, current).await?;
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
    let elevation = enrolment_completes(state, current, factor);
    if let Some(elevation) = &elevation {
        events.push(elevation.event(&client.as_user(&current.user.id, &current.user.org), current));
    }
    let sealed = commit(state, events).await?;
    Ok(Enrolled {
        backup_codes,
        session: elevation.map(|elevation| elevation.into_session(current, &sealed)),
    })
}

/// Refuses setting up `factor` in a session waiting for an enrolment the
/// org's policy does not count it for (it would not complete the sign-in).
pub(super) fn check_enrollable(current: &CurrentSession, factor: Factor) -> Result<(), ApiError> {
    match &current.session.pending {
        Some(pending) if pending.is_enrolment() && !pending.offers(factor.as_str()) => Err(ApiError::forbidden_code(
            "factor_not_allowed",
            format!(
                "your organization counts only these second factors here: {}",
                pending.factors.join(", ")
            ),
        )),
        _ => Ok(()),
    }
}

/// When the session was waiting for this enrolment: its elevation (the
/// user just proved the new factor, on top of the first one).
pub(super) fn enrolment_completes(state: &AppState, current: &CurrentSession, factor: Factor) -> Option<Elevation> {
    let pending = current.session.pending.as_ref()?;
    if !pending.is_enrolment() || !pending.offers(factor.as_str()) {
        return None;
    }
    let mut methods = current.session.assurance.methods.clone();
    methods.push(factor.as_str().to_string());
    Some(Elevation::new(state, current, "aal2", methods, "enrolment"))
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
) -> Result<NewSession, ApiError> {
    let user = &current.user;
    let _attempt = second_factor_throttle(state, client, current).await?;
    let factors = read(&state.models.mfa).factors(&user.id);
    let allowed = allowed_factors(current, &factors)?;
    let enrolling = current.session.pending.as_ref().is_some_and(Pending::is_enrolment);
    if allowed.is_empty() && enrolling {
        return Err(crate::web::session::enrolment_required());
    }
    if allowed.is_empty() {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "no_second_factor",
            "this account has no second factor set up",
        ));
    }
    let verified = if allowed.contains(&Factor::BackupCode) && backup_codes::looks_like_code(code) {
        check_backup_code(state, current, client, &factors, code).await?
    } else {
        let Some(totp) = factors.totp.as_ref().filter(|_| allowed.contains(&Factor::Totp)) else {
            return Err(refuse(state, current, client, None, FailureReason::WrongCode).await);
        };
        match totp_step(state, totp, code).await? {
            Some(step) if step > factors.last_totp_step => Verified {
                user: user.id.clone(),
                factor: Factor::Totp,
                session: current.session.id.clone(),
                step: Some(step),
                set: None,
                index: None,
                remaining: None,
                credential: None,
                authentication: None,
                ceremony: None,
            },
            Some(_) => {
                return Err(refuse(state, current, client, Some(Factor::Totp), FailureReason::Replayed).await);
            }
            None => {
                return Err(refuse(state, current, client, Some(Factor::Totp), FailureReason::WrongCode).await);
            }
        }
    };
    commit_verification(state, current, client, factors.version, verified).await
}

/// Appends a verified factor (decided on the user's factors at `version`)
/// and the session's elevation: `aal2`, a new token. A conflict means
/// another request spent a factor of this user meanwhile (maybe the same
/// one), and a taken claim that the passkey ceremony is spent: replays.
pub(super) async fn commit_verification(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    version: u64,
    verified: Verified,
) -> Result<NewSession, ApiError> {
    let factor = verified.factor;
    let context = client.as_user(&current.user.id, &current.user.org);
    let mut methods = current.session.assurance.methods.clone();
    if !methods.iter().any(|method| method == factor.as_str()) {
        methods.push(factor.as_str().to_string());
    }
    let reason = match &current.session.pending {
        Some(pending) if pending.is_second_factor() => "second_factor",
        _ => "step_up",
    };
    let elevation = Elevation::new(state, current, "aal2", methods, reason);
    let events = vec![
        mfa::verified(&context, version, &verified),
        elevation.event(&context, current),
    ];
    match commit(state, events).await {
        Ok(sealed) => Ok(elevation.into_session(current, &sealed)),
        Err(error) if matches!(error.code, "conflict" | "taken") => {
            Err(refuse(state, current, client, Some(factor), FailureReason::Replayed).await)
        }
        Err(error) => Err(error),
    }
}

/// The factors this session may prove now: for a partial session, those
/// its sign-in was offered (the policy's); for a step-up, any the user
/// has. A session waiting for an enrolment has none to prove yet.
pub(super) fn allowed_factors(current: &CurrentSession, factors: &UserFactors) -> Result<Vec<Factor>, ApiError> {
    let own = factors.second_factors();
    match &current.session.pending {
        // Waiting for an enrolment: the user's own factors prove who they
        // are before they set up the one the org counts.
        None => Ok(own),
        Some(pending) if pending.is_enrolment() => Ok(own),
        Some(pending) => Ok(own
            .into_iter()
            .filter(|factor| pending.offers(factor.as_str()))
            .collect()),
    }
}

/// The step of `code` for this authenticator, if valid now.
async fn totp_step(state: &AppState, totp: &TotpFactor, code: &str) -> Result<Option<u64>, ApiError> {
    let secret = Zeroizing::new(state.data_keys.open(&totp.secret).await.map_err(key_service)?);
    let checker = Totp::new(&secret, totp.params).map_err(|error| {
        tracing::error!(%error, "a stored TOTP secret does not load");
        ApiError::internal("the authenticator cannot be checked")
    })?;
    let now = u64::try_from(Utc::now().timestamp()).unwrap_or_default();
    Ok(checker.check(code, now))
}

/// Refuses a second-factor attempt the throttle does not allow now.
/// Attempts of the same user being checked count as failures.
pub(super) async fn second_factor_throttle(
    state: &AppState,
    client: &Client,
    current: &CurrentSession,
) -> Result<crate::web::limits::Attempt, ApiError> {
    let user = &current.user.id;
    let (attempt, pending) = state.attempts.begin(vec![format!("mfa:{user}")]);
    let wait =
        read(&state.models.login_throttle).second_factor_wait(user, Utc::now(), pending.first().copied().unwrap_or(0));
    let Some(wait) = wait else {
        return Ok(attempt);
    };
    attempt.withdraw();
    if state
        .refusals
        .admit(format!("mfa:{user}"), std::time::Duration::from_secs(10))
    {
        let _ = refuse(state, current, client, None, FailureReason::Throttled).await;
    }
    Err(ApiError::too_many_requests(
        "too many wrong codes; wait before trying again",
        wait.max(std::time::Duration::from_secs(1)),
    ))
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
    let context = client.as_user(&current.user.id, &current.user.org);
    let event = mfa::failed(
        &context,
        &Failed {
            user: current.user.id.clone(),
            factor,
            reason,
            session: current.session.id.clone(),
        },
    );
    if let Err(error) = commit(state, vec![event]).await {
        return error;
    }
    ApiError::new(
        axum::http::StatusCode::UNAUTHORIZED,
        "invalid_code",
        "the code is wrong, expired or already used",
    )
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

pub(super) fn key_service(error: warden_core::keys::SealError) -> ApiError {
    tracing::error!(%error, "a sealed second-factor secret cannot be used");
    ApiError::unavailable("the key service is unavailable; try again")
}
