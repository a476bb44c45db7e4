//! Signing in through a single sign-on connection (OpenID Connect): the
//! start sends the browser to the provider with a `state`, a nonce and a
//! PKCE challenge sealed into a cookie of that browser; the callback opens
//! the cookie, exchanges the code, has the token's signature checked
//! (`crate::oidc`) and its claims (`auth::sso::id_token`), decides whose
//! account it is (`auth::sso::sign_in`) and opens the session the org's
//! MFA policy allows, like every other method. Every start and end is an
//! event; an end claims its flow, so a replayed callback is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde_json::Value;
use warden_core::Event;
use warden_core::auth::mfa_policy::{Method, upstream_mfa_counts};
use warden_core::auth::sign_in;
use warden_core::auth::sso::flow::{self, Confirming, Flow};
use warden_core::auth::sso::id_token::{self, Expected, Identity};
use warden_core::auth::sso::sign_in::{self as whose, Person};
use warden_core::commands::account::identifier_key;
use warden_core::commands::session::Level;
use warden_core::commands::sso::sign_in::{self as events, Failed, Failure, Succeeded};
use warden_core::commands::sso::{Connection, Upstream};
use warden_core::event::now_micros;
use warden_core::keys::Sealed;
use warden_projections::accounts::User;
use warden_projections::projection::read;

use super::issued::{self, Issued};
use super::{Lost, commit, commit_race, read as state_of};
use crate::config::SsoConfig;
use crate::error::ApiError;
use crate::oidc::{ProviderError, Providers};
use crate::state::AppState;
use crate::web::Client;

mod answer;
mod confirm;
mod ending;
pub mod sign_out;
mod start;
use answer::verified;
use ending::Ending;
pub use start::{Purpose, Redirect, start};

/// The data key flows are sealed with.
const FLOW_KEY: &str = "secret:sso-flows";

/// Single sign-on on this node: its settings and the providers it talks
/// to.
#[derive(Default)]
pub struct Sso {
    pub config: SsoConfig,
    pub providers: Providers,
}

impl Sso {
    pub fn new(config: SsoConfig) -> Self {
        Sso {
            config,
            providers: Providers::new(),
        }
    }
}

/// The connection `id` if it may sign people in now.
pub fn enabled(state: &AppState, id: &str) -> Option<Connection> {
    let sso = read(&state.models.sso);
    let connection = sso.connection_any_org(id)?;
    connection.enabled.then(|| connection.clone())
}

/// The connection serving `email`'s domain, enabled (home-realm
/// discovery).
pub fn serving(state: &AppState, email: &str) -> Option<Connection> {
    let domain = email.trim().rsplit_once('@')?.1.to_ascii_lowercase();
    let sso = read(&state.models.sso);
    sso.serving(&domain).filter(|connection| connection.enabled).cloned()
}

/// Whether the connection's issuer is Entra ID's multi-tenant one (its
/// discovery document names a template, not itself).
fn multi_tenant(connection: &Connection) -> bool {
    let Upstream::Oidc(oidc) = &connection.settings.upstream;
    connection.settings.preset == warden_core::commands::sso::Preset::Entra && !oidc.tenants.is_empty()
}

fn unreachable(connection: &Connection, failure: &ProviderError) -> ApiError {
    tracing::warn!(connection = %connection.id, detail = %failure.detail, "an identity provider could not be used");
    ApiError::unavailable(format!(
        "{} cannot be reached right now; try again, or sign in another way",
        connection.settings.name
    ))
}

/// What the provider sent the browser back with.
pub struct Callback<'a> {
    pub state: &'a str,
    pub code: Option<&'a str>,
    pub error: Option<&'a str>,
    pub error_description: Option<&'a str>,
    /// RFC 9207's `iss`, when the provider sends it.
    pub iss: Option<&'a str>,
}

/// How a flow ended.
pub enum Ended {
    /// Signed in: the session to set, and where to go.
    SignedIn { issued: Box<Issued>, next: String },
    /// Confirmed it's them: the session's new token, and where to go.
    Confirmed { issued: Box<Issued>, next: String },
    /// A test: what the provider said and what the mapping made of it.
    Tested(Box<Tested>),
    /// Refused: the connection's name (when known), the reason and what
    /// exactly was wrong, which the browser is not told beyond "it
    /// failed" and the request id (the org's admins read it in the trail).
    Failed {
        name: Option<String>,
        reason: Failure,
        detail: String,
    },
}

/// What "Test connection" shows.
pub struct Tested {
    pub connection: String,
    pub name: String,
    pub claims: Value,
    pub outcome: Result<Succeeded, Failed>,
}

/// Opens the flow the browser's cookie holds.
async fn opened(state: &AppState, cookie: &str) -> Option<Flow> {
    let sealed: Sealed<Flow> = URL_SAFE_NO_PAD
        .decode(cookie.trim())
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())?;
    if sealed.subject != FLOW_KEY {
        return None;
    }
    state.data_keys.open(&sealed).await.ok()
}

/// Ends the flow the browser's `cookie` holds with the provider's answer.
pub async fn callback(
    state: &AppState,
    client: &Client,
    cookie: Option<&str>,
    answer: &Callback<'_>,
) -> Result<Ended, ApiError> {
    let flow = match cookie {
        Some(cookie) => opened(state, cookie).await,
        None => None,
    };
    let Some(flow) = flow else {
        // Not started in this browser (or not by Warden): nothing to
        // attribute it to, nothing recorded.
        return Ok(Ended::Failed {
            name: None,
            reason: Failure::StateMismatch,
            detail: "this browser did not start the sign-in".into(),
        });
    };
    let connection = read(&state.models.sso).connection(&flow.org, &flow.connection).cloned();
    let name = connection.as_ref().map(|connection| connection.settings.name.clone());
    let context = match (&flow.tester, &flow.confirming) {
        (Some(user), _) | (None, Some(Confirming { user, .. })) => client.as_user(user, &flow.org),
        (None, None) => client.anonymous(),
    };
    let end = Ending {
        state,
        context: &context,
        flow: &flow,
        name: name.clone().unwrap_or_default(),
    };
    if let Err(reason) = flow::check(&flow, answer.state, Utc::now()) {
        let detail = match reason {
            Failure::StateMismatch => "the provider's answer is not for the sign-in this browser started",
            _ => "the sign-in took longer than ten minutes",
        };
        return end.failed(reason, detail.to_string(), None).await;
    }
    let Some(connection) = connection.filter(|connection| connection.enabled || flow.tester.is_some()) else {
        return end
            .failed(
                Failure::ConnectionDisabled,
                "the connection was disabled or removed".into(),
                None,
            )
            .await;
    };
    let claims = match verified(state, &connection, &flow, answer).await {
        Ok(claims) => claims,
        Err(refused) => return end.failed(refused.reason, refused.detail, None).await,
    };
    let Upstream::Oidc(oidc) = &connection.settings.upstream;
    let domains: Vec<String> = connection.acknowledged.keys().cloned().collect();
    let expected = Expected {
        preset: connection.settings.preset,
        oidc,
        mapping: &connection.settings.mapping,
        nonce: &flow.nonce,
        started_at: flow.started_at,
        domains: &domains,
    };
    let identity = match id_token::check(&claims, &expected, Utc::now()) {
        Ok(identity) => identity,
        Err(refused) => {
            let ended = end.failed(refused.reason, refused.detail, None).await?;
            return Ok(end.tested_or(ended, &connection, claims));
        }
    };
    if let Some(confirming) = &flow.confirming {
        return confirm::confirmed(state, client, &end, &connection, confirming, &identity).await;
    }
    let (accounts, linked, by_email) = people(state, &connection, &identity);
    let new_user = uuid::Uuid::now_v7().to_string();
    let decided = match whose::decide(
        &context,
        &connection,
        &identity,
        linked.as_ref(),
        by_email.as_ref(),
        &new_user,
    ) {
        Ok(decided) => decided,
        Err(refused) => {
            let ended = end
                .failed(refused.reason, refused.detail, Some(&identity.subject))
                .await?;
            return Ok(end.tested_or(ended, &connection, claims));
        }
    };
    let mut succeeded = Succeeded {
        flow: flow.id.clone(),
        connection: connection.id.clone(),
        org: connection.org.clone(),
        name: connection.settings.name.clone(),
        test: flow.tester.is_some(),
        result: decided.outcome,
        user: (decided.outcome != events::SignInResult::Provisioned).then(|| decided.user.clone()),
        subject: identity.subject.clone(),
        email: identity.email.clone(),
        role: decided.role,
        upstream_mfa: identity.upstream_mfa,
        session: None,
    };
    if flow.tester.is_some() {
        commit(state, vec![events::succeeded(&context, &succeeded)]).await?;
        return Ok(Ended::Tested(Box::new(Tested {
            connection: connection.id.clone(),
            name: connection.settings.name.clone(),
            claims,
            outcome: Ok(succeeded),
        })));
    }
    // The account as it will be: the one found, or the one created now.
    let account = match &accounts {
        Some(user) => state_of::account(user),
        None => sign_in::Account {
            id: decided.user.clone(),
            org: connection.org.clone(),
            status: warden_core::commands::account::Status::Active,
            role: decided.role,
            version: 0,
            created_at: now_micros(),
        },
    };
    let rules = state_of::org_rules(state, &connection.org);
    let enrolled = match &accounts {
        Some(user) => state_of::enrolled(&state_of::factors(state, &user.id)),
        None => Vec::new(),
    };
    let now = now_micros();
    let after =
        match sign_in::after_upstream_sign_in(&account, &rules, &enrolled, Method::Oidc, identity.upstream_mfa, now) {
            Ok(after) => after,
            Err(refusal) => {
                return end
                    .failed(
                        Failure::MethodNotAllowed,
                        refusal.message().to_string(),
                        Some(&identity.subject),
                    )
                    .await;
            }
        };
    let level = match upstream_mfa_counts(&rules.mfa, Method::Oidc, identity.upstream_mfa) {
        true => Level::Aal2,
        false => Level::Aal1,
    };
    let methods: &[&str] = match level {
        Level::Aal2 => &["oidc", "upstream_mfa"],
        _ => &["oidc"],
    };
    let caller = client.caller();
    let (drawn, opening) = super::sign_in::open(state, &caller, &account, (level, methods), after.pending.clone());
    succeeded.session = Some(drawn.session.id.clone());
    succeeded.user = Some(decided.user.clone());
    let identifier = identifier_key(
        &state.passwords.identifier_key,
        identity.email.as_deref().unwrap_or(&identity.subject),
    );
    let opened = sign_in::SignedIn {
        events: Vec::new(),
        session: drawn.session.id.clone(),
        pending: after.pending,
        enrolment_due: after.enrolment_due,
    };
    let mut appended = decided.events;
    appended.extend(opening);
    appended.push(sign_in::succeeded(&caller, &account, "oidc", &identifier, &opened));
    appended.push(events::succeeded(&context, &succeeded));
    let sealed: Vec<Event> = match commit_race(state, appended).await? {
        Ok(sealed) => sealed,
        Err(Lost::Taken) => {
            return end
                .failed(
                    Failure::Replayed,
                    "this sign-in ended already".into(),
                    Some(&identity.subject),
                )
                .await;
        }
        Err(Lost::Conflict) => return Err(ApiError::changed_meanwhile()),
    };
    let issued = issued::opened_in(drawn, &sealed, opened.enrolment_due)?;
    Ok(Ended::SignedIn {
        issued: Box::new(issued),
        next: flow.next.clone(),
    })
}

/// The account linked to the identity, and the one with its address.
fn people(
    state: &AppState,
    connection: &Connection,
    identity: &Identity,
) -> (Option<User>, Option<Person>, Option<Person>) {
    let accounts = read(&state.models.accounts);
    let person = |user: &User| Person {
        id: user.id.clone(),
        org: user.org.clone(),
        email: user.email.clone(),
        role: user.role,
        status: user.status,
        version: user.version,
    };
    let linked = read(&state.models.sso)
        .linked(&connection.id, &identity.subject)
        .and_then(|id| accounts.user(id))
        .cloned();
    let by_email = identity
        .email
        .as_deref()
        .and_then(|email| accounts.user_by_email(email))
        .cloned();
    let account = linked
        .clone()
        .or_else(|| by_email.clone().filter(|user| user.org == connection.org));
    (account, linked.as_ref().map(person), by_email.as_ref().map(person))
}
