//! Step-up: the recent strong authentication that sensitive actions need
//! (`warden_core::auth::step_up`), and re-authenticating with the password
//! for users who have no second factor.

use chrono::Utc;
use warden_core::auth::password::Password;
use warden_core::auth::step_up::{self, Reauthentication};
use warden_core::commands::account::identifier_key;
use warden_core::event::now_micros;
use warden_projections::mfa::UserFactors;
use warden_projections::projection::read;

use super::issued::{self, Drawn, Issued};
use super::{commit, password, read as state_of, refused, throttle};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

/// [`step_up::require`] on the request's session: whether its last strong
/// authentication is recent (`step_up_max_age_seconds`). Sensitive actions
/// name it as a guard ([`crate::web::Recent`]); enrolment reads it as a
/// fact of its decision.
pub fn recent_authentication(state: &AppState, current: &CurrentSession) -> Result<(), step_up::Rejection> {
    let has_second_factor = read(&state.models.mfa)
        .of(&current.user.id)
        .is_some_and(UserFactors::has_second_factor);
    step_up::require(
        &state_of::session(current),
        has_second_factor,
        step_up_max_age(state),
        Utc::now(),
    )
}

fn step_up_max_age(state: &AppState) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(state.mfa.step_up_max_age_seconds).unwrap_or(600))
}

/// Re-authenticates with the password, for a sensitive action of a user
/// who has no second factor (one who has must use it: a password alone
/// does not refresh a two-factor session).
pub async fn reauthenticate_with_password(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    typed: &Password,
) -> Result<Issued, ApiError> {
    let identifier = identifier_key(&state.passwords.identifier_key, &current.user.email);
    let has_second_factor = state_of::factors(state, &current.user.id).has_second_factor();
    let _attempt = if has_second_factor {
        None
    } else {
        Some(throttle::sign_in(state, client, &identifier, Some(&current.user.id), "reauthenticate").await?)
    };
    let user = read(&state.models.accounts)
        .user(&current.user.id)
        .cloned()
        .ok_or_else(ApiError::not_found)?;
    let verification = if has_second_factor {
        warden_core::auth::password::Verification::Invalid
    } else {
        password::check(state, Some(&user), typed).await?
    };
    let session = state_of::session(current);
    let drawn = Drawn::for_session(current.session.id.clone());
    let decided = step_up::reauthenticate(
        &Reauthentication {
            session: &session,
            has_second_factor,
            verification,
            policy: state_of::session_policy(state, &current.user.org),
        },
        &client.caller(),
        &identifier,
        &drawn.session.token_hash,
        now_micros(),
    );
    match decided {
        Ok(elevated) => {
            let sealed = commit(state, vec![elevated.event.clone()]).await?;
            issued::elevated(current, drawn.token, &sealed, elevated)
        }
        Err(refusal) => Err(refused(state, refusal).await),
    }
}
