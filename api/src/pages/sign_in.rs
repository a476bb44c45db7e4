//! The sign-in, sign-out, setup and invitation pages.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use warden_core::auth::password::Password;

use super::{PageAnySession, failed, local_path, notice, render, see_other};
use crate::error::Code;
use crate::flows::issued::Issued;
use crate::flows::setup::SetupInput;
use crate::flows::users::InvitationView;
use crate::flows::{self, account};
use crate::state::AppState;
use crate::web::session::CurrentSession;
use crate::web::{Client, cookie};
use warden_projections::projection::read;

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    next: String,
    email: String,
    /// Sign-in by email code is possible (a mail server is configured).
    email_codes: bool,
    /// The org's own sign-in address (`/sign-in/org/{slug}`): its name
    /// and its single sign-on buttons.
    org: Option<Entrance>,
    error: Option<String>,
    notice: Option<String>,
}

/// An org's sign-in page: the org, and a button per connection that is
/// on (where it starts, its name).
struct Entrance {
    name: String,
    connections: Vec<(String, String)>,
}

impl SignInPage {
    /// The page before anything is typed.
    fn blank(state: &AppState, next: String, org: Option<Entrance>, query: &SignInQuery) -> Self {
        SignInPage {
            next,
            email: String::new(),
            email_codes: state.email_codes.available,
            org,
            error: None,
            notice: notice(query.notice.as_deref()),
        }
    }
}

#[derive(Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
    notice: Option<String>,
}

pub async fn form(
    State(state): State<AppState>,
    current: Option<axum::Extension<CurrentSession>>,
    Query(query): Query<SignInQuery>,
) -> Response {
    let next = local_path(query.next.as_deref().unwrap_or("/")).to_string();
    if current.is_some() {
        return see_other(&next);
    }
    render(StatusCode::OK, &SignInPage::blank(&state, next, None, &query))
}

/// `GET /sign-in/org/{slug}`: the org's own sign-in page, with a button
/// for each of its single sign-on connections that is on, above the
/// usual form (owners' break-glass, and orgs that do not require single
/// sign-on). An org not found is the same 404 whatever the slug.
pub async fn org_form(
    State(state): State<AppState>,
    current: Option<axum::Extension<CurrentSession>>,
    Path(slug): Path<String>,
    Query(query): Query<SignInQuery>,
) -> Response {
    let next = local_path(query.next.as_deref().unwrap_or("/")).to_string();
    if current.is_some() {
        return see_other(&next);
    }
    let Some(org) = read(&state.models.accounts).org_by_slug(&slug).cloned() else {
        return super::error_page(&crate::error::ApiError::new(
            StatusCode::NOT_FOUND,
            Code::NotFound,
            "no organization signs in at this address: check the link, or sign in at /sign-in",
        ));
    };
    let connections = read(&state.models.sso)
        .connections_of(&org.id)
        .filter(|connection| connection.enabled)
        .map(|connection| {
            let query = serde_urlencoded::to_string([("connection", connection.id.as_str()), ("next", &next)]);
            (
                format!("/sso/start?{}", query.unwrap_or_default()),
                connection.settings.name.clone(),
            )
        })
        .collect();
    let entrance = Entrance {
        name: org.name,
        connections,
    };
    render(StatusCode::OK, &SignInPage::blank(&state, next, Some(entrance), &query))
}

#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
    /// "Use single sign-on": the address's domain picks the connection.
    #[serde(default)]
    sso: Option<String>,
}

pub async fn submit(State(state): State<AppState>, client: Client, Form(form): Form<SignInForm>) -> Response {
    let next = local_path(&form.next).to_string();
    if form.sso.is_some() {
        if let Some(started) = super::sso::by_email(&state, &client, &form.email, &next).await {
            return started;
        }
        let domain = form
            .email
            .trim()
            .rsplit_once('@')
            .map_or("", |(_, domain)| domain)
            .to_string();
        let error = crate::error::ApiError::bad_request(format!(
            "No single sign-on is set up for {domain}: sign in with your password or a passkey."
        ));
        return refused(&state, &error, next, form.email);
    }
    let password = Password::new(form.password);
    match flows::sign_in::with_password(&state, &client, &form.email, &password).await {
        Ok(session) => signed_in(&state, &session, &next),
        Err(error) if error.code == Code::SsoRequired => {
            // The org signs its people in with its provider: on to it.
            match super::sso::by_email(&state, &client, &form.email, &next).await {
                Some(started) => started,
                None => refused(&state, &error, next, form.email),
            }
        }
        Err(error) => refused(&state, &error, next, form.email),
    }
}

/// The sign-in page again, with what was typed and why it did not work.
fn refused(state: &AppState, error: &crate::error::ApiError, next: String, email: String) -> Response {
    failed(
        error,
        &SignInPage {
            next,
            email,
            email_codes: state.email_codes.available,
            org: None,
            error: Some(error.message.clone()),
            notice: None,
        },
    )
}

/// Sets the cookie and goes on: to `next`, or first to the second-factor
/// prompt when the session is partial.
pub(super) fn signed_in(state: &AppState, session: &Issued, next: &str) -> Response {
    let mut response = match (&session.pending, session.enrolment_due) {
        (Some(pending), _) if pending.is_enrolment() => see_other("/settings/mfa?notice=enrol_required"),
        (Some(_), _) => see_other(&format!("/sign-in/mfa?next={next}")),
        (None, Some(_)) => see_other("/settings/mfa?notice=enrol_soon"),
        (None, None) => see_other(next),
    };
    response.headers_mut().append(
        header::SET_COOKIE,
        cookie::issue(&state.web, &session.cookie, session.expires_at),
    );
    response
}

pub async fn sign_out(
    State(state): State<AppState>,
    client: Client,
    PageAnySession(current): PageAnySession,
) -> Response {
    if let Err(error) = account::sign_out(&state, &current, &client).await {
        return error.into_response();
    }
    let mut response = super::sso::after_sign_out(&state, &current.session).await;
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookie::clear(&state.web));
    response
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    token: String,
    org_name: String,
    org_slug: String,
    display_name: String,
    email: String,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

pub async fn setup_form(State(state): State<AppState>, Query(query): Query<TokenQuery>) -> Response {
    let error = flows::setup::check_link(&state, &query.token).err();
    let page = SetupPage {
        token: query.token,
        org_name: String::new(),
        org_slug: String::new(),
        display_name: String::new(),
        email: String::new(),
        error: error.as_ref().map(|error| error.message.clone()),
        notice: None,
    };
    match error {
        Some(error) => failed(&error, &page),
        None => render(StatusCode::OK, &page),
    }
}

#[derive(Deserialize)]
pub struct SetupForm {
    token: String,
    org_name: String,
    org_slug: String,
    display_name: String,
    email: String,
    password: String,
}

pub async fn setup_submit(State(state): State<AppState>, client: Client, Form(form): Form<SetupForm>) -> Response {
    let input = SetupInput {
        token: form.token.clone(),
        org_name: form.org_name.clone(),
        org_slug: form.org_slug.clone(),
        email: form.email.clone(),
        display_name: form.display_name.clone(),
        password: Password::new(form.password),
    };
    match flows::setup::complete(&state, &client, input).await {
        Ok(session) => signed_in(&state, &session, "/admin/users"),
        Err(error) => failed(
            &error,
            &SetupPage {
                token: form.token,
                org_name: form.org_name,
                org_slug: form.org_slug,
                display_name: form.display_name,
                email: form.email,
                error: Some(error.message.clone()),
                notice: None,
            },
        ),
    }
}

#[derive(Template)]
#[template(path = "invitation.html")]
struct InvitationPage {
    token: String,
    /// `None`: the link is used, expired, or was never one.
    invitation: Option<InvitationView>,
    error: Option<String>,
    notice: Option<String>,
}

fn invitation_page(state: &AppState, token: String, error: Option<String>) -> InvitationPage {
    InvitationPage {
        invitation: flows::users::invitation(state, &token),
        token,
        error,
        notice: None,
    }
}

pub async fn invitation_form(State(state): State<AppState>, Query(query): Query<TokenQuery>) -> Response {
    let page = invitation_page(&state, query.token, None);
    let status = match page.invitation {
        Some(_) => StatusCode::OK,
        None => StatusCode::GONE,
    };
    render(status, &page)
}

#[derive(Deserialize)]
pub struct InvitationForm {
    token: String,
    password: String,
}

pub async fn invitation_submit(
    State(state): State<AppState>,
    client: Client,
    Form(form): Form<InvitationForm>,
) -> Response {
    let password = Password::new(form.password);
    match flows::users::accept_invitation(&state, &client, &form.token, &password).await {
        Ok(session) => signed_in(&state, &session, "/"),
        Err(error) => failed(
            &error,
            &invitation_page(&state, form.token, Some(error.message.clone())),
        ),
    }
}
