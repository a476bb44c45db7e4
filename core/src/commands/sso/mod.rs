//! Single sign-on connections: an org's link to an identity provider
//! (OpenID Connect now; SAML and LDAP plug in as other [`Upstream`]s).
//! Owners and admins create, change, enable, disable and remove them; an
//! owner acknowledges each email domain a connection serves before
//! Warden routes or provisions anyone by it (decision 0035). The client
//! secret is sealed with the connection's own data key, so removing the
//! connection shreds it, and it never appears in clear in an event.
//! `auth::sso_connections` decides each of these.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::account::Role;
use super::{Context, Prefix, data, subject};
use crate::event::NewEvent;
use crate::keys::Sealed;

mod sentences;
pub mod sign_in;

pub const SSO_CONNECTION_CREATED: &str = "sso_connection.created";
pub const SSO_CONNECTION_CHANGED: &str = "sso_connection.changed";
pub const SSO_CONNECTION_DOMAIN_ACKNOWLEDGED: &str = "sso_connection.domain_acknowledged";
pub const SSO_CONNECTION_ENABLED: &str = "sso_connection.enabled";
pub const SSO_CONNECTION_DISABLED: &str = "sso_connection.disabled";
pub const SSO_CONNECTION_REMOVED: &str = "sso_connection.removed";

/// The claim that keeps a domain to one connection in all of Warden,
/// made when an owner acknowledges it there and released when it is
/// withdrawn or the connection removed.
pub const DOMAIN_CLAIM: &str = "sso_domain";

/// `sso_connection:<id>`: the subject of a connection and of its data key.
pub fn connection_subject(connection: &str) -> String {
    subject(Prefix::SsoConnection, connection)
}

/// Which provider a connection was set up for: its setup guide, its
/// defaults, and the quirks Warden allows for (`docs/guides/sso/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// Any OpenID Provider.
    Generic,
    /// Google Workspace: the `hd` claim names the user's domain.
    Google,
    /// Microsoft Entra ID: a tenant in the issuer, `oid` as the stable id.
    Entra,
    Okta,
    JumpCloud,
}

impl Preset {
    pub const ALL: [Preset; 5] = [
        Preset::Generic,
        Preset::Google,
        Preset::Entra,
        Preset::Okta,
        Preset::JumpCloud,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Generic => "generic",
            Preset::Google => "google",
            Preset::Entra => "entra",
            Preset::Okta => "okta",
            Preset::JumpCloud => "jump_cloud",
        }
    }

    /// The provider's name as people know it.
    pub fn title(self) -> &'static str {
        match self {
            Preset::Generic => "OpenID Connect",
            Preset::Google => "Google Workspace",
            Preset::Entra => "Microsoft Entra ID",
            Preset::Okta => "Okta",
            Preset::JumpCloud => "JumpCloud",
        }
    }

    pub fn parse(text: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|preset| preset.as_str() == text)
    }
}

/// What a sign-in by a connection may do to accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provisioning {
    /// Creates the account of a verified address of an acknowledged
    /// domain that has none (just in time), and links existing ones.
    JustInTime,
    /// Links the org's existing accounts only.
    LinkOnly,
    /// Signs in accounts already linked only.
    Off,
}

impl Provisioning {
    pub fn as_str(self) -> &'static str {
        match self {
            Provisioning::JustInTime => "just_in_time",
            Provisioning::LinkOnly => "link_only",
            Provisioning::Off => "off",
        }
    }
}

/// People of an upstream group get a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRole {
    pub group: String,
    pub role: Role,
}

/// Which claims say who someone is, and what role their groups give.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// The claim that holds the address (`email`).
    pub email: String,
    /// The claim that holds the name (`name`).
    pub name: String,
    /// The claim that holds the groups (`groups`).
    pub groups: String,
    /// The first group of the list a person is in gives their role; never
    /// `owner` (owners are made in Warden).
    pub roles: Vec<GroupRole>,
    /// The role of someone in none of the groups.
    pub default_role: Role,
    /// Whether a linked account's role follows its groups at each sign-in.
    pub sync_roles: bool,
}

impl Default for Mapping {
    fn default() -> Self {
        Mapping {
            email: "email".into(),
            name: "name".into(),
            groups: "groups".into(),
            roles: Vec::new(),
            default_role: Role::Member,
            sync_roles: false,
        }
    }
}

/// An OpenID Provider, as a relying party needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Oidc {
    /// The issuer, exactly as the provider's discovery document and ID
    /// tokens write it.
    pub issuer: String,
    pub client_id: String,
    /// Asked for beside `openid`.
    pub scopes: Vec<String>,
    /// `amr` values that mean the provider checked a second factor.
    pub mfa_amr: Vec<String>,
    /// `acr` values that mean the same.
    pub mfa_acr: Vec<String>,
    /// Microsoft Entra ID with a multi-tenant issuer: the tenants (`tid`)
    /// allowed; empty for every other provider.
    pub tenants: Vec<String>,
    /// Signing out of Warden signs the person out at the provider too,
    /// where it offers that (RP-initiated logout, its
    /// `end_session_endpoint`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sign_out_at_provider: bool,
}

/// The identity provider behind a connection, by protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "snake_case")]
pub enum Upstream {
    Oidc(Oidc),
}

impl Upstream {
    pub fn protocol(&self) -> &'static str {
        match self {
            Upstream::Oidc(_) => "oidc",
        }
    }

    /// Who signs the assertions: an issuer's sign-ins are not another's.
    pub fn issuer(&self) -> &str {
        match self {
            Upstream::Oidc(oidc) => &oidc.issuer,
        }
    }

    pub fn client_id(&self) -> &str {
        match self {
            Upstream::Oidc(oidc) => &oidc.client_id,
        }
    }
}

/// What an owner or admin sets on a connection, and changes later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// What the sign-in button says ("Sign in with <name>").
    pub name: String,
    pub preset: Preset,
    pub upstream: Upstream,
    /// The email domains whose people it signs in, lower case.
    pub domains: Vec<String>,
    pub provisioning: Provisioning,
    pub mapping: Mapping,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionCreated {
    pub connection: String,
    pub org: String,
    pub settings: Settings,
    /// The client secret, sealed.
    pub client_secret: Sealed<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionChanged {
    pub connection: String,
    pub org: String,
    /// The settings after the change, whole.
    pub settings: Settings,
    /// A new client secret, sealed; none when it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Sealed<String>>,
    /// Acknowledged domains the change withdrew: removed, or no longer
    /// vouched for because the provider changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unacknowledged: Vec<String>,
}

/// An owner vouched that the org's people at `domain` are the provider's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainAcknowledged {
    pub connection: String,
    pub org: String,
    /// The connection's name then.
    pub name: String,
    pub domain: String,
}

/// Enabled, disabled or removed: the connection and its org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionRef {
    pub connection: String,
    pub org: String,
    /// Its name then, so that the trail reads alone.
    pub name: String,
}

/// Who acknowledged a domain, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub by: String,
    #[serde(with = "crate::event::timestamp")]
    pub at: DateTime<Utc>,
}

/// A connection as decisions read it (the read model keeps these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub id: String,
    pub org: String,
    pub settings: Settings,
    pub enabled: bool,
    /// The domains an owner acknowledged, of `settings.domains`.
    pub acknowledged: BTreeMap<String, Acknowledgement>,
    /// The subject's version, for the next command.
    pub version: u64,
}

impl Connection {
    /// Whether an owner vouched for `domain` on this connection.
    pub fn serves(&self, domain: &str) -> bool {
        self.acknowledged.contains_key(domain)
    }
}

pub fn created(context: &Context, created: &ConnectionCreated) -> NewEvent {
    context
        .event(SSO_CONNECTION_CREATED, connection_subject(&created.connection))
        .expect_version(0)
        .data(data(created))
}

/// Releases the domains the change withdrew.
pub fn changed(context: &Context, changed: &ConnectionChanged, version: u64) -> NewEvent {
    let mut event = context
        .event(SSO_CONNECTION_CHANGED, connection_subject(&changed.connection))
        .expect_version(version)
        .data(data(changed));
    for domain in &changed.unacknowledged {
        event = event.release(DOMAIN_CLAIM, domain.clone());
    }
    event
}

pub fn domain_acknowledged(context: &Context, acknowledged: &DomainAcknowledged, version: u64) -> NewEvent {
    context
        .event(
            SSO_CONNECTION_DOMAIN_ACKNOWLEDGED,
            connection_subject(&acknowledged.connection),
        )
        .expect_version(version)
        .data(data(acknowledged))
        .claim(DOMAIN_CLAIM, acknowledged.domain.clone())
}

pub fn enabled(context: &Context, connection: &ConnectionRef, version: u64) -> NewEvent {
    context
        .event(SSO_CONNECTION_ENABLED, connection_subject(&connection.connection))
        .expect_version(version)
        .data(data(connection))
}

pub fn disabled(context: &Context, connection: &ConnectionRef, version: u64) -> NewEvent {
    context
        .event(SSO_CONNECTION_DISABLED, connection_subject(&connection.connection))
        .expect_version(version)
        .data(data(connection))
}

/// Releases the domains it served (`acknowledged`).
pub fn removed(context: &Context, connection: &ConnectionRef, version: u64, acknowledged: &[String]) -> NewEvent {
    let mut event = context
        .event(SSO_CONNECTION_REMOVED, connection_subject(&connection.connection))
        .expect_version(version)
        .data(data(connection));
    for domain in acknowledged {
        event = event.release(DOMAIN_CLAIM, domain.clone());
    }
    event
}
