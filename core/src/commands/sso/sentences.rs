//! The sentences of the single sign-on connections' kinds
//! (`commands::sentence`).

use super::*;
use crate::commands::sentence::{Sentence, Summarize, listed};
use crate::event::Event;

/// `the single sign-on connection "Acme Okta"`.
fn named(sentence: Sentence, name: &str) -> Sentence {
    sentence
        .words("the single sign-on connection \"")
        .value(name)
        .words("\"")
}

/// ` for acme.test and acme.example`, or nothing.
fn for_domains(sentence: Sentence, domains: &[String]) -> Sentence {
    if domains.is_empty() {
        return sentence;
    }
    listed(sentence.words(" for "), domains, |sentence, domain| {
        sentence.value(domain.as_str())
    })
}

impl Summarize for ConnectionCreated {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let settings = &self.settings;
        let sentence = named(Sentence::by(event).words(" added "), &settings.name)
            .words(" (")
            .words(settings.preset.title())
            .words(", issuer ")
            .value(settings.upstream.issuer())
            .words(")");
        Some(for_domains(sentence, &settings.domains))
    }
}

impl Summarize for ConnectionChanged {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let settings = &self.settings;
        let mut sentence = named(Sentence::by(event).words(" changed "), &settings.name)
            .words(" (issuer ")
            .value(settings.upstream.issuer())
            .words(")");
        if self.client_secret.is_some() {
            sentence = sentence.words(", with a new client secret");
        }
        if !self.unacknowledged.is_empty() {
            let count = self.unacknowledged.len();
            sentence = listed(sentence.words("; "), &self.unacknowledged, |sentence, domain| {
                sentence.value(domain.as_str())
            })
            .words(if count == 1 { " is" } else { " are" })
            .words(" no longer acknowledged");
        }
        Some(sentence)
    }
}

impl Summarize for DomainAcknowledged {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event)
            .words(" acknowledged that the people at ")
            .value(self.domain.as_str())
            .words(" sign in with ");
        Some(named(sentence, &self.name))
    }
}

impl Summarize for ConnectionRef {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let verb = match event.kind.as_str() {
            SSO_CONNECTION_ENABLED => " enabled ",
            SSO_CONNECTION_DISABLED => " disabled ",
            SSO_CONNECTION_REMOVED => " removed ",
            _ => return None,
        };
        Some(named(Sentence::by(event).words(verb), &self.name))
    }
}
