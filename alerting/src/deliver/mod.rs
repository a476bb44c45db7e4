//! Delivery (decisions 0015 and 0028): for alerts and for account email,
//! one node at a time (a lease from the ledger per kind) takes what is due
//! from the kind's read model, posts each webhook or sends each email, and
//! appends how the attempt ended ([`queue`], one loop for both). Nothing
//! waits for it; a pending delivery is in the log, so it survives a
//! restart.

mod alarm;
pub mod backoff;
pub mod egress;
mod http;
pub mod message;
mod outbox;
pub mod queue;
mod smtp;
mod target;
mod worker;

use std::time::Duration;

pub use http::class as failure_class;
pub use outbox::AccountMail;
pub use smtp::Mailer;
pub use target::check_webhook_url;
pub use worker::Deliverer;

/// How alerts are delivered (configuration keys in parentheses).
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Attempts before a delivery is dead-lettered
    /// (`alert_delivery_attempts`, default 8).
    pub attempts: u32,
    /// The ceiling of the first retry's wait; it doubles with each attempt
    /// (`alert_delivery_first_retry_ms`, default 5000).
    pub first_retry: Duration,
    /// How long a webhook receiver or SMTP server may take
    /// (`alert_delivery_timeout_seconds`, default 10).
    pub timeout: Duration,
    /// Warden's public URL: links in alerts point into its console.
    pub console_url: String,
    /// Email, when `smtp_url` is set.
    pub email: Option<EmailConfig>,
    /// Whether webhooks may go to private and other special-purpose
    /// addresses (`alert_webhook_private_addresses`, default false).
    pub private_addresses: bool,
}

#[derive(Clone)]
pub struct EmailConfig {
    /// An `smtp://` or `smtps://` URL as lettre reads it, TLS settings
    /// included (`smtp_url`, `smtp_tls`).
    pub smtp_url: String,
    /// The sender (`smtp_from`).
    pub from: String,
}

/// The URL may hold the SMTP password: never printed.
impl std::fmt::Debug for EmailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailConfig")
            .field("smtp_url", &"(hidden)")
            .field("from", &self.from)
            .finish()
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            attempts: 8,
            first_retry: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            console_url: "http://127.0.0.1:8080".into(),
            email: None,
            private_addresses: false,
        }
    }
}

/// Why an attempt failed. The message names no secret and no URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: Option<u16>,
    pub error: String,
    /// No retry can help (the endpoint was removed, answered 410 Gone, or
    /// the mail server refused the address for good).
    pub permanent: bool,
    /// The receiver asked to wait this long.
    pub retry_after: Option<Duration>,
}

impl Failure {
    fn new(error: impl Into<String>) -> Self {
        Failure {
            status: None,
            error: error.into(),
            permanent: false,
            retry_after: None,
        }
    }

    fn permanent(error: impl Into<String>) -> Self {
        Failure {
            permanent: true,
            ..Failure::new(error)
        }
    }
}
