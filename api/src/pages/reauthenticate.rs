//! "Confirm it's you": a recent strong authentication before a sensitive
//! action, then back to the page (or the very link) that asked for it.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use warden_core::auth::password::Password;
use warden_projections::projection::read;

use super::mfa::NextQuery;
use super::{Nav, PageSession, failed, local_path, notice, render, see_other, with_cookie};
use crate::error::ApiError;
use crate::flows::{mfa, step_up};
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

#[derive(Template)]
#[template(path = "reauthenticate.html")]
struct ReauthenticatePage {
    csrf_token: String,
    user_email: String,
    manages_users: bool,
    reads_audit: bool,
    next: String,
    second_factor: bool,
    passkeys: bool,
    error: Option<String>,
    notice: Option<String>,
}

fn reauthenticate_page(
    state: &AppState,
    current: &CurrentSession,
    next: &str,
    error: Option<String>,
    notice: Option<String>,
) -> ReauthenticatePage {
    let nav = Nav::of(current);
    let factors = read(&state.models.mfa).factors(&current.user.id);
    ReauthenticatePage {
        csrf_token: nav.csrf_token,
        user_email: nav.user_email,
        manages_users: nav.manages_users,
        reads_audit: nav.reads_audit,
        next: next.to_string(),
        second_factor: factors.has_second_factor(),
        passkeys: !factors.passkeys.is_empty(),
        error,
        notice,
    }
}

/// `GET /settings/reauthenticate`: "confirm it's you", then back to `next`.
pub async fn page(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Query(query): Query<NextQuery>,
) -> Response {
    let next = local_path(query.next.as_deref().unwrap_or("/settings/sessions"));
    render(
        StatusCode::OK,
        &reauthenticate_page(&state, &current, next, None, notice(query.notice.as_deref())),
    )
}

#[derive(Deserialize)]
pub struct ReauthenticateForm {
    code: Option<String>,
    password: Option<String>,
    #[serde(default)]
    next: String,
}

pub async fn submit(
    State(state): State<AppState>,
    client: Client,
    PageSession(current): PageSession,
    Form(form): Form<ReauthenticateForm>,
) -> Response {
    let next = local_path(&form.next).to_string();
    let result = match (form.code, form.password) {
        (Some(code), _) => mfa::verify(&state, &current, &client, &code).await,
        (None, Some(password)) => {
            step_up::reauthenticate_with_password(&state, &current, &client, &Password::new(password)).await
        }
        (None, None) => Err(ApiError::bad_request("give a code or your password")),
    };
    match result {
        Ok(session) => {
            let separator = if next.contains('?') { '&' } else { '?' };
            with_cookie(
                &state,
                &session,
                see_other(&format!("{next}{separator}notice=reauthenticated")),
            )
        }
        Err(error) => failed(
            &error,
            &reauthenticate_page(&state, &current, &next, Some(error.message.clone()), None),
        ),
    }
}
