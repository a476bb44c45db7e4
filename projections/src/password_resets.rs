//! Password-reset links (decision 0028), as the recovery flow decides on
//! them: each link by its token's hash, with its subject version and
//! whether it was used; each user's newest link (the only one that
//! works); and the requests by email of the last hour, per address and
//! per client network, for the hourly limits. Requests are let go after
//! the hour; links a day after they were made (a link presented later
//! is unknown rather than expired).

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use warden_core::Event;
use warden_core::commands::recovery::{
    PASSWORD_RESET_ISSUED, PASSWORD_RESET_REQUESTED, PASSWORD_RESET_USED, ResetIssued, ResetRequested, ResetUsed,
};
use warden_core::commands::{Prefix, payload, subject_id};

use crate::Projection;
pub use crate::links::Found;
use crate::links::{Issued, Links};

/// How long requests count: the limits' window.
const WINDOW: TimeDelta = TimeDelta::hours(1);
/// How long a link is kept after it was made.
const KEPT: TimeDelta = TimeDelta::days(1);

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PasswordResets {
    links: Links,
    /// Times each address (by its keyed hash) was asked for, within the
    /// last hour.
    addresses: HashMap<String, VecDeque<DateTime<Utc>>>,
    /// Times each client network asked, within the last hour.
    clients: HashMap<String, VecDeque<DateTime<Utc>>>,
    /// Addresses and clients by the time of a request, oldest first.
    requests: VecDeque<(DateTime<Utc>, Requester)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Requester {
    Address(String),
    Client(String),
}

impl PasswordResets {
    /// The link whose token hashes to `token_hash`.
    pub fn by_token(&self, token_hash: &str) -> Option<Found> {
        self.links.by_token(token_hash)
    }

    /// The id of `user`'s newest link, the only one that resets.
    pub fn newest_of(&self, user: &str) -> Option<&str> {
        self.links.newest_of(user)
    }

    /// When the address was asked for in the last hour (as of the log's
    /// newest event; the decision counts only the last hour).
    pub fn address(&self, address_ref: &str) -> Vec<DateTime<Utc>> {
        times(&self.addresses, address_ref)
    }

    /// When the client network asked in the last hour.
    pub fn client(&self, client: &str) -> Vec<DateTime<Utc>> {
        times(&self.clients, client)
    }

    /// Lets go of requests older than the window and links older than
    /// [`KEPT`], as of `now` (the time of the event being applied).
    fn expire(&mut self, now: DateTime<Utc>) {
        while let Some((at, _)) = self.requests.front()
            && now - *at >= WINDOW
        {
            let Some((_, requester)) = self.requests.pop_front() else {
                break;
            };
            let (map, key) = match requester {
                Requester::Address(key) => (&mut self.addresses, key),
                Requester::Client(key) => (&mut self.clients, key),
            };
            if let Some(times) = map.get_mut(&key) {
                while times.front().is_some_and(|at| now - *at >= WINDOW) {
                    times.pop_front();
                }
                if times.is_empty() {
                    map.remove(&key);
                }
            }
        }
        self.links.expire(now, KEPT);
    }

    fn request(&mut self, at: DateTime<Utc>, requester: Requester) {
        let (map, key) = match &requester {
            Requester::Address(key) => (&mut self.addresses, key),
            Requester::Client(key) => (&mut self.clients, key),
        };
        map.entry(key.clone()).or_default().push_back(at);
        self.requests.push_back((at, requester));
    }
}

fn times(map: &HashMap<String, VecDeque<DateTime<Utc>>>, key: &str) -> Vec<DateTime<Utc>> {
    map.get(key)
        .map(|times| times.iter().copied().collect())
        .unwrap_or_default()
}

impl Projection for PasswordResets {
    const NAME: &'static str = warden_core::commands::catalogue::readers::PASSWORD_RESETS;
    const VERSION: u32 = 1;
    const NEW_KINDS_ONLY: bool = true;

    fn apply(&mut self, event: &Event) {
        self.expire(event.at);
        if event.kind == PASSWORD_RESET_REQUESTED {
            if let Some(requested) = payload::<ResetRequested>(event) {
                self.request(event.at, Requester::Address(requested.address_ref));
                if let Some(client) = requested.client {
                    self.request(event.at, Requester::Client(client));
                }
            }
            return;
        }
        let Some(link) = subject_id(&event.subject, Prefix::PasswordReset) else {
            return;
        };
        match event.kind.as_str() {
            PASSWORD_RESET_ISSUED => {
                if let Some(issued) = payload::<ResetIssued>(event) {
                    self.links.issued(Issued {
                        id: link,
                        user: &issued.user,
                        token_hash: &issued.token_hash,
                        at: event.at,
                        expires_at: issued.expires_at,
                        version: event.subject_version,
                    });
                }
            }
            PASSWORD_RESET_USED => {
                if payload::<ResetUsed>(event).is_some() {
                    self.links.used(link, event.subject_version);
                }
            }
            _ => self.links.moved(link, event.subject_version),
        }
    }
}

#[cfg(test)]
mod tests {
    use warden_core::auth::recovery::{Issuer, Refused};
    use warden_core::commands::Context;
    use warden_core::commands::recovery::{self, ResetRefused};
    use warden_core::{Actor, NewEvent};

    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + TimeDelta::minutes(minutes)
    }

    fn context() -> Context {
        Context {
            actor: Actor::system(),
            request_id: "r".into(),
        }
    }

    fn event(seq: u64, version: u64, minutes: i64, new: NewEvent) -> Event {
        let mut event = Event::unsealed(seq, at(minutes), new);
        event.subject_version = version;
        event
    }

    fn request(address: &str, client: &str) -> NewEvent {
        recovery::requested(
            &context(),
            &ResetRequested {
                request: "r".into(),
                address_ref: address.into(),
                client: Some(client.into()),
                link: None,
            },
        )
    }

    fn issue(link: &str, user: &str, minutes: i64) -> NewEvent {
        recovery::issued(
            &context(),
            &ResetIssued {
                link: link.into(),
                user: user.into(),
                org: "o".into(),
                token_hash: format!("hash-{link}"),
                expires_at: at(minutes + 30),
                issuer: Issuer::User,
                message: None,
                reason: None,
                os_user: None,
            },
        )
    }

    #[test]
    fn links_are_found_by_token_replaced_by_newer_ones_used_once_and_let_go() {
        let mut model = PasswordResets::default();
        model.apply(&event(1, 1, 0, issue("l1", "u", 0)));
        model.apply(&event(2, 1, 1, issue("l2", "u", 1)));
        model.apply(&event(3, 1, 2, issue("m1", "v", 2)));
        assert_eq!(model.newest_of("u"), Some("l2"));
        let l1 = model.by_token("hash-l1").unwrap();
        assert_eq!((l1.link.id.as_str(), l1.link.user.as_str(), l1.version), ("l1", "u", 1));
        assert_eq!(l1.link.expires_at, at(30));
        assert!(model.by_token("hash-nope").is_none());

        let refused = ResetRefused {
            link: "l1".into(),
            user: "u".into(),
            reason: Refused::Replaced,
        };
        model.apply(&event(4, 2, 3, recovery::refused(&context(), &refused)));
        assert_eq!(model.by_token("hash-l1").unwrap().version, 2);
        let used = ResetUsed {
            link: "l2".into(),
            user: "u".into(),
            sessions_revoked: 1,
        };
        model.apply(&event(5, 2, 4, recovery::used(&context(), &used, 1)));
        let l2 = model.by_token("hash-l2").unwrap();
        assert!(l2.link.used);
        assert_eq!(l2.version, 2);

        // A day after they were made, links are let go.
        model.apply(&event(6, 1, 24 * 60 + 1, issue("l3", "w", 24 * 60 + 1)));
        assert!(model.by_token("hash-l1").is_none());
        assert!(model.by_token("hash-l2").is_none());
        assert_eq!(model.newest_of("u"), None);
        assert_eq!(model.newest_of("v"), Some("m1"));
        model.apply(&event(7, 1, 24 * 60 + 3, issue("l4", "w", 24 * 60 + 3)));
        assert_eq!(model.newest_of("v"), None);
        assert_eq!(model.newest_of("w"), Some("l4"));
    }

    #[test]
    fn requests_count_for_an_hour_per_address_and_client() {
        let mut model = PasswordResets::default();
        model.apply(&event(1, 1, 0, request("a", "net")));
        model.apply(&event(2, 2, 10, request("a", "net")));
        model.apply(&event(3, 1, 20, request("b", "net")));
        assert_eq!(model.address("a"), vec![at(0), at(10)]);
        assert_eq!(model.client("net").len(), 3);
        assert!(model.address("c").is_empty());
        model.apply(&event(4, 1, 65, request("c", "other")));
        assert_eq!(model.address("a"), vec![at(10)]);
        assert_eq!(model.client("net"), vec![at(10), at(20)]);
        model.apply(&event(5, 2, 81, request("c", "other")));
        assert!(model.address("a").is_empty());
        assert!(model.address("b").is_empty());
        assert!(model.client("net").is_empty());
        assert_eq!(model.address("c").len(), 2);
    }
}
