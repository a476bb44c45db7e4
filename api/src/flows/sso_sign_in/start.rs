//! The start of a single sign-on: a flow of random `state`, nonce and PKCE
//! verifier, sealed into a cookie of the browser that goes to the
//! provider, and `sso.started`. A network holds at most so many flows
//! open at once (`flow::start_wait`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use warden_core::auth::sso::flow::{self, Confirming, Flow};
use warden_core::commands::sso::sign_in::{self as events, Started};
use warden_core::commands::sso::{Connection, Upstream};
use warden_core::event::now_micros;
use warden_core::keys::random_bytes;
use warden_projections::projection::read;
use warden_projections::throttle::ip_key;

use super::{FLOW_KEY, multi_tenant, unreachable};
use crate::error::ApiError;
use crate::flows::{commit, key_service, sso_connections};
use crate::oidc::{AuthorizationRequest, Providers};
use crate::state::AppState;
use crate::web::Client;

/// Where to send the browser, and the cookie that binds the flow to it.
pub struct Redirect {
    pub location: String,
    pub cookie: String,
}

fn random() -> String {
    URL_SAFE_NO_PAD.encode(*random_bytes::<32>())
}

/// Who starts a flow, and what for.
#[derive(Debug, Clone, Copy)]
pub enum Purpose<'a> {
    /// Anyone, to sign in.
    SignIn,
    /// One of the org's managers tests the connection (enabled or not).
    Test { user: &'a str, org: &'a str },
    /// A signed-in user confirms it's them, for their session: the
    /// provider is asked to authenticate them again.
    Confirm {
        user: &'a str,
        org: &'a str,
        session: &'a str,
    },
}

/// Starts a flow through `connection` (enabled, but for a test).
pub async fn start(
    state: &AppState,
    client: &Client,
    connection: &Connection,
    next: &str,
    login_hint: Option<&str>,
    purpose: Purpose<'_>,
) -> Result<Redirect, ApiError> {
    if let Some(network) = client.ip.as_deref().map(ip_key) {
        let open = read(&state.models.sso).open_from(&network);
        if let Some(wait) = flow::start_wait(&open, now_micros()) {
            return Err(ApiError::too_many_requests(
                "too many single sign-on sign-ins were started from this network and not finished; try again later",
                wait,
            ));
        }
    }
    let Upstream::Oidc(oidc) = &connection.settings.upstream;
    let provider = state
        .sso
        .providers
        .provider(&oidc.issuer, multi_tenant(connection))
        .await
        .map_err(|failure| unreachable(connection, &failure))?;
    let flow = Flow {
        id: random(),
        connection: connection.id.clone(),
        org: connection.org.clone(),
        nonce: random(),
        verifier: random(),
        next: next.to_string(),
        tester: match purpose {
            Purpose::Test { user, .. } => Some(user.to_string()),
            _ => None,
        },
        confirming: match purpose {
            Purpose::Confirm { user, session, .. } => Some(Confirming {
                user: user.to_string(),
                session: session.to_string(),
            }),
            _ => None,
        },
        started_at: now_micros(),
    };
    let redirect_uri = sso_connections::redirect_uri(state);
    let location = Providers::authorization_url(
        &provider,
        &AuthorizationRequest {
            client_id: &oidc.client_id,
            redirect_uri: &redirect_uri,
            scopes: &oidc.scopes,
            state: &flow.id,
            nonce: &flow.nonce,
            verifier: &flow.verifier,
            login_hint,
            reauthenticate: matches!(purpose, Purpose::Confirm { .. }),
        },
    )
    .map_err(|failure| unreachable(connection, &failure))?;
    let sealed = state.data_keys.seal(FLOW_KEY, &flow).await.map_err(key_service)?;
    let cookie = serde_json::to_vec(&sealed)
        .map(|json| URL_SAFE_NO_PAD.encode(json))
        .map_err(|_| ApiError::internal("the sign-in could not be sealed"))?;
    let context = match purpose {
        Purpose::SignIn => client.anonymous(),
        Purpose::Test { user, org } | Purpose::Confirm { user, org, .. } => client.as_user(user, org),
    };
    let started = Started {
        flow: flow.id.clone(),
        connection: connection.id.clone(),
        org: connection.org.clone(),
        name: connection.settings.name.clone(),
        test: matches!(purpose, Purpose::Test { .. }),
        reauthentication: matches!(purpose, Purpose::Confirm { .. }),
    };
    commit(state, vec![events::started(&context, &started)]).await?;
    Ok(Redirect { location, cookie })
}
