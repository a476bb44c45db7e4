//! Every refused request is an event: a 401 or 403 that no domain event
//! records already becomes `access.denied`, with the code the caller got.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use warden_core::commands::session::{AccessDenied, access_denied};

use super::Client;
use super::session::CurrentSession;
use crate::error::ApiError;
use crate::state::AppState;

/// Refusals another event records: `csrf.refused` (`csrf_refused`),
/// `login.failed` (`invalid_credentials`, `wrong_password`,
/// `account_disabled`), `mfa.failed` (`invalid_code`).
const RECORDED_ELSEWHERE: [&str; 5] = [
    "csrf_refused",
    "invalid_credentials",
    "wrong_password",
    "account_disabled",
    "invalid_code",
];

/// How often one client's (and user's) refusals of one code on one path
/// are recorded.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// Middleware, inside the session layer: records 401 and 403 answers.
pub async fn record_denials(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let client = Client::from_parts(&parts);
    let session = parts.extensions.get::<CurrentSession>().cloned();
    let method = parts.method.to_string();
    let path: String = parts.uri.path().chars().take(256).collect();
    let response = next.run(Request::from_parts(parts, body)).await;
    let status = response.status();
    if status != axum::http::StatusCode::UNAUTHORIZED && status != axum::http::StatusCode::FORBIDDEN {
        return response;
    }
    let code = response
        .extensions()
        .get::<ApiError>()
        .map_or_else(|| ApiError::code_for(status), |error| error.code);
    if RECORDED_ELSEWHERE.contains(&code) {
        return response;
    }
    // Per user too: people behind one address are each recorded.
    let who = session.as_ref().map_or("", |current| current.user.id.as_str());
    let sample = format!("denied/{}/{who}/{code}/{path}", client.ip.as_deref().unwrap_or(""));
    if !state.refusals.admit(sample, SAMPLE_EVERY) {
        return response;
    }
    let context = match &session {
        Some(current) => client.as_user(&current.user.id, &current.user.org),
        None => client.anonymous(),
    };
    let denied = AccessDenied {
        status: status.as_u16(),
        code: code.to_string(),
        method,
        path,
    };
    let event = access_denied(
        &context,
        session.as_ref().map(|current| current.session.id.as_str()),
        &denied,
    );
    if let Err(error) = state.ledger.append_one(event).await {
        tracing::warn!(%error, "access denial not recorded");
    }
    response
}
