//! The one error shape of the HTTP surface:
//! `{ "error": { "code": "…", "message": "…", "request_id": "…" } }`.
//!
//! Handlers return [`ApiError`]; the request-id middleware writes the body,
//! so every error (ours, axum's extractor rejections, a caught panic)
//! carries the request id.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use warden_core::ledger::AppendError;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds for `Retry-After` (429 and 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 401 for a request that needs a signed-in session.
    pub fn session_required(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "session_required", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn too_many_requests(message: impl Into<String>, retry_after: std::time::Duration) -> Self {
        let mut error = Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message);
        // Whole seconds, rounded up: never invite a retry that is too early.
        error.retry_after = Some(retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0));
        error
    }

    pub fn forbidden_code(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401 with `WWW-Authenticate: Bearer` (the only scheme so far).
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or invalid credentials",
        )
    }

    /// 409: what a request was decided on changed before it was recorded.
    pub fn changed_meanwhile() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "conflict",
            "the resource changed meanwhile; retry",
        )
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// The generic code for a status, for errors that did not come from us.
    pub fn code_for(status: StatusCode) -> &'static str {
        match status.as_u16() {
            400 => "bad_request",
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not_found",
            405 => "method_not_allowed",
            408 => "timeout",
            409 => "conflict",
            413 => "payload_too_large",
            415 => "unsupported_media_type",
            422 => "unprocessable",
            429 => "too_many_requests",
            503 => "unavailable",
            _ if status.is_client_error() => "bad_request",
            _ => "internal",
        }
    }
}

impl From<AppendError> for ApiError {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::Conflict { .. } => ApiError::changed_meanwhile(),
            AppendError::ClaimTaken { namespace, .. } => ApiError::new(
                StatusCode::CONFLICT,
                "taken",
                format!("this {namespace} is already taken"),
            ),
            AppendError::Invalid(message) => ApiError::bad_request(message),
            // Refused without trying: the store is failing (the breaker).
            AppendError::Down { retry_after } => {
                tracing::debug!(%error, "append refused while the ledger is down");
                let mut refused =
                    ApiError::unavailable("the event log is unavailable; the request was not acknowledged");
                // Whole seconds, rounded up, at least one.
                let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                refused.retry_after = Some(seconds.max(1));
                refused
            }
            AppendError::Unavailable(_) | AppendError::NoSigningKey | AppendError::Closed => {
                tracing::error!(%error, "append failed");
                let mut failed =
                    ApiError::unavailable("the event log is unavailable; the request was not acknowledged");
                failed.retry_after = Some(1);
                failed
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            // Cookie sessions have no registered scheme; `Session` names it.
            let challenge = if self.code == "unauthorized" {
                "Bearer"
            } else {
                "Session realm=\"warden\""
            };
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static(challenge),
            );
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(seconds));
        }
        response.extensions_mut().insert(self);
        response
    }
}

mod rejections;
