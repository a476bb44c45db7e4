//! Alert rules and alerts. Rules are changed by an org's owners and
//! admins; the evaluator (`warden-alerting`) reads these events in `seq`
//! order like any other, so a rule takes effect at the seq of its change.
//! An alert that fired is an event naming the rule and the `seq`s of the
//! events that fired it, so an auditor can check why.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Context, Prefix, data, subject};
use crate::event::{NewEvent, Outcome};

pub const ALERT_RULE_CREATED: &str = "alert_rule.created";
pub const ALERT_RULE_CHANGED: &str = "alert_rule.changed";
pub const ALERT_RULE_ENABLED: &str = "alert_rule.enabled";
pub const ALERT_RULE_DISABLED: &str = "alert_rule.disabled";
pub const ALERT_RULE_REMOVED: &str = "alert_rule.removed";
pub const ALERT_FIRED: &str = "alert.fired";
/// A rule tried against the org's recent trail: a read of the trail, so
/// recorded like an audit search.
pub const ALERT_RULE_PREVIEWED: &str = "alert_rule.previewed";
/// A delivery attempt that reached its recipient.
pub const ALERT_DELIVERED: &str = "alert.delivered";
/// A delivery attempt that failed; another is due at its `next_at`.
pub const ALERT_DELIVERY_FAILED: &str = "alert.delivery_failed";
/// The last delivery attempt failed: no more until a re-send.
pub const ALERT_DEAD_LETTERED: &str = "alert.dead_lettered";
/// A person asked for an alert to be delivered again.
pub const ALERT_RESEND_REQUESTED: &str = "alert.resend_requested";
pub const ALERT_ACKNOWLEDGED: &str = "alert.acknowledged";
pub const ALERT_RESOLVED: &str = "alert.resolved";

/// `alert_rule:<id>`: a rule's history; its version is the rule's.
pub fn rule_subject(rule: &str) -> String {
    subject(Prefix::AlertRule, rule)
}

/// `alert:<id>`: an alert's history (fired, delivered, acknowledged …).
pub fn alert_subject(alert: &str) -> String {
    subject(Prefix::Alert, alert)
}

/// A rule as created or changed: `spec` is the rule in the language of
/// `docs/alerting/rules.md`, validated by the alerting crate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleDefined {
    pub rule: String,
    pub org: String,
    pub spec: Value,
    /// For a change: the rule before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    pub enabled: bool,
}

/// A rule enabled, disabled or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleToggled {
    pub rule: String,
    pub org: String,
}

/// Who is told of an alert: `{"webhook": "<endpoint id>"}` (an endpoint
/// of the org, see [`super::webhook_endpoint`]) or `{"email": "<address>"}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Recipient {
    Webhook(String),
    Email(String),
}

impl std::fmt::Display for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Recipient::Webhook(endpoint) => write!(f, "webhook:{endpoint}"),
            Recipient::Email(address) => write!(f, "email:{address}"),
        }
    }
}

/// A rule fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fired {
    /// The alert's id: stable for the same rule and last triggering event.
    pub alert: String,
    pub rule: String,
    pub rule_version: u64,
    /// The rule's name and severity when it fired.
    pub name: String,
    pub severity: String,
    /// The org whose trail the triggering events are in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// The rule's `group_by` fields and their values.
    pub group: BTreeMap<String, String>,
    /// The triggering events, ascending.
    pub seqs: Vec<u64>,
    /// Who is told, as the rule said when it fired: a later change of the
    /// rule does not change where an alert already went.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<Recipient>,
}

/// What a preview read and found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Previewed {
    pub org: String,
    /// The rule's name as previewed.
    pub name: String,
    pub hours: u64,
    /// Events of the org's trail the rule was run over.
    pub examined: usize,
    /// Times it would have fired.
    pub firings: usize,
}

pub fn rule_previewed(context: &Context, previewed: &Previewed) -> NewEvent {
    context
        .event(ALERT_RULE_PREVIEWED, super::audit::audit_subject(&previewed.org))
        .data(data(previewed))
}

pub fn rule_created(context: &Context, defined: &RuleDefined) -> NewEvent {
    context
        .event(ALERT_RULE_CREATED, rule_subject(&defined.rule))
        .expect_version(0)
        .data(data(defined))
}

pub fn rule_changed(context: &Context, defined: &RuleDefined, version: u64) -> NewEvent {
    context
        .event(ALERT_RULE_CHANGED, rule_subject(&defined.rule))
        .expect_version(version)
        .data(data(defined))
}

/// `enabled` true: `alert_rule.enabled`; false: `alert_rule.disabled`.
pub fn rule_toggled(context: &Context, toggled: &RuleToggled, enabled: bool, version: u64) -> NewEvent {
    let kind = if enabled {
        ALERT_RULE_ENABLED
    } else {
        ALERT_RULE_DISABLED
    };
    context
        .event(kind, rule_subject(&toggled.rule))
        .expect_version(version)
        .data(data(toggled))
}

pub fn rule_removed(context: &Context, removed: &RuleToggled, version: u64) -> NewEvent {
    context
        .event(ALERT_RULE_REMOVED, rule_subject(&removed.rule))
        .expect_version(version)
        .data(data(removed))
}

/// The alert, as the first event of its subject: a second evaluator, or
/// one replaying after a restart, computes the same id and its append is
/// refused as a conflict.
pub fn fired(context: &Context, fired: &Fired) -> NewEvent {
    context
        .event(ALERT_FIRED, alert_subject(&fired.alert))
        .expect_version(0)
        .data(data(fired))
}

/// One delivery attempt and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    pub alert: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    pub recipient: Recipient,
    /// 1 for the first attempt; a re-send starts again at 1.
    pub attempt: u32,
    /// The webhook's HTTP status, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why it failed (never a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For a failed attempt that will be retried: when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_at: Option<String>,
    pub duration_ms: u64,
}

/// How an attempt ended: the kind of its event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptEnd {
    Delivered,
    /// Failed; retried at `next_at`.
    Failed,
    /// Failed, and it was the last attempt.
    DeadLettered,
}

/// Appended by the one deliverer, without an expected version: attempts
/// to several recipients of one alert end in any order.
pub fn delivery_attempted(context: &Context, attempt: &DeliveryAttempt, end: AttemptEnd) -> NewEvent {
    let (kind, outcome) = match end {
        AttemptEnd::Delivered => (ALERT_DELIVERED, Outcome::Success),
        AttemptEnd::Failed => (ALERT_DELIVERY_FAILED, Outcome::Failure),
        AttemptEnd::DeadLettered => (ALERT_DEAD_LETTERED, Outcome::Failure),
    };
    context
        .event(kind, alert_subject(&attempt.alert))
        .outcome(outcome)
        .data(data(attempt))
}

/// A re-send of an alert, to one recipient or (none named) to all of its
/// recipients; or a person acknowledging or resolving an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertAction {
    pub alert: String,
    pub org: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<Recipient>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

pub fn resend_requested(context: &Context, action: &AlertAction) -> NewEvent {
    context
        .event(ALERT_RESEND_REQUESTED, alert_subject(&action.alert))
        .data(data(action))
}

/// `resolved` false: `alert.acknowledged`; true: `alert.resolved`.
pub fn status_changed(context: &Context, action: &AlertAction, resolved: bool) -> NewEvent {
    let kind = if resolved { ALERT_RESOLVED } else { ALERT_ACKNOWLEDGED };
    context.event(kind, alert_subject(&action.alert)).data(data(action))
}
