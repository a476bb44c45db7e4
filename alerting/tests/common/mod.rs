//! What the evaluator's table tests share: events at seconds after t0,
//! rules from JSON, and running a rule over a list of events.

#![allow(dead_code)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use warden_alerting::{Evaluator, Firing, Rule, RuleSpec};
use warden_core::chain::{Digest, Signature};
use warden_core::{Actor, ActorKind, Event, Outcome};

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
}

/// An event at `second` seconds after t0.
#[derive(Clone)]
pub struct E {
    kind: &'static str,
    second: i64,
    subject: String,
    actor_id: Option<String>,
    ip: Option<String>,
    data: Value,
}

pub fn e(kind: &'static str, second: i64) -> E {
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
    pub fn subject(mut self, subject: &str) -> Self {
        self.subject = subject.into();
        self
    }
    pub fn ip(mut self, ip: Option<&str>) -> Self {
        self.ip = ip.map(str::to_string);
        self
    }
    pub fn actor(mut self, id: &str) -> Self {
        self.actor_id = Some(id.into());
        self
    }
    pub fn data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }
}

pub fn events(list: &[E]) -> Vec<Event> {
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
pub type Case = (&'static str, Vec<E>, Vec<Vec<u64>>);

pub fn rule(spec: Value) -> Rule {
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

pub fn run(rule: &Rule, list: &[E]) -> Vec<Firing> {
    let mut evaluator = Evaluator::new([rule.clone()]);
    events(list)
        .iter()
        .flat_map(|event| evaluator.apply(event, None))
        .collect()
}

/// The triggering seqs of each firing.
pub fn fired(rule: &Rule, list: &[E]) -> Vec<Vec<u64>> {
    run(rule, list).into_iter().map(|firing| firing.seqs).collect()
}

pub fn count_rule(threshold: u64, window: u64, suppress: u64, group_by: &[&str]) -> Rule {
    rule(json!({"name": "count", "severity": "medium",
                "condition": {"type": "event_count", "select": {"kinds": ["login.failed"]},
                              "group_by": group_by, "window_seconds": window, "threshold": threshold},
                "suppress_seconds": suppress}))
}
