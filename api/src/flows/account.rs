//! What a signed-in user does to their own account: sign out, revoke
//! sessions, change their password.

use warden_core::auth::password::{Password, Verification};
use warden_core::auth::revocation::{self, Rejection};
use warden_core::auth::sign_in;
use warden_core::commands::account::{self, FailureReason, identifier_key};
use warden_core::commands::session::{self, RevocationReason, RotationReason, SessionRotated};
use warden_projections::accounts::User;
use warden_projections::projection::read;

use super::issued::{self, Drawn, Issued};
use super::{check_new_password, commit, password, throttle};
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

/// Checks the signed-in user's password again (throttled like a sign-in;
/// a wrong one is a `login.failed` with this `method`), and answers their
/// account.
pub async fn confirm_password(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    typed: &Password,
    method: &str,
) -> Result<User, ApiError> {
    let identifier = identifier_key(&state.passwords.identifier_key, &current.user.email);
    let _attempt = throttle::sign_in(state, client, &identifier, Some(&current.user.id), method).await?;
    let user = read(&state.models.accounts)
        .user(&current.user.id)
        .cloned()
        .ok_or_else(ApiError::not_found)?;
    if !matches!(
        password::check(state, Some(&user), typed).await?,
        Verification::Valid { .. }
    ) {
        let context = client.as_user(&current.user.id, &current.user.org);
        let event = sign_in::failed(
            &context,
            Some(&user.id),
            &identifier,
            FailureReason::WrongPassword,
            method,
        );
        commit(state, vec![event]).await?;
        return Err(ApiError::forbidden_code("wrong_password", "the password is wrong"));
    }
    Ok(user)
}

/// Changes the password after checking the current one; signs out every
/// other session and gives this one a new token.
pub async fn change_password(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    current_password: &Password,
    new_password: &Password,
) -> Result<Issued, ApiError> {
    let context = client.as_user(&current.user.id, &current.user.org);
    let user = confirm_password(state, current, client, current_password, "password_change").await?;
    if new_password.expose() == current_password.expose() {
        return Err(ApiError::unprocessable(
            "weak_password",
            "the new password must differ from the current one",
        ));
    }
    check_new_password(state, new_password, &[&user.email, &user.display_name])?;
    let set = password::sealed(state, &user.id, new_password, "change").await?;
    let drawn = Drawn::for_session(current.session.id.clone());
    let mut events = vec![account::set_password(&context, &user.id, Some(user.version), &set)];
    events.extend(revocations(
        state,
        &context,
        &user.id,
        RevocationReason::PasswordChanged,
        Some(&current.session.id),
    ));
    events.push(session::rotate(
        &context,
        &current.session.id,
        &SessionRotated {
            token_hash: drawn.session.token_hash.clone(),
            reason: RotationReason::PasswordChanged,
        },
    ));
    issued::renewed(state, current, drawn.token, events, current.session.expires_at, None).await
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
