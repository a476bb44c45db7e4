//! Error pages. A page's handler answers a refusal with [`error_page`]
//! (or an extractor refuses before it runs); [`dress`], around every page
//! route, turns each error answer that is not already a page into one:
//! its heading and message, the request id, and the navigation when the
//! browser is signed in, so a refusal never strands anyone.

use askama::Template;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Nav, Place, render};
use crate::error::ApiError;
use crate::request_id::RequestId;
use crate::web::session::CurrentSession;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: Option<Nav>,
    heading: &'a str,
    message: &'a str,
    request_id: &'a str,
}

/// A page that only says what went wrong (drawn by [`dress`]).
pub fn error_page(error: &ApiError) -> Response {
    error.clone().into_response()
}

/// Middleware around the page routes: every error answer that is not a
/// page becomes one. The `ApiError` stays on the answer for the layers
/// that record refusals.
pub async fn dress(request: Request, next: Next) -> Response {
    let current = request
        .extensions()
        .get::<CurrentSession>()
        .filter(|current| current.session.pending.is_none())
        .cloned();
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let response = next.run(request).await;
    let status = response.status();
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_page {
        return response;
    }
    let (parts, body) = response.into_parts();
    let error = match parts.extensions.get::<ApiError>() {
        Some(error) => error.clone(),
        None if status.is_client_error() => {
            // An extractor's rejection: its text is meant for the client.
            let text = axum::body::to_bytes(body, 16 * 1024).await.unwrap_or_default();
            let message = match String::from_utf8_lossy(&text).trim() {
                "" => status.canonical_reason().unwrap_or("Refused").to_string(),
                text => text.to_string(),
            };
            ApiError::new(status, ApiError::code_for(status), message)
        }
        None => ApiError::new(
            status,
            ApiError::code_for(status),
            "Something went wrong on our side. The request id identifies it in the server's logs.",
        ),
    };
    let heading = heading(status);
    let page = ErrorPage {
        nav: current.as_ref().map(|current| Nav::of(current, Place::Elsewhere)),
        heading,
        message: &error.message,
        request_id: &request_id,
    };
    let mut dressed = render(status, &page);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            dressed.headers_mut().insert(name.clone(), value.clone());
        }
    }
    dressed.extensions_mut().insert(error);
    dressed
}

/// A heading a person reads, not a protocol's reason phrase.
fn heading(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "That request could not be used",
        StatusCode::UNAUTHORIZED => "Please sign in",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND | StatusCode::GONE => "Not found",
        StatusCode::CONFLICT => "That changed in the meantime",
        StatusCode::PAYLOAD_TOO_LARGE => "That is too large",
        StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
        StatusCode::SERVICE_UNAVAILABLE => "Warden is busy",
        status if status.is_server_error() => "Something went wrong",
        _ => "Refused",
    }
}
