//! The alerts console: the org's recent alerts and, for each, its
//! triggering events (links into the audit console), where each delivery
//! stands, and acknowledge, resolve and send again. Owners, admins and
//! auditors read; owners and admins act. The same flows (and events) as
//! the API. Rules and webhook endpoints: [`super::alert_rules`].

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use warden_alerting::deliver::message::group_text;
use warden_core::commands::alert::Recipient;
use warden_core::commands::sentence::Ref;
use warden_projections::alerts::{AlertStatus, AlertView};
use warden_projections::deliveries::{AlertDeliveries, DeliveryState, Endpoint};

use super::named::{self, Named};
use super::when::{When, Zone};
use super::{Nav, NoticeQuery, PageManager, PageSession, Place, error_page, failed, render, see_other};
use crate::error::ApiError;
use crate::flows::{alert_delivery, alerts};
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

/// Alerts the list shows.
const SHOWN: usize = 100;

/// Extractor: a page session of an owner, admin or auditor.
pub struct PageAlertReader(pub CurrentSession);

impl axum::extract::FromRequestParts<AppState> for PageAlertReader {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Self, Response> {
        let PageSession(current) = PageSession::from_request_parts(parts, state).await?;
        if let Err(error) = alerts::may_read(&current) {
            return Err(error_page(&error));
        }
        Ok(PageAlertReader(current))
    }
}

pub(crate) struct AlertRow {
    pub id: String,
    pub name: String,
    pub severity: String,
    pub fired_at: When,
    pub status: &'static str,
    pub group: String,
    pub seqs: Vec<u64>,
}

/// A time the alerts model keeps as the log writes it, in `zone`.
fn when(zone: &Zone, at: &str) -> When {
    match chrono::DateTime::parse_from_rfc3339(at) {
        Ok(parsed) => zone.when(&parsed.with_timezone(&chrono::Utc)),
        Err(_) => When {
            local: at.to_string(),
            utc: at.to_string(),
        },
    }
}

impl AlertRow {
    fn of(alert: &AlertView, zone: &Zone) -> Self {
        AlertRow {
            id: alert.id.clone(),
            name: alert.fired.name.clone(),
            severity: alert.fired.severity.clone(),
            fired_at: when(zone, &alert.at),
            status: status_name(alert.status),
            group: group_text(&alert.fired.group),
            seqs: alert.fired.seqs.clone(),
        }
    }
}

fn status_name(status: AlertStatus) -> &'static str {
    match status {
        AlertStatus::Open => "open",
        AlertStatus::Acknowledged => "acknowledged",
        AlertStatus::Resolved => "resolved",
    }
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    nav: Nav,
    alerts: Vec<AlertRow>,
    /// The zone of the times shown.
    zone: String,
    error: Option<String>,
    notice: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    PageAlertReader(current): PageAlertReader,
    Query(query): Query<NoticeQuery>,
) -> Response {
    let nav = Nav::of(&current, Place::Alerts);
    let zone = Zone::of(current.user.time_zone.as_deref());
    let page = AlertsPage {
        nav,
        alerts: alerts::recent_alerts(&state, &current.user.org, SHOWN)
            .iter()
            .map(|alert| AlertRow::of(alert, &zone))
            .collect(),
        zone: zone.name().to_string(),
        error: None,
        notice: super::notice(query.notice.as_deref()),
    };
    render(StatusCode::OK, &page)
}

pub(crate) struct DeliveryRow {
    /// As the resend form names it (`webhook:<id>`, `email:<address>`).
    pub recipient: String,
    /// As people know it: the endpoint by its description and URL.
    pub recipient_name: String,
    pub state: &'static str,
    /// The time is the next attempt's.
    pub next: bool,
    pub when: When,
    pub attempts: u32,
    pub last_status: String,
    pub last_error: String,
}

fn delivery_rows(deliveries: Option<&AlertDeliveries>, zone: &Zone, endpoints: &[Endpoint]) -> Vec<DeliveryRow> {
    let Some(deliveries) = deliveries else {
        return Vec::new();
    };
    deliveries
        .deliveries
        .values()
        .map(|delivery| {
            let (state, next, at) = match &delivery.state {
                DeliveryState::Pending { due } => ("pending", true, zone.when(due)),
                DeliveryState::Delivered { at } => ("delivered", false, when(zone, at)),
                DeliveryState::DeadLettered { at } => ("dead-lettered", false, when(zone, at)),
            };
            let recipient_name = match &delivery.recipient {
                Recipient::Webhook(id) => endpoints.iter().find(|endpoint| endpoint.id == *id).map_or_else(
                    || format!("webhook endpoint {id} (removed)"),
                    |endpoint| match endpoint.description.is_empty() {
                        true => endpoint.url.clone(),
                        false => format!("{} ({})", endpoint.description, endpoint.url),
                    },
                ),
                Recipient::Email(address) => address.clone(),
            };
            DeliveryRow {
                recipient: delivery.recipient.to_string(),
                recipient_name,
                state,
                next,
                when: at,
                attempts: delivery.attempts,
                last_status: delivery.last_status.map(|s| s.to_string()).unwrap_or_default(),
                last_error: delivery.last_error.clone().unwrap_or_default(),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "alert.html")]
struct AlertPage {
    nav: Nav,
    alert: AlertRow,
    /// What fired, in a sentence: the rule by name, the group in words.
    said: Vec<Named>,
    rule: Named,
    acknowledged: Option<String>,
    resolved: Option<String>,
    deliveries: Vec<DeliveryRow>,
    may_acknowledge: bool,
    may_resolve: bool,
    /// The events that fired it, for everyone who may see the alert.
    triggers: Vec<super::audit::Row>,
    /// The zone of the triggering events' times.
    zone: String,
    /// Whether each links to its page in the audit trail.
    reads_audit: bool,
    error: Option<String>,
    notice: Option<String>,
}

/// The `alert.fired` event at `fired` as a sentence, and the events that
/// fired it (its org's, by construction); none when the log cannot be
/// read now (the page still shows the alert).
async fn triggers(
    state: &AppState,
    viewer: &CurrentSession,
    fired: u64,
    seqs: &[u64],
) -> (Vec<Named>, Vec<super::audit::Row>) {
    let wanted: Vec<u64> = seqs.iter().copied().chain([fired]).collect();
    let events = match state.ledger.store().read_seqs(&wanted).await {
        Ok(events) => events,
        Err(error) => {
            tracing::warn!(%error, "an alert's events could not be read");
            return (Vec::new(), Vec::new());
        }
    };
    let said = events
        .iter()
        .find(|event| event.seq == fired)
        .map(|event| named::sentence(state, viewer, event))
        .unwrap_or_default();
    let rows = events
        .iter()
        .filter(|event| seqs.contains(&event.seq))
        .map(|event| super::audit::Row::of(state, viewer, event))
        .collect();
    (said, rows)
}

async fn alert_page(
    state: &AppState,
    current: &CurrentSession,
    id: &str,
    error: Option<String>,
    notice: Option<String>,
) -> Result<AlertPage, ApiError> {
    let (alert, deliveries) = alert_delivery::alert_with_deliveries(state, &current.user.org, id)?;
    let (said, triggers) = triggers(state, current, alert.seq, &alert.fired.seqs).await;
    let nav = Nav::of(current, Place::Alerts);
    let zone = Zone::of(current.user.time_zone.as_deref());
    let change = |change: &Option<warden_projections::alerts::StatusChange>| {
        change.as_ref().map(|change| {
            let by = change.by.as_ref().map_or_else(
                || "Warden".to_string(),
                |user| named::reference(state, current, &Ref::User(user.clone())).text,
            );
            let mut text = format!("{} by {by}", when(&zone, &change.at).local);
            if let Some(note) = &change.note {
                text.push_str(&format!(": {note}"));
            }
            text
        })
    };
    Ok(AlertPage {
        may_acknowledge: nav.manages_users && alert.status == AlertStatus::Open,
        may_resolve: nav.manages_users && alert.status != AlertStatus::Resolved,
        reads_audit: nav.reads_audit,
        triggers,
        zone: super::when::Zone::of(current.user.time_zone.as_deref())
            .name()
            .to_string(),
        nav,
        said,
        rule: named::reference(state, current, &Ref::AlertRule(alert.fired.rule.clone())),
        acknowledged: change(&alert.acknowledged),
        resolved: change(&alert.resolved),
        deliveries: delivery_rows(
            deliveries.as_ref(),
            &zone,
            &alert_delivery::endpoints(state, &current.user.org),
        ),
        alert: AlertRow::of(&alert, &zone),
        error,
        notice,
    })
}

pub async fn detail(
    State(state): State<AppState>,
    PageAlertReader(current): PageAlertReader,
    Path(id): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Response {
    match alert_page(&state, &current, &id, None, super::notice(query.notice.as_deref())).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(error) => error_page(&error),
    }
}

#[derive(Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    note: String,
}

async fn set_status(
    state: AppState,
    client: Client,
    current: CurrentSession,
    id: String,
    note: String,
    resolved: bool,
) -> Response {
    let note = (!note.trim().is_empty()).then_some(note);
    match alert_delivery::set_status(&state, &current, &client, &id, resolved, note).await {
        Ok(_) => see_other(&format!(
            "/alerts/{id}?notice={}",
            if resolved {
                "alert_resolved"
            } else {
                "alert_acknowledged"
            }
        )),
        Err(error) => show_failure(&state, &current, &id, &error).await,
    }
}

async fn show_failure(state: &AppState, current: &CurrentSession, id: &str, error: &ApiError) -> Response {
    match alert_page(state, current, id, Some(error.message.clone()), None).await {
        Ok(page) => failed(error, &page),
        Err(error) => error_page(&error),
    }
}

pub async fn acknowledge(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Path(id): Path<String>,
    Form(form): Form<NoteForm>,
) -> Response {
    set_status(state, client, current, id, form.note, false).await
}

pub async fn resolve(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Path(id): Path<String>,
    Form(form): Form<NoteForm>,
) -> Response {
    set_status(state, client, current, id, form.note, true).await
}

#[derive(Deserialize)]
pub struct ResendForm {
    /// `webhook:<id>` or `email:<address>`; empty: every recipient.
    #[serde(default)]
    recipient: String,
}

pub async fn resend(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Path(id): Path<String>,
    Form(form): Form<ResendForm>,
) -> Response {
    let recipient = match form.recipient.split_once(':') {
        None if form.recipient.is_empty() => None,
        Some(("webhook", endpoint)) => Some(Recipient::Webhook(endpoint.to_string())),
        Some(("email", address)) => Some(Recipient::Email(address.to_string())),
        _ => {
            return show_failure(
                &state,
                &current,
                &id,
                &ApiError::bad_request("recipient: not a recipient"),
            )
            .await;
        }
    };
    match alert_delivery::resend(&state, &current, &client, &id, recipient).await {
        Ok(()) => see_other(&format!("/alerts/{id}?notice=alert_resent")),
        Err(error) => show_failure(&state, &current, &id, &error).await,
    }
}
