//! Table tests of the evaluator, one rule type at a time: exactly at the
//! threshold, the edges of the window, grouping, distinct counts, sequence
//! order and timeout, suppression; and that replaying the same events
//! gives the same firings.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use warden_alerting::{Evaluator, Firing, Rule, RuleSpec};
use warden_core::chain::{Digest, Signature};
use warden_core::{Actor, ActorKind, Event, Outcome};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
}

/// An event at `second` seconds after t0.
#[derive(Clone)]
struct E {
    kind: &'static str,
    second: i64,
    subject: String,
    actor_id: Option<String>,
    ip: Option<String>,
    data: Value,
}

fn e(kind: &'static str, second: i64) -> E {
    E {
        kind,
        second,
        subject: "login:a@x.test".into(),
        actor_id: None,
        ip: Some("192.0.2.1".into()),
        data: json!({}),
    }
}

impl E {
    fn subject(mut self, subject: &str) -> Self {
        self.subject = subject.into();
        self
    }
    fn ip(mut self, ip: Option<&str>) -> Self {
        self.ip = ip.map(str::to_string);
        self
    }
    fn actor(mut self, id: &str) -> Self {
        self.actor_id = Some(id.into());
        self
    }
    fn data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }
}

fn events(list: &[E]) -> Vec<Event> {
    list.iter()
        .enumerate()
        .map(|(index, spec)| {
            let mut actor = Actor::of_kind(if spec.actor_id.is_some() {
                ActorKind::User
            } else {
                ActorKind::Anonymous
            });
            actor.id = spec.actor_id.clone();
            actor.ip = spec.ip.clone();
            Event {
                seq: index as u64 + 1,
                id: uuid::Uuid::now_v7(),
                at: t0() + Duration::milliseconds(spec.second * 1000),
                kind: spec.kind.into(),
                subject: spec.subject.clone(),
                subject_version: 1,
                actor,
                request_id: format!("r{index}"),
                outcome: Outcome::Failure,
                data: spec.data.clone(),
                prev: Digest::ZERO,
                hash: Digest::ZERO,
                key_id: String::new(),
                sig: Signature([0; 64]),
            }
        })
        .collect()
}

/// A table row: its name, the events, the seqs of each expected firing.
type Case = (&'static str, Vec<E>, Vec<Vec<u64>>);

fn rule(spec: Value) -> Rule {
    let spec: RuleSpec = serde_json::from_value(spec).unwrap();
    spec.validate().unwrap();
    Rule {
        id: "r1".into(),
        version: 1,
        enabled: true,
        org: None,
        spec,
    }
}

fn run(rule: &Rule, list: &[E]) -> Vec<Firing> {
    let mut evaluator = Evaluator::new([rule.clone()]);
    events(list)
        .iter()
        .flat_map(|event| evaluator.apply(event, None))
        .collect()
}

/// The triggering seqs of each firing.
fn fired(rule: &Rule, list: &[E]) -> Vec<Vec<u64>> {
    run(rule, list).into_iter().map(|firing| firing.seqs).collect()
}

fn count_rule(threshold: u64, window: u64, suppress: u64, group_by: &[&str]) -> Rule {
    rule(json!({"name": "count", "severity": "medium",
                "condition": {"type": "event_count", "select": {"kinds": ["login.failed"]},
                              "group_by": group_by, "window_seconds": window, "threshold": threshold},
                "suppress_seconds": suppress}))
}

#[test]
fn event_count_fires_exactly_at_the_threshold() {
    let rule = count_rule(3, 60, 0, &[]);
    let cases: &[Case] = &[
        ("below", vec![e("login.failed", 0), e("login.failed", 1)], vec![]),
        (
            "at",
            vec![e("login.failed", 0), e("login.failed", 1), e("login.failed", 2)],
            vec![vec![1, 2, 3]],
        ),
        (
            "other kinds do not count",
            vec![e("login.failed", 0), e("login.succeeded", 1), e("login.failed", 2)],
            vec![],
        ),
        (
            "a firing starts the group afresh",
            (0..6).map(|second| e("login.failed", second)).collect(),
            vec![vec![1, 2, 3], vec![4, 5, 6]],
        ),
    ];
    for (name, list, expected) in cases {
        assert_eq!(&fired(&rule, list), expected, "{name}");
    }
}

#[test]
fn event_count_windows_include_both_edges() {
    let rule = count_rule(2, 60, 0, &[]);
    let cases: &[Case] = &[
        (
            "exactly the window apart",
            vec![e("login.failed", 0), e("login.failed", 60)],
            vec![vec![1, 2]],
        ),
        (
            "one second more",
            vec![e("login.failed", 0), e("login.failed", 61)],
            vec![],
        ),
        (
            "the old one leaves, later ones count",
            vec![e("login.failed", 0), e("login.failed", 61), e("login.failed", 100)],
            vec![vec![2, 3]],
        ),
    ];
    for (name, list, expected) in cases {
        assert_eq!(&fired(&rule, list), expected, "{name}");
    }
}

#[test]
fn event_count_groups_by_fields_and_skips_events_without_them() {
    let rule = count_rule(2, 60, 0, &["subject"]);
    let list = [
        e("login.failed", 0).subject("login:a"),
        e("login.failed", 1).subject("login:b"),
        e("login.failed", 2).subject("login:a"),
        e("login.failed", 3).subject("login:b"),
    ];
    let firings = run(&rule, &list);
    assert_eq!(
        firings.iter().map(|f| f.seqs.clone()).collect::<Vec<_>>(),
        vec![vec![1, 3], vec![2, 4]]
    );
    assert_eq!(firings[0].group["subject"], "login:a");
    assert_eq!(firings[1].group["subject"], "login:b");

    let by_ip = count_rule(2, 60, 0, &["actor.ip"]);
    let list = [
        e("login.failed", 0).ip(None),
        e("login.failed", 1).ip(None),
        e("login.failed", 2).ip(Some("198.51.100.9")),
    ];
    assert!(
        fired(&by_ip, &list).is_empty(),
        "events without the field are not grouped together"
    );
}

#[test]
fn suppression_silences_a_group_for_its_window_only() {
    let rule = count_rule(2, 60, 100, &["subject"]);
    let list = [
        e("login.failed", 0).subject("login:a"),
        e("login.failed", 1).subject("login:a"), // fires at 1, silent until 101
        e("login.failed", 2).subject("login:b"),
        e("login.failed", 3).subject("login:b"), // another group fires
        e("login.failed", 50).subject("login:a"),
        e("login.failed", 60).subject("login:a"), // suppressed, not counted
        e("login.failed", 101).subject("login:a"),
        e("login.failed", 102).subject("login:a"), // counted afresh
    ];
    assert_eq!(fired(&rule, &list), vec![vec![1, 2], vec![3, 4], vec![7, 8]]);
}

#[test]
fn value_count_counts_distinct_values_in_the_window() {
    let rule = rule(json!({"name": "spray", "severity": "high",
        "condition": {"type": "value_count", "select": {"kinds": ["login.failed"]},
                      "group_by": ["actor.ip"], "field": "subject",
                      "window_seconds": 600, "threshold": 3},
        "suppress_seconds": 0}));
    let ip = |list: Vec<E>, address: &str| -> Vec<E> { list.into_iter().map(|e| e.ip(Some(address))).collect() };
    let cases: &[Case] = &[
        (
            "the same account again is not another value",
            ip(
                vec![
                    e("login.failed", 0).subject("login:a"),
                    e("login.failed", 1).subject("login:a"),
                    e("login.failed", 2).subject("login:b"),
                ],
                "192.0.2.1",
            ),
            vec![],
        ),
        (
            "three accounts from one address",
            ip(
                vec![
                    e("login.failed", 0).subject("login:a"),
                    e("login.failed", 1).subject("login:a"),
                    e("login.failed", 2).subject("login:b"),
                    e("login.failed", 600).subject("login:c"),
                ],
                "192.0.2.1",
            ),
            vec![vec![2, 3, 4]],
        ),
        (
            "a value older than the window no longer counts",
            ip(
                vec![
                    e("login.failed", 0).subject("login:a"),
                    e("login.failed", 1).subject("login:b"),
                    e("login.failed", 601).subject("login:c"),
                ],
                "192.0.2.1",
            ),
            vec![],
        ),
        (
            "addresses are separate groups",
            vec![
                e("login.failed", 0).subject("login:a").ip(Some("192.0.2.1")),
                e("login.failed", 1).subject("login:b").ip(Some("192.0.2.2")),
                e("login.failed", 2).subject("login:c").ip(Some("192.0.2.3")),
            ],
            vec![],
        ),
    ];
    for (name, list, expected) in cases {
        assert_eq!(&fired(&rule, list), expected, "{name}");
    }
}

#[test]
fn temporal_ordered_needs_the_order_and_the_window() {
    let rule = rule(json!({"name": "takeover", "severity": "critical",
        "condition": {"type": "temporal_ordered",
                      "steps": [{"kinds": ["mfa.totp.removed"]}, {"kinds": ["api_key.created"]}],
                      "group_by": ["actor.id"], "window_seconds": 900},
        "suppress_seconds": 0}));
    let cases: &[Case] = &[
        (
            "in order, in time",
            vec![
                e("mfa.totp.removed", 0).actor("u1"),
                e("api_key.created", 900).actor("u1"),
            ],
            vec![vec![1, 2]],
        ),
        (
            "too late",
            vec![
                e("mfa.totp.removed", 0).actor("u1"),
                e("api_key.created", 901).actor("u1"),
            ],
            vec![],
        ),
        (
            "wrong order",
            vec![
                e("api_key.created", 0).actor("u1"),
                e("mfa.totp.removed", 10).actor("u1"),
            ],
            vec![],
        ),
        (
            "another actor",
            vec![
                e("mfa.totp.removed", 0).actor("u1"),
                e("api_key.created", 10).actor("u2"),
            ],
            vec![],
        ),
        (
            "a later start rescues a chain that timed out",
            vec![
                e("mfa.totp.removed", 0).actor("u1"),
                e("mfa.totp.removed", 800).actor("u1"),
                e("api_key.created", 1000).actor("u1"),
            ],
            vec![vec![2, 3]],
        ),
        (
            "events in between do not matter",
            vec![
                e("mfa.totp.removed", 0).actor("u1"),
                e("login.failed", 5).actor("u1"),
                e("api_key.created", 10).actor("u1"),
            ],
            vec![vec![1, 3]],
        ),
        (
            "a completed sequence starts afresh",
            vec![
                e("mfa.totp.removed", 0).actor("u1"),
                e("api_key.created", 10).actor("u1"),
                e("api_key.created", 20).actor("u1"),
            ],
            vec![vec![1, 2]],
        ),
    ];
    for (name, list, expected) in cases {
        assert_eq!(&fired(&rule, list), expected, "{name}");
    }
}

#[test]
fn a_three_step_sequence_takes_one_step_per_event() {
    let rule = rule(json!({"name": "three", "severity": "high",
        "condition": {"type": "temporal_ordered",
                      "steps": [{"kinds": ["app.a"]}, {"kinds": ["app.*"]}, {"kinds": ["app.c"]}],
                      "window_seconds": 60},
        "suppress_seconds": 0}));
    // app.a matches steps 0 and 1, but one event advances one step.
    assert!(fired(&rule, &[e("app.a", 0), e("app.c", 1)]).is_empty());
    assert_eq!(
        fired(&rule, &[e("app.a", 0), e("app.a", 1), e("app.c", 2)]),
        vec![vec![1, 2, 3]]
    );
}

#[test]
fn match_fires_per_event_with_field_conditions() {
    let rule = rule(json!({"name": "role", "severity": "high",
        "condition": {"type": "match",
                      "select": {"kinds": ["user.role_changed"],
                                 "where": [{"field": "data.new", "in": ["admin", "owner"]},
                                           {"field": "data.org", "exists": true}]}},
        "suppress_seconds": 0}));
    let list = [
        e("user.role_changed", 0).data(json!({"org": "o", "old": "member", "new": "admin"})),
        e("user.role_changed", 1).data(json!({"org": "o", "old": "admin", "new": "member"})),
        e("user.role_changed", 2).data(json!({"old": "member", "new": "owner"})),
        e("user.role_changed", 3).data(json!({"org": "o", "old": "member", "new": "owner"})),
    ];
    assert_eq!(fired(&rule, &list), vec![vec![1], vec![4]]);
}

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
