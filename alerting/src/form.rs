//! The console's alert rule form (issue 21): a rule as fields a person
//! fills in, to and from the rule itself. The form covers what most rules
//! need: one of `match`, `event_count` and `value_count`; up to
//! [`KIND_ROWS`] kind patterns and [`WHERE_ROWS`] tests on fields with
//! text values; up to two fields to group by; threshold, window and
//! suppression in minutes; webhook endpoints and email addresses. A rule
//! it cannot show whole (a sequence, working hours, a test on a number,
//! a window in seconds) is edited as JSON, and [`RuleForm::of`] says why.
//!
//! The form is read from its fields by name ([`RuleForm::from_fields`]):
//! the recipients are checkboxes named `webhook:<endpoint id>` and
//! `email:<address>`, and `other_emails` holds any other addresses.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::rule::{Condition, Recipient, RuleSpec, Test};

/// Kind patterns the form has rows for.
pub const KIND_ROWS: usize = 3;
/// Field tests the form has rows for.
pub const WHERE_ROWS: usize = 2;
/// Fields to group by.
pub const GROUP_ROWS: usize = 2;
/// The fields offered to group by, count and test (any other is typed).
pub const FIELDS: [&str; 10] = [
    "subject",
    "actor.id",
    "actor.ip",
    "actor.kind",
    "actor.user_agent",
    "outcome",
    "kind",
    "data.user",
    "data.method",
    "data.reason",
];
/// The tests, as the form names them.
pub const TESTS: [&str; 5] = ["equals", "not_equals", "in", "prefix", "exists"];
/// The condition types the form builds.
pub const CONDITIONS: [&str; 3] = ["match", "event_count", "value_count"];

/// One test on a field: its value as typed (`in`: comma-separated;
/// `exists`: `yes` or `no`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WhereRow {
    pub field: String,
    pub test: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleForm {
    pub name: String,
    pub description: String,
    pub severity: String,
    /// `match`, `event_count` or `value_count`.
    pub condition: String,
    pub kinds: [String; KIND_ROWS],
    pub conditions: [WhereRow; WHERE_ROWS],
    pub group_by: [String; GROUP_ROWS],
    /// `value_count`'s field.
    pub field: String,
    pub threshold: String,
    pub window_minutes: String,
    pub suppress_minutes: String,
    /// Endpoint ids ticked.
    pub webhooks: Vec<String>,
    /// Addresses ticked or typed, in order, once each.
    pub emails: Vec<String>,
}

/// Why a field of the form is refused (the field's name, and what to do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormError {
    pub field: &'static str,
    pub message: String,
}

fn refused(field: &'static str, message: impl Into<String>) -> FormError {
    FormError {
        field,
        message: message.into(),
    }
}

fn minutes(seconds: u64) -> Option<String> {
    seconds.is_multiple_of(60).then(|| (seconds / 60).to_string())
}

fn number(field: &'static str, text: &str, what: &str) -> Result<u64, FormError> {
    text.trim()
        .parse::<u64>()
        .map_err(|_| refused(field, format!("{what} is a whole number")))
}

/// A test's value as the form shows it; `None` for one it cannot (a
/// number, a list of other than text).
fn shown(test: &Test) -> Option<(&'static str, String)> {
    let text = |value: &Value| value.as_str().map(str::to_string);
    Some(match test {
        Test::Equals(value) => ("equals", text(value)?),
        Test::NotEquals(value) => ("not_equals", text(value)?),
        Test::In(values) => (
            "in",
            values
                .iter()
                .map(|value| text(value).filter(|text| !text.contains(',')))
                .collect::<Option<Vec<_>>>()?
                .join(", "),
        ),
        Test::Prefix(prefix) => ("prefix", prefix.clone()),
        Test::Exists(true) => ("exists", "yes".into()),
        Test::Exists(false) => ("exists", "no".into()),
    })
}

fn rows<const N: usize>(values: impl Iterator<Item = String>) -> Option<[String; N]> {
    let values: Vec<String> = values.collect();
    if values.len() > N {
        return None;
    }
    let mut rows: [String; N] = std::array::from_fn(|_| String::new());
    for (row, value) in rows.iter_mut().zip(values) {
        *row = value;
    }
    Some(rows)
}

impl RuleForm {
    /// The form of `spec`, or why the form cannot show it all.
    pub fn of(spec: &RuleSpec) -> Result<RuleForm, &'static str> {
        let (condition, select, group_by, field, threshold, window) = match &spec.condition {
            Condition::Match { select, group_by } => ("match", select, group_by, None, None, None),
            Condition::EventCount {
                select,
                group_by,
                window_seconds,
                threshold,
            } => (
                "event_count",
                select,
                group_by,
                None,
                Some(*threshold),
                Some(*window_seconds),
            ),
            Condition::ValueCount {
                select,
                group_by,
                field,
                window_seconds,
                threshold,
            } => (
                "value_count",
                select,
                group_by,
                Some(field.as_str().to_string()),
                Some(*threshold),
                Some(*window_seconds),
            ),
            Condition::TemporalOrdered { .. } => return Err("it is a sequence of steps"),
        };
        if select.outside_hours.is_some() {
            return Err("it looks only outside working hours");
        }
        let kinds = rows(select.kinds.iter().cloned()).ok_or("it names more kinds than the form has rows for")?;
        let tests = select
            .conditions
            .iter()
            .map(|condition| {
                shown(&condition.test).map(|(test, value)| WhereRow {
                    field: condition.field.as_str().to_string(),
                    test: test.to_string(),
                    value,
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or("it tests a field against a value that is not text")?;
        if tests.len() > WHERE_ROWS {
            return Err("it tests more fields than the form has rows for");
        }
        let mut conditions: [WhereRow; WHERE_ROWS] = Default::default();
        for (row, test) in conditions.iter_mut().zip(tests) {
            *row = test;
        }
        let group_by = rows(group_by.iter().map(|field| field.as_str().to_string()))
            .ok_or("it groups by more fields than the form has rows for")?;
        let window_minutes = match window {
            Some(seconds) => minutes(seconds).ok_or("its window is not in whole minutes")?,
            None => String::new(),
        };
        let suppress_minutes = minutes(spec.suppress_seconds).ok_or("its suppression is not in whole minutes")?;
        let mut form = RuleForm {
            name: spec.name.clone(),
            description: spec.description.clone(),
            severity: serde_json::to_value(spec.severity)
                .ok()
                .and_then(|value| value.as_str().map(str::to_string))
                .unwrap_or_default(),
            condition: condition.into(),
            kinds,
            conditions,
            group_by,
            field: field.unwrap_or_default(),
            threshold: threshold.map(|threshold| threshold.to_string()).unwrap_or_default(),
            window_minutes,
            suppress_minutes,
            ..Default::default()
        };
        for recipient in &spec.recipients {
            match recipient {
                Recipient::Webhook(endpoint) => form.webhooks.push(endpoint.clone()),
                Recipient::Email(address) => form.emails.push(address.clone()),
            }
        }
        Ok(form)
    }

    /// The form as its fields were posted, by name.
    pub fn from_fields(fields: &BTreeMap<String, String>) -> RuleForm {
        let get = |name: &str| {
            fields
                .get(name)
                .map(|value| value.trim().to_string())
                .unwrap_or_default()
        };
        let mut form = RuleForm {
            name: get("name"),
            description: get("description"),
            severity: get("severity"),
            condition: get("condition"),
            kinds: std::array::from_fn(|n| get(&format!("kind_{}", n + 1))),
            conditions: std::array::from_fn(|n| WhereRow {
                field: get(&format!("where_{}_field", n + 1)),
                test: get(&format!("where_{}_test", n + 1)),
                value: get(&format!("where_{}_value", n + 1)),
            }),
            group_by: std::array::from_fn(|n| get(&format!("group_by_{}", n + 1))),
            field: get("field"),
            threshold: get("threshold"),
            window_minutes: get("window_minutes"),
            suppress_minutes: get("suppress_minutes"),
            ..Default::default()
        };
        for (name, _) in fields.iter().filter(|(_, value)| !value.is_empty()) {
            if let Some(endpoint) = name.strip_prefix("webhook:") {
                form.webhooks.push(endpoint.to_string());
            } else if let Some(address) = name.strip_prefix("email:") {
                form.emails.push(address.to_string());
            }
        }
        for address in get("other_emails").split([',', '\n', ' ', ';']) {
            let address = address.trim();
            if !address.is_empty() && !form.emails.iter().any(|known| known.eq_ignore_ascii_case(address)) {
                form.emails.push(address.to_string());
            }
        }
        form
    }

    /// The rule the form describes, as JSON; the rule's own checks
    /// (`RuleSpec::validate`) come after.
    pub fn to_spec(&self) -> Result<Value, FormError> {
        if !CONDITIONS.contains(&self.condition.as_str()) {
            return Err(refused("condition", "choose what fires the rule"));
        }
        let kinds: Vec<&str> = self
            .kinds
            .iter()
            .map(|kind| kind.trim())
            .filter(|kind| !kind.is_empty())
            .collect();
        if kinds.is_empty() {
            return Err(refused(
                "kind_1",
                "name at least one kind of event (login.failed, mfa.*)",
            ));
        }
        let mut conditions = Vec::new();
        const VALUES: [&str; WHERE_ROWS] = ["where_1_value", "where_2_value"];
        const TESTED: [&str; WHERE_ROWS] = ["where_1_test", "where_2_test"];
        for (n, row) in self
            .conditions
            .iter()
            .enumerate()
            .filter(|(_, row)| !row.field.is_empty())
        {
            let value = row.value.trim();
            let test = match row.test.as_str() {
                "equals" => json!({ "equals": value }),
                "not_equals" => json!({ "not_equals": value }),
                "prefix" => json!({ "prefix": value }),
                "in" => json!({ "in": value.split(',').map(str::trim).filter(|v| !v.is_empty()).collect::<Vec<_>>() }),
                "exists" => match value {
                    "yes" => json!({ "exists": true }),
                    "no" => json!({ "exists": false }),
                    _ => return Err(refused(VALUES[n], "a field exists: yes or no")),
                },
                _ => return Err(refused(TESTED[n], "choose how the field is tested")),
            };
            let mut test = test;
            test["field"] = Value::String(row.field.clone());
            conditions.push(test);
        }
        let mut select = json!({ "kinds": kinds });
        if !conditions.is_empty() {
            select["where"] = Value::Array(conditions);
        }
        let group_by: Vec<&str> = self
            .group_by
            .iter()
            .map(String::as_str)
            .filter(|field| !field.is_empty())
            .collect();
        let mut condition = json!({ "type": self.condition, "select": select, "group_by": group_by });
        if self.condition != "match" {
            condition["threshold"] = json!(number("threshold", &self.threshold, "the threshold")?);
            let window = number("window_minutes", &self.window_minutes, "the window, in minutes,")?;
            condition["window_seconds"] = json!(window.saturating_mul(60));
        }
        if self.condition == "value_count" {
            if self.field.is_empty() {
                return Err(refused("field", "choose the field whose different values are counted"));
            }
            condition["field"] = json!(self.field);
        }
        let suppress = match self.suppress_minutes.trim() {
            "" => 0,
            text => number("suppress_minutes", text, "the silence after a firing, in minutes,")?,
        };
        let recipients: Vec<Value> = self
            .webhooks
            .iter()
            .map(|endpoint| json!({ "webhook": endpoint }))
            .chain(self.emails.iter().map(|address| json!({ "email": address })))
            .collect();
        Ok(json!({
            "name": self.name,
            "description": self.description,
            "severity": self.severity,
            "condition": condition,
            "suppress_seconds": suppress.saturating_mul(60),
            "recipients": recipients,
        }))
    }
}
