//! Who calls Warden's API: a person in a session, or a service or vendor
//! key. Every operation declares what it takes ([`Access`], in
//! `routes::table`); [`Admit`] checks a key against that declaration
//! before the handler runs, and handlers take [`Admitted`] to accept
//! either caller: the session through its guard (roles), the key through
//! its scope (checked here, with what its kind and people allow).
//!
//! A request that presents a key is the key's: its session cookie, if it
//! has one, is not used (and needs no CSRF token: a browser never adds an
//! `Authorization` header on its own, and CORS does not let another
//! site's script add one).

use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use futures::future::{BoxFuture, Either};
use warden_core::auth::api_key::Key;
use warden_core::auth::api_key::vendor::{Claims, OnBehalf};
use warden_core::commands::Context;
use warden_core::commands::api_key::VerifyOutcome;

use super::Client;
use super::client::ClientIp;
use super::session::CurrentSession;
use super::step_up::Guard;
use crate::error::{ApiError, Code};
use crate::flows::key_check::{Asker, Checked};
use crate::handlers::api_keys::rate_limit_headers;
use crate::request_id::RequestId;
use crate::state::AppState;

/// What credential an operation takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// None: probes, documents, signing in.
    Public,
    /// Its own, which its handler checks: the application token, or
    /// forward authentication's key (the subject, not the caller).
    Own,
    /// A person's session only; a key is refused (`key_not_accepted`).
    Session,
    /// A session its handler's guard admits, or a service or vendor key
    /// holding this scope of Warden's API.
    Scope(&'static str),
}

/// The key of `Authorization: Bearer wk_live_…` (the scheme in any case),
/// if the request carries one.
pub fn bearer_key(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && token.starts_with(warden_core::auth::api_key::format::PREFIX))
        .then(|| token.to_string())
}

/// A key admitted for a request.
#[derive(Debug, Clone)]
pub struct KeyCall {
    pub key: Arc<Key>,
    /// For a vendor key: the user it acts for, under which ticket.
    pub on_behalf: Option<OnBehalf>,
    /// The verification, for the `RateLimit` headers.
    pub checked: Checked,
}

impl KeyCall {
    /// The audit context of what the key does: `actor.kind` `api_key`, or
    /// `vendor` with `on_behalf_of` and `ticket`.
    pub fn context(&self, client: &Client) -> Context {
        let vendor = self
            .on_behalf
            .as_ref()
            .map(|on_behalf| (on_behalf.user.as_str(), on_behalf.ticket.as_str()));
        client.caller().as_key(&self.key.id, &self.key.org, vendor)
    }
}

/// Checks the key `text` of a request for `scopes` (on Warden's own API
/// when `on_warden`), with a vendor key's `X-Actor-User-Id` and
/// `X-Ticket-Reference`. A refusal is the answer to send: its status and
/// code, `WWW-Authenticate: Bearer` (for the key's own refusals), the
/// `RateLimit` headers.
pub fn check_key(
    state: &AppState,
    parts: &Parts,
    text: &str,
    scopes: &[String],
    on_warden: bool,
) -> Result<KeyCall, Box<Response>> {
    let context = || Client::from_parts(parts).anonymous();
    let header = |name: &str| parts.headers.get(name).and_then(|value| value.to_str().ok());
    let asker = Asker {
        request_id: parts.extensions.get::<RequestId>().map_or("", |id| id.0.as_str()),
        context: &context,
        ip: parts.extensions.get::<ClientIp>().map(|ClientIp(ip)| *ip),
        within: None,
        on_warden,
        claims: Claims {
            actor_user: header("x-actor-user-id"),
            ticket: header("x-ticket-reference"),
        },
    };
    let checked = state.keys.check(state, text, scopes, &asker);
    let key = match (crate::error::key_refusal(checked.outcome), &checked.key) {
        (None, Some(key)) => key.clone(),
        (refusal, _) => {
            let mut error = refusal.unwrap_or_else(|| ApiError::internal("a valid key without its record"));
            if checked.outcome == VerifyOutcome::RateLimited {
                error.retry_after = checked.limit.as_ref().map(|limit| limit.reset_seconds.max(1));
            }
            let mut response = error.into_response();
            let challenge = match checked.outcome {
                VerifyOutcome::InsufficientScope => Some("Bearer error=\"insufficient_scope\""),
                // The key is good; the request's claim is not.
                VerifyOutcome::ActorNotAllowed | VerifyOutcome::InvalidTicket => None,
                _ => Some("Bearer error=\"invalid_token\""),
            };
            if let Some(challenge) = challenge {
                response.headers_mut().insert(
                    axum::http::header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                );
            }
            rate_limit_headers(response.headers_mut(), &checked);
            return Err(Box::new(response));
        }
    };
    Ok(KeyCall {
        key,
        on_behalf: checked.on_behalf.clone(),
        checked,
    })
}

/// Layer, per route: a request with a key is checked against what its
/// operation declares. `Public` and `Own` operations leave the key to
/// their handler; `Session` ones refuse it; `Scope` ones check it for
/// that scope and, when it passes, make it the request's caller. A
/// request without a key goes straight through (no allocation: most
/// requests are a browser's).
#[derive(Clone)]
pub struct Admit {
    state: AppState,
    /// What each method of the route takes.
    accesses: Arc<[(Method, Access)]>,
}

impl Admit {
    pub fn new(state: AppState, accesses: &[(Method, Access)]) -> Self {
        Admit {
            state,
            accesses: accesses.into(),
        }
    }

    /// What the operation of `method` takes (`HEAD` is `GET`'s).
    fn access(&self, method: &Method) -> Access {
        let method = if method == Method::HEAD { &Method::GET } else { method };
        self.accesses
            .iter()
            .find(|(declared, _)| declared == method)
            .map_or(Access::Public, |(_, access)| *access)
    }
}

impl<S> tower::Layer<S> for Admit {
    type Service = Admitting<S>;

    fn layer(&self, inner: S) -> Admitting<S> {
        Admitting {
            admit: self.clone(),
            inner,
        }
    }
}

/// The service of [`Admit`].
#[derive(Clone)]
pub struct Admitting<S> {
    admit: Admit,
    inner: S,
}

type KeyAnswer = BoxFuture<'static, Result<Response, Infallible>>;

impl<S> tower::Service<Request> for Admitting<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, KeyAnswer>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let Some(text) = bearer_key(request.headers()) else {
            return Either::Left(self.inner.call(request));
        };
        let answer = |response: Response| Either::Right(Box::pin(std::future::ready(Ok(response))) as KeyAnswer);
        let scope = match self.admit.access(request.method()) {
            Access::Public | Access::Own => return Either::Left(self.inner.call(request)),
            Access::Session => {
                return answer(
                    ApiError::forbidden_code(
                        Code::KeyNotAccepted,
                        "this operation is a person's: it takes a signed-in session, not an API key",
                    )
                    .into_response(),
                );
            }
            Access::Scope(scope) => scope,
        };
        let (mut parts, body) = request.into_parts();
        let call = match check_key(&self.admit.state, &parts, &text, &[scope.to_string()], true) {
            Ok(call) => call,
            Err(refusal) => return answer(*refusal),
        };
        parts.extensions.remove::<CurrentSession>();
        let checked = call.checked.clone();
        parts.extensions.insert(call);
        let future = self.inner.call(Request::from_parts(parts, body));
        Either::Right(Box::pin(async move {
            let mut response = future.await?;
            rate_limit_headers(response.headers_mut(), &checked);
            Ok(response)
        }))
    }
}

/// The caller of an operation that takes a session or a key.
#[derive(Debug, Clone)]
pub enum Principal {
    Person(CurrentSession),
    Key(KeyCall),
}

impl Principal {
    pub fn org(&self) -> &str {
        match self {
            Principal::Person(current) => &current.user.org,
            Principal::Key(call) => &call.key.org,
        }
    }

    /// The audit context of what the caller does.
    pub fn context(&self, client: &Client) -> Context {
        match self {
            Principal::Person(current) => client.as_user(&current.user.id, &current.user.org),
            Principal::Key(call) => call.context(client),
        }
    }

    pub fn person(&self) -> Option<&CurrentSession> {
        match self {
            Principal::Person(current) => Some(current),
            Principal::Key(_) => None,
        }
    }

    /// `check` for a person (a role the guard does not say alone); a key
    /// was checked for its scope already.
    pub fn person_may(&self, check: impl FnOnce(&CurrentSession) -> Result<(), ApiError>) -> Result<(), ApiError> {
        self.person().map_or(Ok(()), check)
    }
}

/// Extractor: the key [`Admit`] admitted for this operation's scope, or a
/// session that guard `G` admits.
pub struct Admitted<G>(pub Principal, pub PhantomData<G>);

impl<G> FromRequestParts<AppState> for Admitted<G>
where
    G: FromRequestParts<AppState, Rejection = ApiError> + Guard + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(call) = parts.extensions.remove::<KeyCall>() {
            return Ok(Admitted(Principal::Key(call), PhantomData));
        }
        let guard = G::from_request_parts(parts, state).await?;
        Ok(Admitted(Principal::Person(guard.session().clone()), PhantomData))
    }
}
