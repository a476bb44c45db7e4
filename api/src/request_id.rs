//! Every request gets an id: the caller's `x-request-id` when it is a
//! reasonable token, a fresh UUIDv7 otherwise. It is on every log line of
//! the request (a tracing span), on the response, in every error body and
//! in the events the request appends.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::error::ApiError;

pub const HEADER: &str = "x-request-id";

#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn acceptable(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

pub async fn middleware(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| acceptable(value))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    request.extensions_mut().insert(RequestId(id.clone()));
    let span =
        tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path());
    async move {
        let response = next.run(request).await;
        let status = response.status();
        let response = shape_error(response, &id).await;
        if status == axum::http::StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(status = status.as_u16(), "request refused: unavailable");
        } else if status.is_server_error() {
            tracing::error!(status = status.as_u16(), "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), "request done");
        }
        with_header(response, &id)
    }
    .instrument(span)
    .await
}

fn with_header(mut response: Response, id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

/// Gives every error response the JSON error shape, keeping its headers
/// (`Retry-After`, `WWW-Authenticate`, …).
async fn shape_error(response: Response, id: &str) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let ours = response.extensions().get::<ApiError>().cloned();
    let own_body = response.headers().get(header::CONTENT_TYPE).is_some_and(|value| {
        value.as_bytes().starts_with(b"application/json") || value.as_bytes().starts_with(b"text/html")
    });
    if ours.is_none() && own_body {
        // A handler's own JSON answer (the readiness checks) or page (a
        // form shown again with its error): kept as is.
        return response;
    }
    let (parts, body) = response.into_parts();
    let error = match ours {
        Some(error) => error,
        // An extractor rejection or another layer's error: keep its
        // client-facing text for 4xx, never a server detail for 5xx.
        None if status.is_client_error() => {
            let text = axum::body::to_bytes(body, 16 * 1024).await.unwrap_or_default();
            let message = match String::from_utf8_lossy(&text).trim() {
                "" => status.canonical_reason().unwrap_or("bad request").to_string(),
                text => text.to_string(),
            };
            ApiError::new(status, ApiError::code_for(status), message)
        }
        None => ApiError::new(
            status,
            ApiError::code_for(status),
            "internal error; the request id identifies it in the server logs",
        ),
    };
    let body = serde_json::json!({
        "error": { "code": error.code.as_str(), "message": error.message, "request_id": id }
    });
    let mut rebuilt = (status, axum::Json(body)).into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rebuilt.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rebuilt
}
