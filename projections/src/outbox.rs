//! Account email (decision 0028) as its events record it: the emails not
//! yet sent or given up, with when each next attempt is due (what the
//! deliverer takes), and for each user the state of their recent emails
//! (what an admin sees). Like alert deliveries, a queued email is in the
//! log, so it survives a restart.

use std::collections::{BTreeMap, HashMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use warden_core::Event;
use warden_core::commands::email::{EMAIL_BOUNCED, EMAIL_FAILED, EMAIL_QUEUED, EMAIL_SENT, EmailAttempt, EmailQueued};
use warden_core::commands::payload;
use warden_core::event::timestamp;

use crate::Projection;

/// Recent emails kept per user.
pub const KEPT_PER_USER: usize = 20;

/// An email to send (the deliverer's job).
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub queued: EmailQueued,
    /// The number of the attempt to make (1 for the first).
    pub attempt: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    queued: EmailQueued,
    #[serde(with = "timestamp")]
    due: DateTime<Utc>,
    attempts: u32,
}

/// Where an email stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailState {
    Queued,
    /// An attempt failed; another is due.
    Retrying,
    Sent,
    Bounced,
}

/// One of a user's recent emails, as an admin sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailStatus {
    pub message: String,
    pub template: String,
    pub state: EmailState,
    pub attempts: u32,
    #[serde(with = "timestamp")]
    pub queued_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub changed_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Outbox {
    pending: BTreeMap<String, Pending>,
    /// Newest last.
    by_user: HashMap<String, VecDeque<EmailStatus>>,
}

impl Outbox {
    /// The emails whose next attempt is due at `now`.
    pub fn due(&self, now: DateTime<Utc>) -> Vec<Outgoing> {
        self.pending
            .values()
            .filter(|pending| pending.due <= now)
            .map(|pending| Outgoing {
                queued: pending.queued.clone(),
                attempt: pending.attempts + 1,
            })
            .collect()
    }

    /// When the next attempt is due, if any is pending.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.pending.values().map(|pending| pending.due).min()
    }

    /// Whether an email is still to be sent (its body still needed).
    pub fn is_pending(&self, message: &str) -> bool {
        self.pending.contains_key(message)
    }

    /// The user's recent emails, newest first.
    pub fn of_user(&self, user: &str) -> Vec<EmailStatus> {
        self.by_user
            .get(user)
            .map(|emails| emails.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    fn status_mut(&mut self, user: Option<&str>, message: &str) -> Option<&mut EmailStatus> {
        self.by_user
            .get_mut(user?)?
            .iter_mut()
            .rev()
            .find(|status| status.message == message)
    }
}

impl Projection for Outbox {
    const NAME: &'static str = warden_core::commands::catalogue::readers::OUTBOX;
    const VERSION: u32 = 1;
    const NEW_KINDS_ONLY: bool = true;

    fn apply(&mut self, event: &Event) {
        match event.kind.as_str() {
            EMAIL_QUEUED => {
                let Some(queued) = payload::<EmailQueued>(event) else {
                    return;
                };
                if let Some(user) = &queued.user {
                    let emails = self.by_user.entry(user.clone()).or_default();
                    emails.push_back(EmailStatus {
                        message: queued.message.clone(),
                        template: queued.template.clone(),
                        state: EmailState::Queued,
                        attempts: 0,
                        queued_at: event.at,
                        changed_at: event.at,
                        last_error: None,
                    });
                    if emails.len() > KEPT_PER_USER {
                        emails.pop_front();
                    }
                }
                self.pending.insert(
                    queued.message.clone(),
                    Pending {
                        queued,
                        due: event.at,
                        attempts: 0,
                    },
                );
            }
            EMAIL_SENT | EMAIL_FAILED | EMAIL_BOUNCED => {
                let Some(attempt) = payload::<EmailAttempt>(event) else {
                    return;
                };
                let retry_at = attempt.next_at.as_deref().and_then(timestamp::parse);
                let state = match (event.kind.as_str(), retry_at) {
                    (EMAIL_SENT, _) => EmailState::Sent,
                    (EMAIL_FAILED, Some(_)) => EmailState::Retrying,
                    _ => EmailState::Bounced,
                };
                match (state, retry_at, self.pending.get_mut(&attempt.message)) {
                    (EmailState::Retrying, Some(due), Some(pending)) => {
                        pending.due = due;
                        pending.attempts = attempt.attempt;
                    }
                    _ => {
                        self.pending.remove(&attempt.message);
                    }
                }
                if let Some(status) = self.status_mut(attempt.user.as_deref(), &attempt.message) {
                    status.state = state;
                    status.attempts = attempt.attempt;
                    status.changed_at = event.at;
                    status.last_error = attempt.error;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use warden_core::commands::Context;
    use warden_core::commands::email::{self, EmailEnd};
    use warden_core::{Actor, NewEvent};

    use super::*;

    fn context() -> Context {
        Context {
            actor: Actor::system(),
            request_id: "r".into(),
        }
    }

    fn queued_event(message: &str) -> Option<NewEvent> {
        // A sealed envelope as the log holds one (its content is not read
        // here).
        let data = serde_json::json!({
            "message": message,
            "template": "sign_in_code",
            "user": "u1",
            "envelope": {
                "sealed": "v1", "subject": format!("email:{message}"), "key_id": "k",
                "nonce": "n", "ciphertext": "c"
            }
        });
        let queued: EmailQueued = serde_json::from_value(data).ok()?;
        Some(email::queued(&context(), &queued))
    }

    fn attempt(message: &str, number: u32, next_at: Option<DateTime<Utc>>, end: EmailEnd) -> NewEvent {
        email::attempted(
            &context(),
            &EmailAttempt {
                message: message.into(),
                template: "sign_in_code".into(),
                user: Some("u1".into()),
                org: None,
                attempt: number,
                error: (end != EmailEnd::Sent).then(|| "the mail server answered 451".into()),
                next_at: next_at.map(|at| timestamp::format(&at)),
                duration_ms: 1,
            },
            end,
        )
    }

    #[test]
    fn an_email_is_due_until_sent_or_bounced_and_its_user_sees_how_it_went() {
        let t0 = warden_core::event::now_micros();
        let mut model = Outbox::default();
        let apply = |model: &mut Outbox, seq, at, new: NewEvent| model.apply(&Event::unsealed(seq, at, new));
        apply(&mut model, 1, t0, queued_event("m1").unwrap());
        apply(&mut model, 2, t0, queued_event("m2").unwrap());
        let due = model.due(t0);
        assert_eq!(due.len(), 2);
        assert!(due.iter().all(|due| due.attempt == 1));
        assert_eq!(model.next_due(), Some(t0));

        let later = t0 + TimeDelta::seconds(30);
        apply(&mut model, 3, t0, attempt("m1", 1, Some(later), EmailEnd::Failed));
        apply(&mut model, 4, t0, attempt("m2", 1, None, EmailEnd::Sent));
        assert!(model.due(t0 + TimeDelta::seconds(29)).is_empty());
        let due = model.due(later);
        assert_eq!((due.len(), due[0].attempt), (1, 2));
        assert!(!model.is_pending("m2"));
        let states: Vec<_> = model.of_user("u1").iter().map(|email| email.state).collect();
        assert_eq!(states, [EmailState::Sent, EmailState::Retrying], "newest first");

        apply(&mut model, 5, later, attempt("m1", 2, None, EmailEnd::Bounced));
        assert_eq!(model.next_due(), None);
        let m1 = &model.of_user("u1")[1];
        assert_eq!((m1.state, m1.attempts), (EmailState::Bounced, 2));
        assert_eq!(m1.last_error.as_deref(), Some("the mail server answered 451"));

        for n in 0..KEPT_PER_USER + 3 {
            apply(&mut model, 6, later, queued_event(&format!("n{n}")).unwrap());
        }
        assert_eq!(model.of_user("u1").len(), KEPT_PER_USER);
        assert!(model.of_user("nobody").is_empty());
    }
}
