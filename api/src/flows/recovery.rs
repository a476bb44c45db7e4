//! Account recovery (decision 0028): a password-reset link, asked for by
//! the user by email, sent by an admin, or printed by an operator; and
//! using it. The rules are `warden_core::auth::recovery`.
//!
//! Asking by email answers alike for every well-formed address, as
//! sign-in codes do (`email_sign_in`): the answer is decided from the
//! read models alone (the hourly limits) and the link is made, mailed and
//! recorded after it, in a task of its own. Using a link sets the new
//! password and ends every session of the user; it signs nobody in.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use warden_core::NewEvent;
use warden_core::auth::password::Password;
use warden_core::auth::recovery::{self, Account, Issuer, Reset};
use warden_core::auth::tokens::{Token, TokenKind};
use warden_core::auth::users::{self as decision, Factors};
use warden_core::commands::account::{PasswordReason, Status, identifier_key};
use warden_core::commands::recovery::{self as events, ResetIssued, ResetRequested};
use warden_core::commands::{Context, payload};
use warden_core::event::now_micros;
use warden_core::{Actor, ActorKind};
use warden_projections::accounts::User;
use warden_projections::mfa::UserFactors;
use warden_projections::password_resets::Found;
use warden_projections::projection::read;
use warden_projections::throttle::ip_key;

use super::email_sign_in::check_address;
use super::in_flight::after_the_answer;
use super::users::{as_member, live_sessions, manager, member};
use super::{Lost, check_new_password, commit, commit_race, new_id, password, read as state_of, refused};
use crate::email::{Message, Recipient};
use crate::error::{ApiError, Code};
use crate::state::AppState;
use crate::web::{Client, Principal};

/// How many times a reset is decided again after losing the race to its
/// append (the same link submitted twice at once, the user changed).
const RACES: usize = 3;

/// Without a mail server no link can be sent.
fn mail_server(state: &AppState) -> Result<(), ApiError> {
    if state.email_codes.available {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::CONFLICT,
            Code::EmailUnavailable,
            "a reset link is sent by email, and this Warden has no mail server (smtp_url)",
        ))
    }
}

/// Asks for a reset link for `email`: the same `Ok` for every well-formed
/// address; `Err` is a malformed address, the hourly limits (429 with
/// `Retry-After`, for known and unknown addresses alike), or no mail
/// server (409).
pub async fn start(state: &AppState, client: &Client, email: &str) -> Result<(), ApiError> {
    check_address(email)?;
    mail_server(state)?;
    let address_ref = identifier_key(&state.passwords.identifier_key, email);
    let network = client.ip.as_deref().map(ip_key);
    let now = now_micros();
    let reservation = {
        // Decided and reserved under one lock: two requests at once see
        // each other.
        let in_flight = state.reset_requests.lock();
        let model = read(&state.models.password_resets);
        let address_key = format!("address:{address_ref}");
        let client_key = network.as_ref().map(|net| format!("client:{net}"));
        let mut to_address = model.address(&address_ref);
        to_address.extend(in_flight.times(&address_key));
        let mut by_client = network.as_deref().map(|net| model.client(net)).unwrap_or_default();
        if let Some(key) = &client_key {
            by_client.extend(in_flight.times(key));
        }
        drop(model);
        if let Err(retry_after) = recovery::request(&to_address, &by_client, now) {
            return Err(ApiError::too_many_requests(
                "too many reset links were asked for this address or from this network; ask again later",
                retry_after,
            ));
        }
        let keys = std::iter::once(address_key).chain(client_key).collect();
        in_flight.reserve(keys, now)
    };
    // Whom it goes to, as of the request (a lookup in memory, the same for
    // every address): an active account, or nobody.
    let user = read(&state.models.accounts)
        .user_by_email(email)
        .filter(|user| user.status == Status::Active)
        .cloned();
    let request = Request {
        address_ref,
        network,
        user,
    };
    let record = {
        let state = state.clone();
        let client = client.clone();
        async move { requested(&state, &client, request).await }
    };
    after_the_answer(reservation, client.request_id.clone(), "a reset link", record);
    Ok(())
}

/// A request decided on, to record (and, for an account, to send).
struct Request {
    address_ref: String,
    network: Option<String>,
    user: Option<User>,
}

async fn requested(state: &AppState, client: &Client, request: Request) -> Result<(), ApiError> {
    let context = client.anonymous();
    let (link, mut events) = match &request.user {
        Some(user) => {
            let origin = Origin {
                issuer: Issuer::User,
                reason: None,
                os_user: None,
            };
            let (link, events) = mailed_link(state, &context, user, origin).await?;
            (Some(link), events)
        }
        None => (None, Vec::new()),
    };
    let requested = ResetRequested {
        request: new_id(),
        address_ref: request.address_ref,
        client: request.network,
        link,
    };
    events.insert(0, events::requested(&context, &requested));
    commit(state, events).await?;
    Ok(())
}

/// Who had a link made, and why.
struct Origin {
    issuer: Issuer,
    reason: Option<String>,
    os_user: Option<String>,
}

/// `password_reset.issued` for `token`, a new link of `user`.
fn issued(
    context: &Context,
    user: &User,
    link: &str,
    token: &Token,
    message: Option<String>,
    origin: Origin,
) -> NewEvent {
    events::issued(
        context,
        &ResetIssued {
            link: link.to_string(),
            user: user.id.clone(),
            org: user.org.clone(),
            token_hash: token.hash(TokenKind::PasswordReset),
            expires_at: recovery::expires_at(now_micros()),
            issuer: origin.issuer,
            message,
            reason: origin.reason,
            os_user: origin.os_user,
        },
    )
}

/// The page a link opens, on the Warden at `public_url`.
pub fn link_url(public_url: &str, token: &Token) -> String {
    format!(
        "{}/reset-password?token={}",
        public_url.trim_end_matches('/'),
        token.encode()
    )
}

/// A link for `user` and the email that carries it: the link's id, and
/// the events (`password_reset.issued`, `email.queued`).
async fn mailed_link(
    state: &AppState,
    context: &Context,
    user: &User,
    origin: Origin,
) -> Result<(String, Vec<NewEvent>), ApiError> {
    let token = Token::generate();
    let link = new_id();
    let (message, queued) = crate::email::queue(
        state,
        context,
        Recipient {
            address: &user.email,
            user: Some(&user.id),
            org: Some(&user.org),
        },
        Message::PasswordReset {
            link: &link_url(&state.web.public_url, &token),
        },
    )
    .await?;
    let issued = issued(context, user, &link, &token, Some(message), origin);
    Ok((link, vec![issued, queued]))
}

fn reason(text: &str) -> Result<String, ApiError> {
    recovery::reason(text).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            Code::ReasonRequired,
            "reason: say why, in 3 to 200 characters without control characters",
        )
    })
}

/// A link an admin sent: its id and when it stops working.
pub struct Sent {
    pub link: String,
    pub expires_at: DateTime<Utc>,
}

/// An owner or admin sends a user of their org a reset link (after a
/// recent strong authentication, with a reason). The link goes to the
/// user's address only: the admin never sees it.
pub async fn send_by_admin(
    state: &AppState,
    principal: &Principal,
    client: &Client,
    id: &str,
    why: &str,
) -> Result<Sent, ApiError> {
    let user = member(state, principal.org(), id)?;
    let why = reason(why)?;
    let context = principal.context(client);
    decision::recover(&manager(state, principal, &context), &as_member(&user, &[]))?;
    mail_server(state)?;
    let origin = Origin {
        issuer: Issuer::Admin,
        reason: Some(why),
        os_user: None,
    };
    let (link, events) = mailed_link(state, &context, &user, origin).await?;
    let sealed = commit(state, events).await?;
    let expires_at = sealed
        .first()
        .and_then(payload::<ResetIssued>)
        .map(|issued| issued.expires_at)
        .ok_or_else(|| ApiError::internal("the reset link's event is missing from the append"))?;
    Ok(Sent { link, expires_at })
}

/// What a reset of a user's second factors removed.
pub struct FactorsRemoved {
    pub totp: bool,
    pub passkeys: usize,
    pub backup_codes: bool,
    pub sessions_revoked: usize,
}

/// A user's factors as the decision reads them: the passkeys' credential
/// ids, and the rest.
pub fn factors_of(factors: &UserFactors) -> (Vec<String>, u64, bool, bool) {
    (
        factors
            .passkeys
            .iter()
            .map(|passkey| passkey.credential.clone())
            .collect(),
        factors.version,
        factors.totp.is_some() || factors.totp_pending.is_some(),
        factors.backup_codes.is_some(),
    )
}

/// An owner or admin removes every second factor of a user of their org
/// who lost them (after a recent strong authentication, with a reason);
/// the user's sessions end.
pub async fn reset_second_factors(
    state: &AppState,
    principal: &Principal,
    client: &Client,
    id: &str,
    why: &str,
) -> Result<FactorsRemoved, ApiError> {
    let user = member(state, principal.org(), id)?;
    let why = reason(why)?;
    let context = principal.context(client);
    let (passkeys, version, totp, backup_codes) = factors_of(&state_of::factors(state, &user.id));
    let factors = Factors {
        version,
        totp,
        passkeys: &passkeys,
        backup_codes,
    };
    let events = {
        let sessions = read(&state.models.sessions);
        let live = live_sessions(&sessions, &user.id);
        decision::reset_second_factors(
            &manager(state, principal, &context),
            &as_member(&user, &live),
            &factors,
            &why,
        )?
    };
    let sessions_revoked = events.len() - 1;
    commit(state, events).await?;
    Ok(FactorsRemoved {
        totp,
        passkeys: passkeys.len(),
        backup_codes,
        sessions_revoked,
    })
}

/// The break-glass link an operator prints (`warden users recover`): for
/// `user`, who must be active, made by the system for the OS user
/// `os_user`, with a reason. The event to append, and the token to show
/// once.
pub fn for_operator(user: &User, os_user: &str, why: &str) -> Result<(NewEvent, Token), String> {
    let why = recovery::reason(why).ok_or("--reason: say why, in 3 to 200 characters")?;
    if user.status != Status::Active {
        return Err(format!(
            "the user is {}: a reset link works for active users only",
            user.status.as_str()
        ));
    }
    let context = Context {
        actor: Actor::of_kind(ActorKind::System),
        request_id: new_id(),
    };
    let token = Token::generate();
    let origin = Origin {
        issuer: Issuer::Operator,
        reason: Some(why),
        os_user: Some(os_user.to_string()),
    };
    Ok((issued(&context, user, &new_id(), &token, None, origin), token))
}

/// What a reset by `token` is decided on, read from the models.
struct Read {
    found: Option<Found>,
    newest: Option<String>,
    user: Option<User>,
    sessions: Vec<String>,
}

fn read_reset(state: &AppState, token: &str) -> Read {
    let resets = read(&state.models.password_resets);
    let found = Token::parse(token).and_then(|token| resets.by_token(&token.hash(TokenKind::PasswordReset)));
    let newest = found
        .as_ref()
        .and_then(|found| resets.newest_of(&found.link.user))
        .map(str::to_string);
    drop(resets);
    let user = found
        .as_ref()
        .and_then(|found| read(&state.models.accounts).user(&found.link.user).cloned());
    let sessions = user
        .as_ref()
        .map(|user| {
            let sessions = read(&state.models.sessions);
            live_sessions(&sessions, &user.id)
                .into_iter()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Read {
        found,
        newest,
        user,
        sessions,
    }
}

impl Read {
    fn reset<'a>(&'a self, sessions: &'a [&'a str]) -> Reset<'a> {
        Reset {
            found: self.found.as_ref().map(|found| (&found.link, found.version)),
            newest: self.newest.as_deref(),
            account: self.user.as_ref().map(|user| Account {
                status: user.status,
                version: user.version,
                sessions,
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

/// Whether `token` opens a reset (for the page that asks for the new
/// password): the address of the link's user, or why not. Records
/// nothing: a mail scanner opening the link leaves no trace but its
/// request.
pub fn look_up(state: &AppState, client: &Client, token: &str) -> Result<String, ApiError> {
    let read = read_reset(state, token);
    let sessions: Vec<&str> = read.sessions.iter().map(String::as_str).collect();
    recovery::check(&read.context(client), &read.reset(&sessions), now_micros()).map_err(|refusal| refusal.reason)?;
    read.user
        .map(|user| user.email)
        .ok_or_else(|| ApiError::internal("a reset link's user is missing"))
}

/// Uses the link of `token` to set `new_password`: every session of the
/// user ends, nobody is signed in.
pub async fn finish(state: &AppState, client: &Client, token: &str, new_password: &Password) -> Result<(), ApiError> {
    let mut hashed = None;
    for _ in 0..RACES {
        let read = read_reset(state, token);
        let sessions: Vec<&str> = read.sessions.iter().map(String::as_str).collect();
        let reset = read.reset(&sessions);
        let context = read.context(client);
        let now = now_micros();
        if let Err(refusal) = recovery::check(&context, &reset, now) {
            return Err(refused(state, refusal).await);
        }
        let Some(user) = &read.user else {
            return Err(ApiError::internal("a reset link's user is missing"));
        };
        // Hashed once, after the link is known to be good.
        let set = match hashed.take() {
            Some(set) => set,
            None => {
                check_new_password(state, new_password, &[&user.email, &user.display_name])?;
                password::sealed(state, &user.id, new_password, PasswordReason::Reset).await?
            }
        };
        let events = match recovery::reset(&context, &reset, &set, now) {
            Ok(events) => events,
            Err(refusal) => return Err(refused(state, refusal).await),
        };
        hashed = Some(set);
        match commit_race(state, events).await? {
            Ok(_) => return Ok(()),
            Err(Lost::Conflict | Lost::Taken) => continue,
        }
    }
    Err(ApiError::changed_meanwhile())
}
