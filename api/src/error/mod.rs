//! The one error shape of the HTTP surface:
//! `{ "error": { "code": "…", "message": "…", "request_id": "…" } }`.
//!
//! Handlers return [`ApiError`]; the request-id middleware writes the body,
//! so every error (ours, axum's extractor rejections, a caught panic)
//! carries the request id.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use warden_core::ledger::AppendError;

pub use code::Code;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Code,
    pub message: String,
    /// Seconds for `Retry-After` (429 and 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: Code, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 401 for a request that needs a signed-in session.
    pub fn session_required(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, Code::SessionRequired, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, Code::Forbidden, message)
    }

    pub fn too_many_requests(message: impl Into<String>, retry_after: std::time::Duration) -> Self {
        let mut error = Self::new(StatusCode::TOO_MANY_REQUESTS, Code::TooManyRequests, message);
        // Whole seconds, rounded up: never invite a retry that is too early.
        error.retry_after = Some(retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0));
        error
    }

    pub fn forbidden_code(code: Code, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn unprocessable(code: Code, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, Code::Internal, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Code::BadRequest, message)
    }

    /// 401 with `WWW-Authenticate: Bearer` (the only scheme so far).
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            Code::Unauthorized,
            "missing or invalid credentials",
        )
    }

    /// 409: what a request was decided on changed before it was recorded.
    pub fn changed_meanwhile() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            Code::Conflict,
            "the resource changed meanwhile; retry",
        )
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, Code::NotFound, "no such resource")
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, Code::Unavailable, message)
    }

    /// The generic code for a status, for errors that did not come from us.
    pub fn code_for(status: StatusCode) -> Code {
        match status.as_u16() {
            400 => Code::BadRequest,
            401 => Code::Unauthorized,
            403 => Code::Forbidden,
            404 => Code::NotFound,
            405 => Code::MethodNotAllowed,
            408 => Code::Timeout,
            409 => Code::Conflict,
            413 => Code::PayloadTooLarge,
            415 => Code::UnsupportedMediaType,
            422 => Code::Unprocessable,
            429 => Code::TooManyRequests,
            503 => Code::Unavailable,
            _ if status.is_client_error() => Code::BadRequest,
            _ => Code::Internal,
        }
    }
}

impl From<AppendError> for ApiError {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::Conflict { .. } => ApiError::changed_meanwhile(),
            AppendError::ClaimTaken { namespace, .. } => ApiError::new(
                StatusCode::CONFLICT,
                Code::Taken,
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
            let challenge = if self.code == Code::Unauthorized {
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

mod code;
mod rejections;

pub use rejections::key_refusal;
