//! Second-factor settings: what new TOTP enrolments use, and how fresh an
//! authentication must be for a sensitive action.

use warden_core::auth::totp::{TotpAlgorithm, TotpParams};
use warden_core::auth::webauthn::{AttestationCaList, Uuid, attestation_allowlist};

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
    /// `webauthn_rp_id`: the passkeys' relying-party id, a domain (default:
    /// the host of `public_url`; `localhost` when that is a loopback IP).
    pub webauthn_rp_id: Option<String>,
    /// `passkey_attestation_ca_file` and `passkey_allowed_aaguids`: the
    /// attestation allowlist; `None` (default): attestation "none".
    pub passkey_attestation: Option<AttestationCaList>,
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
    let webauthn_rp_id = settings.webauthn_rp_id.clone().or(file.webauthn_rp_id.clone());
    if let Some(rp_id) = &webauthn_rp_id
        && (rp_id.is_empty() || rp_id.parse::<std::net::IpAddr>().is_ok() || rp_id.contains(['/', ':', ' ']))
    {
        return Err(invalid(
            "webauthn_rp_id",
            format!("{rp_id:?} is not a domain name like example.com"),
        ));
    }
    Ok(MfaConfig {
        issuer: issuer.trim().to_string(),
        totp,
        step_up_max_age_seconds,
        webauthn_rp_id,
        passkey_attestation: passkey_attestation(settings, file)?,
    })
}

impl MfaConfig {
    /// The passkeys' relying party for Warden's origins (`trusted`): its id
    /// and the origins under it. `None`, with the reason, when no origin
    /// fits (passkeys are then unavailable).
    pub fn relying_party(&self, public_url: &str, trusted: &[String]) -> Result<(String, Vec<String>), String> {
        let host = super::origin_of(public_url)
            .and_then(|origin| origin.split("://").nth(1).map(str::to_string))
            .map(|host| match host.rsplit_once(':') {
                Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name.to_string(),
                _ => host,
            })
            .unwrap_or_default();
        let default = if host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok() {
            "localhost".to_string()
        } else {
            host
        };
        let rp_id = self.webauthn_rp_id.clone().unwrap_or(default);
        let origins: Vec<String> = trusted
            .iter()
            .filter(|origin| {
                let host = origin.split("://").nth(1).unwrap_or("");
                let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
                name == rp_id || name.ends_with(&format!(".{rp_id}"))
            })
            .cloned()
            .collect();
        if origins.is_empty() {
            return Err(format!(
                "no origin of Warden is under the relying-party id {rp_id:?}: set public_url to a domain name or webauthn_rp_id to a parent domain of it"
            ));
        }
        Ok((rp_id, origins))
    }
}

/// The attestation allowlist: both keys, or neither.
fn passkey_attestation(settings: &Settings, file: &FileSettings) -> Result<Option<AttestationCaList>, ConfigError> {
    let roots = settings
        .passkey_attestation_ca_file
        .clone()
        .or(file.passkey_attestation_ca_file.clone());
    let aaguids: Vec<String> = match &settings.passkey_allowed_aaguids {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_string)
            .collect(),
        None => file.passkey_allowed_aaguids.clone(),
    };
    let (roots, aaguids) = match (roots, aaguids.is_empty()) {
        (None, true) => return Ok(None),
        (Some(roots), false) => (roots, aaguids),
        (None, false) => {
            return Err(invalid(
                "passkey_allowed_aaguids",
                "needs passkey_attestation_ca_file: the roots the authenticators' attestations chain to",
            ));
        }
        (Some(_), true) => {
            return Err(invalid(
                "passkey_attestation_ca_file",
                "needs passkey_allowed_aaguids: the authenticator models allowed to register",
            ));
        }
    };
    let aaguids = aaguids
        .iter()
        .map(|text| {
            Uuid::parse_str(text)
                .map_err(|_| invalid("passkey_allowed_aaguids", format!("{text:?} is not an AAGUID (a UUID)")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let pem = std::fs::read_to_string(&roots)
        .map_err(|error| invalid("passkey_attestation_ca_file", format!("{}: {error}", roots.display())))?;
    attestation_allowlist(&pem, &aaguids)
        .map(Some)
        .map_err(|error| invalid("passkey_attestation_ca_file", format!("{}: {error}", roots.display())))
}
