//! Checking and storing passwords: the slow and keyed part of every
//! password decision (an Argon2id verification, a data-key seal), done
//! before the decision and handed to it as data.

use warden_core::auth::password::{Password, PasswordError, Verification};
use warden_core::commands::account::{self, PasswordReason, PasswordSet};
use warden_projections::accounts::User;

use crate::error::ApiError;
use crate::state::AppState;

/// Checks a password against the user's stored hash; for an unknown user
/// (or one without a password), spends the same work on a decoy.
pub async fn check(state: &AppState, user: Option<&User>, password: &Password) -> Result<Verification, ApiError> {
    let hashing = &state.passwords.hashing;
    let sealed = user.and_then(|user| user.password.as_ref());
    let Some(sealed) = sealed else {
        let _ = state.data_keys.open(&state.passwords.decoy).await;
        hashing.verify_nothing(password).await.map_err(hashing_failed)?;
        return Ok(Verification::Invalid);
    };
    let stored = match state.data_keys.open(sealed).await {
        Ok(stored) => stored,
        Err(error) => {
            // A shredded or damaged hash: the account cannot sign in with a
            // password, and says so no differently.
            tracing::warn!(%error, "stored password hash cannot be opened");
            hashing.verify_nothing(password).await.map_err(hashing_failed)?;
            return Ok(Verification::Invalid);
        }
    };
    hashing.verify(password, &stored).await.map_err(hashing_failed)
}

/// Hashes and seals a password under the user's data key.
pub async fn sealed(
    state: &AppState,
    user_id: &str,
    password: &Password,
    reason: PasswordReason,
) -> Result<PasswordSet, ApiError> {
    let hash = state.passwords.hashing.hash(password).await.map_err(hashing_failed)?;
    let sealed = state
        .data_keys
        .seal(&account::user_subject(user_id), &hash)
        .await
        .map_err(|error| {
            tracing::error!(%error, "cannot seal a password hash");
            ApiError::unavailable("the key service is unavailable; try again")
        })?;
    Ok(PasswordSet {
        hash: sealed,
        scheme: "argon2id".into(),
        reason,
    })
}

fn hashing_failed(error: PasswordError) -> ApiError {
    tracing::error!(%error, "password hashing failed");
    ApiError::unavailable("password checking is unavailable; try again")
}
