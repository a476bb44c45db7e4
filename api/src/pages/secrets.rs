//! The org's vault in the console (decision 0027): the list of secrets
//! with their versions, who may read them and their last access, and the
//! form that adds one. A secret's own page is [`super::secret_page`].
//! Owners and admins act (recently authenticated, as the API asks);
//! auditors read. Everything goes through `flows::vault`, as the API does.
//!
//! A value is never shown: the forms take one in a password field, a
//! refused form comes back without it, and no page has a way to read one
//! (the application reads its secrets through the API, for a reason).

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use warden_core::auth::api_key::Key;
use warden_core::auth::vault::Secret;
use warden_core::commands::account::Role;
use warden_core::commands::api_key::KeyKind;
use warden_core::commands::secret::Readers;
use warden_projections::projection::read;
use zeroize::Zeroizing;

use super::confirmed::{Confirmed, ReturnTo};
use super::named::Named;
use super::when::{When, Zone};
use super::{Nav, NoticeQuery, PageManager, PageOrgReader, Place, failed, notice, render, see_other};
use crate::error::ApiError;
use crate::flows::{api_keys, vault};
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

/// Back to the list after "Confirm it's you".
pub struct ToSecrets;

impl ReturnTo for ToSecrets {
    fn next(_: &Parts) -> String {
        "/secrets".into()
    }
}

/// `user:<id>` or `api_key:<id>` (as events and the read model name a
/// reader) by name: a user's email, a key's name.
pub(super) fn reader_named(state: &AppState, reader: &str) -> Named {
    match reader.split_once(':') {
        Some(("user", id)) => Named::text(
            read(&state.models.accounts)
                .user(id)
                .map_or_else(|| format!("user {id}"), |user| user.email.clone()),
        ),
        Some(("api_key", id)) => key_named(state, id),
        _ => Named::text(reader),
    }
}

fn key_named(state: &AppState, id: &str) -> Named {
    let name = read(&state.models.api_keys)
        .get(id)
        .map_or_else(|| format!("key {id}"), |key| format!("key “{}”", key.settings.name));
    Named::linked(name, format!("/keys/{id}"))
}

fn role_plural(role: Role) -> &'static str {
    match role {
        Role::Owner => "owners",
        Role::Admin => "admins",
        Role::Member => "members",
        Role::Auditor => "auditors",
    }
}

/// A secret's readers by name: the roles, then the keys.
pub(super) fn readers_named(state: &AppState, readers: &Readers) -> Vec<Named> {
    let roles = readers.roles.iter().map(|role| Named::text(role_plural(*role)));
    roles
        .chain(readers.keys.iter().map(|id| key_named(state, id)))
        .collect()
}

/// One box of the readers' fieldset.
pub(super) struct ReaderChoice {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

/// The readers' fieldset: every role, and the org's service and vendor
/// keys still in use (the only keys that can read a secret), `chosen`
/// checked.
pub(super) fn reader_choices(state: &AppState, org: &str, chosen: &Readers) -> (Vec<ReaderChoice>, Vec<ReaderChoice>) {
    let roles = Role::ALL
        .into_iter()
        .map(|role| ReaderChoice {
            value: role.as_str().to_string(),
            label: capitalised(role_plural(role)),
            checked: chosen.roles.contains(&role),
        })
        .collect();
    let readable = |key: &Key| key.kind != KeyKind::App && (key.revoked_at.is_none() || chosen.keys.contains(&key.id));
    let keys = api_keys::list(state, org)
        .iter()
        .filter(|key| readable(key))
        .map(|key| {
            let scoped = key.settings.scopes.iter().any(|scope| scope == "secrets:read");
            ReaderChoice {
                value: key.id.clone(),
                label: format!(
                    "{} ({} key{})",
                    key.settings.name,
                    key.kind.as_str(),
                    if scoped {
                        ""
                    } else {
                        "; it lacks the secrets:read scope"
                    }
                ),
                checked: chosen.keys.contains(&key.id),
            }
        })
        .collect();
    (roles, keys)
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The readers a form names (`reader_role` and `reader_key` boxes); an
/// unknown role is refused.
pub(super) fn readers_of(fields: &[(String, String)]) -> Result<Readers, ApiError> {
    let mut readers = Readers::default();
    for (field, value) in fields {
        match field.as_str() {
            "reader_role" => {
                let role = Role::parse(value)
                    .ok_or_else(|| ApiError::bad_request(format!("readers: {value:?} is not a role")))?;
                readers.roles.insert(role);
            }
            "reader_key" => {
                readers.keys.insert(value.clone());
            }
            _ => {}
        }
    }
    Ok(readers)
}

/// The value a form posted, taken out of it: the form's fields no longer
/// hold it (a refused form is shown again without it), and it is wiped
/// from memory when dropped.
pub(super) fn take_value(fields: &mut Vec<(String, String)>) -> Zeroizing<String> {
    let mut value = Zeroizing::new(String::new());
    fields.retain_mut(|(field, text)| {
        if field != "value" {
            return true;
        }
        // The last one counts, as for every field; the others are wiped too.
        std::mem::swap(&mut *value, text);
        zeroize::Zeroize::zeroize(text);
        false
    });
    value
}

/// One field of a form as posted (the last one of its name), or "".
pub(super) fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .rev()
        .find(|(field, _)| field == name)
        .map_or("", |(_, value)| value.as_str())
}

struct SecretRow {
    name: String,
    description: String,
    version: String,
    readers: Vec<Named>,
    last_access: Option<LastAccess>,
    reads: u64,
    shredded: bool,
}

fn row(state: &AppState, viewer: &CurrentSession, secret: &Secret) -> SecretRow {
    SecretRow {
        name: secret.name.clone(),
        description: secret.description.clone(),
        version: match secret.versions.len() {
            1 => format!("{} (the only version)", secret.current),
            kept => format!("{} ({kept} versions kept)", secret.current),
        },
        readers: readers_named(state, &secret.readers),
        last_access: last_access(state, viewer, secret),
        reads: secret.reads,
        shredded: secret.shredded,
    }
}

/// When a secret was last read (in the viewer's zone), by whom and which
/// version.
pub(super) struct LastAccess {
    pub(super) at: When,
    pub(super) by: String,
    pub(super) version: u32,
}

/// The secret's last access as `viewer` reads it; `None`: never read.
pub(super) fn last_access(state: &AppState, viewer: &CurrentSession, secret: &Secret) -> Option<LastAccess> {
    let zone = Zone::of(viewer.user.time_zone.as_deref());
    secret.last_access.as_ref().map(|access| LastAccess {
        at: zone.when(&access.at),
        by: reader_named(state, &access.reader).text,
        version: access.version,
    })
}

#[derive(Template)]
#[template(path = "secrets.html")]
struct SecretsPage {
    nav: Nav,
    manages: bool,
    secrets: Vec<SecretRow>,
    /// The creation form as posted (never its value).
    name: String,
    description: String,
    roles: Vec<ReaderChoice>,
    keys: Vec<ReaderChoice>,
    error: Option<String>,
    notice: Option<String>,
}

fn secrets_page(
    state: &AppState,
    current: &CurrentSession,
    posted: Option<&[(String, String)]>,
    error: Option<String>,
    notice: Option<String>,
) -> SecretsPage {
    let nav = Nav::of(current, Place::Secrets);
    let org = &current.user.org;
    let secrets = vault::list(state, org)
        .iter()
        .map(|secret| row(state, current, secret))
        .collect();
    // A new secret's readers are owners and admins until chosen otherwise.
    let chosen = match posted {
        Some(fields) => readers_of(fields).unwrap_or_default(),
        None => Readers {
            roles: [Role::Owner, Role::Admin].into(),
            keys: Default::default(),
        },
    };
    let (roles, keys) = reader_choices(state, org, &chosen);
    let posted = posted.unwrap_or_default();
    SecretsPage {
        nav,
        manages: current.user.role.manages_users(),
        secrets,
        name: field(posted, "name").to_string(),
        description: field(posted, "description").to_string(),
        roles,
        keys,
        error,
        notice,
    }
}

/// `GET /secrets`.
pub async fn list(
    State(state): State<AppState>,
    PageOrgReader(current): PageOrgReader,
    Query(query): Query<NoticeQuery>,
) -> Response {
    let page = secrets_page(&state, &current, None, None, notice(query.notice.as_deref()));
    render(StatusCode::OK, &page)
}

/// `POST /secrets` (owners and admins, recently authenticated): a new
/// secret, then its page. A name taken (a reload, or a secret of that
/// name) is refused and nothing is changed.
pub async fn create(
    State(state): State<AppState>,
    client: Client,
    Confirmed(PageManager(current), _): Confirmed<PageManager, ToSecrets>,
    Form(mut fields): Form<Vec<(String, String)>>,
) -> Response {
    let value = take_value(&mut fields);
    let name = field(&fields, "name").trim().to_string();
    let created = match readers_of(&fields) {
        Ok(readers) => {
            let description = field(&fields, "description").trim();
            vault::create(&state, &current, &client, &name, description, Some(readers), value).await
        }
        Err(error) => Err(error),
    };
    match created {
        Ok(secret) => see_other(&format!("/secrets/{}?notice=secret_created", secret.name)),
        Err(error) => {
            let page = secrets_page(&state, &current, Some(&fields), Some(error.message.clone()), None);
            failed(&error, &page)
        }
    }
}
