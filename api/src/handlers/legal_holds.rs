//! `/api/v1/org/legal-holds`: the org's legal holds.

use crate::web::json::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use warden_projections::retention::Hold;

use crate::error::ApiError;
use crate::flows::legal_holds;
use crate::state::AppState;
use crate::web::session::AuditReader;
use crate::web::{Client, Recent, SignedIn};

fn describe(hold: &Hold) -> Value {
    json!({
        "id": hold.id,
        "scope": hold.scope,
        "reason": hold.reason,
        "placed_at": hold.placed_at,
        "placed_seq": hold.placed_seq,
        "placed_by": hold.placed_by,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    reason: String,
}

/// `GET /api/v1/org/legal-holds` (owner or auditor).
pub async fn list(State(state): State<AppState>, AuditReader(reader): AuditReader) -> Json<Value> {
    let holds: Vec<Value> = legal_holds::list(&state, &reader).iter().map(describe).collect();
    Json(json!({ "holds": holds }))
}

/// `POST /api/v1/org/legal-holds` (owner).
pub async fn place(
    State(state): State<AppState>,
    client: Client,
    SignedIn(current): SignedIn,
    Json(body): Json<ReasonBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let hold = legal_holds::place(&state, &current, &client, &body.reason).await?;
    Ok((StatusCode::CREATED, Json(describe(&hold))))
}

/// `POST /api/v1/org/legal-holds/{id}/release` (owner, recent strong
/// authentication).
pub async fn release(
    State(state): State<AppState>,
    client: Client,
    Recent(SignedIn(current)): Recent<SignedIn>,
    Path(id): Path<String>,
    Json(body): Json<ReasonBody>,
) -> Result<StatusCode, ApiError> {
    legal_holds::release(&state, &current, &client, &id, &body.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}
