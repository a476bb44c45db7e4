//! The signed-in user's org and its settings.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use warden_core::commands::org::SessionPolicy;
use warden_core::event::timestamp;
use warden_projections::accounts::Org;

use crate::error::ApiError;
use crate::flows;
use crate::state::AppState;
use crate::web::session::UserManager;
use crate::web::{Client, SignedIn};

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
