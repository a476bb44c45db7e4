//! What a signed-in user does to their own account: sign out, revoke
//! sessions, change their password, choose their time zone.

use warden_core::auth::password::Password;
use warden_core::auth::password_change::{self, State};
use warden_core::auth::preferences;
use warden_core::auth::revocation::{self, Rejection};
use warden_core::commands::account::{PasswordReason, identifier_key};
use warden_core::commands::session::RevocationReason;
use warden_projections::projection::read;

use super::issued::{self, Drawn, Issued};
use super::{check_new_password, commit, password, read as state_of, refused, throttle};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

pub async fn sign_out(state: &AppState, current: &CurrentSession, client: &Client) -> Result<(), ApiError> {
    revoke(state, current, client, &current.session.id, RevocationReason::SignedOut).await
}

/// Revokes one of the user's own sessions.
pub async fn revoke(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    id: &str,
    reason: RevocationReason,
) -> Result<(), ApiError> {
    let owner = read(&state.models.sessions).get(id).map(|session| session.user.clone());
    let context = client.as_user(&current.user.id, &current.user.org);
    let events = revocation::revoke_own(&context, &current.user.id, id, owner.as_deref(), reason)
        .map_err(|Rejection::NotFound| ApiError::not_found())?;
    commit(state, events).await.map(|_| ())
}

/// Sets the zone the console shows the user times in (`offered`: the
/// zones the server knows); nothing when it is already theirs.
pub async fn change_time_zone(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    chosen: &str,
    offered: impl Fn(&str) -> bool,
) -> Result<(), ApiError> {
    let (version, zone) = read(&state.models.accounts)
        .user(&current.user.id)
        .map(|user| (user.version, user.time_zone.clone()))
        .ok_or_else(ApiError::not_found)?;
    let context = client.as_user(&current.user.id, &current.user.org);
    let event = preferences::decide(&context, &current.user.id, version, zone.as_deref(), chosen, offered)
        .map_err(|refusal| ApiError::bad_request(refusal.to_string()))?;
    commit(state, event.into_iter().collect()).await.map(|_| ())
}

/// Signs out every other session of the user; returns how many.
pub async fn revoke_others(state: &AppState, current: &CurrentSession, client: &Client) -> Result<usize, ApiError> {
    let context = client.as_user(&current.user.id, &current.user.org);
    let events = revocations(
        state,
        &context,
        &current.user.id,
        RevocationReason::SignedOutElsewhere,
        Some(&current.session.id),
    );
    let count = events.len();
    commit(state, events).await?;
    Ok(count)
}

/// Changes the password after checking the current one (throttled like a
/// sign-in); signs out every other session and gives this one a new token
/// (`warden_core::auth::password_change`).
pub async fn change_password(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    current_password: &Password,
    new_password: &Password,
) -> Result<Issued, ApiError> {
    let identifier = identifier_key(&state.passwords.identifier_key, &current.user.email);
    let _attempt = throttle::sign_in(state, client, &identifier, Some(&current.user.id), "password_change").await?;
    let user = read(&state.models.accounts)
        .user(&current.user.id)
        .cloned()
        .ok_or_else(ApiError::not_found)?;
    let verification = password::check(state, Some(&user), current_password).await?;
    let session = state_of::session(current);
    let caller = client.caller();
    let change = State {
        session: &session,
        version: user.version,
        verification,
        unchanged: new_password.expose() == current_password.expose(),
        sessions: &[],
    };
    if let Err(refusal) = password_change::check(&change, &caller, &identifier) {
        return Err(refused(state, refusal).await);
    }
    check_new_password(state, new_password, &[&user.email, &user.display_name])?;
    let set = password::sealed(state, &user.id, new_password, PasswordReason::Change).await?;
    let drawn = Drawn::for_session(current.session.id.clone());
    // The sessions to end are read after the slow hash: as late as can be.
    let sessions: Vec<String> = read(&state.models.sessions)
        .of_user(&user.id)
        .into_iter()
        .map(|session| session.id.clone())
        .collect();
    let sessions: Vec<&str> = sessions.iter().map(String::as_str).collect();
    let change = State {
        sessions: &sessions,
        ..change
    };
    match password_change::decide(&change, &caller, &identifier, &set, &drawn.session.token_hash) {
        Ok(events) => issued::renewed(state, current, drawn.token, events, current.session.expires_at, None).await,
        Err(refusal) => Err(refused(state, refusal).await),
    }
}

/// `session.revoked` for each session of `user` except `keep`.
pub fn revocations(
    state: &AppState,
    context: &warden_core::commands::Context,
    user: &str,
    reason: RevocationReason,
    keep: Option<&str>,
) -> Vec<warden_core::NewEvent> {
    let sessions = read(&state.models.sessions);
    let ids = sessions.of_user(user).into_iter().map(|session| session.id.as_str());
    revocation::revoke_all(context, user, ids, keep, reason)
}
