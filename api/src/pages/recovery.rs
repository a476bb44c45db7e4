//! Forgotten passwords (decision 0028): asking for a reset link, and the
//! page the link opens to choose a new password. Neither signs anyone
//! in: after the reset the user signs in as usual, second factor and all.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use warden_core::auth::password::Password;

use super::{failed, render, see_other};
use crate::flows;
use crate::state::AppState;
use crate::web::Client;

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct ForgotPage {
    email: String,
    sent: bool,
    error: Option<String>,
    notice: Option<String>,
}

pub async fn forgot_form() -> Response {
    let page = ForgotPage {
        email: String::new(),
        sent: false,
        error: None,
        notice: None,
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct ForgotForm {
    email: String,
}

/// Asks for a link; the same page for every address.
pub async fn forgot_submit(State(state): State<AppState>, client: Client, Form(form): Form<ForgotForm>) -> Response {
    // As a browser's email field would send it.
    let email = form.email.trim().to_string();
    match flows::recovery::start(&state, &client, &email).await {
        Ok(()) => render(
            StatusCode::OK,
            &ForgotPage {
                email,
                sent: true,
                error: None,
                notice: None,
            },
        ),
        Err(error) => failed(
            &error,
            &ForgotPage {
                email: form.email,
                sent: false,
                error: Some(error.message.clone()),
                notice: None,
            },
        ),
    }
}

#[derive(Template)]
#[template(path = "reset_password.html")]
struct ResetPage {
    token: String,
    email: String,
    valid: bool,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// The link's page: the new-password form, or why the link resets
/// nothing. Opening it uses nothing up (mail scanners open links).
pub async fn reset_form(State(state): State<AppState>, client: Client, Query(query): Query<TokenQuery>) -> Response {
    match flows::recovery::look_up(&state, &client, &query.token) {
        Ok(email) => render(
            StatusCode::OK,
            &ResetPage {
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

fn invalid(error: &crate::error::ApiError) -> ResetPage {
    ResetPage {
        token: String::new(),
        email: String::new(),
        valid: false,
        error: Some(error.message.clone()),
        notice: None,
    }
}

#[derive(Deserialize)]
pub struct ResetForm {
    token: String,
    password: String,
}

pub async fn reset_submit(State(state): State<AppState>, client: Client, Form(form): Form<ResetForm>) -> Response {
    let password = Password::new(form.password);
    match flows::recovery::finish(&state, &client, &form.token, &password).await {
        Ok(()) => see_other("/sign-in?notice=password_reset"),
        Err(error) => match flows::recovery::look_up(&state, &client, &form.token) {
            // The link still works (a weak password): the form again.
            Ok(email) => failed(
                &error,
                &ResetPage {
                    token: form.token,
                    email,
                    valid: true,
                    error: Some(error.message.clone()),
                    notice: None,
                },
            ),
            Err(_) => failed(&error, &invalid(&error)),
        },
    }
}
