//! The org's users, for owners and admins: a searchable list a page at a
//! time (an import brings 100,000 users: a page reads only what it shows,
//! `Accounts::members_page`), and the form that adds or invites one. Each
//! user's own page is `user_page`.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use warden_core::auth::password::Password;
use warden_core::auth::role_grants;
use warden_core::commands::account::{Role, Status};
use warden_projections::accounts::{MemberFilter, Start};
use warden_projections::projection::read;

use super::when::{When, Zone};
use super::{Nav, PageManager, Place, failed, notice, render};
use crate::error::Code;
use crate::flows::users::{self, NewUser};
use crate::handlers::audit::encode;
use crate::state::AppState;
use crate::web::session::CurrentSession;
use crate::web::{Client, Principal};

/// Users a page shows.
const PAGE: usize = 50;

pub struct RoleOption {
    pub name: &'static str,
    pub selected: bool,
}

/// The roles `allowed`, `selected` marked.
pub fn role_options(selected: Role, allowed: impl Fn(Role) -> bool) -> Vec<RoleOption> {
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
    second_factors: String,
    /// The day they were added, in the viewer's zone.
    created: When,
    you: bool,
}

/// What the add form holds: what was typed, after a refusal (never the
/// password).
#[derive(Default)]
pub struct Typed {
    email: String,
    display_name: String,
    role: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    nav: Nav,
    org_name: String,
    count: usize,
    query: ListQuery,
    statuses: [&'static str; 3],
    roles: [&'static str; 4],
    users: Vec<UserRow>,
    next_url: Option<String>,
    previous_url: Option<String>,
    new_role_options: Vec<RoleOption>,
    typed: Typed,
    invitation_url: Option<String>,
    error: Option<String>,
    notice: Option<String>,
}

/// The list's filters and where the page starts.
#[derive(Deserialize, Default, Clone)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    role: String,
    after: Option<String>,
    before: Option<String>,
    notice: Option<String>,
}

impl ListQuery {
    fn filter(&self) -> MemberFilter {
        MemberFilter {
            text: self.q.trim().chars().take(200).collect(),
            status: match self.status.as_str() {
                "invited" => Some(Status::Invited),
                other => Status::settable(other),
            },
            role: Role::parse(&self.role),
        }
    }

    /// The list's address with these filters and `extra`.
    fn url(&self, extra: Option<(&str, &str)>) -> String {
        let mut parts: Vec<String> = [("q", self.q.trim()), ("status", &self.status), ("role", &self.role)]
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| format!("{name}={}", encode(value)))
            .collect();
        if let Some((name, value)) = extra {
            parts.push(format!("{name}={}", encode(value)));
        }
        match parts.is_empty() {
            true => "/admin/users".into(),
            false => format!("/admin/users?{}", parts.join("&")),
        }
    }
}

/// A user's second factors in a few words.
pub fn second_factors(state: &AppState, user: &str) -> String {
    let factors = read(&state.models.mfa).factors(user);
    let mut names = Vec::new();
    if factors.totp.as_ref().is_some_and(|totp| totp.enrolled_at.is_some()) {
        names.push("authenticator app".to_string());
    }
    match factors.passkeys.len() {
        0 => {}
        1 => names.push("passkey".into()),
        many => names.push(format!("{many} passkeys")),
    }
    match names.is_empty() {
        true => "none".into(),
        false => names.join(", "),
    }
}

fn users_page(
    state: &AppState,
    manager: &CurrentSession,
    query: ListQuery,
    typed: Typed,
    error: Option<String>,
    invitation_url: Option<String>,
) -> UsersPage {
    let nav = Nav::of(manager, Place::Users);
    let zone = Zone::of(manager.user.time_zone.as_deref());
    let own = manager.user.role;
    let accounts = read(&state.models.accounts);
    let org = &manager.user.org;
    let start = match (&query.after, &query.before) {
        (Some(after), _) => Start::After(after),
        (None, Some(before)) => Start::Before(before),
        (None, None) => Start::First,
    };
    let page = accounts.members_page(org, &query.filter(), start, PAGE);
    let users = page
        .users
        .iter()
        .map(|user| UserRow {
            id: user.id.clone(),
            email: user.email.clone(),
            display_name: user.display_name.clone(),
            role: user.role.as_str(),
            status: user.status.as_str(),
            second_factors: second_factors(state, &user.id),
            created: zone.day(&user.created_at),
            you: user.id == manager.user.id,
        })
        .collect();
    let new_role = Role::parse(&typed.role).unwrap_or(Role::Member);
    UsersPage {
        nav,
        org_name: accounts.org(org).map_or_else(String::new, |org| org.name.clone()),
        count: accounts.member_count(org),
        next_url: page.next.as_deref().map(|email| query.url(Some(("after", email)))),
        previous_url: page.previous.as_deref().map(|email| query.url(Some(("before", email)))),
        statuses: ["active", "invited", "disabled"],
        roles: ["owner", "admin", "member", "auditor"],
        query,
        users,
        new_role_options: role_options(new_role, |role| role_grants::may_grant(own, role)),
        typed,
        invitation_url,
        error,
        notice: None,
    }
}

/// `GET /admin/users?q=&status=&role=&after=|before=`.
pub async fn list(
    State(state): State<AppState>,
    PageManager(current): PageManager,
    Query(query): Query<ListQuery>,
) -> Response {
    let shown = notice(query.notice.as_deref());
    let mut page = users_page(&state, &current, query, Typed::default(), None, None);
    page.notice = shown;
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct CreateForm {
    email: String,
    display_name: String,
    role: String,
    #[serde(default)]
    password: String,
}

/// `POST /admin/users`: adds a user (with a password) or invites one.
pub async fn create(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Form(form): Form<CreateForm>,
) -> Response {
    let typed = Typed {
        email: form.email.clone(),
        display_name: form.display_name.clone(),
        role: form.role.clone(),
    };
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
        Ok(created) => {
            let mut page = users_page(
                &state,
                &current,
                ListQuery::default(),
                Typed::default(),
                None,
                created.invitation_url,
            );
            page.notice = notice(Some("user_created"));
            render(StatusCode::CREATED, &page)
        }
        // Granting a role above member needs a recent sign-in: the form
        // is kept for "Confirm it's you".
        Err(error) if error.code == Code::ReauthenticationRequired => super::reauthenticate_first("/admin/users"),
        Err(error) => failed(
            &error,
            &users_page(
                &state,
                &current,
                ListQuery::default(),
                typed,
                Some(error.message.clone()),
                None,
            ),
        ),
    }
}
