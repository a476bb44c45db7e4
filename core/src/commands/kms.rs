//! Rotating the KMS key (the key-encryption key, KEK): the events that
//! record each run of `warden kms rotate` (`docs/operations/kms.md`). The
//! re-wrapping itself is [`crate::keys::rotation`].
//!
//! A run that stops half way (a crash, `kill -9`) leaves some keys under
//! the old KMS key and some under the new one, every one of them usable;
//! the next run starts again with `resumed` set and moves what is left.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::sentence::{Sentence, Summarize};
use super::{Context, Prefix, data, subject_id};
use crate::event::{Event, NewEvent};

pub const KMS_ROTATION_STARTED: &str = "kms.rotation_started";
pub const KMS_ROTATION_FINISHED: &str = "kms.rotation_finished";
pub const DATA_KEYS_UNWRAPPED: &str = "kms.data_keys_unwrapped";
pub const SIGNING_KEY_USED: &str = "signing_key.used";

/// The subject of the key-use summaries (apart from `kms`, whose latest
/// event tells whether a rotation was left unfinished).
pub const KEY_USE_SUBJECT: &str = Prefix::KeyUse.as_str();

/// Most subjects one `kms.data_keys_unwrapped` names.
pub const UNWRAPPED_SUBJECTS_MAX: usize = 1000;

/// The data keys a node unwrapped with the KMS during one minute: every
/// unwrap outside its data-key cache (a sign-in of a user whose key was
/// not cached, a sealed field opened after a restart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataKeysUnwrapped {
    pub minute: DateTime<Utc>,
    pub unwraps: u64,
    /// The distinct subjects, in order of first unwrap, at most
    /// `UNWRAPPED_SUBJECTS_MAX`.
    pub subjects: Vec<String>,
    /// More distinct subjects than listed.
    #[serde(default)]
    pub more_subjects: bool,
    /// The refs of the KMS keys that unwrapped them.
    pub kms_keys: Vec<String>,
}

/// The events a node signed with one signing key during one minute
/// (its own summaries left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningKeyUsed {
    pub minute: DateTime<Utc>,
    pub key_id: String,
    pub events: u64,
    pub first_seq: u64,
    pub last_seq: u64,
}

/// Every rotation is on one subject: they follow one another.
pub const KMS_SUBJECT: &str = Prefix::Kms.as_str();

/// A run of the rotation began.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationStarted {
    /// The KMS key every key is being moved under (its ref: `local:<fingerprint>`
    /// or `aws:<key ARN>`).
    pub to: String,
    /// The refs of the other KMS keys this node holds (may unwrap with).
    pub from: Vec<String>,
    /// Keys not yet under `to` when the run began.
    pub data_keys: u64,
    pub signing_keys: u64,
    /// Whether an earlier run to the same key started and did not finish.
    pub resumed: bool,
}

/// A run of the rotation ended with every key it found moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationFinished {
    pub to: String,
    /// Keys this run wrapped again under `to`.
    pub data_keys: u64,
    pub signing_keys: u64,
    /// Data keys shredded or changed by someone else while the run held
    /// them: nothing to move.
    pub skipped: u64,
    /// Data keys still not under `to` at the end: created meanwhile by a
    /// node that still wraps with an old key. Zero once every node is
    /// configured with the new key; run again then.
    pub remaining: u64,
}

/// Whether a run to `to` resumes an unfinished one, from the kinds and
/// targets of the latest rotation events (newest first).
pub fn resumes(latest: Option<(&str, &str)>, to: &str) -> bool {
    matches!(latest, Some((KMS_ROTATION_STARTED, target)) if target == to)
}

pub fn rotation_started(context: &Context, started: &RotationStarted) -> NewEvent {
    context.event(KMS_ROTATION_STARTED, KMS_SUBJECT).data(data(started))
}

pub fn rotation_finished(context: &Context, finished: &RotationFinished) -> NewEvent {
    context.event(KMS_ROTATION_FINISHED, KMS_SUBJECT).data(data(finished))
}

pub fn data_keys_unwrapped(context: &Context, unwrapped: &DataKeysUnwrapped) -> NewEvent {
    context
        .event(DATA_KEYS_UNWRAPPED, KEY_USE_SUBJECT)
        .data(data(unwrapped))
}

pub fn signing_key_used(context: &Context, used: &SigningKeyUsed) -> NewEvent {
    context.event(SIGNING_KEY_USED, KEY_USE_SUBJECT).data(data(used))
}

/// "2026-12-05 08:14 UTC".
fn minute(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

impl Summarize for RotationStarted {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event)
            .words(match self.resumed {
                true => " resumed rotating the KMS key: ",
                false => " started rotating the KMS key: ",
            })
            .count(self.data_keys, "data key", "data keys")
            .words(" and ")
            .count(self.signing_keys, "signing key", "signing keys")
            .words(" to move");
        let sentence = self.from.iter().enumerate().fold(sentence, |sentence, (index, from)| {
            let sentence = match index {
                0 => sentence.words(" from "),
                _ if index + 1 == self.from.len() => sentence.words(" and "),
                _ => sentence.words(", "),
            };
            sentence.value(from.as_str())
        });
        Some(sentence.words(" to ").value(self.to.as_str()))
    }
}

impl Summarize for RotationFinished {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event)
            .words(" finished rotating the KMS key to ")
            .value(self.to.as_str())
            .words(", moving ")
            .count(self.data_keys, "data key", "data keys")
            .words(" and ")
            .count(self.signing_keys, "signing key", "signing keys");
        let sentence = match self.skipped {
            0 => sentence,
            skipped => sentence
                .words(" (skipping ")
                .count(skipped, "data key", "data keys")
                .words(" shredded or changed meanwhile)"),
        };
        Some(match self.remaining {
            0 => sentence,
            remaining => sentence
                .words("; ")
                .count(remaining, "data key is", "data keys are")
                .words(" still under an older key"),
        })
    }
}

impl Summarize for DataKeysUnwrapped {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event)
            .words(" unwrapped data keys with the KMS ")
            .count(self.unwraps, "time", "times")
            .words(" in the minute from ")
            .value(minute(&self.minute))
            .words(", for ");
        // Whose keys: users, vault secrets, and anything else.
        let of = |prefix: Prefix| {
            let count = self
                .subjects
                .iter()
                .filter(|subject| subject_id(subject, prefix).is_some())
                .count();
            count as u64
        };
        let users = of(Prefix::User);
        let secrets = of(Prefix::VaultSecret);
        let others = (self.subjects.len() as u64).saturating_sub(users + secrets);
        let counted = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut whose = Vec::new();
        if users > 0 {
            whose.push(counted(users, "user", "users"));
        }
        if secrets > 0 {
            whose.push(counted(secrets, "vault secret", "vault secrets"));
        }
        if others > 0 || whose.is_empty() {
            whose.push(counted(others, "other subject", "other subjects"));
        }
        let sentence = match whose.split_last() {
            Some((last, rest)) if !rest.is_empty() => sentence.words(format!("{} and {last}", rest.join(", "))),
            _ => sentence.words(whose.concat()),
        };
        Some(match self.more_subjects {
            true => sentence.words(" (and more)"),
            false => sentence,
        })
    }
}

impl Summarize for SigningKeyUsed {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        Some(
            Sentence::by(event)
                .words(" signed ")
                .count(self.events, "event", "events")
                .words(format!(" ({} to {}) with the key ", self.first_seq, self.last_seq))
                .value(self.key_id.as_str())
                .words(" in the minute from ")
                .value(minute(&self.minute)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_resumes_only_an_unfinished_run_to_the_same_key() {
        // The latest rotation event (kind, target), the run's target, resumed.
        type Case<'a> = (Option<(&'a str, &'a str)>, &'a str, bool);
        let cases: &[Case] = &[
            (None, "aws:new", false),
            (Some((KMS_ROTATION_STARTED, "aws:new")), "aws:new", true),
            (Some((KMS_ROTATION_STARTED, "aws:other")), "aws:new", false),
            (Some((KMS_ROTATION_FINISHED, "aws:new")), "aws:new", false),
        ];
        for (latest, to, expected) in cases {
            assert_eq!(resumes(*latest, to), *expected, "{latest:?} → {to}");
        }
    }
}
