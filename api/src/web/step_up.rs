//! Step-up as a guard: a sensitive action names it in its handler's
//! signature (`Recent<SignedIn>`, `Recent<AuditReader>`), so what a route
//! requires reads from the route itself. The rule is
//! `warden_core::auth::step_up::require`; the state it is decided on is
//! read by [`crate::flows::step_up::recent_authentication`].

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::session::{AuditReader, CurrentSession, SignedIn, UserManager};
use crate::error::ApiError;
use crate::flows::step_up::recent_authentication;
use crate::state::AppState;

/// A guard extractor that holds the request's session.
pub trait Guard {
    fn session(&self) -> &CurrentSession;
}

/// Implements [`Guard`] for extractors whose one field is the session.
macro_rules! guards {
    ($($guard:ty),*) => {
        $(impl $crate::web::step_up::Guard for $guard {
            fn session(&self) -> &$crate::web::session::CurrentSession {
                &self.0
            }
        })*
    };
}
pub(crate) use guards;

guards!(SignedIn, AuditReader, UserManager);

impl<G: Guard> Guard for Recent<G> {
    fn session(&self) -> &CurrentSession {
        self.0.session()
    }
}

/// Extractor: what guard `G` admits, whose last strong authentication is
/// recent (`step_up_max_age_seconds`: a second factor for users who have
/// one, the password for others), or 403 `reauthentication_required`.
pub struct Recent<G>(pub G);

impl<G> FromRequestParts<AppState> for Recent<G>
where
    G: FromRequestParts<AppState, Rejection = ApiError> + Guard + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let guard = G::from_request_parts(parts, state).await?;
        recent_authentication(state, guard.session())?;
        Ok(Recent(guard))
    }
}
