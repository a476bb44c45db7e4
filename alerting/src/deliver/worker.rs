//! The deliverer: while this node holds the delivery lease, it takes what
//! is due from the `deliveries` model, attempts each delivery at most once
//! at a time, and appends how each attempt ended. A delivery stays taken
//! until the model has applied that event, so it is never attempted twice
//! for one due time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use warden_core::commands::Context;
use warden_core::commands::alert::{self, AttemptEnd, DeliveryAttempt, Recipient};
use warden_core::event::timestamp;
use warden_core::keys::DataKeys;
use warden_core::ledger::{Leader, Ledger};
use warden_core::{Actor, Event};
use warden_projections::Positions;
use warden_projections::Shared;
use warden_projections::deliveries::{Deliveries, Due};
use warden_projections::projection::read;

use super::backoff::retry_wait;
use super::{DeliveryConfig, Failure, Mailer, http, message};

/// Deliveries attempted at once.
const CONCURRENT: usize = 32;
/// How often the lease is checked, and the longest sleep between looks.
const TICK: Duration = Duration::from_secs(1);
/// After the log refused an attempt's event (or the attempt failed
/// unexpectedly): wait before trying again.
const APPEND_PAUSE: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Deliverer {
    ledger: Ledger,
    pub(super) deliveries: Shared<Deliveries>,
    pub(super) data_keys: DataKeys,
    positions: Positions,
    pub(super) config: Arc<DeliveryConfig>,
    pub(super) http: reqwest::Client,
    pub(super) mailer: Option<Mailer>,
}

/// Where a taken delivery stands.
enum Taken {
    Attempting,
    /// Its event is at this seq; taken until the model applies it.
    Recorded(u64),
    /// The event could not be appended; let go at this instant.
    Paused(Instant),
}

impl Deliverer {
    pub fn new(
        ledger: Ledger,
        deliveries: Shared<Deliveries>,
        data_keys: DataKeys,
        positions: Positions,
        config: DeliveryConfig,
    ) -> Result<Self, String> {
        let mailer = match &config.email {
            Some(email) => Some(Mailer::new(email, config.timeout)?),
            None => None,
        };
        Ok(Deliverer {
            http: http::client(config.timeout, config.private_addresses),
            ledger,
            deliveries,
            data_keys,
            positions,
            config: Arc::new(config),
            mailer,
        })
    }

    /// Delivers while this node leads, until `shutdown`.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            match self.ledger.store().try_lease(Leader::AlertDelivery).await {
                Ok(Some(lease)) => {
                    tracing::info!("alert deliverer started");
                    metrics::gauge!("warden_alert_delivery_leader").set(1.0);
                    self.deliver_while_held(lease, &mut shutdown).await;
                    metrics::gauge!("warden_alert_delivery_leader").set(0.0);
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "alert deliverer cannot take the lease"),
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn deliver_while_held(
        &self,
        mut lease: Box<dyn warden_core::ledger::Lease>,
        shutdown: &mut watch::Receiver<bool>,
    ) {
        let mut positions = self.positions.clone();
        let mut taken: HashMap<String, Taken> = HashMap::new();
        let mut attempts: JoinSet<Option<u64>> = JoinSet::new();
        // The delivery of each running attempt, found again even when the
        // attempt's task panicked.
        let mut running: HashMap<tokio::task::Id, String> = HashMap::new();
        let mut lease_checked = Instant::now();
        while !*shutdown.borrow() {
            if lease_checked.elapsed() >= TICK {
                if !lease.still_held().await {
                    tracing::warn!("alert delivery lease lost");
                    return;
                }
                lease_checked = Instant::now();
            }
            let applied = positions.applied();
            let now = Instant::now();
            taken.retain(|_, state| match state {
                Taken::Attempting => true,
                Taken::Recorded(seq) => *seq > applied,
                Taken::Paused(until) => *until > now,
            });
            let (due, next_due) = {
                let model = read(&self.deliveries);
                (model.due(Utc::now()), model.next_due())
            };
            for job in due {
                let key = format!("{}/{}", job.alert.fired.alert, job.recipient);
                if taken.len() >= CONCURRENT || taken.contains_key(&key) {
                    continue;
                }
                taken.insert(key.clone(), Taken::Attempting);
                let deliverer = self.clone();
                let task = attempts.spawn(async move { deliverer.attempt(job).await });
                running.insert(task.id(), key);
            }
            let wait = next_due
                .and_then(|at| (at - Utc::now()).to_std().ok())
                .unwrap_or(TICK)
                .min(TICK);
            tokio::select! {
                Some(done) = attempts.join_next_with_id(), if !attempts.is_empty() => {
                    let (task, recorded) = match done {
                        Ok((task, recorded)) => (task, recorded),
                        Err(failed) => (failed.id(), None),
                    };
                    if let Some(key) = running.remove(&task) {
                        let state = match recorded {
                            Some(seq) => Taken::Recorded(seq),
                            None => Taken::Paused(Instant::now() + APPEND_PAUSE),
                        };
                        taken.insert(key, state);
                    }
                }
                _ = positions.changed() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// One attempt; the seq of the event recording it.
    async fn attempt(&self, job: Due) -> Option<u64> {
        let started = Instant::now();
        let result = match &job.recipient {
            Recipient::Webhook(endpoint) => self.post_webhook(&job, endpoint).await,
            Recipient::Email(address) => self.send_email(&job, address).await,
        };
        let elapsed = started.elapsed();
        let fired = &job.alert.fired;
        let mut attempt = DeliveryAttempt {
            alert: fired.alert.clone(),
            org: fired.org.clone(),
            recipient: job.recipient.clone(),
            attempt: job.attempt,
            status: None,
            error: None,
            next_at: None,
            duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        };
        let end = match result {
            Ok(status) => {
                attempt.status = status;
                AttemptEnd::Delivered
            }
            Err(failure) => {
                attempt.status = failure.status;
                attempt.error = Some(failure.error);
                if failure.permanent || job.attempt >= self.config.attempts {
                    AttemptEnd::DeadLettered
                } else {
                    let wait = retry_wait(
                        self.config.first_retry,
                        job.attempt,
                        failure.retry_after,
                        rand::random::<f64>(),
                    );
                    let next = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                    attempt.next_at = Some(timestamp::format(&next));
                    AttemptEnd::Failed
                }
            }
        };
        let outcome = match end {
            AttemptEnd::Delivered => "delivered",
            AttemptEnd::Failed => "failed",
            AttemptEnd::DeadLettered => "dead_lettered",
        };
        let channel = match job.recipient {
            Recipient::Webhook(_) => "webhook",
            Recipient::Email(_) => "email",
        };
        metrics::counter!("warden_alert_delivery_attempts_total", "channel" => channel, "outcome" => outcome)
            .increment(1);
        metrics::histogram!("warden_alert_delivery_seconds", "channel" => channel).record(elapsed.as_secs_f64());
        let context = Context {
            actor: Actor::system(),
            request_id: format!(
                "alert-delivery-{}",
                attempt_request_id(&fired.alert, &job.recipient, job.attempt)
            ),
        };
        match self
            .ledger
            .append_one(alert::delivery_attempted(&context, &attempt, end))
            .await
        {
            Ok(event) => Some(event.seq),
            Err(error) => {
                tracing::warn!(%error, alert = %fired.alert, "could not record a delivery attempt; it will be made again");
                None
            }
        }
    }

    async fn events(&self, job: &Due) -> Result<Vec<Event>, Failure> {
        self.ledger
            .store()
            .read_seqs(&job.alert.fired.seqs)
            .await
            .map_err(|error| Failure::new(format!("could not read the triggering events: {error}")))
    }

    async fn post_webhook(&self, job: &Due, endpoint: &str) -> Result<Option<u16>, Failure> {
        let org = job.alert.fired.org.as_deref().unwrap_or_default();
        let Some(endpoint) = read(&self.deliveries).endpoint(org, endpoint).cloned() else {
            return Err(Failure::permanent("the webhook endpoint was removed"));
        };
        let secret = self
            .data_keys
            .open(&endpoint.secret)
            .await
            .map_err(|_| Failure::new("the endpoint's secret could not be opened"))?;
        let events = self.events(job).await?;
        let body = message::webhook_body(&job.alert, &events, &self.config.console_url);
        let body = serde_json::to_vec(&body).map_err(|error| Failure::permanent(error.to_string()))?;
        http::post(
            &self.http,
            self.config.private_addresses,
            &endpoint.url,
            &secret,
            &job.alert.fired.alert,
            body,
        )
        .await
        .map(Some)
    }

    async fn send_email(&self, job: &Due, address: &str) -> Result<Option<u16>, Failure> {
        let Some(mailer) = &self.mailer else {
            return Err(Failure::permanent("no mail server is configured (smtp_url)"));
        };
        let events = self.events(job).await?;
        let email = message::email(&job.alert, &events, &self.config.console_url);
        mailer.send(address, email).await.map(|()| None)
    }
}

/// A request id for an attempt's event: the same attempt, the same id.
fn attempt_request_id(alert: &str, recipient: &Recipient, attempt: u32) -> String {
    let hash = blake3::hash(format!("{alert}\n{recipient}\n{attempt}").as_bytes());
    hash.to_hex()[..32].to_string()
}
