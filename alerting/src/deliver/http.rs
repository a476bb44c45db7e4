//! Posting an alert to a webhook endpoint, signed per Standard Webhooks.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, RETRY_AFTER, USER_AGENT};

use super::Failure;
use super::backoff::parse_retry_after;
use crate::webhook;

/// A client that follows no redirect (a redirect could lead a signed
/// request somewhere the endpoint's owner did not name).
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// Posts `body` with the Standard Webhooks headers; `Ok(status)` on 2xx.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    message_id: &str,
    body: Vec<u8>,
) -> Result<u16, Failure> {
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
        .map_err(|error| Failure::new(describe(&error)))?;
    let status = answer.status();
    if status.is_success() {
        return Ok(status.as_u16());
    }
    let retry_after = answer
        .headers()
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| parse_retry_after(value, now));
    Err(Failure {
        status: Some(status.as_u16()),
        error: format!("the endpoint answered {status}"),
        // 410 Gone: the receiver says it wants no more.
        permanent: status == reqwest::StatusCode::GONE,
        retry_after,
    })
}

/// What went wrong, without the URL (it may carry a token).
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "the endpoint did not answer in time".into()
    } else if error.is_connect() {
        "could not connect to the endpoint".into()
    } else if error.is_redirect() {
        "the endpoint redirected (redirects are not followed)".into()
    } else {
        format!(
            "request failed: {}",
            std::error::Error::source(error).map_or_else(|| "unknown".into(), |s| s.to_string())
        )
    }
}
