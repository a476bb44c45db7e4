//! Alert rules and alerts. Rules are changed by an org's owners and
//! admins; the evaluator (`warden-alerting`) reads these events in `seq`
//! order like any other, so a rule takes effect at the seq of its change.
//! An alert that fired is an event naming the rule and the `seq`s of the
//! events that fired it, so an auditor can check why.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::sentence::{Ref, Sentence, Summarize, has_long_hex, joined, listed, readable_time_text};
use super::{Context, Prefix, data, subject};
use crate::event::{Event, NewEvent, Outcome};

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

// The sentences of these kinds (`super::sentence`).

impl Summarize for RuleDefined {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let rule = Ref::AlertRule(self.rule.clone());
        match event.kind.as_str() {
            ALERT_RULE_CREATED => {
                let sentence = Sentence::by(event).words(" created ").refer(rule);
                Some(match (spec_text(&self.spec, "severity"), self.enabled) {
                    (Some(severity), true) => sentence.words(" (severity ").value(severity).words(")"),
                    (Some(severity), false) => sentence.words(" (severity ").value(severity).words(", disabled)"),
                    (None, true) => sentence,
                    (None, false) => sentence.words(" (disabled)"),
                })
            }
            ALERT_RULE_CHANGED => {
                let sentence = Sentence::by(event).words(" changed ").refer(rule);
                let Some(old) = &self.old else {
                    return Some(sentence);
                };
                let mut changes: Vec<Sentence> = Vec::new();
                for (member, what) in [
                    ("name", "name"),
                    ("description", "description"),
                    ("severity", "severity"),
                    ("condition", "condition"),
                    ("recipients", "recipients"),
                    ("suppress_seconds", "quiet period after firing"),
                ] {
                    let (before, after) = (old.get(member), self.spec.get(member));
                    if before == after {
                        continue;
                    }
                    let change = Sentence::new().words(what);
                    changes.push(
                        match (member, before.and_then(Value::as_str), after.and_then(Value::as_str)) {
                            ("severity", Some(before), Some(after)) => {
                                change.words(" from ").value(before).words(" to ").value(after)
                            }
                            ("name", Some(before), Some(after)) => change
                                .words(" from \"")
                                .value(before)
                                .words("\" to \"")
                                .value(after)
                                .words("\""),
                            _ => change,
                        },
                    );
                }
                if changes.is_empty() {
                    return Some(sentence);
                }
                Some(listed(sentence.words(" ("), changes, joined).words(")"))
            }
            _ => None,
        }
    }
}

impl Summarize for RuleToggled {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let verb = match event.kind.as_str() {
            ALERT_RULE_ENABLED => " enabled ",
            ALERT_RULE_DISABLED => " disabled ",
            ALERT_RULE_REMOVED => " removed ",
            _ => return None,
        };
        Some(Sentence::by(event).words(verb).refer(Ref::AlertRule(self.rule.clone())))
    }
}

impl Summarize for Previewed {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event)
            .words(" tried the alert rule \"")
            .value(self.name.as_str());
        let sentence = match self.hours {
            1 => sentence.words("\" on the last hour of the audit trail: "),
            hours => sentence
                .words("\" on the last ")
                .count(hours, "hour", "hours")
                .words(" of the audit trail: "),
        };
        let sentence = match self.firings {
            0 => sentence.words("it would not have fired"),
            1 => sentence.words("it would have fired once"),
            firings => sentence
                .words("it would have fired ")
                .count(firings as u64, "time", "times"),
        };
        Some(sentence.words(" in ").count(self.examined as u64, "event", "events"))
    }
}

impl Summarize for Fired {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event)
            .words(" raised an alert of ")
            .value(self.severity.as_str())
            .words(" severity on ")
            .refer(Ref::AlertRule(self.rule.clone()))
            .words(": ");
        let sentence = match self.seqs.as_slice() {
            [] => sentence.words("no event named"),
            seqs @ [_, ..] if seqs.len() <= 3 => listed(sentence, seqs.iter().copied(), |sentence, seq| {
                sentence.refer(Ref::Event(seq))
            }),
            [.., last] => sentence
                .count(self.seqs.len() as u64, "event", "events")
                .words(" up to ")
                .refer(Ref::Event(*last)),
        };
        let groups: Vec<Sentence> = self
            .group
            .iter()
            .filter_map(|(field, value)| group_part(field, value))
            .collect();
        if groups.is_empty() {
            return Some(sentence);
        }
        Some(listed(sentence.words(", all for "), groups, joined))
    }
}

impl Summarize for DeliveryAttempt {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let alert = Ref::Alert(self.alert.clone());
        let sentence = Sentence::by(event);
        match event.kind.as_str() {
            ALERT_DELIVERED => {
                let sentence = recipient(
                    sentence.words(" delivered ").refer(alert).words(" to "),
                    &self.recipient,
                );
                let sentence = match self.status {
                    Some(status) => sentence.words(" (HTTP ").value(status.to_string()).words(")"),
                    None => sentence,
                };
                Some(match self.attempt {
                    0 | 1 => sentence,
                    attempt => sentence.words(" on attempt ").value(attempt.to_string()),
                })
            }
            ALERT_DELIVERY_FAILED => {
                let sentence = recipient(
                    sentence.words(" could not deliver ").refer(alert).words(" to "),
                    &self.recipient,
                );
                let sentence = self.why(sentence);
                Some(match self.next_at.as_deref() {
                    Some(next) => sentence
                        .words("; it will try again at ")
                        .value(readable_time_text(next)),
                    None => sentence,
                })
            }
            ALERT_DEAD_LETTERED => {
                let sentence = recipient(
                    sentence.words(" gave up delivering ").refer(alert).words(" to "),
                    &self.recipient,
                );
                Some(self.why(sentence))
            }
            _ => None,
        }
    }
}

impl DeliveryAttempt {
    /// ` (attempt 2: the endpoint answered HTTP 503)`.
    fn why(&self, sentence: Sentence) -> Sentence {
        let sentence = sentence.words(" (attempt ").value(self.attempt.to_string());
        let sentence = match (self.error.as_deref(), self.status) {
            (Some("http_error") | None, Some(status)) => sentence
                .words(": the endpoint answered HTTP ")
                .value(status.to_string()),
            (Some("http_error"), None) => sentence.words(": the endpoint answered with an error"),
            (Some("timeout"), _) => sentence.words(": the endpoint did not answer in time"),
            (Some("unreachable"), _) => sentence.words(": the endpoint could not be reached"),
            (Some(error), _) => sentence.words(": ").value(error),
            (None, None) => sentence,
        };
        sentence.words(")")
    }
}

impl Summarize for AlertAction {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let alert = Ref::Alert(self.alert.clone());
        let sentence = Sentence::by(event);
        let sentence = match event.kind.as_str() {
            ALERT_RESEND_REQUESTED => {
                let sentence = sentence
                    .words(" asked for ")
                    .refer(alert)
                    .words(" to be delivered again to ");
                match &self.recipient {
                    Some(to) => recipient(sentence, to),
                    None => sentence.words("all its recipients"),
                }
            }
            ALERT_ACKNOWLEDGED => sentence.words(" acknowledged ").refer(alert),
            ALERT_RESOLVED => sentence.words(" resolved ").refer(alert),
            _ => return None,
        };
        Some(match self.note.as_deref().filter(|note| !note.trim().is_empty()) {
            Some(note) => sentence.words(" (note: ").value(note).words(")"),
            None => sentence,
        })
    }
}

/// A webhook endpoint, by reference, or an email address.
fn recipient(sentence: Sentence, recipient: &Recipient) -> Sentence {
    match recipient {
        Recipient::Webhook(endpoint) => sentence.refer(Ref::WebhookEndpoint(endpoint.clone())),
        Recipient::Email(address) => sentence.value(address.as_str()),
    }
}

/// A text member of a rule's spec.
fn spec_text<'a>(spec: &'a Value, member: &str) -> Option<&'a str> {
    spec.get(member).and_then(Value::as_str)
}

/// One field of an alert's group as a reader wants it: the user, session
/// or key a subject names, an address; nothing for a hash.
fn group_part(field: &str, value: &str) -> Option<Sentence> {
    let part = Sentence::new();
    Some(match field {
        "subject" => {
            let (prefix, id) = value.split_once(':').unwrap_or((value, ""));
            match prefix {
                "user" => part.user(id),
                "session" => part.refer(Ref::Session(id.into())),
                "api_key" | "api_key_use" => part.refer(Ref::ApiKey(id.into())),
                "alert_rule" => part.refer(Ref::AlertRule(id.into())),
                "webhook_endpoint" => part.refer(Ref::WebhookEndpoint(id.into())),
                "login" => part.words("one sign-in name"),
                _ if has_long_hex(value) => part.words("one subject"),
                _ => part.words("subject ").value(value),
            }
        }
        "data.user" | "actor.on_behalf_of" => part.user(value),
        "actor.ip" => part.words("address ").value(value),
        _ if has_long_hex(value) => return None,
        "actor.id" => part.words("actor ").value(value),
        "actor.kind" => part.words("actor kind ").value(value),
        _ => part.value(field).words(" ").value(value),
    })
}
