//! The alert rules console: the org's rules (enable, disable, remove), the
//! built-in templates to start from, and the org's webhook endpoints (add,
//! with the secret shown once; remove); the rule editor is
//! [`super::alert_rule_editor`]. Owners, admins and auditors read; owners
//! and admins change. The same flows (and events) as the API.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::alerts::PageAlertReader;
use super::{Nav, NoticeQuery, PageManager, Place, failed, render, see_other};
use crate::error::ApiError;
use crate::flows::{alert_delivery, alerts};
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

pub struct RuleRow {
    pub id: String,
    pub name: String,
    pub severity: String,
    pub condition: String,
    pub recipients: String,
    pub enabled: bool,
}

pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub description: String,
}

#[derive(Template)]
#[template(path = "alert_rules.html")]
struct RulesPage {
    nav: Nav,
    rules: Vec<RuleRow>,
    endpoints: Vec<EndpointRow>,
    /// The templates: their key, title and what they catch.
    templates: Vec<(&'static str, String, String)>,
    /// A new endpoint's URL and secret, shown once.
    created: Option<(String, String)>,
    /// The endpoint form as typed, after a refusal.
    typed_url: String,
    typed_description: String,
    error: Option<String>,
    notice: Option<String>,
}

fn text(spec: &Value, pointer: &str) -> String {
    spec.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn rules_page(
    state: &AppState,
    current: &CurrentSession,
    created: Option<(String, String)>,
    error: Option<String>,
    notice: Option<String>,
) -> RulesPage {
    let nav = Nav::of(current, Place::AlertRules);
    RulesPage {
        nav,
        rules: alerts::rules(state, &current.user.org)
            .iter()
            .map(|rule| RuleRow {
                id: rule.id.clone(),
                name: text(&rule.spec, "/name"),
                severity: text(&rule.spec, "/severity"),
                condition: text(&rule.spec, "/condition/type"),
                recipients: rule
                    .spec
                    .get("recipients")
                    .and_then(Value::as_array)
                    .map(|recipients| recipients.len())
                    .unwrap_or(0)
                    .to_string(),
                enabled: rule.enabled,
            })
            .collect(),
        endpoints: alert_delivery::endpoints(state, &current.user.org)
            .into_iter()
            .map(|endpoint| EndpointRow {
                id: endpoint.id,
                url: endpoint.url,
                description: endpoint.description,
            })
            .collect(),
        templates: warden_alerting::templates::all()
            .into_iter()
            .map(|template| (template.name, template.spec.name, template.spec.description))
            .collect(),
        created,
        typed_url: String::new(),
        typed_description: String::new(),
        error,
        notice,
    }
}

pub async fn list(
    State(state): State<AppState>,
    PageAlertReader(current): PageAlertReader,
    Query(query): Query<NoticeQuery>,
) -> Response {
    let notice = super::notice(query.notice.as_deref());
    render(StatusCode::OK, &rules_page(&state, &current, None, None, notice))
}

/// The outcome of a change from the rules page.
fn back(state: &AppState, current: &CurrentSession, result: Result<(), ApiError>, notice: &str) -> Response {
    match result {
        Ok(()) => see_other(&format!("/alert-rules?notice={notice}")),
        Err(error) => failed(
            &error,
            &rules_page(state, current, None, Some(error.message.clone()), None),
        ),
    }
}

pub async fn enable(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Path(id): Path<String>,
) -> Response {
    let result = alerts::toggle(&state, &current, &client, &id, true).await.map(drop);
    back(&state, &current, result, "rule_changed")
}

pub async fn disable(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Path(id): Path<String>,
) -> Response {
    let result = alerts::toggle(&state, &current, &client, &id, false).await.map(drop);
    back(&state, &current, result, "rule_changed")
}

pub async fn remove(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Path(id): Path<String>,
) -> Response {
    let result = alerts::remove(&state, &current, &client, &id).await;
    back(&state, &current, result, "rule_removed")
}

#[derive(Deserialize)]
pub struct EndpointForm {
    url: String,
    #[serde(default)]
    description: String,
}

pub async fn create_endpoint(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Form(form): Form<EndpointForm>,
) -> Response {
    match alert_delivery::create_endpoint(&state, &current, &client, form.url.trim(), form.description.trim()).await {
        Ok((endpoint, secret)) => render(
            StatusCode::CREATED,
            &rules_page(&state, &current, Some((endpoint.url, secret)), None, None),
        ),
        Err(error) => {
            let mut page = rules_page(&state, &current, None, Some(error.message.clone()), None);
            page.typed_url = form.url;
            page.typed_description = form.description;
            failed(&error, &page)
        }
    }
}

pub async fn remove_endpoint(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Path(id): Path<String>,
) -> Response {
    let result = alert_delivery::remove_endpoint(&state, &current, &client, &id).await;
    back(&state, &current, result, "endpoint_removed")
}
