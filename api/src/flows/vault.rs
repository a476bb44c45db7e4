//! The vault (decision 0027): an org's secrets, created, given new values,
//! rolled back, their readers changed and shredded by owners and admins;
//! read by their readers for a reason, each read recorded before the value
//! leaves (`vault_reads`). Each reads the secret from the read model, calls
//! `warden_core::auth::vault` and appends what it decided.

use std::sync::Arc;

use axum::http::StatusCode;
use chrono::Utc;
use warden_core::auth::vault::{self, Read, Reader, Rejection, Secret};
use warden_core::commands::Context;
use warden_core::commands::secret::{Denial, Readers, secret_subject};
use warden_core::keys::{SealError, Sealed};
use warden_projections::projection::read;
use zeroize::Zeroizing;

use super::vault_reads::ReadKey;
use super::{Lost, commit, commit_race};
use crate::error::{ApiError, Code};
use crate::state::AppState;
use crate::web::Client;
use crate::web::principal::Principal;
use crate::web::session::CurrentSession;

/// The org's secrets, by name (shredded ones too).
pub fn list(state: &AppState, org: &str) -> Vec<Arc<Secret>> {
    read(&state.models.vault).of_org(org).cloned().collect()
}

/// A secret of `org` (another org's does not exist).
pub fn get(state: &AppState, org: &str, name: &str) -> Option<Arc<Secret>> {
    read(&state.models.vault).get(org, name).cloned()
}

fn found(state: &AppState, org: &str, name: &str) -> Result<Arc<Secret>, ApiError> {
    get(state, org, name).ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, Code::NotFound, "no such secret"))
}

/// The secret to change, as the caller last saw it: `shown` is the
/// version of its life subject the caller's form was shown at (the
/// console's), `None` for the API. The change is then appended expecting
/// that version, so nothing that happened since is overwritten.
fn found_as_shown(state: &AppState, org: &str, name: &str, shown: Option<u64>) -> Result<Arc<Secret>, ApiError> {
    let secret = found(state, org, name)?;
    if shown.is_some_and(|shown| shown != secret.subject_version) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            Code::Conflict,
            "the secret changed since this page was shown (or the form was sent twice): nothing was changed; \
             look again, then repeat if still needed",
        ));
    }
    Ok(secret)
}

fn rejected(rejection: Rejection) -> ApiError {
    match rejection {
        Rejection::NotFound => ApiError::new(StatusCode::NOT_FOUND, Code::NotFound, "no such secret"),
        Rejection::Exists => ApiError::new(
            StatusCode::CONFLICT,
            Code::Taken,
            "a secret of this name exists: add a version to it (PUT) instead",
        ),
        Rejection::Shredded => shredded(),
        Rejection::Invalid { field, message } => {
            ApiError::unprocessable(Code::Unprocessable, format!("{field}: {message}"))
        }
    }
}

fn shredded() -> ApiError {
    ApiError::new(
        StatusCode::GONE,
        Code::SecretShredded,
        "this secret was shredded: its values cannot be read by anyone",
    )
}

fn sealing_failed(error: SealError) -> ApiError {
    tracing::error!(%error, "a vault secret cannot be sealed or opened");
    match error {
        SealError::Shredded(_) => shredded(),
        _ => ApiError::unavailable("the key service is unavailable; try again"),
    }
}

/// The key ids a secret's readers may name: the org's service and vendor
/// keys (never an app key, which does not reach Warden's API).
fn check_reader_keys(state: &AppState, org: &str, readers: &Readers) -> Result<(), ApiError> {
    let keys = read(&state.models.api_keys);
    for id in &readers.keys {
        let usable = keys
            .get(id)
            .is_some_and(|key| key.org == org && key.kind != warden_core::commands::api_key::KeyKind::App);
        if !usable {
            return Err(ApiError::unprocessable(
                Code::Unprocessable,
                format!("readers: {id:?} is not a service or vendor key of this org"),
            ));
        }
    }
    Ok(())
}

/// A value sealed under the secret's own data key.
async fn seal(state: &AppState, org: &str, name: &str, value: &Zeroizing<String>) -> Result<Sealed<String>, ApiError> {
    state
        .data_keys
        .seal(&secret_subject(org, name), &**value)
        .await
        .map_err(sealing_failed)
}

async fn append(state: &AppState, event: warden_core::NewEvent) -> Result<(), ApiError> {
    match commit_race(state, vec![event]).await? {
        Ok(_) => Ok(()),
        Err(Lost::Conflict | Lost::Taken) => Err(ApiError::changed_meanwhile()),
    }
}

/// Creates `name` with its first value.
pub async fn create(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    name: &str,
    description: &str,
    readers: Option<Readers>,
    value: Zeroizing<String>,
) -> Result<Arc<Secret>, ApiError> {
    let org = &manager.user.org;
    vault::check_name(name).map_err(rejected)?;
    vault::check_value(&value).map_err(rejected)?;
    let readers = readers.unwrap_or_else(vault::default_readers);
    check_reader_keys(state, org, &readers)?;
    let existing = get(state, org, name);
    if existing.as_ref().is_some_and(|secret| !secret.shredded) {
        return Err(rejected(Rejection::Exists));
    }
    let sealed = seal(state, org, name, &value).await?;
    let context = client.as_user(&manager.user.id, org);
    let event =
        vault::create(&context, existing.as_deref(), org, name, description, readers, sealed).map_err(rejected)?;
    append(state, event).await?;
    state.vault_reads.forget(org, name);
    found(state, org, name)
}

/// A new current value.
pub async fn add_version(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    name: &str,
    value: Zeroizing<String>,
    shown: Option<u64>,
) -> Result<Arc<Secret>, ApiError> {
    let org = &manager.user.org;
    vault::check_value(&value).map_err(rejected)?;
    let secret = found_as_shown(state, org, name, shown)?;
    if secret.shredded {
        return Err(shredded());
    }
    let sealed = seal(state, org, name, &value).await?;
    let context = client.as_user(&manager.user.id, org);
    append(
        state,
        vault::add_version(&context, Some(&secret), sealed).map_err(rejected)?,
    )
    .await?;
    found(state, org, name)
}

pub async fn roll_back(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    name: &str,
    version: u32,
    shown: Option<u64>,
) -> Result<Arc<Secret>, ApiError> {
    change(state, manager, client, (name, shown), |context, secret| {
        vault::roll_back(context, Some(secret), version)
    })
    .await
}

pub async fn change_readers(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    name: &str,
    readers: Readers,
    shown: Option<u64>,
) -> Result<Arc<Secret>, ApiError> {
    check_reader_keys(state, &manager.user.org, &readers)?;
    let changed = change(state, manager, client, (name, shown), |context, secret| {
        vault::change_readers(context, Some(secret), readers)
    })
    .await?;
    state.vault_reads.forget(&manager.user.org, name);
    Ok(changed)
}

/// Reads the manager's org's secret `name` (as `shown`), appends what
/// `decide` makes of it, and answers the secret as changed.
async fn change(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    (name, shown): (&str, Option<u64>),
    decide: impl FnOnce(&Context, &Secret) -> Result<warden_core::NewEvent, Rejection>,
) -> Result<Arc<Secret>, ApiError> {
    let org = &manager.user.org;
    let secret = found_as_shown(state, org, name, shown)?;
    let context = client.as_user(&manager.user.id, org);
    append(state, decide(&context, &secret).map_err(rejected)?).await?;
    found(state, org, name)
}

/// Shreds every version: records it, then destroys the data key. A
/// second call finishes what a first one left half done.
pub async fn shred(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    name: &str,
    reason: &str,
    shown: Option<u64>,
) -> Result<Arc<Secret>, ApiError> {
    let org = &manager.user.org;
    let secret = found_as_shown(state, org, name, shown)?;
    let context = client.as_user(&manager.user.id, org);
    if let Some(event) = vault::shred(&context, Some(&secret), reason).map_err(rejected)? {
        append(state, event).await?;
    }
    state.vault_reads.forget(org, name);
    state
        .data_keys
        .shred(&secret_subject(org, name))
        .await
        .map_err(sealing_failed)?;
    found(state, org, name)
}

/// A value, read.
pub struct Opened {
    pub secret: Arc<Secret>,
    pub version: u32,
    pub value: Zeroizing<String>,
    /// Whether this read repeated one recorded within the access cache.
    pub counted: bool,
}

/// Reads `version` (the current one when `None`) of `name` for `reason`:
/// refused reads and first reads are recorded before the answer; repeats
/// within the access cache are counted.
pub async fn read_value(
    state: &AppState,
    principal: &Principal,
    client: &Client,
    name: &str,
    version: Option<u32>,
    reason: &str,
) -> Result<Opened, ApiError> {
    vault::check_reason(reason).map_err(|rejection| match rejection {
        Rejection::Invalid { message, .. } => ApiError::new(StatusCode::BAD_REQUEST, Code::ReasonRequired, message),
        other => rejected(other),
    })?;
    // A link on another site cannot make a reader's browser read (and
    // record a read, for a reason of the link's choosing) with its cookie.
    if principal.person().is_some() && client.navigated_from_another_site {
        return Err(ApiError::forbidden_code(
            Code::CrossSite,
            "this read was opened from another site and was not run; read secrets from the console or the API",
        ));
    }
    let org = principal.org().to_string();
    let secret = found(state, &org, name)?;
    let (reader, reader_name) = match principal {
        Principal::Person(current) => (
            Reader::Person {
                role: current.user.role,
            },
            format!("user:{}", current.user.id),
        ),
        Principal::Key(call) => (Reader::Key { id: &call.key.id }, format!("api_key:{}", call.key.id)),
    };
    let context: Context = principal.context(client);
    let version = match vault::read(&secret, reader, version) {
        Read::Granted { version } => version,
        Read::Denied(denial) => {
            commit(state, vec![vault::denied(&context, &secret, reason, denial)]).await?;
            return Err(match denial {
                Denial::NotAReader => ApiError::forbidden_code(
                    Code::NotAReader,
                    "you are not among this secret's readers; an owner or admin can add you",
                ),
                Denial::Shredded => shredded(),
                Denial::NoSuchVersion => {
                    ApiError::new(StatusCode::NOT_FOUND, Code::NotFound, "the secret has no such version")
                }
            });
        }
    };
    let sealed = &secret
        .version(version)
        .ok_or_else(|| ApiError::internal("a granted version without its value"))?
        .value;
    // Opened before anything is recorded (a key service down records
    // nothing); answered only once recorded.
    let value = Zeroizing::new(state.data_keys.open(sealed).await.map_err(sealing_failed)?);
    let key = ReadKey {
        org: org.clone(),
        name: name.to_string(),
        version,
        reader: reader_name,
        ticket: context.actor.ticket.clone(),
        reason: reason.trim().to_string(),
    };
    let counted = state.vault_reads.repeat(&key, Utc::now());
    if !counted {
        commit(
            state,
            vec![vault::accessed(&context, &secret, &key.reader, version, reason)],
        )
        .await?;
        state.vault_reads.recorded(key);
    }
    Ok(Opened {
        secret,
        version,
        value,
        counted,
    })
}
