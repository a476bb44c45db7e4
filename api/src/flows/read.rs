//! The state decisions are made on, read from this node's read models and
//! handed to the pure `decide` functions of `warden_core::auth`.

use warden_core::auth::SessionState;
use warden_core::auth::device::Device;
use warden_core::auth::sign_in::{Account, DeviceSeen, OrgRules};
use warden_core::commands::Caller;
use warden_core::commands::mfa::Factor;
use warden_core::commands::org::SessionPolicy;
use warden_projections::accounts::User;
use warden_projections::mfa::UserFactors;
use warden_projections::projection::read;

use crate::state::AppState;
use crate::web::session::CurrentSession;

/// What sign-in decisions know of `user`.
pub fn account(user: &User) -> Account {
    Account {
        id: user.id.clone(),
        org: user.org.clone(),
        status: user.status,
        role: user.role,
        version: user.version,
        created_at: user.created_at,
    }
}

/// The sign-in rules of `org` (the defaults for an org not found).
pub fn org_rules(state: &AppState, org: &str) -> OrgRules {
    let accounts = read(&state.models.accounts);
    match accounts.org(org) {
        Some(org) => OrgRules {
            session: org.session_policy,
            mfa: org.mfa_policy.clone(),
            mfa_required_since: org.mfa_required_since,
        },
        None => OrgRules {
            session: state.web.default_session_policy,
            ..OrgRules::default()
        },
    }
}

/// The session policy of `org`.
pub fn session_policy(state: &AppState, org: &str) -> SessionPolicy {
    read(&state.models.accounts)
        .org(org)
        .map_or(state.web.default_session_policy, |org| org.session_policy)
}

/// The factors a user can prove now, as the MFA policy counts them
/// (backup codes on their own too: the policy decides what they are worth).
pub fn enrolled(factors: &UserFactors) -> Vec<Factor> {
    let mut enrolled = Vec::new();
    if !factors.passkeys.is_empty() {
        enrolled.push(Factor::Passkey);
    }
    if factors.totp.is_some() {
        enrolled.push(Factor::Totp);
    }
    if factors.backup_codes.as_ref().is_some_and(|codes| codes.remaining() > 0) {
        enrolled.push(Factor::BackupCode);
    }
    enrolled
}

/// The factors of `user`, as the read model holds them now.
pub fn factors(state: &AppState, user: &str) -> UserFactors {
    read(&state.models.mfa).factors(user)
}

/// The device `caller` signs in from, and whether `user` used it before.
pub fn device(state: &AppState, user: &str, caller: &Caller) -> DeviceSeen {
    let device = Device::from_user_agent(caller.user_agent.as_deref().unwrap_or(""));
    let known = read(&state.models.sessions).knows_device(user, &device.fingerprint());
    DeviceSeen { device, known }
}

/// The request's session, as decisions see it.
pub fn session(current: &CurrentSession) -> SessionState<'_> {
    let session = &current.session;
    SessionState {
        id: &session.id,
        user: &current.user.id,
        org: &current.user.org,
        assurance: &session.assurance,
        pending: session.pending.as_ref(),
        created_at: session.created_at,
        expires_at: session.expires_at,
    }
}
