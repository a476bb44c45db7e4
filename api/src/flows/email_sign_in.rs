//! Signing in with a code sent by email (decision 0028): `start` draws a
//! code for an address and queues the email; `finish` checks a typed code
//! and opens a session through the org's MFA policy, like every other
//! first factor. The rules are `warden_core::auth::email_code`.
//!
//! No enumeration: every well-formed address gets the same answer at the
//! same time. The answer is decided from the read models alone (the
//! limits), before any work that differs between an address with an
//! account and one without; the code is then recorded (and, for an
//! account, its email queued) after the answer, in a task of its own.
//! Requests still being recorded count against the limits, so a burst
//! cannot slip between the answer and the record.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use warden_core::auth::email_code::{self, Finish, Refused, Start};
use warden_core::auth::mfa_policy::Method;
use warden_core::auth::sign_in;
use warden_core::commands::account::{FailureReason, Status, identifier_key};
use warden_core::commands::email::{self, CodeIssued, CodeRefusal, CodeRefused, CodeUsed};
use warden_core::commands::session::Level;
use warden_core::event::now_micros;
use warden_projections::accounts::User;
use warden_projections::projection::read;
use warden_projections::throttle::ip_key;

use super::in_flight::{InFlight, after_the_answer};
use super::issued::{self, Issued};
use super::{Lost, commit_race, new_id, read as state_of, throttle};
use crate::config::email::EmailCodeConfig;
use crate::email::{Message, Recipient};
use crate::error::{ApiError, Code};
use crate::state::AppState;
use crate::web::Client;

/// How many times a decision is taken again after losing the race to
/// its append (another try of the same address appended first).
const RACES: usize = 3;

/// What the email-code flows share: the settings, the key of the codes'
/// hashes, and the codes being recorded right now.
pub struct EmailCodes {
    pub config: EmailCodeConfig,
    /// Whether a mail server is configured: without one, no code can be
    /// sent and `start` answers 503.
    pub available: bool,
    key: [u8; 32],
    in_flight: InFlight,
}

impl EmailCodes {
    /// `identifier_key` is the sign-in identifier key; the codes' key is
    /// derived from it.
    pub fn new(config: EmailCodeConfig, available: bool, identifier_key: &[u8; 32]) -> Self {
        EmailCodes {
            config,
            available,
            key: blake3::derive_key("warden/email-code/v1", identifier_key),
            in_flight: InFlight::default(),
        }
    }
}

/// At most 320 characters (RFC 5321), with an `@` between a local part
/// and a domain that has a dot, no spaces and no control characters (the
/// OpenAPI document's `pattern`): anything else is a typing error,
/// answered 400.
pub fn check_address(email: &str) -> Result<(), ApiError> {
    let well_formed = email.chars().count() <= 320
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email
            .rsplit_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.starts_with('.'));
    if well_formed {
        Ok(())
    } else {
        Err(ApiError::bad_request("email: not an email address"))
    }
}

/// The account a code for `email` is sent to: an active user of an org
/// that offers sign-in by email code. Anyone else's address is treated as
/// unknown (a code is recorded, never sent).
fn recipient_of(state: &AppState, email: &str) -> Option<User> {
    let user = read(&state.models.accounts).user_by_email(email).cloned()?;
    let offered = state_of::org_rules(state, &user.org)
        .mfa
        .rule(Method::EmailCode)
        .allowed;
    (user.status == Status::Active && offered).then_some(user)
}

/// Asks for a code for `email`: `Ok` (the code's id, which the sign-in
/// page keeps in a cookie to recognise the email's link) is the same for
/// every well-formed address; `Err` is a malformed address, the limits
/// (429 with `Retry-After`, for known and unknown addresses alike), or no
/// mail server (409).
pub async fn start(state: &AppState, client: &Client, email: &str) -> Result<String, ApiError> {
    check_address(email)?;
    let codes = &state.email_codes;
    if !codes.available {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            Code::EmailCodesUnavailable,
            "sign-in by email code needs a mail server (smtp_url), and this Warden has none",
        ));
    }
    let address_ref = identifier_key(&state.passwords.identifier_key, email);
    let network = client.ip.as_deref().map(ip_key);
    let now = now_micros();
    let (reservation, expires_at) = {
        // Decided and reserved under one lock: two requests at once see
        // each other.
        let in_flight = codes.in_flight.lock();
        let model = read(&state.models.email_codes);
        let address_key = format!("address:{address_ref}");
        let client_key = network.as_ref().map(|net| format!("client:{net}"));
        let mut to_address = model.address(&address_ref).codes;
        to_address.extend(in_flight.times(&address_key).into_iter().map(|at| email_code::Issued {
            id: String::new(),
            hash: String::new(),
            issued_at: at,
            expires_at: at,
            attempts: 0,
            used: false,
        }));
        let mut by_client = network.as_deref().map(|net| model.client(net)).unwrap_or_default();
        if let Some(key) = &client_key {
            by_client.extend(in_flight.times(key));
        }
        drop(model);
        match email_code::start(&to_address, &by_client, now, &codes.config.policy) {
            Start::Limited { retry_after } => {
                return Err(ApiError::too_many_requests(
                    "too many sign-in codes were asked for this address or from this network; ask again later",
                    retry_after,
                ));
            }
            Start::Issue { expires_at } => {
                let keys = std::iter::once(address_key).chain(client_key).collect();
                (in_flight.reserve(keys, now), expires_at)
            }
        }
    };
    let id = new_id();
    let draft = Draft {
        id: id.clone(),
        // Whom it goes to, as of the request (a lookup in memory, the same
        // for every address).
        user: recipient_of(state, email),
        address_ref,
        network,
        expires_at,
    };
    let record = {
        let state = state.clone();
        let client = client.clone();
        async move { issue(&state, &client, draft).await }
    };
    after_the_answer(reservation, client.request_id.clone(), "a sign-in code", record);
    Ok(id)
}

/// A code decided on, to draw and record.
struct Draft {
    id: String,
    user: Option<User>,
    address_ref: String,
    network: Option<String>,
    expires_at: DateTime<Utc>,
}

/// Draws the code, and appends it (with its email, for an account).
async fn issue(state: &AppState, client: &Client, draft: Draft) -> Result<(), ApiError> {
    let Draft {
        id,
        user,
        address_ref,
        network,
        expires_at,
    } = draft;
    let address_ref = address_ref.as_str();
    let codes = &state.email_codes;
    let code = email_code::generate(codes.config.format);
    let hash = email_code::hash(&codes.key, &id, address_ref, &code);
    let context = client.anonymous();
    let mut events = Vec::new();
    let message = match &user {
        Some(user) => {
            let link = format!(
                "{}/sign-in/email/code?id={id}&code={}",
                state.web.public_url.trim_end_matches('/'),
                code.as_str()
            );
            let (message, queued) = crate::email::queue(
                state,
                &context,
                Recipient {
                    address: &user.email,
                    user: Some(&user.id),
                    org: Some(&user.org),
                },
                Message::SignInCode {
                    code: &code,
                    link: &link,
                },
            )
            .await?;
            events.push(queued);
            Some(message)
        }
        None => None,
    };
    let issued = CodeIssued {
        code: id,
        address_ref: address_ref.to_string(),
        hash,
        expires_at,
        client: network,
        user: user.as_ref().map(|user| user.id.clone()),
        org: user.as_ref().map(|user| user.org.clone()),
        message,
    };
    events.insert(0, email::code_issued(&context, &issued));
    super::commit(state, events).await?;
    Ok(())
}

/// Finishes a sign-in with the code typed for `email`: a session (full,
/// or partial when the policy asks for a second factor), or why not.
pub async fn finish(state: &AppState, client: &Client, email: &str, typed: &str) -> Result<Issued, ApiError> {
    check_address(email)?;
    if typed.chars().count() > 64 {
        return Err(ApiError::bad_request("code: at most 64 characters"));
    }
    let codes = &state.email_codes;
    let address_ref = identifier_key(&state.passwords.identifier_key, email);
    let user = recipient_of(state, email);
    let user_id = user.as_ref().map(|user| user.id.clone());
    let _attempt = throttle::sign_in(state, client, &address_ref, user_id.as_deref(), "email_code").await?;
    let typed = email_code::normalize(codes.config.format, typed);
    let anonymous = client.anonymous();
    for _ in 0..RACES {
        let now = now_micros();
        let address = read(&state.models.email_codes).address(&address_ref);
        let newest = address.newest();
        let presented = match (newest, &typed) {
            (Some(newest), Some(typed)) => Some(email_code::hash(&codes.key, &newest.id, &address_ref, typed)),
            _ => None,
        };
        let (code, reason) = match email_code::finish(newest, presented.as_deref(), now, &codes.config.policy) {
            Finish::Accepted { code } => match &user {
                Some(user) => {
                    let (events, drawn) = accepted(state, client, user, &address_ref, &code, address.version, now)?;
                    match commit_race(state, events).await? {
                        Ok(sealed) => return issued::opened_in(drawn, &sealed, None),
                        Err(Lost::Conflict | Lost::Taken) => continue,
                    }
                }
                // A code recorded for an address without an account was
                // never sent: typing it is a guess, refused as a wrong one.
                None => match email_code::finish(newest, None, now, &codes.config.policy) {
                    Finish::Refused { reason, code } => (code, reason),
                    Finish::Accepted { .. } => (Some(code), Refused::TooManyAttempts),
                },
            },
            Finish::Refused { reason, code } => (code, reason),
        };
        let (refused, error) = refusal(&address_ref, code, reason);
        let events = vec![
            email::code_refused(&anonymous, &refused, address.version),
            sign_in::failed(
                &anonymous,
                user_id.as_deref(),
                &address_ref,
                FailureReason::InvalidCode,
                "email_code",
            ),
        ];
        match commit_race(state, events).await? {
            Ok(_) => return Err(error),
            Err(Lost::Conflict | Lost::Taken) => continue,
        }
    }
    Err(ApiError::changed_meanwhile())
}

/// The event and the answer of a refused code. Why is told (it helps the
/// person and tells an attacker nothing the mailbox's owner would not
/// be told).
fn refusal(address_ref: &str, code: Option<String>, reason: Refused) -> (CodeRefused, ApiError) {
    let unauthorized = |code, message: String| ApiError::new(StatusCode::UNAUTHORIZED, code, message);
    let (reason, counted, error) = match reason {
        Refused::NoCode => (
            CodeRefusal::NoCode,
            false,
            unauthorized(
                Code::InvalidCode,
                "that code is not right; check the email, or ask for a new code".into(),
            ),
        ),
        Refused::Wrong { attempts_left } => (
            CodeRefusal::Wrong,
            true,
            unauthorized(
                Code::InvalidCode,
                format!(
                    "that code is not right; {attempts_left} {} left",
                    if attempts_left == 1 { "try" } else { "tries" }
                ),
            ),
        ),
        Refused::TooManyAttempts => (
            CodeRefusal::TooManyAttempts,
            true,
            unauthorized(
                Code::TooManyAttempts,
                "this code was tried too many times; ask for a new one".into(),
            ),
        ),
        Refused::Expired => (
            CodeRefusal::Expired,
            false,
            unauthorized(Code::CodeExpired, "this code has expired; ask for a new one".into()),
        ),
        Refused::Used => (
            CodeRefusal::Used,
            false,
            unauthorized(Code::CodeUsed, "this code was used already; ask for a new one".into()),
        ),
    };
    let refused = CodeRefused {
        code,
        address_ref: address_ref.to_string(),
        reason,
        counted,
    };
    (refused, error)
}

/// The events of a sign-in by an accepted code: the code spent, the
/// session opened as the MFA policy decides, `login.succeeded`.
fn accepted(
    state: &AppState,
    client: &Client,
    user: &User,
    address_ref: &str,
    code: &str,
    address_version: u64,
    now: DateTime<Utc>,
) -> Result<(Vec<warden_core::NewEvent>, issued::Drawn), ApiError> {
    let account = state_of::account(user);
    let rules = state_of::org_rules(state, &user.org);
    let enrolled = state_of::enrolled(&state_of::factors(state, &user.id));
    let after = sign_in::after_first_factor(&account, &rules, &enrolled, Method::EmailCode, false, now)?;
    let caller = client.caller();
    let (drawn, opening) = super::sign_in::open(
        state,
        &caller,
        &account,
        (Level::Aal1, &["email_code"]),
        after.pending.clone(),
    );
    let mut events = vec![email::code_used(
        &caller.as_user(&user.id, &user.org),
        &CodeUsed {
            code: code.to_string(),
            address_ref: address_ref.to_string(),
            user: user.id.clone(),
            session: drawn.session.id.clone(),
        },
        address_version,
    )];
    events.extend(opening);
    let opened = sign_in::SignedIn {
        events: Vec::new(),
        session: drawn.session.id.clone(),
        pending: after.pending,
        enrolment_due: after.enrolment_due,
    };
    events.push(sign_in::succeeded(
        &caller,
        &account,
        "email_code",
        address_ref,
        &opened,
    ));
    Ok((events, drawn))
}
