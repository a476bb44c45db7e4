//! One secret of the vault in the console: its versions, who may read it,
//! who did, and (for those who read the audit trail) its access history;
//! for owners and admins, recently authenticated, a new value, a rollback,
//! its readers and shredding after a confirmation. The list and the
//! creation form are [`super::secrets`]'s. A value is never shown.
//!
//! Every form names the secret's version it was shown at (its life
//! subject's): posted again, or after someone else changed the secret,
//! it is refused and nothing is changed.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use warden_core::auth::vault::Secret;
use warden_core::commands::secret::{access_subject, secret_subject};

use super::confirmed::{Confirmed, ReturnTo};
use super::named::Named;
use super::secret_history;
use super::secrets::{
    LastAccess, ReaderChoice, field, last_access, reader_choices, reader_named, readers_named, readers_of, take_value,
};
use super::when::{When, Zone};
use super::{Nav, NoticeQuery, PageManager, PageOrgReader, Place, failed, notice, render, see_other};
use crate::error::{ApiError, Code};
use crate::flows::vault;
use crate::handlers::audit::encode;
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

/// Back to the secret's page after "Confirm it's you".
pub struct ToSecret;

impl ReturnTo for ToSecret {
    fn next(parts: &Parts) -> String {
        let path = parts.uri.path();
        let page = ["/value", "/rollback", "/readers", "/shred"]
            .iter()
            .find_map(|action| path.strip_suffix(action))
            .unwrap_or(path);
        page.to_string()
    }
}

struct VersionRow {
    number: u32,
    added: When,
    added_by: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "secret.html")]
struct SecretPage {
    nav: Nav,
    manages: bool,
    name: String,
    description: String,
    shredded: bool,
    current: u32,
    /// The life subject's version the forms were shown at.
    subject_version: u64,
    created: When,
    /// The zone of the times shown.
    zone: String,
    /// Newest first.
    versions: Vec<VersionRow>,
    readers: Vec<Named>,
    read_by: Vec<Named>,
    reads: u64,
    /// `None`: never read.
    last_access: Option<LastAccess>,
    roles: Vec<ReaderChoice>,
    keys: Vec<ReaderChoice>,
    /// For those who read the audit trail: the newest accesses.
    history: Option<Vec<secret_history::AccessRow>>,
    /// Why the history is not shown, when it is not.
    history_note: Option<String>,
    /// More accesses than shown.
    history_more: bool,
    access_query: String,
    changes_query: String,
    error: Option<String>,
    notice: Option<String>,
}

/// When the secret was last read, by whom and which version.
fn secret_page(
    state: &AppState,
    current: &CurrentSession,
    secret: &Secret,
    error: Option<String>,
    notice: Option<String>,
) -> SecretPage {
    let nav = Nav::of(current, Place::Secrets);
    let zone = Zone::of(current.user.time_zone.as_deref());
    let versions = secret
        .versions
        .iter()
        .rev()
        .map(|version| VersionRow {
            number: version.number,
            added: zone.when(&version.added_at),
            added_by: version
                .added_by
                .as_deref()
                .map_or_else(|| "Warden".into(), |by| reader_named(state, by).text),
            current: version.number == secret.current,
        })
        .collect();
    let (roles, keys) = reader_choices(state, &current.user.org, &secret.readers);
    SecretPage {
        nav,
        manages: current.user.role.manages_users(),
        name: secret.name.clone(),
        description: secret.description.clone(),
        shredded: secret.shredded,
        current: secret.current,
        subject_version: secret.subject_version,
        created: zone.when(&secret.created_at),
        zone: zone.name().to_string(),
        versions,
        readers: readers_named(state, &secret.readers),
        read_by: secret
            .read_by
            .iter()
            .map(|reader| reader_named(state, reader))
            .collect(),
        reads: secret.reads,
        last_access: last_access(state, current, secret),
        roles,
        keys,
        history: None,
        history_note: None,
        history_more: false,
        access_query: format!("subject={}", encode(&access_subject(&secret.org, &secret.name))),
        changes_query: format!("subject={}", encode(&secret_subject(&secret.org, &secret.name))),
        error,
        notice,
    }
}

/// The secret of the page's org, or the error page (another org's
/// secret does not exist).
fn secret_of(state: &AppState, current: &CurrentSession, name: &str) -> Result<Arc<Secret>, Box<Response>> {
    vault::get(state, &current.user.org, name).ok_or_else(|| {
        let missing = ApiError::new(StatusCode::NOT_FOUND, Code::NotFound, "no such secret");
        Box::new(super::error_page(&missing))
    })
}

/// `GET /secrets/{name}`.
pub async fn show(
    State(state): State<AppState>,
    client: Client,
    PageOrgReader(current): PageOrgReader,
    Path(name): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Response {
    let secret = match secret_of(&state, &current, &name) {
        Ok(secret) => secret,
        Err(page) => return *page,
    };
    let mut page = secret_page(&state, &current, &secret, None, notice(query.notice.as_deref()));
    if current.user.role.reads_audit_trail() {
        match secret_history::newest(&state, &current, &client, &secret).await {
            Ok((rows, more)) => {
                page.history = Some(rows);
                page.history_more = more;
            }
            Err(note) => page.history_note = Some(note),
        }
    }
    render(StatusCode::OK, &page)
}

/// Runs `action` on the secret named in the path, as the form's
/// `subject_version` shows it (a form shown at another version, sent twice
/// or after someone else's change, is refused by the flow and changes
/// nothing); the secret's page with `done` as notice, or with the error.
async fn act<F>(
    state: &AppState,
    current: &CurrentSession,
    name: &str,
    fields: &[(String, String)],
    done: &str,
    action: F,
) -> Response
where
    F: AsyncFnOnce(Option<u64>) -> Result<Arc<Secret>, ApiError>,
{
    let secret = match secret_of(state, current, name) {
        Ok(secret) => secret,
        Err(page) => return *page,
    };
    let result = match field(fields, "subject_version").parse::<u64>() {
        Ok(shown) => action(Some(shown)).await,
        Err(_) => Err(ApiError::bad_request(
            "the form lacks the secret's version it was shown at: load the page again",
        )),
    };
    match result {
        Ok(_) => see_other(&format!("/secrets/{name}?notice={done}")),
        Err(error) => {
            let latest = vault::get(state, &current.user.org, name).unwrap_or(secret);
            let page = secret_page(state, current, &latest, Some(error.message.clone()), None);
            failed(&error, &page)
        }
    }
}

/// `POST /secrets/{name}/value`: a new current version.
pub async fn add_version(
    State(state): State<AppState>,
    client: Client,
    Confirmed(PageManager(current), _): Confirmed<PageManager, ToSecret>,
    Path(name): Path<String>,
    Form(mut fields): Form<Vec<(String, String)>>,
) -> Response {
    let value = take_value(&mut fields);
    act(&state, &current, &name, &fields, "secret_rotated", async |shown| {
        vault::add_version(&state, &current, &client, &name, value, shown).await
    })
    .await
}

/// `POST /secrets/{name}/rollback`: an earlier version current again.
pub async fn roll_back(
    State(state): State<AppState>,
    client: Client,
    Confirmed(PageManager(current), _): Confirmed<PageManager, ToSecret>,
    Path(name): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let version = field(&fields, "version").parse::<u32>();
    act(&state, &current, &name, &fields, "secret_rolled_back", async |shown| {
        let version = version.map_err(|_| ApiError::bad_request("version: a version number"))?;
        vault::roll_back(&state, &current, &client, &name, version, shown).await
    })
    .await
}

/// `POST /secrets/{name}/readers`: who may read it (the whole set).
pub async fn change_readers(
    State(state): State<AppState>,
    client: Client,
    Confirmed(PageManager(current), _): Confirmed<PageManager, ToSecret>,
    Path(name): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let readers = readers_of(&fields);
    act(
        &state,
        &current,
        &name,
        &fields,
        "secret_readers_changed",
        async |shown| vault::change_readers(&state, &current, &client, &name, readers?, shown).await,
    )
    .await
}

#[derive(Template)]
#[template(path = "secret_shred.html")]
struct ShredPage {
    nav: Nav,
    name: String,
    versions: usize,
    subject_version: u64,
    readers: Vec<Named>,
    last_access: Option<LastAccess>,
}

/// `GET /secrets/{name}/shred`: "Shred this secret?", with what it is.
pub async fn confirm_shred(
    State(state): State<AppState>,
    PageManager(current): PageManager,
    Path(name): Path<String>,
) -> Response {
    let secret = match secret_of(&state, &current, &name) {
        Ok(secret) => secret,
        Err(page) => return *page,
    };
    let nav = Nav::of(&current, Place::Secrets);
    render(
        StatusCode::OK,
        &ShredPage {
            nav,
            name: secret.name.clone(),
            versions: secret.versions.len(),
            subject_version: secret.subject_version,
            readers: readers_named(&state, &secret.readers),
            last_access: last_access(&state, &current, &secret),
        },
    )
}

/// `POST /secrets/{name}/shred`: every version unreadable, for good.
pub async fn shred(
    State(state): State<AppState>,
    client: Client,
    Confirmed(PageManager(current), _): Confirmed<PageManager, ToSecret>,
    Path(name): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let reason = field(&fields, "reason").trim().to_string();
    act(&state, &current, &name, &fields, "secret_shredded", async |shown| {
        vault::shred(&state, &current, &client, &name, &reason, shown).await
    })
    .await
}
