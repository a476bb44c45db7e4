//! The client of a request: its address and user agent, as events record
//! them.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use warden_core::commands::{Caller, Context};
use warden_core::net::IpNet;

use crate::request_id::RequestId;

/// Longest user agent recorded.
const USER_AGENT_MAX: usize = 512;

#[derive(Debug, Clone)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: String,
    /// A top-level navigation from another site (a link on another page,
    /// in a webmail): the browser sent the `SameSite=Lax` cookie, but the
    /// user did not choose what the link asks for.
    pub navigated_from_another_site: bool,
}

/// The client's address, decided once per request by [`resolve_ip`].
#[derive(Debug, Clone)]
pub struct ClientIp(pub IpAddr);

/// The client's address is the peer's, unless the peer is a trusted
/// proxy (`trusted`): then it is the right-most `X-Forwarded-For` entry
/// that is not a trusted proxy (entries further left are the client's to
/// forge). Recorded on the request as [`ClientIp`], once.
pub fn resolve_ip(trusted: &[IpNet], mut request: Request) -> Request {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip().to_canonical());
    if let Some(peer) = peer {
        let trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
        let mut client = peer;
        if trusted(peer) {
            let forwarded: Vec<IpAddr> = request
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|line| line.split(','))
                .filter_map(|item| item.trim().parse::<IpAddr>().ok())
                .collect();
            for hop in forwarded.into_iter().rev() {
                client = hop.to_canonical();
                if !trusted(client) {
                    break;
                }
            }
        }
        request.extensions_mut().insert(ClientIp(client));
    }
    request
}

impl Client {
    pub fn from_parts(parts: &Parts) -> Self {
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default();
        let mut client = Self::of(
            parts.extensions.get::<ClientIp>(),
            parts.headers.get(header::USER_AGENT),
            request_id,
        );
        client.navigated_from_another_site = navigated_from_another_site(&parts.headers);
        client
    }

    /// From what a request said: its resolved address, its user agent
    /// (truncated), its id.
    pub fn of(ip: Option<&ClientIp>, user_agent: Option<&HeaderValue>, request_id: String) -> Self {
        Client {
            ip: ip.map(|ClientIp(ip)| ip.to_string()),
            user_agent: user_agent
                .and_then(|value| value.to_str().ok())
                .map(|text| text.chars().take(USER_AGENT_MAX).collect()),
            request_id,
            navigated_from_another_site: false,
        }
    }

    /// What the events of this request's decisions record of it.
    pub fn caller(&self) -> Caller {
        Caller {
            request_id: self.request_id.clone(),
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
        }
    }

    /// The audit context of an anonymous caller.
    pub fn anonymous(&self) -> Context {
        self.caller().anonymous()
    }

    /// The audit context of a user of an org.
    pub fn as_user(&self, user: &str, org: &str) -> Context {
        self.caller().as_user(user, org)
    }
}

/// Fetch metadata (`Sec-Fetch-Site`, `Sec-Fetch-Mode`): a navigation that
/// another site (or a sibling subdomain) started. Cross-site requests that
/// are not navigations carry no session cookie (`SameSite=Lax`); clients
/// that are not browsers send neither header.
fn navigated_from_another_site(headers: &axum::http::HeaderMap) -> bool {
    let value = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    matches!(value("sec-fetch-site"), Some("cross-site" | "same-site")) && value("sec-fetch-mode") == Some("navigate")
}

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Client::from_parts(parts))
    }
}
