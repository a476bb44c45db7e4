//! Managing an org's API keys: create (the secret shown once), list,
//! change, rotate (a new secret, the old one kept for a grace period) and
//! revoke. Each reads the key from the read model, calls
//! `warden_core::auth::api_key::manage` and appends what it decided.

use std::sync::Arc;

use chrono::Utc;
use warden_core::auth::api_key::Key;
use warden_core::auth::api_key::format::KeyText;
use warden_core::auth::api_key::manage::{self, Draft, OrgFacts, Patch};
use warden_core::commands::account::Status;
use warden_core::commands::api_key::{KeyKind, Owner, SecretDigest};
use warden_projections::projection::read;
use zeroize::Zeroizing;

use super::{Lost, commit, commit_race};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

/// A key and its secret, shown this once.
pub struct Issued {
    pub key: Arc<Key>,
    pub secret: Zeroizing<String>,
}

/// The org's keys, newest first.
pub fn list(state: &AppState, org: &str) -> Vec<Arc<Key>> {
    read(&state.models.api_keys).of_org(org).into_iter().cloned().collect()
}

/// A key of `org` (another org's does not exist).
pub fn get(state: &AppState, org: &str, id: &str) -> Result<Arc<Key>, ApiError> {
    read(&state.models.api_keys)
        .get(id)
        .filter(|key| key.org == org)
        .cloned()
        .ok_or_else(ApiError::not_found)
}

/// Creates a key of `kind` for `owner` (the creator when `None`), with
/// the id `id` when given (the console's form names it, so that posting
/// it twice makes one key), else a new one.
pub async fn create(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    id: Option<&str>,
    kind: KeyKind,
    owner: Option<Owner>,
    draft: Draft,
) -> Result<Issued, ApiError> {
    let org = &manager.user.org;
    let owner = owner.unwrap_or_else(|| Owner::User {
        id: manager.user.id.clone(),
    });
    let owner_role = match &owner {
        Owner::User { id } => read(&state.models.accounts)
            .user(id)
            .filter(|user| &user.org == org && user.status == Status::Active)
            .map(|user| user.role),
        Owner::Service { .. } => None,
    };
    let context = client.as_user(&manager.user.id, org);
    // A new id when one is taken (62^16 ids: in practice never); a given
    // one is tried once.
    let attempts = if id.is_some() { 1 } else { 3 };
    for _ in 0..attempts {
        let text = id.map_or_else(KeyText::generate, KeyText::generate_for);
        let facts = OrgFacts {
            keys: read(&state.models.api_keys).count_of_org(org),
            granter: manager.user.role,
            owner_role,
        };
        let event = manage::create(
            &context,
            text.id(),
            org,
            kind,
            owner.clone(),
            draft.clone(),
            digest_of(state, &text),
            facts,
            Utc::now(),
        )?;
        match commit_race(state, vec![event]).await? {
            Ok(_) => {
                return Ok(Issued {
                    key: get(state, org, text.id())?,
                    secret: Zeroizing::new(text.expose().to_string()),
                });
            }
            Err(Lost::Taken | Lost::Conflict) => continue,
        }
    }
    if id.is_some() {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            crate::error::Code::Conflict,
            "this key was created already; its secret was shown once",
        ));
    }
    Err(ApiError::unavailable("no free key id was found; try again"))
}

pub async fn change(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    id: &str,
    patch: Patch,
) -> Result<Arc<Key>, ApiError> {
    let org = &manager.user.org;
    let key = read(&state.models.api_keys).get(id).cloned();
    let context = client.as_user(&manager.user.id, org);
    if let Some(event) = manage::change(&context, org, key.as_deref(), patch, manager.user.role, Utc::now())? {
        commit(state, vec![event]).await?;
    }
    get(state, org, id)
}

pub async fn rotate(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    id: &str,
    grace_seconds: u64,
) -> Result<Issued, ApiError> {
    let org = &manager.user.org;
    let key = read(&state.models.api_keys).get(id).cloned();
    let text = KeyText::generate_for(id);
    let context = client.as_user(&manager.user.id, org);
    let event = manage::rotate(
        &context,
        org,
        key.as_deref(),
        digest_of(state, &text),
        grace_seconds,
        Utc::now(),
    )?;
    commit(state, vec![event]).await?;
    Ok(Issued {
        key: get(state, org, id)?,
        secret: Zeroizing::new(text.expose().to_string()),
    })
}

pub async fn revoke(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    id: &str,
    reason: &str,
) -> Result<Arc<Key>, ApiError> {
    let org = &manager.user.org;
    let key = read(&state.models.api_keys).get(id).cloned();
    let context = client.as_user(&manager.user.id, org);
    if let Some(event) = manage::revoke(&context, org, key.as_deref(), reason)? {
        commit(state, vec![event]).await?;
    }
    get(state, org, id)
}

fn digest_of(state: &AppState, text: &KeyText) -> SecretDigest {
    SecretDigest {
        digest: text.digest(&state.keys.hash_key),
        hint: text.hint(),
    }
}
