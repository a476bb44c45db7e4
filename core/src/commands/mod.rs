//! Commands: what Warden decides, as events. One module per aggregate.
//!
//! Each module names its event kinds, defines the typed `data` of each kind
//! (what projections read back) and builds the [`NewEvent`]s of a decision
//! with the subject version it was decided on. No I/O here: the API reads
//! the read models, decides through these functions and appends.

pub mod account;
pub mod admin_actions;
pub mod alert;
pub mod api_key;
pub mod app_event;
pub mod audit;
pub mod catalogue;
pub mod checkpoint;
pub mod email;
pub mod email_change;
pub mod import;
pub mod kms;
pub mod mfa;
pub mod org;
pub mod recovery;
pub mod retention;
pub mod secret;
pub mod sentence;
pub mod session;
pub mod setup;
pub mod sso;
pub mod subjects;
pub mod webhook_endpoint;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::event::{Actor, ActorKind, Event, NewEvent};

/// Who asks, and in which request: the audit context of every event a
/// command appends.
#[derive(Debug, Clone)]
pub struct Context {
    pub actor: Actor,
    pub request_id: String,
}

impl Context {
    pub fn event(&self, kind: &str, subject: impl Into<String>) -> NewEvent {
        NewEvent::new(kind, subject, self.actor.clone()).request_id(self.request_id.clone())
    }
}

/// Who is asking, from where, before it is known as whom: the facts of a
/// request that every event of its decision records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    pub request_id: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Caller {
    /// The audit context of an anonymous caller.
    pub fn anonymous(&self) -> Context {
        self.context(Actor::of_kind(ActorKind::Anonymous))
    }

    /// The audit context of a user of an org.
    pub fn as_user(&self, user: &str, org: &str) -> Context {
        let mut actor = Actor::of_kind(ActorKind::User);
        actor.id = Some(user.to_string());
        actor.org = Some(org.to_string());
        self.context(actor)
    }

    /// The audit context of an API key of an org on Warden's own API: a
    /// vendor key's names the user it acts for and the ticket.
    pub fn as_key(&self, key: &str, org: &str, vendor: Option<(&str, &str)>) -> Context {
        let mut actor = Actor::of_kind(if vendor.is_some() {
            ActorKind::Vendor
        } else {
            ActorKind::ApiKey
        });
        actor.id = Some(key.to_string());
        actor.org = Some(org.to_string());
        if let Some((user, ticket)) = vendor {
            actor.on_behalf_of = Some(user.to_string());
            actor.ticket = Some(ticket.to_string());
        }
        self.context(actor)
    }

    fn context(&self, mut actor: Actor) -> Context {
        actor.ip = self.ip.clone();
        actor.user_agent = self.user_agent.clone();
        Context {
            actor,
            request_id: self.request_id.clone(),
        }
    }
}

/// An event's `data` from a typed payload. Payload types serialize to a
/// JSON object without fail (structs of strings, integers, enums and
/// string-keyed maps; `core/tests/event_payloads.rs` round-trips each).
/// Were one to fail, the `null` given instead does not decode as the
/// kind's payload, and the ledger refuses the append
/// (`catalogue::decodes`): never recorded.
pub fn data<T: Serialize>(payload: &T) -> serde_json::Value {
    serde_json::to_value(payload).unwrap_or_else(|error| {
        tracing::error!(%error, "an event payload does not serialize");
        serde_json::Value::Null
    })
}

/// The typed payload of an event, if it has that shape.
pub fn payload<T: DeserializeOwned>(event: &Event) -> Option<T> {
    T::deserialize(&event.data).ok()
}

pub use subjects::{Prefix, subject, subject_id};
