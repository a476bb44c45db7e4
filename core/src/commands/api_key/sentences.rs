//! The sentences of the API keys' kinds (`commands::sentence`).

use super::*;
use crate::commands::sentence::{Ref, Sentence, Summarize, listed, readable_time};
use crate::event::Event;

impl Summarize for KeyCreated {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let kind = match self.kind {
            KeyKind::App => ", an application key",
            KeyKind::Service => ", a key for Warden's API",
            KeyKind::Vendor => ", a vendor key",
        };
        let sentence = Sentence::by(event)
            .words(" created ")
            .refer(Ref::ApiKey(self.key.clone()))
            .words(kind)
            .words(" of ");
        let sentence = match &self.owner {
            Owner::User { id } => sentence.user(id),
            Owner::Service { name } => sentence.words("service ").value(name.as_str()),
        };
        let sentence = scopes(sentence.words(", with "), &self.settings.scopes);
        Some(match &self.settings.expires_at {
            Some(at) => sentence.words(", expiring ").value(readable_time(at)),
            None => sentence,
        })
    }
}

impl Summarize for KeyChanged {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event)
            .words(" changed ")
            .refer(Ref::ApiKey(self.key.clone()));
        if self.changed.is_empty() {
            return Some(sentence);
        }
        let settings = &self.settings;
        let sentence = listed(sentence.words(": "), &self.changed, |sentence, setting| {
            match setting.as_str() {
                "name" => sentence.words("name now \"").value(settings.name.as_str()).words("\""),
                "scopes" if settings.scopes.is_empty() => sentence.words("no scopes now"),
                "scopes" => listed(sentence.words("scopes now "), &settings.scopes, |sentence, scope| {
                    sentence.value(scope.as_str())
                }),
                "expires_at" => match &settings.expires_at {
                    Some(at) => sentence.words("expiring ").value(readable_time(at)),
                    None => sentence.words("no longer expiring"),
                },
                "allowed_networks" => sentence.words("the networks it may be used from"),
                "limits" => sentence.words("rate limits"),
                "remaining_uses" => match settings.remaining_uses {
                    Some(uses) => sentence.count(uses, "use", "uses").words(" left"),
                    None => sentence.words("no limit of uses"),
                },
                "ticket_pattern" => sentence.words("the ticket pattern"),
                other => sentence.value(other),
            }
        });
        Some(sentence)
    }
}

impl Summarize for KeyRotated {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        Some(
            Sentence::by(event)
                .words(" gave ")
                .refer(Ref::ApiKey(self.key.clone()))
                .words(" a new secret; the previous one works until ")
                .value(readable_time(&self.previous_valid_until)),
        )
    }
}

impl Summarize for KeyRevoked {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event)
            .words(" revoked ")
            .refer(Ref::ApiKey(self.key.clone()));
        Some(match self.reason.trim() {
            "" => sentence,
            reason => sentence.words(" (reason: ").value(reason).words(")"),
        })
    }
}

impl Summarize for KeyUsed {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let total: u64 = self.counts.values().sum();
        let sentence = Sentence::by(event)
            .words(" counted ")
            .count(total, "request", "requests")
            .words(" with ")
            .refer(Ref::ApiKey(self.key.clone()))
            .words(" in the minute from ")
            .value(readable_time(&self.minute))
            .words(" (");
        let sentence = listed(sentence, &self.counts, |sentence, (outcome, n)| {
            sentence.words(format!("{n} ")).words(outcome_words(*outcome))
        });
        let addresses = self.addresses.len() as u64;
        let sentence = match (addresses, self.more_addresses) {
            (0, _) => sentence.words(")"),
            (_, false) => sentence.words(") from ").count(addresses, "address", "addresses"),
            (_, true) => sentence
                .words(") from more than ")
                .count(addresses, "address", "addresses"),
        };
        if self.new_networks.is_empty() {
            return Some(sentence);
        }
        let sentence = sentence.words(match self.new_networks.len() {
            1 => ", including the new network ",
            _ => ", including the new networks ",
        });
        Some(listed(sentence, &self.new_networks, |sentence, network| {
            sentence.value(network.as_str())
        }))
    }
}

impl Summarize for KeyRefused {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event).words(" was refused with ");
        let sentence = match &self.key {
            Some(key) => sentence.refer(Ref::ApiKey(key.clone())),
            None => sentence.words("text that is not an API key"),
        };
        let sentence = sentence.from_where(event).words(": ");
        let sentence = match self.outcome {
            VerifyOutcome::InsufficientScope if !self.scopes.is_empty() => {
                let sentence = sentence.words(match self.scopes.len() {
                    1 => "it lacks the scope ",
                    _ => "it lacks one of the scopes ",
                });
                listed(sentence, &self.scopes, |sentence, scope| sentence.value(scope.as_str()))
            }
            outcome => sentence.words(refusal_words(outcome)),
        };
        Some(match self.unrecorded_before {
            0 => sentence,
            n => sentence
                .words(" (and ")
                .count(n, "earlier refusal", "earlier refusals")
                .words(" of the same kind not recorded one by one)"),
        })
    }
}

/// `the scope a` or `the scopes a, b and c`, or `no scope`.
fn scopes(sentence: Sentence, scopes: &[String]) -> Sentence {
    let sentence = match scopes.len() {
        0 => return sentence.words("no scope"),
        1 => sentence.words("the scope "),
        _ => sentence.words("the scopes "),
    };
    listed(sentence, scopes, |sentence, scope| sentence.value(scope.as_str()))
}

/// How a count of verifications reads (`118 accepted`).
fn outcome_words(outcome: VerifyOutcome) -> &'static str {
    match outcome {
        VerifyOutcome::Valid => "accepted",
        VerifyOutcome::NotFound => "of no such key",
        VerifyOutcome::Revoked => "while revoked",
        VerifyOutcome::Expired => "while expired",
        VerifyOutcome::DisabledOwner => "while its owner was disabled",
        VerifyOutcome::IpNotAllowed => "from an address not allowed",
        VerifyOutcome::InsufficientScope => "lacking a scope",
        VerifyOutcome::RateLimited => "rate limited",
        VerifyOutcome::UsageExceeded => "with no uses left",
        VerifyOutcome::ActorNotAllowed => "naming no active user of the org",
        VerifyOutcome::InvalidTicket => "without a valid ticket",
    }
}

/// Why one verification was refused.
fn refusal_words(outcome: VerifyOutcome) -> &'static str {
    match outcome {
        VerifyOutcome::Valid => "it was accepted",
        VerifyOutcome::NotFound => "no such key exists",
        VerifyOutcome::Revoked => "the key is revoked",
        VerifyOutcome::Expired => "the key has expired",
        VerifyOutcome::DisabledOwner => "the key's owner is disabled",
        VerifyOutcome::IpNotAllowed => "the key may not be used from that address",
        VerifyOutcome::InsufficientScope => "it lacks a scope asked for",
        VerifyOutcome::RateLimited => "it was rate limited",
        VerifyOutcome::UsageExceeded => "the key has no uses left",
        VerifyOutcome::ActorNotAllowed => "the request named no active user of the org",
        VerifyOutcome::InvalidTicket => "the request named no valid ticket",
    }
}
