//! Sign-in codes by email (decision 0028): their format and lifetime.

use std::time::Duration;

use warden_core::auth::email_code::{Format, Policy};

use super::{ConfigError, FileSettings, Settings, invalid};

#[derive(Debug, Clone, Copy)]
pub struct EmailCodeConfig {
    /// `email_code_format` and `email_code_length` (default 8 digits).
    pub format: Format,
    /// `email_code_ttl_seconds` (default 600) and the fixed limits.
    pub policy: Policy,
}

pub(super) fn email_code_config(settings: &Settings, file: &FileSettings) -> Result<EmailCodeConfig, ConfigError> {
    let kind = settings
        .email_code_format
        .clone()
        .or(file.email_code_format.clone())
        .unwrap_or_else(|| "digits".into());
    let length = settings.email_code_length.or(file.email_code_length).unwrap_or(8);
    let format = Format::parse(&kind, length).ok_or_else(|| {
        invalid(
            "email_code_format",
            "must be digits (email_code_length 6 to 8) or crockford (6 to 10)",
        )
    })?;
    let ttl_seconds = settings
        .email_code_ttl_seconds
        .or(file.email_code_ttl_seconds)
        .unwrap_or(600);
    if !(1..=3600).contains(&ttl_seconds) {
        return Err(invalid("email_code_ttl_seconds", "must be 1 to 3600 (an hour)"));
    }
    Ok(EmailCodeConfig {
        format,
        policy: Policy {
            ttl: Duration::from_secs(ttl_seconds),
            ..Policy::DEFAULT
        },
    })
}
