//! "Confirm it's you": a recent strong authentication before a sensitive
//! action, then back to the page (or the very link) that asked for it.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use warden_core::auth::mfa_policy::Method;
use warden_core::auth::password::Password;
use warden_core::commands::sso::Connection;
use warden_projections::projection::read;

use super::mfa::NextQuery;
use super::resume;
use super::{Nav, PageSession, Place, failed, local_path, notice, render, see_other, with_cookie};
use crate::error::{ApiError, Code};
use crate::flows::read::org_rules as read_rules;
use crate::flows::{mfa, sso_sign_in, step_up};
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

#[derive(Template)]
#[template(path = "reauthenticate.html")]
struct ReauthenticatePage {
    nav: Nav,
    next: String,
    /// The form that asked for the confirmation, sealed: finished after it.
    pending: Option<String>,
    second_factor: bool,
    passkeys: bool,
    /// The user has a password.
    password: bool,
    /// The single sign-on connection that signed the session in, when
    /// confirming through it would do (`auth::sso::step_up`): its name.
    provider: Option<String>,
    error: Option<String>,
    notice: Option<String>,
}

/// The connection that signed `current`'s session in, if it is on and
/// its answer could confirm: the user has no second factor, or an owner
/// trusts the provider's.
fn confirming_connection(state: &AppState, current: &CurrentSession) -> Option<Connection> {
    let connection = sso_sign_in::enabled(state, current.session.sso_connection.as_deref()?)?;
    let trusted = || {
        read_rules(state, &current.user.org)
            .mfa
            .rule(Method::Oidc)
            .trust_upstream_mfa
            .is_some()
    };
    let has_second_factor = read(&state.models.mfa).factors(&current.user.id).has_second_factor();
    (connection.org == current.user.org && (!has_second_factor || trusted())).then_some(connection)
}

fn reauthenticate_page(
    state: &AppState,
    current: &CurrentSession,
    next: &str,
    error: Option<String>,
    notice: Option<String>,
    pending: Option<String>,
) -> ReauthenticatePage {
    let nav = Nav::of(current, Place::Elsewhere);
    let factors = read(&state.models.mfa).factors(&current.user.id);
    let password = read(&state.models.accounts)
        .user(&current.user.id)
        .is_some_and(|user| user.password.is_some());
    ReauthenticatePage {
        nav,
        next: next.to_string(),
        pending,
        second_factor: factors.has_second_factor(),
        passkeys: !factors.passkeys.is_empty(),
        password,
        provider: confirming_connection(state, current).map(|connection| connection.settings.name),
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
    let next = local_path(query.next.as_deref().unwrap_or("/"));
    render(
        StatusCode::OK,
        &reauthenticate_page(&state, &current, next, None, notice(query.notice.as_deref()), None),
    )
}

/// "Confirm it's you" in answer to a form's post, holding the form
/// (`pending`, sealed) to finish once confirmed; `back` if abandoned.
pub fn with_pending(state: &AppState, current: &CurrentSession, back: &str, pending: &str) -> Response {
    let page = reauthenticate_page(
        state,
        current,
        local_path(back),
        None,
        notice(Some("reauthenticate")),
        Some(pending.to_string()),
    );
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct ReauthenticateForm {
    code: Option<String>,
    password: Option<String>,
    #[serde(default)]
    next: String,
    pending: Option<String>,
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
            let pending = match &form.pending {
                Some(text) => resume::open(&state, text, &current.session.id)
                    .await
                    .map(|pending| (pending, text)),
                None => None,
            };
            let answer = match pending {
                Some((pending, sealed)) => {
                    resume::finish_page(&current, session.csrf_token.clone(), &pending, sealed, &next)
                }
                None => see_other(&back_to(&next)),
            };
            with_cookie(&state, &session, answer)
        }
        Err(error) => {
            let page = reauthenticate_page(&state, &current, &next, Some(error.message.clone()), None, form.pending);
            failed(&error, &page)
        }
    }
}

#[derive(Deserialize)]
pub struct ProviderForm {
    #[serde(default)]
    next: String,
}

/// `POST /settings/reauthenticate/sso`: to the provider that signed the
/// session in, asked to authenticate the user again; its answer comes
/// back to `/sso/callback`, which elevates this session and returns to
/// `next`. A form kept for the confirmation is not kept this way (the
/// flow's cookie holds no more than it must): the action is done again.
pub async fn with_provider(
    State(state): State<AppState>,
    client: Client,
    PageSession(current): PageSession,
    Form(form): Form<ProviderForm>,
) -> Response {
    let next = local_path(&form.next).to_string();
    let Some(connection) = confirming_connection(&state, &current) else {
        let error = ApiError::new(
            StatusCode::CONFLICT,
            Code::Conflict,
            "this session was not signed in by a single sign-on connection that can confirm it's you: use your password or second factor",
        );
        let page = reauthenticate_page(&state, &current, &next, Some(error.message.clone()), None, None);
        return failed(&error, &page);
    };
    let purpose = sso_sign_in::Purpose::Confirm {
        user: &current.user.id,
        org: &current.user.org,
        session: &current.session.id,
    };
    let started = sso_sign_in::start(&state, &client, &connection, &next, Some(&current.user.email), purpose).await;
    super::sso::onwards(&state, &connection.settings.name, started)
}

/// Where a confirmation with nothing pending returns: `next` as it was
/// (a link's query is its own: an export's refuses unknown fields), with
/// the thanks only on a plain page.
pub(super) fn back_to(next: &str) -> String {
    if next.contains('?') {
        next.to_string()
    } else {
        format!("{next}?notice=reauthenticated")
    }
}

#[derive(Deserialize)]
pub struct PendingForm {
    pending: String,
    #[serde(default)]
    next: String,
}

/// `POST /settings/reauthenticate/pending`: after a passkey confirmed it's
/// them (the script's ceremony), the form that was waiting, to finish.
pub async fn pending(
    State(state): State<AppState>,
    PageSession(current): PageSession,
    Form(form): Form<PendingForm>,
) -> Response {
    let next = local_path(&form.next).to_string();
    match resume::open(&state, &form.pending, &current.session.id).await {
        Some(pending) => resume::finish_page(&current, current.csrf_token(), &pending, &form.pending, &next),
        None => see_other(&back_to(&next)),
    }
}

#[cfg(test)]
mod tests {
    use super::back_to;

    #[test]
    fn a_link_with_a_query_is_returned_to_as_it_was() {
        assert_eq!(back_to("/settings/mfa"), "/settings/mfa?notice=reauthenticated");
        assert_eq!(
            back_to("/audit/export?format=csv&kind=login.*"),
            "/audit/export?format=csv&kind=login.*"
        );
    }
}
