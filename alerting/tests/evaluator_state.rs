//! The evaluator's state: its own alerts and disabled rules ignored, a
//! restore at any point giving the same firings, rule changes, pruning,
//! org scoping, and bad rules refused by name.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::Duration;
use common::{E, count_rule, e, events, fired, rule, t0};
use serde_json::json;
use warden_alerting::{Evaluator, Firing, RuleSpec};

#[test]
fn the_evaluator_ignores_its_own_alerts_and_disabled_rules() {
    let mut any = rule(json!({"name": "any", "severity": "info",
        "condition": {"type": "match", "select": {"kinds": ["*"]}}}));
    assert!(fired(&any, &[e("alert.fired", 0), e("alert.delivered", 1)]).is_empty());
    assert_eq!(fired(&any, &[e("alerting.thing", 0)]), vec![vec![1]]);
    any.enabled = false;
    assert!(fired(&any, &[e("login.failed", 0)]).is_empty());
}

#[test]
fn a_restored_evaluator_continues_where_the_first_stopped() {
    let rule = count_rule(4, 300, 100, &["subject"]);
    let list: Vec<E> = (0..20).map(|n| e("login.failed", n * 20).subject("login:a")).collect();
    let all = events(&list);
    let once: Vec<Firing> = {
        let mut evaluator = Evaluator::new([rule.clone()]);
        all.iter().flat_map(|event| evaluator.apply(event, None)).collect()
    };
    // Fires at 60 s, is silent until 160 s, fires at 220 s and 380 s.
    let seqs: Vec<Vec<u64>> = once.iter().map(|firing| firing.seqs.clone()).collect();
    assert_eq!(seqs, vec![vec![1, 2, 3, 4], vec![9, 10, 11, 12], vec![17, 18, 19, 20]]);
    // Stopped in the middle of a window, saved, restored: same firings.
    for cut in 1..all.len() {
        let mut first = Evaluator::new([rule.clone()]);
        let mut firings: Vec<Firing> = all[..cut].iter().flat_map(|event| first.apply(event, None)).collect();
        let saved = serde_json::to_vec(&first).unwrap();
        let mut restored: Evaluator = serde_json::from_slice(&saved).unwrap();
        firings.extend(all[cut..].iter().flat_map(|event| restored.apply(event, None)));
        assert_eq!(firings, once, "cut after {cut} events");
    }
    // The same firing has the same id wherever it is computed.
    assert_eq!(once[0].id(), once.clone()[0].id());
    assert_ne!(once[0].id(), once[1].id());
}

#[test]
fn a_changed_rule_starts_empty_and_an_unchanged_one_keeps_its_window() {
    let rule = count_rule(2, 60, 0, &[]);
    let list = events(&[e("login.failed", 0), e("login.failed", 1)]);
    let mut evaluator = Evaluator::new([rule.clone()]);
    assert!(evaluator.apply(&list[0], None).is_empty());
    evaluator.set_rules([rule.clone()]);
    assert_eq!(
        evaluator.apply(&list[1], None).len(),
        1,
        "same version: the window is kept"
    );

    let mut evaluator = Evaluator::new([rule.clone()]);
    evaluator.apply(&list[0], None);
    let mut changed = rule.clone();
    changed.version = 2;
    evaluator.set_rules([changed]);
    assert!(
        evaluator.apply(&list[1], None).is_empty(),
        "a new version counts afresh"
    );
}

#[test]
fn idle_groups_are_pruned() {
    let rule = count_rule(100, 60, 0, &["subject"]);
    let mut evaluator = Evaluator::new([rule]);
    for event in events(
        &(0..50)
            .map(|n| e("login.failed", n).subject(&format!("login:{n}")))
            .collect::<Vec<_>>(),
    ) {
        evaluator.apply(&event, None);
    }
    assert_eq!(evaluator.groups(), 50);
    evaluator.prune(t0() + Duration::seconds(200));
    assert_eq!(evaluator.groups(), 0);
}

#[test]
fn bad_rules_are_refused_naming_the_field() {
    let cases = [
        (
            json!({"type": "event_count", "select": {"kinds": ["login.failed"]}, "window_seconds": 0, "threshold": 5}),
            "condition.window_seconds",
        ),
        (
            json!({"type": "event_count", "select": {"kinds": ["login.failed"]}, "window_seconds": 60, "threshold": 0}),
            "condition.threshold",
        ),
        (
            json!({"type": "match", "select": {"kinds": []}}),
            "condition.select.kinds",
        ),
        (
            json!({"type": "match", "select": {"kinds": ["Login.Failed"]}}),
            "condition.select.kinds[0]",
        ),
        (
            json!({"type": "temporal_ordered", "steps": [{"kinds": ["a.b"]}], "window_seconds": 60}),
            "condition.steps",
        ),
    ];
    for (condition, field) in cases {
        let spec: RuleSpec =
            serde_json::from_value(json!({"name": "x", "severity": "low", "condition": condition})).unwrap();
        assert_eq!(spec.validate().unwrap_err().field, field, "{condition}");
    }
    let unknown_field = serde_json::from_value::<RuleSpec>(json!({"name": "x", "severity": "low",
        "condition": {"type": "match", "select": {"kinds": ["a.b"], "where": [{"field": "actor.password", "equals": 1}]}}}));
    assert!(
        unknown_field
            .unwrap_err()
            .to_string()
            .contains("unknown field \"actor.password\"")
    );
}

#[test]
fn an_org_rule_sees_its_org_only() {
    let mut rule = count_rule(2, 60, 0, &[]);
    rule.org = Some("acme".into());
    let list = events(&[e("login.failed", 0), e("login.failed", 1), e("login.failed", 2)]);
    let mut evaluator = Evaluator::new([rule]);
    assert!(evaluator.apply(&list[0], Some("acme")).is_empty());
    assert!(evaluator.apply(&list[1], Some("globex")).is_empty());
    assert!(evaluator.apply(&list[1], None).is_empty());
    assert_eq!(evaluator.apply(&list[2], Some("acme")).len(), 1);
}
