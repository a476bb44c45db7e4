//! Single sign-on in the console (owners and admins): the org's
//! connections, a wizard per provider preset that shows the redirect URI
//! to paste into the provider, a connection's page (its settings, each
//! domain and the owner's acknowledgement, on and off, "Test connection",
//! removal). Everything goes through `flows::sso_connections`, as the API
//! does; what decides who signs in takes a recent sign-in ("Confirm it's
//! you"), turning a connection off does not.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use serde::Deserialize;
use warden_core::auth::sso::settings::Typed;
use warden_core::commands::account::Role;
use warden_core::commands::sso::{Connection, Preset, Upstream};

use super::confirmed::{Confirmed, ReturnTo};
use super::{Nav, NoticeQuery, PageManager, Place, error_page, failed, notice, render, see_other};
use crate::flows::sso_connections as flows;
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

mod form;
use form::{ConnectionForm, steps};

/// Back to the list after "Confirm it's you".
pub struct ToConnections;

impl ReturnTo for ToConnections {
    fn next(_: &Parts) -> String {
        "/admin/sso".into()
    }
}

/// Back to the connection's page after "Confirm it's you".
pub struct ToConnection;

impl ReturnTo for ToConnection {
    fn next(parts: &Parts) -> String {
        let path = parts.uri.path();
        let id = path
            .strip_prefix("/admin/sso/")
            .unwrap_or("")
            .split('/')
            .next()
            .unwrap_or("");
        format!("/admin/sso/{id}")
    }
}

struct DomainRow {
    domain: String,
    acknowledged: bool,
}

struct ConnectionRow {
    id: String,
    name: String,
    provider: &'static str,
    issuer: String,
    domains: Vec<DomainRow>,
    enabled: bool,
}

fn domains_of(connection: &Connection) -> Vec<DomainRow> {
    connection
        .settings
        .domains
        .iter()
        .map(|domain| DomainRow {
            domain: domain.clone(),
            acknowledged: connection.serves(domain),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "sso_connections.html")]
struct ListPage {
    nav: Nav,
    connections: Vec<ConnectionRow>,
    presets: Vec<(&'static str, &'static str)>,
    redirect_uri: String,
    sign_in_url: Option<String>,
    error: Option<String>,
    notice: Option<String>,
}

/// `GET /admin/sso`.
pub async fn list(
    State(state): State<AppState>,
    PageManager(current): PageManager,
    Query(query): Query<NoticeQuery>,
) -> Response {
    let connections = flows::connections(&state, &current.user.org)
        .iter()
        .map(|connection| ConnectionRow {
            id: connection.id.clone(),
            name: connection.settings.name.clone(),
            provider: connection.settings.preset.title(),
            issuer: connection.settings.upstream.issuer().to_string(),
            domains: domains_of(connection),
            enabled: connection.enabled,
        })
        .collect();
    let page = ListPage {
        nav: Nav::of(&current, Place::Sso),
        connections,
        presets: Preset::ALL
            .iter()
            .map(|preset| (preset.as_str(), preset.title()))
            .collect(),
        redirect_uri: flows::redirect_uri(&state),
        sign_in_url: flows::sign_in_url(&state, &current.user.org),
        error: None,
        notice: notice(query.notice.as_deref()),
    };
    render(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "sso_connection.html")]
struct ConnectionPage {
    nav: Nav,
    /// `None`: a new connection.
    id: Option<String>,
    enabled: bool,
    provider: &'static str,
    steps: &'static [&'static str],
    redirect_uri: String,
    form: ConnectionForm,
    domains: Vec<DomainRow>,
    /// The viewer may acknowledge domains.
    owner: bool,
    error: Option<String>,
    notice: Option<String>,
}

fn page(
    state: &AppState,
    current: &CurrentSession,
    connection: Option<&Connection>,
    form: ConnectionForm,
) -> ConnectionPage {
    let preset = Preset::parse(&form.preset).unwrap_or(Preset::Generic);
    ConnectionPage {
        nav: Nav::of(current, Place::Sso),
        id: connection.map(|connection| connection.id.clone()),
        enabled: connection.is_some_and(|connection| connection.enabled),
        provider: preset.title(),
        steps: steps(preset),
        redirect_uri: flows::redirect_uri(state),
        form,
        domains: connection.map(domains_of).unwrap_or_default(),
        owner: current.user.role == Role::Owner,
        error: None,
        notice: None,
    }
}

#[derive(Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    preset: String,
}

/// `GET /admin/sso/new?preset=…`: the wizard.
pub async fn new(
    State(state): State<AppState>,
    PageManager(current): PageManager,
    Query(query): Query<NewQuery>,
) -> Response {
    let preset = Preset::parse(&query.preset).unwrap_or(Preset::Generic);
    let form = ConnectionForm::of(&Typed::for_preset(preset));
    render(StatusCode::OK, &page(&state, &current, None, form))
}

/// `POST /admin/sso`: creates the connection, off; to its page.
pub async fn create(
    State(state): State<AppState>,
    client: Client,
    Confirmed(PageManager(current), _): Confirmed<PageManager, ToConnections>,
    Form(form): Form<ConnectionForm>,
) -> Response {
    let preset = Preset::parse(&form.preset).unwrap_or(Preset::Generic);
    let mut typed = Typed::for_preset(preset);
    let created = match form.apply(&mut typed) {
        Ok(()) => flows::create(&state, &current, &client, &typed, form.secret().unwrap_or_default()).await,
        Err(error) => Err(error),
    };
    match created {
        Ok(connection) => see_other(&format!("/admin/sso/{}?notice=sso_created", connection.id)),
        Err(error) => {
            let mut refused = page(
                &state,
                &current,
                None,
                ConnectionForm {
                    client_secret: String::new(),
                    ..form
                },
            );
            refused.error = Some(error.message.clone());
            failed(&error, &refused)
        }
    }
}

/// `GET /admin/sso/{id}`.
pub async fn show(
    State(state): State<AppState>,
    PageManager(current): PageManager,
    Path(id): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Response {
    match flows::connection(&state, &current.user.org, &id) {
        Ok(connection) => {
            let mut shown = page(
                &state,
                &current,
                Some(&connection),
                ConnectionForm::of(&Typed::of(&connection.settings)),
            );
            shown.notice = notice(query.notice.as_deref());
            render(StatusCode::OK, &shown)
        }
        Err(error) => error_page(&error),
    }
}

/// `POST /admin/sso/{id}`: changes the settings (the secret only when
/// one is typed).
pub async fn change(
    State(state): State<AppState>,
    client: Client,
    Confirmed(PageManager(current), _): Confirmed<PageManager, ToConnection>,
    Path(id): Path<String>,
    Form(form): Form<ConnectionForm>,
) -> Response {
    let mut wrong = None;
    let changed = flows::change(
        &state,
        &current,
        &client,
        &id,
        |typed| {
            if let Err(error) = form.apply(typed) {
                wrong = Some(error);
            }
        },
        form.secret(),
    )
    .await;
    let changed = match wrong {
        Some(error) => Err(error),
        None => changed,
    };
    match changed {
        Ok(connection) => see_other(&format!("/admin/sso/{}?notice=sso_changed", connection.id)),
        Err(error) => match flows::connection(&state, &current.user.org, &id) {
            Ok(connection) => {
                let mut refused = page(
                    &state,
                    &current,
                    Some(&connection),
                    ConnectionForm {
                        client_secret: String::new(),
                        ..form
                    },
                );
                refused.error = Some(error.message.clone());
                failed(&error, &refused)
            }
            Err(error) => error_page(&error),
        },
    }
}

/// `POST /admin/sso/{id}/domains/{domain}/acknowledge` (owners).
pub async fn acknowledge(
    State(state): State<AppState>,
    client: Client,
    Confirmed(PageManager(current), _): Confirmed<PageManager, ToConnection>,
    Path((id, domain)): Path<(String, String)>,
) -> Response {
    match flows::acknowledge(&state, &current, &client, &id, &domain).await {
        Ok(_) => see_other(&format!("/admin/sso/{id}?notice=sso_acknowledged")),
        Err(error) => error_page(&error),
    }
}

/// `POST /admin/sso/{id}/enable`.
pub async fn enable(
    State(state): State<AppState>,
    client: Client,
    Confirmed(PageManager(current), _): Confirmed<PageManager, ToConnection>,
    Path(id): Path<String>,
) -> Response {
    match flows::set_enabled(&state, &current, &client, &id, true).await {
        Ok(_) => see_other(&format!("/admin/sso/{id}?notice=sso_enabled")),
        Err(error) => error_page(&error),
    }
}

/// `POST /admin/sso/{id}/disable`: no recent sign-in needed (it only
/// stops sign-ins).
pub async fn disable(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Path(id): Path<String>,
) -> Response {
    match flows::set_enabled(&state, &current, &client, &id, false).await {
        Ok(_) => see_other(&format!("/admin/sso/{id}?notice=sso_disabled")),
        Err(error) => error_page(&error),
    }
}

/// `POST /admin/sso/{id}/remove`: a disabled connection.
pub async fn remove(
    State(state): State<AppState>,
    client: Client,
    Confirmed(PageManager(current), _): Confirmed<PageManager, ToConnection>,
    Path(id): Path<String>,
) -> Response {
    match flows::remove(&state, &current, &client, &id).await {
        Ok(()) => see_other("/admin/sso?notice=sso_removed"),
        Err(error) => error_page(&error),
    }
}

/// `POST /admin/sso/{id}/test`: a real sign-in at the provider whose
/// result is shown (the claims, what the mapping makes of them) and
/// nobody signed in.
pub async fn test(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Path(id): Path<String>,
) -> Response {
    let connection = match flows::connection(&state, &current.user.org, &id) {
        Ok(connection) => connection,
        Err(error) => return error_page(&error),
    };
    let Upstream::Oidc(_) = &connection.settings.upstream;
    let tester = crate::flows::sso_sign_in::Purpose::Test {
        user: &current.user.id,
        org: &current.user.org,
    };
    let started = crate::flows::sso_sign_in::start(&state, &client, &connection, "/", None, tester).await;
    super::sso::onwards(&state, &connection.settings.name, started)
}
