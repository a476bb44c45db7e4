//! An org's users, for its owners and admins.

use crate::web::json::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use warden_core::auth::password::Password;
use warden_core::event::timestamp;
use warden_projections::accounts::User;
use warden_projections::projection::read;

use crate::error::ApiError;
use crate::flows::users::{self, NewUser, role};
use crate::state::AppState;
use crate::web::session::UserManager;
use crate::web::{Admitted, Client};

pub fn describe(user: &User) -> Value {
    json!({
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "role": user.role.as_str(),
        "status": user.status.as_str(),
        "created_at": timestamp::format(&user.created_at),
    })
}

pub async fn list(State(state): State<AppState>, Admitted(manager, ..): Admitted<UserManager>) -> Json<Value> {
    let accounts = read(&state.models.accounts);
    let users: Vec<Value> = accounts.members(manager.org()).into_iter().map(describe).collect();
    Json(json!({ "users": users }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    email: String,
    display_name: String,
    role: String,
    #[serde(default)]
    password: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    client: Client,
    Admitted(manager, ..): Admitted<UserManager>,
    Json(body): Json<CreateBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let input = NewUser {
        email: body.email,
        display_name: body.display_name,
        role: role(&body.role)?,
        password: body.password.map(Password::new),
    };
    let created = users::create(&state, &manager, &client, input).await?;
    let mut body = describe(&created.user);
    if let Some(url) = created.invitation_url {
        body["invitation_url"] = json!(url);
    }
    Ok((StatusCode::CREATED, Json(body)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeBody {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

pub async fn change(
    State(state): State<AppState>,
    client: Client,
    Admitted(manager, ..): Admitted<UserManager>,
    Path(id): Path<String>,
    Json(body): Json<ChangeBody>,
) -> Result<Json<Value>, ApiError> {
    let change = users::parse_change(body.role.as_deref(), body.status.as_deref())?;
    let user = users::change(&state, &manager, &client, &id, change).await?;
    Ok(Json(describe(&user)))
}

/// `GET /api/v1/users/{id}/emails`: the user's recent account emails
/// (at most 20, newest first) and where the delivery of each stands.
pub async fn emails(
    State(state): State<AppState>,
    Admitted(manager, ..): Admitted<UserManager>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let user = users::member(&state, manager.org(), &id)?;
    let emails = read(&state.models.outbox).of_user(&user.id);
    Ok(Json(json!({ "emails": emails })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    reason: String,
}

/// `POST /api/v1/users/{id}/password-reset`: emails the user a reset link
/// (owners and admins, after a recent strong authentication, with a
/// reason). The link itself is never in the answer.
pub async fn send_password_reset(
    State(state): State<AppState>,
    client: Client,
    Admitted(manager, ..): Admitted<UserManager>,
    Path(id): Path<String>,
    Json(body): Json<ReasonBody>,
) -> Result<Response, ApiError> {
    let sent = crate::flows::recovery::send_by_admin(&state, &manager, &client, &id, &body.reason).await?;
    let body = json!({
        "link": sent.link,
        "expires_at": timestamp::format(&sent.expires_at),
    });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// `POST /api/v1/users/{id}/second-factors/reset`: removes every second
/// factor of a user who lost them, and ends their sessions (owners and
/// admins, after a recent strong authentication, with a reason).
pub async fn reset_second_factors(
    State(state): State<AppState>,
    client: Client,
    Admitted(manager, ..): Admitted<UserManager>,
    Path(id): Path<String>,
    Json(body): Json<ReasonBody>,
) -> Result<Json<Value>, ApiError> {
    let removed = crate::flows::recovery::reset_second_factors(&state, &manager, &client, &id, &body.reason).await?;
    Ok(Json(json!({
        "totp": removed.totp,
        "passkeys": removed.passkeys,
        "backup_codes": removed.backup_codes,
        "sessions_revoked": removed.sessions_revoked,
    })))
}

pub async fn revoke_sessions(
    State(state): State<AppState>,
    client: Client,
    Admitted(manager, ..): Admitted<UserManager>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let revoked = users::revoke_sessions(&state, &manager, &client, &id).await?;
    Ok(Json(json!({ "revoked": revoked })))
}
