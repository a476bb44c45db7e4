//! `/api/v1/secrets`: the org's vault (decision 0027). Owners and admins,
//! recently authenticated, create secrets, give them new values, roll
//! them back, name their readers and shred them; owners, admins and
//! auditors list them (never a value); a secret's readers (people by role,
//! service and vendor keys by id with `secrets:read`) read a value for a
//! reason.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use warden_core::auth::vault::Secret;
use warden_core::commands::secret::Readers;
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::flows::vault;
use crate::state::AppState;
use crate::web::json::Json;
use crate::web::session::{CurrentSession, UserManager};
use crate::web::step_up::Recent;
use crate::web::{Admitted, Client, SignedIn};

/// A secret as answered: never a value.
pub fn describe(secret: &Secret) -> Value {
    let versions: Vec<Value> = secret
        .versions
        .iter()
        .map(|version| {
            json!({
                "version": version.number,
                "added_at": version.added_at,
                "added_by": version.added_by,
            })
        })
        .collect();
    json!({
        "name": secret.name,
        "description": secret.description,
        "current_version": secret.current,
        "versions": versions,
        "readers": secret.readers,
        "shredded": secret.shredded,
        "created_at": secret.created_at,
        "last_access": secret.last_access.as_ref().map(|access| json!({
            "at": access.at,
            "reader": access.reader,
            "version": access.version,
        })),
        "reads": secret.reads,
    })
}

fn no_store() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(axum::http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers
}

/// Owners, admins and auditors see the list; members do not.
fn may_list(current: &CurrentSession) -> Result<(), ApiError> {
    let role = current.user.role;
    if role.manages_users() || role.reads_audit_trail() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only owners, admins and auditors see the org's secrets",
        ))
    }
}

/// `GET /api/v1/secrets`.
pub async fn list(State(state): State<AppState>, SignedIn(current): SignedIn) -> Result<Json<Value>, ApiError> {
    may_list(&current)?;
    let secrets: Vec<Value> = vault::list(&state, &current.user.org)
        .iter()
        .map(|secret| describe(secret))
        .collect();
    Ok(Json(json!({ "secrets": secrets })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSecret {
    name: String,
    value: String,
    #[serde(default)]
    description: String,
    /// Owners and admins when absent.
    #[serde(default)]
    readers: Option<Readers>,
}

/// `POST /api/v1/secrets` (owners and admins, recently authenticated).
pub async fn create(
    State(state): State<AppState>,
    client: Client,
    Recent(UserManager(manager)): Recent<UserManager>,
    Json(body): Json<NewSecret>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let secret = vault::create(
        &state,
        &manager,
        &client,
        &body.name,
        &body.description,
        body.readers,
        Zeroizing::new(body.value),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(describe(&secret))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadParams {
    /// Why: a ticket reference, a deploy, "service start".
    #[serde(default)]
    reason: String,
    /// The current one when absent.
    #[serde(default)]
    version: Option<u32>,
}

/// `GET /api/v1/secrets/{name}?reason=…[&version=N]`: the value, for a
/// reader of the secret.
pub async fn read(
    State(state): State<AppState>,
    client: Client,
    Admitted(principal, ..): Admitted<SignedIn>,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
) -> Result<(HeaderMap, Json<Value>), ApiError> {
    let opened = vault::read_value(&state, &principal, &client, &name, params.version, &params.reason).await?;
    Ok((
        no_store(),
        Json(json!({
            "name": opened.secret.name,
            "version": opened.version,
            "current_version": opened.secret.current,
            "value": opened.value.as_str(),
            "read_at": Utc::now(),
        })),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewValue {
    value: String,
}

/// `PUT /api/v1/secrets/{name}` (owners and admins, recently
/// authenticated): a new current version.
pub async fn add_version(
    State(state): State<AppState>,
    client: Client,
    Recent(UserManager(manager)): Recent<UserManager>,
    Path(name): Path<String>,
    Json(body): Json<NewValue>,
) -> Result<Json<Value>, ApiError> {
    let secret = vault::add_version(&state, &manager, &client, &name, Zeroizing::new(body.value), None).await?;
    Ok(Json(describe(&secret)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    version: u32,
}

/// `POST /api/v1/secrets/{name}/rollback` (owners and admins, recently
/// authenticated): an earlier version is current again.
pub async fn roll_back(
    State(state): State<AppState>,
    client: Client,
    Recent(UserManager(manager)): Recent<UserManager>,
    Path(name): Path<String>,
    Json(body): Json<Rollback>,
) -> Result<Json<Value>, ApiError> {
    let secret = vault::roll_back(&state, &manager, &client, &name, body.version, None).await?;
    Ok(Json(describe(&secret)))
}

/// `PUT /api/v1/secrets/{name}/readers` (owners and admins, recently
/// authenticated).
pub async fn change_readers(
    State(state): State<AppState>,
    client: Client,
    Recent(UserManager(manager)): Recent<UserManager>,
    Path(name): Path<String>,
    Json(readers): Json<Readers>,
) -> Result<Json<Value>, ApiError> {
    let secret = vault::change_readers(&state, &manager, &client, &name, readers, None).await?;
    Ok(Json(describe(&secret)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shred {
    #[serde(default)]
    reason: String,
}

/// `DELETE /api/v1/secrets/{name}?reason=…` (owners and admins, recently
/// authenticated): shreds every version; the name can be used again.
pub async fn shred(
    State(state): State<AppState>,
    client: Client,
    Recent(UserManager(manager)): Recent<UserManager>,
    Path(name): Path<String>,
    Query(params): Query<Shred>,
) -> Result<Json<Value>, ApiError> {
    let secret = vault::shred(&state, &manager, &client, &name, &params.reason, None).await?;
    Ok(Json(describe(&secret)))
}
