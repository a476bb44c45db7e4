//! Single sign-on: each org's connections (their settings, whether they
//! are on, the domains an owner acknowledged, the sealed client secret)
//! and which connection serves each acknowledged domain; the accounts
//! linked to identities; and the flows each client network has open
//! (`/sso/start` is open to anyone, so they are bounded).

use std::collections::{BTreeMap, HashMap, VecDeque};

use chrono::{DateTime, Utc};

use serde::{Deserialize, Serialize};
use warden_core::Event;
use warden_core::commands::sso::sign_in::{
    Linked, Provisioned, SSO_FAILED, SSO_STARTED, SSO_SUCCEEDED, Started, USER_LINKED, USER_PROVISIONED, identity,
};
use warden_core::commands::sso::{
    Acknowledgement, Connection, ConnectionChanged, ConnectionCreated, ConnectionRef, DomainAcknowledged,
    SSO_CONNECTION_CHANGED, SSO_CONNECTION_CREATED, SSO_CONNECTION_DISABLED, SSO_CONNECTION_DOMAIN_ACKNOWLEDGED,
    SSO_CONNECTION_ENABLED, SSO_CONNECTION_REMOVED,
};
use warden_core::commands::{Prefix, payload, subject_id};
use warden_core::keys::Sealed;

use warden_core::auth::sso::flow;

use crate::Projection;
use crate::throttle::ip_key;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Sso {
    connections: BTreeMap<String, Connection>,
    secrets: HashMap<String, Sealed<String>>,
    /// Each acknowledged domain's connection.
    by_domain: HashMap<String, String>,
    /// The account each identity (`<connection>:<subject>`) is linked to.
    #[serde(default)]
    identities: HashMap<String, String>,
    /// The flows each client network (`throttle::ip_key`) has open
    /// (started, not ended, within their lifetime): when, and which.
    #[serde(default)]
    open: HashMap<String, Vec<(DateTime<Utc>, String)>>,
    /// Each open flow's network.
    #[serde(default)]
    open_flows: HashMap<String, String>,
    /// The open flows, oldest first, to let them go once past their
    /// lifetime.
    #[serde(default)]
    open_order: VecDeque<(DateTime<Utc>, String)>,
}

impl Sso {
    /// `org`'s connection `id`: another org's is not found.
    pub fn connection(&self, org: &str, id: &str) -> Option<&Connection> {
        self.connections.get(id).filter(|connection| connection.org == org)
    }

    /// Connection `id`, whichever org's (a sign-in names it before anyone
    /// is known).
    pub fn connection_any_org(&self, id: &str) -> Option<&Connection> {
        self.connections.get(id)
    }

    /// The org's connections, oldest first (ids are time-ordered).
    pub fn connections_of<'a>(&'a self, org: &'a str) -> impl Iterator<Item = &'a Connection> + 'a {
        self.connections
            .values()
            .filter(move |connection| connection.org == org)
    }

    /// The connection that serves `domain` (an owner acknowledged it).
    pub fn serving(&self, domain: &str) -> Option<&Connection> {
        self.by_domain.get(domain).and_then(|id| self.connections.get(id))
    }

    /// Whether a connection other than `except` serves `domain`.
    pub fn served_elsewhere(&self, domain: &str, except: Option<&str>) -> bool {
        self.by_domain.get(domain).is_some_and(|id| Some(id.as_str()) != except)
    }

    /// The account linked to `subject` at `connection`.
    pub fn linked(&self, connection: &str, subject: &str) -> Option<&str> {
        self.identities.get(&identity(connection, subject)).map(String::as_str)
    }

    /// When the flows `network` has open started.
    pub fn open_from(&self, network: &str) -> Vec<DateTime<Utc>> {
        self.open
            .get(network)
            .map(|flows| flows.iter().map(|(at, _)| *at).collect())
            .unwrap_or_default()
    }

    /// Lets go of the flows past their lifetime as of `now` (each is
    /// looked at once more, when it leaves `open_order`).
    fn expire(&mut self, now: DateTime<Utc>) {
        while let Some((at, _)) = self.open_order.front()
            && now - *at >= flow::LIFETIME
        {
            let Some((_, id)) = self.open_order.pop_front() else {
                break;
            };
            self.ended(&id);
        }
    }

    fn ended(&mut self, id: &str) {
        let Some(network) = self.open_flows.remove(id) else {
            return;
        };
        if let Some(flows) = self.open.get_mut(&network) {
            flows.retain(|(_, flow)| flow != id);
            if flows.is_empty() {
                self.open.remove(&network);
            }
        }
    }

    /// The connection's client secret, sealed.
    pub fn client_secret(&self, id: &str) -> Option<&Sealed<String>> {
        self.secrets.get(id)
    }
}

impl Projection for Sso {
    const NAME: &'static str = warden_core::commands::catalogue::readers::SSO;
    const VERSION: u32 = 1;
    const NEW_KINDS_ONLY: bool = true;

    fn apply(&mut self, event: &Event) {
        match event.kind.as_str() {
            SSO_STARTED | SSO_SUCCEEDED | SSO_FAILED => {
                self.expire(event.at);
                let Some(id) = subject_id(&event.subject, Prefix::SsoFlow) else {
                    return;
                };
                if event.kind != SSO_STARTED {
                    self.ended(id);
                } else if payload::<Started>(event).is_some()
                    && let Some(ip) = event.actor.ip.as_deref()
                {
                    let network = ip_key(ip);
                    self.open
                        .entry(network.clone())
                        .or_default()
                        .push((event.at, id.to_string()));
                    self.open_flows.insert(id.to_string(), network);
                    self.open_order.push_back((event.at, id.to_string()));
                }
                return;
            }
            USER_PROVISIONED => {
                if let Some(provisioned) = payload::<Provisioned>(event) {
                    let key = identity(&provisioned.connection, &provisioned.subject);
                    self.identities.insert(key, provisioned.user);
                }
                return;
            }
            USER_LINKED => {
                if let Some(linked) = payload::<Linked>(event) {
                    self.identities
                        .insert(identity(&linked.connection, &linked.subject), linked.user);
                }
                return;
            }
            _ => {}
        }
        let Some(id) = subject_id(&event.subject, Prefix::SsoConnection) else {
            return;
        };
        match event.kind.as_str() {
            SSO_CONNECTION_CREATED => {
                if let Some(created) = payload::<ConnectionCreated>(event) {
                    self.secrets.insert(id.to_string(), created.client_secret);
                    self.connections.insert(
                        id.to_string(),
                        Connection {
                            id: id.to_string(),
                            org: created.org,
                            settings: created.settings,
                            enabled: false,
                            acknowledged: BTreeMap::new(),
                            version: event.subject_version,
                        },
                    );
                }
            }
            SSO_CONNECTION_CHANGED => {
                if let Some(changed) = payload::<ConnectionChanged>(event)
                    && let Some(connection) = self.connections.get_mut(id)
                {
                    for domain in &changed.unacknowledged {
                        connection.acknowledged.remove(domain);
                        self.by_domain.remove(domain);
                    }
                    connection.settings = changed.settings;
                    if let Some(secret) = changed.client_secret {
                        self.secrets.insert(id.to_string(), secret);
                    }
                }
            }
            SSO_CONNECTION_DOMAIN_ACKNOWLEDGED => {
                if let Some(acknowledged) = payload::<DomainAcknowledged>(event)
                    && let Some(connection) = self.connections.get_mut(id)
                {
                    let by = Acknowledgement {
                        by: event.actor.id.clone().unwrap_or_default(),
                        at: event.at,
                    };
                    connection.acknowledged.insert(acknowledged.domain.clone(), by);
                    self.by_domain.insert(acknowledged.domain, id.to_string());
                }
            }
            SSO_CONNECTION_ENABLED | SSO_CONNECTION_DISABLED => {
                if payload::<ConnectionRef>(event).is_some()
                    && let Some(connection) = self.connections.get_mut(id)
                {
                    connection.enabled = event.kind == SSO_CONNECTION_ENABLED;
                }
            }
            SSO_CONNECTION_REMOVED => {
                if payload::<ConnectionRef>(event).is_some() {
                    if let Some(connection) = self.connections.remove(id) {
                        for domain in connection.acknowledged.keys() {
                            self.by_domain.remove(domain);
                        }
                    }
                    let prefix = format!("{id}:");
                    self.identities.retain(|key, _| !key.starts_with(&prefix));
                    self.secrets.remove(id);
                }
                return;
            }
            _ => {}
        }
        if let Some(connection) = self.connections.get_mut(id) {
            connection.version = event.subject_version;
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use serde_json::json;
    use warden_core::commands::Context;
    use warden_core::commands::sso::{self as events, connection_subject};
    use warden_core::{Actor, ActorKind, NewEvent};

    use super::*;

    fn event(seq: u64, version: u64, new: NewEvent) -> Event {
        let mut event = Event::unsealed(seq, DateTime::from_timestamp(1_800_000_000, 0).unwrap(), new);
        event.subject_version = version;
        event
    }

    fn fixture(kind: &str) -> serde_json::Value {
        let path = format!(
            "{}/../core/tests/fixtures/events/{kind}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    #[test]
    fn each_network_holds_its_open_flows() {
        let context = |ip: &str| {
            let mut anonymous = Actor::of_kind(ActorKind::Anonymous);
            anonymous.ip = Some(ip.into());
            Context {
                actor: anonymous,
                request_id: "r".into(),
            }
        };
        let at = |minute: i64| DateTime::from_timestamp(1_800_000_000, 0).unwrap() + chrono::Duration::minutes(minute);
        let start = |flow: &str, ip: &str, minute: i64| {
            let mut started: Started = serde_json::from_value(fixture("sso.started")).unwrap();
            started.flow = flow.into();
            let mut event = event(
                1,
                1,
                warden_core::commands::sso::sign_in::started(&context(ip), &started),
            );
            event.at = at(minute);
            event
        };
        let end = |flow: &str, minute: i64| {
            let mut failed: warden_core::commands::sso::sign_in::Failed =
                serde_json::from_value(fixture("sso.failed")).unwrap();
            failed.flow = flow.into();
            let mut event = event(
                1,
                2,
                warden_core::commands::sso::sign_in::failed(&context("203.0.113.9"), &failed),
            );
            event.at = at(minute);
            event
        };
        let mut sso = Sso::default();
        sso.apply(&start("f1", "203.0.113.9", 0));
        sso.apply(&start("f2", "203.0.113.9", 1));
        sso.apply(&start("f3", "2001:db8::1", 2));
        sso.apply(&start("f4", "2001:db8::2", 3));
        assert_eq!(sso.open_from("203.0.113.9"), [at(0), at(1)]);
        // An IPv6 host is its /64.
        assert_eq!(sso.open_from("2001:db8:0:0::/64"), [at(2), at(3)]);
        assert!(sso.open_from("203.0.113.10").is_empty());
        // A flow that ends is no longer open.
        sso.apply(&end("f1", 4));
        assert_eq!(sso.open_from("203.0.113.9"), [at(1)]);
        // Ten minutes on, the flows left open are let go of, and a network
        // with none open is forgotten.
        sso.apply(&start("f5", "198.51.100.7", 12));
        assert!(sso.open_from("203.0.113.9").is_empty());
        assert!(!sso.open.contains_key("203.0.113.9"));
        assert_eq!(sso.open_from("2001:db8:0:0::/64"), [at(3)]);
        sso.apply(&start("f6", "198.51.100.7", 13));
        assert!(sso.open_from("2001:db8:0:0::/64").is_empty());
        assert_eq!(sso.open_from("198.51.100.7"), [at(12), at(13)]);
        assert_eq!(sso.open_flows.len(), 2);
    }

    #[test]
    fn domains_are_served_while_acknowledged() {
        let mut owner = Actor::of_kind(ActorKind::User);
        owner.id = Some("owner".into());
        let context = Context {
            actor: owner,
            request_id: "r".into(),
        };
        let created: ConnectionCreated = serde_json::from_value(fixture("sso_connection.created")).unwrap();
        let id = created.connection.clone();
        let org = created.org.clone();
        let mut sso = Sso::default();
        sso.apply(&event(1, 1, events::created(&context, &created)));
        assert!(sso.serving("acme.test").is_none(), "listed is not served");
        let acknowledged = DomainAcknowledged {
            connection: id.clone(),
            org: org.clone(),
            name: "Acme Okta".into(),
            domain: "acme.test".into(),
        };
        sso.apply(&event(2, 2, events::domain_acknowledged(&context, &acknowledged, 1)));
        let serving = sso.serving("acme.test").unwrap();
        assert_eq!(serving.id, id);
        assert_eq!(serving.acknowledged["acme.test"].by, "owner");
        assert_eq!(serving.version, 2);
        assert!(sso.served_elsewhere("acme.test", None));
        assert!(!sso.served_elsewhere("acme.test", Some(&id)));
        assert!(sso.connection("another org", &id).is_none());

        let mut changed: ConnectionChanged = serde_json::from_value(fixture("sso_connection.changed")).unwrap();
        changed.unacknowledged = vec!["acme.test".into()];
        changed.client_secret = None;
        sso.apply(&event(3, 3, events::changed(&context, &changed, 2)));
        assert!(sso.serving("acme.test").is_none(), "withdrawn");
        assert!(sso.client_secret(&id).is_some(), "the secret kept");

        let reference = ConnectionRef {
            connection: id.clone(),
            org: org.clone(),
            name: "Acme Okta".into(),
        };
        sso.apply(&event(4, 4, events::enabled(&context, &reference, 3)));
        assert!(sso.connection(&org, &id).unwrap().enabled);
        sso.apply(&event(5, 5, events::removed(&context, &reference, 4, &[])));
        assert!(sso.connection(&org, &id).is_none());
        assert!(sso.client_secret(&id).is_none());
        assert_eq!(connection_subject(&id), format!("sso_connection:{id}"));
        assert_eq!(json!(sso.connections_of(&org).count()), json!(0));
    }
}
