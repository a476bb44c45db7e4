//! A user's own sessions and password.

use crate::web::json::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use warden_core::auth::password::Password;
use warden_core::commands::session::RevocationReason;
use warden_core::event::timestamp;
use warden_projections::projection::read;
use warden_projections::sessions::Session;

use crate::error::ApiError;
use crate::flows::account;
use crate::handlers::auth::signed_in;
use crate::state::AppState;
use crate::web::{Client, Recent, SignedIn, cookie};

pub fn describe(session: &Session, current: &str) -> Value {
    json!({
        "id": session.id,
        "current": session.id == current,
        "created_at": timestamp::format(&session.created_at),
        "last_seen_at": timestamp::format(&session.last_seen),
        "expires_at": timestamp::format(&session.expires_at),
        "ip": session.ip,
        "user_agent": session.user_agent,
        "device": session.device,
        "fingerprint": session.fingerprint,
        "assurance": session.assurance.level,
    })
}

pub async fn list(State(state): State<AppState>, SignedIn(current): SignedIn) -> Json<Value> {
    let sessions = read(&state.models.sessions);
    let items: Vec<Value> = sessions
        .live_of_user(&current.user.id, chrono::Utc::now())
        .into_iter()
        .map(|session| describe(session, &current.session.id))
        .collect();
    Json(json!({ "sessions": items }))
}

pub async fn revoke(
    State(state): State<AppState>,
    client: Client,
    SignedIn(current): SignedIn,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let reason = if id == current.session.id {
        RevocationReason::SignedOut
    } else {
        RevocationReason::RevokedByUser
    };
    account::revoke(&state, &current, &client, &id, reason).await?;
    if id == current.session.id {
        return Ok((
            StatusCode::NO_CONTENT,
            [(header::SET_COOKIE, cookie::clear(&state.web))],
        )
            .into_response());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn revoke_others(
    State(state): State<AppState>,
    client: Client,
    SignedIn(current): SignedIn,
) -> Result<Json<Value>, ApiError> {
    let revoked = account::revoke_others(&state, &current, &client).await?;
    Ok(Json(json!({ "revoked": revoked })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    current_password: String,
    new_password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    client: Client,
    SignedIn(current): SignedIn,
    Json(body): Json<PasswordBody>,
) -> Result<Response, ApiError> {
    let current_password = Password::new(body.current_password);
    let new_password = Password::new(body.new_password);
    let session = account::change_password(&state, &current, &client, &current_password, &new_password).await?;
    Ok(signed_in(&state, &session, StatusCode::OK))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailChangeBody {
    email: String,
}

/// `POST /api/v1/email-change`: a link to verify the new address is
/// mailed to it (recent strong authentication); the account keeps its
/// address until the link is used.
pub async fn request_email_change(
    State(state): State<AppState>,
    client: Client,
    Recent(SignedIn(current)): Recent<SignedIn>,
    Json(body): Json<EmailChangeBody>,
) -> Result<Response, ApiError> {
    let requested = crate::flows::email_change::request(&state, &current, &client, &body.email).await?;
    let body = serde_json::json!({
        "change": requested.change,
        "email": requested.email,
        "expires_at": warden_core::event::timestamp::format(&requested.expires_at),
    });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailVerifyBody {
    token: String,
}

/// `POST /api/v1/email-change/verify`: the link's token moves the account
/// to its new address.
pub async fn verify_email_change(
    State(state): State<AppState>,
    client: Client,
    Json(body): Json<EmailVerifyBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let email = crate::flows::email_change::verify(&state, &client, &body.token).await?;
    Ok(Json(serde_json::json!({ "status": "changed", "email": email })))
}
