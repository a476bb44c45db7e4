//! Second-factor settings: what new TOTP enrolments use, and how fresh an
//! authentication must be for a sensitive action.

use warden_core::auth::totp::{TotpAlgorithm, TotpParams};

use super::{ConfigError, FileSettings, Settings, invalid};

#[derive(Debug, Clone)]
pub struct MfaConfig {
    /// `mfa_issuer`: the name authenticator apps show (default `Warden`).
    pub issuer: String,
    /// `totp_digits`, `totp_period_seconds`, `totp_algorithm` of new
    /// enrolments (default 6, 30, SHA1: what every app supports).
    pub totp: TotpParams,
    /// `step_up_max_age_seconds` (default 600): removing a factor,
    /// regenerating backup codes or changing roles needs a strong
    /// authentication at most this old.
    pub step_up_max_age_seconds: u64,
}

pub(super) fn mfa_config(settings: &Settings, file: &FileSettings) -> Result<MfaConfig, ConfigError> {
    let issuer = settings
        .mfa_issuer
        .clone()
        .or(file.mfa_issuer.clone())
        .unwrap_or_else(|| "Warden".into());
    if issuer.trim().is_empty() || issuer.contains(':') || issuer.chars().count() > 64 {
        return Err(invalid("mfa_issuer", "must be 1 to 64 characters without ':'"));
    }
    let default = TotpParams::default();
    let algorithm = match settings.totp_algorithm.clone().or(file.totp_algorithm.clone()) {
        Some(name) => TotpAlgorithm::parse(&name)
            .ok_or_else(|| invalid("totp_algorithm", format!("{name:?} is not SHA1, SHA256 or SHA512")))?,
        None => default.algorithm,
    };
    let totp = TotpParams {
        digits: settings.totp_digits.or(file.totp_digits).unwrap_or(default.digits),
        period_seconds: settings
            .totp_period_seconds
            .or(file.totp_period_seconds)
            .unwrap_or(default.period_seconds),
        algorithm,
    };
    totp.check()
        .map_err(|error| invalid("totp_digits", error.to_string()))?;
    let step_up_max_age_seconds = settings
        .step_up_max_age_seconds
        .or(file.step_up_max_age_seconds)
        .unwrap_or(600);
    if !(1..=86_400).contains(&step_up_max_age_seconds) {
        return Err(invalid("step_up_max_age_seconds", "must be 1 to 86400 seconds"));
    }
    Ok(MfaConfig {
        issuer: issuer.trim().to_string(),
        totp,
        step_up_max_age_seconds,
    })
}
