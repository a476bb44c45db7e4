//! An org's single sign-on connections, as owners and admins set them
//! up: read the model, let `auth::sso::connections` decide, append and
//! wait. The client secret is sealed with the connection's own data key
//! before anything is decided on it, and shredded when the connection is
//! removed.

use axum::http::StatusCode;
use warden_core::auth::sso::connections::{self as decide, Refusal};
use warden_core::auth::sso::settings::{Typed, Wrong, check};
use warden_core::commands::sso::{Connection, connection_subject};
use warden_core::keys::Sealed;
use warden_projections::projection::read;

use super::{Lost, commit, commit_race, key_service};
use crate::error::{ApiError, Code};
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

/// The longest client secret Warden keeps.
const LONGEST_SECRET: usize = 1024;

/// Where every provider sends people back (`/sso/callback` on the
/// public URL): the address an admin pastes into the provider.
pub fn redirect_uri(state: &AppState) -> String {
    format!("{}/sso/callback", state.web.public_url.trim_end_matches('/'))
}

/// The org's own sign-in page, with its connections' buttons.
pub fn sign_in_url(state: &AppState, org: &str) -> Option<String> {
    let accounts = read(&state.models.accounts);
    let slug = &accounts.org(org)?.slug;
    Some(format!(
        "{}/sign-in/org/{slug}",
        state.web.public_url.trim_end_matches('/')
    ))
}

pub fn connections(state: &AppState, org: &str) -> Vec<Connection> {
    read(&state.models.sso).connections_of(org).cloned().collect()
}

/// `org`'s connection `id`; 404 for another org's.
pub fn connection(state: &AppState, org: &str, id: &str) -> Result<Connection, ApiError> {
    read(&state.models.sso)
        .connection(org, id)
        .cloned()
        .ok_or_else(ApiError::not_found)
}

fn wrong(wrong: Wrong) -> ApiError {
    ApiError::bad_request(format!("{}: {}", wrong.field, wrong.message))
}

fn refused(refusal: Refusal) -> ApiError {
    let message = refusal.to_string();
    match refusal {
        Refusal::TooMany => ApiError::new(StatusCode::CONFLICT, Code::TooManySsoConnections, message),
        Refusal::DomainTaken(_) | Refusal::DomainInUse(_) => {
            ApiError::new(StatusCode::CONFLICT, Code::DomainTaken, message)
        }
        Refusal::Enabled => ApiError::new(StatusCode::CONFLICT, Code::ConnectionEnabled, message),
        Refusal::NotOwner => ApiError::forbidden(message),
        Refusal::DomainNotListed(_) => ApiError::bad_request(message),
    }
}

fn check_secret(secret: &str) -> Result<(), ApiError> {
    if secret.is_empty() || secret.chars().count() > LONGEST_SECRET || secret.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "client_secret: 1 to {LONGEST_SECRET} characters, as the provider shows it"
        )));
    }
    Ok(())
}

async fn seal(state: &AppState, id: &str, secret: &str) -> Result<Sealed<String>, ApiError> {
    state
        .data_keys
        .seal(&connection_subject(id), &secret.to_string())
        .await
        .map_err(key_service)
}

/// Adds a connection, off until it is enabled.
pub async fn create(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    typed: &Typed,
    client_secret: &str,
) -> Result<Connection, ApiError> {
    let settings = check(typed, state.sso.config.insecure_issuers).map_err(wrong)?;
    check_secret(client_secret)?;
    let org = &manager.user.org;
    let id = uuid::Uuid::now_v7().to_string();
    let count = read(&state.models.sso).connections_of(org).count();
    let sealed = seal(state, &id, client_secret).await?;
    let context = client.as_user(&manager.user.id, org);
    let event = {
        let sso = read(&state.models.sso);
        decide::decide_create(&context, &id, org, settings, sealed, count, |domain| {
            sso.served_elsewhere(domain, None)
        })
        .map_err(refused)?
    };
    commit(state, vec![event]).await?;
    connection(state, org, &id)
}

/// Changes what `change` changes of connection `id`'s settings, and its
/// secret when one is given.
pub async fn change(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    id: &str,
    change: impl FnOnce(&mut Typed),
    client_secret: Option<&str>,
) -> Result<Connection, ApiError> {
    let org = &manager.user.org;
    let current = connection(state, org, id)?;
    let mut typed = Typed::of(&current.settings);
    change(&mut typed);
    let settings = check(&typed, state.sso.config.insecure_issuers).map_err(wrong)?;
    let sealed = match client_secret {
        Some(secret) => {
            check_secret(secret)?;
            Some(seal(state, id, secret).await?)
        }
        None => None,
    };
    let context = client.as_user(&manager.user.id, org);
    let event = {
        let sso = read(&state.models.sso);
        decide::decide_change(&context, &current, settings, sealed, |domain| {
            sso.served_elsewhere(domain, Some(id))
        })
        .map_err(refused)?
    };
    if let Some(event) = event {
        commit(state, vec![event]).await?;
    }
    connection(state, org, id)
}

/// An owner vouches for one of the connection's domains.
pub async fn acknowledge(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    id: &str,
    domain: &str,
) -> Result<Connection, ApiError> {
    let org = &manager.user.org;
    let current = connection(state, org, id)?;
    let context = client.as_user(&manager.user.id, org);
    let event = {
        let sso = read(&state.models.sso);
        let accounts = read(&state.models.accounts);
        let elsewhere = |domain: &str| {
            accounts
                .users()
                .any(|user| user.org != *org && user.email.rsplit_once('@').is_some_and(|(_, at)| at == domain))
        };
        decide::decide_acknowledge(
            &context,
            manager.user.role,
            &current,
            domain,
            |domain| sso.served_elsewhere(domain, Some(id)),
            elsewhere,
        )
        .map_err(refused)?
    };
    if let Some(event) = event {
        let domain = event.data["domain"].as_str().unwrap_or_default().to_string();
        match commit_race(state, vec![event]).await? {
            Ok(_) => {}
            Err(Lost::Taken) => return Err(refused(Refusal::DomainTaken(domain))),
            Err(Lost::Conflict) => return Err(ApiError::changed_meanwhile()),
        }
    }
    connection(state, org, id)
}

/// Turns connection `id` on or off.
pub async fn set_enabled(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    id: &str,
    enable: bool,
) -> Result<Connection, ApiError> {
    let org = &manager.user.org;
    let current = connection(state, org, id)?;
    let context = client.as_user(&manager.user.id, org);
    if let Some(event) = decide::decide_enable(&context, &current, enable) {
        commit(state, vec![event]).await?;
    }
    connection(state, org, id)
}

/// Removes a disabled connection, and shreds its client secret.
pub async fn remove(state: &AppState, manager: &CurrentSession, client: &Client, id: &str) -> Result<(), ApiError> {
    let org = &manager.user.org;
    let current = connection(state, org, id)?;
    let context = client.as_user(&manager.user.id, org);
    let event = decide::decide_remove(&context, &current).map_err(refused)?;
    commit(state, vec![event]).await?;
    state
        .data_keys
        .shred(&connection_subject(id))
        .await
        .map_err(key_service)?;
    Ok(())
}
