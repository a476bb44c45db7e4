//! `POST /api/v1/app-events`: the consuming application records its own
//! audit events in Warden's chain (kinds under `app.`), so its trail gets
//! the same ordering, signatures and offline verification as Warden's.

use std::time::Duration;

use axum::Json;
use axum::extract::{Extension, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde_json::json;
use warden_core::{Actor, ActorKind, NewEvent, Outcome};

use crate::error::ApiError;
use crate::request_id::RequestId;
use crate::state::AppState;

/// Longest wait for this node's read models to include the new event.
const READ_YOUR_WRITES: Duration = Duration::from_secs(5);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppEvent {
    /// Dotted, lower-case, under `app.`: `app.invoice.paid`.
    kind: String,
    /// The entity it is about: `invoice:42`.
    subject: String,
    #[serde(default)]
    actor: Option<Actor>,
    #[serde(default = "success")]
    outcome: Outcome,
    #[serde(default)]
    data: Option<serde_json::Value>,
    /// Refuse the event (409) unless the subject is at this version.
    #[serde(default, deserialize_with = "integral")]
    expected_version: Option<u64>,
}

/// A version as JSON writes integers: `3` or `3.0`.
fn integral<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    number
        .as_u64()
        .or_else(|| {
            number
                .as_f64()
                .filter(|x| x.fract() == 0.0 && *x >= 0.0 && *x < 9007199254740992.0)
                .map(|x| x as u64)
        })
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom("expected_version must be a non-negative integer"))
}

fn success() -> Outcome {
    Outcome::Success
}

pub async fn record(
    State(state): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    _caller: AppEventsCaller,
    Json(body): Json<AppEvent>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    if !body.kind.starts_with("app.") {
        return Err(ApiError::bad_request("kind must start with \"app.\""));
    }
    let actor = body.actor.unwrap_or_else(|| Actor::of_kind(ActorKind::Service));
    if actor.kind == ActorKind::System {
        return Err(ApiError::bad_request(
            "an application cannot record events as actor kind \"system\"",
        ));
    }
    let data = body.data.unwrap_or_else(|| json!({}));
    if !data.is_object() {
        return Err(ApiError::bad_request("data must be a JSON object"));
    }
    let mut event = NewEvent::new(body.kind, body.subject, actor)
        .outcome(body.outcome)
        .request_id(request_id.0)
        .data(data);
    event.expected_version = body.expected_version;
    let sealed = state.ledger.append_one(event).await?;
    if !state.positions.wait_for(sealed.seq, READ_YOUR_WRITES).await {
        tracing::warn!(seq = sealed.seq, "read models did not reach the new event in time");
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "seq": sealed.seq,
            "id": sealed.id,
            "subject_version": sealed.subject_version,
            "hash": sealed.hash,
        })),
    ))
}

/// A caller holding the application-events token. As an extractor it runs
/// before the body is read: an unauthenticated caller learns nothing about
/// the body's shape.
pub struct AppEventsCaller;

impl FromRequestParts<AppState> for AppEventsCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authorize(state, &parts.headers)?;
        Ok(AppEventsCaller)
    }
}

fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let expected = state.app_events_token_hash.ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "disabled",
            "application events are not enabled on this server",
        )
    })?;
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(ApiError::unauthorized)?;
    // blake3::Hash compares in constant time.
    if blake3::hash(token.as_bytes()) != blake3::Hash::from(expected) {
        return Err(ApiError::unauthorized());
    }
    Ok(())
}
