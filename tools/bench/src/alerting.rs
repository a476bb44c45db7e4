//! The alerting suite: evaluation throughput with 50 active rules over a
//! generated stream, doing per event what the evaluator's sink does
//! (learn the directory, attribute the event to its org, apply every
//! rule). Chain verification before it is measured by the ledger suite's
//! replay row.

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use warden_alerting::{Evaluator, Rule};
use warden_core::Event;
use warden_projections::audit::{Directory, org_of};
use warden_tests::audit::{Population, generate};

const RULES: usize = 50;
/// Event time between two generated events: 1,000 events per second.
const SPACING_MICROS: i64 = 1000;

/// 50 rules: the built-in templates for five orgs, thresholds varied so
/// that some fire and some only keep windows.
fn rules(population: &Population) -> Vec<Rule> {
    let templates = warden_alerting::templates::all();
    let mut rules = Vec::new();
    for (n, org) in population.orgs.iter().cycle().enumerate() {
        if rules.len() == RULES {
            break;
        }
        let template = &templates[n % templates.len()];
        let mut spec = template.spec.clone();
        if let warden_alerting::Condition::EventCount { threshold, .. }
        | warden_alerting::Condition::ValueCount { threshold, .. } = &mut spec.condition
        {
            *threshold = 3 + (n as u64 % 5) * 10;
        }
        rules.push(Rule {
            id: format!("rule-{n}"),
            version: 1,
            enabled: true,
            org: Some(org.clone()),
            spec,
        });
    }
    rules
}

pub fn run(events: u64) {
    let population = Population::new(8, 200);
    let start = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
    let mut stream: Vec<Event> = Vec::with_capacity(events as usize + population.users.len());
    let new_events = population
        .creations()
        .into_iter()
        .chain(generate(&population, events as usize, 7));
    for (index, new) in new_events.enumerate() {
        let at = start + Duration::microseconds(index as i64 * SPACING_MICROS);
        stream.push(Event::unsealed(index as u64 + 1, at, new));
    }
    let rules = rules(&population);
    println!(
        "## Alert evaluation ({RULES} rules, {} events, 1,000 events/s of event time)\n",
        stream.len()
    );
    println!("| run | events/s | firings | groups held at the end |");
    println!("| --- | --- | --- | --- |");
    for run in 1..=3 {
        let mut evaluator = Evaluator::new(rules.clone());
        let mut directory = Directory::default();
        let mut firings = 0usize;
        let started = Instant::now();
        for event in &stream {
            directory.learn(event);
            let org = org_of(event, &directory);
            firings += evaluator.apply(event, org.as_deref()).len();
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "| {run} | {:.0} | {firings} | {} |",
            stream.len() as f64 / seconds,
            evaluator.groups()
        );
    }
}
