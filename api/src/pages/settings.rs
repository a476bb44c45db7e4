//! The user's own settings: sessions (with revoke and "sign out all other
//! devices"), password, and the time zone pages show times in.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use warden_core::auth::password::Password;
use warden_core::commands::session::RevocationReason;
use warden_projections::projection::read;

use super::when::{self, When, Zone};
use super::{Nav, NoticeQuery, PageSession, Place, failed, notice, render, see_other};
use crate::flows::account;
use crate::state::AppState;
use crate::web::session::CurrentSession;
use crate::web::{Client, cookie};

struct SessionRow {
    id: String,
    current: bool,
    browser: String,
    os: String,
    form: String,
    ip: String,
    created_at: When,
    last_seen: When,
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    nav: Nav,
    sessions: Vec<SessionRow>,
    zone: String,
    error: Option<String>,
    notice: Option<String>,
}

fn sessions_page(
    state: &AppState,
    current: &CurrentSession,
    error: Option<String>,
    notice: Option<String>,
) -> SessionsPage {
    let nav = Nav::of(current, Place::Sessions);
    let zone = Zone::of(current.user.time_zone.as_deref());
    let sessions = read(&state.models.sessions)
        .live_of_user(&current.user.id, chrono::Utc::now())
        .into_iter()
        .map(|session| SessionRow {
            id: session.id.clone(),
            current: session.id == current.session.id,
            browser: session.device.browser.clone(),
            os: session.device.os.clone(),
            form: session.device.form.clone(),
            ip: session.ip.clone().unwrap_or_else(|| "unknown".into()),
            created_at: zone.when(&session.created_at),
            last_seen: zone.when(&session.last_seen),
        })
        .collect();
    SessionsPage {
        nav,
        sessions,
        zone: zone.name().to_string(),
        error,
        notice,
    }
}

pub async fn sessions(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Query(query): Query<NoticeQuery>,
) -> Response {
    render(
        StatusCode::OK,
        &sessions_page(&state, &current, None, notice(query.notice.as_deref())),
    )
}

pub async fn revoke(
    State(state): State<AppState>,
    client: Client,
    PageSession(current): PageSession,
    Path(id): Path<String>,
) -> Response {
    match account::revoke(&state, &current, &client, &id, RevocationReason::RevokedByUser).await {
        Ok(()) => see_other("/settings/sessions?notice=revoked"),
        Err(error) => failed(
            &error,
            &sessions_page(&state, &current, Some(error.message.clone()), None),
        ),
    }
}

pub async fn revoke_others(
    State(state): State<AppState>,
    client: Client,
    PageSession(current): PageSession,
) -> Response {
    match account::revoke_others(&state, &current, &client).await {
        Ok(_) => see_other("/settings/sessions?notice=revoked_others"),
        Err(error) => failed(
            &error,
            &sessions_page(&state, &current, Some(error.message.clone()), None),
        ),
    }
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    nav: Nav,
    error: Option<String>,
    notice: Option<String>,
}

fn password_page(current: &CurrentSession, error: Option<String>) -> PasswordPage {
    let nav = Nav::of(current, Place::Password);
    PasswordPage {
        nav,
        error,
        notice: None,
    }
}

pub async fn password_form(PageSession(current): PageSession) -> Response {
    render(StatusCode::OK, &password_page(&current, None))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
}

pub async fn password_submit(
    State(state): State<AppState>,
    client: Client,
    PageSession(current): PageSession,
    Form(form): Form<PasswordForm>,
) -> Response {
    let (old, new) = (Password::new(form.current_password), Password::new(form.new_password));
    match account::change_password(&state, &current, &client, &old, &new).await {
        Ok(session) => {
            let mut response = see_other("/settings/sessions?notice=password_changed");
            response.headers_mut().append(
                header::SET_COOKIE,
                cookie::issue(&state.web, &session.cookie, session.expires_at),
            );
            response.into_response()
        }
        Err(error) => failed(&error, &password_page(&current, Some(error.message.clone()))),
    }
}

#[derive(Template)]
#[template(path = "time_zone.html")]
struct TimeZonePage {
    nav: Nav,
    /// The user's zone, `UTC` by default.
    current: String,
    /// Whether they chose one (else the page offers the browser's).
    chosen: bool,
    zones: &'static [String],
    /// A time in the zone, as pages will show it.
    example: When,
    error: Option<String>,
    notice: Option<String>,
}

fn time_zone_page(current: &CurrentSession, error: Option<String>, notice: Option<String>) -> TimeZonePage {
    let zone = Zone::of(current.user.time_zone.as_deref());
    TimeZonePage {
        nav: Nav::of(current, Place::TimeZone),
        current: zone.name().to_string(),
        chosen: current.user.time_zone.is_some(),
        zones: when::zones(),
        example: zone.when(&chrono::Utc::now()),
        error,
        notice,
    }
}

/// `GET /settings/time-zone`: the zone pages show times in.
pub async fn time_zone_form(PageSession(current): PageSession, Query(query): Query<NoticeQuery>) -> Response {
    render(
        StatusCode::OK,
        &time_zone_page(&current, None, notice(query.notice.as_deref())),
    )
}

#[derive(Deserialize)]
pub struct TimeZoneForm {
    time_zone: String,
}

/// `POST /settings/time-zone`.
pub async fn time_zone_submit(
    State(state): State<AppState>,
    client: Client,
    PageSession(current): PageSession,
    Form(form): Form<TimeZoneForm>,
) -> Response {
    match account::change_time_zone(&state, &current, &client, &form.time_zone, when::known).await {
        Ok(()) => see_other("/settings/time-zone?notice=time_zone_changed"),
        Err(error) => failed(&error, &time_zone_page(&current, Some(error.message.clone()), None)),
    }
}
