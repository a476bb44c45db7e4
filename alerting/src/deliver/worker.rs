//! Alert delivery as a [`Queue`]: what is due comes from the
//! `deliveries` model; an attempt posts the webhook or sends the email;
//! its event is `alert.delivered`, `alert.delivery_failed` or
//! `alert.dead_lettered`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use warden_core::commands::Context;
use warden_core::commands::alert::{self, AttemptEnd, DeliveryAttempt, Recipient};
use warden_core::event::timestamp;
use warden_core::keys::DataKeys;
use warden_core::ledger::{Leader, Ledger};
use warden_core::{Actor, Event, NewEvent};
use warden_projections::deliveries::{Deliveries, Due};
use warden_projections::names::Names;
use warden_projections::projection::read;
use warden_projections::{Positions, ReadModels, Shared};

use super::queue::{self, Attempted, End, Queue, Retries};
use super::{DeliveryConfig, Failure, Mailer, http, message};

#[derive(Clone)]
pub struct Deliverer {
    ledger: Ledger,
    /// For the names in the events' sentences.
    models: ReadModels,
    pub(super) deliveries: Shared<Deliveries>,
    pub(super) data_keys: DataKeys,
    positions: Positions,
    pub(super) config: Arc<DeliveryConfig>,
    pub(super) http: reqwest::Client,
    pub(super) mailer: Option<Mailer>,
}

impl Deliverer {
    pub fn new(
        ledger: Ledger,
        models: ReadModels,
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
            deliveries: models.deliveries.clone(),
            models,
            data_keys,
            positions,
            config: Arc::new(config),
            mailer,
        })
    }

    /// Delivers while this node leads, until `shutdown`.
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let retries = Retries {
            attempts: self.config.attempts,
            first_retry: self.config.first_retry,
        };
        let (ledger, positions) = (self.ledger.clone(), self.positions.clone());
        queue::run(Arc::new(self), ledger, positions, retries, shutdown).await;
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
        let names = Names::new(&self.models, org);
        let body = message::webhook_body(&job.alert, &events, &self.config.console_url, &|reference| {
            names.name(reference)
        });
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
        let org = job.alert.fired.org.as_deref().unwrap_or_default();
        let names = Names::new(&self.models, org);
        let email = message::email(&job.alert, &events, &self.config.console_url, &|reference| {
            names.name(reference)
        });
        mailer.send(address, email, None).await.map(|()| None)
    }
}

impl Queue for Deliverer {
    type Job = Due;

    const NAME: &'static str = "alerts";
    const LEADER: Leader = Leader::AlertDelivery;

    fn due(&self, now: DateTime<Utc>) -> (Vec<Due>, Option<DateTime<Utc>>) {
        let model = read(&self.deliveries);
        (model.due(now), model.next_due())
    }

    fn key(job: &Due) -> String {
        format!("{}/{}", job.alert.fired.alert, job.recipient)
    }

    fn attempt_number(job: &Due) -> u32 {
        job.attempt
    }

    fn channel(job: &Due) -> &'static str {
        match job.recipient {
            Recipient::Webhook(_) => "webhook",
            Recipient::Email(_) => "email",
        }
    }

    async fn attempt(&self, job: &Due) -> Result<Option<u16>, Failure> {
        match &job.recipient {
            Recipient::Webhook(endpoint) => self.post_webhook(job, endpoint).await,
            Recipient::Email(address) => self.send_email(job, address).await,
        }
    }

    fn record(&self, job: &Due, attempted: &Attempted) -> NewEvent {
        let fired = &job.alert.fired;
        let attempt = DeliveryAttempt {
            alert: fired.alert.clone(),
            org: fired.org.clone(),
            recipient: job.recipient.clone(),
            attempt: job.attempt,
            status: attempted.status,
            error: attempted.error.clone(),
            next_at: attempted.next_at.map(|at| timestamp::format(&at)),
            duration_ms: u64::try_from(attempted.duration.as_millis()).unwrap_or(u64::MAX),
        };
        let end = match attempted.end {
            End::Delivered => AttemptEnd::Delivered,
            End::Failed => AttemptEnd::Failed,
            End::GaveUp => AttemptEnd::DeadLettered,
        };
        let context = Context {
            actor: Actor::system(),
            request_id: queue::attempt_request_id("alert", &Self::key(job), job.attempt),
        };
        alert::delivery_attempted(&context, &attempt, end)
    }
}
