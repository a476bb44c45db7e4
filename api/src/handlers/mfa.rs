//! A user's second factors over the JSON API: set up and remove a TOTP
//! authenticator, backup codes, and verification (completing a partial
//! sign-in, or stepping up before a sensitive action).

use crate::web::json::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use warden_core::auth::password::Password;
use warden_core::event::timestamp;
use warden_projections::projection::read;

use crate::error::ApiError;
use warden_core::auth::webauthn::{PublicKeyCredential, RegisterPublicKeyCredential};

use crate::flows::backup_codes::{self, IssuedCodes};
use crate::flows::issued::Issued;
use crate::flows::mfa::{self, TotpSetup};
use crate::flows::passkeys;
use crate::flows::step_up;
use crate::handlers::auth::signed_in;
use crate::state::AppState;
use crate::web::{AnySession, Client, Enrolling, Recent, SignedIn};

/// `GET /api/v1/mfa`: the user's factors (never their secrets).
pub async fn factors(State(state): State<AppState>, Enrolling(current): Enrolling) -> Json<Value> {
    let factors = read(&state.models.mfa).factors(&current.user.id);
    let totp = factors.totp.as_ref().map(|totp| {
        json!({
            "enrolled_at": totp.enrolled_at.as_ref().map(timestamp::format),
            "digits": totp.params.digits,
            "period_seconds": totp.params.period_seconds,
            "algorithm": totp.params.algorithm,
        })
    });
    let backup_codes = factors.backup_codes.as_ref().map(|codes| {
        json!({
            "set": codes.set,
            "remaining": codes.remaining(),
            "count": codes.count,
            "generated_at": timestamp::format(&codes.generated_at),
            "acknowledged": codes.acknowledged,
        })
    });
    let passkeys: Vec<Value> = factors
        .passkeys
        .iter()
        .map(|passkey| {
            json!({
                "credential": passkey.credential,
                "name": passkey.name,
                "registered_at": timestamp::format(&passkey.registered_at),
                "last_used_at": passkey.last_used_at.as_ref().map(timestamp::format),
            })
        })
        .collect();
    Json(json!({
        "totp": totp,
        "passkeys": passkeys,
        "totp_setup_pending": factors.totp_pending.is_some(),
        "backup_codes": backup_codes,
        "second_factors": factors.second_factors(),
    }))
}

/// `POST /api/v1/mfa/totp`: starts setting up an authenticator.
pub async fn start_totp(
    State(state): State<AppState>,
    client: Client,
    Enrolling(current): Enrolling,
) -> Result<Response, ApiError> {
    let setup = mfa::start_totp(&state, &current, &client).await?;
    Ok((StatusCode::CREATED, Json(describe_setup(&setup))).into_response())
}

pub fn describe_setup(setup: &TotpSetup) -> Value {
    json!({
        "enrolment": setup.enrolment,
        "secret": setup.secret.as_str(),
        "otpauth_uri": setup.uri.as_str(),
        "qr_svg": crate::pages::qr::svg(&setup.uri),
        "digits": setup.params.digits,
        "period_seconds": setup.params.period_seconds,
        "algorithm": setup.params.algorithm,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    code: String,
}

/// `POST /api/v1/mfa/totp/confirm`: the first code from the app; answers
/// the backup codes when this is the user's first second factor.
pub async fn confirm_totp(
    State(state): State<AppState>,
    client: Client,
    Enrolling(current): Enrolling,
    Json(body): Json<CodeBody>,
) -> Result<Response, ApiError> {
    let enrolled = mfa::confirm_totp(&state, &current, &client, &body.code).await?;
    let body = json!({
        "enrolled": true,
        "backup_codes": enrolled.backup_codes.as_ref().map(describe_codes),
    });
    Ok(with_session(&state, StatusCode::OK, body, enrolled.session.as_ref()))
}

/// An answer that also completes a partial session: its new cookie, and
/// the new CSRF token in `csrf_token`.
fn with_session(state: &AppState, status: StatusCode, mut body: Value, session: Option<&Issued>) -> Response {
    let Some(session) = session else {
        return (status, Json(body)).into_response();
    };
    body["csrf_token"] = json!(session.csrf_token);
    (
        status,
        [(
            axum::http::header::SET_COOKIE,
            crate::web::cookie::issue(&state.web, &session.cookie, session.expires_at),
        )],
        Json(body),
    )
        .into_response()
}

/// `DELETE /api/v1/mfa/totp` (needs a recent second factor).
pub async fn remove_totp(
    State(state): State<AppState>,
    client: Client,
    Recent(SignedIn(current)): Recent<SignedIn>,
) -> Result<StatusCode, ApiError> {
    mfa::remove_totp(&state, &current, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/mfa/backup-codes`: a new set (needs a recent second factor).
pub async fn regenerate_backup_codes(
    State(state): State<AppState>,
    client: Client,
    Recent(SignedIn(current)): Recent<SignedIn>,
) -> Result<Response, ApiError> {
    let issued = backup_codes::regenerate_backup_codes(&state, &current, &client).await?;
    Ok((StatusCode::CREATED, Json(describe_codes(&issued))).into_response())
}

pub fn describe_codes(issued: &IssuedCodes) -> Value {
    json!({
        "set": issued.set,
        "codes": issued.codes.iter().map(|code| code.as_str()).collect::<Vec<_>>(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeBody {
    set: String,
}

/// `POST /api/v1/mfa/backup-codes/acknowledge`: the user saved them.
pub async fn acknowledge_backup_codes(
    State(state): State<AppState>,
    client: Client,
    SignedIn(current): SignedIn,
    Json(body): Json<AcknowledgeBody>,
) -> Result<StatusCode, ApiError> {
    backup_codes::acknowledge_backup_codes(&state, &current, &client, &body.set).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/mfa/verify`: a TOTP or backup code. Completes a partial
/// session, or refreshes a full one's strong authentication; answers like
/// a sign-in (new cookie, new CSRF token).
pub async fn verify(
    State(state): State<AppState>,
    client: Client,
    AnySession(current): AnySession,
    Json(body): Json<CodeBody>,
) -> Result<Response, ApiError> {
    let session = mfa::verify(&state, &current, &client, &body.code).await?;
    Ok(signed_in(&state, &session, StatusCode::OK))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    password: String,
}

/// `POST /api/v1/session/reauthenticate`: the password again, before a
/// sensitive action, for users without a second factor.
pub async fn reauthenticate(
    State(state): State<AppState>,
    client: Client,
    SignedIn(current): SignedIn,
    Json(body): Json<PasswordBody>,
) -> Result<Response, ApiError> {
    let password = Password::new(body.password);
    let session = step_up::reauthenticate_with_password(&state, &current, &client, &password).await?;
    Ok(signed_in(&state, &session, StatusCode::OK))
}

/// `POST /api/v1/mfa/passkeys/register/start`: options for
/// `navigator.credentials.create()` (needs a recent strong authentication).
pub async fn start_passkey_registration(
    State(state): State<AppState>,
    Enrolling(current): Enrolling,
) -> Result<Json<passkeys::Challenge>, ApiError> {
    Ok(Json(passkeys::start_registration(&state, &current).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    ceremony: String,
    credential: RegisterPublicKeyCredential,
    #[serde(default)]
    name: Option<String>,
}

/// `POST /api/v1/mfa/passkeys/register/finish`: the browser's answer.
pub async fn finish_passkey_registration(
    State(state): State<AppState>,
    client: Client,
    Enrolling(current): Enrolling,
    Json(body): Json<RegisterBody>,
) -> Result<Response, ApiError> {
    let registered = passkeys::finish_registration(
        &state,
        &current,
        &client,
        &body.ceremony,
        &body.credential,
        body.name.as_deref(),
    )
    .await?;
    let body = json!({
        "credential": registered.credential,
        "name": registered.name,
        "backup_codes": registered.enrolled.backup_codes.as_ref().map(describe_codes),
    });
    Ok(with_session(
        &state,
        StatusCode::CREATED,
        body,
        registered.enrolled.session.as_ref(),
    ))
}

/// `POST /api/v1/mfa/passkeys/verify/start`: options for
/// `navigator.credentials.get()`, for a partial session or a step-up.
pub async fn start_passkey_verification(
    State(state): State<AppState>,
    AnySession(current): AnySession,
) -> Result<Json<passkeys::Challenge>, ApiError> {
    Ok(Json(passkeys::start_verification(&state, &current).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertionBody {
    ceremony: String,
    credential: PublicKeyCredential,
}

/// `POST /api/v1/mfa/passkeys/verify/finish`: answers like a sign-in.
pub async fn finish_passkey_verification(
    State(state): State<AppState>,
    client: Client,
    AnySession(current): AnySession,
    Json(body): Json<AssertionBody>,
) -> Result<Response, ApiError> {
    let session = passkeys::verify(&state, &current, &client, &body.ceremony, &body.credential).await?;
    Ok(signed_in(&state, &session, StatusCode::OK))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailBody {
    email: String,
}

/// `POST /api/v1/sign-in/passkey/start`: options for the account's
/// passkeys (shaped the same for an account without any).
pub async fn start_passkey_sign_in(
    State(state): State<AppState>,
    Json(body): Json<EmailBody>,
) -> Result<Json<passkeys::Challenge>, ApiError> {
    Ok(Json(
        crate::flows::passkey_sign_in::start_sign_in(&state, &body.email).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasskeySignInBody {
    email: String,
    ceremony: String,
    /// Parsed by the flow: a malformed answer is a failed sign-in.
    credential: Value,
}

/// `POST /api/v1/sign-in/passkey/finish`: a full session at `aal2`.
pub async fn finish_passkey_sign_in(
    State(state): State<AppState>,
    client: Client,
    Json(body): Json<PasskeySignInBody>,
) -> Result<Response, ApiError> {
    let session =
        crate::flows::passkey_sign_in::finish_sign_in(&state, &client, &body.email, &body.ceremony, &body.credential)
            .await?;
    Ok(signed_in(&state, &session, StatusCode::OK))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameBody {
    name: String,
}

/// `PATCH /api/v1/mfa/passkeys/{credential}`.
pub async fn rename_passkey(
    State(state): State<AppState>,
    client: Client,
    SignedIn(current): SignedIn,
    Path(credential): Path<String>,
    Json(body): Json<RenameBody>,
) -> Result<StatusCode, ApiError> {
    passkeys::rename(&state, &current, &client, &credential, &body.name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/mfa/passkeys/{credential}` (needs a recent strong
/// authentication).
pub async fn remove_passkey(
    State(state): State<AppState>,
    client: Client,
    Recent(SignedIn(current)): Recent<SignedIn>,
    Path(credential): Path<String>,
) -> Result<StatusCode, ApiError> {
    passkeys::remove(&state, &current, &client, &credential).await?;
    Ok(StatusCode::NO_CONTENT)
}
