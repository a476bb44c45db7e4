//! "Users not seen for N days", for owners and admins: the active users
//! nobody has seen for a while (`auth::inactive_users`), each ticked, to
//! disable at once after a look; and who stays, and why. The act goes
//! through the same flow as the API's, which decides again on the state
//! it runs on; a step-up keeps the form (`pages::resume`).

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::when::{When, Zone};
use super::{Nav, PageManager, Place, failed, notice, reauthenticate_first, render, see_other};
use crate::error::{ApiError, Code};
use crate::flows::inactive_users::{self, Listed};
use crate::state::AppState;
use crate::web::session::CurrentSession;
use crate::web::{Client, Principal};

/// What the page asks for first.
const DEFAULT_DAYS: u32 = 90;

struct Row {
    id: String,
    display_name: String,
    email: String,
    role: &'static str,
    /// Their last session, if they ever had one.
    last_seen: Option<When>,
    /// When the rule counts them unseen from, as a day.
    since: When,
    /// Why they stay (the kept list only).
    why: &'static str,
}

#[derive(Template)]
#[template(path = "inactive_users.html")]
struct InactivePage {
    nav: Nav,
    days: u32,
    min_days: u32,
    max_days: u32,
    zone: String,
    rows: Vec<Row>,
    total: usize,
    kept: Vec<Row>,
    error: Option<String>,
    notice: Option<String>,
}

fn rows(listed: &[Listed], zone: &Zone) -> Vec<Row> {
    listed
        .iter()
        .map(|listed| Row {
            id: listed.user.id.clone(),
            display_name: listed.user.display_name.clone(),
            email: listed.user.email.clone(),
            role: listed.user.role.as_str(),
            last_seen: listed.last_seen.as_ref().map(|at| zone.day(at)),
            since: zone.day(&listed.seen_at),
            why: listed.kept.map_or("", |kept| kept.message()),
        })
        .collect()
}

/// The page for `days` as typed: the list, or what is wrong with it.
fn page(state: &AppState, current: &CurrentSession, client: &Client, days: &str) -> (InactivePage, Option<ApiError>) {
    let zone = Zone::of(current.user.time_zone.as_deref());
    let mut page = InactivePage {
        nav: Nav::of(current, Place::Users),
        days: DEFAULT_DAYS,
        min_days: warden_core::auth::inactive_users::MIN_DAYS,
        max_days: warden_core::auth::inactive_users::MAX_DAYS,
        zone: zone.name().to_string(),
        rows: Vec::new(),
        total: 0,
        kept: Vec::new(),
        error: None,
        notice: None,
    };
    let principal = Principal::Person(current.clone());
    let listed =
        inactive_users::days_typed(days).and_then(|days| inactive_users::preview(state, &principal, client, days));
    match listed {
        Ok(preview) => {
            page.days = preview.days.get();
            page.rows = rows(&preview.inactive, &zone);
            page.total = preview.total;
            page.kept = rows(&preview.kept, &zone);
            (page, None)
        }
        Err(error) => {
            page.error = Some(error.message.clone());
            (page, Some(error))
        }
    }
}

#[derive(Deserialize)]
pub struct ShowQuery {
    #[serde(default)]
    days: Option<String>,
    #[serde(default)]
    notice: Option<String>,
}

/// `GET /admin/users/inactive?days=N`.
pub async fn show(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Query(query): Query<ShowQuery>,
) -> Response {
    let days = query.days.unwrap_or_else(|| DEFAULT_DAYS.to_string());
    let (mut page, error) = page(&state, &current, &client, &days);
    page.notice = notice(query.notice.as_deref());
    match error {
        Some(error) => failed(&error, &page),
        None => render(StatusCode::OK, &page),
    }
}

/// `POST /admin/users/inactive`: `days` and the ticked `users`.
pub async fn disable(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let days = fields
        .iter()
        .find(|(key, _)| key == "days")
        .map(|(_, value)| value.clone())
        .unwrap_or_default();
    let users: Vec<String> = fields
        .iter()
        .filter(|(key, _)| key == "users")
        .map(|(_, value)| value.clone())
        .collect();
    let back = format!(
        "/admin/users/inactive?days={}",
        crate::handlers::audit::encode(days.trim())
    );
    let result = async {
        let parsed = inactive_users::days_typed(&days)?;
        if users.is_empty() {
            return Err(ApiError::unprocessable(
                Code::Unprocessable,
                "tick the users to disable",
            ));
        }
        inactive_users::disable(&state, &Principal::Person(current.clone()), &client, parsed, &users).await
    }
    .await;
    match result {
        Ok(_) => see_other(&format!("{back}&notice=inactive_disabled")),
        Err(error) if error.code == Code::ReauthenticationRequired => reauthenticate_first(&back),
        Err(error) => {
            let (mut page, _) = page(&state, &current, &client, &days);
            page.error = Some(error.message.clone());
            failed(&error, &page)
        }
    }
}
