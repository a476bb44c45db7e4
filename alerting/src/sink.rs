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
use warden_core::commands::{Context, payload};
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
    let sink = AlertSink {
        evaluator: Evaluator::default(),
        rules: BTreeMap::new(),
        directory: Directory::default(),
        position: 0,
        verifier: None,
        outbox,
        sent: 0,
        appended: appended_receiver,
    };
    (
        sink,
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
    /// Rules change with their events, at their seq.
    fn learn_rule(&mut self, event: &Event) {
        let rule_id = match event.kind.as_str() {
            ALERT_RULE_CREATED | ALERT_RULE_CHANGED => {
                let Some(defined) = payload::<RuleDefined>(event) else {
                    return;
                };
                match serde_json::from_value::<RuleSpec>(defined.spec) {
                    Ok(spec) => {
                        self.rules.insert(
                            defined.rule.clone(),
                            Rule {
                                id: defined.rule,
                                version: event.subject_version,
                                enabled: defined.enabled,
                                org: Some(defined.org),
                                spec,
                            },
                        );
                    }
                    Err(error) => {
                        tracing::error!(rule = %defined.rule, %error, "alert rule not understood: ignored");
                        self.rules.remove(&defined.rule);
                    }
                }
                return self.evaluator.set_rules(self.rules.values().cloned());
            }
            ALERT_RULE_ENABLED | ALERT_RULE_DISABLED | ALERT_RULE_REMOVED => {
                payload::<RuleToggled>(event).map(|toggled| toggled.rule)
            }
            _ => None,
        };
        let Some(rule_id) = rule_id else { return };
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
                self.learn_rule(event);
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
