//! What every handler can reach.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use metrics_exporter_prometheus::PrometheusHandle;
use warden_core::auth::password::{PasswordHashing, PasswordPolicy};
use warden_core::bus::Bus;
use warden_core::commands::org::SessionPolicy;
use warden_core::keys::{DataKeys, Sealed};
use warden_core::ledger::Ledger;
use warden_projections::{Positions, ReadModels};

/// Cloned for every request by every layer that needs it: one pointer.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub ledger: Ledger,
    pub bus: Arc<dyn Bus>,
    pub models: ReadModels,
    pub positions: Positions,
    /// Where this node's alert evaluator stands, when it runs one.
    pub alert_positions: Option<Positions>,
    /// This node's audit index; `None` when it could not be opened.
    pub audit: Option<crate::node::AuditTrail>,
    pub metrics: Option<PrometheusHandle>,
    /// The tokens that may record application events (none: disabled).
    pub app_tokens: Vec<crate::handlers::app_events::AppToken>,
    pub passwords: Passwords,
    pub data_keys: DataKeys,
    pub web: Arc<Web>,
    pub mfa: Arc<crate::config::MfaConfig>,
    /// The passkeys' relying party; `None` when Warden's origins allow no
    /// relying-party id (passkey endpoints then answer 409).
    pub passkeys: Option<Arc<warden_core::auth::webauthn::RelyingParty>>,
    /// Sessions whose `session.refreshed` or rotation is being appended.
    pub session_writes: Arc<Mutex<HashSet<String>>>,
    /// Sign-in attempts being checked right now.
    pub attempts: Arc<crate::web::limits::Attempts>,
    /// Rate of refusal events (throttled sign-ins, CSRF refusals).
    pub refusals: Arc<crate::web::limits::Sampler>,
    pub alerting: AlertSettings,
    /// Single sign-on: its settings, and the providers this node talks to.
    pub sso: Arc<crate::flows::sso_sign_in::Sso>,
    /// API-key verification: the digest key, the node's counters.
    pub keys: Arc<crate::flows::key_check::KeyChecker>,
    /// Sign-in by email code: settings, key, codes being recorded.
    pub email_codes: Arc<crate::flows::email_sign_in::EmailCodes>,
    /// Reset links asked for by email, being recorded.
    pub reset_requests: crate::flows::in_flight::InFlight,
    /// The vault's access cache and counted reads.
    pub vault_reads: Arc<crate::flows::vault_reads::VaultReads>,
}

/// What the API checks alert recipients against.
#[derive(Debug, Clone, Copy)]
pub struct AlertSettings {
    /// A mail server is configured: rules may name email recipients.
    pub email: bool,
    /// `alert_webhook_private_addresses`.
    pub webhook_private_addresses: bool,
}

/// Password hashing, the policy for new passwords, and the decoy that
/// makes a sign-in for an unknown account cost what a known one does.
#[derive(Clone)]
pub struct Passwords {
    pub hashing: PasswordHashing,
    pub policy: PasswordPolicy,
    /// A sealed hash opened (and thrown away) for unknown accounts: the
    /// same data-key fetch and decryption as a real sign-in.
    pub decoy: Sealed<String>,
    /// The key of [`warden_core::commands::account::identifier_key`].
    pub identifier_key: [u8; 32],
}

/// The browser-facing settings, resolved for the bound address.
#[derive(Debug, Clone)]
pub struct Web {
    pub public_url: String,
    pub secure_cookies: bool,
    pub trusted_origins: Vec<String>,
    pub app_origins: Vec<String>,
    pub trusted_proxies: Vec<crate::config::IpNet>,
    pub default_session_policy: SessionPolicy,
}

impl Web {
    /// `__Host-warden_session` over https; `warden_session` over plain
    /// http on loopback, where `Secure` cookies are not kept by every
    /// browser.
    pub fn cookie_name(&self) -> &'static str {
        if self.secure_cookies {
            "__Host-warden_session"
        } else {
            "warden_session"
        }
    }

    pub fn trusts(&self, origin: &str) -> bool {
        self.trusted_origins.iter().any(|trusted| trusted == origin)
    }
}
