//! Account email (decision 0028) as a [`Queue`]: what is due comes from
//! the `outbox` model; an attempt opens the sealed envelope and hands it
//! to the mail server; its event is `email.sent`, `email.failed` or
//! `email.bounced`. Once an email is sent or given up, the data key of its
//! envelope is shredded: the log keeps that it was sent, never what it
//! said (a code, a link).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use warden_core::commands::Context;
use warden_core::commands::email::{self, EmailAttempt, EmailEnd, email_subject};
use warden_core::event::timestamp;
use warden_core::keys::DataKeys;
use warden_core::ledger::{Leader, Ledger};
use warden_core::{Actor, NewEvent};
use warden_projections::outbox::{Outbox, Outgoing};
use warden_projections::projection::read;
use warden_projections::{Positions, Shared};

use super::message::Email;
use super::queue::{self, Attempted, End, Queue, Retries};
use super::{DeliveryConfig, Failure, Mailer};

/// Sends the emails of the `outbox` model.
pub struct AccountMail {
    outbox: Shared<Outbox>,
    data_keys: DataKeys,
    mailer: Option<Mailer>,
}

impl AccountMail {
    /// Checks the mail server's settings (none configured: every email
    /// is given up, said so in its event).
    pub fn new(outbox: Shared<Outbox>, data_keys: DataKeys, config: &DeliveryConfig) -> Result<Self, String> {
        let mailer = match &config.email {
            Some(email) => Some(Mailer::new(email, config.timeout)?),
            None => None,
        };
        Ok(AccountMail {
            outbox,
            data_keys,
            mailer,
        })
    }

    /// Sends while this node holds the email lease, until `shutdown`, with
    /// the alert deliveries' retries.
    pub async fn run(self, ledger: Ledger, positions: Positions, retries: Retries, shutdown: watch::Receiver<bool>) {
        queue::run(Arc::new(self), ledger, positions, retries, shutdown).await;
    }
}

impl Queue for AccountMail {
    type Job = Outgoing;

    const NAME: &'static str = "email";
    const LEADER: Leader = Leader::EmailDelivery;

    fn due(&self, now: DateTime<Utc>) -> (Vec<Outgoing>, Option<DateTime<Utc>>) {
        let outbox = read(&self.outbox);
        (outbox.due(now), outbox.next_due())
    }

    fn key(job: &Outgoing) -> String {
        job.queued.message.clone()
    }

    fn attempt_number(job: &Outgoing) -> u32 {
        job.attempt
    }

    fn channel(_job: &Outgoing) -> &'static str {
        "email"
    }

    async fn attempt(&self, job: &Outgoing) -> Result<Option<u16>, Failure> {
        let Some(mailer) = &self.mailer else {
            return Err(Failure::permanent("no mail server is configured (smtp_url)"));
        };
        let envelope = match self.data_keys.open(&job.queued.envelope).await {
            Ok(envelope) => envelope,
            // Shredded: a copy of this email was sent or given up already
            // (a node that stopped between the two).
            Err(warden_core::keys::SealError::Shredded(_)) => {
                return Err(Failure::permanent("the email's content was shredded"));
            }
            Err(_) => return Err(Failure::new("the email's content could not be opened")),
        };
        let email = Email {
            subject: envelope.subject.clone(),
            text: envelope.text.clone(),
            html: envelope.html.clone(),
        };
        mailer
            .send(&envelope.to, email, Some(&job.queued.message))
            .await
            .map(|()| None)
    }

    fn record(&self, job: &Outgoing, attempted: &Attempted) -> NewEvent {
        let queued = &job.queued;
        let attempt = EmailAttempt {
            message: queued.message.clone(),
            template: queued.template.clone(),
            user: queued.user.clone(),
            org: queued.org.clone(),
            attempt: job.attempt,
            error: attempted.error.clone(),
            next_at: attempted.next_at.map(|at| timestamp::format(&at)),
            duration_ms: u64::try_from(attempted.duration.as_millis()).unwrap_or(u64::MAX),
        };
        let end = match attempted.end {
            End::Delivered => EmailEnd::Sent,
            End::Failed => EmailEnd::Failed,
            End::GaveUp => EmailEnd::Bounced,
        };
        let mut actor = Actor::system();
        actor.org = queued.org.clone();
        let context = Context {
            actor,
            request_id: queue::attempt_request_id("email", &queued.message, job.attempt),
        };
        email::attempted(&context, &attempt, end)
    }

    async fn recorded(&self, job: &Outgoing, attempted: &Attempted) {
        if attempted.end == End::Failed {
            return;
        }
        if let Err(error) = self.data_keys.shred(&email_subject(&job.queued.message)).await {
            tracing::warn!(%error, message = %job.queued.message, "could not shred a sent email's key");
        }
    }
}
