//! Changing one's sign-in address: the settings form (after a recent
//! strong authentication) and the page the verification link opens, which
//! asks to confirm (opening a link changes nothing: mail scanners open
//! links).

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use serde::Deserialize;
use warden_projections::projection::read;

use super::confirmed::{Confirmed, ReturnTo};
use super::{Nav, NoticeQuery, PageSession, Place, failed, notice, render, see_other};
use crate::error::ApiError;
use crate::flows;
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

/// Back to the address form.
pub struct ToEmailSettings;

impl ReturnTo for ToEmailSettings {
    fn next(_: &Parts) -> String {
        "/settings/email".into()
    }
}

#[derive(Template)]
#[template(path = "email_settings.html")]
struct SettingsPage {
    nav: Nav,
    /// The address a change waits to move to.
    waiting: Option<String>,
    typed: String,
    error: Option<String>,
    notice: Option<String>,
}

fn settings_page(state: &AppState, current: &CurrentSession, typed: String) -> SettingsPage {
    let nav = Nav::of(current, Place::Address);
    SettingsPage {
        nav,
        waiting: read(&state.models.email_changes)
            .waiting(&current.user.id)
            .map(str::to_string),
        typed,
        error: None,
        notice: None,
    }
}

pub async fn form(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Query(query): Query<NoticeQuery>,
) -> Response {
    let page = SettingsPage {
        notice: notice(query.notice.as_deref()),
        ..settings_page(&state, &current, String::new())
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct EmailForm {
    email: String,
}

pub async fn submit(
    State(state): State<AppState>,
    client: Client,
    Confirmed(PageSession(current), _): Confirmed<PageSession, ToEmailSettings>,
    Form(form): Form<EmailForm>,
) -> Response {
    match flows::email_change::request(&state, &current, &client, form.email.trim()).await {
        Ok(_) => see_other("/settings/email?notice=email_change_sent"),
        Err(error) => failed(
            &error,
            &SettingsPage {
                error: Some(error.message.clone()),
                ..settings_page(&state, &current, form.email)
            },
        ),
    }
}

#[derive(Template)]
#[template(path = "verify_email.html")]
struct VerifyPage {
    token: String,
    email: String,
    valid: bool,
    error: Option<String>,
    notice: Option<String>,
}

fn invalid(error: &ApiError) -> VerifyPage {
    VerifyPage {
        token: String::new(),
        email: String::new(),
        valid: false,
        error: Some(error.message.clone()),
        notice: None,
    }
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// The link's page: what it would change, and a button to confirm.
pub async fn verify_form(State(state): State<AppState>, client: Client, Query(query): Query<TokenQuery>) -> Response {
    match flows::email_change::look_up(&state, &client, &query.token) {
        Ok(email) => render(
            StatusCode::OK,
            &VerifyPage {
                token: query.token,
                email,
                valid: true,
                error: None,
                notice: None,
            },
        ),
        Err(error) => failed(&error, &invalid(&error)),
    }
}

#[derive(Deserialize)]
pub struct VerifyForm {
    token: String,
}

pub async fn verify_submit(State(state): State<AppState>, client: Client, Form(form): Form<VerifyForm>) -> Response {
    match flows::email_change::verify(&state, &client, &form.token).await {
        Ok(_) => see_other("/sign-in?notice=email_changed"),
        Err(error) => failed(&error, &invalid(&error)),
    }
}
