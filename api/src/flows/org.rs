//! The org's own settings: for now, the lifetime of its sessions.

use warden_core::commands::org::{self, SessionPolicy, SessionPolicyChanged};
use warden_projections::accounts::Org;
use warden_projections::projection::read;

use super::commit;
use crate::error::ApiError;
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
