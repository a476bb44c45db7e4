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
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
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
            AppendError::Conflict { .. } => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "the resource changed meanwhile; retry",
            ),
            AppendError::ClaimTaken { namespace, .. } => ApiError::new(
                StatusCode::CONFLICT,
                "taken",
                format!("this {namespace} is already taken"),
            ),
            AppendError::Invalid(message) => ApiError::bad_request(message),
            AppendError::Unavailable(_) | AppendError::NoSigningKey | AppendError::Closed => {
                tracing::error!(%error, "append failed");
                ApiError::unavailable("the event log is unavailable; the request was not acknowledged")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response.extensions_mut().insert(self);
        response
    }
}
