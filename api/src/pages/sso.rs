//! Single sign-on in the browser: a connection's button
//! (`GET /sso/start?connection=…`), the sign-in page's "Use single
//! sign-on" (the address's domain picks the connection), and the
//! provider's way back (`GET /sso/callback`). The flow's state lives in a
//! cookie of the browser that started it (`warden_sso`, ten minutes,
//! `SameSite=Lax` so the provider's redirect carries it).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::sign_in::signed_in;
use super::{error_page, local_path, render, see_other, with_cookie};
use crate::error::{ApiError, Code};
use crate::flows::sso_sign_in::{self as flows, Callback, Ended};
use crate::state::AppState;
use crate::web::{Client, cookie};

/// The cookie that holds a flow.
const COOKIE: &str = "warden_sso";

#[derive(Deserialize)]
pub struct StartQuery {
    #[serde(default)]
    connection: String,
    #[serde(default)]
    next: String,
}

/// `GET /sso/start?connection=…`: to the connection's provider.
pub async fn start(State(state): State<AppState>, client: Client, Query(query): Query<StartQuery>) -> Response {
    let next = local_path(&query.next).to_string();
    let Some(connection) = flows::enabled(&state, &query.connection) else {
        return error_page(&ApiError::new(
            StatusCode::NOT_FOUND,
            Code::NotFound,
            "no single sign-on connection by that id signs people in: sign in another way",
        ));
    };
    redirect(
        &state,
        flows::start(&state, &client, &connection, &next, None, flows::Purpose::SignIn).await,
    )
}

/// The sign-in page's "Use single sign-on": the connection serving the
/// address's domain, or the sign-in page again saying there is none.
pub(super) async fn by_email(state: &AppState, client: &Client, email: &str, next: &str) -> Option<Response> {
    let connection = flows::serving(state, email)?;
    let hint = Some(email.trim());
    let started = flows::start(state, client, &connection, next, hint, flows::Purpose::SignIn).await;
    Some(onwards(state, &connection.settings.name, started))
}

#[derive(Template)]
#[template(path = "sso_continue.html")]
struct ContinuePage<'a> {
    name: &'a str,
    location: &'a str,
    /// To sign out there too, not to sign in.
    signing_out: bool,
}

/// The page that takes the browser on to `location` at provider `name`
/// by itself (after a form's post; see [`onwards`]).
fn continuing(name: &str, location: &str, signing_out: bool) -> Response {
    render(
        StatusCode::OK,
        &ContinuePage {
            name,
            location,
            signing_out,
        },
    )
}

/// After signing out: on to the provider to sign out there too, when
/// the session's connection asks for it (the sign-out form's answer, so
/// a page that goes on by itself), else the sign-in page.
pub(super) async fn after_sign_out(state: &AppState, session: &warden_projections::sessions::Session) -> Response {
    match flows::sign_out::at_provider(state, session).await {
        Some((name, location)) => continuing(&name, &location, true),
        None => see_other("/sign-in?notice=signed_out"),
    }
}

/// `GET /sso/signed-out`: where a provider sends the browser back after
/// signing it out.
pub async fn signed_out() -> Response {
    see_other("/sign-in?notice=signed_out")
}

/// To the provider after a form's post: a page that goes on by itself.
/// The pages' `form-action 'self'` forbids a form's answer to redirect
/// to another site, and the policy stays; a navigation that is not a
/// form's may.
pub(super) fn onwards(state: &AppState, name: &str, started: Result<flows::Redirect, ApiError>) -> Response {
    match started {
        Ok(started) => with_flow(state, continuing(name, &started.location, false), &started.cookie),
        Err(error) => error_page(&error),
    }
}

/// To the provider (a link's navigation), with the flow's cookie.
fn redirect(state: &AppState, started: Result<flows::Redirect, ApiError>) -> Response {
    match started {
        Ok(started) => with_flow(state, see_other(&started.location), &started.cookie),
        Err(error) => error_page(&error),
    }
}

/// Sets the flow's cookie on `response`.
fn with_flow(state: &AppState, mut response: Response, flow: &str) -> Response {
    let cookie = format!(
        "{COOKIE}={flow}; Path=/sso; Max-Age=600; HttpOnly; SameSite=Lax{}",
        if state.web.secure_cookies { "; Secure" } else { "" }
    );
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    #[serde(default)]
    state: String,
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    iss: Option<String>,
}

#[derive(Template)]
#[template(path = "sso_test.html")]
struct TestPage {
    name: String,
    connection: String,
    passed: bool,
    /// What happened, in a sentence.
    result: String,
    claims: String,
}

/// `GET /sso/callback`: the provider's answer. Signed in, to where the
/// sign-in was going; refused, a page that says it failed and gives the
/// request id (the audit trail says why, to the org's admins).
pub async fn callback(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let cookie = flow_cookie(&headers);
    let answer = Callback {
        state: &query.state,
        code: query.code.as_deref(),
        error: query.error.as_deref(),
        error_description: query.error_description.as_deref(),
        iss: query.iss.as_deref(),
    };
    let mut response = match flows::callback(&state, &client, cookie.as_deref(), &answer).await {
        Ok(Ended::SignedIn { issued, next }) => signed_in(&state, &issued, local_path(&next)),
        Ok(Ended::Confirmed { issued, next }) => {
            let back = super::reauthenticate::back_to(local_path(&next));
            with_cookie(&state, &issued, see_other(&back))
        }
        Ok(Ended::Tested(tested)) => {
            let (passed, result) = match &tested.outcome {
                Ok(succeeded) => (
                    true,
                    format!(
                        "{} would {} as {}{}.",
                        succeeded.email.as_deref().unwrap_or(&succeeded.subject),
                        match succeeded.result {
                            warden_core::commands::sso::sign_in::SignInResult::SignedIn => "sign in",
                            warden_core::commands::sso::sign_in::SignInResult::Linked =>
                                "be linked to their account and sign in",
                            warden_core::commands::sso::sign_in::SignInResult::Provisioned =>
                                "get a new account and sign in",
                            warden_core::commands::sso::sign_in::SignInResult::Reauthenticated => "confirm it's them",
                        },
                        succeeded.role.as_str(),
                        if succeeded.upstream_mfa {
                            ", the provider having checked a second factor"
                        } else {
                            ""
                        }
                    ),
                ),
                Err(failed) => (false, format!("{} ({})", failed.detail, failed.reason.as_str())),
            };
            render(
                StatusCode::OK,
                &TestPage {
                    name: tested.name.clone(),
                    connection: tested.connection.clone(),
                    passed,
                    result,
                    claims: format!("{:#}", tested.claims),
                },
            )
        }
        Ok(Ended::Failed { name, .. }) => {
            let message = match name {
                Some(name) if !name.is_empty() => format!(
                    "Signing in with {name} did not work. Try again; if it keeps failing, your administrator can see why in the audit trail."
                ),
                _ => "This sign-in was not started in this browser, or it took too long. Start again from the sign-in page.".to_string(),
            };
            error_page(&ApiError::new(StatusCode::FORBIDDEN, Code::Forbidden, message))
        }
        Err(error) => error_page(&error),
    };
    let clear = format!("{COOKIE}=; Path=/sso; Max-Age=0; HttpOnly; SameSite=Lax");
    if let Ok(clear) = HeaderValue::from_str(&clear) {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    response
}

/// The flow's cookie, when the browser sent one.
fn flow_cookie(headers: &HeaderMap) -> Option<String> {
    cookie::read(headers, COOKIE)
        .filter(|value| !value.is_empty())
        .map(str::to_string)
}
