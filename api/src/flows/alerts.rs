//! Alert rules of an org: owners and admins create, change, enable,
//! disable and remove them; owners, admins and auditors read them and the
//! org's recent alerts. Every change is an event the evaluator follows.

use serde_json::Value;
use warden_alerting::{Evaluator, Firing, Rule, RuleSpec};
use warden_core::commands::account::Role;
use warden_core::commands::alert::{self, Previewed, RuleDefined, RuleToggled};
use warden_projections::alerts::{AlertView, RuleView};
use warden_projections::audit::AuditQuery;
use warden_projections::projection::read;

use super::commit;
use crate::error::{ApiError, Code};
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

/// Owners, admins and auditors read rules and alerts.
/// People's roles; a key was checked for `alerts:read` instead.
pub fn may_read(current: &CurrentSession) -> Result<(), ApiError> {
    match current.user.role {
        Role::Owner | Role::Admin | Role::Auditor => Ok(()),
        Role::Member => Err(ApiError::forbidden(
            "only owners, admins and auditors see alert rules and alerts",
        )),
    }
}

pub fn rules(state: &AppState, org: &str) -> Vec<RuleView> {
    read(&state.models.alerts).rules_of(org).cloned().collect()
}

pub fn rule(state: &AppState, org: &str, id: &str) -> Result<RuleView, ApiError> {
    read(&state.models.alerts)
        .rule(org, id)
        .cloned()
        .ok_or_else(ApiError::not_found)
}

pub fn recent_alerts(state: &AppState, org: &str, limit: usize) -> Vec<AlertView> {
    read(&state.models.alerts).recent_of(org).take(limit).cloned().collect()
}

/// A rule as sent: the rule's members, and `enabled` if given.
pub fn parse(mut body: Value) -> Result<(Value, Option<bool>), ApiError> {
    let enabled = match body.as_object_mut().and_then(|object| object.remove("enabled")) {
        None => None,
        Some(Value::Bool(enabled)) => Some(enabled),
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
    super::alert_delivery::check_recipients(state, &manager.user.org, &spec)?;
    let defined = RuleDefined {
        rule: uuid::Uuid::now_v7().to_string(),
        org: manager.user.org.clone(),
        spec,
        old: None,
        enabled: enabled.unwrap_or(true),
    };
    let context = client.as_user(&manager.user.id, &manager.user.org);
    commit(state, vec![alert::rule_created(&context, &defined)]).await?;
    rule(state, &manager.user.org, &defined.rule)
}

pub async fn change(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    id: &str,
    body: Value,
) -> Result<RuleView, ApiError> {
    let current = rule(state, &manager.user.org, id)?;
    let (spec, enabled) = parse(body)?;
    super::alert_delivery::check_recipients(state, &manager.user.org, &spec)?;
    let defined = RuleDefined {
        rule: current.id.clone(),
        org: current.org.clone(),
        spec,
        old: Some(current.spec.clone()),
        // A change keeps the rule enabled or disabled unless it says.
        enabled: enabled.unwrap_or(current.enabled),
    };
    let context = client.as_user(&manager.user.id, &manager.user.org);
    commit(state, vec![alert::rule_changed(&context, &defined, current.version)]).await?;
    rule(state, &manager.user.org, id)
}

/// Enables or disables; a rule already so is answered as it is.
pub async fn toggle(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    id: &str,
    enabled: bool,
) -> Result<RuleView, ApiError> {
    let current = rule(state, &manager.user.org, id)?;
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
    rule(state, &manager.user.org, id)
}

pub async fn remove(state: &AppState, manager: &CurrentSession, client: &Client, id: &str) -> Result<(), ApiError> {
    let current = rule(state, &manager.user.org, id)?;
    let removed = RuleToggled {
        rule: current.id.clone(),
        org: current.org.clone(),
    };
    let context = client.as_user(&manager.user.id, &manager.user.org);
    commit(state, vec![alert::rule_removed(&context, &removed, current.version)]).await?;
    Ok(())
}

/// The most events a preview runs a rule over.
pub const PREVIEW_MAX_EVENTS: usize = 200_000;
const PREVIEW_PAGE: usize = 10_000;

/// What a rule would have fired over the org's last `hours` hours.
pub struct Preview {
    pub examined: usize,
    pub indexed_through: u64,
    pub firings: Vec<Firing>,
}

/// Runs a rule (not saved) over the org's trail of the last `hours` hours,
/// as the audit index holds it, and records the read.
pub async fn preview(
    state: &AppState,
    manager: &CurrentSession,
    client: &Client,
    rule: Value,
    hours: u64,
) -> Result<Preview, ApiError> {
    if !(1..=168).contains(&hours) {
        return Err(ApiError::bad_request("hours must be 1 to 168"));
    }
    let (spec, _) = parse(rule)?;
    let spec: RuleSpec = serde_json::from_value(spec).map_err(|error| ApiError::bad_request(error.to_string()))?;
    let index = super::audit::audit_index(state)?.clone();
    let org = manager.user.org.clone();
    let query = AuditQuery {
        org: Some(org.clone()),
        from: Some(chrono::Utc::now() - chrono::Duration::hours(hours as i64)),
        ..AuditQuery::default()
    };
    let indexed_through = index.indexed_through();
    let mut evaluator = Evaluator::new([Rule {
        id: "preview".into(),
        version: 1,
        enabled: true,
        org: Some(org.clone()),
        spec: spec.clone(),
    }]);
    let mut firings = Vec::new();
    let mut examined = 0usize;
    let mut after = None;
    loop {
        let (index, page_query) = (index.clone(), query.clone());
        let (seqs, next) = tokio::task::spawn_blocking(move || index.export_page(&page_query, after, PREVIEW_PAGE))
            .await
            .map_err(|error| ApiError::unavailable(error.to_string()))?
            .map_err(|error| ApiError::unavailable(error.to_string()))?;
        examined += seqs.len();
        if examined > PREVIEW_MAX_EVENTS {
            return Err(ApiError::unprocessable(
                Code::TooManyEvents,
                format!(
                    "the last {hours} hours hold more than {PREVIEW_MAX_EVENTS} events of your org: preview fewer hours"
                ),
            ));
        }
        let events = state
            .ledger
            .store()
            .read_seqs(&seqs)
            .await
            .map_err(|error| ApiError::unavailable(error.to_string()))?;
        for event in &events {
            firings.extend(evaluator.apply(event, Some(&org)));
        }
        match next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let context = client.as_user(&manager.user.id, &manager.user.org);
    let previewed = Previewed {
        org,
        name: spec.name,
        hours,
        examined,
        firings: firings.len(),
    };
    commit(state, vec![alert::rule_previewed(&context, &previewed)]).await?;
    Ok(Preview {
        examined,
        indexed_through,
        firings,
    })
}
