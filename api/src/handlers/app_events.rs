//! `POST /api/v1/app-events`: the consuming application records its own
//! audit events in Warden's chain (kinds under `app.`), so its trail gets
//! the same ordering, signatures and offline verification as Warden's.

use std::time::Duration;

use axum::Json;
use axum::extract::{Extension, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use warden_core::chain::canonical;
use warden_core::commands::app_event::{self, Retry};
use warden_core::commands::subjects::{Prefix, is_warden_subject};
use warden_core::ledger::AppendError;
use warden_core::{Actor, ActorKind, Event, NewEvent, Outcome};

use crate::error::ApiError;
use crate::request_id::RequestId;
use crate::state::AppState;

/// Longest wait for this node's read models to include the new event.
const READ_YOUR_WRITES: Duration = Duration::from_secs(5);

/// The header that makes a retry safe (draft-ietf-httpapi-idempotency-key-header).
const IDEMPOTENCY_KEY: &str = "idempotency-key";

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
    caller: AppEventsCaller,
    headers: HeaderMap,
    Json(body): Json<AppEvent>,
) -> Result<Response, ApiError> {
    if !body.kind.starts_with("app.") {
        return Err(ApiError::bad_request("kind must start with \"app.\""));
    }
    if is_warden_subject(&body.subject) {
        return Err(ApiError::bad_request(format!(
            "subject {:?} is one of Warden's own (its prefix is reserved: {}); record application events on subjects of the application's own, such as \"invoice:42\"",
            body.subject.chars().take(64).collect::<String>(),
            Prefix::ALL
                .iter()
                .map(|prefix| prefix.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let idempotency_key = idempotency_key(&headers)?;
    let actor = body.actor.unwrap_or_else(|| Actor::of_kind(ActorKind::Service));
    if actor.kind == ActorKind::System {
        return Err(ApiError::bad_request(
            "an application cannot record events as actor kind \"system\"",
        ));
    }
    let mut data = body.data.unwrap_or_else(|| json!({}));
    if !data.is_object() {
        return Err(ApiError::bad_request("data must be a JSON object"));
    }
    canonical::normalize(&mut data).map_err(|error| ApiError::bad_request(error.to_string()))?;
    let mut event = NewEvent::new(body.kind, body.subject, actor)
        .outcome(body.outcome)
        .request_id(request_id.0)
        .data(data);
    event.expected_version = body.expected_version;
    let claim = idempotency_key.map(|key| app_event::idempotency_claim(caller.scope(), &key));
    if let Some(claim) = &claim {
        if let Some(original) = replay(&state, claim, &event).await? {
            return Ok(original);
        }
        event = event.claim(app_event::IDEMPOTENCY_CLAIM, claim.clone());
    }
    let sealed = match state.ledger.append_one(event.clone()).await {
        Ok(sealed) => sealed,
        // The same key raced this request to the ledger and won.
        Err(AppendError::ClaimTaken { .. }) if claim.is_some() => {
            let claim = claim.as_deref().unwrap_or_default();
            return replay(&state, claim, &event)
                .await?
                .ok_or_else(|| ApiError::unavailable("the idempotency key's event could not be read; retry"));
        }
        Err(error) => return Err(error.into()),
    };
    if !state.positions.wait_for(sealed.seq, READ_YOUR_WRITES).await {
        tracing::warn!(seq = sealed.seq, "read models did not reach the new event in time");
    }
    Ok(answer(&sealed, false))
}

/// `Idempotency-Key`, when the request has one.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .filter(|key| app_event::valid_idempotency_key(key))
        .map(|key| Some(key.to_string()))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "Idempotency-Key must be 1 to {} visible ASCII characters (a UUID is a good choice)",
                app_event::IDEMPOTENCY_KEY_MAX
            ))
        })
}

/// The original answer for a key already used, or `None` if it was not.
async fn replay(state: &AppState, claim: &str, request: &NewEvent) -> Result<Option<Response>, ApiError> {
    let unavailable = |_| ApiError::unavailable("the event log is unavailable");
    let Some(seq) = state
        .ledger
        .store()
        .claim_holder(app_event::IDEMPOTENCY_CLAIM, claim)
        .await
        .map_err(unavailable)?
    else {
        return Ok(None);
    };
    let original = state.ledger.store().read_seqs(&[seq]).await.map_err(unavailable)?.pop();
    match original {
        Some(original) if app_event::decide_retry(&original, request) == Retry::Replay => {
            Ok(Some(answer(&original, true)))
        }
        // 409 like every claim already taken (the IETF draft suggests 422;
        // the key is a claim, and the request conflicts with its event).
        Some(_) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different event; use a new key for a new event",
        )),
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_key_reused",
            format!("this Idempotency-Key was used by event {seq}, which is no longer in the log (archived)"),
        )),
    }
}

/// `201` with the event's position; a replay says so in
/// `Idempotent-Replayed: true`.
fn answer(event: &Event, replayed: bool) -> Response {
    let mut response = (
        StatusCode::CREATED,
        Json(json!({
            "seq": event.seq,
            "id": event.id,
            "subject_version": event.subject_version,
            "hash": event.hash,
        })),
    )
        .into_response();
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// A caller holding the application-events token. As an extractor it runs
/// before the body is read: an unauthenticated caller learns nothing about
/// the body's shape.
pub struct AppEventsCaller;

impl AppEventsCaller {
    /// What the caller's idempotency keys are unique within.
    pub fn scope(&self) -> &str {
        "instance"
    }
}

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
    // The scheme is case-insensitive (RFC 9110 §11.1).
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(ApiError::unauthorized)?;
    // blake3::Hash compares in constant time.
    if blake3::hash(token.as_bytes()) != blake3::Hash::from(expected) {
        return Err(ApiError::unauthorized());
    }
    Ok(())
}
