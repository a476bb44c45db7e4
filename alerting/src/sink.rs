//! The evaluator on the live stream: a sink of the projection runner, so
//! it gets verified events only, in `seq` order, with gaps repaired from
//! the log (a forged or corrupted event on the bus never reaches a rule).
//!
//! Rules come from the `alert_rule.*` events of the same stream, so a rule
//! change takes effect at its seq. Each firing goes to the [`Appender`],
//! which appends `alert.fired`; the sink's snapshot (evaluator windows,
//! rules, the directory of users for org attribution, the chain verifier)
//! is saved only once every firing before it is appended. After a crash
//! the sink replays from its snapshot: firings it computes again have the
//! same ids, and the ledger refuses them as conflicts. So an alert fires
//! once, never zero times or twice ([decision 0014]).
//!
//! [decision 0014]: ../../docs/decisions/0014-alert-evaluation.md

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use warden_core::chain::VerifierState;
use warden_core::commands::alert::{
    self, ALERT_RULE_CHANGED, ALERT_RULE_CREATED, ALERT_RULE_DISABLED, ALERT_RULE_ENABLED, ALERT_RULE_REMOVED, Fired,
    RuleDefined, RuleToggled,
};
use warden_core::commands::{Context, catalogue};
use warden_core::ledger::{AppendError, Ledger, LedgerStore, Snapshot};
use warden_core::{Actor, Event};
use warden_projections::audit::{Directory, org_of};
use warden_projections::runner::{Restored, RunnerError, Sink};

use crate::evaluator::{Evaluator, Firing, Rule};
use crate::rule::RuleSpec;

/// The sink's snapshot in the ledger's snapshot table.
pub const SNAPSHOT: &str = "alerting";
const SNAPSHOT_VERSION: u32 = 1;
const SAVE_EVERY_EVENTS: u64 = 10_000;
const SAVE_EVERY: Duration = Duration::from_secs(5);
/// How long a save waits for pending firings to be appended.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    evaluator: Evaluator,
    rules: BTreeMap<String, Rule>,
    directory: Directory,
    verifier: Option<VerifierState>,
}

pub struct AlertSink {
    evaluator: Evaluator,
    rules: BTreeMap<String, Rule>,
    directory: Directory,
    position: u64,
    verifier: Option<VerifierState>,
    outbox: mpsc::UnboundedSender<Fired>,
    sent: u64,
    appended: watch::Receiver<u64>,
}

/// Appends `alert.fired` for each firing the sink sends, in order;
/// retries while the ledger is unavailable.
pub struct Appender {
    ledger: Ledger,
    inbox: mpsc::UnboundedReceiver<Fired>,
    appended: watch::Sender<u64>,
}

/// A sink and the appender it sends firings to (run it as a task).
pub fn start(ledger: Ledger) -> (AlertSink, Appender) {
    let (outbox, inbox) = mpsc::unbounded_channel();
    let (appended, appended_receiver) = watch::channel(0);
    (
        AlertSink::new(outbox, appended_receiver),
        Appender {
            ledger,
            inbox,
            appended,
        },
    )
}

impl Appender {
    pub async fn run(mut self) {
        let context = Context {
            actor: Actor::system(),
            request_id: String::new(),
        };
        let mut count = 0u64;
        while let Some(fired) = self.inbox.recv().await {
            let mut delay = Duration::from_millis(100);
            loop {
                let context = Context {
                    request_id: format!("alert:{}", fired.alert),
                    ..context.clone()
                };
                match self.ledger.append_one(alert::fired(&context, &fired)).await {
                    Ok(event) => {
                        metrics::counter!("warden_alerts_fired_total").increment(1);
                        tracing::info!(alert = %fired.alert, rule = %fired.rule, seq = event.seq, "alert fired");
                        break;
                    }
                    // Fired before (by this node before a restart, or by
                    // another evaluator): the same alert, not a new one.
                    Err(AppendError::Conflict { .. }) => break,
                    Err(AppendError::Closed) => return,
                    Err(AppendError::Invalid(reason)) => {
                        tracing::error!(alert = %fired.alert, %reason, "alert event refused");
                        break;
                    }
                    Err(error) => {
                        tracing::warn!(%error, alert = %fired.alert, "alert not appended yet; retrying");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(5));
                    }
                }
            }
            count += 1;
            self.appended.send_replace(count);
        }
    }
}

fn sink_error(error: impl std::fmt::Display) -> RunnerError {
    RunnerError::Sink(format!("alert evaluator: {error}"))
}

impl AlertSink {
    fn new(outbox: mpsc::UnboundedSender<Fired>, appended: watch::Receiver<u64>) -> Self {
        AlertSink {
            evaluator: Evaluator::default(),
            rules: BTreeMap::new(),
            directory: Directory::default(),
            position: 0,
            verifier: None,
            outbox,
            sent: 0,
            appended,
        }
    }

    /// Rules change with their events, at their seq. A rule whose spec
    /// no longer decodes stops the evaluator (like any payload that does
    /// not decode): skipping it would silence the rule without a word.
    fn learn_rule(&mut self, event: &Event) -> Result<(), RunnerError> {
        let rule_id = match event.kind.as_str() {
            ALERT_RULE_CREATED | ALERT_RULE_CHANGED => {
                let rule = defined_rule(event)?;
                self.rules.insert(rule.id.clone(), rule);
                self.evaluator.set_rules(self.rules.values().cloned());
                return Ok(());
            }
            ALERT_RULE_ENABLED | ALERT_RULE_DISABLED | ALERT_RULE_REMOVED => {
                serde_json::from_value::<RuleToggled>(event.data.clone())
                    .map_err(|error| catalogue::undecodable(event, "data", &error))?
                    .rule
            }
            _ => return Ok(()),
        };
        match event.kind.as_str() {
            ALERT_RULE_REMOVED => {
                self.rules.remove(&rule_id);
            }
            kind => {
                if let Some(rule) = self.rules.get_mut(&rule_id) {
                    rule.enabled = kind == ALERT_RULE_ENABLED;
                }
            }
        }
        self.evaluator.set_rules(self.rules.values().cloned());
        Ok(())
    }

    fn send(&mut self, firing: Firing) {
        let Some(rule) = self.rules.get(&firing.rule) else {
            return;
        };
        let fired = Fired {
            alert: firing.id(),
            rule: firing.rule.clone(),
            rule_version: firing.rule_version,
            name: rule.spec.name.clone(),
            severity: serde_json::to_value(firing.severity)
                .ok()
                .and_then(|value| value.as_str().map(str::to_string))
                .unwrap_or_default(),
            org: rule.org.clone(),
            group: firing.group,
            seqs: firing.seqs,
            recipients: rule.spec.recipients.clone(),
        };
        if self.outbox.send(fired).is_ok() {
            self.sent += 1;
        }
    }
}

/// The rule an `alert_rule.created` or `alert_rule.changed` event defines.
fn defined_rule(event: &Event) -> Result<Rule, catalogue::PayloadError> {
    let defined = serde_json::from_value::<RuleDefined>(event.data.clone())
        .map_err(|error| catalogue::undecodable(event, "data", &error))?;
    let spec = serde_json::from_value::<RuleSpec>(defined.spec)
        .map_err(|error| catalogue::undecodable(event, "data.spec (the alert rule)", &error))?;
    Ok(Rule {
        id: defined.rule,
        version: event.subject_version,
        enabled: defined.enabled,
        org: Some(defined.org),
        spec,
    })
}

impl Sink for AlertSink {
    async fn restore(&mut self, store: &dyn LedgerStore) -> Result<Restored, RunnerError> {
        if let Some(snapshot) = store.load_snapshot(SNAPSHOT).await?
            && snapshot.version == SNAPSHOT_VERSION
        {
            match serde_json::from_slice::<Saved>(&snapshot.state) {
                Ok(saved) => {
                    self.evaluator = saved.evaluator;
                    self.rules = saved.rules;
                    self.directory = saved.directory;
                    self.verifier = saved.verifier;
                    self.position = snapshot.seq;
                }
                Err(error) => tracing::warn!(%error, "alert evaluator snapshot unreadable: replaying from seq 1"),
            }
        }
        Ok(Restored {
            position: self.position,
            verifier: self.verifier.take(),
        })
    }

    fn apply(&mut self, events: &[Event]) -> Result<(), RunnerError> {
        let seen = self.position;
        for event in events.iter().filter(|event| event.seq > seen) {
            self.directory.learn(event);
            if event.kind.starts_with("alert_rule.") {
                self.learn_rule(event)?;
            }
            // Rule changes are events rules may watch too.
            let org = org_of(event, &self.directory);
            for firing in self.evaluator.apply(event, org.as_deref()) {
                self.send(firing);
            }
            self.position = event.seq;
        }
        Ok(())
    }

    fn save_due(&self, unsaved_events: u64, since_save: Duration) -> bool {
        unsaved_events >= SAVE_EVERY_EVENTS || since_save >= SAVE_EVERY
    }

    async fn save(
        &mut self,
        store: &dyn LedgerStore,
        position: u64,
        verifier: &VerifierState,
    ) -> Result<(), RunnerError> {
        if position < self.position {
            // Re-verifying events it already evaluated: keep the old one.
            return Ok(());
        }
        // A snapshot never gets ahead of the alerts it implies.
        let sent = self.sent;
        let flushed = matches!(
            tokio::time::timeout(FLUSH_TIMEOUT, self.appended.wait_for(|count| *count >= sent)).await,
            Ok(Ok(_))
        );
        if !flushed {
            return Err(sink_error("firings are not appended yet; snapshot postponed"));
        }
        let saved = Saved {
            evaluator: self.evaluator.clone(),
            rules: self.rules.clone(),
            directory: self.directory.clone(),
            verifier: Some(verifier.clone()),
        };
        let state = serde_json::to_vec(&saved).map_err(sink_error)?;
        store
            .save_snapshots(&[Snapshot {
                name: SNAPSHOT.to_string(),
                version: SNAPSHOT_VERSION,
                seq: position,
                state,
            }])
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use warden_core::{Actor, NewEvent};

    use super::*;

    fn event(kind: &str, data: Value) -> Event {
        let mut event = Event::unsealed(
            12,
            warden_core::event::now_micros(),
            NewEvent::new(kind, "alert_rule:r1", Actor::system()).data(data),
        );
        event.subject_version = 3;
        event
    }

    /// The golden fixtures' rules, as stored, still decode: a change to
    /// `RuleSpec` that would silence stored rules fails here.
    #[test]
    fn stored_rules_decode_and_undecodable_ones_are_named() {
        for (kind, fixture) in [
            (
                ALERT_RULE_CREATED,
                include_str!("../../core/tests/fixtures/events/alert_rule.created.json"),
            ),
            (
                ALERT_RULE_CHANGED,
                include_str!("../../core/tests/fixtures/events/alert_rule.changed.json"),
            ),
        ] {
            let data: Value = serde_json::from_str(fixture).unwrap();
            let rule = defined_rule(&event(kind, data)).unwrap();
            assert_eq!(rule.version, 3, "{kind}");
            assert!(!rule.spec.name.is_empty(), "{kind}");
        }
        let stored: Value =
            serde_json::from_str(include_str!("../../core/tests/fixtures/events/alert_rule.created.json")).unwrap();
        let mut unknown_condition = stored.clone();
        unknown_condition["spec"]["condition"]["type"] = json!("secret-sauce");
        let mut no_spec = stored;
        no_spec.as_object_mut().unwrap().remove("spec");
        for (data, part) in [(unknown_condition, "data.spec"), (no_spec, "data:")] {
            let error = defined_rule(&event(ALERT_RULE_CREATED, data)).unwrap_err();
            assert_eq!((error.seq, error.kind.as_str()), (12, ALERT_RULE_CREATED));
            assert!(error.reason.starts_with(part), "{}", error.reason);
        }
    }

    #[test]
    fn a_rule_that_does_not_decode_stops_the_evaluator() {
        let (mut sink, _appender) = start_detached();
        let mut data: Value =
            serde_json::from_str(include_str!("../../core/tests/fixtures/events/alert_rule.created.json")).unwrap();
        data["spec"]["severity"] = json!(7);
        let error = sink.apply(&[event(ALERT_RULE_CREATED, data)]).unwrap_err();
        assert!(matches!(error, RunnerError::Payload(_)), "{error}");
        assert_eq!(sink.position, 0, "the event was not taken as applied");
    }

    /// A sink whose appender is never run (these tests fire nothing).
    fn start_detached() -> (AlertSink, mpsc::UnboundedReceiver<Fired>) {
        let (outbox, inbox) = mpsc::unbounded_channel();
        (AlertSink::new(outbox, watch::channel(0).1), inbox)
    }
}
