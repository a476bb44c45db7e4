//! The alert rule form's conversion (`warden_alerting::form`): every
//! template the form shows comes back from it unchanged, the fields posted
//! make the rule they say, refusals name their field, and a rule the form
//! cannot show says why.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use serde_json::{Value, json};
use warden_alerting::form::{RuleForm, WhereRow};
use warden_alerting::rule::RuleSpec;
use warden_alerting::templates;

fn spec(value: Value) -> RuleSpec {
    serde_json::from_value(value).unwrap()
}

#[test]
fn every_template_the_form_shows_comes_back_the_same() {
    let mut shown = 0;
    for template in templates::all() {
        match RuleForm::of(&template.spec) {
            Ok(form) => {
                let again = spec(form.to_spec().unwrap());
                assert_eq!(again, template.spec, "{}", template.name);
                shown += 1;
            }
            Err(why) => assert!(!why.is_empty()),
        }
    }
    assert!(shown >= 5, "most templates fit the form: {shown}");
}

#[test]
fn from_the_fields_posted() {
    let fields: BTreeMap<String, String> = [
        ("name", " Spraying "),
        ("severity", "high"),
        ("condition", "value_count"),
        ("kind_1", "login.failed"),
        ("kind_2", " "),
        ("kind_3", "mfa.*"),
        ("where_1_field", "data.method"),
        ("where_1_test", "in"),
        ("where_1_value", "password, passkey,"),
        ("where_2_field", ""),
        ("group_by_1", "actor.ip"),
        ("field", "subject"),
        ("threshold", "10"),
        ("window_minutes", "10"),
        ("suppress_minutes", "30"),
        ("webhook:e-1", "on"),
        ("email:soc@example.org", "on"),
        ("other_emails", "a@example.org, SOC@example.org\nb@example.org"),
        ("csrf_token", "t"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let built = RuleForm::from_fields(&fields).to_spec().unwrap();
    assert_eq!(
        built,
        json!({"name": "Spraying", "description": "", "severity": "high",
               "condition": {"type": "value_count",
                             "select": {"kinds": ["login.failed", "mfa.*"],
                                        "where": [{"field": "data.method", "in": ["password", "passkey"]}]},
                             "group_by": ["actor.ip"], "field": "subject",
                             "threshold": 10, "window_seconds": 600},
               "suppress_seconds": 1800,
               "recipients": [{"webhook": "e-1"}, {"email": "soc@example.org"},
                              {"email": "a@example.org"}, {"email": "b@example.org"}]})
    );
    spec(built).validate().unwrap();
}

#[test]
fn refusals_name_their_field() {
    let base = RuleForm {
        name: "r".into(),
        severity: "low".into(),
        condition: "event_count".into(),
        kinds: ["login.failed".into(), String::new(), String::new()],
        threshold: "5".into(),
        window_minutes: "5".into(),
        ..Default::default()
    };
    assert!(base.to_spec().is_ok());
    type Change = fn(&mut RuleForm);
    let cases: [(Change, &str); 7] = [
        (|form| form.condition = "sometimes".into(), "condition"),
        (|form| form.kinds = Default::default(), "kind_1"),
        (|form| form.threshold = "five".into(), "threshold"),
        (|form| form.window_minutes = "-5".into(), "window_minutes"),
        (|form| form.suppress_minutes = "1.5".into(), "suppress_minutes"),
        (
            |form| {
                form.condition = "value_count".into();
            },
            "field",
        ),
        (
            |form| {
                form.conditions[0] = WhereRow {
                    field: "data.new".into(),
                    test: "exists".into(),
                    value: "perhaps".into(),
                }
            },
            "where_1_value",
        ),
    ];
    for (change, field) in cases {
        let mut form = base.clone();
        change(&mut form);
        assert_eq!(form.to_spec().unwrap_err().field, field);
    }
}

#[test]
fn rules_the_form_cannot_show_say_why() {
    let cases = [
        (
            json!({"name": "s", "severity": "low", "condition": {"type": "temporal_ordered",
                   "steps": [{"kinds": ["a.b"]}, {"kinds": ["c.d"]}], "window_seconds": 60}}),
            "it is a sequence of steps",
        ),
        (
            json!({"name": "n", "severity": "low", "condition": {"type": "match",
                   "select": {"kinds": ["a.b"], "where": [{"field": "data.n", "equals": 3}]}}}),
            "it tests a field against a value that is not text",
        ),
        (
            json!({"name": "w", "severity": "low", "condition": {"type": "event_count",
                   "select": {"kinds": ["a.b"]}, "window_seconds": 90, "threshold": 2}}),
            "its window is not in whole minutes",
        ),
        (
            json!({"name": "k", "severity": "low", "condition": {"type": "match",
                   "select": {"kinds": ["a.b", "c.d", "e.f", "g.h"]}}}),
            "it names more kinds than the form has rows for",
        ),
    ];
    for (rule, why) in cases {
        assert_eq!(RuleForm::of(&spec(rule)), Err(why));
    }
}
