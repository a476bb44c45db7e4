//! Backup codes: a new set (the old one dies), and the user's
//! acknowledgement that they saved it. Checking one as a second factor is
//! `warden_core::auth::second_factor`.

use warden_core::auth::backup_codes;
use warden_core::commands::account;
use warden_core::commands::mfa::{self, BackupCodesAcknowledged, BackupCodesGenerated};
use warden_projections::projection::read;
use zeroize::Zeroizing;

use super::{commit, key_service, new_id};
use crate::error::{ApiError, Code};
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

/// Backup codes shown once.
pub struct IssuedCodes {
    pub set: String,
    pub codes: Vec<Zeroizing<String>>,
}

/// A new set of backup codes; the old set stops working. Needs a recent
/// strong authentication.
pub async fn regenerate_backup_codes(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
) -> Result<IssuedCodes, ApiError> {
    let factors = read(&state.models.mfa).factors(&current.user.id);
    if !factors.has_second_factor() {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            Code::NoSecondFactor,
            "backup codes recover a second factor: set up an authenticator first",
        ));
    }
    let (event, issued) = backup_codes_event(state, current, client, factors.version).await?;
    commit(state, vec![event]).await?;
    Ok(issued)
}

/// Records that the user saved the backup codes of `set`.
pub async fn acknowledge_backup_codes(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    set: &str,
) -> Result<(), ApiError> {
    let user = &current.user;
    let factors = read(&state.models.mfa).factors(&user.id);
    if factors.backup_codes.as_ref().is_none_or(|codes| codes.set != set) {
        return Err(ApiError::not_found());
    }
    let context = client.as_user(&user.id, &user.org);
    let event = mfa::acknowledge_backup_codes(
        &context,
        factors.version,
        &BackupCodesAcknowledged {
            user: user.id.clone(),
            set: set.to_string(),
        },
    );
    commit(state, vec![event]).await.map(|_| ())
}

/// A new set of backup codes as an event on the user's factors at `version`.
async fn backup_codes_event(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    version: u64,
) -> Result<(warden_core::NewEvent, IssuedCodes), ApiError> {
    let (generated, issued) = draw(state, &current.user.id).await?;
    let context = client.as_user(&current.user.id, &current.user.org);
    Ok((mfa::generate_backup_codes(&context, version, &generated), issued))
}

/// A new set of backup codes for `user`: the payload of its event (the
/// hashes sealed under the user's data key) and the codes to show once.
pub(super) async fn draw(state: &AppState, user: &str) -> Result<(BackupCodesGenerated, IssuedCodes), ApiError> {
    let generated = backup_codes::generate(user);
    let hashes = state
        .data_keys
        .seal(&account::user_subject(user), &generated.hashes)
        .await
        .map_err(key_service)?;
    let set = new_id();
    let payload = BackupCodesGenerated {
        user: user.to_string(),
        set: set.clone(),
        hashes,
        count: generated.codes.len(),
    };
    Ok((
        payload,
        IssuedCodes {
            set,
            codes: generated.codes,
        },
    ))
}
