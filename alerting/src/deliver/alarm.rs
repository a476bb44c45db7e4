//! The tampering alarm. When a node finds an event of the log that does
//! not verify, the log is suspect: the alarm is not an event appended to
//! it (and so does not wait on the evaluator, the `deliveries` model or
//! the append path). The node sends it itself, at once, to the recipients
//! of every enabled rule that selects `ledger.verification_failed` (the
//! built-in template `audit_chain_verification_failed`): a webhook signed
//! like every delivery, an email. Each recipient is tried a few times with
//! backoff; the outcome goes to the node's log and metrics only.
//!
//! The message id is derived from the violation and the rule, so every
//! node that finds the same violation sends the same `webhook-id`, and a
//! receiver can tell repeats apart.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use warden_core::event::timestamp;
use warden_projections::Shared;
use warden_projections::alerts::Alerts;
use warden_projections::projection::read;

use super::{Deliverer, http, message};
use crate::rule::{Condition, Recipient, RuleSpec, kind_matches};

/// What a rule selects to receive the alarm. Not an event kind: nothing
/// appends it (so it is not `pub`, and not in the catalogue).
const VERIFICATION_FAILED: &str = "ledger.verification_failed";

/// Attempts per recipient, and the wait before the second (doubling).
const ATTEMPTS: u32 = 5;
const FIRST_WAIT: Duration = Duration::from_secs(1);

/// One recipient of the alarm, through one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmRecipient {
    pub org: String,
    pub rule: String,
    pub name: String,
    pub severity: String,
    pub recipient: Recipient,
}

/// Every recipient of every enabled rule, of any org, whose condition is
/// a match on `ledger.verification_failed`.
pub fn recipients(alerts: &Alerts) -> Vec<AlarmRecipient> {
    let mut found = Vec::new();
    for rule in alerts.all_rules().filter(|rule| rule.enabled) {
        let Ok(spec) = serde_json::from_value::<RuleSpec>(rule.spec.clone()) else {
            continue;
        };
        let Condition::Match { select, .. } = &spec.condition else {
            continue;
        };
        if !select
            .kinds
            .iter()
            .any(|pattern| kind_matches(pattern, VERIFICATION_FAILED))
        {
            continue;
        }
        for recipient in &spec.recipients {
            found.push(AlarmRecipient {
                org: rule.org.clone(),
                rule: rule.id.clone(),
                name: spec.name.clone(),
                severity: serde_json::to_value(spec.severity)
                    .ok()
                    .and_then(|value| value.as_str().map(str::to_string))
                    .unwrap_or_default(),
                recipient: recipient.clone(),
            });
        }
    }
    found
}

impl Deliverer {
    /// Sends the alarm for `violation` (what the verifier said) to every
    /// recipient of [`recipients`], each tried up to five times.
    pub async fn sound_alarm(&self, alerts: &Shared<Alerts>, violation: &str) {
        let recipients = recipients(&read(alerts));
        if recipients.is_empty() {
            tracing::error!(
                "the log failed verification and no enabled rule selects {VERIFICATION_FAILED}: no alarm was sent"
            );
            metrics::counter!("warden_tamper_alarms_total", "outcome" => "no_recipient").increment(1);
            return;
        }
        let detected_at = timestamp::format(&Utc::now());
        let mut sends = tokio::task::JoinSet::new();
        for recipient in recipients {
            let deliverer = self.clone();
            let violation = violation.to_string();
            let detected_at = detected_at.clone();
            sends.spawn(async move { deliverer.alarm_one(&recipient, &violation, &detected_at).await });
        }
        while sends.join_next().await.is_some() {}
    }

    async fn alarm_one(&self, to: &AlarmRecipient, violation: &str, detected_at: &str) {
        let id = format!(
            "tamper-{}",
            &blake3::hash(format!("{violation}\n{}", to.rule).as_bytes()).to_hex()[..32]
        );
        let mut wait = FIRST_WAIT;
        for attempt in 1..=ATTEMPTS {
            let sent = match &to.recipient {
                Recipient::Webhook(endpoint) => self.alarm_webhook(to, endpoint, &id, violation, detected_at).await,
                Recipient::Email(address) => self.alarm_email(to, address, violation, detected_at).await,
            };
            match sent {
                Ok(()) => {
                    tracing::warn!(rule = %to.rule, recipient = %to.recipient, attempt, "tampering alarm sent");
                    metrics::counter!("warden_tamper_alarms_total", "outcome" => "sent").increment(1);
                    return;
                }
                Err(reason) => {
                    tracing::error!(rule = %to.rule, recipient = %to.recipient, attempt, %reason, "tampering alarm not sent");
                }
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
        metrics::counter!("warden_tamper_alarms_total", "outcome" => "failed").increment(1);
    }

    async fn alarm_webhook(
        &self,
        to: &AlarmRecipient,
        endpoint: &str,
        id: &str,
        violation: &str,
        detected_at: &str,
    ) -> Result<(), String> {
        let endpoint = read(&self.deliveries)
            .endpoint(&to.org, endpoint)
            .cloned()
            .ok_or("the webhook endpoint was removed")?;
        let secret = self
            .data_keys
            .open(&endpoint.secret)
            .await
            .map_err(|_| "the endpoint's secret could not be opened")?;
        let body = json!({
            "type": VERIFICATION_FAILED,
            "timestamp": detected_at,
            "data": {
                "rule": to.rule,
                "name": to.name,
                "severity": to.severity,
                "org": to.org,
                "violation": violation,
                "detected_at": detected_at,
                "node": self.config.console_url,
                "verify": "run `warden verify` against the database; see docs/security/incident-response.md",
            }
        });
        let body = serde_json::to_vec(&body).map_err(|error| error.to_string())?;
        http::post(
            &self.http,
            self.config.private_addresses,
            &endpoint.url,
            &secret,
            id,
            body,
        )
        .await
        .map(|_| ())
        .map_err(|failure| failure.error)
    }

    async fn alarm_email(
        &self,
        to: &AlarmRecipient,
        address: &str,
        violation: &str,
        detected_at: &str,
    ) -> Result<(), String> {
        let mailer = self.mailer.as_ref().ok_or("no mail server is configured (smtp_url)")?;
        let email = message::alarm_email(&to.name, violation, detected_at, &self.config.console_url);
        mailer.send(address, email, None).await.map_err(|failure| failure.error)
    }
}
