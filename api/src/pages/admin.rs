//! User administration for owners and admins: list, add or invite, change
//! role, disable and re-enable, sign out everywhere.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use warden_core::auth::password::Password;
use warden_core::auth::role_grants;
use warden_core::commands::account::{Role, Status};
use warden_projections::projection::read;

use super::{Nav, NoticeQuery, PageManager, Place, failed, notice, render, see_other};
use crate::error::Code;
use crate::flows::users::{self, NewUser};
use crate::state::AppState;
use crate::web::session::CurrentSession;
use crate::web::{Client, Principal};

struct RoleOption {
    name: &'static str,
    selected: bool,
}

fn role_options(selected: Role, allowed: impl Fn(Role) -> bool) -> Vec<RoleOption> {
    Role::ALL
        .into_iter()
        .filter(|role| allowed(*role))
        .map(|role| RoleOption {
            name: role.as_str(),
            selected: role == selected,
        })
        .collect()
}

struct UserRow {
    id: String,
    email: String,
    display_name: String,
    role: &'static str,
    status: &'static str,
    active: bool,
    disabled: bool,
    editable: bool,
    role_options: Vec<RoleOption>,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    nav: Nav,
    org_name: String,
    users: Vec<UserRow>,
    new_role_options: Vec<RoleOption>,
    invitation_url: Option<String>,
    error: Option<String>,
    notice: Option<String>,
}

fn users_page(
    state: &AppState,
    manager: &CurrentSession,
    error: Option<String>,
    notice: Option<String>,
    invitation_url: Option<String>,
) -> UsersPage {
    let nav = Nav::of(manager, Place::Users);
    let own = manager.user.role;
    let accounts = read(&state.models.accounts);
    let users = accounts
        .members(&manager.user.org)
        .into_iter()
        .map(|user| UserRow {
            id: user.id.clone(),
            email: user.email.clone(),
            display_name: user.display_name.clone(),
            role: user.role.as_str(),
            status: user.status.as_str(),
            active: user.status == Status::Active,
            disabled: user.status == Status::Disabled,
            editable: user.id != manager.user.id && role_grants::may_act_on(own, user.role),
            role_options: role_options(user.role, |role| role_grants::may_grant(own, role)),
        })
        .collect();
    UsersPage {
        nav,
        org_name: accounts
            .org(&manager.user.org)
            .map_or_else(String::new, |org| org.name.clone()),
        users,
        new_role_options: role_options(Role::Member, |role| role_grants::may_grant(own, role)),
        invitation_url,
        error,
        notice,
    }
}

pub async fn list(
    State(state): State<AppState>,
    PageManager(current): PageManager,
    Query(query): Query<NoticeQuery>,
) -> Response {
    render(
        StatusCode::OK,
        &users_page(&state, &current, None, notice(query.notice.as_deref()), None),
    )
}

#[derive(Deserialize)]
pub struct CreateForm {
    email: String,
    display_name: String,
    role: String,
    #[serde(default)]
    password: String,
}

pub async fn create(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Form(form): Form<CreateForm>,
) -> Response {
    let result = async {
        let role = users::role(&form.role)?;
        let input = NewUser {
            email: form.email,
            display_name: form.display_name,
            role,
            password: (!form.password.is_empty()).then(|| Password::new(form.password)),
        };
        users::create(&state, &Principal::Person(current.clone()), &client, input).await
    }
    .await;
    match result {
        Ok(created) => render(
            StatusCode::CREATED,
            &users_page(
                &state,
                &current,
                None,
                notice(Some("user_created")),
                created.invitation_url,
            ),
        ),
        Err(error) => failed(
            &error,
            &users_page(&state, &current, Some(error.message.clone()), None, None),
        ),
    }
}

#[derive(Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

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
        Ok(_) => see_other("/admin/users?notice=user_changed"),
        Err(error) if error.code == Code::ReauthenticationRequired => super::reauthenticate_first("/admin/users"),
        Err(error) => failed(
            &error,
            &users_page(&state, &current, Some(error.message.clone()), None, None),
        ),
    }
}

pub async fn revoke_sessions(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Path(id): Path<String>,
) -> Response {
    match users::revoke_sessions(&state, &Principal::Person(current.clone()), &client, &id).await {
        Ok(_) => see_other("/admin/users?notice=sessions_revoked"),
        Err(error) => failed(
            &error,
            &users_page(&state, &current, Some(error.message.clone()), None, None),
        ),
    }
}
