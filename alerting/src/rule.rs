//! Alert rules: what to look for in the event stream, and how to tell
//! people. The language is documented in `docs/alerting/rules.md`; its
//! correlation types are Sigma's (`event_count`, `value_count`,
//! `temporal_ordered`), plus single-event `match`.
//!
//! A rule is JSON (the API's and the console's format):
//!
//! ```json
//! {"name": "Failed sign-ins per account", "severity": "medium",
//!  "condition": {"type": "event_count", "select": {"kinds": ["login.failed"]},
//!                "group_by": ["subject"], "window_seconds": 300, "threshold": 5},
//!  "suppress_seconds": 900}
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;
use warden_core::Event;
pub use warden_core::commands::alert::Recipient;

/// Longest window a rule may use: the evaluator keeps at most this much
/// of the stream per group in memory, and replays this much after a
/// restart.
pub const MAX_WINDOW_SECONDS: u64 = 24 * 3600;
/// Most steps in a sequence, most values in an `in` list, most kinds.
pub const MAX_LIST: usize = 32;
/// Most recipients of one rule.
pub const MAX_RECIPIENTS: usize = 10;

/// An address lettre can send to: `local@domain`, no spaces or angle
/// brackets, at most 320 characters.
pub fn is_email_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    address.chars().count() <= 320
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && address
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, '<' | '>' | ',' | ';' | '"'))
        && !domain.contains('@')
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {message}")]
pub struct RuleError {
    /// Where in the rule (`condition.threshold`, `select.where[0].field`).
    pub field: String,
    pub message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> RuleError {
    RuleError {
        field: field.into(),
        message: message.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

/// What a rule looks for and when it fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub severity: Severity,
    pub condition: Condition,
    /// After a firing, the same rule stays silent for the same group this
    /// long (event time).
    #[serde(default)]
    pub suppress_seconds: u64,
    /// Who is told when it fires: `{"webhook": "<endpoint id>"}` or
    /// `{"email": "<address>"}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<Recipient>,
}

/// The four rule types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// Every matching event fires (subject to suppression per group).
    Match {
        select: Selector,
        #[serde(default)]
        group_by: Vec<Field>,
    },
    /// At least `threshold` matching events of one group within
    /// `window_seconds`.
    EventCount {
        select: Selector,
        #[serde(default)]
        group_by: Vec<Field>,
        window_seconds: u64,
        threshold: u64,
    },
    /// At least `threshold` different values of `field` among the
    /// matching events of one group within `window_seconds`.
    ValueCount {
        select: Selector,
        #[serde(default)]
        group_by: Vec<Field>,
        field: Field,
        window_seconds: u64,
        threshold: u64,
    },
    /// Events matching each step, in this order (by `seq`), for one group,
    /// the last within `window_seconds` of the first.
    TemporalOrdered {
        steps: Vec<Selector>,
        #[serde(default)]
        group_by: Vec<Field>,
        window_seconds: u64,
    },
}

/// Which events a rule (or a step) considers: any of the kind patterns,
/// and every condition on fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    /// `login.failed`, `mfa.*` (the kind and every kind below it), `*`.
    pub kinds: Vec<String>,
    #[serde(default, rename = "where", skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<FieldCondition>,
    /// Only events recorded outside these working hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outside_hours: Option<crate::hours::WorkingHours>,
}

/// A test on one field of the event: `{"field": "data.new", "in":
/// ["admin", "owner"]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldCondition {
    pub field: Field,
    #[serde(flatten)]
    pub test: Test,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Test {
    /// Equal to this JSON value (strings compare exactly).
    Equals(Value),
    /// Not equal to it (a missing field is not equal).
    NotEquals(Value),
    /// Equal to one of these.
    In(Vec<Value>),
    /// A string starting with this.
    Prefix(String),
    /// Present (`true`) or absent (`false`).
    Exists(bool),
}

/// A path into the event: `kind`, `subject`, `outcome`, `request_id`,
/// `actor.kind`, `actor.id`, `actor.org`, `actor.ip`, `actor.user_agent`,
/// `actor.on_behalf_of`, `actor.ticket`, or `data.<member>[.<member>…]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Field(String);

const ENVELOPE_FIELDS: [&str; 4] = ["kind", "subject", "outcome", "request_id"];
const ACTOR_FIELDS: [&str; 7] = ["kind", "id", "org", "ip", "user_agent", "on_behalf_of", "ticket"];

impl TryFrom<String> for Field {
    type Error = String;

    fn try_from(path: String) -> Result<Self, String> {
        let valid = ENVELOPE_FIELDS.contains(&path.as_str())
            || path
                .strip_prefix("actor.")
                .is_some_and(|member| ACTOR_FIELDS.contains(&member))
            || path
                .strip_prefix("data.")
                .is_some_and(|rest| rest.split('.').all(|member| !member.is_empty()));
        if valid {
            Ok(Field(path))
        } else {
            Err(format!(
                "unknown field {path:?}: use kind, subject, outcome, request_id, actor.<{}> or data.<member>",
                ACTOR_FIELDS.join("|")
            ))
        }
    }
}

impl From<Field> for String {
    fn from(field: Field) -> String {
        field.0
    }
}

impl Field {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The field's value in `event`, if it has one (`null` counts as none).
    pub fn value(&self, event: &Event) -> Option<Value> {
        let text = |value: &str| Some(Value::String(value.to_string()));
        let path = self.0.as_str();
        let value = match path {
            "kind" => text(&event.kind),
            "subject" => text(&event.subject),
            "outcome" => text(event.outcome.as_str()),
            "request_id" => text(&event.request_id),
            "actor.kind" => text(event.actor.kind.as_str()),
            "actor.id" => event.actor.id.as_deref().and_then(text),
            "actor.org" => event.actor.org.as_deref().and_then(text),
            "actor.ip" => event.actor.ip.as_deref().and_then(text),
            "actor.user_agent" => event.actor.user_agent.as_deref().and_then(text),
            "actor.on_behalf_of" => event.actor.on_behalf_of.as_deref().and_then(text),
            "actor.ticket" => event.actor.ticket.as_deref().and_then(text),
            _ => {
                let mut value = &event.data;
                for member in path.strip_prefix("data.")?.split('.') {
                    value = value.get(member)?;
                }
                Some(value.clone())
            }
        };
        value.filter(|value| !value.is_null())
    }

    /// The value as a group key part: strings as they are, other values
    /// as JSON.
    pub fn key(&self, event: &Event) -> Option<String> {
        self.value(event).map(|value| match value {
            Value::String(text) => text,
            other => other.to_string(),
        })
    }
}

/// `login.failed` matches itself; `mfa.*` matches `mfa.totp.removed`; `*`
/// matches everything.
pub fn kind_matches(pattern: &str, kind: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some("") => true,
        Some(prefix) => prefix.ends_with('.') && kind.starts_with(prefix),
        None => pattern == kind,
    }
}

impl Selector {
    pub fn matches(&self, event: &Event) -> bool {
        self.kinds.iter().any(|pattern| kind_matches(pattern, &event.kind))
            && self.conditions.iter().all(|condition| condition.holds(event))
            && self.outside_hours.as_ref().is_none_or(|hours| hours.outside(event.at))
    }

    fn validate(&self, at: &str) -> Result<(), RuleError> {
        if self.kinds.is_empty() || self.kinds.len() > MAX_LIST {
            return Err(invalid(format!("{at}.kinds"), format!("1 to {MAX_LIST} kind patterns")));
        }
        for (index, pattern) in self.kinds.iter().enumerate() {
            let name = pattern.strip_suffix(".*").unwrap_or(pattern);
            let words_ok = name.split('.').all(|word| {
                !word.is_empty()
                    && word
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            });
            if pattern != "*" && !words_ok {
                return Err(invalid(
                    format!("{at}.kinds[{index}]"),
                    "a kind (login.failed), a prefix (login.*) or *",
                ));
            }
        }
        if self.conditions.len() > MAX_LIST {
            return Err(invalid(format!("{at}.where"), format!("at most {MAX_LIST} conditions")));
        }
        if let Some(hours) = &self.outside_hours {
            hours.validate(at)?;
        }
        for (index, condition) in self.conditions.iter().enumerate() {
            if let Test::In(values) = &condition.test
                && (values.is_empty() || values.len() > MAX_LIST)
            {
                return Err(invalid(
                    format!("{at}.where[{index}].in"),
                    format!("1 to {MAX_LIST} values"),
                ));
            }
        }
        Ok(())
    }
}

impl FieldCondition {
    pub fn holds(&self, event: &Event) -> bool {
        let value = self.field.value(event);
        match (&self.test, value) {
            (Test::Exists(wanted), value) => value.is_some() == *wanted,
            (Test::Equals(expected), Some(value)) => value == *expected,
            (Test::NotEquals(expected), Some(value)) => value != *expected,
            (Test::In(expected), Some(value)) => expected.contains(&value),
            (Test::Prefix(prefix), Some(Value::String(text))) => text.starts_with(prefix.as_str()),
            _ => false,
        }
    }
}

impl Condition {
    /// Whether a selector of the rule names `kind` itself (not through a
    /// prefix or `*`).
    pub fn names_kind(&self, kind: &str) -> bool {
        let selectors: &[Selector] = match self {
            Condition::Match { select, .. }
            | Condition::EventCount { select, .. }
            | Condition::ValueCount { select, .. } => std::slice::from_ref(select),
            Condition::TemporalOrdered { steps, .. } => steps,
        };
        selectors
            .iter()
            .any(|selector| selector.kinds.iter().any(|pattern| pattern == kind))
    }

    pub fn group_by(&self) -> &[Field] {
        match self {
            Condition::Match { group_by, .. }
            | Condition::EventCount { group_by, .. }
            | Condition::ValueCount { group_by, .. }
            | Condition::TemporalOrdered { group_by, .. } => group_by,
        }
    }

    /// The window, zero for `match`.
    pub fn window_seconds(&self) -> u64 {
        match self {
            Condition::Match { .. } => 0,
            Condition::EventCount { window_seconds, .. }
            | Condition::ValueCount { window_seconds, .. }
            | Condition::TemporalOrdered { window_seconds, .. } => *window_seconds,
        }
    }
}

impl RuleSpec {
    /// Checks what serde cannot: lengths, ranges, patterns.
    pub fn validate(&self) -> Result<(), RuleError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(invalid("name", "1 to 200 characters without control characters"));
        }
        if self.description.chars().count() > 2000 {
            return Err(invalid("description", "at most 2000 characters"));
        }
        if self.suppress_seconds > MAX_WINDOW_SECONDS {
            return Err(invalid(
                "suppress_seconds",
                format!("at most {MAX_WINDOW_SECONDS} (24 hours)"),
            ));
        }
        let window = |seconds: u64| {
            if (1..=MAX_WINDOW_SECONDS).contains(&seconds) {
                Ok(())
            } else {
                Err(invalid(
                    "condition.window_seconds",
                    format!("1 to {MAX_WINDOW_SECONDS} (24 hours)"),
                ))
            }
        };
        let threshold = |threshold: u64| {
            if (1..=100_000).contains(&threshold) {
                Ok(())
            } else {
                Err(invalid("condition.threshold", "1 to 100000"))
            }
        };
        self.validate_recipients()?;
        if self.condition.group_by().len() > 4 {
            return Err(invalid("condition.group_by", "at most 4 fields"));
        }
        match &self.condition {
            Condition::Match { select, .. } => select.validate("condition.select"),
            Condition::EventCount {
                select,
                window_seconds,
                threshold: count,
                ..
            }
            | Condition::ValueCount {
                select,
                window_seconds,
                threshold: count,
                ..
            } => {
                select.validate("condition.select")?;
                window(*window_seconds)?;
                threshold(*count)
            }
            Condition::TemporalOrdered {
                steps, window_seconds, ..
            } => {
                if steps.len() < 2 || steps.len() > MAX_LIST {
                    return Err(invalid("condition.steps", format!("2 to {MAX_LIST} steps")));
                }
                for (index, step) in steps.iter().enumerate() {
                    step.validate(&format!("condition.steps[{index}]"))?;
                }
                window(*window_seconds)
            }
        }
    }

    fn validate_recipients(&self) -> Result<(), RuleError> {
        if self.recipients.len() > MAX_RECIPIENTS {
            return Err(invalid("recipients", format!("at most {MAX_RECIPIENTS}")));
        }
        for (index, recipient) in self.recipients.iter().enumerate() {
            let field = format!("recipients[{index}]");
            match recipient {
                Recipient::Webhook(endpoint) => {
                    if endpoint.is_empty() || endpoint.len() > 64 {
                        return Err(invalid(format!("{field}.webhook"), "an endpoint id"));
                    }
                }
                Recipient::Email(address) => {
                    if !is_email_address(address) {
                        return Err(invalid(
                            format!("{field}.email"),
                            "an email address like soc@example.org",
                        ));
                    }
                }
            }
            if self.recipients[..index].contains(recipient) {
                return Err(invalid(field, "named twice"));
            }
        }
        Ok(())
    }
}
