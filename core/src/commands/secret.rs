//! The vault of an org's service-account secrets (database passwords,
//! third-party API tokens): the events of a secret's life and of every
//! access to it. Decided by [`crate::auth::vault`]; decision 0027.
//!
//! A secret's values are sealed under its own data key (subject
//! `vault_secret:<org>/<name>`), so shredding it destroys that key and
//! every version with it while the chain stays whole. Its life (created,
//! versions, rollbacks, readers, shredded) is on that subject; accesses are
//! on `vault_access:<org>/<name>`, so reads never move the version its
//! changes are decided on.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::account::Role;
use super::sentence::{Ref, Sentence, Summarize, listed, readable_time};
use super::{Context, Prefix, data, subject};
use crate::event::{Event, NewEvent};
use crate::keys::Sealed;

pub const SECRET_CREATED: &str = "secret.created";
pub const SECRET_VERSION_ADDED: &str = "secret.version_added";
pub const SECRET_ROLLED_BACK: &str = "secret.rolled_back";
pub const SECRET_READERS_CHANGED: &str = "secret.readers_changed";
pub const SECRET_SHREDDED: &str = "secret.shredded";
pub const SECRET_ACCESSED: &str = "secret.accessed";
pub const SECRET_ACCESS_DENIED: &str = "secret.access_denied";
pub const SECRET_READS_COUNTED: &str = "secret.reads_counted";

/// `vault_secret:<org>/<name>`: the secret's life, and its data key.
pub fn secret_subject(org: &str, name: &str) -> String {
    subject(Prefix::VaultSecret, &format!("{org}/{name}"))
}

/// `vault_access:<org>/<name>`: every access to it.
pub fn access_subject(org: &str, name: &str) -> String {
    subject(Prefix::VaultAccess, &format!("{org}/{name}"))
}

/// Who may read a secret's value: people by role, and service or vendor
/// keys by id (which also need the `secrets:read` scope).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Readers {
    #[serde(default)]
    pub roles: BTreeSet<Role>,
    #[serde(default)]
    pub keys: BTreeSet<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretCreated {
    pub org: String,
    pub name: String,
    pub description: String,
    pub readers: Readers,
    /// 1 for a new secret; after a shredded one of the same name, the
    /// next number (versions are never reused).
    pub version: u32,
    pub value: Sealed<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionAdded {
    pub org: String,
    pub name: String,
    /// The new current version.
    pub version: u32,
    pub value: Sealed<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolledBack {
    pub org: String,
    pub name: String,
    /// The earlier version that is current again.
    pub version: u32,
    /// The version that was current.
    pub from: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadersChanged {
    pub org: String,
    pub name: String,
    pub readers: Readers,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shredded {
    pub org: String,
    pub name: String,
    /// The versions made unreadable.
    pub versions: u32,
    pub reason: String,
}

/// A value was read (the first read by this caller, of this version, for
/// this reason, within the node's access cache; the repeats are counted
/// in `secret.reads_counted`). The actor is the reader; a vendor's ticket
/// is the actor's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accessed {
    pub org: String,
    pub name: String,
    pub version: u32,
    pub reason: String,
    /// The reader had never read this secret before (as the node's read
    /// model knew when it appended this).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub new_reader: bool,
}

/// Why a read was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Denial {
    /// The caller is not among the secret's readers.
    NotAReader,
    /// The secret was shredded.
    Shredded,
    /// No such version.
    NoSuchVersion,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessDenied {
    pub org: String,
    pub name: String,
    pub reason: String,
    pub denial: Denial,
}

/// Reads served within the access cache during one minute: per reader,
/// version and reason, how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadsCounted {
    pub org: String,
    pub name: String,
    /// The minute's start.
    pub minute: DateTime<Utc>,
    pub reads: Vec<CountedReads>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountedReads {
    /// `user:<id>`, `api_key:<id>` (a vendor key's reads name the ticket).
    pub reader: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    pub version: u32,
    pub reason: String,
    pub count: u64,
}

pub fn created(context: &Context, created: &SecretCreated, subject_version: u64) -> NewEvent {
    context
        .event(SECRET_CREATED, secret_subject(&created.org, &created.name))
        .expect_version(subject_version)
        .data(data(created))
}

pub fn version_added(context: &Context, added: &VersionAdded, subject_version: u64) -> NewEvent {
    context
        .event(SECRET_VERSION_ADDED, secret_subject(&added.org, &added.name))
        .expect_version(subject_version)
        .data(data(added))
}

pub fn rolled_back(context: &Context, rolled: &RolledBack, subject_version: u64) -> NewEvent {
    context
        .event(SECRET_ROLLED_BACK, secret_subject(&rolled.org, &rolled.name))
        .expect_version(subject_version)
        .data(data(rolled))
}

pub fn readers_changed(context: &Context, changed: &ReadersChanged, subject_version: u64) -> NewEvent {
    context
        .event(SECRET_READERS_CHANGED, secret_subject(&changed.org, &changed.name))
        .expect_version(subject_version)
        .data(data(changed))
}

pub fn shredded(context: &Context, shredded: &Shredded, subject_version: u64) -> NewEvent {
    context
        .event(SECRET_SHREDDED, secret_subject(&shredded.org, &shredded.name))
        .expect_version(subject_version)
        .data(data(shredded))
}

pub fn accessed(context: &Context, accessed: &Accessed) -> NewEvent {
    context
        .event(SECRET_ACCESSED, access_subject(&accessed.org, &accessed.name))
        .data(data(accessed))
}

pub fn access_denied(context: &Context, denied: &AccessDenied) -> NewEvent {
    context
        .event(SECRET_ACCESS_DENIED, access_subject(&denied.org, &denied.name))
        .outcome(crate::event::Outcome::Denied)
        .data(data(denied))
}

pub fn reads_counted(context: &Context, counted: &ReadsCounted) -> NewEvent {
    context
        .event(SECRET_READS_COUNTED, access_subject(&counted.org, &counted.name))
        .data(data(counted))
}

// The sentences of these kinds (`super::sentence`).

impl Summarize for SecretCreated {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event).words(" created ").refer(secret_ref(&self.name));
        let sentence = match self.version {
            0 | 1 => sentence,
            version => sentence.words(" again, from version ").value(version.to_string()),
        };
        Some(readers(sentence.words(", readable by "), &self.readers))
    }
}

impl Summarize for VersionAdded {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        Some(
            Sentence::by(event)
                .words(" stored a new value of ")
                .refer(secret_ref(&self.name))
                .words(" (version ")
                .value(self.version.to_string())
                .words(")"),
        )
    }
}

impl Summarize for RolledBack {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        Some(
            Sentence::by(event)
                .words(" rolled ")
                .refer(secret_ref(&self.name))
                .words(" back from version ")
                .value(self.from.to_string())
                .words(" to version ")
                .value(self.version.to_string()),
        )
    }
}

impl Summarize for ReadersChanged {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event)
            .words(" changed who may read ")
            .refer(secret_ref(&self.name))
            .words(" to ");
        Some(readers(sentence, &self.readers))
    }
}

impl Summarize for Shredded {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        Some(
            Sentence::by(event)
                .words(" shredded ")
                .refer(secret_ref(&self.name))
                .words(", making ")
                .count(u64::from(self.versions), "version", "versions")
                .words(" unreadable (reason: ")
                .value(self.reason.as_str())
                .words(")"),
        )
    }
}

impl Summarize for Accessed {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event)
            .words(" read version ")
            .value(self.version.to_string())
            .words(" of ")
            .refer(secret_ref(&self.name))
            .words(" (reason: ")
            .value(self.reason.as_str())
            .words(")");
        Some(if self.new_reader {
            sentence.words(", a first read of it by this reader")
        } else {
            sentence
        })
    }
}

impl Summarize for AccessDenied {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let why = match self.denial {
            Denial::NotAReader => ": not one of its readers",
            Denial::Shredded => ": it was shredded",
            Denial::NoSuchVersion => ": no such version",
        };
        Some(
            Sentence::by(event)
                .words(" was refused a read of ")
                .refer(secret_ref(&self.name))
                .words(why)
                .words(" (reason given: ")
                .value(self.reason.as_str())
                .words(")"),
        )
    }
}

impl Summarize for ReadsCounted {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let total: u64 = self.reads.iter().map(|reads| reads.count).sum();
        let mut readers: Vec<&str> = Vec::new();
        for reads in &self.reads {
            if !readers.contains(&reads.reader.as_str()) {
                readers.push(&reads.reader);
            }
        }
        let sentence = Sentence::by(event)
            .words(" counted ")
            .count(total, "repeated read", "repeated reads")
            .words(" of ")
            .refer(secret_ref(&self.name))
            .words(" in the minute from ")
            .value(readable_time(&self.minute))
            .words(", by ");
        Some(if readers.len() <= 3 {
            listed(sentence, readers, reader)
        } else {
            sentence.count(readers.len() as u64, "reader", "readers")
        })
    }
}

fn secret_ref(name: &str) -> Ref {
    Ref::Secret(name.to_string())
}

/// `owners, admins and API key k7Hq…`, or `no one`.
fn readers(sentence: Sentence, readers: &Readers) -> Sentence {
    if readers.roles.is_empty() && readers.keys.is_empty() {
        return sentence.words("no one");
    }
    let roles = readers.roles.iter().map(|role| {
        Sentence::new().words(match role {
            Role::Owner => "owners",
            Role::Admin => "admins",
            Role::Member => "members",
            Role::Auditor => "auditors",
        })
    });
    let keys = readers
        .keys
        .iter()
        .map(|key| Sentence::new().refer(Ref::ApiKey(key.clone())));
    listed(sentence, roles.chain(keys), super::sentence::joined)
}

/// A reader as `reads_counted` names it: `user:<id>` or `api_key:<id>`.
fn reader(sentence: Sentence, reader: &str) -> Sentence {
    match reader.split_once(':') {
        Some(("user", id)) => sentence.user(id),
        Some(("api_key", id)) => sentence.refer(Ref::ApiKey(id.to_string())),
        _ => sentence.value(reader),
    }
}
