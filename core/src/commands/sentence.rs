//! The readable sentence of an event: the one line a person reads in the
//! console, in the `summary` column of a CSV export, and in an alert's
//! email and webhook ("mia@example.org signed in with a password and an
//! authenticator app from 203.0.113.7, Firefox on Linux").
//!
//! Each payload type says the sentences of its kinds ([`Summarize`]),
//! beside the type; the catalogue requires it of every kind's type, and
//! `core/tests/event_sentences.rs` holds every kind's golden fixture to a
//! sentence of its own, so a new kind without one fails a test.
//!
//! A sentence is words, values from the event, and references to what
//! Warden keeps a page for (users, sessions, keys, alert rules, alerts,
//! secrets, webhook endpoints, events). The reader resolves references to
//! names (and, in the console, links), so a sentence holds no name that
//! may have changed since and no markup: its words are Warden's, its
//! values are shown as text.

use std::borrow::Cow;

use chrono::{DateTime, Timelike, Utc};

use crate::auth::device::Device;
use crate::commands::app_event::{Attribution, attribution};
use crate::event::{ActorKind, Event};

/// Something a sentence names that Warden keeps a page for, by its id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Ref {
    User(String),
    Session(String),
    ApiKey(String),
    AlertRule(String),
    Alert(String),
    /// A secret of the vault, by its name.
    Secret(String),
    WebhookEndpoint(String),
    Org(String),
    Event(u64),
}

impl Ref {
    /// The id as the event writes it.
    pub fn id(&self) -> Cow<'_, str> {
        match self {
            Ref::User(id)
            | Ref::Session(id)
            | Ref::ApiKey(id)
            | Ref::AlertRule(id)
            | Ref::Alert(id)
            | Ref::Secret(id)
            | Ref::WebhookEndpoint(id)
            | Ref::Org(id) => Cow::Borrowed(id),
            Ref::Event(seq) => Cow::Owned(seq.to_string()),
        }
    }

    /// How the reference reads when the reader knows no name for it
    /// (`user u-7`, `session 01a23b2a…`, `event 42`).
    pub fn fallback(&self) -> String {
        let (what, id) = match self {
            Ref::User(id) => ("user", id.as_str()),
            Ref::Session(id) => ("session", id.as_str()),
            Ref::ApiKey(id) => ("API key", id.as_str()),
            Ref::AlertRule(id) => ("alert rule", id.as_str()),
            Ref::Alert(id) => ("alert", id.as_str()),
            Ref::Secret(name) => return format!("secret \"{name}\""),
            Ref::WebhookEndpoint(id) => ("webhook endpoint", id.as_str()),
            Ref::Org(id) => ("org", id.as_str()),
            Ref::Event(seq) => return format!("event {seq}"),
        };
        format!("{what} {}", short(id))
    }
}

/// A long id (a UUID, a hash) cut to its first 8 characters and `…`: the
/// whole id is one hover away in the console.
fn short(id: &str) -> Cow<'_, str> {
    match id.char_indices().nth(12) {
        Some(_) => Cow::Owned(format!("{}…", id.chars().take(8).collect::<String>())),
        None => Cow::Borrowed(id),
    }
}

/// One piece of a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Warden's words.
    Words(Cow<'static, str>),
    /// A value from the event (an address, a role, a name), shown as
    /// written.
    Value(String),
    /// Something with a page, shown by its name.
    Ref(Ref),
}

/// A readable sentence, built part by part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sentence {
    parts: Vec<Part>,
}

impl Sentence {
    pub fn new() -> Self {
        Self::default()
    }

    /// A sentence that begins with who did `event`: a user, an API key,
    /// a vendor acting for a user, a service, Warden itself, or "Someone"
    /// (an anonymous caller).
    pub fn by(event: &Event) -> Self {
        let actor = &event.actor;
        let sentence = Self::new();
        match (actor.kind, actor.id.as_deref()) {
            (ActorKind::User, Some(id)) => sentence.user(id),
            (ActorKind::ApiKey, Some(id)) => sentence.refer(Ref::ApiKey(id.into())),
            (ActorKind::Vendor, Some(id)) => {
                let sentence = sentence.refer(Ref::ApiKey(id.into()));
                match actor.on_behalf_of.as_deref() {
                    Some(user) => sentence.words(" (a vendor, for ").user(user).words(")"),
                    None => sentence.words(" (a vendor)"),
                }
            }
            (ActorKind::Service, Some(id)) => sentence.words("service ").value(id),
            (ActorKind::System, _) => sentence.words("Warden"),
            (ActorKind::Anonymous, _) => sentence.words("Someone"),
            (kind, None) => sentence.words("a ").words(kind.as_str()).words(" with no id"),
        }
    }

    /// The sentence of an event whose payload type says nothing of it (an
    /// application's `app.*` event, or one Warden no longer reads): who
    /// recorded which kind about which subject.
    pub fn generic(event: &Event) -> Self {
        let sentence = match attribution(event) {
            Attribution::Warden => Self::by(event),
            Attribution::Application { token, on_behalf_of } => {
                let sentence = Self::new().words("The application (token ").value(token).words(")");
                match on_behalf_of {
                    Some(user) => sentence.words(", for ").user(user).words(" (its word),"),
                    None => sentence,
                }
            }
            Attribution::ApplicationLegacy => Self::by(event).words(" (the application's word)"),
        };
        sentence
            .words(" recorded ")
            .value(event.kind.as_str())
            .words(" about ")
            .value(event.subject.as_str())
    }

    pub fn words(mut self, words: impl Into<Cow<'static, str>>) -> Self {
        self.parts.push(Part::Words(words.into()));
        self
    }

    pub fn value(mut self, value: impl Into<String>) -> Self {
        self.parts.push(Part::Value(value.into()));
        self
    }

    pub fn refer(mut self, reference: Ref) -> Self {
        self.parts.push(Part::Ref(reference));
        self
    }

    pub fn user(self, id: &str) -> Self {
        self.refer(Ref::User(id.into()))
    }

    /// ` from old to new`.
    pub fn from_to(self, old: impl Into<String>, new: impl Into<String>) -> Self {
        self.words(" from ").value(old).words(" to ").value(new)
    }

    /// `n thing` or `n things`.
    pub fn count(self, n: u64, one: &'static str, many: &'static str) -> Self {
        self.words(format!("{n} {}", if n == 1 { one } else { many }))
    }

    /// ` from 203.0.113.7, Firefox on Linux`: where the actor was, as far
    /// as the request said.
    pub fn from_where(self, event: &Event) -> Self {
        let device = event
            .actor
            .user_agent
            .as_deref()
            .filter(|agent| !agent.is_empty())
            .map(Device::from_user_agent)
            .map(|device| format!("{} on {}", device.browser_family(), device.os));
        match (event.actor.ip.as_deref(), device) {
            (Some(ip), Some(device)) => self.words(" from ").value(ip).words(", ").value(device),
            (Some(ip), None) => self.words(" from ").value(ip),
            (None, Some(device)) => self.words(" on ").value(device),
            (None, None) => self,
        }
    }

    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The sentence as plain text, references by the names `name` knows
    /// (their [`Ref::fallback`] otherwise).
    pub fn plain(&self, name: &dyn Fn(&Ref) -> Option<String>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Words(words) => out.push_str(words),
                Part::Value(value) => out.push_str(value),
                Part::Ref(reference) => out.push_str(&name(reference).unwrap_or_else(|| reference.fallback())),
            }
        }
        out
    }
}

/// Whether the user `user` did `event` themselves ("changed their
/// password" rather than "changed the password of …").
pub fn by_themselves(event: &Event, user: &str) -> bool {
    event.actor.kind == ActorKind::User && event.actor.id.as_deref() == Some(user)
}

/// How a sign-in method or second factor reads in a sentence ("a
/// password", "an authenticator app"); `None` for one Warden has no words
/// for (shown as written).
pub fn method_words(method: &str) -> Option<&'static str> {
    match method {
        "password" => Some("a password"),
        "totp" => Some("an authenticator app"),
        "passkey" => Some("a passkey"),
        "backup_code" => Some("a backup code"),
        "email_code" => Some("a code sent by email"),
        "oidc" => Some("single sign-on (OpenID Connect)"),
        "saml" => Some("single sign-on (SAML)"),
        "ldap" => Some("an LDAP password"),
        _ => None,
    }
}

/// `methods` in words: "a password", "a password and an authenticator
/// app", "a, b or c" (`last` is " and " or " or ").
pub fn methods_in_words<'a>(
    sentence: Sentence,
    methods: impl ExactSizeIterator<Item = &'a str>,
    last: &'static str,
) -> Sentence {
    let count = methods.len();
    methods.enumerate().fold(sentence, |sentence, (index, method)| {
        let sentence = match index {
            0 => sentence,
            _ if index + 1 == count => sentence.words(last),
            _ => sentence.words(", "),
        };
        match method_words(method) {
            Some(words) => sentence.words(words),
            None => sentence.value(method),
        }
    })
}

/// `sentence` followed by `more`.
pub fn joined(sentence: Sentence, more: Sentence) -> Sentence {
    more.parts.into_iter().fold(sentence, |mut sentence, part| {
        sentence.parts.push(part);
        sentence
    })
}

/// `a`, `a and b`, `a, b and c`: each item added by `add`.
pub fn listed<T>(
    sentence: Sentence,
    items: impl IntoIterator<Item = T>,
    add: impl Fn(Sentence, T) -> Sentence,
) -> Sentence {
    let items: Vec<T> = items.into_iter().collect();
    let count = items.len();
    let mut sentence = sentence;
    for (index, item) in items.into_iter().enumerate() {
        if index > 0 {
            sentence = sentence.words(if index + 1 == count { " and " } else { ", " });
        }
        sentence = add(sentence, item);
    }
    sentence
}

/// `2026-11-28 04:33:02 UTC` (without the seconds when they are 0): a
/// time a sentence names, in UTC like the log (the console shows the
/// event's own time in the reader's zone beside it).
pub fn readable_time(at: &DateTime<Utc>) -> String {
    if at.second() == 0 {
        at.format("%Y-%m-%d %H:%M UTC").to_string()
    } else {
        at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
    }
}

/// [`readable_time`] of a time written as the log writes it (as it is
/// when it is not).
pub fn readable_time_text(at: &str) -> String {
    match DateTime::parse_from_rfc3339(at) {
        Ok(at) => readable_time(&at.with_timezone(&Utc)),
        Err(_) => at.to_string(),
    }
}

/// A run of 32 or more hex digits: a hash or a key, never for people
/// (`core/tests/event_sentences.rs` refuses a sentence with one).
pub fn has_long_hex(text: &str) -> bool {
    let mut run = 0;
    text.chars().any(|character| {
        run = if character.is_ascii_hexdigit() { run + 1 } else { 0 };
        run >= 32
    })
}

/// What a payload type says of the events it is the `data` of.
pub trait Summarize {
    /// The sentence of `event`, whose `data` decoded as `self`; `None`
    /// for a kind the type has no sentence for (a kind newly given this
    /// type: `core/tests/event_sentences.rs` fails on it).
    fn summarize(&self, event: &Event) -> Option<Sentence>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Actor, NewEvent};

    fn event(actor: Actor) -> Event {
        Event::unsealed(
            3,
            crate::event::now_micros(),
            NewEvent::new("app.invoice.paid", "invoice:42", actor),
        )
    }

    fn plain(sentence: &Sentence) -> String {
        sentence.plain(&|reference| match reference {
            Ref::User(id) if id == "u-1" => Some("mia@example.org".into()),
            _ => None,
        })
    }

    #[test]
    fn actors_read_as_people() {
        let mut user = Actor::of_kind(ActorKind::User);
        user.id = Some("u-1".into());
        user.ip = Some("203.0.113.7".into());
        user.user_agent = Some("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0".into());
        let said = Sentence::by(&event(user.clone()))
            .words(" signed in")
            .from_where(&event(user));
        assert_eq!(
            plain(&said),
            "mia@example.org signed in from 203.0.113.7, Firefox on Linux"
        );

        let cases = [
            (ActorKind::System, None, "Warden"),
            (ActorKind::Anonymous, None, "Someone"),
            (ActorKind::User, Some("u-2"), "user u-2"),
            (ActorKind::ApiKey, Some("k-1"), "API key k-1"),
            (ActorKind::Service, Some("cron"), "service cron"),
            (ActorKind::User, None, "a user with no id"),
        ];
        for (kind, id, expected) in cases {
            let mut actor = Actor::of_kind(kind);
            actor.id = id.map(str::to_string);
            assert_eq!(plain(&Sentence::by(&event(actor))), expected, "{kind:?}");
        }
        let mut vendor = Actor::of_kind(ActorKind::Vendor);
        vendor.id = Some("k-9".into());
        vendor.on_behalf_of = Some("u-1".into());
        assert_eq!(
            plain(&Sentence::by(&event(vendor))),
            "API key k-9 (a vendor, for mia@example.org)"
        );
    }

    #[test]
    fn an_application_event_says_whose_word_it_is() {
        let mut service = Actor::of_kind(ActorKind::Service);
        service.id = Some("app:billing".into());
        service.on_behalf_of = Some("u-1".into());
        assert_eq!(
            plain(&Sentence::generic(&event(service))),
            "The application (token billing), for mia@example.org (its word), recorded app.invoice.paid about invoice:42"
        );
    }

    #[test]
    fn long_ids_are_shortened_and_counts_agree() {
        let session = Ref::Session("01a23b2a-7c1d-4e5f-8a9b-0c1d2e3f4a5b".into());
        assert_eq!(session.fallback(), "session 01a23b2a…");
        assert_eq!(session.id(), "01a23b2a-7c1d-4e5f-8a9b-0c1d2e3f4a5b");
        assert_eq!(Ref::Secret("db/password".into()).fallback(), "secret \"db/password\"");
        let counted = Sentence::new()
            .count(1, "code", "codes")
            .words(", ")
            .count(10, "code", "codes");
        assert_eq!(plain(&counted), "1 code, 10 codes");
    }
}
