//! Sessions issued to a client: once the events of a decision that opened,
//! elevated or rotated a session are appended, the cookie and CSRF token
//! that carry its new token.

use chrono::{DateTime, Utc};
use warden_core::auth::sign_in::NewSession;
use warden_core::auth::step_up::Elevated;
use warden_core::auth::tokens::{SessionCookie, Token, TokenKind};
use warden_core::commands::payload;
use warden_core::commands::session::{self, Pending, SessionCreated};
use warden_core::{Event, NewEvent};
use warden_projections::sessions::Session;

use super::{commit, new_id};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::session::CurrentSession;

/// A session token just issued: what the response needs.
#[derive(Debug, Clone)]
pub struct Issued {
    pub session_id: String,
    /// The session cookie's value.
    pub cookie: String,
    pub expires_at: DateTime<Utc>,
    pub csrf_token: String,
    /// Set for a partial session: the step still to do.
    pub pending: Option<Pending>,
    /// Set inside the enrolment grace period: enrol a second factor before.
    pub enrolment_due: Option<DateTime<Utc>>,
    /// The session a sign-in opened, from its sealed event: the answer
    /// describes it even when the read models are slow to show it.
    pub opened: Option<Session>,
}

/// A new session's id and token, drawn before it is decided on.
pub struct Drawn {
    pub session: NewSession,
    pub token: Token,
}

impl Drawn {
    /// A new session.
    pub fn fresh() -> Self {
        Drawn::for_session(new_id())
    }

    /// A new token for the existing session `id`.
    pub fn for_session(id: String) -> Self {
        let token = Token::generate();
        Drawn {
            session: NewSession {
                id,
                token_hash: token.hash(TokenKind::Session),
            },
            token,
        }
    }
}

/// Appends `events`, one of which opens `drawn`'s session, and issues it.
pub async fn opened(
    state: &AppState,
    drawn: Drawn,
    events: Vec<NewEvent>,
    enrolment_due: Option<DateTime<Utc>>,
) -> Result<Issued, ApiError> {
    let sealed = commit(state, events).await?;
    opened_in(drawn, &sealed, enrolment_due)
}

/// The session `drawn` opened in `sealed`, an append already made.
pub fn opened_in(drawn: Drawn, sealed: &[Event], enrolment_due: Option<DateTime<Utc>>) -> Result<Issued, ApiError> {
    let subject = session::session_subject(&drawn.session.id);
    let created = sealed
        .iter()
        .find(|event| event.kind == session::SESSION_CREATED && event.subject == subject)
        .ok_or_else(|| ApiError::internal("the session event is missing from the append"))?;
    let data: SessionCreated =
        payload(created).ok_or_else(|| ApiError::internal("the session event does not decode"))?;
    Ok(Issued {
        csrf_token: drawn.token.csrf(),
        cookie: SessionCookie {
            seq: created.seq,
            token: drawn.token,
        }
        .encode(),
        session_id: drawn.session.id.clone(),
        expires_at: data.expires_at,
        pending: data.pending.clone(),
        enrolment_due,
        opened: Some(Session::created(&drawn.session.id, data, created)),
    })
}

/// Appends `events`, the last of them about the current session (its
/// elevation or rotation to `token`), and issues the new token.
pub async fn renewed(
    state: &AppState,
    current: &CurrentSession,
    token: Token,
    events: Vec<NewEvent>,
    expires_at: DateTime<Utc>,
    pending: Option<Pending>,
) -> Result<Issued, ApiError> {
    let sealed = commit(state, events).await?;
    renewed_by(&current.session.id, token, &sealed, expires_at, pending)
}

/// The issued token of an elevation already appended in `sealed`.
pub fn elevated(
    current: &CurrentSession,
    token: Token,
    sealed: &[Event],
    elevated: Elevated,
) -> Result<Issued, ApiError> {
    elevated_session(&current.session.id, token, sealed, elevated)
}

/// The same, for session `id` (a provider's answer, which comes back
/// without the session's own extractors).
pub fn elevated_session(id: &str, token: Token, sealed: &[Event], elevated: Elevated) -> Result<Issued, ApiError> {
    renewed_by(id, token, sealed, elevated.expires_at, elevated.pending)
}

fn renewed_by(
    id: &str,
    token: Token,
    sealed: &[Event],
    expires_at: DateTime<Utc>,
    pending: Option<Pending>,
) -> Result<Issued, ApiError> {
    let subject = session::session_subject(id);
    let seq = sealed
        .iter()
        .rev()
        .find(|event| event.subject == subject)
        .map(|event| event.seq)
        .ok_or_else(|| ApiError::internal("the session's renewal is missing from the append"))?;
    Ok(Issued {
        session_id: id.to_string(),
        csrf_token: token.csrf(),
        cookie: SessionCookie { seq, token }.encode(),
        expires_at,
        pending,
        enrolment_due: None,
        opened: None,
    })
}
