//! Webhook endpoints: where an org's alerts are posted. Owners and admins
//! add and remove them; alert rules name them as recipients. The signing
//! secret is sealed with the endpoint's own data key, so removing an
//! endpoint shreds it, and it never appears in clear in an event.

use serde::{Deserialize, Serialize};

use super::sentence::{Ref, Sentence, Summarize};
use super::{Context, Prefix, data, subject};
use crate::event::{Event, NewEvent};
use crate::keys::Sealed;

pub const WEBHOOK_ENDPOINT_CREATED: &str = "webhook_endpoint.created";
pub const WEBHOOK_ENDPOINT_REMOVED: &str = "webhook_endpoint.removed";

/// `webhook_endpoint:<id>`: the subject of an endpoint and of its data key.
pub fn endpoint_subject(endpoint: &str) -> String {
    subject(Prefix::WebhookEndpoint, endpoint)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointCreated {
    pub endpoint: String,
    pub org: String,
    pub url: String,
    #[serde(default)]
    pub description: String,
    /// The Standard Webhooks secret (`whsec_…`), sealed.
    pub secret: Sealed<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRemoved {
    pub endpoint: String,
    pub org: String,
}

pub fn created(context: &Context, created: &EndpointCreated) -> NewEvent {
    context
        .event(WEBHOOK_ENDPOINT_CREATED, endpoint_subject(&created.endpoint))
        .expect_version(0)
        .data(data(created))
}

pub fn removed(context: &Context, removed: &EndpointRemoved, version: u64) -> NewEvent {
    context
        .event(WEBHOOK_ENDPOINT_REMOVED, endpoint_subject(&removed.endpoint))
        .expect_version(version)
        .data(data(removed))
}

// The sentences of these kinds (`super::sentence`).

impl Summarize for EndpointCreated {
    /// Without the description: the endpoint's reference reads as it.
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        Some(
            Sentence::by(event)
                .words(" added ")
                .refer(Ref::WebhookEndpoint(self.endpoint.clone()))
                .words(", posting to ")
                .value(host(&self.url)),
        )
    }
}

impl Summarize for EndpointRemoved {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        Some(
            Sentence::by(event)
                .words(" removed ")
                .refer(Ref::WebhookEndpoint(self.endpoint.clone())),
        )
    }
}

/// The host of a URL, without what its path or query may hold (some
/// receivers take a token in the path).
fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    authority.rsplit_once('@').map_or(authority, |(_, host)| host)
}
