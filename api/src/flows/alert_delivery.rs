//! Where an org's alerts go, and what people do with them: webhook
//! endpoints (owners and admins add and remove them; the signing secret is
//! shown once), the recipients a rule may name, and re-sending,
//! acknowledging and resolving an alert. Each is an event.

use axum::http::StatusCode;
use warden_core::commands::alert::{self, AlertAction, Recipient};
use warden_core::commands::webhook_endpoint::{self, EndpointCreated, EndpointRemoved, endpoint_subject};
use warden_core::keys::random_bytes;
use warden_projections::alerts::{AlertStatus, AlertView};
use warden_projections::deliveries::{AlertDeliveries, Endpoint};
use warden_projections::projection::read;

use super::commit;
use super::key_service;
use crate::error::{ApiError, Code};
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

/// Most webhook endpoints per org.
pub const MAX_ENDPOINTS: usize = 20;

pub fn endpoints(state: &AppState, org: &str) -> Vec<Endpoint> {
    read(&state.models.deliveries).endpoints_of(org).cloned().collect()
}

/// Adds an endpoint; answers it with its secret, which is never shown
/// again.
pub async fn create_endpoint(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    url: &str,
    description: &str,
) -> Result<(Endpoint, String), ApiError> {
    warden_alerting::deliver::check_webhook_url(url, state.alerting.webhook_private_addresses)
        .map_err(|why| ApiError::bad_request(format!("url: {why}")))?;
    if description.chars().count() > 200 || description.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "description: at most 200 characters without control characters",
        ));
    }
    if endpoints(state, &manager.user.org).len() >= MAX_ENDPOINTS {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            Code::TooManyEndpoints,
            format!("an org has at most {MAX_ENDPOINTS} webhook endpoints; remove one first"),
        ));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let secret = warden_alerting::webhook::new_secret(*random_bytes::<32>());
    let sealed = state
        .data_keys
        .seal(&endpoint_subject(&id), &secret)
        .await
        .map_err(key_service)?;
    let created = EndpointCreated {
        endpoint: id.clone(),
        org: manager.user.org.clone(),
        url: url.to_string(),
        description: description.to_string(),
        secret: sealed,
    };
    let context = client.as_user(&manager.user.id, &manager.user.org);
    commit(state, vec![webhook_endpoint::created(&context, &created)]).await?;
    let endpoint = read(&state.models.deliveries)
        .endpoint(&manager.user.org, &id)
        .cloned()
        .ok_or_else(|| ApiError::unavailable("the endpoint is not visible yet; list the endpoints"))?;
    Ok((endpoint, secret))
}

/// Removes an endpoint no rule names, and shreds its secret.
pub async fn remove_endpoint(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    id: &str,
) -> Result<(), ApiError> {
    let endpoint = read(&state.models.deliveries)
        .endpoint(&manager.user.org, id)
        .cloned()
        .ok_or_else(ApiError::not_found)?;
    let recipient = Recipient::Webhook(id.to_string());
    let mut naming = Vec::new();
    for rule in read(&state.models.alerts).rules_of(&manager.user.org) {
        if rule_recipients(&rule.spec)?.contains(&recipient) {
            naming.push(rule.id.clone());
        }
    }
    if !naming.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            Code::EndpointInUse,
            format!("rules {} send to this endpoint; change them first", naming.join(", ")),
        ));
    }
    let removed = EndpointRemoved {
        endpoint: endpoint.id.clone(),
        org: endpoint.org.clone(),
    };
    let context = client.as_user(&manager.user.id, &manager.user.org);
    commit(
        state,
        vec![webhook_endpoint::removed(&context, &removed, endpoint.version)],
    )
    .await?;
    state
        .data_keys
        .shred(&endpoint_subject(id))
        .await
        .map_err(key_service)?;
    Ok(())
}

/// The recipients a rule's spec names (none when it has no `recipients`).
/// Every spec decoded when it was defined: one that no longer does is an
/// error, never a rule that names no one.
fn rule_recipients(spec: &serde_json::Value) -> Result<Vec<Recipient>, ApiError> {
    let Some(recipients) = spec.get("recipients") else {
        return Ok(Vec::new());
    };
    serde_json::from_value(recipients.clone()).map_err(|error| {
        tracing::error!(%error, "an alert rule's recipients do not decode");
        ApiError::internal("an alert rule's recipients do not decode")
    })
}

/// The recipients of a rule must exist: endpoints of the org, and email
/// only when a mail server is configured.
pub fn check_recipients(state: &AppState, org: &str, spec: &serde_json::Value) -> Result<(), ApiError> {
    let deliveries = read(&state.models.deliveries);
    for (index, recipient) in rule_recipients(spec)?.iter().enumerate() {
        match recipient {
            Recipient::Webhook(id) if deliveries.endpoint(org, id).is_none() => {
                return Err(ApiError::bad_request(format!(
                    "rule: recipients[{index}].webhook: no webhook endpoint {id} in your org"
                )));
            }
            Recipient::Email(_) if !state.alerting.email => {
                return Err(ApiError::bad_request(format!(
                    "rule: recipients[{index}].email: this Warden has no mail server (smtp_url)"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// An alert of the org, and its deliveries if any.
pub fn alert_with_deliveries(
    state: &AppState,
    org: &str,
    id: &str,
) -> Result<(AlertView, Option<AlertDeliveries>), ApiError> {
    let alert = read(&state.models.alerts)
        .alert(org, id)
        .cloned()
        .ok_or_else(ApiError::not_found)?;
    let deliveries = read(&state.models.deliveries).of_alert(org, id).cloned();
    Ok((alert, deliveries))
}

/// Delivers an alert again, to one recipient or all of them.
pub async fn resend(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    id: &str,
    recipient: Option<Recipient>,
) -> Result<(), ApiError> {
    let (alert, deliveries) = alert_with_deliveries(state, &manager.user.org, id)?;
    let Some(deliveries) = deliveries else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            Code::NothingToResend,
            "this alert has no recipients, or its deliveries are too old to send again",
        ));
    };
    if let Some(recipient) = &recipient
        && !deliveries.deliveries.contains_key(&recipient.to_string())
    {
        return Err(ApiError::bad_request("recipient: not a recipient of this alert"));
    }
    let action = AlertAction {
        alert: alert.id,
        org: manager.user.org.clone(),
        recipient,
        note: None,
    };
    let context = client.as_user(&manager.user.id, &manager.user.org);
    commit(state, vec![alert::resend_requested(&context, &action)]).await?;
    Ok(())
}

/// Acknowledges (`resolved` false) or resolves an alert.
pub async fn set_status(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    id: &str,
    resolved: bool,
    note: Option<String>,
) -> Result<AlertView, ApiError> {
    let (alert, _) = alert_with_deliveries(state, &manager.user.org, id)?;
    if let Some(note) = &note
        && (note.chars().count() > 1000 || note.chars().any(|c| c.is_control() && c != '\n'))
    {
        return Err(ApiError::bad_request("note: at most 1000 characters"));
    }
    let already = match alert.status {
        AlertStatus::Resolved => true,
        AlertStatus::Acknowledged => !resolved,
        AlertStatus::Open => false,
    };
    if already {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            Code::AlreadyDone,
            format!(
                "this alert is already {}",
                if alert.status == AlertStatus::Resolved {
                    "resolved"
                } else {
                    "acknowledged"
                }
            ),
        ));
    }
    let action = AlertAction {
        alert: alert.id.clone(),
        org: manager.user.org.clone(),
        recipient: None,
        note: note.filter(|note| !note.trim().is_empty()),
    };
    let context = client.as_user(&manager.user.id, &manager.user.org);
    commit(state, vec![alert::status_changed(&context, &action, resolved)]).await?;
    Ok(alert_with_deliveries(state, &manager.user.org, id)?.0)
}
