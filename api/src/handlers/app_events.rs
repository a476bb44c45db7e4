//! `POST /api/v1/app-events`: the consuming application records its own
//! audit events in Warden's chain (kinds under `app.`), so its trail gets
//! the same ordering, signatures and offline verification as Warden's.
//! The actor is the application, by its token's name; the user it acts
//! for is recorded as its word (decision 0018).

use std::time::Duration;

use crate::web::json::Json;
use axum::extract::{Extension, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use warden_core::commands::app_event::idempotency::{self, Retry};
use warden_core::commands::app_event::{self, Application};
use warden_core::ledger::AppendError;
use warden_core::{Event, NewEvent, Outcome};
use warden_projections::projection::read;

use crate::error::{ApiError, Code};
use crate::request_id::RequestId;
use crate::state::AppState;
use crate::web::Client;

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
    /// The application's user it acts for, as the application says.
    #[serde(default)]
    on_behalf_of: Option<String>,
    /// No longer accepted (decision 0018); read only to say so.
    #[serde(default)]
    actor: Option<serde::de::IgnoredAny>,
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
    AppEventsCaller(token): AppEventsCaller,
    client: Client,
    headers: HeaderMap,
    Json(body): Json<AppEvent>,
) -> Result<Response, ApiError> {
    if body.actor.is_some() {
        return Err(ApiError::bad_request(
            "actor is not accepted: Warden records the application (its token) as the actor of its events; name the user the application acts for in on_behalf_of, and put any other context in data",
        ));
    }
    if let Some(org) = &token.app.org
        && read(&state.models.accounts).org(org).is_none()
    {
        return Err(ApiError::forbidden(format!(
            "this token is scoped to org {org}, which does not exist (app_tokens in the configuration)"
        )));
    }
    let idempotency_key = idempotency_key(&headers)?;
    let request = app_event::Request {
        kind: body.kind,
        subject: body.subject,
        on_behalf_of: body.on_behalf_of,
        outcome: body.outcome,
        data: body.data,
        expected_version: body.expected_version,
    };
    let caller = app_event::Caller {
        ip: client.ip.as_deref(),
        user_agent: client.user_agent.as_deref(),
    };
    let mut event = app_event::decide(&token.app, caller, request)
        .map_err(|refusal| match refusal.forbidden() {
            true => ApiError::forbidden(refusal.to_string()),
            false => ApiError::bad_request(refusal.to_string()),
        })?
        .request_id(request_id.0);
    let claim = idempotency_key.map(|key| idempotency::claim(&token.scope, &key));
    if let Some(claim) = &claim {
        if let Some(original) = replay(&state, claim, &event).await? {
            return Ok(original);
        }
        event = event.claim(idempotency::CLAIM, claim.clone());
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
        .filter(|key| idempotency::valid_key(key))
        .map(|key| Some(key.to_string()))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "Idempotency-Key must be 1 to {} visible ASCII characters (a UUID is a good choice)",
                idempotency::KEY_MAX
            ))
        })
}

/// The original answer for a key already used, or `None` if it was not.
async fn replay(state: &AppState, claim: &str, request: &NewEvent) -> Result<Option<Response>, ApiError> {
    let unavailable = |_| ApiError::unavailable("the event log is unavailable");
    let Some(seq) = state
        .ledger
        .store()
        .claim_holder(idempotency::CLAIM, claim)
        .await
        .map_err(unavailable)?
    else {
        return Ok(None);
    };
    let original = state.ledger.store().read_seqs(&[seq]).await.map_err(unavailable)?.pop();
    match original {
        Some(original) if idempotency::decide_retry(&original, request) == Retry::Replay => {
            Ok(Some(answer(&original, true)))
        }
        // 409 like every claim already taken (the IETF draft suggests 422;
        // the key is a claim, and the request conflicts with its event).
        Some(_) => Err(ApiError::new(
            StatusCode::CONFLICT,
            Code::IdempotencyKeyReused,
            "this Idempotency-Key was used for a different event; use a new key for a new event",
        )),
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            Code::IdempotencyKeyReused,
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

/// An application token: what its events record, and the BLAKE3 of its
/// secret.
#[derive(Debug, Clone)]
pub struct AppToken {
    pub app: Application,
    /// What its idempotency keys are unique within.
    pub scope: String,
    hash: blake3::Hash,
}

impl AppToken {
    pub fn new(app: Application, scope: String, secret: &str) -> Self {
        AppToken {
            app,
            scope,
            hash: blake3::hash(secret.as_bytes()),
        }
    }

    pub fn same_secret(&self, other: &AppToken) -> bool {
        self.hash == other.hash
    }
}

/// A caller holding an application token. As an extractor it runs before
/// the body is read: an unauthenticated caller learns nothing about the
/// body's shape.
pub struct AppEventsCaller(pub AppToken);

impl FromRequestParts<AppState> for AppEventsCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authorize(state, &parts.headers).map(AppEventsCaller)
    }
}

fn authorize(state: &AppState, headers: &HeaderMap) -> Result<AppToken, ApiError> {
    if state.app_tokens.is_empty() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            Code::Disabled,
            "application events are not enabled on this server",
        ));
    }
    // The scheme is case-insensitive (RFC 9110 §11.1).
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(ApiError::unauthorized)?;
    let presented = blake3::hash(token.as_bytes());
    // blake3::Hash compares in constant time; every token is compared, so
    // the time does not tell which one matched.
    let mut found = None;
    for known in &state.app_tokens {
        if known.hash == presented {
            found = Some(known);
        }
    }
    found.cloned().ok_or_else(ApiError::unauthorized)
}
