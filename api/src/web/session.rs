//! The session of a request.
//!
//! [`resolve`] runs before every handler: it reads the session cookie,
//! finds the session in memory (no database round trip), checks it is
//! still valid and its user active, records its use and, when the user's
//! privileges changed since its token was issued, gives it a new token.
//! Handlers take [`SignedIn`] to require a session.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use warden_core::auth::tokens::{SessionCookie, Token, TokenKind};
use warden_core::commands::account::{Role, Status};
use warden_core::commands::session::{self as commands, RotationReason, SessionRefreshed, SessionRotated};
use warden_projections::projection::read;
use warden_projections::sessions::Session;

use super::client::Client;
use super::cookie;
use crate::error::{ApiError, Code};
use crate::state::AppState;

/// Longest wait for this node's read models to reach the event that issued
/// a cookie's token (a session created on another node a moment ago). Only
/// a committed `seq` is waited for: a forged or foreign cookie's is not.
const CATCH_UP: Duration = Duration::from_secs(2);

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct CurrentSession {
    pub session: Arc<Session>,
    pub user: UserView,
    /// The token in use (after rotation, the new one): the CSRF token
    /// answers carry is derived from it.
    pub token: Token,
    /// The token the request presented: its CSRF token is the one the
    /// request may carry (a rotation in this very request does not make
    /// the client's token wrong).
    pub presented: Token,
}

#[derive(Debug, Clone)]
pub struct UserView {
    pub id: String,
    pub org: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    /// The zone the console shows them times in (`None`: UTC).
    pub time_zone: Option<String>,
}

impl CurrentSession {
    pub fn csrf_token(&self) -> String {
        self.token.csrf()
    }
}

/// Why a request's session cookie does not sign anyone in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionProblem {
    Malformed,
    /// Unknown, revoked or replaced by a newer token.
    Unknown,
    Expired,
    UserInactive,
}

impl SessionProblem {
    pub fn message(self) -> &'static str {
        match self {
            SessionProblem::Malformed => "the session cookie is malformed",
            SessionProblem::Unknown => "the session was signed out or revoked",
            SessionProblem::Expired => "the session expired",
            SessionProblem::UserInactive => "the account is disabled",
        }
    }
}

/// Middleware: resolves the session cookie of every request.
pub async fn resolve(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(raw) = cookie::read(request.headers(), state.web.cookie_name()).map(str::to_string) else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let client = Client::from_parts(&parts);
    request = Request::from_parts(parts, body);
    match authenticate(&state, &raw, &client).await {
        Ok((current, rotated)) => {
            let new_csrf = current.csrf_token();
            request.extensions_mut().insert(current);
            let mut response = next.run(request).await;
            if let Some((value, expires_at)) = rotated
                && !cookie::is_set(response.headers(), &state.web)
            {
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, cookie::issue(&state.web, &value, expires_at));
                // The new token's CSRF token, for clients that cache it.
                if let Ok(value) = axum::http::HeaderValue::from_str(&new_csrf) {
                    response.headers_mut().insert(super::csrf::HEADER, value);
                }
            }
            response
        }
        Err(problem) => {
            request.extensions_mut().insert(problem);
            let mut response = next.run(request).await;
            // An unknown token may have just been rotated by a concurrent
            // request, whose answer carries the new cookie: clearing it here
            // could sign the browser out. A revoked token is harmless.
            if problem != SessionProblem::Unknown && !cookie::is_set(response.headers(), &state.web) {
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, cookie::clear(&state.web));
            }
            response
        }
    }
}

/// A new cookie value and its expiry, when the token was rotated.
type Rotated = Option<(String, DateTime<Utc>)>;

async fn authenticate(
    state: &AppState,
    raw: &str,
    client: &Client,
) -> Result<(CurrentSession, Rotated), SessionProblem> {
    let cookie = SessionCookie::parse(raw).ok_or(SessionProblem::Malformed)?;
    let token_hash = cookie.token.hash(TokenKind::Session);
    let mut found = lookup(state, &token_hash);
    if found.is_none() {
        let applied = state.positions.applied();
        if cookie.seq > applied && state.ledger.is_committed(cookie.seq).await {
            state.positions.wait_for(cookie.seq, CATCH_UP).await;
            found = lookup(state, &token_hash);
        }
    }
    let (session, user, status, privileges_changed_at) = found.ok_or(SessionProblem::Unknown)?;
    let now = Utc::now();
    if !session.valid_at(now, None) {
        return Err(SessionProblem::Expired);
    }
    if status != Status::Active {
        return Err(SessionProblem::UserInactive);
    }
    let mut current = CurrentSession {
        session,
        user,
        presented: cookie.token.clone(),
        token: cookie.token,
    };
    if privileges_changed_at > current.session.token_issued_at {
        let rotated = rotate(state, &mut current, client).await;
        return Ok((current, rotated));
    }
    refresh_if_due(state, &current, client, now);
    Ok((current, None))
}

type Found = (Arc<Session>, UserView, Status, DateTime<Utc>);

fn lookup(state: &AppState, token_hash: &str) -> Option<Found> {
    let session = read(&state.models.sessions).by_token(token_hash)?.clone();
    let accounts = read(&state.models.accounts);
    let user = accounts.user(&session.user)?;
    let view = UserView {
        id: user.id.clone(),
        org: user.org.clone(),
        email: user.email.clone(),
        display_name: user.display_name.clone(),
        role: user.role,
        time_zone: user.time_zone.clone(),
    };
    Some((session, view, user.status, user.privileges_changed_at))
}

/// Records a use after a quiet spell of an eighth of the idle timeout (at
/// least a quarter second): the idle timer is then exact to within that
/// spell, and a busy session costs one event per spell, not one per
/// request.
fn refresh_if_due(state: &AppState, current: &CurrentSession, client: &Client, now: DateTime<Utc>) {
    let idle_ms = i64::try_from(current.session.idle_timeout_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
    let spell = chrono::Duration::milliseconds((idle_ms / 8).max(250));
    if now - current.session.last_seen < spell || !claim_write(state, &current.session.id) {
        return;
    }
    let state = state.clone();
    let id = current.session.id.clone();
    let context = client.as_user(&current.user.id, &current.user.org);
    let event = commands::refresh(
        &context,
        &id,
        &SessionRefreshed {
            last_seen: warden_core::event::now_micros(),
            ip: client.ip.clone(),
        },
    );
    tokio::spawn(async move {
        match state.ledger.append_one(event).await {
            Ok(sealed) => {
                state.positions.wait_for(sealed.seq, CATCH_UP).await;
            }
            Err(error) => tracing::warn!(%error, session = %id, "session refresh not recorded"),
        }
        release_write(&state, &id);
    });
}

/// Gives the session a new token after a privilege change (no session
/// fixation across a change of role). Concurrent requests of the same
/// session go on with the old token until the rotation is applied.
async fn rotate(state: &AppState, current: &mut CurrentSession, client: &Client) -> Rotated {
    if !claim_write(state, &current.session.id) {
        return None;
    }
    let token = Token::generate();
    let context = client.as_user(&current.user.id, &current.user.org);
    let event = commands::rotate(
        &context,
        &current.session.id,
        &SessionRotated {
            token_hash: token.hash(TokenKind::Session),
            reason: RotationReason::PrivilegesChanged,
        },
    );
    let result = state.ledger.append_one(event).await;
    let rotated = match result {
        Ok(sealed) => {
            state.positions.wait_for(sealed.seq, CATCH_UP).await;
            current.token = token.clone();
            let value = SessionCookie { seq: sealed.seq, token }.encode();
            Some((value, current.session.expires_at))
        }
        Err(error) => {
            tracing::warn!(%error, session = %current.session.id, "session rotation not recorded");
            None
        }
    };
    release_write(state, &current.session.id);
    rotated
}

fn claim_write(state: &AppState, id: &str) -> bool {
    state
        .session_writes
        .lock()
        .map(|mut writes| writes.insert(id.to_string()))
        .unwrap_or(false)
}

fn release_write(state: &AppState, id: &str) {
    if let Ok(mut writes) = state.session_writes.lock() {
        writes.remove(id);
    }
}

/// Extractor: the request's complete session, or 401 saying why there is
/// none (403 `second_factor_required` for a partial session: a sign-in
/// that still needs its second factor may do nothing else).
pub struct SignedIn(pub CurrentSession);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let AnySession(current) = AnySession::from_request_parts(parts, state).await?;
        match &current.session.pending {
            None => Ok(SignedIn(current)),
            Some(pending) if pending.is_enrolment() => Err(enrolment_required()),
            Some(_) => Err(second_factor_required()),
        }
    }
}

pub fn second_factor_required() -> ApiError {
    ApiError::forbidden_code(
        Code::SecondFactorRequired,
        "this sign-in is not complete: verify a second factor first (POST /api/v1/mfa/verify)",
    )
}

pub fn enrolment_required() -> ApiError {
    ApiError::forbidden_code(
        Code::EnrolmentRequired,
        "your organization requires a second factor: set one up first (POST /api/v1/mfa/totp or /api/v1/mfa/passkeys/register/start)",
    )
}

/// Extractor: a complete session, or one whose only pending step is
/// enrolling a second factor (the organization's policy requires one):
/// for the endpoints that set up factors.
pub struct Enrolling(pub CurrentSession);

impl FromRequestParts<AppState> for Enrolling {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let AnySession(current) = AnySession::from_request_parts(parts, state).await?;
        match &current.session.pending {
            Some(pending) if !pending.is_enrolment() => Err(second_factor_required()),
            _ => Ok(Enrolling(current)),
        }
    }
}

/// Extractor: the request's session, partial ones included: only for
/// completing a sign-in and signing out.
pub struct AnySession(pub CurrentSession);

impl FromRequestParts<AppState> for AnySession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, ApiError> {
        // Taken, not cloned: the handler is the last to need it.
        if let Some(current) = parts.extensions.remove::<CurrentSession>() {
            return Ok(AnySession(current));
        }
        let message = parts
            .extensions
            .get::<SessionProblem>()
            .map_or("sign in first: no session cookie", |problem| problem.message());
        Err(ApiError::session_required(message))
    }
}

/// Extractor: a signed-in owner or auditor, who reads their org's audit
/// trail.
pub struct AuditReader(pub CurrentSession);

impl FromRequestParts<AppState> for AuditReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let SignedIn(current) = SignedIn::from_request_parts(parts, state).await?;
        if !current.user.role.reads_audit_trail() {
            return Err(ApiError::forbidden("only owners and auditors read the audit trail"));
        }
        Ok(AuditReader(current))
    }
}

/// Extractor: a signed-in owner or admin of their org.
pub struct UserManager(pub CurrentSession);

impl FromRequestParts<AppState> for UserManager {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let SignedIn(current) = SignedIn::from_request_parts(parts, state).await?;
        if !current.user.role.manages_users() {
            return Err(ApiError::forbidden("only owners and admins manage users"));
        }
        Ok(UserManager(current))
    }
}
