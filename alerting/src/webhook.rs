//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>):
//! what Warden puts on each webhook request and what a receiver checks.
//!
//! - `webhook-id`: the message id (for an alert, its stable id, the same
//!   on every retry, so a receiver can drop duplicates);
//! - `webhook-timestamp`: seconds since the Unix epoch;
//! - `webhook-signature`: `v1,` followed by the base64 HMAC-SHA256 of
//!   `<id>.<timestamp>.<body>` keyed with the endpoint's secret, the
//!   bytes after `whsec_` base64-decoded. Several signatures may be sent,
//!   separated by spaces (while a secret is being rotated).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

/// The prefix of a secret as the spec writes it.
pub const SECRET_PREFIX: &str = "whsec_";
/// How far a timestamp may be from the receiver's clock.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WebhookError {
    #[error("the secret is not whsec_ followed by base64")]
    BadSecret,
    #[error("the timestamp is not a number of seconds")]
    BadTimestamp,
    #[error("the timestamp is more than five minutes from now")]
    Stale,
    #[error("no signature matches")]
    NoMatch,
}

/// A new secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret(random: [u8; 32]) -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(random))
}

fn key(secret: &str) -> Result<Vec<u8>, WebhookError> {
    STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .map_err(|_| WebhookError::BadSecret)
}

fn mac(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `webhook-signature` value for one secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, WebhookError> {
    let tag = mac(&key(secret)?, id, timestamp, body).finalize().into_bytes();
    Ok(format!("v1,{}", STANDARD.encode(tag)))
}

/// What a receiver does: the timestamp within the tolerance of `now`, and
/// one of the `v1` signatures of the header valid for `secret` (compared
/// in constant time).
pub fn verify(
    secret: &str,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now: i64,
) -> Result<(), WebhookError> {
    let timestamp: i64 = timestamp.parse().map_err(|_| WebhookError::BadTimestamp)?;
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(WebhookError::Stale);
    }
    let key = key(secret)?;
    for signature in signatures.split(' ') {
        let Some(encoded) = signature.strip_prefix("v1,") else {
            continue;
        };
        let Ok(tag) = STANDARD.decode(encoded) else {
            continue;
        };
        if mac(&key, id, timestamp, body).verify_slice(&tag).is_ok() {
            return Ok(());
        }
    }
    Err(WebhookError::NoMatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification.
    #[test]
    fn the_specification_example_signs_and_verifies() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let timestamp = 1614265330;
        let body = br#"{"test": 2432232314}"#;
        let signature = sign(secret, id, timestamp, body).unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_eq!(
            verify(secret, id, "1614265330", &signature, body, timestamp + 10),
            Ok(())
        );
        let rotated = format!("v1,bm90IHRoaXMgb25l {signature}");
        assert_eq!(verify(secret, id, "1614265330", &rotated, body, timestamp), Ok(()));
        assert_eq!(
            verify(secret, id, "1614265330", &signature, b"{}", timestamp),
            Err(WebhookError::NoMatch)
        );
        assert_eq!(
            verify(secret, "msg_other", "1614265330", &signature, body, timestamp),
            Err(WebhookError::NoMatch)
        );
        assert_eq!(
            verify(secret, id, "1614265330", &signature, body, timestamp + 301),
            Err(WebhookError::Stale)
        );
        assert_eq!(
            verify("whsec_!!", id, "1614265330", &signature, body, timestamp),
            Err(WebhookError::BadSecret)
        );
    }
}
