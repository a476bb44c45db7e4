//! Signing in through a single sign-on connection: each flow's start, its
//! end (signed in, or why not), and the accounts it creates or links.
//! A flow (`sso_flow:<id>`) ends once: its end claims its id (`sso_flow`),
//! so a replayed callback finds it taken. An identity at the provider
//! (`<connection>:<subject>`) is linked to one account (`sso_identity`).

use serde::{Deserialize, Serialize};

use super::super::account::{Role, user_subject};
use super::super::{Context, Prefix, data, subject};
use crate::event::{NewEvent, Outcome};

mod sentences;

pub const SSO_STARTED: &str = "sso.started";
pub const SSO_SUCCEEDED: &str = "sso.succeeded";
pub const SSO_FAILED: &str = "sso.failed";
pub const USER_PROVISIONED: &str = "user.provisioned";
pub const USER_LINKED: &str = "user.linked";

/// The claim that ends a flow once.
pub const FLOW_CLAIM: &str = "sso_flow";
/// The claim that links an identity at a provider to one account.
pub const IDENTITY_CLAIM: &str = "sso_identity";

/// `sso_flow:<id>`: one sign-in (or test) through a connection.
pub fn flow_subject(flow: &str) -> String {
    subject(Prefix::SsoFlow, flow)
}

/// An identity at a provider, as claimed: the connection and the
/// provider's stable id for the person.
pub fn identity(connection: &str, subject: &str) -> String {
    format!("{connection}:{subject}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Started {
    pub flow: String,
    pub connection: String,
    pub org: String,
    /// The connection's name then.
    pub name: String,
    /// "Test connection": the flow ends without signing anyone in.
    pub test: bool,
    /// A signed-in user confirming it's them (a step-up), not a sign-in.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reauthentication: bool,
}

/// What a flow that passed every check did (or, testing, would do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInResult {
    /// A linked account signed in.
    SignedIn,
    /// An existing account was linked, and signed in.
    Linked,
    /// An account was created, and signed in.
    Provisioned,
    /// A signed-in user confirmed it's them: their session was elevated.
    Reauthenticated,
}

impl SignInResult {
    pub fn as_str(self) -> &'static str {
        match self {
            SignInResult::SignedIn => "signed_in",
            SignInResult::Linked => "linked",
            SignInResult::Provisioned => "provisioned",
            SignInResult::Reauthenticated => "reauthenticated",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Succeeded {
    pub flow: String,
    pub connection: String,
    pub org: String,
    /// The connection's name then.
    pub name: String,
    pub test: bool,
    pub result: SignInResult,
    /// The account (none when a test would create it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The provider's stable id for the person.
    pub subject: String,
    /// The address the provider asserted, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The role the mapping gives.
    pub role: Role,
    /// The provider asserted a second factor (`amr`/`acr`).
    pub upstream_mfa: bool,
    /// The session opened (none for a test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

/// Why a flow failed: for the admin, exactly; the browser is told only
/// that it failed and the request id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The connection is disabled, or gone.
    ConnectionDisabled,
    /// The callback's `state` is not the flow's this browser started.
    StateMismatch,
    /// The flow ended already (a replayed callback).
    Replayed,
    /// The flow is older than ten minutes.
    FlowExpired,
    /// The provider sent the browser back with an error.
    ProviderError,
    /// The provider's discovery document, keys or token endpoint could
    /// not be reached or read.
    ProviderUnreachable,
    /// The token endpoint refused the code.
    TokenRefused,
    /// No ID token, or one that is not a JWT.
    MalformedToken,
    /// An algorithm outside the allow-list (`none`, `HS256` …).
    DisallowedAlgorithm,
    /// Signed with a key the provider does not publish.
    UnknownKey,
    BadSignature,
    IssuerMismatch,
    AudienceMismatch,
    AuthorizedPartyMismatch,
    /// Expired (beyond the allowed clock skew).
    Expired,
    /// Issued in the future, or before the flow started (beyond the skew).
    ClockSkew,
    NonceMismatch,
    MissingClaim,
    /// Google: not an account of the connection's Workspace domains.
    HostedDomainMismatch,
    /// Entra ID: a tenant the connection does not allow.
    TenantNotAllowed,
    /// Entra ID: too many groups for the token; they are not in it.
    GroupsOverage,
    EmailNotVerified,
    /// The address is at no domain an owner acknowledged on the
    /// connection.
    DomainNotServed,
    /// The address is another org's account's.
    AnotherOrg,
    /// No linked account, and the connection may not create or link one.
    NotProvisioned,
    AccountDisabled,
    /// An invited account accepts its invitation first.
    AccountInvited,
    /// The org's MFA policy does not allow signing in this way.
    MethodNotAllowed,
    /// Confirming it's them: the session that asked has ended.
    SessionEnded,
    /// Confirming it's them: the provider signed in another person.
    AnotherPerson,
    /// Confirming it's them: the provider did not ask the person to sign
    /// in again (`auth_time` missing, or before the confirmation).
    NotReauthenticated,
    /// Confirming it's them: they have a second factor, which the
    /// provider's does not replace.
    SecondFactorRequired,
}

impl Failure {
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::ConnectionDisabled => "connection_disabled",
            Failure::StateMismatch => "state_mismatch",
            Failure::Replayed => "replayed",
            Failure::FlowExpired => "flow_expired",
            Failure::ProviderError => "provider_error",
            Failure::ProviderUnreachable => "provider_unreachable",
            Failure::TokenRefused => "token_refused",
            Failure::MalformedToken => "malformed_token",
            Failure::DisallowedAlgorithm => "disallowed_algorithm",
            Failure::UnknownKey => "unknown_key",
            Failure::BadSignature => "bad_signature",
            Failure::IssuerMismatch => "issuer_mismatch",
            Failure::AudienceMismatch => "audience_mismatch",
            Failure::AuthorizedPartyMismatch => "authorized_party_mismatch",
            Failure::Expired => "expired",
            Failure::ClockSkew => "clock_skew",
            Failure::NonceMismatch => "nonce_mismatch",
            Failure::MissingClaim => "missing_claim",
            Failure::HostedDomainMismatch => "hosted_domain_mismatch",
            Failure::TenantNotAllowed => "tenant_not_allowed",
            Failure::GroupsOverage => "groups_overage",
            Failure::EmailNotVerified => "email_not_verified",
            Failure::DomainNotServed => "domain_not_served",
            Failure::AnotherOrg => "another_org",
            Failure::NotProvisioned => "not_provisioned",
            Failure::AccountDisabled => "account_disabled",
            Failure::AccountInvited => "account_invited",
            Failure::MethodNotAllowed => "method_not_allowed",
            Failure::SessionEnded => "session_ended",
            Failure::AnotherPerson => "another_person",
            Failure::NotReauthenticated => "not_reauthenticated",
            Failure::SecondFactorRequired => "second_factor_required",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failed {
    pub flow: String,
    pub connection: String,
    pub org: String,
    /// The connection's name then.
    pub name: String,
    pub test: bool,
    pub reason: Failure,
    /// What exactly was wrong, for the org's admins (expected and found
    /// values, the claim missing); never a token, code or secret.
    pub detail: String,
    /// The provider's stable id for the person, when the token was
    /// verified that far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// An account created by a sign-in, with its identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provisioned {
    pub user: String,
    pub org: String,
    pub connection: String,
    /// The connection's name then.
    pub name: String,
    pub subject: String,
    pub email: String,
    pub role: Role,
    /// The groups the provider asserted, as the mapping read them.
    pub groups: Vec<String>,
}

/// An existing account linked to an identity at the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Linked {
    pub user: String,
    pub org: String,
    pub connection: String,
    /// The connection's name then.
    pub name: String,
    pub subject: String,
    /// The verified address it was linked by.
    pub email: String,
}

pub fn started(context: &Context, started: &Started) -> NewEvent {
    context
        .event(SSO_STARTED, flow_subject(&started.flow))
        .expect_version(0)
        .data(data(started))
}

/// Ends the flow: claims it.
pub fn succeeded(context: &Context, succeeded: &Succeeded) -> NewEvent {
    context
        .event(SSO_SUCCEEDED, flow_subject(&succeeded.flow))
        .claim(FLOW_CLAIM, succeeded.flow.clone())
        .data(data(succeeded))
}

/// Ends the flow (claims it), unless it was replayed: a replay's failure
/// is recorded without ending anything.
pub fn failed(context: &Context, failed: &Failed) -> NewEvent {
    let event = context
        .event(SSO_FAILED, flow_subject(&failed.flow))
        .outcome(Outcome::Failure)
        .data(data(failed));
    match failed.reason {
        Failure::Replayed | Failure::StateMismatch => event,
        _ => event.claim(FLOW_CLAIM, failed.flow.clone()),
    }
}

/// After the account's `user.created`, in the same append.
pub fn provisioned(context: &Context, provisioned: &Provisioned) -> NewEvent {
    context
        .event(USER_PROVISIONED, user_subject(&provisioned.user))
        .claim(IDENTITY_CLAIM, identity(&provisioned.connection, &provisioned.subject))
        .data(data(provisioned))
}

pub fn linked(context: &Context, linked: &Linked) -> NewEvent {
    context
        .event(USER_LINKED, user_subject(&linked.user))
        .claim(IDENTITY_CLAIM, identity(&linked.connection, &linked.subject))
        .data(data(linked))
}
