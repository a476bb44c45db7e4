//! The client of a request: its address and user agent, as events record
//! them.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use warden_core::commands::Context;
use warden_core::{Actor, ActorKind};

use crate::request_id::RequestId;

/// Longest user agent recorded.
const USER_AGENT_MAX: usize = 512;

#[derive(Debug, Clone)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: String,
}

impl Client {
    pub fn from_parts(parts: &Parts) -> Self {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip().to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|text| text.chars().take(USER_AGENT_MAX).collect());
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default();
        Client {
            ip,
            user_agent,
            request_id,
        }
    }

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

    fn context(&self, mut actor: Actor) -> Context {
        actor.ip = self.ip.clone();
        actor.user_agent = self.user_agent.clone();
        Context {
            actor,
            request_id: self.request_id.clone(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Client::from_parts(parts))
    }
}
