//! CSRF protection for every state-changing request (POST, PUT, PATCH,
//! DELETE):
//!
//! 1. Origin: a request carrying `Origin` must come from a trusted origin
//!    (Warden's own, `trusted_origins`, `app_origins`); one without it but
//!    with `Sec-Fetch-Site` must be `same-origin` or `none` (typed by the
//!    user). A request with neither comes from no browser, and no browser
//!    can be made to send it.
//! 2. Token: a request that carries a session cookie must carry the CSRF
//!    token of that session, in the `x-csrf-token` header (API calls) or a
//!    `csrf_token` form field (pages). Endpoints that act before a session
//!    exists (sign-in, setup, accepting an invitation) and bearer-token
//!    endpoints need only the origin check: their routes are
//!    `token_exempt` in `routes::table`, which puts [`require_token`] on
//!    every other route and [`check_origin`] in front of them all.
//!
//! Every refusal is a `csrf.refused` event and a 403.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use warden_core::auth::tokens::constant_time_eq;
use warden_core::commands::session::{self as commands, CsrfRefused};

use super::client::Client;
use super::session::CurrentSession;
use crate::error::{ApiError, Code};
use crate::state::AppState;

pub const HEADER: &str = "x-csrf-token";
pub const FORM_FIELD: &str = "csrf_token";

/// Largest form body read for its token.
const FORM_MAX: usize = 256 * 1024;

pub fn state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

/// Whether the request's origin headers are acceptable.
pub fn origin_refusal(state: &AppState, headers: &HeaderMap) -> Option<(&'static str, Option<String>)> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("").to_ascii_lowercase();
        if !state.web.trusts(&origin) {
            return Some(("foreign_origin", Some(origin.chars().take(256).collect())));
        }
        return None;
    }
    match headers.get("sec-fetch-site").and_then(|value| value.to_str().ok()) {
        None | Some("same-origin") | Some("none") => None,
        Some(_) => Some(("cross_site", None)),
    }
}

/// Every state-changing request, routed or not: refused when its origin
/// headers name another site.
pub async fn check_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !state_changing(request.method()) {
        return next.run(request).await;
    }
    let Some((reason, origin)) = origin_refusal(&state, request.headers()) else {
        return next.run(request).await;
    };
    let (parts, _) = request.into_parts();
    let session = parts.extensions.get::<CurrentSession>().cloned();
    refuse(&state, &parts, session.as_ref(), reason, origin).await
}

/// A state-changing request to a route that is not token-exempt
/// (`routes::Route::token_exempt`) with a session: refused without the
/// session's CSRF token, in the `x-csrf-token` header or the form's
/// `csrf_token` field.
pub async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !state_changing(request.method()) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Some(current) = parts.extensions.get::<CurrentSession>().cloned() else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    let expected = current.presented.csrf();
    if let Some(given) = parts.headers.get(HEADER).and_then(|value| value.to_str().ok()) {
        if constant_time_eq(given, &expected) {
            return next.run(Request::from_parts(parts, body)).await;
        }
        return refuse(&state, &parts, Some(&current), "wrong_token", None).await;
    }
    let form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/x-www-form-urlencoded"));
    if !form {
        return refuse(&state, &parts, Some(&current), "missing_token", None).await;
    }
    let Ok(bytes) = axum::body::to_bytes(body, FORM_MAX).await else {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::PayloadTooLarge,
            "the form is too large",
        )
        .into_response();
    };
    let given = form_field(&bytes, FORM_FIELD);
    match given {
        Some(given) if constant_time_eq(&given, &expected) => {
            next.run(Request::from_parts(parts, Body::from(bytes))).await
        }
        Some(_) => refuse(&state, &parts, Some(&current), "wrong_token", None).await,
        None => refuse(&state, &parts, Some(&current), "missing_token", None).await,
    }
}

/// A field of an `application/x-www-form-urlencoded` body. Tokens are
/// base64url, which forms never escape, so no decoding beyond `+`.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.replace('+', " "))
}

pub(crate) async fn refuse(
    state: &AppState,
    parts: &axum::http::request::Parts,
    session: Option<&CurrentSession>,
    reason: &'static str,
    origin: Option<String>,
) -> Response {
    let client = Client::from_parts(parts);
    let context = match session {
        Some(current) => client.as_user(&current.user.id, &current.user.org),
        None => client.anonymous(),
    };
    let event = commands::csrf_refused(
        &context,
        session.map(|current| current.session.id.as_str()),
        &CsrfRefused {
            reason: reason.into(),
            method: parts.method.to_string(),
            path: parts.uri.path().chars().take(256).collect(),
            origin,
        },
    );
    // Recorded once per client, reason and path every ten seconds: a
    // refusal never becomes unbounded writes to the log.
    let sample = format!(
        "csrf/{}/{reason}/{}",
        client.ip.as_deref().unwrap_or(""),
        parts.uri.path()
    );
    if state.refusals.admit(sample, std::time::Duration::from_secs(10))
        && let Err(error) = state.ledger.append_one(event).await
    {
        tracing::warn!(%error, "csrf refusal not recorded");
    }
    let message = match reason {
        "foreign_origin" => "this origin may not send state-changing requests",
        "cross_site" => "cross-site state-changing requests are refused",
        "wrong_token" => "the CSRF token does not belong to this session",
        _ => "a CSRF token is required (x-csrf-token header or csrf_token form field)",
    };
    ApiError::new(StatusCode::FORBIDDEN, Code::CsrfRefused, message).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_form_fields() {
        assert_eq!(
            form_field(b"a=1&csrf_token=abc-_x&b=2", "csrf_token").as_deref(),
            Some("abc-_x")
        );
        assert_eq!(form_field(b"a=1", "csrf_token"), None);
    }
}
