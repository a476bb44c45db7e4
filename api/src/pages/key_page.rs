//! One API key in the console: its page (settings, usage, a vendor's
//! tickets for those who read the audit trail), rotation (naming the
//! key's version, so a reload does not rotate twice) and revocation after
//! a confirmation. The list, the creation form and the secret page are
//! [`super::keys`]'s.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;
use warden_core::auth::api_key::Key;
use warden_core::auth::api_key::format;
use warden_core::commands::api_key::{KeyKind, Owner, VerifyOutcome};
use warden_core::net::IpNet;
use warden_projections::key_usage::UsageView;
use warden_projections::projection::read;

use super::confirmed::{Confirmed, ReturnTo};
use super::keys::{secret_page, sparkline};
use super::when::{When, Zone};
use super::{Nav, NoticeQuery, PageManager, PageOrgReader, Place, failed, notice, render, see_other};
use crate::flows::{api_keys, vendor_tickets};
use crate::handlers::audit::encode;
use crate::state::AppState;
use crate::web::session::CurrentSession;
use crate::web::{Client, Principal};

/// Back to the key's page after "Confirm it's you".
pub struct ToKey;

impl ReturnTo for ToKey {
    fn next(parts: &Parts) -> String {
        let path = parts.uri.path();
        path.strip_suffix("/rotate").unwrap_or(path).to_string()
    }
}

struct TicketRow {
    ticket: String,
    /// For the audit search link.
    query: String,
    events: u64,
    users: String,
    last_at: When,
}

struct OutcomeCount {
    outcome: &'static str,
    last_hour: u64,
    last_day: u64,
    last_30_days: u64,
}

#[derive(Template)]
#[template(path = "key.html")]
struct KeyPage {
    nav: Nav,
    manages: bool,
    id: String,
    name: String,
    kind: &'static str,
    prefix: String,
    status: &'static str,
    revoked: bool,
    version: u64,
    owner: String,
    scopes: String,
    networks: String,
    limits: String,
    remaining_uses: String,
    ticket_pattern: String,
    /// Times in the viewer's zone; `None`: never.
    expires: Option<When>,
    created: When,
    rotated: Option<When>,
    previous_until: Option<When>,
    last_used: Option<When>,
    /// The zone of the times shown.
    zone: String,
    sparkline: String,
    outcomes: Vec<OutcomeCount>,
    top_addresses: Vec<(String, u64)>,
    /// A vendor key's tickets, for those who read the audit trail.
    tickets: Option<Vec<TicketRow>>,
    tickets_unavailable: bool,
    error: Option<String>,
    notice: Option<String>,
}

fn key_page(
    current: &CurrentSession,
    key: &Key,
    usage: &UsageView,
    error: Option<String>,
    notice: Option<String>,
) -> KeyPage {
    let nav = Nav::of(current, Place::Keys);
    let zone = Zone::of(current.user.time_zone.as_deref());
    let now = Utc::now();
    let count =
        |counts: &std::collections::BTreeMap<VerifyOutcome, u64>, outcome| counts.get(&outcome).copied().unwrap_or(0);
    let outcomes = VerifyOutcome::ALL
        .into_iter()
        .filter(|outcome| *outcome != VerifyOutcome::NotFound)
        .map(|outcome| OutcomeCount {
            outcome: outcome.as_str(),
            last_hour: count(&usage.last_hour, outcome),
            last_day: count(&usage.last_day, outcome),
            last_30_days: count(&usage.last_30_days, outcome),
        })
        .collect();
    let settings = &key.settings;
    let none = |text: String| if text.is_empty() { "none".to_string() } else { text };
    KeyPage {
        nav,
        manages: current.user.role.manages_users(),
        id: key.id.clone(),
        name: settings.name.clone(),
        kind: key.kind.as_str(),
        prefix: format!("{}{}…{}", format::PREFIX, key.id, key.secret.hint),
        status: key.status(now),
        revoked: key.revoked_at.is_some(),
        version: key.version,
        owner: match &key.owner {
            Owner::User { id } => format!("user {id}"),
            Owner::Service { name } => format!("service {name}"),
        },
        scopes: none(settings.scopes.join(" ")),
        expires: settings.expires_at.map(|at| zone.when(&at)),
        networks: none(
            settings
                .allowed_networks
                .iter()
                .map(IpNet::to_string)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        limits: none(
            settings
                .limits
                .iter()
                .map(|limit| format!("{}: {} per {} s", limit.name, limit.limit, limit.window_seconds))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        remaining_uses: key
            .remaining_uses()
            .map_or_else(|| "unlimited".into(), |left| left.to_string()),
        ticket_pattern: settings.ticket_pattern.clone().unwrap_or_default(),
        created: zone.when(&key.created_at),
        rotated: key.rotated_at.map(|at| zone.when(&at)),
        previous_until: key
            .previous
            .as_ref()
            .filter(|(_, until)| *until > now)
            .map(|(_, until)| zone.when(until)),
        last_used: usage.last_used.or(key.last_used).map(|at| zone.when(&at)),
        zone: zone.name().to_string(),
        sparkline: sparkline(&usage.hourly, 360, 48),
        outcomes,
        top_addresses: usage.top_addresses.clone(),
        tickets: None,
        tickets_unavailable: false,
        error,
        notice,
    }
}

/// A key of the page's org, or the error page (another org's key does
/// not exist).
fn key_of(state: &AppState, current: &CurrentSession, id: &str) -> Result<Arc<Key>, Box<Response>> {
    api_keys::get(state, &current.user.org, id).map_err(|error| Box::new(super::error_page(&error)))
}

/// `GET /keys/{id}`: the key, its usage, and (for managers) its actions.
pub async fn show(
    State(state): State<AppState>,
    client: Client,
    PageOrgReader(current): PageOrgReader,
    Path(id): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Response {
    let key = match key_of(&state, &current, &id) {
        Ok(key) => key,
        Err(page) => return *page,
    };
    let usage = read(&state.models.key_usage).view(&key.id, Utc::now());
    let mut page = key_page(&current, &key, &usage, None, notice(query.notice.as_deref()));
    let zone = Zone::of(current.user.time_zone.as_deref());
    // What a vendor did, per ticket, is the audit trail's: for its readers.
    if key.kind == KeyKind::Vendor && current.user.role.reads_audit_trail() {
        let reader = Principal::Person(current.clone());
        match vendor_tickets::of_key(&state, &reader, &client, &key).await {
            Ok(found) => {
                page.tickets = Some(
                    found
                        .tickets
                        .into_iter()
                        .map(|ticket| TicketRow {
                            query: format!("actor={}&ticket={}", key.id, encode(&ticket.ticket)),
                            ticket: ticket.ticket,
                            events: ticket.events,
                            users: ticket.users.into_iter().collect::<Vec<_>>().join(" "),
                            last_at: zone.when(&ticket.last_at),
                        })
                        .collect(),
                );
            }
            Err(_) => page.tickets_unavailable = true,
        }
    }
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct RotateForm {
    version: u64,
    grace_seconds: u64,
}

/// `POST /keys/{id}/rotate` (owners and admins, recently authenticated):
/// the new secret, shown in this answer only.
pub async fn rotate(
    State(state): State<AppState>,
    client: Client,
    Confirmed(PageManager(current), _): Confirmed<PageManager, ToKey>,
    Path(id): Path<String>,
    Form(form): Form<RotateForm>,
) -> Response {
    let key = match key_of(&state, &current, &id) {
        Ok(key) => key,
        Err(page) => return *page,
    };
    // Posted again (a reload): rotated already.
    if key.version != form.version {
        return see_other(&format!("/keys/{id}?notice=key_secret_gone"));
    }
    match api_keys::rotate(&state, &current, &client, &id, form.grace_seconds).await {
        Ok(issued) => render(StatusCode::OK, &secret_page(&current, &issued, "Key rotated")),
        Err(error) => {
            let usage = read(&state.models.key_usage).view(&key.id, Utc::now());
            failed(
                &error,
                &key_page(&current, &key, &usage, Some(error.message.clone()), None),
            )
        }
    }
}

#[derive(Template)]
#[template(path = "key_revoke.html")]
struct RevokePage {
    nav: Nav,
    id: String,
    name: String,
    /// In the viewer's zone; `None`: never used.
    last_used: Option<When>,
}

/// `GET /keys/{id}/revoke`: "Revoke this key?", with what it is.
pub async fn confirm_revoke(
    State(state): State<AppState>,
    PageManager(current): PageManager,
    Path(id): Path<String>,
) -> Response {
    let key = match key_of(&state, &current, &id) {
        Ok(key) => key,
        Err(page) => return *page,
    };
    let nav = Nav::of(&current, Place::Keys);
    let zone = Zone::of(current.user.time_zone.as_deref());
    let last_used = read(&state.models.key_usage).view(&key.id, Utc::now()).last_used;
    render(
        StatusCode::OK,
        &RevokePage {
            nav,
            id: key.id.clone(),
            name: key.settings.name.clone(),
            last_used: last_used.or(key.last_used).map(|at| zone.when(&at)),
        },
    )
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    reason: String,
}

/// `POST /keys/{id}/revoke` (owners and admins): at once, no step-up.
pub async fn revoke(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Path(id): Path<String>,
    Form(form): Form<RevokeForm>,
) -> Response {
    match api_keys::revoke(&state, &current, &client, &id, &form.reason).await {
        Ok(_) => see_other(&format!("/keys/{id}?notice=key_revoked")),
        Err(error) => match key_of(&state, &current, &id) {
            Ok(key) => {
                let usage = read(&state.models.key_usage).view(&key.id, Utc::now());
                failed(
                    &error,
                    &key_page(&current, &key, &usage, Some(error.message.clone()), None),
                )
            }
            Err(page) => *page,
        },
    }
}
