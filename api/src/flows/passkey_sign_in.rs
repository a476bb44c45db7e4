//! Signing in with a passkey alone: the email first (the options name the
//! account's passkeys, or stand-ins shaped alike for an account without),
//! then the passkey, which proves two factors at once.

use chrono::Utc;
use warden_core::auth::mfa_policy::Method;
use warden_core::auth::sign_in;
use warden_core::auth::webauthn::{CEREMONY_LIFETIME, Ceremony, CeremonyState, PublicKeyCredential};
use warden_core::commands::account::{self, FailureReason as LoginFailure, LoginSucceeded, Status, identifier_key};
use warden_core::commands::mfa;
use warden_core::commands::session::Level;
use warden_core::event::now_micros;
use warden_projections::projection::read;

use super::issued::{self, Issued};
use super::new_id;
use super::passkeys::{Challenge, Unopened, challenge, check_assertion, open, options_json, relying_party};
use super::{Lost, commit, commit_race, read as state_of, throttle};
use crate::error::{ApiError, Code};
use crate::state::AppState;
use crate::web::Client;

/// Starts a sign-in with a passkey alone, for the account of `email`. An
/// unknown account, or one without passkeys, gets options shaped like a
/// real one's (and is refused at the end), so the answer tells nothing.
pub async fn start_sign_in(state: &AppState, email: &str) -> Result<Challenge, ApiError> {
    let party = relying_party(state)?;
    check_email_length(email)?;
    let user = read(&state.models.accounts).user_by_email(email).cloned();
    let passkeys: Vec<_> = user
        .as_ref()
        .map(|user| read(&state.models.mfa).factors(&user.id).passkeys)
        .unwrap_or_default()
        .into_iter()
        .map(|passkey| passkey.passkey)
        .collect();
    let (options, ceremony_state) = if passkeys.is_empty() {
        let seed = blake3::keyed_hash(&state.passwords.identifier_key, email.trim().to_lowercase().as_bytes());
        let options = party.decoy_challenge(seed.as_bytes());
        (options_json(options)?, CeremonyState::Decoy)
    } else {
        let (options, authentication) = party
            .webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(|_| ApiError::internal("passkey authentication could not start"))?;
        (options_json(options)?, CeremonyState::Authentication(authentication))
    };
    challenge(
        state,
        Ceremony {
            id: new_id(),
            user: user
                .map(|user| user.id)
                .filter(|_| !matches!(ceremony_state, CeremonyState::Decoy)),
            session: None,
            expires_at: Utc::now() + CEREMONY_LIFETIME,
            state: ceremony_state,
        },
        options,
    )
    .await
}

/// Finishes a passkey sign-in: a full session at `aal2` (the passkey
/// verified its user), or the password sign-in's refusals. A ceremony or
/// an answer that is not one (forged, malformed, of another sign-in) is a
/// failed sign-in like a wrong passkey.
pub async fn finish_sign_in(
    state: &AppState,
    client: &Client,
    email: &str,
    ceremony: &str,
    credential: &serde_json::Value,
) -> Result<Issued, ApiError> {
    check_email_length(email)?;
    let identifier = identifier_key(&state.passwords.identifier_key, email);
    let anonymous = client.anonymous();
    let user = read(&state.models.accounts).user_by_email(email).cloned();
    let _attempt = throttle::sign_in(
        state,
        client,
        &identifier,
        user.as_ref().map(|user| user.id.as_str()),
        "passkey",
    )
    .await?;
    // An expired ceremony says so (the user starts again); any other
    // that does not open is a failed sign-in.
    let opened = match open(state, ceremony, None).await {
        Err(Unopened::Expired) => return Err(Unopened::Expired.into()),
        opened => opened.ok(),
    };
    let parsed = serde_json::from_value::<PublicKeyCredential>(credential.clone()).ok();
    let fail = |reason: LoginFailure, user: Option<String>| {
        let identifier = identifier.clone();
        let anonymous = anonymous.clone();
        async move {
            let event = sign_in::failed(&anonymous, user.as_deref(), &identifier, reason, "passkey");
            commit(state, vec![event]).await?;
            Err::<Issued, ApiError>(invalid_passkey())
        }
    };
    let (Some(ceremony), Some(credential)) = (opened, parsed) else {
        let reason = if user.is_some() {
            LoginFailure::InvalidPasskey
        } else {
            LoginFailure::UnknownAccount
        };
        return fail(reason, user.map(|user| user.id)).await;
    };
    let Some(user) = user.filter(|user| ceremony.user.as_deref() == Some(user.id.as_str())) else {
        return fail(LoginFailure::UnknownAccount, None).await;
    };
    let verified = check_assertion(state, &ceremony, &credential, &user.id, "")?;
    let Some(mut verified) = verified else {
        return fail(LoginFailure::InvalidPasskey, Some(user.id.clone())).await;
    };
    if user.status != Status::Active {
        let reason = if user.status == Status::Disabled {
            LoginFailure::Disabled
        } else {
            LoginFailure::Invited
        };
        let event = sign_in::failed(&anonymous, Some(&user.id), &identifier, reason, "passkey");
        commit(state, vec![event]).await?;
        return Err(ApiError::forbidden_code(
            Code::AccountDisabled,
            "this account is disabled",
        ));
    }
    let factors = read(&state.models.mfa).factors(&user.id);
    let context = client.as_user(&user.id, &user.org);
    // A passkey proves two factors: only a policy that disallows passkey
    // sign-in stops it.
    let account = state_of::account(&user);
    let rules = state_of::org_rules(state, &user.org);
    let enrolled = state_of::enrolled(&factors);
    sign_in::after_first_factor(&account, &rules, &enrolled, Method::Passkey, true, now_micros())?;
    let (drawn, opening) = super::sign_in::open(state, &client.caller(), &account, (Level::Aal2, &["passkey"]), None);
    verified.session = drawn.session.id.clone();
    let mut events = vec![mfa::verified(&context, factors.version, &verified)];
    events.extend(opening);
    events.push(account::login_succeeded(
        &context,
        &LoginSucceeded {
            user: user.id.clone(),
            method: "passkey".into(),
            session: drawn.session.id.clone(),
            identifier: identifier.clone(),
            second_factor_pending: false,
        },
    ));
    match commit_race(state, events).await? {
        Ok(sealed) => issued::opened_in(drawn, &sealed, None),
        // Another request spent this user's factors or this ceremony
        // meanwhile: a replay.
        Err(Lost::Conflict | Lost::Taken) => fail(LoginFailure::InvalidPasskey, Some(user.id.clone())).await,
    }
}

/// Emails are at most 320 characters (RFC 5321's limits), counted as the
/// OpenAPI document's `maxLength` counts them: in characters, not bytes.
fn check_email_length(email: &str) -> Result<(), ApiError> {
    if email.chars().count() > 320 {
        return Err(ApiError::bad_request("the email is longer than 320 characters"));
    }
    Ok(())
}

fn invalid_passkey() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::UNAUTHORIZED,
        Code::InvalidCredentials,
        "the passkey was not accepted for this account",
    )
}

#[cfg(test)]
mod email_length_tests {
    use super::check_email_length;

    /// As the OpenAPI document's `maxLength`: characters, not bytes (the
    /// fuzzer found 300 characters of 2-byte letters refused).
    #[test]
    fn the_email_limit_counts_characters() {
        assert!(check_email_length(&"é".repeat(320)).is_ok());
        assert!(check_email_length(&"é".repeat(321)).is_err());
        assert!(check_email_length(&"a".repeat(321)).is_err());
    }
}
