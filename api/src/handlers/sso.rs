//! `/api/v1/sso/connections`: an org's single sign-on connections (owners
//! and admins; an owner acknowledges their domains). What decides who
//! signs in, and as whom, takes a recent authentication; turning a
//! connection off does not (it only stops sign-ins).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use warden_core::auth::sso::settings::Typed;
use warden_core::commands::sso::{Connection, Preset, Upstream};

use crate::error::ApiError;
use crate::flows::sso_connections as flows;
use crate::state::AppState;
use crate::web::Client;
use crate::web::json::Json;
use crate::web::session::UserManager;
use crate::web::step_up::Recent;

/// A connection as answered: never its client secret.
pub fn describe(state: &AppState, connection: &Connection) -> Value {
    let settings = &connection.settings;
    let Upstream::Oidc(oidc) = &settings.upstream;
    let domains: Vec<Value> = settings
        .domains
        .iter()
        .map(|domain| match connection.acknowledged.get(domain) {
            Some(by) => json!({"domain": domain, "acknowledged": true,
                "acknowledged_by": by.by, "acknowledged_at": by.at}),
            None => json!({"domain": domain, "acknowledged": false}),
        })
        .collect();
    json!({
        "id": connection.id,
        "name": settings.name,
        "preset": settings.preset.as_str(),
        "protocol": settings.upstream.protocol(),
        "enabled": connection.enabled,
        "issuer": oidc.issuer,
        "client_id": oidc.client_id,
        "scopes": oidc.scopes,
        "domains": domains,
        "provisioning": settings.provisioning.as_str(),
        "mapping": settings.mapping,
        "mfa_amr": oidc.mfa_amr,
        "mfa_acr": oidc.mfa_acr,
        "tenants": oidc.tenants,
        "sign_out_at_provider": oidc.sign_out_at_provider,
        "redirect_uri": flows::redirect_uri(state),
    })
}

/// `GET /api/v1/sso/connections` (owners and admins).
pub async fn list(State(state): State<AppState>, UserManager(manager): UserManager) -> Json<Value> {
    let connections: Vec<Value> = flows::connections(&state, &manager.user.org)
        .iter()
        .map(|connection| describe(&state, connection))
        .collect();
    Json(json!({ "connections": connections, "redirect_uri": flows::redirect_uri(&state) }))
}

/// `GET /api/v1/sso/connections/{id}` (owners and admins).
pub async fn show(
    State(state): State<AppState>,
    UserManager(manager): UserManager,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let connection = flows::connection(&state, &manager.user.org, &id)?;
    Ok(Json(describe(&state, &connection)))
}

/// A role for a group.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRoleInput {
    group: String,
    role: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MappingInput {
    email: Option<String>,
    name: Option<String>,
    groups: Option<String>,
    roles: Option<Vec<GroupRoleInput>>,
    default_role: Option<String>,
    sync_roles: Option<bool>,
}

/// The settings of a new connection, or the ones a change sets (absent:
/// the preset's default, or kept).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionInput {
    name: Option<String>,
    preset: Option<String>,
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scopes: Option<Vec<String>>,
    domains: Option<Vec<String>>,
    provisioning: Option<String>,
    mapping: Option<MappingInput>,
    mfa_amr: Option<Vec<String>>,
    mfa_acr: Option<Vec<String>>,
    tenants: Option<Vec<String>>,
    sign_out_at_provider: Option<bool>,
}

impl ConnectionInput {
    /// Sets what the input has on `typed` (all but the client secret).
    fn apply(self, typed: &mut Typed) {
        let set = |field: &mut String, value: Option<String>| {
            if let Some(value) = value {
                *field = value;
            }
        };
        let set_list = |field: &mut Vec<String>, value: Option<Vec<String>>| {
            if let Some(value) = value {
                *field = value;
            }
        };
        set(&mut typed.name, self.name);
        set(&mut typed.preset, self.preset);
        set(&mut typed.issuer, self.issuer);
        set(&mut typed.client_id, self.client_id);
        set_list(&mut typed.scopes, self.scopes);
        set_list(&mut typed.domains, self.domains);
        set(&mut typed.provisioning, self.provisioning);
        set_list(&mut typed.mfa_amr, self.mfa_amr);
        set_list(&mut typed.mfa_acr, self.mfa_acr);
        set_list(&mut typed.tenants, self.tenants);
        if let Some(sign_out) = self.sign_out_at_provider {
            typed.sign_out_at_provider = sign_out;
        }
        let mapping = self.mapping.unwrap_or_default();
        set(&mut typed.email_claim, mapping.email);
        set(&mut typed.name_claim, mapping.name);
        set(&mut typed.groups_claim, mapping.groups);
        set(&mut typed.default_role, mapping.default_role);
        if let Some(roles) = mapping.roles {
            typed.roles = roles.into_iter().map(|row| (row.group, row.role)).collect();
        }
        if let Some(sync) = mapping.sync_roles {
            typed.sync_roles = sync;
        }
    }
}

/// `POST /api/v1/sso/connections` (owners and admins): a connection, off
/// until enabled.
pub async fn create(
    State(state): State<AppState>,
    client: Client,
    Recent(UserManager(manager)): Recent<UserManager>,
    Json(mut input): Json<ConnectionInput>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let preset_text = input.preset.clone().unwrap_or_else(|| "generic".into());
    let preset = Preset::parse(&preset_text)
        .ok_or_else(|| ApiError::bad_request("preset: one of generic, google, entra, okta, jump_cloud"))?;
    let mut typed = Typed::for_preset(preset);
    let secret = input
        .client_secret
        .take()
        .ok_or_else(|| ApiError::bad_request("client_secret: the provider's client secret is required"))?;
    input.apply(&mut typed);
    let connection = flows::create(&state, &manager, &client, &typed, &secret).await?;
    Ok((StatusCode::CREATED, Json(describe(&state, &connection))))
}

/// `PATCH /api/v1/sso/connections/{id}` (owners and admins): changes the
/// settings given; a new `client_secret` replaces the old.
pub async fn change(
    State(state): State<AppState>,
    client: Client,
    Recent(UserManager(manager)): Recent<UserManager>,
    Path(id): Path<String>,
    Json(mut input): Json<ConnectionInput>,
) -> Result<Json<Value>, ApiError> {
    let secret = input.client_secret.take();
    let connection = flows::change(
        &state,
        &manager,
        &client,
        &id,
        |typed| input.apply(typed),
        secret.as_deref(),
    )
    .await?;
    Ok(Json(describe(&state, &connection)))
}

/// `POST /api/v1/sso/connections/{id}/domains/{domain}/acknowledge`
/// (owners): the owner vouches that the org's people at the domain sign
/// in with this provider.
pub async fn acknowledge(
    State(state): State<AppState>,
    client: Client,
    Recent(UserManager(manager)): Recent<UserManager>,
    Path((id, domain)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let connection = flows::acknowledge(&state, &manager, &client, &id, &domain).await?;
    Ok(Json(describe(&state, &connection)))
}

/// `POST /api/v1/sso/connections/{id}/enable` (owners and admins).
pub async fn enable(
    State(state): State<AppState>,
    client: Client,
    Recent(UserManager(manager)): Recent<UserManager>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let connection = flows::set_enabled(&state, &manager, &client, &id, true).await?;
    Ok(Json(describe(&state, &connection)))
}

/// `POST /api/v1/sso/connections/{id}/disable` (owners and admins).
pub async fn disable(
    State(state): State<AppState>,
    client: Client,
    UserManager(manager): UserManager,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let connection = flows::set_enabled(&state, &manager, &client, &id, false).await?;
    Ok(Json(describe(&state, &connection)))
}

/// `DELETE /api/v1/sso/connections/{id}` (owners and admins): a disabled
/// connection, its client secret shredded.
pub async fn remove(
    State(state): State<AppState>,
    client: Client,
    Recent(UserManager(manager)): Recent<UserManager>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    flows::remove(&state, &manager, &client, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
