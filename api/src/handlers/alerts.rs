//! `/api/v1/alert-rules`, `/api/v1/alert-templates`, `/api/v1/alerts`.

use crate::web::json::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use warden_core::commands::alert::Recipient;
use warden_projections::alerts::{AlertView, RuleView};
use warden_projections::deliveries::AlertDeliveries;

use crate::error::ApiError;
use crate::flows::{alert_delivery, alerts};
use crate::state::AppState;
use crate::web::session::UserManager;
use crate::web::{Admitted, Client, SignedIn};

fn describe(rule: &RuleView) -> Value {
    let mut view = rule.spec.clone();
    if let Some(object) = view.as_object_mut() {
        object.insert("id".into(), json!(rule.id));
        object.insert("enabled".into(), json!(rule.enabled));
        object.insert("version".into(), json!(rule.version));
        object.insert("created_at".into(), json!(rule.created_at));
        object.insert("changed_at".into(), json!(rule.changed_at));
    }
    view
}

fn describe_alert(alert: &AlertView) -> Value {
    json!({
        "id": alert.id,
        "seq": alert.seq,
        "fired_at": alert.at,
        "rule": alert.fired.rule,
        "rule_version": alert.fired.rule_version,
        "name": alert.fired.name,
        "severity": alert.fired.severity,
        "group": alert.fired.group,
        "seqs": alert.fired.seqs,
        "recipients": alert.fired.recipients,
        "status": alert.status,
        "acknowledged": alert.acknowledged,
        "resolved": alert.resolved,
    })
}

/// An alert with where each of its deliveries stands.
fn describe_alert_deliveries(alert: &AlertView, deliveries: Option<&AlertDeliveries>) -> Result<Value, ApiError> {
    let mut view = describe_alert(alert);
    let deliveries = deliveries
        .map(|deliveries| deliveries.deliveries.values().map(serde_json::to_value).collect())
        .transpose()
        .map_err(|error| {
            tracing::error!(%error, "a delivery does not serialize");
            ApiError::internal("the alert's deliveries cannot be shown")
        })?
        .unwrap_or_else(Vec::new);
    if let Some(object) = view.as_object_mut() {
        object.insert("deliveries".into(), Value::Array(deliveries));
    }
    Ok(view)
}

/// `GET /api/v1/alert-rules`.
pub async fn list(
    State(state): State<AppState>,
    Admitted(caller, ..): Admitted<SignedIn>,
) -> Result<Json<Value>, ApiError> {
    caller.person_may(alerts::may_read)?;
    let rules: Vec<Value> = alerts::rules(&state, caller.org()).iter().map(describe).collect();
    Ok(Json(json!({ "rules": rules })))
}

/// `GET /api/v1/alert-rules/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Admitted(caller, ..): Admitted<SignedIn>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.person_may(alerts::may_read)?;
    Ok(Json(describe(&alerts::rule(&state, caller.org(), &id)?)))
}

/// `POST /api/v1/alert-rules` (owners and admins).
pub async fn create(
    State(state): State<AppState>,
    client: Client,
    UserManager(manager): UserManager,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let rule = alerts::create(&state, &manager, &client, body).await?;
    Ok((StatusCode::CREATED, Json(describe(&rule))))
}

/// `PUT /api/v1/alert-rules/{id}` (owners and admins).
pub async fn change(
    State(state): State<AppState>,
    client: Client,
    UserManager(manager): UserManager,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(describe(
        &alerts::change(&state, &manager, &client, &id, body).await?,
    )))
}

/// `POST /api/v1/alert-rules/{id}/enable`.
pub async fn enable(
    State(state): State<AppState>,
    client: Client,
    UserManager(manager): UserManager,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(describe(
        &alerts::toggle(&state, &manager, &client, &id, true).await?,
    )))
}

/// `POST /api/v1/alert-rules/{id}/disable`.
pub async fn disable(
    State(state): State<AppState>,
    client: Client,
    UserManager(manager): UserManager,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(describe(
        &alerts::toggle(&state, &manager, &client, &id, false).await?,
    )))
}

/// `DELETE /api/v1/alert-rules/{id}`.
pub async fn remove(
    State(state): State<AppState>,
    client: Client,
    UserManager(manager): UserManager,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    alerts::remove(&state, &manager, &client, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/alert-templates`: the built-in rules to start from.
pub async fn templates(Admitted(caller, ..): Admitted<SignedIn>) -> Result<Json<Value>, ApiError> {
    caller.person_may(alerts::may_read)?;
    let templates: Vec<Value> = warden_alerting::templates::all()
        .into_iter()
        .map(|template| json!({"template": template.name, "rule": template.spec}))
        .collect();
    Ok(Json(json!({ "templates": templates })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecentParams {
    limit: Option<usize>,
}

/// `GET /api/v1/alerts`: the org's recent alerts, newest first.
pub async fn recent(
    State(state): State<AppState>,
    Admitted(caller, ..): Admitted<SignedIn>,
    Query(params): Query<RecentParams>,
) -> Result<Json<Value>, ApiError> {
    caller.person_may(alerts::may_read)?;
    let limit = params.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1 to 1000"));
    }
    let alerts: Vec<Value> = alerts::recent_alerts(&state, caller.org(), limit)
        .iter()
        .map(describe_alert)
        .collect();
    Ok(Json(json!({ "alerts": alerts })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    rule: Value,
    hours: Option<u64>,
}

/// `POST /api/v1/alert-rules/preview` (owners and admins): what a rule
/// would have fired over the org's last hours, without saving it.
pub async fn preview(
    State(state): State<AppState>,
    client: Client,
    UserManager(manager): UserManager,
    Json(body): Json<PreviewBody>,
) -> Result<Json<Value>, ApiError> {
    let preview = alerts::preview(&state, &manager, &client, body.rule, body.hours.unwrap_or(24)).await?;
    let firings: Vec<Value> = preview
        .firings
        .iter()
        .map(|firing| json!({"group": firing.group, "seqs": firing.seqs, "at": warden_core::event::timestamp::format(&firing.at)}))
        .collect();
    Ok(Json(json!({
        "examined": preview.examined,
        "indexed_through": preview.indexed_through,
        "firings": firings,
    })))
}

/// `GET /api/v1/alerts/{id}`: an alert, its status and its deliveries.
pub async fn alert(
    State(state): State<AppState>,
    Admitted(caller, ..): Admitted<SignedIn>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.person_may(alerts::may_read)?;
    let (alert, deliveries) = alert_delivery::alert_with_deliveries(&state, caller.org(), &id)?;
    Ok(Json(describe_alert_deliveries(&alert, deliveries.as_ref())?))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    note: Option<String>,
}

/// `POST /api/v1/alerts/{id}/acknowledge` (owners and admins).
pub async fn acknowledge(
    State(state): State<AppState>,
    client: Client,
    UserManager(manager): UserManager,
    Path(id): Path<String>,
    body: Option<Json<NoteBody>>,
) -> Result<Json<Value>, ApiError> {
    let note = body.and_then(|Json(body)| body.note);
    let alert = alert_delivery::set_status(&state, &manager, &client, &id, false, note).await?;
    Ok(Json(describe_alert(&alert)))
}

/// `POST /api/v1/alerts/{id}/resolve` (owners and admins).
pub async fn resolve(
    State(state): State<AppState>,
    client: Client,
    UserManager(manager): UserManager,
    Path(id): Path<String>,
    body: Option<Json<NoteBody>>,
) -> Result<Json<Value>, ApiError> {
    let note = body.and_then(|Json(body)| body.note);
    let alert = alert_delivery::set_status(&state, &manager, &client, &id, true, note).await?;
    Ok(Json(describe_alert(&alert)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ResendBody {
    recipient: Option<Recipient>,
}

/// `POST /api/v1/alerts/{id}/resend` (owners and admins): delivers the
/// alert again, to one recipient or all of them.
pub async fn resend(
    State(state): State<AppState>,
    client: Client,
    UserManager(manager): UserManager,
    Path(id): Path<String>,
    body: Option<Json<ResendBody>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let recipient = body.and_then(|Json(body)| body.recipient);
    alert_delivery::resend(&state, &manager, &client, &id, recipient).await?;
    let (alert, deliveries) = alert_delivery::alert_with_deliveries(&state, &manager.user.org, &id)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(describe_alert_deliveries(&alert, deliveries.as_ref())?),
    ))
}
