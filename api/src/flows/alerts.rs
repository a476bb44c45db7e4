//! Alert rules of an org: owners and admins create, change, enable,
//! disable and remove them; owners, admins and auditors read them and the
//! org's recent alerts. Every change is an event the evaluator follows.

use serde_json::Value;
use warden_alerting::RuleSpec;
use warden_core::commands::account::Role;
use warden_core::commands::alert::{self, RuleDefined, RuleToggled};
use warden_projections::alerts::{AlertView, RuleView};
use warden_projections::projection::read;

use super::commit;
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

/// Owners, admins and auditors read rules and alerts.
pub fn may_read(current: &CurrentSession) -> Result<(), ApiError> {
    match current.user.role {
        Role::Owner | Role::Admin | Role::Auditor => Ok(()),
        Role::Member => Err(ApiError::forbidden(
            "only owners, admins and auditors see alert rules and alerts",
        )),
    }
}

pub fn rules(state: &AppState, current: &CurrentSession) -> Vec<RuleView> {
    read(&state.models.alerts)
        .rules_of(&current.user.org)
        .cloned()
        .collect()
}

pub fn rule(state: &AppState, current: &CurrentSession, id: &str) -> Result<RuleView, ApiError> {
    read(&state.models.alerts)
        .rule(&current.user.org, id)
        .cloned()
        .ok_or_else(ApiError::not_found)
}

pub fn recent_alerts(state: &AppState, current: &CurrentSession, limit: usize) -> Vec<AlertView> {
    read(&state.models.alerts)
        .recent_of(&current.user.org)
        .take(limit)
        .cloned()
        .collect()
}

/// A rule as sent: the rule's members, and `enabled` (default true).
pub fn parse(mut body: Value) -> Result<(Value, bool), ApiError> {
    let enabled = match body.as_object_mut().and_then(|object| object.remove("enabled")) {
        None => true,
        Some(Value::Bool(enabled)) => enabled,
        Some(_) => return Err(ApiError::bad_request("enabled must be true or false")),
    };
    let spec: RuleSpec =
        serde_json::from_value(body).map_err(|error| ApiError::bad_request(format!("rule: {error}")))?;
    spec.validate()
        .map_err(|error| ApiError::bad_request(format!("rule: {error}")))?;
    let spec = serde_json::to_value(&spec).map_err(|error| ApiError::bad_request(error.to_string()))?;
    Ok((spec, enabled))
}

pub async fn create(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    body: Value,
) -> Result<RuleView, ApiError> {
    let (spec, enabled) = parse(body)?;
    let defined = RuleDefined {
        rule: uuid::Uuid::now_v7().to_string(),
        org: manager.user.org.clone(),
        spec,
        old: None,
        enabled,
    };
    let context = client.as_user(&manager.user.id, &manager.user.org);
    commit(state, vec![alert::rule_created(&context, &defined)]).await?;
    rule(state, manager, &defined.rule)
}

pub async fn change(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    id: &str,
    body: Value,
) -> Result<RuleView, ApiError> {
    let current = rule(state, manager, id)?;
    let (spec, enabled) = parse(body)?;
    let defined = RuleDefined {
        rule: current.id.clone(),
        org: current.org.clone(),
        spec,
        old: Some(current.spec.clone()),
        enabled,
    };
    let context = client.as_user(&manager.user.id, &manager.user.org);
    commit(state, vec![alert::rule_changed(&context, &defined, current.version)]).await?;
    rule(state, manager, id)
}

/// Enables or disables; a rule already so is answered as it is.
pub async fn toggle(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    id: &str,
    enabled: bool,
) -> Result<RuleView, ApiError> {
    let current = rule(state, manager, id)?;
    if current.enabled == enabled {
        return Ok(current);
    }
    let toggled = RuleToggled {
        rule: current.id.clone(),
        org: current.org.clone(),
    };
    let context = client.as_user(&manager.user.id, &manager.user.org);
    commit(
        state,
        vec![alert::rule_toggled(&context, &toggled, enabled, current.version)],
    )
    .await?;
    rule(state, manager, id)
}

pub async fn remove(state: &AppState, manager: &CurrentSession, client: &Client, id: &str) -> Result<(), ApiError> {
    let current = rule(state, manager, id)?;
    let removed = RuleToggled {
        rule: current.id.clone(),
        org: current.org.clone(),
    };
    let context = client.as_user(&manager.user.id, &manager.user.org);
    commit(state, vec![alert::rule_removed(&context, &removed, current.version)]).await?;
    Ok(())
}
