//! Alert rules and alerts. Rules are changed by an org's owners and
//! admins; the evaluator (`warden-alerting`) reads these events in `seq`
//! order like any other, so a rule takes effect at the seq of its change.
//! An alert that fired is an event naming the rule and the `seq`s of the
//! events that fired it, so an auditor can check why.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Context, data, subject};
use crate::event::NewEvent;

pub const ALERT_RULE_CREATED: &str = "alert_rule.created";
pub const ALERT_RULE_CHANGED: &str = "alert_rule.changed";
pub const ALERT_RULE_ENABLED: &str = "alert_rule.enabled";
pub const ALERT_RULE_DISABLED: &str = "alert_rule.disabled";
pub const ALERT_RULE_REMOVED: &str = "alert_rule.removed";
pub const ALERT_FIRED: &str = "alert.fired";
/// A rule tried against the org's recent trail: a read of the trail, so
/// recorded like an audit search.
pub const ALERT_RULE_PREVIEWED: &str = "alert_rule.previewed";

/// `alert_rule:<id>`: a rule's history; its version is the rule's.
pub fn rule_subject(rule: &str) -> String {
    subject("alert_rule", rule)
}

/// `alert:<id>`: an alert's history (fired, delivered, acknowledged …).
pub fn alert_subject(alert: &str) -> String {
    subject("alert", alert)
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
