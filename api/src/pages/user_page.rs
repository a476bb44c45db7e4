//! One user of the org, for owners and admins: who they are, their role
//! and status (disabling asks first), their sessions (one or all signed
//! out), their second factors (reset when lost), a password reset link,
//! and, for owners, their recent events. Every action goes through the
//! same flow as the API's, and a step-up keeps the form
//! (`pages::resume`).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use warden_core::auth::role_grants;
use warden_core::commands::account::Status;
use warden_projections::projection::read;

use super::audit::Row;
use super::users::{RoleOption, role_options, second_factors};
use super::when::{When, Zone};
use super::{
    Nav, NoticeQuery, PageManager, Place, error_page, failed, notice, reauthenticate_first, render, see_other,
};
use crate::error::{ApiError, Code};
use crate::flows::{dashboard, recovery, users};
use crate::state::AppState;
use crate::web::session::CurrentSession;
use crate::web::{Client, Principal};

/// Events about the user shown on their page.
const RECENT_EVENTS: usize = 10;

struct SessionRow {
    id: String,
    device: String,
    ip: String,
    created_at: When,
    last_seen: When,
}

struct PasskeyRow {
    name: String,
    registered: When,
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    nav: Nav,
    id: String,
    email: String,
    display_name: String,
    role: &'static str,
    status: &'static str,
    created: When,
    created_by: String,
    /// The zone of the times shown.
    zone: String,
    /// Whether the manager may change the user (not themselves, a role
    /// theirs may act on).
    editable: bool,
    you: bool,
    role_options: Vec<RoleOption>,
    sessions: Vec<SessionRow>,
    totp: bool,
    passkeys: Vec<PasskeyRow>,
    backup_codes_left: Option<usize>,
    summary: String,
    reads_audit: bool,
    /// The latest events about the user, as sentences; why not, if they
    /// cannot be read.
    events: Vec<Row>,
    events_error: Option<String>,
    /// The reason typed in a refused recovery form, kept.
    reason: String,
    error: Option<String>,
    notice: Option<String>,
}

fn user_page(state: &AppState, manager: &CurrentSession, id: &str) -> Result<UserPage, ApiError> {
    let user = users::member(state, &manager.user.org, id)?;
    let accounts = read(&state.models.accounts);
    let created_by = match &user.created_by {
        Some(by) => accounts.user(by).map_or_else(
            || "a former user".to_string(),
            |by| format!("{} ({})", by.display_name, by.email),
        ),
        None if user.import_id.is_some() => "an import".into(),
        None => "Warden (setup or the operator)".into(),
    };
    drop(accounts);
    let own = manager.user.role;
    let zone = Zone::of(manager.user.time_zone.as_deref());
    let sessions = read(&state.models.sessions)
        .live_of_user(&user.id, chrono::Utc::now())
        .into_iter()
        .map(|session| SessionRow {
            id: session.id.clone(),
            device: format!(
                "{} on {} ({})",
                session.device.browser, session.device.os, session.device.form
            ),
            ip: session.ip.clone().unwrap_or_else(|| "unknown".into()),
            created_at: zone.when(&session.created_at),
            last_seen: zone.when(&session.last_seen),
        })
        .collect();
    let factors = read(&state.models.mfa).factors(&user.id);
    let you = user.id == manager.user.id;
    Ok(UserPage {
        nav: Nav::of(manager, Place::Users),
        editable: !you && role_grants::may_act_on(own, user.role),
        you,
        role_options: role_options(user.role, |role| role_grants::may_grant(own, role)),
        role: user.role.as_str(),
        status: user.status.as_str(),
        created: zone.when(&user.created_at),
        created_by,
        zone: zone.name().to_string(),
        sessions,
        totp: factors.totp.as_ref().is_some_and(|totp| totp.enrolled_at.is_some()),
        passkeys: factors
            .passkeys
            .iter()
            .map(|passkey| PasskeyRow {
                name: passkey.name.clone(),
                registered: zone.when(&passkey.registered_at),
            })
            .collect(),
        backup_codes_left: factors
            .backup_codes
            .as_ref()
            .map(|codes| codes.count.saturating_sub(codes.used.len())),
        summary: second_factors(state, &user.id),
        reads_audit: manager.user.role.reads_audit_trail(),
        events: Vec::new(),
        events_error: None,
        id: user.id,
        email: user.email,
        display_name: user.display_name,
        reason: String::new(),
        error: None,
        notice: None,
    })
}

/// `GET /admin/users/{id}`.
pub async fn show(
    State(state): State<AppState>,
    PageManager(current): PageManager,
    Path(id): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Response {
    match user_page(&state, &current, &id) {
        Ok(mut page) => {
            page.notice = notice(query.notice.as_deref());
            match dashboard::about_user(&state, &current.user.org, &page.id, RECENT_EVENTS).await {
                Ok(events) => page.events = events.iter().map(|event| Row::of(&state, &current, event)).collect(),
                Err(error) => page.events_error = Some(error.message),
            }
            render(StatusCode::OK, &page)
        }
        Err(error) => error_page(&error),
    }
}

#[derive(Template)]
#[template(path = "user_disable.html")]
struct DisablePage {
    nav: Nav,
    id: String,
    email: String,
    display_name: String,
    sessions: usize,
}

/// `GET /admin/users/{id}/disable`: "Disable this user?", with what it does.
pub async fn confirm_disable(
    State(state): State<AppState>,
    PageManager(current): PageManager,
    Path(id): Path<String>,
) -> Response {
    match user_page(&state, &current, &id) {
        Ok(page) if page.editable && page.status == Status::Active.as_str() => render(
            StatusCode::OK,
            &DisablePage {
                nav: page.nav,
                sessions: page.sessions.len(),
                id: page.id,
                email: page.email,
                display_name: page.display_name,
            },
        ),
        Ok(_) => see_other(&format!("/admin/users/{id}")),
        Err(error) => error_page(&error),
    }
}

/// The user's page again with what went wrong (the reason typed kept),
/// or "Confirm it's you" holding the form when that is what is missing.
fn refused(state: &AppState, current: &CurrentSession, id: &str, error: &ApiError, reason: String) -> Response {
    if error.code == Code::ReauthenticationRequired {
        return reauthenticate_first(&format!("/admin/users/{id}"));
    }
    match user_page(state, current, id) {
        Ok(mut page) => {
            page.error = Some(error.message.clone());
            page.reason = reason;
            failed(error, &page)
        }
        Err(missing) => error_page(&missing),
    }
}

#[derive(Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// `POST /admin/users/{id}`: a new role or status.
pub async fn change(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Path(id): Path<String>,
    Form(form): Form<ChangeForm>,
) -> Response {
    let result = async {
        let change = users::parse_change(form.role.as_deref(), form.status.as_deref())?;
        users::change(&state, &Principal::Person(current.clone()), &client, &id, change).await
    }
    .await;
    match result {
        Ok(_) => see_other(&format!("/admin/users/{id}?notice=user_changed")),
        Err(error) => refused(&state, &current, &id, &error, String::new()),
    }
}

/// `POST /admin/users/{id}/revoke-sessions`: every session of the user.
pub async fn revoke_sessions(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Path(id): Path<String>,
) -> Response {
    match users::revoke_sessions(&state, &Principal::Person(current.clone()), &client, &id).await {
        Ok(_) => see_other(&format!("/admin/users/{id}?notice=sessions_revoked")),
        Err(error) => refused(&state, &current, &id, &error, String::new()),
    }
}

/// `POST /admin/users/{id}/sessions/{session}/revoke`: one session.
pub async fn revoke_session(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Path((id, session)): Path<(String, String)>,
) -> Response {
    match users::revoke_session(&state, &Principal::Person(current.clone()), &client, &id, &session).await {
        Ok(()) => see_other(&format!("/admin/users/{id}?notice=session_revoked")),
        Err(error) => refused(&state, &current, &id, &error, String::new()),
    }
}

#[derive(Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    reason: String,
}

/// `POST /admin/users/{id}/password-reset`: a link to the user's mailbox.
pub async fn send_password_reset(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Path(id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> Response {
    let principal = Principal::Person(current.clone());
    match recovery::send_by_admin(&state, &principal, &client, &id, &form.reason).await {
        Ok(_) => see_other(&format!("/admin/users/{id}?notice=reset_link_sent")),
        Err(error) => refused(&state, &current, &id, &error, form.reason),
    }
}

/// `POST /admin/users/{id}/second-factors/reset`: every second factor.
pub async fn reset_second_factors(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Path(id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> Response {
    let principal = Principal::Person(current.clone());
    match recovery::reset_second_factors(&state, &principal, &client, &id, &form.reason).await {
        Ok(_) => see_other(&format!("/admin/users/{id}?notice=factors_reset")),
        Err(error) => refused(&state, &current, &id, &error, form.reason),
    }
}
