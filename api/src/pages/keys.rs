//! The org's API keys in the console: the list with each key's status,
//! last use and a sparkline of its last day, the creation form and the
//! secret shown once (a key's own page is [`super::key_page`]). Owners
//! and admins act; auditors read. Everything goes through `flows::api_keys`, as the API does.
//!
//! A key's secret is shown in the answer to the POST that made it, never
//! again: the form carries the new key's id, so posting it twice (a
//! reload) finds the key made and shows no secret; a rotation names the
//! key's version, so a reload does not rotate twice.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use warden_core::auth::api_key::format::{self, KeyText};
use warden_core::auth::api_key::manage::Draft;
use warden_core::auth::api_key::scopes::WARDEN_SCOPES;
use warden_core::commands::api_key::{KeyKind, Owner, RateLimit};
use warden_projections::projection::read;

use super::confirmed::{Confirmed, ReturnTo};
use super::when::{When, Zone};
use super::{Nav, NoticeQuery, PageManager, PageOrgReader, Place, failed, notice, render, see_other};
use crate::error::ApiError;
use crate::flows::api_keys;
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

/// Back to the keys page after "Confirm it's you".
pub struct ToKeys;

impl ReturnTo for ToKeys {
    fn next(_: &Parts) -> String {
        "/keys".into()
    }
}

/// Requests per hour as a small line (server-side SVG, numbers only).
pub fn sparkline(values: &[u64], width: u32, height: u32) -> String {
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    let step = if values.len() > 1 {
        f64::from(width) / (values.len() - 1) as f64
    } else {
        0.0
    };
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let x = step * i as f64;
            let y = 1.0 + (1.0 - *value as f64 / max as f64) * f64::from(height - 2);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let total: u64 = values.iter().sum();
    format!(
        "<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" \
         aria-label=\"{total} requests in the last 24 hours, per hour\"><polyline points=\"{}\" \
         fill=\"none\" stroke=\"currentColor\" stroke-width=\"1.5\"/></svg>",
        points.join(" ")
    )
}

struct KeyRow {
    id: String,
    name: String,
    kind: &'static str,
    prefix: String,
    status: &'static str,
    /// In the viewer's zone; `None`: never used.
    last_used: Option<When>,
    sparkline: String,
}

/// What the creation form holds (kept when a submission is refused).
#[derive(Debug, Default, Deserialize)]
pub struct NewKeyForm {
    id: String,
    kind: String,
    name: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    scopes: String,
    #[serde(default)]
    expires_on: String,
    #[serde(default)]
    allowed_networks: String,
    #[serde(default)]
    limits: String,
    #[serde(default)]
    remaining_uses: String,
    #[serde(default)]
    ticket_pattern: String,
}

struct ScopeChoice {
    name: &'static str,
    description: &'static str,
}

#[derive(Template)]
#[template(path = "keys.html")]
struct KeysPage {
    nav: Nav,
    manages: bool,
    keys: Vec<KeyRow>,
    /// The zone of the times shown.
    zone: String,
    form: NewKeyForm,
    warden_scopes: Vec<ScopeChoice>,
    error: Option<String>,
    notice: Option<String>,
}

fn keys_page(
    state: &AppState,
    current: &CurrentSession,
    form: NewKeyForm,
    error: Option<String>,
    notice: Option<String>,
) -> KeysPage {
    let nav = Nav::of(current, Place::Keys);
    let zone = Zone::of(current.user.time_zone.as_deref());
    let now = Utc::now();
    let usage = read(&state.models.key_usage);
    let keys = api_keys::list(state, &current.user.org)
        .iter()
        .map(|key| {
            let view = usage.view(&key.id, now);
            KeyRow {
                id: key.id.clone(),
                name: key.settings.name.clone(),
                kind: key.kind.as_str(),
                prefix: format!("{}{}…{}", format::PREFIX, key.id, key.secret.hint),
                status: key.status(now),
                last_used: view.last_used.or(key.last_used).map(|at| zone.when(&at)),
                sparkline: sparkline(&view.hourly, 120, 24),
            }
        })
        .collect();
    let form = if form.id.is_empty() {
        NewKeyForm {
            id: KeyText::generate().id().to_string(),
            kind: "app".into(),
            ..form
        }
    } else {
        form
    };
    KeysPage {
        nav,
        manages: current.user.role.manages_users(),
        keys,
        zone: zone.name().to_string(),
        form,
        warden_scopes: WARDEN_SCOPES
            .iter()
            .filter(|scope| warden_core::auth::api_key::scopes::holds(current.user.role, scope.name))
            .map(|scope| ScopeChoice {
                name: scope.name,
                description: scope.description,
            })
            .collect(),
        error,
        notice,
    }
}

/// `GET /keys`.
pub async fn list(
    State(state): State<AppState>,
    PageOrgReader(current): PageOrgReader,
    Query(query): Query<NoticeQuery>,
) -> Response {
    let page = keys_page(
        &state,
        &current,
        NewKeyForm::default(),
        None,
        notice(query.notice.as_deref()),
    );
    render(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "key_secret.html")]
pub(super) struct SecretPage<'a> {
    nav: Nav,
    id: String,
    name: String,
    heading: &'static str,
    /// Borrowed from the issued key's zeroized text: no copy outlives it.
    secret: &'a str,
    previous_until: Option<When>,
}

pub(super) fn secret_page<'a>(
    current: &CurrentSession,
    issued: &'a api_keys::Issued,
    heading: &'static str,
) -> SecretPage<'a> {
    let nav = Nav::of(current, Place::Keys);
    SecretPage {
        nav,
        id: issued.key.id.clone(),
        name: issued.key.settings.name.clone(),
        heading,
        secret: issued.secret.as_str(),
        previous_until: issued
            .key
            .previous
            .as_ref()
            .filter(|(_, until)| *until > Utc::now())
            .map(|(_, until)| Zone::of(current.user.time_zone.as_deref()).when(until)),
    }
}

/// The form's text as the API's draft; an error names the field.
fn draft_of(form: &NewKeyForm) -> Result<(KeyKind, Option<Owner>, Draft), ApiError> {
    let kind = match form.kind.as_str() {
        "app" => KeyKind::App,
        "service" => KeyKind::Service,
        "vendor" => KeyKind::Vendor,
        _ => return Err(ApiError::bad_request("kind: choose app, service or vendor")),
    };
    let words = |text: &str| -> Vec<String> {
        text.split(|c: char| c.is_whitespace() || c == ',')
            .filter(|word| !word.is_empty())
            .map(str::to_string)
            .collect()
    };
    let expires_at = match form.expires_on.trim() {
        "" => None,
        text => Some(
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|date| date.and_hms_opt(0, 0, 0))
                .map(|at| at.and_utc())
                .ok_or_else(|| ApiError::bad_request("expires on: a date, 2027-12-31"))?,
        ),
    };
    let mut limits = Vec::new();
    for line in form.limits.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let parts: Vec<&str> = line.split(',').map(str::trim).collect();
        let parsed = match parts.as_slice() {
            [name, limit, seconds] => limit
                .parse()
                .ok()
                .zip(seconds.parse().ok())
                .map(|(limit, window_seconds)| RateLimit {
                    name: (*name).to_string(),
                    limit,
                    window_seconds,
                }),
            _ => None,
        };
        limits.push(parsed.ok_or_else(|| {
            ApiError::bad_request(format!(
                "limits: {line:?} is not \"name, requests, seconds\" (per_minute, 100, 60)"
            ))
        })?);
    }
    let remaining_uses = match form.remaining_uses.trim() {
        "" => None,
        text => Some(
            text.parse()
                .map_err(|_| ApiError::bad_request("remaining uses: a whole number, or empty for unlimited"))?,
        ),
    };
    let owner = match form.service.trim() {
        "" => None,
        name => Some(Owner::Service { name: name.to_string() }),
    };
    let ticket_pattern = Some(form.ticket_pattern.trim().to_string()).filter(|pattern| !pattern.is_empty());
    let draft = Draft {
        name: form.name.clone(),
        scopes: words(&form.scopes),
        expires_at,
        allowed_networks: words(&form.allowed_networks),
        limits,
        remaining_uses,
        ticket_pattern,
    };
    Ok((kind, owner, draft))
}

/// `POST /keys` (owners and admins, recently authenticated): the secret,
/// shown in this answer only.
pub async fn create(
    State(state): State<AppState>,
    client: Client,
    Confirmed(PageManager(current), _): Confirmed<PageManager, ToKeys>,
    Form(form): Form<NewKeyForm>,
) -> Response {
    if !format::is_id(&form.id) {
        return see_other("/keys");
    }
    // Posted again (a reload): made already, and its secret is not kept.
    if api_keys::get(&state, &current.user.org, &form.id).is_ok() {
        return see_other(&format!("/keys/{}?notice=key_secret_gone", form.id));
    }
    let created = match draft_of(&form) {
        Ok((kind, owner, draft)) => {
            api_keys::create(&state, &current, &client, Some(&form.id), kind, owner, draft).await
        }
        Err(error) => Err(error),
    };
    match created {
        Ok(issued) => render(StatusCode::CREATED, &secret_page(&current, &issued, "Key created")),
        Err(error) => {
            let page = keys_page(&state, &current, form, Some(error.message.clone()), None);
            failed(&error, &page)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sparkline;

    #[test]
    fn a_sparkline_is_numbers_only_and_scaled_to_its_box() {
        let svg = sparkline(&[0, 5, 10], 100, 20);
        assert!(svg.contains("points=\"0.0,19.0 50.0,10.0 100.0,1.0\""), "{svg}");
        assert!(svg.contains("15 requests"), "{svg}");
        let flat = sparkline(&[0; 24], 120, 24);
        assert!(flat.contains("0 requests"), "{flat}");
    }
}
