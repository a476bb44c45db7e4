//! An org's users, for its owners and admins.

use crate::web::json::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use warden_core::auth::inactive_users::Verdict;
use warden_core::auth::password::Password;
use warden_core::event::timestamp;
use warden_projections::accounts::User;
use warden_projections::projection::read;

use crate::error::ApiError;
use crate::flows::inactive_users::{self, Listed};
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InactiveParams {
    days: u32,
}

fn describe_listed(listed: &Listed) -> Value {
    let mut body = describe(&listed.user);
    body["inactive_since"] = json!(timestamp::format(&listed.seen_at));
    body["last_seen_at"] = json!(listed.last_seen.as_ref().map(timestamp::format));
    if let Some(kept) = listed.kept {
        body["kept"] = json!({ "reason": kept.as_str(), "message": kept.message() });
    }
    body
}

/// `GET /api/v1/users/inactive?days=N` (owners, admins, `users:read`):
/// the active users not seen for N days (30 to 3650), longest unseen
/// first: who disabling them would disable, and who stays and why.
pub async fn inactive(
    State(state): State<AppState>,
    client: Client,
    Admitted(manager, ..): Admitted<UserManager>,
    Query(params): Query<InactiveParams>,
) -> Result<Json<Value>, ApiError> {
    let days = inactive_users::days(params.days)?;
    let preview = inactive_users::preview(&state, &manager, &client, days)?;
    Ok(Json(json!({
        "days": preview.days.get(),
        "cutoff": timestamp::format(&preview.cutoff),
        "total": preview.total,
        "users": preview.inactive.iter().map(describe_listed).collect::<Vec<_>>(),
        "kept": preview.kept.iter().map(describe_listed).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisableInactiveBody {
    days: u32,
    users: Vec<String>,
}

/// Why a user asked for was left as they are.
fn left_reason(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Seen | Verdict::Inactive => "seen",
        Verdict::Kept(kept) => kept.as_str(),
    }
}

/// `POST /api/v1/users/inactive/disable` `{"days", "users": [ids]}`
/// (owners and admins, after a recent strong authentication): disables
/// those still not seen for `days`, ending their sessions.
pub async fn disable_inactive(
    State(state): State<AppState>,
    client: Client,
    Admitted(manager, ..): Admitted<UserManager>,
    Json(body): Json<DisableInactiveBody>,
) -> Result<Json<Value>, ApiError> {
    let days = inactive_users::days(body.days)?;
    let outcome = inactive_users::disable(&state, &manager, &client, days, &body.users).await?;
    let left: Vec<Value> = outcome
        .left
        .iter()
        .map(|(id, verdict)| json!({ "id": id, "reason": left_reason(*verdict) }))
        .collect();
    Ok(Json(json!({ "disabled": outcome.disabled, "left": left })))
}
