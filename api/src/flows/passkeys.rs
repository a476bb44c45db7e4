//! Passkeys: registering one, proving one as a second factor (or for a
//! step-up), naming and removing them, and the ceremony state that every
//! passkey exchange (signing in with one alone too, `passkey_sign_in`)
//! shares.
//!
//! Every ceremony is two requests. Its state travels sealed to the browser
//! and back (`Challenge::ceremony`), so any node can finish it; its id is
//! claimed when it finishes, so it works once
//! (`docs/decisions/0010-mfa.md`).

use base64::Engine as _;
use chrono::Utc;
use serde::Serialize;
use warden_core::auth::webauthn::{
    CEREMONY_LIFETIME, Ceremony, CeremonyState, PublicKeyCredential, RegisterPublicKeyCredential, RegistrationRefused,
    RelyingParty, Uuid, credential_id_text,
};
use warden_core::commands::mfa::{
    self, Factor, FailureReason, PasskeyRegistered, PasskeyRemoved, PasskeyRenamed, Verified,
};
use warden_core::keys::Sealed;
use warden_projections::projection::read;

use super::issued::Issued;
use super::mfa::{Enrolled, allowed_factors, check_enrollable, commit_enrolment, commit_verification, refuse};
use super::{Lost, check_name, commit, key_service, new_id, throttle};
use crate::error::{ApiError, Code};
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

/// The first request of a ceremony: options for
/// `navigator.credentials.create()` or `.get()`, and the sealed state to
/// send back with the browser's answer.
#[derive(Debug, Serialize)]
pub struct Challenge {
    pub ceremony: String,
    pub options: serde_json::Value,
}

/// Subject of the data key that seals ceremony states.
const CEREMONY_KEY: &str = "secret:webauthn-ceremonies";

/// Ceremony options as the browser's `navigator.credentials` reads them.
pub(super) fn options_json(options: impl Serialize) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(options).map_err(|error| {
        tracing::error!(%error, "passkey options do not serialize");
        ApiError::internal("the passkey ceremony could not start")
    })
}

pub(super) fn relying_party(state: &AppState) -> Result<&RelyingParty, ApiError> {
    state.passkeys.as_deref().ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::CONFLICT,
            Code::PasskeysUnavailable,
            "passkeys need Warden's public_url to be a domain name (or webauthn_rp_id set)",
        )
    })
}

/// Starts registering a passkey for the signed-in user. Needs a recent
/// strong authentication: a stolen session must not add its thief's key.
pub async fn start_registration(state: &AppState, current: &CurrentSession) -> Result<Challenge, ApiError> {
    check_enrollable(state, current, Factor::Passkey)?;
    let party = relying_party(state)?;
    let user = &current.user;
    let factors = read(&state.models.mfa).factors(&user.id);
    let exclude = factors
        .passkeys
        .iter()
        .map(|passkey| passkey.passkey.cred_id().clone())
        .collect();
    // The user handle the authenticator keeps: the user's id (a UUID).
    let handle = Uuid::parse_str(&user.id).unwrap_or_else(|_| {
        let digest = blake3::hash(user.id.as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest.as_bytes()[..16]);
        Uuid::from_bytes(bytes)
    });
    let (options, registration) = party
        .start_registration(handle, &user.email, &user.display_name, exclude)
        .map_err(|error| {
            tracing::error!(%error, "passkey registration could not start");
            ApiError::internal("passkey registration could not start")
        })?;
    challenge(
        state,
        Ceremony {
            id: new_id(),
            user: Some(user.id.clone()),
            session: Some(current.session.id.clone()),
            expires_at: Utc::now() + CEREMONY_LIFETIME,
            state: registration,
        },
        options_json(options)?,
    )
    .await
}

/// A passkey as the API shows it.
pub struct Registered {
    pub credential: String,
    pub name: String,
    /// Backup codes the first time; a new token when the registration
    /// completed a partial session.
    pub enrolled: Enrolled,
}

/// Finishes a registration with the browser's answer. The first second
/// factor of a user comes with backup codes.
pub async fn finish_registration(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    ceremony: &str,
    credential: &RegisterPublicKeyCredential,
    name: Option<&str>,
) -> Result<Registered, ApiError> {
    let party = relying_party(state)?;
    let user = &current.user;
    let ceremony = open(state, ceremony, Some(&current.session.id)).await?;
    if ceremony.user.as_deref() != Some(user.id.as_str()) {
        return Err(wrong_ceremony());
    }
    let (passkey, aaguid) = party
        .finish_registration(credential, &ceremony.state)
        .ok_or_else(wrong_ceremony)?
        .map_err(|refused| match refused {
            RegistrationRefused::NotAllowed(_) => ApiError::unprocessable(
                Code::AuthenticatorNotAllowed,
                format!("the passkey was not accepted: {refused}"),
            ),
            RegistrationRefused::Invalid(error) => {
                ApiError::unprocessable(Code::PasskeyRefused, format!("the passkey was not accepted: {error}"))
            }
        })?;
    let name = check_name("name", name.unwrap_or("Passkey"))?;
    let factors = read(&state.models.mfa).factors(&user.id);
    let text = credential_id_text(passkey.cred_id());
    let context = client.as_user(&user.id, &user.org);
    let event = mfa::register_passkey(
        &context,
        factors.version,
        &PasskeyRegistered {
            user: user.id.clone(),
            credential: text.clone(),
            name: name.clone(),
            passkey,
            ceremony: ceremony.id,
            aaguid: aaguid.map(|aaguid| aaguid.to_string()),
        },
    );
    let enrolled = match commit_enrolment(state, current, client, &factors, Factor::Passkey, event).await? {
        Ok(enrolled) => enrolled,
        Err(Lost::Taken) => {
            return Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                Code::PasskeyTaken,
                "this passkey is already registered, or this registration was already used",
            ));
        }
        Err(Lost::Conflict) => return Err(ApiError::changed_meanwhile()),
    };
    Ok(Registered {
        credential: text,
        name,
        enrolled,
    })
}

/// Starts proving a passkey for the current session (a partial one's
/// second factor, or a step-up).
pub async fn start_verification(state: &AppState, current: &CurrentSession) -> Result<Challenge, ApiError> {
    let party = relying_party(state)?;
    let factors = read(&state.models.mfa).factors(&current.user.id);
    if !allowed_factors(current, &factors).contains(&Factor::Passkey) {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            Code::NoPasskey,
            "this account has no passkey",
        ));
    }
    let keys: Vec<_> = factors.passkeys.iter().map(|passkey| passkey.passkey.clone()).collect();
    let (options, authentication) = party
        .webauthn
        .start_passkey_authentication(&keys)
        .map_err(|_| ApiError::internal("passkey authentication could not start"))?;
    challenge(
        state,
        Ceremony {
            id: new_id(),
            user: Some(current.user.id.clone()),
            session: Some(current.session.id.clone()),
            expires_at: Utc::now() + CEREMONY_LIFETIME,
            state: CeremonyState::Authentication(authentication),
        },
        options_json(options)?,
    )
    .await
}

/// Finishes a passkey proof for the current session: `aal2`, a new token.
pub async fn verify(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    ceremony: &str,
    credential: &PublicKeyCredential,
) -> Result<Issued, ApiError> {
    let _attempt = throttle::second_factor(state, client, current).await?;
    let ceremony = open(state, ceremony, Some(&current.session.id)).await?;
    if ceremony.user.as_deref() != Some(current.user.id.as_str()) {
        return Err(wrong_ceremony());
    }
    let factors = read(&state.models.mfa).factors(&current.user.id);
    let Some(verified) = check_assertion(state, &ceremony, credential, &current.user.id, &current.session.id)? else {
        return Err(refuse(
            state,
            current,
            client,
            Some(Factor::Passkey),
            FailureReason::InvalidAssertion,
        )
        .await);
    };
    commit_verification(state, current, client, factors.version, verified).await
}

/// Renames one of the user's passkeys.
pub async fn rename(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    credential: &str,
    name: &str,
) -> Result<(), ApiError> {
    let user = &current.user;
    let factors = read(&state.models.mfa).factors(&user.id);
    let passkey = factors.passkey(credential).ok_or_else(ApiError::not_found)?;
    let name = check_name("name", name)?;
    let context = client.as_user(&user.id, &user.org);
    let event = mfa::rename_passkey(
        &context,
        factors.version,
        &PasskeyRenamed {
            user: user.id.clone(),
            credential: credential.to_string(),
            old: passkey.name.clone(),
            new: name,
        },
    );
    commit(state, vec![event]).await.map(|_| ())
}

/// Removes one of the user's passkeys (releases its credential id). Needs
/// a recent strong authentication.
pub async fn remove(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    credential: &str,
) -> Result<(), ApiError> {
    let user = &current.user;
    let factors = read(&state.models.mfa).factors(&user.id);
    let passkey = factors.passkey(credential).ok_or_else(ApiError::not_found)?;
    let context = client.as_user(&user.id, &user.org);
    let event = mfa::remove_passkey(
        &context,
        factors.version,
        &PasskeyRemoved {
            user: user.id.clone(),
            credential: credential.to_string(),
            name: passkey.name.clone(),
        },
    );
    commit(state, vec![event]).await.map(|_| ())
}

/// Checks the browser's assertion against the ceremony: the verified
/// factor, or `None` when it does not verify (or names another user's
/// credential).
pub(super) fn check_assertion(
    state: &AppState,
    ceremony: &Ceremony,
    credential: &PublicKeyCredential,
    user: &str,
    session: &str,
) -> Result<Option<Verified>, ApiError> {
    let party = relying_party(state)?;
    let CeremonyState::Authentication(authentication) = &ceremony.state else {
        return Ok(None);
    };
    let Ok(result) = party.webauthn.finish_passkey_authentication(credential, authentication) else {
        return Ok(None);
    };
    let text = credential_id_text(result.cred_id());
    let known = read(&state.models.mfa).factors(user).passkey(&text).is_some();
    if !known || !result.user_verified() {
        return Ok(None);
    }
    Ok(Some(Verified {
        user: user.to_string(),
        factor: Factor::Passkey,
        session: session.to_string(),
        step: None,
        set: None,
        index: None,
        remaining: None,
        credential: Some(text),
        authentication: Some(result),
        ceremony: Some(ceremony.id.clone()),
    }))
}

pub(super) async fn challenge(
    state: &AppState,
    ceremony: Ceremony,
    options: serde_json::Value,
) -> Result<Challenge, ApiError> {
    let sealed = state
        .data_keys
        .seal(CEREMONY_KEY, &ceremony)
        .await
        .map_err(key_service)?;
    let json = serde_json::to_vec(&sealed).map_err(|_| ApiError::internal("the ceremony could not be sealed"))?;
    Ok(Challenge {
        ceremony: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json),
        options,
    })
}

/// Why a ceremony state sent back by a browser was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unopened {
    /// Warden's, but past its lifetime: the user starts again.
    Expired,
    /// Not sealed by Warden, or started by another session.
    NotOurs,
}

impl From<Unopened> for ApiError {
    fn from(unopened: Unopened) -> Self {
        match unopened {
            Unopened::Expired => ApiError::new(
                axum::http::StatusCode::GONE,
                Code::CeremonyExpired,
                "the passkey request expired; start again",
            ),
            Unopened::NotOurs => wrong_ceremony(),
        }
    }
}

/// Opens a ceremony state sent back by a browser: sealed by Warden, not
/// expired, and (when `session` is given) started by that session.
pub(super) async fn open(state: &AppState, text: &str, session: Option<&str>) -> Result<Ceremony, Unopened> {
    let sealed: Sealed<Ceremony> = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim())
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or(Unopened::NotOurs)?;
    if sealed.subject != CEREMONY_KEY {
        return Err(Unopened::NotOurs);
    }
    let ceremony = state.data_keys.open(&sealed).await.map_err(|_| Unopened::NotOurs)?;
    if ceremony.expires_at < Utc::now() {
        return Err(Unopened::Expired);
    }
    if session.is_some() && ceremony.session.as_deref() != session {
        return Err(Unopened::NotOurs);
    }
    Ok(ceremony)
}

fn wrong_ceremony() -> ApiError {
    ApiError::bad_request("the passkey request is not one this session started; start again")
}
