//! The org's own settings: the lifetime of its sessions, its MFA policy,
//! and the security emails its users get.

use serde::Deserialize;
use warden_core::auth::mfa_policy::{Decision, Method, SignIn, decide};
use warden_core::auth::policy_change::{self, Asked, Change, Refused};
use warden_core::auth::security_email::SecurityEmails;
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

/// Whether `org` has a single sign-on connection that is on and serves a
/// domain an owner acknowledged (single sign-on can be required).
pub fn sso_ready(state: &AppState, org: &str) -> bool {
    read(&state.models.sso)
        .connections_of(org)
        .any(|connection| connection.enabled && !connection.acknowledged.is_empty())
}

/// Changes the org's MFA policy (needs a recent strong authentication):
/// what the change may ask for and who may ask is decided in
/// `core::auth::policy_change`. Methods left out keep their rule.
pub async fn change_mfa_policy(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    change: Change,
) -> Result<Org, ApiError> {
    let current = of(state, manager)?;
    let asked = Asked {
        by: &manager.user.id,
        role: manager.user.role,
        sso_ready: sso_ready(state, &manager.user.org),
        now: warden_core::event::now_micros(),
    };
    let policy = policy_change::decide(&current.mfa_policy, &change, asked).map_err(|refused| match refused {
        Refused::OwnersOnly(message) => ApiError::forbidden(message),
        Refused::Invalid(message) => ApiError::unprocessable(Code::InvalidPolicy, message),
    })?;
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
                        owner: false,
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
        Decision::SsoRequired => "refused: single sign-on is required (owners still sign in this way)".into(),
    }
}
