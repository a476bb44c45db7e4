//! The session cookie: `HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure`
//! with the `__Host-` prefix whenever Warden is served over https.

use axum::http::{HeaderMap, HeaderValue, header};
use chrono::{DateTime, Utc};

use crate::state::Web;

/// The value of cookie `name` in the request, if any.
pub fn read<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// `Set-Cookie` for a session that ends at `expires_at` at the latest.
pub fn issue(web: &Web, value: &str, expires_at: DateTime<Utc>) -> HeaderValue {
    let max_age = (expires_at - Utc::now()).num_seconds().max(0);
    header_value(&format!(
        "{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        web.cookie_name(),
        if web.secure_cookies { "; Secure" } else { "" }
    ))
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear(web: &Web) -> HeaderValue {
    header_value(&format!(
        "{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{}",
        web.cookie_name(),
        if web.secure_cookies { "; Secure" } else { "" }
    ))
}

/// Whether a response already sets the session cookie.
pub fn is_set(headers: &HeaderMap, web: &Web) -> bool {
    let prefix = format!("{}=", web.cookie_name());
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|value| value.as_bytes().starts_with(prefix.as_bytes()))
}

fn header_value(text: &str) -> HeaderValue {
    // Cookie values here are digits, base64url and fixed attributes.
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_cookie_among_many() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; warden_session=7.abc; b=2"),
        );
        assert_eq!(read(&headers, "warden_session"), Some("7.abc"));
        assert_eq!(read(&headers, "__Host-warden_session"), None);
    }
}
