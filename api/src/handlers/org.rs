//! The signed-in user's org and its settings.

use crate::web::json::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use warden_core::auth::mfa_policy::Method;
use warden_core::commands::org::SessionPolicy;
use warden_core::event::timestamp;
use warden_projections::accounts::Org;

use crate::error::ApiError;
use crate::flows;
use crate::state::AppState;
use crate::web::session::UserManager;
use crate::web::{Client, Recent, SignedIn};

fn describe(org: &Org) -> Value {
    json!({
        "id": org.id,
        "name": org.name,
        "slug": org.slug,
        "created_at": timestamp::format(&org.created_at),
        "session_policy": org.session_policy,
    })
}

pub async fn get(State(state): State<AppState>, SignedIn(current): SignedIn) -> Result<Json<Value>, ApiError> {
    Ok(Json(describe(&flows::org::of(&state, &current)?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyBody {
    idle_timeout_seconds: u64,
    absolute_timeout_seconds: u64,
}

pub async fn change_session_policy(
    State(state): State<AppState>,
    client: Client,
    UserManager(manager): UserManager,
    Json(body): Json<PolicyBody>,
) -> Result<Json<Value>, ApiError> {
    let policy = SessionPolicy {
        idle_timeout_seconds: body.idle_timeout_seconds,
        absolute_timeout_seconds: body.absolute_timeout_seconds,
    };
    let org = flows::org::change_session_policy(&state, &manager, &client, policy).await?;
    Ok(Json(describe(&org)))
}

/// The org's MFA policy, with what a user is asked by each sign-in method.
pub fn describe_mfa_policy(org: &Org) -> Value {
    let policy = &org.mfa_policy;
    let methods: serde_json::Map<String, Value> = Method::ALL
        .iter()
        .map(|method| {
            let rule = policy.rule(*method);
            (
                method.as_str().to_string(),
                json!({
                    "allowed": rule.allowed,
                    "require_mfa": rule.require_mfa,
                    "factors": rule.factors,
                    "trust_upstream_mfa": rule.trust_upstream_mfa,
                }),
            )
        })
        .collect();
    let preview: serde_json::Map<String, Value> = flows::org::preview(org)
        .into_iter()
        .map(|(method, outcomes)| {
            let outcomes: serde_json::Map<String, Value> = outcomes
                .into_iter()
                .map(|(case, text)| (case.to_string(), json!(text)))
                .collect();
            (method.as_str().to_string(), Value::Object(outcomes))
        })
        .collect();
    json!({
        "enrolment_grace_seconds": policy.enrolment_grace_seconds,
        "required_since": org.mfa_required_since.as_ref().map(timestamp::format),
        "require_sso": policy.require_sso,
        "methods": methods,
        "preview": preview,
    })
}

/// `GET /api/v1/org/mfa-policy`.
pub async fn mfa_policy(State(state): State<AppState>, SignedIn(current): SignedIn) -> Result<Json<Value>, ApiError> {
    Ok(Json(describe_mfa_policy(&flows::org::of(&state, &current)?)))
}

/// `PUT /api/v1/org/mfa-policy` (owner or admin, recent strong
/// authentication).
pub async fn change_mfa_policy(
    State(state): State<AppState>,
    client: Client,
    Recent(UserManager(manager)): Recent<UserManager>,
    Json(body): Json<warden_core::auth::policy_change::Change>,
) -> Result<Json<Value>, ApiError> {
    let org = flows::org::change_mfa_policy(&state, &manager, &client, body).await?;
    Ok(Json(describe_mfa_policy(&org)))
}

/// `GET /api/v1/org/security-emails`: which security emails the org's
/// users get.
pub async fn security_emails(
    State(state): State<AppState>,
    SignedIn(current): SignedIn,
) -> Result<Json<Value>, ApiError> {
    let org = flows::org::of(&state, &current)?;
    Ok(Json(json!(org.security_emails)))
}

/// `PUT /api/v1/org/security-emails` (owner or admin, recent strong
/// authentication): turns security emails on or off; fields left out stay
/// as they are.
pub async fn change_security_emails(
    State(state): State<AppState>,
    client: Client,
    Recent(UserManager(manager)): Recent<UserManager>,
    Json(body): Json<flows::org::SecurityEmailsInput>,
) -> Result<Json<Value>, ApiError> {
    let org = flows::org::change_security_emails(&state, &manager, &client, body).await?;
    Ok(Json(json!(org.security_emails)))
}
