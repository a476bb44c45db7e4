//! Alert delivery settings: retries, timeouts, which webhook addresses are
//! allowed, and the SMTP server for email recipients.

use std::time::Duration;

use warden_alerting::deliver::{DeliveryConfig, EmailConfig};

use super::{ConfigError, FileSettings, Settings, invalid, non_empty};

#[derive(Debug, Clone)]
pub struct AlertingConfig {
    /// Everything but `console_url`, which comes from `public_url` once
    /// the server is bound.
    pub delivery: DeliveryConfig,
    /// `alert_webhook_private_addresses` (default false): whether webhook
    /// endpoints may be loopback, private or link-local addresses.
    pub webhook_private_addresses: bool,
}

pub(super) fn alerting_config(settings: &Settings, file: &FileSettings) -> Result<AlertingConfig, ConfigError> {
    let defaults = DeliveryConfig::default();
    let attempts = settings
        .alert_delivery_attempts
        .or(file.alert_delivery_attempts)
        .unwrap_or(defaults.attempts);
    if !(1..=20).contains(&attempts) {
        return Err(invalid("alert_delivery_attempts", "must be 1 to 20"));
    }
    let first_retry_ms = settings
        .alert_delivery_first_retry_ms
        .or(file.alert_delivery_first_retry_ms)
        .unwrap_or(5000);
    if !(10..=3_600_000).contains(&first_retry_ms) {
        return Err(invalid("alert_delivery_first_retry_ms", "must be 10 to 3600000"));
    }
    let timeout_seconds = settings
        .alert_delivery_timeout_seconds
        .or(file.alert_delivery_timeout_seconds)
        .unwrap_or(10);
    if !(1..=60).contains(&timeout_seconds) {
        return Err(invalid("alert_delivery_timeout_seconds", "must be 1 to 60"));
    }
    let smtp_url = non_empty(settings.smtp_url.clone()).or(non_empty(file.smtp_url.clone()));
    let smtp_tls = settings.smtp_tls.clone().or(file.smtp_tls.clone());
    let smtp_from = non_empty(settings.smtp_from.clone()).or(non_empty(file.smtp_from.clone()));
    let email = match smtp_url {
        None => None,
        Some(url) => Some(EmailConfig {
            smtp_url: smtp_url_with_tls(&url, smtp_tls.as_deref())?,
            from: smtp_from
                .ok_or_else(|| invalid("smtp_from", "is needed with smtp_url: the sender of alert emails"))?,
        }),
    };
    let webhook_private_addresses = settings
        .alert_webhook_private_addresses
        .or(file.alert_webhook_private_addresses)
        .unwrap_or(false);
    Ok(AlertingConfig {
        delivery: DeliveryConfig {
            attempts,
            first_retry: Duration::from_millis(first_retry_ms),
            timeout: Duration::from_secs(timeout_seconds),
            console_url: defaults.console_url,
            email,
            private_addresses: webhook_private_addresses,
        },
        webhook_private_addresses,
    })
}

/// The URL lettre reads: `smtps://` is TLS from the first byte;
/// `smtp://` requires STARTTLS unless `smtp_tls = "none"` (a relay on the
/// same host or network).
fn smtp_url_with_tls(url: &str, tls: Option<&str>) -> Result<String, ConfigError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| invalid("smtp_url", "must start with smtp:// or smtps://"))?;
    if rest.contains('?') {
        return Err(invalid("smtp_url", "takes no query: set smtp_tls instead"));
    }
    match (scheme, tls.unwrap_or("required")) {
        ("smtps", "required") => Ok(url.to_string()),
        ("smtp", "required") => Ok(format!("{url}?tls=required")),
        ("smtp", "none") => Ok(url.to_string()),
        ("smtps", "none") => Err(invalid("smtp_tls", "none contradicts an smtps:// URL")),
        ("smtp" | "smtps", _) => Err(invalid("smtp_tls", "must be required or none")),
        _ => Err(invalid("smtp_url", "must start with smtp:// or smtps://")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_needs_tls_unless_told_otherwise() {
        assert_eq!(
            smtp_url_with_tls("smtp://mail.example.org:587", None).unwrap(),
            "smtp://mail.example.org:587?tls=required"
        );
        assert_eq!(
            smtp_url_with_tls("smtps://u:p@mail.example.org", None).unwrap(),
            "smtps://u:p@mail.example.org"
        );
        assert_eq!(
            smtp_url_with_tls("smtp://127.0.0.1:2525", Some("none")).unwrap(),
            "smtp://127.0.0.1:2525"
        );
        for (url, tls, key) in [
            ("smtps://x", Some("none"), "smtp_tls"),
            ("smtp://x", Some("maybe"), "smtp_tls"),
            ("http://x", None, "smtp_url"),
            ("smtp://x?tls=opportunistic", None, "smtp_url"),
        ] {
            let error = smtp_url_with_tls(url, tls).unwrap_err().to_string();
            assert!(error.starts_with(key), "{url}: {error}");
        }
    }
}
