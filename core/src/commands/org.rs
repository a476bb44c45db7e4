//! Organizations: the tenant every user, role and policy belongs to.

use serde::{Deserialize, Serialize};

use super::sentence::{Ref, Sentence, Summarize};
use super::{Context, Prefix, data, subject, subject_id};
use crate::auth::mfa_policy::{Method, MethodRule, MfaPolicy};
use crate::auth::security_email::SecurityEmails;
use crate::event::{Event, NewEvent};

pub const ORG_CREATED: &str = "org.created";
pub const ORG_SESSION_POLICY_CHANGED: &str = "org.session_policy_changed";
/// An owner or admin changed the org's MFA policy (which methods, which
/// factors, grace period, trust in an upstream provider's MFA).
pub const ORG_MFA_POLICY_CHANGED: &str = "org.mfa_policy_changed";
/// An owner or admin turned security emails to the org's users on or off.
pub const ORG_SECURITY_EMAILS_CHANGED: &str = "org.security_emails_changed";
/// An org taken away by a compensating event; its slug is released.
pub const ORG_REMOVED: &str = "org.removed";

/// Uniqueness namespace of org slugs.
pub const SLUG_CLAIM: &str = "org_slug";

pub fn org_subject(id: &str) -> String {
    subject(Prefix::Org, id)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgCreated {
    pub name: String,
    pub slug: String,
    pub session_policy: SessionPolicy,
    /// The import batch that created the org, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgRemoved {
    pub slug: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_id: Option<String>,
}

pub fn remove(context: &Context, id: &str, version: u64, removed: &OrgRemoved) -> NewEvent {
    context
        .event(ORG_REMOVED, org_subject(id))
        .expect_version(version)
        .release(SLUG_CLAIM, removed.slug.clone())
        .data(data(removed))
}

/// How long a session of the org lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionPolicy {
    /// Without a request for this long, the session ends.
    pub idle_timeout_seconds: u64,
    /// The session ends this long after sign-in, whatever its use.
    pub absolute_timeout_seconds: u64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle_timeout_seconds: 8 * 3600,
            absolute_timeout_seconds: 7 * 24 * 3600,
        }
    }
}

impl SessionPolicy {
    /// The shortest timeout an org may choose.
    pub const ORG_MINIMUM_SECONDS: u64 = 300;

    /// Between `minimum` seconds and 30 days, idle no longer than absolute.
    pub fn validate(&self, minimum: u64) -> Result<(), String> {
        let range = minimum..=30 * 24 * 3600;
        if !range.contains(&self.idle_timeout_seconds) || !range.contains(&self.absolute_timeout_seconds) {
            return Err(format!("timeouts must be between {minimum} seconds and 30 days"));
        }
        if self.idle_timeout_seconds > self.absolute_timeout_seconds {
            return Err("idle_timeout_seconds must not exceed absolute_timeout_seconds".into());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionPolicyChanged {
    pub old: SessionPolicy,
    pub new: SessionPolicy,
}

/// A new org; its slug is claimed globally.
pub fn create(context: &Context, id: &str, created: &OrgCreated) -> NewEvent {
    context
        .event(ORG_CREATED, org_subject(id))
        .expect_version(0)
        .claim(SLUG_CLAIM, created.slug.clone())
        .data(data(created))
}

pub fn change_session_policy(context: &Context, id: &str, version: u64, change: &SessionPolicyChanged) -> NewEvent {
    context
        .event(ORG_SESSION_POLICY_CHANGED, org_subject(id))
        .expect_version(version)
        .data(data(change))
}

/// Slugs are 2 to 63 lower-case letters, digits and inner hyphens.
pub fn valid_slug(slug: &str) -> bool {
    (2..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaPolicyChanged {
    pub old: MfaPolicy,
    pub new: MfaPolicy,
}

pub fn change_mfa_policy(context: &Context, id: &str, version: u64, change: &MfaPolicyChanged) -> NewEvent {
    context
        .event(ORG_MFA_POLICY_CHANGED, org_subject(id))
        .expect_version(version)
        .data(data(change))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityEmailsChanged {
    pub old: SecurityEmails,
    pub new: SecurityEmails,
}

pub fn change_security_emails(context: &Context, id: &str, version: u64, change: &SecurityEmailsChanged) -> NewEvent {
    context
        .event(ORG_SECURITY_EMAILS_CHANGED, org_subject(id))
        .expect_version(version)
        .data(data(change))
}

// The sentences of these kinds (`commands::sentence`).

/// Whole seconds as people say them: `8 hours`, `7 days`, `90 seconds`.
fn duration(seconds: u64) -> String {
    let (n, one, many) = match seconds {
        0 => (0, "second", "seconds"),
        s if s % 86_400 == 0 => (s / 86_400, "day", "days"),
        s if s % 3_600 == 0 => (s / 3_600, "hour", "hours"),
        s if s % 60 == 0 => (s / 60, "minute", "minutes"),
        s => (s, "second", "seconds"),
    };
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `the session timeouts of Acme Corp` (the org of `event`'s subject), or
/// `the org's session timeouts` when the subject has no id.
fn of_org(sentence: Sentence, what: &'static str, event: &Event) -> Sentence {
    match subject_id(&event.subject, Prefix::Org) {
        Some(org) => sentence
            .words("the ")
            .words(what)
            .words(" of ")
            .refer(Ref::Org(org.into())),
        None => sentence.words("the org's ").words(what),
    }
}

/// `a`, `a or b`, `a, b or c`.
fn either(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// `a`, `a and b`, `a, b and c`.
fn both(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

impl Summarize for OrgCreated {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event)
            .words(" created the org ")
            .value(self.name.as_str())
            .words(" (")
            .value(self.slug.as_str())
            .words(")");
        Some(match self.import_id {
            Some(_) => sentence.words(" in an import"),
            None => sentence,
        })
    }
}

impl Summarize for OrgRemoved {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event).words(" removed the org ").value(self.slug.as_str());
        Some(match self.reason.as_str() {
            "import_reverted" => sentence.words(", as the import that created it was reverted"),
            reason => sentence.words(" (").value(reason.replace('_', " ")).words(")"),
        })
    }
}

impl Summarize for SessionPolicyChanged {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let (old, new) = (self.old, self.new);
        let idle = old.idle_timeout_seconds != new.idle_timeout_seconds;
        let absolute = old.absolute_timeout_seconds != new.absolute_timeout_seconds;
        let sentence = Sentence::by(event);
        if !idle && !absolute {
            return Some(of_org(sentence.words(" saved "), "session timeouts", event).words(" without changing them"));
        }
        let sentence = of_org(sentence.words(" changed "), "session timeouts", event).words(": ");
        let sentence = if idle {
            sentence
                .words("idle timeout from ")
                .value(duration(old.idle_timeout_seconds))
                .words(" to ")
                .value(duration(new.idle_timeout_seconds))
        } else {
            sentence
        };
        let sentence = match (idle, absolute) {
            (true, true) => sentence.words(", "),
            _ => sentence,
        };
        Some(if absolute {
            sentence
                .words("absolute timeout from ")
                .value(duration(old.absolute_timeout_seconds))
                .words(" to ")
                .value(duration(new.absolute_timeout_seconds))
        } else {
            sentence
        })
    }
}

/// A sign-in method in words, as "after a password".
fn method_words(method: Method) -> &'static str {
    super::sentence::method_words(method.as_str()).unwrap_or(method.as_str())
}

/// The changes of one MFA policy to another, as clauses in words
/// ("a second factor is now required after a password or a passkey").
fn policy_changes(old: &MfaPolicy, new: &MfaPolicy) -> Vec<String> {
    let changed = |test: &dyn Fn(&MethodRule, &MethodRule) -> bool| -> Vec<&'static str> {
        Method::ALL
            .into_iter()
            .filter(|method| test(&old.rule(*method), &new.rule(*method)))
            .map(method_words)
            .collect()
    };
    let clauses: [(Vec<&str>, &str, &str); 7] = [
        (
            changed(&|old, new| !old.allowed && new.allowed),
            "sign-in with ",
            " is now allowed",
        ),
        (
            changed(&|old, new| old.allowed && !new.allowed),
            "sign-in with ",
            " is no longer allowed",
        ),
        (
            changed(&|old, new| !old.require_mfa && new.require_mfa),
            "a second factor is now required after ",
            "",
        ),
        (
            changed(&|old, new| old.require_mfa && !new.require_mfa),
            "a second factor is no longer required after ",
            "",
        ),
        (
            changed(&|old, new| old.factors != new.factors),
            "a different set of second factors now counts after ",
            "",
        ),
        (
            changed(&|old, new| old.trust_upstream_mfa.is_none() && new.trust_upstream_mfa.is_some()),
            "the identity provider's own MFA is now trusted for ",
            "",
        ),
        (
            changed(&|old, new| old.trust_upstream_mfa.is_some() && new.trust_upstream_mfa.is_none()),
            "the identity provider's own MFA is no longer trusted for ",
            "",
        ),
    ];
    clauses
        .into_iter()
        .filter(|(methods, _, _)| !methods.is_empty())
        .map(|(methods, before, after)| format!("{before}{}{after}", either(&methods)))
        .collect()
}

impl Summarize for MfaPolicyChanged {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let clauses = policy_changes(&self.old, &self.new);
        let (old_grace, new_grace) = (self.old.enrolment_grace_seconds, self.new.enrolment_grace_seconds);
        let sentence = Sentence::by(event);
        if clauses.is_empty() && old_grace == new_grace {
            return Some(of_org(sentence.words(" saved "), "MFA policy", event).words(" without changing it"));
        }
        let sentence = of_org(sentence.words(" changed "), "MFA policy", event)
            .words(": ")
            .words(clauses.join("; "));
        Some(if old_grace == new_grace {
            sentence
        } else {
            let sentence = if clauses.is_empty() {
                sentence
            } else {
                sentence.words("; ")
            };
            sentence
                .words("the grace period to set up a second factor went from ")
                .value(duration(old_grace))
                .words(" to ")
                .value(duration(new_grace))
        })
    }
}

impl Summarize for SecurityEmailsChanged {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let (old, new) = (self.old, self.new);
        let switches = [
            (old.invitation, new.invitation, "invitation"),
            (old.new_device, new.new_device, "new-device"),
            (old.password_changed, new.password_changed, "password-change"),
            (old.factors, new.factors, "second-factor"),
            (old.keys, new.keys, "API-key"),
        ];
        let turned = |on: bool| -> Vec<&str> {
            switches
                .iter()
                .filter(|(was, is, _)| was != is && *is == on)
                .map(|(_, _, what)| *what)
                .collect()
        };
        let (on, off) = (turned(true), turned(false));
        let sentence = Sentence::by(event);
        let sentence = match (on.is_empty(), off.is_empty()) {
            (true, true) => {
                return Some(
                    of_org(sentence.words(" saved "), "security emails", event).words(" without changing them"),
                );
            }
            (false, true) => sentence.words(" turned on ").words(both(&on)),
            (true, false) => sentence.words(" turned off ").words(both(&off)),
            (false, false) => sentence
                .words(" turned on ")
                .words(both(&on))
                .words(" emails and turned off ")
                .words(both(&off)),
        };
        let sentence = sentence.words(" emails");
        Some(match subject_id(&event.subject, Prefix::Org) {
            Some(org) => sentence.words(" for ").refer(Ref::Org(org.into())),
            None => sentence.words(" for the org"),
        })
    }
}
