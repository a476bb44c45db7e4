//! Address changes waiting for their verification (decision 0028): each
//! change's link (by its token's hash, with its version and use, each
//! user's newest) and the new address. Let go two days after they were
//! asked for (the link is valid one).

use std::collections::HashMap;

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use warden_core::Event;
use warden_core::auth::email_change::Pending;
use warden_core::commands::email_change::{
    ChangeRequested, ChangeVerified, EMAIL_CHANGE_REQUESTED, EMAIL_CHANGE_VERIFIED,
};
use warden_core::commands::{Prefix, payload, subject_id};

use crate::Projection;
use crate::links::{Issued, Links};

/// How long a change is kept after it was asked for.
const KEPT: TimeDelta = TimeDelta::days(2);

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EmailChanges {
    links: Links,
    /// The new address of each change.
    emails: HashMap<String, String>,
}

impl EmailChanges {
    /// The change whose link's token hashes to `token_hash`, and the
    /// version of its subject.
    pub fn by_token(&self, token_hash: &str) -> Option<(Pending, u64)> {
        let found = self.links.by_token(token_hash)?;
        let email = self.emails.get(&found.link.id)?.clone();
        Some((
            Pending {
                link: found.link,
                email,
            },
            found.version,
        ))
    }

    /// The id of `user`'s newest change, the only one that verifies.
    pub fn newest_of(&self, user: &str) -> Option<&str> {
        self.links.newest_of(user)
    }

    /// The address `user` asked to move to, while their newest change
    /// waits for its verification.
    pub fn waiting(&self, user: &str) -> Option<&str> {
        let id = self.links.newest_of(user)?;
        if self.links.by_token_of(id)?.link.used {
            return None;
        }
        self.emails.get(id).map(String::as_str)
    }
}

impl Projection for EmailChanges {
    const NAME: &'static str = warden_core::commands::catalogue::readers::EMAIL_CHANGES;
    const VERSION: u32 = 1;
    const NEW_KINDS_ONLY: bool = true;

    fn apply(&mut self, event: &Event) {
        for gone in self.links.expire(event.at, KEPT) {
            self.emails.remove(&gone);
        }
        let Some(change) = subject_id(&event.subject, Prefix::EmailChange) else {
            return;
        };
        match event.kind.as_str() {
            EMAIL_CHANGE_REQUESTED => {
                if let Some(requested) = payload::<ChangeRequested>(event) {
                    self.links.issued(Issued {
                        id: change,
                        user: &requested.user,
                        token_hash: &requested.token_hash,
                        at: event.at,
                        expires_at: requested.expires_at,
                        version: event.subject_version,
                    });
                    self.emails.insert(change.to_string(), requested.email);
                }
            }
            EMAIL_CHANGE_VERIFIED => {
                if payload::<ChangeVerified>(event).is_some() {
                    self.links.used(change, event.subject_version);
                }
            }
            _ => self.links.moved(change, event.subject_version),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use warden_core::auth::recovery::Refused;
    use warden_core::commands::Context;
    use warden_core::commands::email_change::{self as events, ChangeRefused};
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

    fn request(change: &str, user: &str, email: &str, minutes: i64) -> NewEvent {
        events::requested(
            &context(),
            &ChangeRequested {
                change: change.into(),
                user: user.into(),
                org: "o".into(),
                email: email.into(),
                token_hash: format!("hash-{change}"),
                expires_at: at(minutes + 24 * 60),
                message: "m".into(),
            },
        )
    }

    #[test]
    fn changes_wait_for_their_link_once_and_are_let_go_after_two_days() {
        let mut model = EmailChanges::default();
        model.apply(&event(1, 1, 0, request("c1", "u", "a@new.test", 0)));
        model.apply(&event(2, 1, 1, request("c2", "u", "b@new.test", 1)));
        assert_eq!(model.newest_of("u"), Some("c2"));
        assert_eq!(model.waiting("u"), Some("b@new.test"));
        let (pending, version) = model.by_token("hash-c1").unwrap();
        assert_eq!(
            (pending.email.as_str(), pending.link.user.as_str(), version),
            ("a@new.test", "u", 1)
        );
        let refused = ChangeRefused {
            change: "c1".into(),
            user: "u".into(),
            reason: Refused::Replaced,
        };
        model.apply(&event(3, 2, 2, events::refused(&context(), &refused)));
        assert_eq!(model.by_token("hash-c1").unwrap().1, 2);
        let verified = ChangeVerified {
            change: "c2".into(),
            user: "u".into(),
        };
        model.apply(&event(4, 2, 3, events::verified(&context(), &verified, 1)));
        assert!(model.by_token("hash-c2").unwrap().0.link.used);
        assert_eq!(model.waiting("u"), None);
        model.apply(&event(
            5,
            1,
            2 * 24 * 60 + 2,
            request("d1", "v", "c@new.test", 2 * 24 * 60 + 2),
        ));
        assert!(model.by_token("hash-c1").is_none());
        assert!(model.by_token("hash-c2").is_none());
        assert_eq!(model.waiting("v"), Some("c@new.test"));
    }
}
