//! Second factors: setting up a TOTP authenticator, enrolling any factor,
//! and verifying one (completing a partial session, or a step-up). Backup
//! codes live in `backup_codes`, assurance and step-up in `assurance`.
//!
//! A factor decision is appended with the version of the user's factors
//! (`mfa:<user>`) it was made on, in the same append as the session's
//! elevation: two requests can never both spend one TOTP step or one
//! backup code, on one node or two.

use warden_core::auth::Refusal;
use warden_core::auth::enrolment::{self, Along, TotpState};
use warden_core::auth::second_factor::{self, BackupCodes, Factors, Proved, Rejection};
use warden_core::auth::totp::{Totp, TotpParams};
use warden_core::commands::account;
use warden_core::commands::mfa::{
    self, BackupCodesGenerated, Factor, FailureReason, TotpEnrolmentStarted, TotpRemoved, Verified,
};
use warden_core::event::now_micros;
use warden_projections::mfa::{TotpFactor, UserFactors};
use warden_projections::projection::read;
use zeroize::Zeroizing;

use super::backup_codes;
pub use super::backup_codes::IssuedCodes;
use super::issued::{self, Drawn, Issued};
use super::step_up::recent_authentication;
use super::{Lost, commit, commit_race, key_service, new_id, read as state_of, refused, throttle};
use crate::error::{ApiError, Code};
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
    let session = state_of::session(current);
    // Checked before a secret is drawn, and again in the decision.
    enrolment::may_enrol(&session, Factor::Totp, recent_authentication(state, current))?;
    let user = &current.user;
    let factors = read(&state.models.mfa).factors(&user.id);
    let secret = Totp::generate_secret();
    let params = state.mfa.totp;
    let sealed = state
        .data_keys
        .seal(&account::user_subject(&user.id), &*secret)
        .await
        .map_err(key_service)?;
    let started = TotpEnrolmentStarted {
        user: user.id.clone(),
        enrolment: new_id(),
        secret: sealed,
        params,
    };
    let events = enrolment::start_totp(
        &client.caller(),
        &session,
        &totp_state(&factors, None),
        recent_authentication(state, current),
        &started,
    )?;
    commit(state, events).await?;
    let uri = Zeroizing::new(Totp::uri(&secret, params, &state.mfa.issuer, &user.email));
    Ok(TotpSetup {
        enrolment: started.enrolment,
        secret,
        uri,
        params,
    })
}

/// The user's factors as a TOTP enrolment sees them.
fn totp_state<'a>(factors: &'a UserFactors, pending: Option<(&'a str, &'a Totp)>) -> TotpState<'a> {
    TotpState {
        version: factors.version,
        enrolled: factors.totp.is_some(),
        pending,
        last_totp_step: factors.last_totp_step,
    }
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
    let _attempt = throttle::second_factor(state, client, current).await?;
    let factors = read(&state.models.mfa).factors(&current.user.id);
    let checker = match &factors.totp_pending {
        Some(pending) => Some(totp_checker(state, pending).await?),
        None => None,
    };
    let pending = factors
        .totp_pending
        .as_ref()
        .zip(checker.as_ref())
        .map(|(pending, checker)| (pending.enrolment.as_str(), checker));
    let (codes, issued_codes) = along_codes(state, current, &factors).await?;
    let drawn = Drawn::for_session(current.session.id.clone());
    let along = Along {
        backup_codes: codes,
        token_hash: &drawn.session.token_hash,
        policy: state_of::session_policy(state, &current.user.org),
    };
    let session = state_of::session(current);
    let decided = enrolment::confirm_totp(
        &client.caller(),
        &session,
        &totp_state(&factors, pending),
        code,
        along,
        now_micros(),
    );
    match decided {
        Ok(enrolled) => match commit_enrolled(state, current, drawn, enrolled, issued_codes).await? {
            Ok(enrolled) => Ok(enrolled),
            Err(Lost::Conflict | Lost::Taken) => Err(factors_changed()),
        },
        Err(refusal) => Err(refused(state, refusal).await),
    }
}

/// Backup codes to go with a new factor, when the user has none left.
async fn along_codes(
    state: &AppState,
    current: &CurrentSession,
    factors: &UserFactors,
) -> Result<(Option<BackupCodesGenerated>, Option<IssuedCodes>), ApiError> {
    let remaining = factors.backup_codes.as_ref().map(|codes| codes.remaining());
    if !enrolment::needs_backup_codes(remaining) {
        return Ok((None, None));
    }
    let (generated, issued) = backup_codes::draw(state, &current.user.id).await?;
    Ok((Some(generated), Some(issued)))
}

/// Appends a new factor's event (a passkey registered by its ceremony) with
/// what comes with it: backup codes when the user has none left (shown
/// once), and the session's elevation when it was waiting for this
/// enrolment.
pub(super) async fn commit_enrolment(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    factors: &UserFactors,
    factor: Factor,
    event: warden_core::NewEvent,
) -> Result<Result<Enrolled, Lost>, ApiError> {
    let (codes, issued_codes) = along_codes(state, current, factors).await?;
    let drawn = Drawn::for_session(current.session.id.clone());
    let along = Along {
        backup_codes: codes,
        token_hash: &drawn.session.token_hash,
        policy: state_of::session_policy(state, &current.user.org),
    };
    let enrolled = enrolment::enrol(
        &client.caller(),
        &state_of::session(current),
        factor,
        factors.version,
        event,
        along,
        now_micros(),
    );
    commit_enrolled(state, current, drawn, enrolled, issued_codes).await
}

async fn commit_enrolled(
    state: &AppState,
    current: &CurrentSession,
    drawn: Drawn,
    enrolled: enrolment::Enrolled,
    backup_codes: Option<IssuedCodes>,
) -> Result<Result<Enrolled, Lost>, ApiError> {
    let sealed = match commit_race(state, enrolled.events).await? {
        Ok(sealed) => sealed,
        Err(lost) => return Ok(Err(lost)),
    };
    let session = enrolled
        .elevated
        .map(|elevated| issued::elevated(current, drawn.token, &sealed, elevated))
        .transpose()?;
    Ok(Ok(Enrolled { backup_codes, session }))
}

/// Refuses setting up `factor` in a session waiting for an enrolment the
/// org's policy does not count it for, or without a recent strong
/// authentication (`enrolment::may_enrol`).
pub(super) fn check_enrollable(state: &AppState, current: &CurrentSession, factor: Factor) -> Result<(), ApiError> {
    let session = state_of::session(current);
    Ok(enrolment::may_enrol(
        &session,
        factor,
        recent_authentication(state, current),
    )?)
}

/// Removes the authenticator. Needs a recent strong authentication.
pub async fn remove_totp(state: &AppState, current: &CurrentSession, client: &Client) -> Result<(), ApiError> {
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
    match commit_race(state, events).await? {
        Ok(sealed) => issued::elevated(current, drawn.token, &sealed, elevated),
        Err(Lost::Conflict | Lost::Taken) => {
            Err(refuse(state, current, client, Some(factor), FailureReason::Replayed).await)
        }
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

fn factors_changed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::CONFLICT,
        Code::Conflict,
        "your second factors changed meanwhile; reload and try again",
    )
}
