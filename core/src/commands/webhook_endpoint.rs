//! Webhook endpoints: where an org's alerts are posted. Owners and admins
//! add and remove them; alert rules name them as recipients. The signing
//! secret is sealed with the endpoint's own data key, so removing an
//! endpoint shreds it, and it never appears in clear in an event.

use serde::{Deserialize, Serialize};

use super::{Context, Prefix, data, subject};
use crate::event::NewEvent;
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
