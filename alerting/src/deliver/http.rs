//! Posting an alert to a webhook endpoint, signed per Standard Webhooks.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, RETRY_AFTER, USER_AGENT};

use super::Failure;
use super::backoff::parse_retry_after;
use super::egress::CheckedResolver;
use super::target::check_webhook_url;
use crate::webhook;

/// A client that follows no redirect (a redirect could lead a signed
/// request somewhere the endpoint's owner did not name), uses no proxy
/// from the environment (it would resolve names itself), and resolves
/// names through [`CheckedResolver`], connecting only to the addresses it
/// checked.
pub fn client(timeout: Duration, private_allowed: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(CheckedResolver { private_allowed }))
        .build()
        .unwrap_or_default()
}

/// What the org is told about a failed attempt: a coarse class, so that
/// the delivery status does not tell an open port from a closed one or a
/// redirect. The detail goes to the operator's log.
pub mod class {
    /// No connection: the name did not resolve, resolved to a refused
    /// address, or nothing accepted the connection.
    pub const UNREACHABLE: &str = "unreachable";
    /// No answer in time.
    pub const TIMEOUT: &str = "timeout";
    /// An answer other than 2xx (redirects included).
    pub const HTTP_ERROR: &str = "http_error";
}

/// Posts `body` with the Standard Webhooks headers; `Ok(status)` on 2xx.
pub async fn post(
    client: &reqwest::Client,
    private_allowed: bool,
    url: &str,
    secret: &str,
    message_id: &str,
    body: Vec<u8>,
) -> Result<u16, Failure> {
    // A literal address is not resolved, so it is checked here, as sent.
    if let Err(reason) = check_webhook_url(url, private_allowed) {
        tracing::warn!(%reason, message_id, "webhook not sent: the endpoint's URL is refused");
        return Err(Failure::new(class::UNREACHABLE));
    }
    let now = chrono::Utc::now();
    let timestamp = now.timestamp();
    let signature =
        webhook::sign(secret, message_id, timestamp, &body).map_err(|error| Failure::permanent(error.to_string()))?;
    let answer = client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, concat!("Warden-Webhooks/", env!("CARGO_PKG_VERSION")))
        .header("webhook-id", message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .map_err(|error| {
            let (class, detail) = describe(&error);
            tracing::warn!(%detail, message_id, "webhook attempt failed");
            Failure::new(class)
        })?;
    let status = answer.status();
    if status.is_success() {
        return Ok(status.as_u16());
    }
    let retry_after = answer
        .headers()
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| parse_retry_after(value, now));
    tracing::warn!(
        status = status.as_u16(),
        message_id,
        "webhook endpoint answered with an error"
    );
    Err(Failure {
        status: None,
        error: class::HTTP_ERROR.into(),
        // 410 Gone: the receiver says it wants no more.
        permanent: status == reqwest::StatusCode::GONE,
        retry_after,
    })
}

/// The class and, for the log, what went wrong, without the URL (it may
/// carry a token).
fn describe(error: &reqwest::Error) -> (&'static str, String) {
    let source = || std::error::Error::source(error).map_or_else(|| "unknown".into(), |s| s.to_string());
    if error.is_timeout() {
        (class::TIMEOUT, "the endpoint did not answer in time".into())
    } else if error.is_connect() {
        (class::UNREACHABLE, format!("could not connect: {}", source()))
    } else {
        (class::UNREACHABLE, format!("request failed: {}", source()))
    }
}
