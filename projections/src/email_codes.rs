//! Sign-in codes sent by email (decision 0028), as the flow decides on
//! them: for each address (by its keyed hash), the codes of the last hour
//! with their tries, and for each client network the times it asked for
//! one. What is older than the limits' hour is let go as the log moves
//! on; only the address's subject version stays (the next code is decided
//! on it).

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use warden_core::Event;
use warden_core::auth::email_code::Issued;
use warden_core::commands::email::{
    CodeIssued, CodeRefused, CodeUsed, EMAIL_CODE_ISSUED, EMAIL_CODE_REFUSED, EMAIL_CODE_USED,
};
use warden_core::commands::{Prefix, payload, subject_id};

use crate::Projection;

/// How long a code and a client's request count: the limits' window. A
/// code's validity is at most this (`email_code_ttl_seconds`).
const WINDOW: TimeDelta = TimeDelta::hours(1);

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Address {
    /// The version of `email_address:<ref>`.
    version: u64,
    /// Oldest first.
    codes: Vec<Code>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Code {
    id: String,
    hash: String,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    attempts: u32,
    used: bool,
}

impl Code {
    fn issued(&self) -> Issued {
        Issued {
            id: self.id.clone(),
            hash: self.hash.clone(),
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            attempts: self.attempts,
            used: self.used,
        }
    }
}

/// What the flow decides on for one address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressCodes {
    pub version: u64,
    /// The codes of the last hour, oldest first.
    pub codes: Vec<Issued>,
}

impl AddressCodes {
    /// The code a presented one is checked against.
    pub fn newest(&self) -> Option<&Issued> {
        self.codes.last()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EmailCodes {
    /// Every address ever sent a code: its subject version, and its codes
    /// of the last hour.
    addresses: HashMap<String, Address>,
    /// Times each client network asked, within the last hour.
    clients: HashMap<String, VecDeque<DateTime<Utc>>>,
    /// Addresses and clients by the time of their last code: what to look
    /// at when letting old ones go.
    expiring: VecDeque<(DateTime<Utc>, Expiring)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Expiring {
    Address(String),
    Client(String),
}

impl EmailCodes {
    pub fn address(&self, address_ref: &str) -> AddressCodes {
        self.addresses
            .get(address_ref)
            .map(|address| AddressCodes {
                version: address.version,
                codes: address.codes.iter().map(Code::issued).collect(),
            })
            .unwrap_or_default()
    }

    /// When the client network asked for codes in the last hour (as of
    /// the log's newest event; the decision counts only the last hour).
    pub fn client(&self, client: &str) -> Vec<DateTime<Utc>> {
        self.clients
            .get(client)
            .map(|times| times.iter().copied().collect())
            .unwrap_or_default()
    }

    fn address_mut(&mut self, address_ref: &str, version: u64) -> &mut Address {
        let address = self.addresses.entry(address_ref.to_string()).or_default();
        address.version = version;
        address
    }

    fn code_mut(&mut self, address_ref: &str, version: u64, code: &str) -> Option<&mut Code> {
        self.address_mut(address_ref, version)
            .codes
            .iter_mut()
            .find(|candidate| candidate.id == code)
    }

    /// Lets go of codes and client times older than the window, as of
    /// `now` (the time of the event being applied).
    fn expire(&mut self, now: DateTime<Utc>) {
        while let Some((at, _)) = self.expiring.front()
            && now - *at >= WINDOW
        {
            let Some((_, which)) = self.expiring.pop_front() else {
                break;
            };
            match which {
                Expiring::Address(address_ref) => {
                    if let Some(address) = self.addresses.get_mut(&address_ref) {
                        address.codes.retain(|code| now - code.issued_at < WINDOW);
                    }
                }
                Expiring::Client(client) => {
                    if let Some(times) = self.clients.get_mut(&client) {
                        while times.front().is_some_and(|at| now - *at >= WINDOW) {
                            times.pop_front();
                        }
                        if times.is_empty() {
                            self.clients.remove(&client);
                        }
                    }
                }
            }
        }
    }
}

impl Projection for EmailCodes {
    const NAME: &'static str = warden_core::commands::catalogue::readers::EMAIL_CODES;
    const VERSION: u32 = 1;
    const NEW_KINDS_ONLY: bool = true;

    fn apply(&mut self, event: &Event) {
        let Some(address_ref) = subject_id(&event.subject, Prefix::EmailAddress) else {
            return;
        };
        self.expire(event.at);
        let version = event.subject_version;
        match event.kind.as_str() {
            EMAIL_CODE_ISSUED => {
                let Some(issued) = payload::<CodeIssued>(event) else {
                    return;
                };
                self.address_mut(address_ref, version).codes.push(Code {
                    id: issued.code,
                    hash: issued.hash,
                    issued_at: event.at,
                    expires_at: issued.expires_at,
                    attempts: 0,
                    used: false,
                });
                self.expiring
                    .push_back((event.at, Expiring::Address(address_ref.to_string())));
                if let Some(client) = issued.client {
                    self.clients.entry(client.clone()).or_default().push_back(event.at);
                    self.expiring.push_back((event.at, Expiring::Client(client)));
                }
            }
            EMAIL_CODE_REFUSED => {
                let Some(refused) = payload::<CodeRefused>(event) else {
                    return;
                };
                match refused.code {
                    Some(code) if refused.counted => {
                        if let Some(code) = self.code_mut(address_ref, version, &code) {
                            code.attempts = code.attempts.saturating_add(1);
                        }
                    }
                    _ => {
                        self.address_mut(address_ref, version);
                    }
                }
            }
            EMAIL_CODE_USED => {
                if let Some(used) = payload::<CodeUsed>(event)
                    && let Some(code) = self.code_mut(address_ref, version, &used.code)
                {
                    code.used = true;
                }
            }
            _ => {
                self.address_mut(address_ref, version);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use warden_core::commands::Context;
    use warden_core::commands::email::{self, CodeRefusal};
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

    fn issue(code: &str, address: &str, client: &str) -> NewEvent {
        email::code_issued(
            &context(),
            &CodeIssued {
                code: code.into(),
                address_ref: address.into(),
                hash: format!("hash-{code}"),
                expires_at: at(10),
                client: Some(client.into()),
                user: None,
                org: None,
                message: None,
            },
        )
    }

    #[test]
    fn codes_count_their_tries_and_use_and_leave_after_an_hour() {
        let mut model = EmailCodes::default();
        model.apply(&event(1, 1, 0, issue("c1", "a", "net")));
        model.apply(&event(2, 1, 0, issue("x1", "b", "net")));
        let refused = |code: Option<&str>, counted| {
            email::code_refused(
                &context(),
                &CodeRefused {
                    code: code.map(str::to_string),
                    address_ref: "a".into(),
                    reason: if counted {
                        CodeRefusal::Wrong
                    } else {
                        CodeRefusal::Expired
                    },
                    counted,
                },
                0,
            )
        };
        model.apply(&event(3, 2, 1, refused(Some("c1"), true)));
        model.apply(&event(4, 3, 2, refused(Some("c1"), false)));
        let a = model.address("a");
        assert_eq!((a.version, a.codes.len()), (3, 1));
        assert_eq!(a.newest().map(|code| (code.attempts, code.used)), Some((1, false)));
        model.apply(&event(5, 4, 3, issue("c2", "a", "net")));
        let used = email::code_used(
            &context(),
            &CodeUsed {
                code: "c2".into(),
                address_ref: "a".into(),
                user: "u".into(),
                session: "s".into(),
            },
            0,
        );
        model.apply(&event(6, 5, 4, used));
        let a = model.address("a");
        assert_eq!(a.newest().map(|code| (code.id.as_str(), code.used)), Some(("c2", true)));
        assert_eq!(model.client("net").len(), 3);
        assert_eq!(model.address("unknown"), AddressCodes::default());

        // An hour after the first codes, only the later ones count; the
        // version stays.
        model.apply(&event(7, 1, 61, issue("y1", "c", "other")));
        let a = model.address("a");
        assert_eq!(a.version, 5);
        assert_eq!(a.codes.iter().map(|code| code.id.as_str()).collect::<Vec<_>>(), ["c2"]);
        assert!(model.address("b").codes.is_empty());
        assert_eq!(model.client("net"), vec![at(3)]);
        model.apply(&event(8, 2, 64, issue("y2", "c", "other")));
        assert!(model.client("net").is_empty());
        assert!(model.address("a").codes.is_empty());
        assert_eq!(model.address("a").version, 5);
    }
}
