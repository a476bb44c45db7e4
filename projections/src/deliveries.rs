//! Alert delivery, as its events record it: the org's webhook endpoints,
//! and for each recipient of each alert whether it is pending (and when
//! the next attempt is due), delivered or dead-lettered. The deliverer
//! (`warden-alerting`) reads what is due from here, so a pending delivery
//! survives a restart: it is in the log, not in a queue in memory.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use warden_core::Event;
use warden_core::commands::alert::{
    ALERT_DEAD_LETTERED, ALERT_DELIVERED, ALERT_DELIVERY_FAILED, ALERT_FIRED, ALERT_RESEND_REQUESTED, AlertAction,
    DeliveryAttempt, Fired, Recipient,
};
use warden_core::commands::payload;
use warden_core::commands::webhook_endpoint::{
    EndpointCreated, EndpointRemoved, WEBHOOK_ENDPOINT_CREATED, WEBHOOK_ENDPOINT_REMOVED,
};
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
        for alert in self.alerts.values() {
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
        self.alerts
            .values()
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
            let id = attempt.alert.clone();
            self.finish(id);
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
    const NAME: &'static str = "deliveries";
    const VERSION: u32 = 1;

    fn apply(&mut self, event: &Event) {
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
                }
            }
            _ => {}
        }
    }
}
