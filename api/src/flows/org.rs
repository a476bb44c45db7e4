//! The org's own settings: the lifetime of its sessions, its MFA policy,
//! and the security emails its users get.

use serde::Deserialize;
use warden_core::auth::mfa_policy::{Decision, Method, SignIn, UpstreamTrust, decide};
use warden_core::auth::security_email::SecurityEmails;
use warden_core::commands::account::Role;
use warden_core::commands::mfa::Factor;
use warden_core::commands::org::{self, MfaPolicyChanged, SecurityEmailsChanged, SessionPolicy, SessionPolicyChanged};
use warden_projections::accounts::Org;
use warden_projections::projection::read;

use super::commit;
use crate::error::{ApiError, Code};
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

pub fn of(state: &AppState, current: &CurrentSession) -> Result<Org, ApiError> {
    read(&state.models.accounts)
        .org(&current.user.org)
        .cloned()
        .ok_or_else(ApiError::not_found)
}

/// Changes the session lifetimes of the manager's org. Sessions started
/// from now on get them; running sessions keep the ones they started with.
pub async fn change_session_policy(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    policy: SessionPolicy,
) -> Result<Org, ApiError> {
    policy
        .validate(SessionPolicy::ORG_MINIMUM_SECONDS)
        .map_err(ApiError::bad_request)?;
    let current = of(state, manager)?;
    if current.session_policy == policy {
        return Ok(current);
    }
    let context = client.as_user(&manager.user.id, &manager.user.org);
    let event = org::change_session_policy(
        &context,
        &current.id,
        current.version,
        &SessionPolicyChanged {
            old: current.session_policy,
            new: policy,
        },
    );
    commit(state, vec![event]).await?;
    of(state, manager)
}

/// A new MFA policy as an admin asks for it: per method, whether it is
/// allowed, whether MFA is required, which factors count, and whether the
/// upstream provider's MFA is trusted (recorded with who acknowledged it).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfaPolicyInput {
    pub enrolment_grace_seconds: Option<u64>,
    #[serde(default)]
    pub methods: std::collections::BTreeMap<Method, MethodInput>,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodInput {
    pub allowed: Option<bool>,
    pub require_mfa: Option<bool>,
    pub factors: Option<Vec<Factor>>,
    pub trust_upstream_mfa: Option<bool>,
}

/// Longest enrolment grace period an org may give.
const MAX_GRACE_SECONDS: u64 = 90 * 24 * 3600;

/// Changes the org's MFA policy (needs a recent strong authentication).
/// Methods left out keep their rule.
pub async fn change_mfa_policy(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    input: MfaPolicyInput,
) -> Result<Org, ApiError> {
    let current = of(state, manager)?;
    let mut policy = current.mfa_policy.clone();
    if let Some(grace) = input.enrolment_grace_seconds {
        if grace > MAX_GRACE_SECONDS {
            return Err(ApiError::unprocessable(
                Code::InvalidPolicy,
                "enrolment_grace_seconds must be at most 90 days",
            ));
        }
        policy.enrolment_grace_seconds = grace;
    }
    for (method, change) in input.methods {
        let mut rule = policy.rule(method);
        if let Some(allowed) = change.allowed {
            rule.allowed = allowed;
        }
        if let Some(require) = change.require_mfa {
            rule.require_mfa = require;
        }
        if let Some(factors) = change.factors {
            let mut factors = factors;
            factors.sort();
            factors.dedup();
            rule.factors = factors;
        }
        match change.trust_upstream_mfa {
            Some(true) if !method.has_upstream() => {
                return Err(ApiError::unprocessable(
                    Code::InvalidPolicy,
                    "only OIDC and SAML sign-ins have an upstream provider whose MFA can be trusted",
                ));
            }
            Some(true) if rule.trust_upstream_mfa.is_none() && manager.user.role != Role::Owner => {
                return Err(ApiError::forbidden(
                    "only an owner can acknowledge that a provider's second factor is trusted",
                ));
            }
            Some(true) if rule.trust_upstream_mfa.is_none() => {
                rule.trust_upstream_mfa = Some(UpstreamTrust {
                    acknowledged_by: manager.user.id.clone(),
                    acknowledged_at: warden_core::event::now_micros(),
                });
            }
            Some(false) => rule.trust_upstream_mfa = None,
            _ => {}
        }
        if rule.require_mfa && !rule.factors.iter().any(|factor| *factor != Factor::BackupCode) {
            return Err(ApiError::unprocessable(
                Code::InvalidPolicy,
                "a method that requires MFA must allow TOTP or passkeys (backup codes only recover them)",
            ));
        }
        policy.rules.insert(method, rule);
    }
    if !policy.rule(Method::Password).allowed && !policy.rule(Method::Passkey).allowed {
        return Err(ApiError::unprocessable(
            Code::InvalidPolicy,
            "password or passkey sign-in must stay allowed: no one could sign in otherwise",
        ));
    }
    if policy == current.mfa_policy {
        return Ok(current);
    }
    let context = client.as_user(&manager.user.id, &manager.user.org);
    let event = org::change_mfa_policy(
        &context,
        &current.id,
        current.version,
        &MfaPolicyChanged {
            old: current.mfa_policy.clone(),
            new: policy,
        },
    );
    commit(state, vec![event]).await?;
    of(state, manager)
}

/// A change of the org's security emails: each switch left out stays.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityEmailsInput {
    pub invitation: Option<bool>,
    pub new_device: Option<bool>,
    pub password_changed: Option<bool>,
    pub factors: Option<bool>,
    pub keys: Option<bool>,
}

/// Turns the org's security emails on or off (owner or admin, after a
/// recent strong authentication: the extractor checks both).
pub async fn change_security_emails(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    input: SecurityEmailsInput,
) -> Result<Org, ApiError> {
    let current = of(state, manager)?;
    let old = current.security_emails;
    let new = SecurityEmails {
        invitation: input.invitation.unwrap_or(old.invitation),
        new_device: input.new_device.unwrap_or(old.new_device),
        password_changed: input.password_changed.unwrap_or(old.password_changed),
        factors: input.factors.unwrap_or(old.factors),
        keys: input.keys.unwrap_or(old.keys),
    };
    if new == old {
        return Ok(current);
    }
    let context = client.as_user(&manager.user.id, &manager.user.org);
    let event = org::change_security_emails(
        &context,
        &current.id,
        current.version,
        &SecurityEmailsChanged { old, new },
    );
    commit(state, vec![event]).await?;
    of(state, manager)
}

/// What a user of the org is asked when signing in by each method, with
/// no second factor, with an authenticator app, or with a passkey; during
/// the enrolment grace period and after it.
pub fn preview(org: &Org) -> Vec<(Method, Vec<(&'static str, String)>)> {
    let now = chrono::Utc::now();
    let grace = chrono::Duration::seconds(i64::try_from(org.mfa_policy.enrolment_grace_seconds).unwrap_or(0));
    let cases: [(&'static str, &[Factor]); 3] = [
        ("without_factor", &[]),
        ("with_totp", &[Factor::Totp, Factor::BackupCode]),
        ("with_passkey", &[Factor::Passkey, Factor::BackupCode]),
    ];
    Method::ALL
        .iter()
        .map(|method| {
            let outcomes = cases
                .iter()
                .map(|(name, enrolled)| {
                    let sign_in = |required_since| SignIn {
                        method: *method,
                        enrolled,
                        first_factor_is_mfa: *method == Method::Passkey,
                        upstream_mfa: false,
                        required_since,
                        now,
                    };
                    let outcome = match decide(&org.mfa_policy, &sign_in(now)) {
                        Decision::FullUntilEnrolled { .. } => {
                            let after = describe_decision(&decide(&org.mfa_policy, &sign_in(now - grace)));
                            format!("signed in, asked to set up a second factor within the grace period; then: {after}")
                        }
                        decision => describe_decision(&decision),
                    };
                    (*name, outcome)
                })
                .collect();
            (*method, outcomes)
        })
        .collect()
}

fn describe_decision(decision: &Decision) -> String {
    let names = |factors: &[Factor]| {
        factors
            .iter()
            .map(|factor| factor.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match decision {
        Decision::Full => "signed in".into(),
        Decision::FullUntilEnrolled { .. } => "signed in, asked to set up a second factor".into(),
        Decision::SecondFactor { factors } => format!("asked for a second factor ({})", names(factors)),
        Decision::Enrol { factors } => format!("must set up a second factor first ({})", names(factors)),
        Decision::Refused { reason } => format!("refused: {reason}"),
    }
}
