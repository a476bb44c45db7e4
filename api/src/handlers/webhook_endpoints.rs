//! `/api/v1/webhook-endpoints`: where an org's alerts are posted.

use crate::web::json::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use warden_projections::deliveries::Endpoint;

use crate::error::ApiError;
use crate::flows::{alert_delivery, alerts};
use crate::state::AppState;
use crate::web::session::UserManager;
use crate::web::{Client, SignedIn};

/// An endpoint as answered: never its secret.
fn describe(endpoint: &Endpoint) -> Value {
    json!({
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "created_at": endpoint.created_at,
    })
}

/// `GET /api/v1/webhook-endpoints` (owners, admins and auditors).
pub async fn list(State(state): State<AppState>, SignedIn(current): SignedIn) -> Result<Json<Value>, ApiError> {
    alerts::may_read(&current)?;
    let endpoints: Vec<Value> = alert_delivery::endpoints(&state, &current.user.org)
        .iter()
        .map(describe)
        .collect();
    Ok(Json(json!({ "endpoints": endpoints })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    url: String,
    #[serde(default)]
    description: String,
}

/// `POST /api/v1/webhook-endpoints` (owners and admins): the answer holds
/// the signing secret, shown this once.
pub async fn create(
    State(state): State<AppState>,
    client: Client,
    UserManager(manager): UserManager,
    Json(body): Json<NewEndpoint>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (endpoint, secret) =
        alert_delivery::create_endpoint(&state, &manager, &client, &body.url, &body.description).await?;
    let mut answer = describe(&endpoint);
    if let Some(object) = answer.as_object_mut() {
        object.insert("secret".into(), json!(secret));
    }
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `DELETE /api/v1/webhook-endpoints/{id}` (owners and admins).
pub async fn remove(
    State(state): State<AppState>,
    client: Client,
    UserManager(manager): UserManager,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    alert_delivery::remove_endpoint(&state, &manager, &client, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
