//! Every refused request is an event: a 401 or 403 that no domain event
//! records already becomes `access.denied`, with the code the caller got.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use warden_core::commands::session::{AccessDenied, access_denied};

use super::Client;
use super::client::ClientIp;
use super::session::CurrentSession;
use crate::error::{ApiError, Code};
use crate::request_id::RequestId;
use crate::state::AppState;

/// Refusals another event records: `csrf.refused` (`csrf_refused`),
/// `login.failed` (`invalid_credentials`, `wrong_password`,
/// `account_disabled`), `mfa.failed` (`invalid_code`), `api_key.refused`
/// (a key's outcomes, sampled per key, a vendor's claim among them).
const RECORDED_ELSEWHERE: [Code; 13] = [
    Code::CsrfRefused,
    Code::InvalidCredentials,
    Code::WrongPassword,
    Code::AccountDisabled,
    Code::InvalidCode,
    Code::KeyNotFound,
    Code::KeyRevoked,
    Code::KeyExpired,
    Code::KeyOwnerDisabled,
    Code::IpNotAllowed,
    Code::InsufficientScope,
    Code::UsageExceeded,
    Code::ActorNotAllowed,
];

/// How often one client's (and user's) refusals of one code on one path
/// are recorded.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// Middleware, inside the session layer: records 401 and 403 answers. On
/// every request it keeps only what is cheap to keep (reference-counted
/// or copied); the event is built for refusals only.
pub async fn record_denials(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let session = request
        .extensions()
        .get::<CurrentSession>()
        .map(|current| Arc::clone(&current.session));
    let ip = request.extensions().get::<ClientIp>().cloned();
    let user_agent = request.headers().get(header::USER_AGENT).cloned();
    let method = request.method().clone();
    let uri = request.uri().clone();
    let request_id = request.extensions().get::<RequestId>().cloned();
    let response = next.run(request).await;
    let status = response.status();
    if status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN {
        return response;
    }
    let code = response
        .extensions()
        .get::<ApiError>()
        .map_or_else(|| ApiError::code_for(status), |error| error.code);
    if RECORDED_ELSEWHERE.contains(&code) {
        return response;
    }
    let path: String = uri.path().chars().take(256).collect();
    let client = Client::of(
        ip.as_ref(),
        user_agent.as_ref(),
        request_id.map(|id| id.0).unwrap_or_default(),
    );
    // Per user too: people behind one address are each recorded.
    let who = session.as_ref().map_or("", |session| session.user.as_str());
    let sample = format!("denied/{}/{who}/{code}/{path}", client.ip.as_deref().unwrap_or(""));
    if !state.refusals.admit(sample, SAMPLE_EVERY) {
        return response;
    }
    let context = match &session {
        Some(session) => client.as_user(&session.user, &session.org),
        None => client.anonymous(),
    };
    let denied = AccessDenied {
        status: status.as_u16(),
        code: code.to_string(),
        method: method.to_string(),
        path,
    };
    let event = access_denied(&context, session.as_ref().map(|session| session.id.as_str()), &denied);
    if let Err(error) = state.ledger.append_one(event).await {
        tracing::warn!(%error, "access denial not recorded");
    }
    response
}
