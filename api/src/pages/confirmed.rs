//! Step-up on the pages: a sensitive action's handler names
//! `Confirmed<G, B>` (page guard `G`, way back `B`); a session whose last
//! strong authentication is not recent goes to "Confirm it's you" and
//! comes back to `B`'s page. The rule is the API's ([`crate::web::Recent`]).

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Response;

use super::{PageAuditReader, PageManager, PageSession, reauthenticate_first};
use crate::flows::step_up::recent_authentication;
use crate::state::AppState;
use crate::web::step_up::{Guard, guards};

guards!(PageSession, PageManager, PageAuditReader);

/// Where "Confirm it's you" returns to.
pub trait ReturnTo {
    /// The local path (and query).
    fn next(parts: &Parts) -> String;
}

/// Back to the MFA settings, where the factor forms are.
pub struct ToMfaSettings;

impl ReturnTo for ToMfaSettings {
    fn next(_: &Parts) -> String {
        "/settings/mfa".into()
    }
}

/// Back to the org's MFA policy form.
pub struct ToMfaPolicy;

impl ReturnTo for ToMfaPolicy {
    fn next(_: &Parts) -> String {
        "/admin/mfa-policy".into()
    }
}

/// Back to the very request (a link, such as an export's): it runs again.
pub struct ToThisRequest;

impl ReturnTo for ToThisRequest {
    fn next(parts: &Parts) -> String {
        parts.uri.path_and_query().map_or("/", |path| path.as_str()).to_string()
    }
}

/// Extractor: what page guard `G` admits, with a recent strong
/// authentication, or a redirect to "Confirm it's you" and back to `B`.
pub struct Confirmed<G, B>(pub G, pub PhantomData<B>);

impl<G, B> FromRequestParts<AppState> for Confirmed<G, B>
where
    G: FromRequestParts<AppState, Rejection = Response> + Guard + Send,
    B: ReturnTo,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let guard = G::from_request_parts(parts, state).await?;
        match recent_authentication(state, guard.session()) {
            Ok(()) => Ok(Confirmed(guard, PhantomData)),
            Err(_) => Err(reauthenticate_first(&B::next(parts))),
        }
    }
}
