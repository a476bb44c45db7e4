//! Security headers on every answer, whatever produced it (a handler, an
//! extractor's rejection, the error shaping): the browser never sniffs a
//! type, never caches an answer that did not say it may be cached, never
//! sends a link's token (`/setup?token=…`) as a referrer to another site,
//! and over https keeps to https.

use axum::http::{HeaderMap, HeaderValue, header};

/// One year: what browsers' preload lists ask for. `includeSubDomains`
/// is left to the operator (Warden cannot know its sibling hosts).
const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000");

/// Sets them on an answer; `https`: Warden's public URL is https.
pub fn secure(headers: &mut HeaderMap, https: bool) {
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // `same-origin`, not `no-referrer`: under `no-referrer` some browsers
    // send `Origin: null` on a page's own form posts, which the CSRF check
    // must refuse.
    headers
        .entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("same-origin"));
    // Answers that may be cached say so themselves (the passkey script,
    // the published keys); everything else may hold a session's data.
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    if https {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_gets_them_and_own_cache_rules_stay() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
        secure(&mut headers, false);
        assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=300");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(!headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
        let mut headers = HeaderMap::new();
        secure(&mut headers, true);
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(headers[header::STRICT_TRANSPORT_SECURITY], "max-age=31536000");
        assert_eq!(headers[header::REFERRER_POLICY], "same-origin");
    }
}
