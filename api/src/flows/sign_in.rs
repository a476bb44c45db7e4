//! Signing in with a password, and opening the session of a sign-in that
//! was decided (`warden_core::auth::sign_in`).
//!
//! An unknown account, a wrong password and an invited account without a
//! password get the same answer after the same work (a data-key fetch, a
//! decryption, an Argon2id verification and one appended event), so
//! neither the answer nor its timing tells whether an account exists.

use warden_core::NewEvent;
use warden_core::auth::password::{Password, Verification};
use warden_core::auth::sign_in::{self, Opening, password as decision};
use warden_core::commands::Caller;
use warden_core::commands::account::{PasswordReason, Status, identifier_key};
use warden_core::commands::session::{Level, Pending};
use warden_core::event::now_micros;
use warden_projections::projection::read;

use super::issued::{self, Drawn, Issued};
use super::{commit_race, password, read as state_of, refused, throttle};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::Client;

/// Signs in with email and password.
pub async fn with_password(
    state: &AppState,
    client: &Client,
    email: &str,
    typed: &Password,
) -> Result<Issued, ApiError> {
    let identifier = identifier_key(&state.passwords.identifier_key, email);
    let user = read(&state.models.accounts).user_by_email(email).cloned();
    let user_id = user.as_ref().map(|user| user.id.as_str());
    let _attempt = throttle::sign_in(state, client, &identifier, user_id, "password").await?;
    let started = std::time::Instant::now();
    let verification = password::check(state, user.as_ref(), typed).await?;
    let caller = client.caller();
    let account = user.as_ref().map(state_of::account);
    let (rules, enrolled) = match &user {
        Some(user) => (
            state_of::org_rules(state, &user.org),
            state_of::enrolled(&state_of::factors(state, &user.id)),
        ),
        None => Default::default(),
    };
    let device = state_of::device(state, user_id.unwrap_or_default(), &caller);
    let rehashed = match (&user, verification) {
        (Some(user), Verification::Valid { rehash: true }) if user.status == Status::Active => {
            Some(password::sealed(state, &user.id, typed, PasswordReason::Rehash).await?)
        }
        _ => None,
    };
    let drawn = Drawn::fresh();
    let decide = |rehashed| {
        decision::decide(
            &decision::State {
                account: account.as_ref(),
                verification,
                rules: &rules,
                enrolled: &enrolled,
                device: &device,
            },
            &decision::Command {
                caller: &caller,
                identifier: &identifier,
                session: &drawn.session,
                rehashed,
            },
            now_micros(),
        )
    };
    let rehashing = rehashed.is_some();
    match decide(rehashed) {
        Ok(signed_in) if rehashing => {
            // The rehash is decided on the account's version. A concurrent
            // sign-in that rehashed first (or read models behind the log)
            // makes it conflict: the sign-in stands without it, and the
            // next one rehashes if the stored hash still asks for it.
            match commit_race(state, signed_in.events).await? {
                Ok(sealed) => issued::opened_in(drawn, &sealed, signed_in.enrolment_due),
                Err(_) => match decide(None) {
                    Ok(signed_in) => issued::opened(state, drawn, signed_in.events, signed_in.enrolment_due).await,
                    Err(refusal) => Err(refused(state, refusal).await),
                },
            }
        }
        Ok(signed_in) => issued::opened(state, drawn, signed_in.events, signed_in.enrolment_due).await,
        Err(refusal) => {
            // Every recorded refusal takes what the slowest hash takes: the
            // answer time tells no account (imported, unknown, disabled)
            // from another.
            if !refusal.events.is_empty() {
                let unwrap = state.data_keys.typical_unwrap();
                state.passwords.hashing.refusal_timing().pad(started, unwrap).await;
            }
            Err(refused(state, refusal).await)
        }
    }
}

/// A session for `user`, after a sign-in decided elsewhere (setup, an
/// invitation, a passkey): its token, drawn, and the events that open it.
pub fn open(
    state: &AppState,
    caller: &Caller,
    account: &sign_in::Account,
    (level, methods): (Level, &[&str]),
    pending: Option<Pending>,
) -> (Drawn, Vec<NewEvent>) {
    let drawn = Drawn::fresh();
    let device = state_of::device(state, &account.id, caller);
    let events = sign_in::open(
        caller,
        Opening {
            account,
            session: &drawn.session,
            level,
            methods,
            pending,
            policy: state_of::session_policy(state, &account.org),
            device: &device,
        },
        now_micros(),
    );
    (drawn, events)
}
