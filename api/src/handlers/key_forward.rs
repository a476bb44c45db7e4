//! Forward authentication with an API key: `GET /api/v1/auth/forward`
//! with `Authorization: Bearer wk_live_…` instead of a cookie.

use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use warden_core::commands::api_key::Owner;

use super::api_keys::rate_limit_headers;
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::principal::check_key;

/// Forward authentication with an API key: 200 with the key's identity in
/// `X-Warden-Key-Id`, `-Key-Kind`, `-Key-Owner`, `-Org-Id`, `-Scopes` (and
/// for a vendor key `-On-Behalf-Of` and `-Ticket`); the scopes the proxy
/// asks for (`?scope=a&scope=b`) must all be the key's. A refusal answers
/// its status and code, with `WWW-Authenticate: Bearer` and the
/// `RateLimit` headers.
pub fn forward(state: &AppState, parts: &Parts, text: &str) -> Response {
    let scopes = match asked_scopes(&parts.uri) {
        Ok(scopes) => scopes,
        Err(error) => return error.into_response(),
    };
    let call = match check_key(state, parts, text, &scopes, false) {
        Ok(call) => call,
        Err(refusal) => return *refusal,
    };
    let (key, on_behalf, checked) = (&call.key, &call.on_behalf, &call.checked);
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    let owner = match &key.owner {
        Owner::User { id } => format!("user:{id}"),
        Owner::Service { name } => format!("service:{name}"),
    };
    let mut put = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    put("x-warden-key-id", &key.id);
    put("x-warden-key-kind", key.kind.as_str());
    put("x-warden-key-owner", &owner);
    put("x-warden-org-id", &key.org);
    put("x-warden-scopes", &key.settings.scopes.join(" "));
    if let Some(on_behalf) = on_behalf {
        put("x-warden-on-behalf-of", &on_behalf.user);
        put("x-warden-ticket", &on_behalf.ticket);
    }
    rate_limit_headers(response.headers_mut(), checked);
    response
}

/// `?scope=a&scope=b%20c` → `["a", "b", "c"]`; more than 50 scopes, or a
/// query that does not parse, is refused rather than read as asking for
/// none (a garbled scope is kept as written: no key has it).
fn asked_scopes(uri: &axum::http::Uri) -> Result<Vec<String>, ApiError> {
    let refused = || ApiError::bad_request("scope: the query names at most 50 scopes, as scope=a&scope=b");
    let axum::extract::Query(pairs) =
        axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri).map_err(|_| refused())?;
    let scopes: Vec<String> = pairs
        .into_iter()
        .filter(|(name, _)| name == "scope")
        .flat_map(|(_, value)| value.split(' ').map(str::to_string).collect::<Vec<_>>())
        .filter(|scope| !scope.is_empty())
        .collect();
    if scopes.len() > 50 {
        return Err(refused());
    }
    Ok(scopes)
}
