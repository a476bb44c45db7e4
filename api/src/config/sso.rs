//! Single sign-on settings.

use super::{FileSettings, Settings};

#[derive(Debug, Clone, Copy, Default)]
pub struct SsoConfig {
    /// `sso_insecure_issuers` (default false): whether a connection's
    /// issuer may be `http://` (a provider on this machine, in tests). A
    /// provider's keys and tokens then travel in clear: never in
    /// production.
    pub insecure_issuers: bool,
}

pub(super) fn sso_config(settings: &Settings, file: &FileSettings) -> SsoConfig {
    SsoConfig {
        insecure_issuers: settings
            .sso_insecure_issuers
            .or(file.sso_insecure_issuers)
            .unwrap_or(false),
    }
}
