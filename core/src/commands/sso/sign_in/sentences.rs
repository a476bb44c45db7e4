//! The sentences of single sign-on's sign-in kinds (`commands::sentence`).

use super::*;
use crate::commands::sentence::{Sentence, Summarize};
use crate::event::Event;

/// `with the single sign-on connection "Acme Okta"`.
fn with(sentence: Sentence, name: &str) -> Sentence {
    sentence
        .words(" with the single sign-on connection \"")
        .value(name)
        .words("\"")
}

impl Summarize for Started {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let verb = match (self.test, self.reauthentication) {
            (true, _) => " started testing signing in",
            (false, true) => " started confirming it's them",
            (false, false) => " started signing in",
        };
        Some(with(Sentence::by(event).words(verb), &self.name))
    }
}

impl Summarize for Succeeded {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let person = |sentence: Sentence| match (&self.user, &self.email) {
            (Some(user), _) => sentence.user(user),
            (None, Some(email)) => sentence.value(email.as_str()),
            (None, None) => sentence.words("identity ").value(self.subject.as_str()),
        };
        let sentence = if self.test {
            let would = match self.result {
                SignInResult::SignedIn => " would sign in",
                SignInResult::Linked => " would be linked to their account and sign in",
                SignInResult::Provisioned => " would get a new account and sign in",
                SignInResult::Reauthenticated => " would confirm it's them",
            };
            person(with(Sentence::by(event).words(" tested signing in"), &self.name).words(": ")).words(would)
        } else {
            let how = match self.result {
                SignInResult::SignedIn => " signed in",
                SignInResult::Linked => " linked their account and signed in",
                SignInResult::Provisioned => " got a new account and signed in",
                SignInResult::Reauthenticated => " confirmed it's them",
            };
            with(person(Sentence::new()).words(how), &self.name)
        };
        let sentence = sentence.words(" as ").words(self.role.as_str());
        Some(match self.upstream_mfa {
            true => sentence.words(", the provider having checked a second factor"),
            false => sentence,
        })
    }
}

impl Summarize for Failed {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let verb = if self.test {
            " failed a test of signing in"
        } else {
            " failed to sign in"
        };
        Some(
            with(Sentence::by(event).words(verb), &self.name)
                .words(": ")
                .value(self.detail.as_str()),
        )
    }
}

impl Summarize for Provisioned {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let _ = event;
        Some(
            Sentence::new()
                .words("The single sign-on connection \"")
                .value(self.name.as_str())
                .words("\" created the account of ")
                .user(&self.user)
                .words(" as ")
                .words(self.role.as_str()),
        )
    }
}

impl Summarize for Linked {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let _ = event;
        Some(
            Sentence::new()
                .user(&self.user)
                .words(" was linked to their identity at the single sign-on connection \"")
                .value(self.name.as_str())
                .words("\"")
                .words(" by the verified address ")
                .value(self.email.as_str()),
        )
    }
}
