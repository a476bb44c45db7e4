//! The connection form: its fields as typed, and what to do at the
//! provider before filling it in, per preset.

use serde::Deserialize;
use warden_core::auth::sso::settings::Typed;
use warden_core::commands::sso::Preset;

use crate::error::ApiError;

/// What to do at the provider, per preset: where to register Warden and
/// what it must send. The guides (`docs/guides/sso/`) say it at length.
pub(super) fn steps(preset: Preset) -> &'static [&'static str] {
    match preset {
        Preset::Generic => &[
            "In your provider, register a web application (a confidential client, authorization code flow with PKCE).",
            "Add the redirect URI below, exactly.",
            "Let it send the email, email_verified and name claims (scopes openid email profile), and a groups claim if roles come from groups.",
            "Copy its issuer URL (the one its /.well-known/openid-configuration names), client id and client secret here.",
        ],
        Preset::Google => &[
            "In the Google Cloud console of your Workspace, APIs & Services → Credentials → Create credentials → OAuth client ID, type Web application.",
            "Under Authorized redirect URIs, add the redirect URI below.",
            "Set the OAuth consent screen to Internal, so only your Workspace's accounts can use it.",
            "Copy the client id and secret here. Google sends no groups: everyone gets the default role.",
        ],
        Preset::Entra => &[
            "In the Microsoft Entra admin center, App registrations → New registration; supported account types: this organizational directory only.",
            "Redirect URI: platform Web, the redirect URI below.",
            "Certificates & secrets → New client secret; Token configuration → add the optional claim email, and a groups claim (Security groups, as Group ID) if roles come from groups.",
            "The issuer is https://login.microsoftonline.com/<your tenant id>/v2.0. Copy it, the Application (client) ID and the secret here.",
        ],
        Preset::Okta => &[
            "In the Okta admin console, Applications → Create App Integration → OIDC, Web Application.",
            "Sign-in redirect URIs: the redirect URI below. Grant type: Authorization Code.",
            "Under Security → API → your authorization server → Claims, add a groups claim to the ID token (filter: the groups Warden maps).",
            "The issuer is your authorization server's (https://<your org>.okta.com/oauth2/default). Copy it, the client id and secret here.",
        ],
        Preset::JumpCloud => &[
            "In the JumpCloud admin portal, SSO Applications → Add New Application → Custom OIDC App.",
            "Redirect URIs: the redirect URI below; Login URL: your Warden's sign-in page.",
            "Under Attribute Mapping, include email, profile and groups (standard scopes).",
            "Copy the client id and secret shown once after saving here.",
        ],
    }
}

/// The connection form's fields, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct ConnectionForm {
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) preset: String,
    #[serde(default)]
    pub(super) issuer: String,
    #[serde(default)]
    pub(super) client_id: String,
    #[serde(default)]
    pub(super) client_secret: String,
    #[serde(default)]
    pub(super) scopes: String,
    #[serde(default)]
    pub(super) domains: String,
    #[serde(default)]
    pub(super) provisioning: String,
    #[serde(default)]
    pub(super) default_role: String,
    /// One `group = role` per line.
    #[serde(default)]
    pub(super) roles: String,
    #[serde(default)]
    pub(super) sync_roles: Option<String>,
    #[serde(default)]
    pub(super) mfa_amr: String,
    #[serde(default)]
    pub(super) mfa_acr: String,
    #[serde(default)]
    pub(super) tenants: String,
    #[serde(default)]
    pub(super) sign_out_at_provider: Option<String>,
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|word| !word.is_empty())
        .map(str::to_string)
        .collect()
}

impl ConnectionForm {
    pub(super) fn of(typed: &Typed) -> Self {
        ConnectionForm {
            name: typed.name.clone(),
            preset: typed.preset.clone(),
            issuer: typed.issuer.clone(),
            client_id: typed.client_id.clone(),
            client_secret: String::new(),
            scopes: typed.scopes.join(" "),
            domains: typed.domains.join("\n"),
            provisioning: typed.provisioning.clone(),
            default_role: typed.default_role.clone(),
            roles: typed
                .roles
                .iter()
                .map(|(group, role)| format!("{group} = {role}"))
                .collect::<Vec<_>>()
                .join("\n"),
            sync_roles: typed.sync_roles.then(|| "on".into()),
            mfa_amr: typed.mfa_amr.join(" "),
            mfa_acr: typed.mfa_acr.join(" "),
            tenants: typed.tenants.join(" "),
            sign_out_at_provider: typed.sign_out_at_provider.then(|| "on".into()),
        }
    }

    /// Sets the form's fields on `typed` (the claim names stay).
    pub(super) fn apply(&self, typed: &mut Typed) -> Result<(), ApiError> {
        typed.name = self.name.clone();
        typed.issuer = self.issuer.trim().to_string();
        typed.client_id = self.client_id.clone();
        typed.scopes = words(&self.scopes);
        typed.domains = words(&self.domains);
        typed.provisioning = self.provisioning.clone();
        typed.default_role = self.default_role.clone();
        typed.sync_roles = self.sync_roles.is_some();
        typed.mfa_amr = words(&self.mfa_amr);
        typed.mfa_acr = words(&self.mfa_acr);
        typed.tenants = words(&self.tenants);
        typed.sign_out_at_provider = self.sign_out_at_provider.is_some();
        let mut roles = Vec::new();
        for line in self.roles.lines().map(str::trim).filter(|line| !line.is_empty()) {
            let (group, role) = line
                .rsplit_once('=')
                .ok_or_else(|| ApiError::bad_request(format!("mapping.roles: {line:?} is not \"group = role\"")))?;
            roles.push((group.trim().to_string(), role.trim().to_string()));
        }
        typed.roles = roles;
        Ok(())
    }

    pub(super) fn secret(&self) -> Option<&str> {
        Some(self.client_secret.as_str()).filter(|secret| !secret.is_empty())
    }
}
