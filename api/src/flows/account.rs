//! What a signed-in user does to their own account: sign out, revoke
//! sessions, change their password.

use warden_core::auth::password::{Password, Verification};
use warden_core::auth::tokens::{SessionCookie, Token, TokenKind};
use warden_core::commands::account::{self, FailureReason, identifier_key};
use warden_core::commands::session::{self, SessionRevoked, SessionRotated};
use warden_projections::accounts::User;
use warden_projections::projection::read;

use super::sign_in::{NewSession, check_password, record_failure, sealed_password, throttle};
use super::users::revocations;
use super::{check_new_password, commit};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

pub async fn sign_out(state: &AppState, current: &CurrentSession, client: &Client) -> Result<(), ApiError> {
    revoke(state, current, client, &current.session.id, "signed_out").await
}

/// Revokes one of the user's own sessions.
pub async fn revoke(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    id: &str,
    reason: &str,
) -> Result<(), ApiError> {
    let owned = read(&state.models.sessions)
        .get(id)
        .is_some_and(|session| session.user == current.user.id);
    if !owned {
        return Err(ApiError::not_found());
    }
    let context = client.as_user(&current.user.id, &current.user.org);
    let event = session::revoke(
        &context,
        id,
        &SessionRevoked {
            user: current.user.id.clone(),
            reason: reason.into(),
        },
    );
    commit(state, vec![event]).await.map(|_| ())
}

/// Signs out every other session of the user; returns how many.
pub async fn revoke_others(state: &AppState, current: &CurrentSession, client: &Client) -> Result<usize, ApiError> {
    let context = client.as_user(&current.user.id, &current.user.org);
    let events = revocations(
        state,
        &context,
        &current.user.id,
        "signed_out_elsewhere",
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
    password: &Password,
    method: &str,
) -> Result<User, ApiError> {
    let identifier = identifier_key(&state.passwords.identifier_key, &current.user.email);
    let _attempt = throttle(state, client, &identifier, Some(&current.user.id), method).await?;
    let user = read(&state.models.accounts)
        .user(&current.user.id)
        .cloned()
        .ok_or_else(ApiError::not_found)?;
    if !matches!(
        check_password(state, Some(&user), password).await?,
        Verification::Valid { .. }
    ) {
        let context = client.as_user(&current.user.id, &current.user.org);
        record_failure(
            state,
            &context,
            Some(&user.id),
            &identifier,
            FailureReason::WrongPassword,
            method,
        )
        .await?;
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
) -> Result<NewSession, ApiError> {
    let context = client.as_user(&current.user.id, &current.user.org);
    let user = confirm_password(state, current, client, current_password, "password_change").await?;
    if new_password.expose() == current_password.expose() {
        return Err(ApiError::unprocessable(
            "weak_password",
            "the new password must differ from the current one",
        ));
    }
    check_new_password(state, new_password, &[&user.email, &user.display_name])?;
    let set = sealed_password(state, &user.id, new_password, "change").await?;
    let token = Token::generate();
    let mut events = vec![account::set_password(&context, &user.id, Some(user.version), &set)];
    events.extend(revocations(
        state,
        &context,
        &user.id,
        "password_changed",
        Some(&current.session.id),
    ));
    events.push(session::rotate(
        &context,
        &current.session.id,
        &SessionRotated {
            token_hash: token.hash(TokenKind::Session),
            reason: "password_changed".into(),
        },
    ));
    let sealed = commit(state, events).await?;
    let seq = sealed.last().map(|event| event.seq).unwrap_or_default();
    Ok(NewSession {
        session_id: current.session.id.clone(),
        csrf_token: token.csrf(),
        cookie: SessionCookie { seq, token }.encode(),
        expires_at: current.session.expires_at,
        pending: None,
        enrolment_due: None,
        opened: None,
    })
}
