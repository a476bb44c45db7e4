//! Changing one's sign-in address (decision 0028): the user asks (after a
//! recent strong authentication), a link goes to the new address, and
//! opening it and confirming moves the address. Until then the old
//! address is the account's. The rules are
//! `warden_core::auth::email_change`.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use warden_core::auth::email_change::{self, Account, Pending, RequestRefused, Verify};
use warden_core::auth::recovery::Refused;
use warden_core::auth::tokens::{Token, TokenKind};
use warden_core::commands::Context;
use warden_core::commands::email_change::{self as events, ChangeRequested};
use warden_core::event::now_micros;
use warden_projections::accounts::User;
use warden_projections::projection::read;

use super::{Lost, commit, commit_race, new_id, refused};
use crate::email::{Message, Recipient};
use crate::error::{ApiError, Code};
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

/// How many times a verification is decided again after losing the race
/// to its append.
const RACES: usize = 3;

/// A change asked for: its id, the new address, and when its link stops
/// working.
pub struct Requested {
    pub change: String,
    pub email: String,
    pub expires_at: DateTime<Utc>,
}

/// The page a verification link opens.
pub fn link_url(public_url: &str, token: &Token) -> String {
    format!(
        "{}/verify-email?token={}",
        public_url.trim_end_matches('/'),
        token.encode()
    )
}

/// Asks to sign in with `typed` from now on: a link to verify it is
/// mailed to it. Whether another account uses the address is not told
/// here (only the new mailbox's reader learns it, on verifying).
pub async fn request(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    typed: &str,
) -> Result<Requested, ApiError> {
    let user = &current.user;
    let email = email_change::request(&user.email, typed).map_err(|refused| match refused {
        RequestRefused::Invalid => ApiError::bad_request("email: not an email address"),
        RequestRefused::Unchanged => ApiError::new(
            StatusCode::CONFLICT,
            Code::Conflict,
            "you sign in with this address already",
        ),
    })?;
    if !state.email_codes.available {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            Code::EmailUnavailable,
            "a new address is verified by email, and this Warden has no mail server (smtp_url)",
        ));
    }
    let context = client.as_user(&user.id, &user.org);
    let change = new_id();
    let token = Token::generate();
    let (message, queued) = crate::email::queue(
        state,
        &context,
        Recipient {
            address: &email,
            user: Some(&user.id),
            org: Some(&user.org),
        },
        Message::VerifyEmail {
            link: &link_url(&state.web.public_url, &token),
        },
    )
    .await?;
    let expires_at = email_change::expires_at(now_micros());
    let requested = ChangeRequested {
        change: change.clone(),
        user: user.id.clone(),
        org: user.org.clone(),
        email: email.clone(),
        token_hash: token.hash(TokenKind::EmailVerification),
        expires_at,
        message,
    };
    commit(state, vec![events::requested(&context, &requested), queued]).await?;
    Ok(Requested {
        change,
        email,
        expires_at,
    })
}

/// What a verification by `token` is decided on, read from the models.
struct Read {
    found: Option<(Pending, u64)>,
    newest: Option<String>,
    user: Option<User>,
}

fn read_change(state: &AppState, token: &str) -> Read {
    let changes = read(&state.models.email_changes);
    let found = Token::parse(token).and_then(|token| changes.by_token(&token.hash(TokenKind::EmailVerification)));
    let newest = found
        .as_ref()
        .and_then(|(pending, _)| changes.newest_of(&pending.link.user))
        .map(str::to_string);
    drop(changes);
    let user = found
        .as_ref()
        .and_then(|(pending, _)| read(&state.models.accounts).user(&pending.link.user).cloned());
    Read { found, newest, user }
}

impl Read {
    fn verify(&self) -> Verify<'_> {
        Verify {
            found: self.found.as_ref().map(|(pending, version)| (pending, *version)),
            newest: self.newest.as_deref(),
            account: self.user.as_ref().map(|user| Account {
                status: user.status,
                version: user.version,
                email: &user.email,
            }),
        }
    }

    fn context(&self, client: &Client) -> Context {
        match &self.user {
            Some(user) => client.as_user(&user.id, &user.org),
            None => client.anonymous(),
        }
    }
}

/// Whether `token` verifies an address (for the page that asks to
/// confirm): the new address, or why not. Records nothing: opening the
/// link changes nothing.
pub fn look_up(state: &AppState, client: &Client, token: &str) -> Result<String, ApiError> {
    let read = read_change(state, token);
    email_change::check(&read.context(client), &read.verify(), now_micros()).map_err(|refusal| refusal.reason)?;
    read.found
        .map(|(pending, _)| pending.email)
        .ok_or_else(|| ApiError::internal("a verified change is missing"))
}

/// Verifies the address of `token`'s change and moves the account to it:
/// the new address.
pub async fn verify(state: &AppState, client: &Client, token: &str) -> Result<String, ApiError> {
    for _ in 0..RACES {
        let read = read_change(state, token);
        let context = read.context(client);
        let events = match email_change::verify(&context, &read.verify(), now_micros()) {
            Ok(events) => events,
            Err(refusal) => return Err(refused(state, refusal).await),
        };
        match commit_race(state, events).await? {
            Ok(_) => {
                return read
                    .found
                    .map(|(pending, _)| pending.email)
                    .ok_or_else(|| ApiError::internal("a verified change is missing"));
            }
            Err(Lost::Taken) => {
                let pending = read.found.as_ref().map(|(pending, _)| pending);
                return Err(refused(state, email_change::refusal(&context, pending, Refused::Taken)).await);
            }
            Err(Lost::Conflict) => continue,
        }
    }
    Err(ApiError::changed_meanwhile())
}
