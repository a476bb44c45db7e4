//! Signing in with a code by email (decision 0028): the address form, the
//! code form, and the email's link, which fills the code in on the
//! browser that asked for it only.
//!
//! The link carries the code's id and the code. A cookie set when the code
//! was asked for (the id and the address, HttpOnly, as long as the code
//! lives) tells this browser from any other: opened elsewhere (a phone's
//! mail app, a scanner that follows every link), the link shows the
//! address form and uses nothing up. Even on the right browser it only
//! fills the form: a code is spent by a person's POST, never by a GET.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::{failed, local_path, render, sign_in::signed_in};
use crate::flows;
use crate::state::AppState;
use crate::web::Client;

const COOKIE: &str = "warden_email_code";

#[derive(Template)]
#[template(path = "sign_in_email.html")]
struct AddressPage {
    next: String,
    email: String,
    minutes: u64,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "sign_in_email_code.html")]
struct CodePage {
    next: String,
    email: String,
    code: String,
    minutes: u64,
    error: Option<String>,
    notice: Option<String>,
}

fn minutes(state: &AppState) -> u64 {
    state.email_codes.config.policy.ttl.as_secs().div_ceil(60)
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn form(State(state): State<AppState>, Query(query): Query<NextQuery>) -> Response {
    let page = AddressPage {
        next: local_path(query.next.as_deref().unwrap_or("/")).to_string(),
        email: String::new(),
        minutes: minutes(&state),
        error: None,
        notice: None,
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct AddressForm {
    email: String,
    #[serde(default)]
    next: String,
}

/// Asks for a code; answers the code form (the same for every address).
pub async fn submit(State(state): State<AppState>, client: Client, Form(form): Form<AddressForm>) -> Response {
    let next = local_path(&form.next).to_string();
    // As a browser's email field would send it.
    let email = form.email.trim();
    match flows::email_sign_in::start(&state, &client, email).await {
        Ok(id) => {
            let page = CodePage {
                next,
                email: form.email.trim().to_string(),
                code: String::new(),
                minutes: minutes(&state),
                error: None,
                notice: None,
            };
            let mut response = render(StatusCode::OK, &page);
            let value = format!("{id}.{}", URL_SAFE_NO_PAD.encode(page.email.as_bytes()));
            let max_age = state.email_codes.config.policy.ttl.as_secs();
            let cookie = format!(
                "{}={value}; Path=/sign-in/email; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
                COOKIE,
                if state.web.secure_cookies { "; Secure" } else { "" }
            );
            if let Ok(cookie) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(error) => failed(
            &error,
            &AddressPage {
                next,
                email: form.email,
                minutes: minutes(&state),
                error: Some(error.message.clone()),
                notice: None,
            },
        ),
    }
}

#[derive(Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    id: String,
    #[serde(default)]
    code: String,
}

/// The email's link: the code form filled in on the browser that asked
/// for the code; the address form anywhere else.
pub async fn link(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<LinkQuery>) -> Response {
    let asked = asked_here(&headers).filter(|(id, _)| !query.id.is_empty() && *id == query.id);
    match asked {
        Some((_, email)) => render(
            StatusCode::OK,
            &CodePage {
                next: "/".into(),
                email,
                code: query.code.chars().filter(char::is_ascii_alphanumeric).take(16).collect(),
                minutes: minutes(&state),
                error: None,
                notice: Some("Your code is filled in: sign in to go on.".into()),
            },
        ),
        None => render(
            StatusCode::OK,
            &AddressPage {
                next: "/".into(),
                email: String::new(),
                minutes: minutes(&state),
                error: None,
                notice: Some(
                    "This link works only in the browser where the code was asked for. Type the code there, or ask for a new one here."
                        .into(),
                ),
            },
        ),
    }
}

/// The code's id and the address this browser asked a code for.
fn asked_here(headers: &HeaderMap) -> Option<(String, String)> {
    crate::web::cookie::read(headers, COOKIE).and_then(|value| {
        let (id, email) = value.split_once('.')?;
        let email = String::from_utf8(URL_SAFE_NO_PAD.decode(email).ok()?).ok()?;
        Some((id.to_string(), email))
    })
}

#[derive(Deserialize)]
pub struct CodeForm {
    email: String,
    code: String,
    #[serde(default)]
    next: String,
}

pub async fn finish(State(state): State<AppState>, client: Client, Form(form): Form<CodeForm>) -> Response {
    let next = local_path(&form.next).to_string();
    match flows::email_sign_in::finish(&state, &client, form.email.trim(), &form.code).await {
        Ok(session) => {
            let mut response = signed_in(&state, &session, &next);
            let clear = format!("{COOKIE}=; Path=/sign-in/email; Max-Age=0; HttpOnly; SameSite=Lax");
            if let Ok(clear) = HeaderValue::from_str(&clear) {
                response.headers_mut().append(header::SET_COOKIE, clear);
            }
            response
        }
        Err(error) => failed(
            &error,
            &CodePage {
                next,
                email: form.email,
                code: String::new(),
                minutes: minutes(&state),
                error: Some(error.message.clone()),
                notice: None,
            },
        ),
    }
}
