//! Table tests of each rule type: exactly at the threshold, the edges of
//! the window, grouping, suppression, distinct counts, sequence order and
//! timeout, field conditions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Case, E, count_rule, e, events, fired, rule, run};
use serde_json::{Value, json};
use warden_alerting::evaluator::{Evaluator, Rule};

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

/// An org's rule sees its org's events, and of the events of no org only
/// the published checkpoints, when it names their kind itself.
#[test]
fn an_org_rule_sees_checkpoints_it_names_and_no_other_org_s_events() {
    let org_rule = |kinds: Value| Rule {
        org: Some("acme".into()),
        ..rule(json!({"name": "org", "severity": "info",
                      "condition": {"type": "match", "select": {"kinds": kinds}},
                      "suppress_seconds": 0}))
    };
    let list = events(&[
        e("ledger.checkpointed", 0),
        e("login.failed", 1),
        e("ledger.checkpointed", 2),
    ]);
    // The org of each event: checkpoints and the login of another org.
    let orgs = [None, Some("globex"), None];
    let fired = |rule: Rule| -> Vec<u64> {
        let mut evaluator = Evaluator::new([rule]);
        list.iter()
            .zip(orgs)
            .flat_map(|(event, org)| evaluator.apply(event, org))
            .flat_map(|firing| firing.seqs)
            .collect()
    };
    assert_eq!(fired(org_rule(json!(["ledger.checkpointed"]))), [1, 3]);
    assert_eq!(fired(org_rule(json!(["ledger.checkpointed", "login.failed"]))), [1, 3]);
    assert!(fired(org_rule(json!(["*"]))).is_empty());
    assert!(fired(org_rule(json!(["ledger.*"]))).is_empty());
    assert!(fired(org_rule(json!(["login.failed"]))).is_empty());
}
