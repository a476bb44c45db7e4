//! The evaluator: rules applied to the event stream, one event at a time,
//! in `seq` order. Deterministic and without I/O: windows are measured in
//! event time (`at`), so replaying the same events gives the same firings,
//! which is how a restart neither misses nor repeats an alert.
//!
//! Semantics (documented in `docs/alerting/rules.md`):
//! - An event is within the window of a later event at `t` when its `at`
//!   is at or after `t - window` (both edges count).
//! - An event lacking one of the rule's `group_by` fields is not counted
//!   by that rule.
//! - A firing consumes the group's state: the group starts afresh. Until
//!   `suppress_seconds` after the firing, matching events of the group are
//!   ignored.
//! - Events of kind `alert.*` (the evaluator's own) are never inputs.

use std::collections::{BTreeMap, HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use warden_core::Event;

use crate::rule::{Condition, RuleSpec, Severity};

/// Kinds the evaluator never takes as input: its own output.
pub const OWN_KINDS: &str = "alert.";
/// Kinds of no org that every org's rules may watch, when they name the
/// kind itself: Warden's published statements about the whole log
/// (decision 0020), which an org's auditors want delivered.
pub const EVERY_ORG_KINDS: &[&str] = &[warden_core::commands::checkpoint::LEDGER_CHECKPOINTED];
/// Groups are pruned every this many events.
const PRUNE_EVERY: u64 = 4096;

/// A rule as the evaluator runs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    /// Bumped by every change; state is kept across a change of `enabled`
    /// only.
    pub version: u64,
    pub enabled: bool,
    /// The org whose trail the rule watches; `None`: every event.
    #[serde(default)]
    pub org: Option<String>,
    pub spec: RuleSpec,
}

/// A rule fired: which rule, for which group, because of which events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firing {
    pub rule: String,
    pub rule_version: u64,
    pub severity: Severity,
    /// The rule's `group_by` fields and their values.
    pub group: BTreeMap<String, String>,
    /// The triggering events, ascending.
    pub seqs: Vec<u64>,
    /// The time of the last triggering event.
    pub at: DateTime<Utc>,
}

impl Firing {
    /// A stable id: the same rule fired by the same last event is the same
    /// alert, whichever node or restart computed it.
    pub fn id(&self) -> String {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"warden/alert/v1\n");
        hasher.update(self.rule.as_bytes());
        hasher.update(b"\n");
        hasher.update(&self.seqs.last().copied().unwrap_or_default().to_be_bytes());
        hasher.finalize().to_hex()[..32].to_string()
    }
}

/// One matched event, as windows keep it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Seen {
    at: DateTime<Utc>,
    seq: u64,
}

/// A partial sequence: the events matching steps `0..=i`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Chain {
    start: DateTime<Utc>,
    seqs: Vec<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Group {
    /// `event_count`: the matching events in the window.
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    events: VecDeque<Seen>,
    /// `value_count`: each distinct value's latest event.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    values: BTreeMap<String, Seen>,
    /// `temporal_ordered`: the best chain reaching each step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    chains: Vec<Option<Chain>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    suppressed_until: Option<DateTime<Utc>>,
    /// The latest event that touched the group (for pruning).
    last: Option<DateTime<Utc>>,
}

impl Group {
    fn is_empty(&self) -> bool {
        self.events.is_empty() && self.values.is_empty() && self.chains.iter().all(Option::is_none)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RuleState {
    rule: Rule,
    groups: HashMap<String, Group>,
}

/// Every rule's state. Serializable: the evaluator's snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evaluator {
    rules: BTreeMap<String, RuleState>,
    applied: u64,
}

impl Evaluator {
    pub fn new(rules: impl IntoIterator<Item = Rule>) -> Self {
        let mut evaluator = Evaluator::default();
        evaluator.set_rules(rules);
        evaluator
    }

    /// Installs the current rules: a rule whose version is unchanged keeps
    /// its windows; a new or changed rule starts empty; a removed rule
    /// goes.
    pub fn set_rules(&mut self, rules: impl IntoIterator<Item = Rule>) {
        let mut next = BTreeMap::new();
        for rule in rules {
            let groups = match self.rules.remove(&rule.id) {
                Some(state) if state.rule.version == rule.version => state.groups,
                _ => HashMap::new(),
            };
            next.insert(rule.id.clone(), RuleState { rule, groups });
        }
        self.rules = next;
    }

    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.values().map(|state| &state.rule)
    }

    /// Groups held in memory, over every rule.
    pub fn groups(&self) -> usize {
        self.rules.values().map(|state| state.groups.len()).sum()
    }

    /// Applies one event of `org`'s trail (`None`: of no org's); returns
    /// the firings it caused. A rule of an org sees that org's events
    /// only, and the [`EVERY_ORG_KINDS`] it names.
    pub fn apply(&mut self, event: &Event, org: Option<&str>) -> Vec<Firing> {
        if event.kind.starts_with(OWN_KINDS) {
            return Vec::new();
        }
        self.applied += 1;
        if self.applied.is_multiple_of(PRUNE_EVERY) {
            self.prune(event.at);
        }
        self.rules
            .values_mut()
            .filter(|state| state.rule.enabled)
            .filter(|state| match state.rule.org.as_deref() {
                None => true,
                Some(rule_org) if Some(rule_org) == org => true,
                Some(_) => {
                    EVERY_ORG_KINDS.contains(&event.kind.as_str()) && state.rule.spec.condition.names_kind(&event.kind)
                }
            })
            .filter_map(|state| state.apply(event))
            .collect()
    }

    /// Drops groups with nothing left in their window and no suppression
    /// running at `now`.
    pub fn prune(&mut self, now: DateTime<Utc>) {
        for state in self.rules.values_mut() {
            let window = seconds(state.rule.spec.condition.window_seconds());
            state.groups.retain(|_, group| {
                let suppressed = group.suppressed_until.is_some_and(|until| until > now);
                let recent = group.last.is_some_and(|last| last >= now - window);
                suppressed || (recent && !group.is_empty())
            });
        }
    }
}

fn seconds(count: u64) -> Duration {
    Duration::seconds(i64::try_from(count).unwrap_or(i64::MAX / 1000))
}

impl RuleState {
    fn apply(&mut self, event: &Event) -> Option<Firing> {
        let condition = &self.rule.spec.condition;
        let relevant = match condition {
            Condition::Match { select, .. }
            | Condition::EventCount { select, .. }
            | Condition::ValueCount { select, .. } => select.matches(event),
            Condition::TemporalOrdered { steps, .. } => steps.iter().any(|step| step.matches(event)),
        };
        if !relevant {
            return None;
        }
        let mut group_values = BTreeMap::new();
        for field in condition.group_by() {
            group_values.insert(field.as_str().to_string(), field.key(event)?);
        }
        // The group's name: its values as a JSON object (a JSON value's
        // text, which cannot fail to write).
        let key = serde_json::Value::Object(
            group_values
                .iter()
                .map(|(field, value)| (field.clone(), serde_json::Value::from(value.as_str())))
                .collect(),
        )
        .to_string();
        let group = self.groups.entry(key).or_default();
        let now = event.at;
        group.last = Some(now);
        if group.suppressed_until.is_some_and(|until| now < until) {
            return None;
        }
        group.suppressed_until = None;
        let seen = Seen {
            at: now,
            seq: event.seq,
        };
        let window = seconds(condition.window_seconds());
        let seqs = match condition {
            Condition::Match { .. } => Some(vec![event.seq]),
            Condition::EventCount { threshold, .. } => {
                group.events.push_back(seen);
                while group.events.front().is_some_and(|first| first.at < now - window) {
                    group.events.pop_front();
                }
                (group.events.len() as u64 >= *threshold).then(|| group.events.iter().map(|seen| seen.seq).collect())
            }
            Condition::ValueCount { field, threshold, .. } => {
                let value = field.key(event)?;
                group.values.insert(value, seen);
                group.values.retain(|_, seen| seen.at >= now - window);
                (group.values.len() as u64 >= *threshold).then(|| {
                    let mut seqs: Vec<u64> = group.values.values().map(|seen| seen.seq).collect();
                    seqs.sort_unstable();
                    seqs
                })
            }
            Condition::TemporalOrdered { steps, .. } => advance(&mut group.chains, steps, event, window),
        };
        let seqs = seqs?;
        *group = Group {
            suppressed_until: Some(now + seconds(self.rule.spec.suppress_seconds)),
            last: Some(now),
            ..Group::default()
        };
        Some(Firing {
            rule: self.rule.id.clone(),
            rule_version: self.rule.version,
            severity: self.rule.spec.severity,
            group: group_values,
            seqs,
            at: now,
        })
    }
}

/// Moves a sequence on with one event; returns the complete chain's seqs.
/// Steps are tried from the last to the first, so one event never takes
/// two steps of the same chain.
fn advance(
    chains: &mut Vec<Option<Chain>>,
    steps: &[crate::rule::Selector],
    event: &Event,
    window: Duration,
) -> Option<Vec<u64>> {
    chains.resize(steps.len(), None);
    let now = event.at;
    for chain in chains.iter_mut() {
        if chain.as_ref().is_some_and(|chain| chain.start < now - window) {
            *chain = None;
        }
    }
    for index in (0..steps.len()).rev() {
        if !steps[index].matches(event) {
            continue;
        }
        let extended = if index == 0 {
            Some(Chain {
                start: now,
                seqs: vec![event.seq],
            })
        } else {
            chains[index - 1].as_ref().map(|previous| Chain {
                start: previous.start,
                seqs: previous.seqs.iter().copied().chain([event.seq]).collect(),
            })
        };
        let Some(extended) = extended else { continue };
        if index == steps.len() - 1 {
            return Some(extended.seqs);
        }
        // Keep the chain that started last: it stays in the window longest.
        let better = chains[index]
            .as_ref()
            .is_none_or(|current| extended.start >= current.start);
        if better {
            chains[index] = Some(extended);
        }
    }
    None
}
