//! Signing out at the provider too (RP-Initiated Logout 1.0), for a
//! session a connection signed in whose settings ask for it: the browser
//! leaves Warden (signed out already) for the provider's
//! `end_session_endpoint`, which signs the person out there and sends
//! them back to `/sso/signed-out`.

use warden_core::commands::sso::Upstream;
use warden_projections::projection::read;
use warden_projections::sessions::Session;

use super::multi_tenant;
use crate::oidc::Providers;
use crate::state::AppState;

/// Where the provider sends the browser back: registered at the provider
/// as its post-logout redirect URI.
pub fn signed_out_uri(state: &AppState) -> String {
    format!("{}/sso/signed-out", state.web.public_url.trim_end_matches('/'))
}

/// The provider's name and where the browser signs out there, when the
/// connection that signed `session` in asks for it and its provider
/// offers it. A provider that cannot be reached is passed over: the
/// session is over in Warden either way.
pub async fn at_provider(state: &AppState, session: &Session) -> Option<(String, String)> {
    let id = session.sso_connection.as_deref()?;
    let connection = read(&state.models.sso).connection(&session.org, id).cloned()?;
    let Upstream::Oidc(oidc) = &connection.settings.upstream;
    if !oidc.sign_out_at_provider {
        return None;
    }
    let provider = match state
        .sso
        .providers
        .provider(&oidc.issuer, multi_tenant(&connection))
        .await
    {
        Ok(provider) => provider,
        Err(failure) => {
            tracing::warn!(connection = %connection.id, detail = %failure.detail, "signed out in Warden only: the provider could not be reached");
            return None;
        }
    };
    let location = Providers::end_session_url(&provider, &oidc.client_id, &signed_out_uri(state))?;
    Some((connection.settings.name.clone(), location))
}
