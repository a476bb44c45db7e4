//! The alert rules console: the org's rules (enable, disable, remove), the
//! rule editor with "try it on the last N hours" and the built-in
//! templates, and the org's webhook endpoints (add, with the secret shown
//! once; remove). Owners, admins and auditors read; owners and admins
//! change. The same flows (and events) as the API.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use warden_alerting::deliver::message::group_text;
use warden_core::event::timestamp;

use super::alerts::PageAlertReader;
use super::{Nav, NoticeQuery, PageManager, Place, error_page, failed, render, see_other};
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
    templates: Vec<&'static str>,
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
        templates: warden_alerting::templates::all().iter().map(|t| t.name).collect(),
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

pub struct FiringRow {
    pub at: String,
    pub group: String,
    pub seqs: Vec<u64>,
}

#[derive(Template)]
#[template(path = "alert_rule.html")]
struct EditorPage {
    nav: Nav,
    /// `None`: a new rule.
    rule_id: Option<String>,
    rule_json: String,
    hours: u64,
    /// The preview's result, once asked for.
    examined: Option<usize>,
    firings: Vec<FiringRow>,
    error: Option<String>,
    notice: Option<String>,
}

fn editor(current: &CurrentSession, rule_id: Option<String>, rule_json: String) -> EditorPage {
    let nav = Nav::of(current, Place::AlertRules);
    EditorPage {
        nav,
        rule_id,
        rule_json,
        hours: 24,
        examined: None,
        firings: Vec::new(),
        error: None,
        notice: None,
    }
}

fn pretty(value: &Value) -> String {
    format!("{value:#}")
}

#[derive(Deserialize)]
pub struct NewQuery {
    template: Option<String>,
}

/// `GET /alert-rules/new?template=…`: the editor, empty or from a template.
pub async fn new(PageManager(current): PageManager, Query(query): Query<NewQuery>) -> Response {
    let template = query.template.as_deref().and_then(|name| {
        warden_alerting::templates::all()
            .into_iter()
            .find(|template| template.name == name)
    });
    let rule = match template {
        Some(template) => match serde_json::to_value(&template.spec) {
            Ok(rule) => rule,
            Err(error) => {
                tracing::error!(%error, "a built-in template does not serialize");
                let error = ApiError::internal("this template cannot be shown");
                return error_page(&error);
            }
        },
        None => serde_json::json!({"name": "", "severity": "medium",
            "condition": {"type": "match", "select": {"kinds": ["login.failed"]}}, "recipients": []}),
    };
    render(StatusCode::OK, &editor(&current, None, pretty(&rule)))
}

/// `GET /alert-rules/{id}`: a rule, in the editor.
pub async fn show(
    State(state): State<AppState>,
    PageAlertReader(current): PageAlertReader,
    Path(id): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Response {
    match alerts::rule(&state, &current.user.org, &id) {
        Ok(rule) => {
            let mut page = editor(&current, Some(rule.id), pretty(&rule.spec));
            page.notice = super::notice(query.notice.as_deref());
            render(StatusCode::OK, &page)
        }
        Err(error) => error_page(&error),
    }
}

#[derive(Deserialize)]
pub struct RuleForm {
    rule: String,
    #[serde(default)]
    hours: Option<u64>,
}

fn parse_form(rule: &str) -> Result<Value, ApiError> {
    serde_json::from_str(rule).map_err(|error| ApiError::bad_request(format!("rule: not JSON: {error}")))
}

fn editor_failed(current: &CurrentSession, rule_id: Option<String>, form: RuleForm, error: &ApiError) -> Response {
    let mut page = editor(current, rule_id, form.rule);
    page.hours = form.hours.unwrap_or(24);
    page.error = Some(error.message.clone());
    failed(error, &page)
}

/// `POST /alert-rules`: saves a new rule.
pub async fn create(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Form(form): Form<RuleForm>,
) -> Response {
    let result = async { alerts::create(&state, &current, &client, parse_form(&form.rule)?).await }.await;
    match result {
        Ok(rule) => see_other(&format!("/alert-rules/{}?notice=rule_saved", rule.id)),
        Err(error) => editor_failed(&current, None, form, &error),
    }
}

/// `POST /alert-rules/{id}`: saves a change.
pub async fn change(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Path(id): Path<String>,
    Form(form): Form<RuleForm>,
) -> Response {
    let result = async { alerts::change(&state, &current, &client, &id, parse_form(&form.rule)?).await }.await;
    match result {
        Ok(rule) => see_other(&format!("/alert-rules/{}?notice=rule_saved", rule.id)),
        Err(error) => editor_failed(&current, Some(id), form, &error),
    }
}

#[derive(Deserialize)]
pub struct PreviewForm {
    rule: String,
    hours: u64,
    /// The rule being edited, if saved.
    #[serde(default)]
    rule_id: String,
}

/// `POST /alert-rules/preview`: the editor, with what the rule would have
/// fired over the last `hours` hours.
pub async fn preview(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Form(form): Form<PreviewForm>,
) -> Response {
    let rule_id = (!form.rule_id.is_empty()).then_some(form.rule_id);
    let result = async {
        let rule = parse_form(&form.rule)?;
        alerts::preview(&state, &current, &client, rule, form.hours).await
    }
    .await;
    match result {
        Ok(preview) => {
            let mut page = editor(&current, rule_id, form.rule);
            page.hours = form.hours;
            page.examined = Some(preview.examined);
            page.firings = preview
                .firings
                .into_iter()
                .map(|firing| FiringRow {
                    at: timestamp::format(&firing.at),
                    group: group_text(&firing.group),
                    seqs: firing.seqs,
                })
                .collect();
            render(StatusCode::OK, &page)
        }
        Err(error) => editor_failed(
            &current,
            rule_id,
            RuleForm {
                rule: form.rule,
                hours: Some(form.hours),
            },
            &error,
        ),
    }
}
