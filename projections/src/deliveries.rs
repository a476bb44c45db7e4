//! Alert delivery, as its events record it: the org's webhook endpoints,
//! and for each recipient of each alert whether it is pending (and when
//! the next attempt is due), delivered or dead-lettered. The deliverer
//! (`warden-alerting`) reads what is due from here, so a pending delivery
//! survives a restart: it is in the log, not in a queue in memory.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use warden_core::Event;
use warden_core::commands::alert::{
    ALERT_DEAD_LETTERED, ALERT_DELIVERED, ALERT_DELIVERY_FAILED, ALERT_FIRED, ALERT_RESEND_REQUESTED, AlertAction,
    DeliveryAttempt, Fired, Recipient,
};
use warden_core::commands::webhook_endpoint::{
    EndpointCreated, EndpointRemoved, WEBHOOK_ENDPOINT_CREATED, WEBHOOK_ENDPOINT_REMOVED,
};
use warden_core::commands::{Prefix, payload, subject_id};
use warden_core::event::timestamp;
use warden_core::keys::Sealed;

use crate::Projection;

/// Alerts whose deliveries have all ended that the model still shows.
pub const FINISHED_KEPT: usize = 10_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: String,
    pub org: String,
    pub url: String,
    pub description: String,
    /// The signing secret, sealed with the endpoint's data key.
    pub secret: Sealed<String>,
    pub version: u64,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeliveryState {
    /// The next attempt is due at `due`.
    Pending {
        #[serde(with = "timestamp")]
        due: DateTime<Utc>,
    },
    Delivered {
        at: String,
    },
    DeadLettered {
        at: String,
    },
}

/// One recipient of one alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub recipient: Recipient,
    #[serde(flatten)]
    pub state: DeliveryState,
    /// Attempts since the alert fired or was last re-sent.
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// An alert with recipients, and where each delivery stands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertDeliveries {
    pub fired: Fired,
    /// The `alert.fired` event.
    pub seq: u64,
    pub at: String,
    /// By recipient (`webhook:<id>`, `email:<address>`).
    pub deliveries: BTreeMap<String, Delivery>,
}

impl AlertDeliveries {
    fn finished(&self) -> bool {
        self.deliveries
            .values()
            .all(|delivery| !matches!(delivery.state, DeliveryState::Pending { .. }))
    }
}

/// A delivery whose next attempt is due.
#[derive(Debug, Clone)]
pub struct Due {
    pub alert: AlertDeliveries,
    pub recipient: Recipient,
    /// The number of the attempt to make (1 for the first).
    pub attempt: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Deliveries {
    endpoints: BTreeMap<String, Endpoint>,
    alerts: BTreeMap<String, AlertDeliveries>,
    /// Alerts with a pending delivery: what the deliverer looks at (it
    /// looks on every change of the models).
    pending: BTreeSet<String>,
    /// Alerts whose deliveries all ended, oldest first.
    finished: VecDeque<String>,
}

impl Deliveries {
    /// The org's endpoints, oldest first.
    pub fn endpoints_of<'a>(&'a self, org: &'a str) -> impl Iterator<Item = &'a Endpoint> {
        let mut endpoints: Vec<&Endpoint> = self.endpoints.values().filter(|e| e.org == org).collect();
        endpoints.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        endpoints.into_iter()
    }

    /// An endpoint of the org (another org's is as unknown as a missing one).
    pub fn endpoint(&self, org: &str, id: &str) -> Option<&Endpoint> {
        self.endpoints.get(id).filter(|endpoint| endpoint.org == org)
    }

    /// The deliveries of an alert of the org.
    pub fn of_alert(&self, org: &str, alert: &str) -> Option<&AlertDeliveries> {
        self.alerts
            .get(alert)
            .filter(|deliveries| deliveries.fired.org.as_deref() == Some(org))
    }

    /// What is due at `now`, earliest first.
    pub fn due(&self, now: DateTime<Utc>) -> Vec<Due> {
        let mut due: Vec<(DateTime<Utc>, Due)> = Vec::new();
        for alert in self.pending.iter().filter_map(|id| self.alerts.get(id)) {
            for delivery in alert.deliveries.values() {
                if let DeliveryState::Pending { due: at } = delivery.state
                    && at <= now
                {
                    due.push((
                        at,
                        Due {
                            alert: alert.clone(),
                            recipient: delivery.recipient.clone(),
                            attempt: delivery.attempts + 1,
                        },
                    ));
                }
            }
        }
        due.sort_by_key(|(at, _)| *at);
        due.into_iter().map(|(_, due)| due).collect()
    }

    /// When the next pending delivery is due.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.pending
            .iter()
            .filter_map(|id| self.alerts.get(id))
            .flat_map(|alert| alert.deliveries.values())
            .filter_map(|delivery| match delivery.state {
                DeliveryState::Pending { due } => Some(due),
                _ => None,
            })
            .min()
    }

    fn attempted(&mut self, event: &Event) {
        let Some(attempt) = payload::<DeliveryAttempt>(event) else {
            return;
        };
        let Some(alert) = self.alerts.get_mut(&attempt.alert) else {
            return;
        };
        let Some(delivery) = alert.deliveries.get_mut(&attempt.recipient.to_string()) else {
            return;
        };
        let at = timestamp::format(&event.at);
        delivery.attempts = attempt.attempt;
        delivery.last_status = attempt.status;
        delivery.last_error = attempt.error;
        delivery.state = match event.kind.as_str() {
            ALERT_DELIVERED => DeliveryState::Delivered { at },
            ALERT_DEAD_LETTERED => DeliveryState::DeadLettered { at },
            _ => DeliveryState::Pending {
                due: attempt
                    .next_at
                    .as_deref()
                    .and_then(timestamp::parse)
                    .unwrap_or(event.at),
            },
        };
        if alert.finished() {
            self.pending.remove(&attempt.alert);
            self.finish(attempt.alert);
        }
    }

    fn finish(&mut self, alert: String) {
        self.finished.push_back(alert);
        while self.finished.len() > FINISHED_KEPT {
            if let Some(oldest) = self.finished.pop_front()
                && self.alerts.get(&oldest).is_some_and(AlertDeliveries::finished)
            {
                self.alerts.remove(&oldest);
            }
        }
    }
}

impl Projection for Deliveries {
    const NAME: &'static str = warden_core::commands::catalogue::readers::DELIVERIES;
    const VERSION: u32 = 1;
    /// Endpoints, recipients and delivery events came with this model
    /// (earlier `alert.fired` events name no recipients).
    const NEW_KINDS_ONLY: bool = true;

    fn apply(&mut self, event: &Event) {
        // An endpoint's version follows the ledger, whatever the kind.
        if let Some(endpoint) =
            subject_id(&event.subject, Prefix::WebhookEndpoint).and_then(|id| self.endpoints.get_mut(id))
        {
            endpoint.version = event.subject_version;
        }
        match event.kind.as_str() {
            WEBHOOK_ENDPOINT_CREATED => {
                if let Some(created) = payload::<EndpointCreated>(event) {
                    self.endpoints.insert(
                        created.endpoint.clone(),
                        Endpoint {
                            id: created.endpoint,
                            org: created.org,
                            url: created.url,
                            description: created.description,
                            secret: created.secret,
                            version: event.subject_version,
                            created_at: timestamp::format(&event.at),
                        },
                    );
                }
            }
            WEBHOOK_ENDPOINT_REMOVED => {
                if let Some(removed) = payload::<EndpointRemoved>(event) {
                    self.endpoints.remove(&removed.endpoint);
                }
            }
            ALERT_FIRED => {
                if let Some(fired) = payload::<Fired>(event)
                    && !fired.recipients.is_empty()
                {
                    let deliveries = fired
                        .recipients
                        .iter()
                        .map(|recipient| {
                            let delivery = Delivery {
                                recipient: recipient.clone(),
                                state: DeliveryState::Pending { due: event.at },
                                attempts: 0,
                                last_status: None,
                                last_error: None,
                            };
                            (recipient.to_string(), delivery)
                        })
                        .collect();
                    self.pending.insert(fired.alert.clone());
                    self.alerts.insert(
                        fired.alert.clone(),
                        AlertDeliveries {
                            fired,
                            seq: event.seq,
                            at: timestamp::format(&event.at),
                            deliveries,
                        },
                    );
                }
            }
            ALERT_DELIVERED | ALERT_DELIVERY_FAILED | ALERT_DEAD_LETTERED => self.attempted(event),
            ALERT_RESEND_REQUESTED => {
                if let Some(action) = payload::<AlertAction>(event)
                    && let Some(alert) = self.alerts.get_mut(&action.alert)
                {
                    for delivery in alert.deliveries.values_mut() {
                        if action.recipient.as_ref().is_none_or(|only| *only == delivery.recipient) {
                            delivery.state = DeliveryState::Pending { due: event.at };
                            delivery.attempts = 0;
                        }
                    }
                    if !alert.finished() {
                        self.pending.insert(action.alert);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use warden_core::commands::Context;
    use warden_core::commands::alert::{self, AttemptEnd};
    use warden_core::{Actor, NewEvent};

    use super::*;

    fn event(seq: u64, at: DateTime<Utc>, new: NewEvent) -> Event {
        Event::unsealed(seq, at, new)
    }

    fn context() -> Context {
        Context {
            actor: Actor::system(),
            request_id: "r".into(),
        }
    }

    fn fired(id: &str, recipients: Vec<Recipient>) -> NewEvent {
        alert::fired(
            &context(),
            &Fired {
                alert: id.into(),
                rule: "rule".into(),
                rule_version: 1,
                name: "Rule".into(),
                severity: "high".into(),
                org: Some("acme".into()),
                group: BTreeMap::new(),
                seqs: vec![1],
                recipients,
            },
        )
    }

    fn attempt(
        id: &str,
        recipient: &Recipient,
        number: u32,
        next_at: Option<DateTime<Utc>>,
        end: AttemptEnd,
    ) -> NewEvent {
        let attempt = DeliveryAttempt {
            alert: id.into(),
            org: Some("acme".into()),
            recipient: recipient.clone(),
            attempt: number,
            status: Some(503),
            error: Some("the endpoint answered 503".into()),
            next_at: next_at.map(|at| timestamp::format(&at)),
            duration_ms: 3,
        };
        alert::delivery_attempted(&context(), &attempt, end)
    }

    #[test]
    fn a_delivery_is_due_until_delivered_or_dead_lettered_and_a_resend_makes_it_due_again() {
        let t0 = warden_core::event::now_micros();
        let hook = Recipient::Webhook("e1".into());
        let mail = Recipient::Email("soc@acme.test".into());
        let mut model = Deliveries::default();
        model.apply(&event(2, t0, fired("a1", vec![hook.clone(), mail.clone()])));
        model.apply(&event(3, t0, fired("silent", vec![])));
        let due = model.due(t0);
        assert_eq!(
            due.len(),
            2,
            "one per recipient; an alert without recipients is not delivered"
        );
        assert!(due.iter().all(|due| due.attempt == 1));

        // The webhook failed: due again at next_at, not before.
        let later = t0 + Duration::seconds(30);
        model.apply(&event(4, t0, attempt("a1", &hook, 1, Some(later), AttemptEnd::Failed)));
        model.apply(&event(5, t0, attempt("a1", &mail, 1, None, AttemptEnd::Delivered)));
        assert!(model.due(t0 + Duration::seconds(29)).is_empty());
        assert_eq!(model.next_due(), Some(later));
        let due = model.due(later);
        assert_eq!((due.len(), due[0].attempt, &due[0].recipient), (1, 2, &hook));

        // Dead-lettered: nothing due, nothing pending.
        model.apply(&event(
            6,
            later,
            attempt("a1", &hook, 2, None, AttemptEnd::DeadLettered),
        ));
        assert!(model.due(later + Duration::days(1)).is_empty());
        assert_eq!(model.next_due(), None);
        let shown = model.of_alert("acme", "a1").unwrap();
        assert!(matches!(
            shown.deliveries["webhook:e1"].state,
            DeliveryState::DeadLettered { .. }
        ));
        assert_eq!(shown.deliveries["webhook:e1"].last_status, Some(503));
        assert!(
            model.of_alert("globex", "a1").is_none(),
            "another org's alert is unknown"
        );

        // A re-send to the webhook only: due at once, from attempt 1.
        let action = AlertAction {
            alert: "a1".into(),
            org: "acme".into(),
            recipient: Some(hook.clone()),
            note: None,
        };
        let resent = later + Duration::seconds(5);
        model.apply(&event(7, resent, alert::resend_requested(&context(), &action)));
        let due = model.due(resent);
        assert_eq!((due.len(), due[0].attempt, &due[0].recipient), (1, 1, &hook));
        assert!(matches!(
            model.of_alert("acme", "a1").unwrap().deliveries["email:soc@acme.test"].state,
            DeliveryState::Delivered { .. }
        ));
    }

    #[test]
    fn finished_alerts_are_kept_up_to_a_bound_and_pending_ones_always() {
        let t0 = warden_core::event::now_micros();
        let hook = Recipient::Webhook("e1".into());
        let mut model = Deliveries::default();
        model.apply(&event(1, t0, fired("pending", vec![hook.clone()])));
        for n in 0..FINISHED_KEPT + 5 {
            let id = format!("done-{n}");
            model.apply(&event(2, t0, fired(&id, vec![hook.clone()])));
            model.apply(&event(3, t0, attempt(&id, &hook, 1, None, AttemptEnd::Delivered)));
        }
        assert!(
            model.of_alert("acme", "done-0").is_none(),
            "the oldest finished are dropped"
        );
        assert!(model.of_alert("acme", &format!("done-{}", FINISHED_KEPT + 4)).is_some());
        assert_eq!(model.due(t0).len(), 1);
        assert!(model.of_alert("acme", "pending").is_some());
    }
}
