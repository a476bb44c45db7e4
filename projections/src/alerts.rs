//! Alert rules and recent alerts, per org, as their events record them:
//! what the API and the console list. (The evaluator keeps its own copy of
//! the rules, in `warden-alerting`, with its windows.)

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use warden_core::Event;
use warden_core::commands::alert::{
    ALERT_ACKNOWLEDGED, ALERT_FIRED, ALERT_RESOLVED, ALERT_RULE_CHANGED, ALERT_RULE_CREATED, ALERT_RULE_DISABLED,
    ALERT_RULE_ENABLED, ALERT_RULE_REMOVED, AlertAction, Fired, RuleDefined, RuleToggled,
};
use warden_core::commands::{Prefix, payload, subject_id};
use warden_core::event::timestamp;

use crate::Projection;

/// Recent alerts kept per org.
pub const RECENT_ALERTS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleView {
    pub id: String,
    pub org: String,
    /// The rule, in the language of `docs/alerting/rules.md`.
    pub spec: Value,
    pub enabled: bool,
    /// The version of its subject: what a change must name.
    pub version: u64,
    pub created_at: String,
    pub changed_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    pub id: String,
    pub seq: u64,
    pub at: String,
    pub fired: Fired,
    /// Absent from snapshots saved before alerts had a status: open.
    #[serde(default = "AlertStatus::open")]
    pub status: AlertStatus,
    /// Who acknowledged it and when (the user id and the event's time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<StatusChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<StatusChange>,
}

/// Where a person has taken an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Resolved,
}

impl AlertStatus {
    fn open() -> Self {
        AlertStatus::Open
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChange {
    pub by: Option<String>,
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Alerts {
    rules: BTreeMap<String, RuleView>,
    /// Newest last.
    recent: BTreeMap<String, VecDeque<AlertView>>,
}

impl Alerts {
    /// Every org's rules, in no particular order.
    pub fn all_rules(&self) -> impl Iterator<Item = &RuleView> {
        self.rules.values()
    }

    /// The org's rules, oldest first.
    pub fn rules_of<'a>(&'a self, org: &'a str) -> impl Iterator<Item = &'a RuleView> {
        let mut rules: Vec<&RuleView> = self.rules.values().filter(|rule| rule.org == org).collect();
        rules.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        rules.into_iter()
    }

    /// A rule of the org (another org's is as unknown as a missing one).
    pub fn rule(&self, org: &str, id: &str) -> Option<&RuleView> {
        self.rules.get(id).filter(|rule| rule.org == org)
    }

    /// A recent alert of the org.
    pub fn alert(&self, org: &str, id: &str) -> Option<&AlertView> {
        self.recent.get(org)?.iter().find(|alert| alert.id == id)
    }

    /// The org's recent alerts, newest first.
    pub fn recent_of(&self, org: &str) -> impl Iterator<Item = &AlertView> {
        self.recent.get(org).into_iter().flat_map(|alerts| alerts.iter().rev())
    }
}

impl Projection for Alerts {
    const NAME: &'static str = warden_core::commands::catalogue::readers::ALERTS;
    const VERSION: u32 = 1;

    fn apply(&mut self, event: &Event) {
        let at = timestamp::format(&event.at);
        // A rule's version follows the ledger, whatever the kind.
        if let Some(rule) = subject_id(&event.subject, Prefix::AlertRule).and_then(|id| self.rules.get_mut(id)) {
            rule.version = event.subject_version;
        }
        match event.kind.as_str() {
            ALERT_RULE_CREATED | ALERT_RULE_CHANGED => {
                if let Some(defined) = payload::<RuleDefined>(event) {
                    let created_at = self
                        .rules
                        .get(&defined.rule)
                        .map_or_else(|| at.clone(), |rule| rule.created_at.clone());
                    self.rules.insert(
                        defined.rule.clone(),
                        RuleView {
                            id: defined.rule,
                            org: defined.org,
                            spec: defined.spec,
                            enabled: defined.enabled,
                            version: event.subject_version,
                            created_at,
                            changed_at: at,
                        },
                    );
                }
            }
            ALERT_RULE_ENABLED | ALERT_RULE_DISABLED => {
                if let Some(toggled) = payload::<RuleToggled>(event)
                    && let Some(rule) = self.rules.get_mut(&toggled.rule)
                {
                    rule.enabled = event.kind == ALERT_RULE_ENABLED;
                    rule.version = event.subject_version;
                    rule.changed_at = at;
                }
            }
            ALERT_RULE_REMOVED => {
                if let Some(removed) = payload::<RuleToggled>(event) {
                    self.rules.remove(&removed.rule);
                }
            }
            ALERT_FIRED => {
                if let Some(fired) = payload::<Fired>(event)
                    && let Some(org) = fired.org.clone()
                {
                    let recent = self.recent.entry(org).or_default();
                    recent.push_back(AlertView {
                        id: fired.alert.clone(),
                        seq: event.seq,
                        at,
                        fired,
                        status: AlertStatus::Open,
                        acknowledged: None,
                        resolved: None,
                    });
                    if recent.len() > RECENT_ALERTS {
                        recent.pop_front();
                    }
                }
            }
            ALERT_ACKNOWLEDGED | ALERT_RESOLVED => {
                if let Some(action) = payload::<AlertAction>(event)
                    && let Some(alert) = self
                        .recent
                        .get_mut(&action.org)
                        .and_then(|recent| recent.iter_mut().find(|alert| alert.id == action.alert))
                {
                    let change = Some(StatusChange {
                        by: event.actor.id.clone(),
                        at,
                        note: action.note,
                    });
                    if event.kind == ALERT_RESOLVED {
                        alert.status = AlertStatus::Resolved;
                        alert.resolved = change;
                    } else {
                        alert.status = AlertStatus::Acknowledged;
                        alert.acknowledged = change;
                    }
                }
            }
            _ => {}
        }
    }
}
