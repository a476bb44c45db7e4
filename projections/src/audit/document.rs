//! What the audit index records of one event: the envelope's searchable
//! fields, the org the event belongs to, and the words of its `data`
//! (never a sealed field or a hash).

use std::collections::HashMap;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use warden_core::commands::{Prefix, subject_id};
use warden_core::{ActorKind, Event, Outcome};

/// Subject prefixes whose id is a user id.
const USER_SUBJECTS: [Prefix; 4] = [Prefix::User, Prefix::Mfa, Prefix::MfaAttempts, Prefix::Devices];

/// Who a user is, as far as the audit trail needs: their org (which never
/// changes) and the email they were created with, shown beside their id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub org: String,
    pub email: String,
}

/// Every user the log has created, by id. Built from `user.created`
/// events; kept when a user is removed, so that their old events stay in
/// their org's trail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    pub people: HashMap<String, Person>,
}

impl Directory {
    /// Learns from an event; true when the directory changed.
    pub fn learn(&mut self, event: &Event) -> bool {
        if event.kind != "user.created" {
            return false;
        }
        let (Some(id), Some(org), Some(email)) = (
            subject_id(&event.subject, Prefix::User),
            event.data.get("org").and_then(Value::as_str),
            event.data.get("email").and_then(Value::as_str),
        ) else {
            return false;
        };
        let person = Person {
            org: org.to_string(),
            email: email.to_string(),
        };
        self.people.insert(id.to_string(), person);
        true
    }
}

/// The account an event is about: `data.user`, the id of a user's
/// subject, or the user the actor acts for (a vendor's, or the one an
/// application names: its word, marked as such where it is shown).
fn account_of(event: &Event) -> Option<String> {
    event
        .data
        .get("user")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            USER_SUBJECTS
                .iter()
                .find_map(|prefix| subject_id(&event.subject, *prefix))
                .map(str::to_string)
        })
        .or_else(|| event.actor.on_behalf_of.clone())
}

/// The org whose trail holds an event: the actor's org, else `data.org`,
/// else the org of the account it is about, else an `org:` subject's.
/// `directory` must have learnt every event up to this one.
pub fn org_of(event: &Event, directory: &Directory) -> Option<String> {
    event
        .actor
        .org
        .clone()
        .or_else(|| event.data.get("org").and_then(Value::as_str).map(str::to_string))
        .or_else(|| {
            account_of(event)
                .and_then(|user| directory.people.get(&user))
                .map(|person| person.org.clone())
        })
        .or_else(|| subject_id(&event.subject, Prefix::Org).map(str::to_string))
}

/// One event as the audit index sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditDoc {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub actor_kind: ActorKind,
    pub actor_id: Option<String>,
    /// The actor's email when the actor is a known user.
    pub actor_display: Option<String>,
    /// The org whose trail holds the event; `None` for events of the
    /// instance itself (signing keys, setup links, unknown accounts).
    pub org: Option<String>,
    pub subject: String,
    /// The account the event is about.
    pub user: Option<String>,
    pub session: Option<String>,
    pub outcome: Outcome,
    pub ip: Option<IpAddr>,
    pub request_id: String,
    /// The ticket a vendor acted under (`actor.ticket`).
    pub ticket: Option<String>,
    /// The words of `data`: every string value, except sealed fields and
    /// hashes (see [`indexed_strings`]).
    pub text: Vec<String>,
}

impl AuditDoc {
    /// The event's audit record; `directory` must have learnt every event
    /// before it (and this one).
    pub fn of(event: &Event, directory: &Directory) -> AuditDoc {
        let data_str = |key: &str| event.data.get(key).and_then(Value::as_str).map(str::to_string);
        let user = account_of(event);
        let person = |id: &str| directory.people.get(id);
        let org = org_of(event, directory);
        let actor_display = match (event.actor.kind, event.actor.id.as_deref()) {
            (ActorKind::User, Some(id)) => person(id).map(|person| person.email.clone()),
            _ => None,
        };
        let session = data_str("session").or_else(|| subject_id(&event.subject, Prefix::Session).map(str::to_string));
        let ip = event
            .actor
            .ip
            .as_deref()
            .or_else(|| event.data.get("ip").and_then(Value::as_str))
            .and_then(|text| text.parse::<IpAddr>().ok());
        let mut text = Vec::new();
        indexed_strings(&event.data, &mut text);
        AuditDoc {
            seq: event.seq,
            at: event.at,
            kind: event.kind.clone(),
            actor_kind: event.actor.kind,
            actor_id: event.actor.id.clone(),
            actor_display,
            org,
            subject: event.subject.clone(),
            user,
            session,
            outcome: event.outcome,
            ip,
            request_id: event.request_id.clone(),
            ticket: event.actor.ticket.clone(),
            text,
        }
    }

    /// `a`, `a.b`, `a.b.c` for kind `a.b.c`: what a `a.b.*` filter finds.
    pub fn kind_prefixes(&self) -> impl Iterator<Item = &str> {
        self.kind
            .match_indices('.')
            .map(|(at, _)| &self.kind[..at])
            .chain(std::iter::once(self.kind.as_str()))
    }
}

/// Whether a `data` member is left out of the text: a hash says nothing a
/// person searches for, and a stored credential is not for searching.
pub fn is_unindexed_key(key: &str) -> bool {
    key == "hash" || key == "hashes" || key.ends_with("_hash") || key == "passkey"
}

/// A sealed field: `{"sealed": "v1", …}`, ciphertext only.
pub fn is_sealed(value: &Value) -> bool {
    value.as_object().is_some_and(|object| object.contains_key("sealed"))
}

/// Collects the string values of `data`, depth first, skipping sealed
/// fields and the members [`is_unindexed_key`] names.
pub fn indexed_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) => out.push(text.clone()),
        Value::Array(items) => items.iter().for_each(|item| indexed_strings(item, out)),
        Value::Object(members) if !is_sealed(value) => {
            for (key, member) in members {
                if !is_unindexed_key(key) {
                    indexed_strings(member, out);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use warden_core::Actor;
    use warden_core::chain::{Digest, Signature};

    use super::*;

    fn event(kind: &str, subject: &str, actor: Actor, data: Value) -> Event {
        Event {
            seq: 7,
            id: uuid::Uuid::nil(),
            at: DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default(),
            kind: kind.into(),
            subject: subject.into(),
            subject_version: 1,
            actor,
            request_id: "r-1".into(),
            outcome: Outcome::Failure,
            data,
            prev: Digest::ZERO,
            hash: Digest::ZERO,
            key_id: "ed25519-0000000000000000".into(),
            sig: Signature::from_slice(&[0; 64]).unwrap(),
        }
    }

    fn directory() -> Directory {
        let mut directory = Directory::default();
        let created = event(
            "user.created",
            "user:u1",
            Actor::system(),
            json!({"org": "o1", "email": "alice@example.org"}),
        );
        assert!(directory.learn(&created));
        directory
    }

    #[test]
    fn an_anonymous_failure_on_a_known_account_belongs_to_its_org() {
        let failed = event(
            "login.failed",
            "login:alice@example.org",
            Actor::of_kind(ActorKind::Anonymous),
            json!({"user": "u1", "reason": "wrong_password", "identifier": "alice@example.org"}),
        );
        let doc = AuditDoc::of(&failed, &directory());
        assert_eq!(doc.org.as_deref(), Some("o1"));
        assert_eq!(doc.user.as_deref(), Some("u1"));
        assert_eq!(doc.actor_display, None);
    }

    #[test]
    fn an_unknown_account_belongs_to_no_org() {
        let failed = event(
            "login.failed",
            "login:nobody@example.org",
            Actor::of_kind(ActorKind::Anonymous),
            json!({"reason": "unknown_account"}),
        );
        assert_eq!(AuditDoc::of(&failed, &directory()).org, None);
    }

    #[test]
    fn the_actor_org_comes_first_and_users_are_shown_by_email() {
        let mut actor = Actor::of_kind(ActorKind::User);
        actor.id = Some("u1".into());
        actor.org = Some("o1".into());
        actor.ip = Some("2001:db8::1".into());
        let removed = event("mfa.totp.removed", "mfa:u1", actor, json!({"enrolment": "e1"}));
        let doc = AuditDoc::of(&removed, &directory());
        assert_eq!(doc.org.as_deref(), Some("o1"));
        assert_eq!(doc.actor_display.as_deref(), Some("alice@example.org"));
        assert_eq!(doc.user.as_deref(), Some("u1"));
        assert_eq!(doc.ip, "2001:db8::1".parse().ok());
    }

    #[test]
    fn sealed_fields_and_hashes_are_not_text() {
        let data = json!({
            "user": "u1",
            "secret": {"sealed": "v1", "subject": "user:u1", "ciphertext": "c2VjcmV0"},
            "token_hash": "abc123",
            "hashes": ["h1"],
            "device": {"browser": "Firefox", "os": "Linux"},
            "names": ["laptop key"],
            "count": 3,
        });
        let mut words = Vec::new();
        indexed_strings(&data, &mut words);
        words.sort();
        assert_eq!(words, ["Firefox", "Linux", "laptop key", "u1"]);
    }

    #[test]
    fn kind_prefixes_go_from_the_first_word_to_the_whole_kind() {
        let doc = AuditDoc::of(
            &event("mfa.totp.enrolled", "mfa:u1", Actor::system(), json!({})),
            &directory(),
        );
        assert_eq!(
            doc.kind_prefixes().collect::<Vec<_>>(),
            ["mfa", "mfa.totp", "mfa.totp.enrolled"]
        );
    }
}
