//! The vault's rules (decision 0027): what a secret is, who may change it,
//! and who may read which version of it, for what reason. Pure: the flows
//! read the secret from the read model, seal the value, call these and
//! append what they return.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::commands::Context;
use crate::commands::account::Role;
use crate::commands::secret::{
    self, Accessed, Denial, Readers, ReadersChanged, RolledBack, SecretCreated, Shredded, VersionAdded,
};
use crate::event::NewEvent;
use crate::keys::Sealed;

/// Longest name: 1 to 100 of `a-z 0-9 . _ -`, starting with a letter or
/// digit.
pub const MAX_NAME: usize = 100;
/// Longest value, in bytes.
pub const MAX_VALUE: usize = 64 * 1024;
/// Most versions a secret keeps.
pub const MAX_VERSIONS: u32 = 1000;
/// Most keys named as readers of one secret.
pub const MAX_READER_KEYS: usize = 100;
/// Longest description and shred reason, in characters.
pub const MAX_DESCRIPTION: usize = 500;
/// A read's reason: 3 to 200 characters.
pub const MIN_REASON: usize = 3;
pub const MAX_REASON: usize = 200;

/// A secret as the read model holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Secret {
    pub org: String,
    pub name: String,
    pub description: String,
    pub readers: Readers,
    /// Every version of its current life, oldest first: a secret created
    /// again after a shred starts after the last number of its earlier
    /// life, whose versions are gone with their key (numbers are never
    /// reused).
    pub versions: Vec<Version>,
    pub current: u32,
    pub shredded: bool,
    /// The version of its life subject (`vault_secret:<org>/<name>`).
    pub subject_version: u64,
    pub created_at: DateTime<Utc>,
    pub last_access: Option<LastAccess>,
    /// Reads recorded (events and counted ones).
    pub reads: u64,
    /// Every reader that read it (`user:<id>`, `api_key:<id>`).
    #[serde(default)]
    pub read_by: std::collections::BTreeSet<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Version {
    pub number: u32,
    pub value: Sealed<String>,
    pub added_at: DateTime<Utc>,
    /// `user:<id>` of who added it.
    pub added_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastAccess {
    pub at: DateTime<Utc>,
    /// `user:<id>` or `api_key:<id>`.
    pub reader: String,
    pub version: u32,
}

impl Secret {
    pub fn version(&self, number: u32) -> Option<&Version> {
        self.versions.iter().find(|version| version.number == number)
    }

    /// The highest version number ever used.
    pub fn latest(&self) -> u32 {
        self.versions.iter().map(|version| version.number).max().unwrap_or(0)
    }

    /// Whether `number` was a version of an earlier life of this name,
    /// shredded before the secret was created again.
    pub fn shredded_before(&self, number: u32) -> bool {
        self.versions.first().is_some_and(|first| number < first.number)
    }
}

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    NotFound,
    /// A secret of that name exists (not shredded).
    Exists,
    /// The secret was shredded: only creating it again is possible.
    Shredded,
    /// A field is not allowed: which, and why.
    Invalid {
        field: &'static str,
        message: String,
    },
}

fn invalid(field: &'static str, message: impl Into<String>) -> Rejection {
    Rejection::Invalid {
        field,
        message: message.into(),
    }
}

/// Who asks to read: a person by role, or a key by id (admitted for
/// `secrets:read` already).
#[derive(Debug, Clone, Copy)]
pub enum Reader<'a> {
    Person { role: Role },
    Key { id: &'a str },
}

/// Whether `name` is a secret's name: 1 to 100 of `a-z 0-9 . _ -`,
/// starting with a letter or digit.
pub fn check_name(name: &str) -> Result<(), Rejection> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(invalid(
            "name",
            "1 to 100 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit",
        ))
    }
}

/// Whether `value` may be stored: 1 byte to 64 KiB.
pub fn check_value(value: &str) -> Result<(), Rejection> {
    if value.is_empty() || value.len() > MAX_VALUE {
        return Err(invalid("value", "1 byte to 64 KiB"));
    }
    Ok(())
}

/// A read's reason: 3 to 200 characters, no control characters (a ticket
/// reference, "deploy 2026-12-05", "rotate the Stripe webhook").
pub fn check_reason(reason: &str) -> Result<(), Rejection> {
    let count = reason.trim().chars().count();
    if !(MIN_REASON..=MAX_REASON).contains(&count) || reason.chars().any(char::is_control) {
        return Err(invalid(
            "reason",
            "a reason is required to read a secret: 3 to 200 characters, no control characters",
        ));
    }
    Ok(())
}

fn check_readers(readers: &Readers) -> Result<(), Rejection> {
    if readers.keys.len() > MAX_READER_KEYS {
        return Err(invalid("readers", format!("at most {MAX_READER_KEYS} keys")));
    }
    if readers.keys.iter().any(|key| key.is_empty() || key.len() > 64) {
        return Err(invalid("readers", "a key is named by its id"));
    }
    Ok(())
}

fn check_text(field: &'static str, text: &str) -> Result<(), Rejection> {
    if text.chars().count() > MAX_DESCRIPTION || text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(invalid(field, "at most 500 characters, no control characters"));
    }
    Ok(())
}

/// The readers a new secret gets when none are named: owners and admins.
pub fn default_readers() -> Readers {
    Readers {
        roles: [Role::Owner, Role::Admin].into(),
        keys: Default::default(),
    }
}

/// Creates `name` in `org` (or creates again a shredded one: its version
/// numbers go on), with its first value sealed already.
pub fn create(
    context: &Context,
    existing: Option<&Secret>,
    org: &str,
    name: &str,
    description: &str,
    readers: Readers,
    value: Sealed<String>,
) -> Result<NewEvent, Rejection> {
    check_name(name)?;
    check_text("description", description)?;
    check_readers(&readers)?;
    if existing.is_some_and(|secret| !secret.shredded) {
        return Err(Rejection::Exists);
    }
    let created = SecretCreated {
        org: org.to_string(),
        name: name.to_string(),
        description: description.trim().to_string(),
        readers,
        version: existing.map_or(1, |secret| secret.latest() + 1),
        value,
    };
    Ok(secret::created(
        context,
        &created,
        existing.map_or(0, |secret| secret.subject_version),
    ))
}

fn live(secret: Option<&Secret>) -> Result<&Secret, Rejection> {
    let secret = secret.ok_or(Rejection::NotFound)?;
    if secret.shredded {
        return Err(Rejection::Shredded);
    }
    Ok(secret)
}

/// A new current version (`PUT`): the value is replaced, never shown.
pub fn add_version(context: &Context, secret: Option<&Secret>, value: Sealed<String>) -> Result<NewEvent, Rejection> {
    let secret = live(secret)?;
    if secret.versions.len() as u32 >= MAX_VERSIONS {
        return Err(invalid(
            "value",
            format!("a secret keeps at most {MAX_VERSIONS} versions"),
        ));
    }
    let added = VersionAdded {
        org: secret.org.clone(),
        name: secret.name.clone(),
        version: secret.latest() + 1,
        value,
    };
    Ok(secret::version_added(context, &added, secret.subject_version))
}

/// Makes an earlier version current again.
pub fn roll_back(context: &Context, secret: Option<&Secret>, version: u32) -> Result<NewEvent, Rejection> {
    let secret = live(secret)?;
    if secret.shredded_before(version) {
        return Err(invalid(
            "version",
            format!("version {version} was shredded before the secret was created again"),
        ));
    }
    if secret.version(version).is_none() {
        return Err(invalid("version", format!("the secret has no version {version}")));
    }
    if version == secret.current {
        return Err(invalid("version", format!("version {version} is current already")));
    }
    let rolled = RolledBack {
        org: secret.org.clone(),
        name: secret.name.clone(),
        version,
        from: secret.current,
    };
    Ok(secret::rolled_back(context, &rolled, secret.subject_version))
}

pub fn change_readers(context: &Context, secret: Option<&Secret>, readers: Readers) -> Result<NewEvent, Rejection> {
    let secret = live(secret)?;
    check_readers(&readers)?;
    let changed = ReadersChanged {
        org: secret.org.clone(),
        name: secret.name.clone(),
        readers,
    };
    Ok(secret::readers_changed(context, &changed, secret.subject_version))
}

/// Shreds every version: the event, after which the flow destroys the data
/// key. `None` when it is shredded already (the flow destroys the key all
/// the same, in case an earlier attempt stopped between the two).
pub fn shred(context: &Context, secret: Option<&Secret>, reason: &str) -> Result<Option<NewEvent>, Rejection> {
    let secret = secret.ok_or(Rejection::NotFound)?;
    check_text("reason", reason)?;
    if reason.trim().chars().count() < MIN_REASON {
        return Err(invalid(
            "reason",
            "a reason is required to shred a secret: 3 to 500 characters",
        ));
    }
    if secret.shredded {
        return Ok(None);
    }
    let shredded = Shredded {
        org: secret.org.clone(),
        name: secret.name.clone(),
        versions: secret.versions.len() as u32,
        reason: reason.trim().to_string(),
    };
    Ok(Some(secret::shredded(context, &shredded, secret.subject_version)))
}

/// What a read gets: the version to open, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    Granted {
        version: u32,
    },
    /// Refused: an `secret.access_denied` is recorded.
    Denied(Denial),
}

/// Whether `reader` may read `version` (the current one when `None`) of
/// `secret`. A caller among the readers is told the secret was shredded or
/// has no such version; anyone else only that they may not read it.
pub fn read(secret: &Secret, reader: Reader<'_>, version: Option<u32>) -> Read {
    let allowed = match reader {
        Reader::Person { role } => secret.readers.roles.contains(&role),
        Reader::Key { id } => secret.readers.keys.contains(id),
    };
    if !allowed {
        return Read::Denied(Denial::NotAReader);
    }
    if secret.shredded {
        return Read::Denied(Denial::Shredded);
    }
    let version = version.unwrap_or(secret.current);
    if secret.shredded_before(version) {
        return Read::Denied(Denial::Shredded);
    }
    if secret.version(version).is_none() {
        return Read::Denied(Denial::NoSuchVersion);
    }
    Read::Granted { version }
}

/// The event of a granted read by `reader` (`user:<id>`, `api_key:<id>`).
pub fn accessed(context: &Context, secret: &Secret, reader: &str, version: u32, reason: &str) -> NewEvent {
    secret::accessed(
        context,
        &Accessed {
            org: secret.org.clone(),
            name: secret.name.clone(),
            version,
            reason: reason.trim().to_string(),
            new_reader: !secret.read_by.contains(reader),
        },
    )
}

/// The event of a refused read.
pub fn denied(context: &Context, secret: &Secret, reason: &str, denial: Denial) -> NewEvent {
    secret::access_denied(
        context,
        &secret::AccessDenied {
            org: secret.org.clone(),
            name: secret.name.clone(),
            reason: reason.trim().to_string(),
            denial,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Actor;

    fn sealed() -> Sealed<String> {
        serde_json::from_value(serde_json::json!({
            "sealed": "v1", "subject": "vault_secret:o/db", "key_id": "k", "nonce": "n", "ciphertext": "c"
        }))
        .unwrap()
    }

    fn secret(readers: Readers, shredded: bool) -> Secret {
        let version = |number| Version {
            number,
            value: sealed(),
            added_at: Utc::now(),
            added_by: None,
        };
        Secret {
            org: "o".into(),
            name: "db".into(),
            description: String::new(),
            readers,
            versions: vec![version(1), version(2), version(3)],
            current: 3,
            shredded,
            subject_version: 4,
            created_at: Utc::now(),
            last_access: None,
            reads: 0,
            read_by: ["api_key:svc1".to_string()].into(),
        }
    }

    fn context() -> Context {
        Context {
            actor: Actor::system(),
            request_id: "r".into(),
        }
    }

    #[test]
    fn reads_are_granted_to_readers_only_and_name_what_is_missing_only_to_them() {
        let readers = Readers {
            roles: [Role::Owner, Role::Admin].into(),
            keys: ["svc1".to_string()].into(),
        };
        let live = secret(readers.clone(), false);
        let gone = secret(readers.clone(), true);
        let mut reborn = secret(readers, false);
        reborn.versions.retain(|version| version.number == 3);
        let cases: &[(&Secret, Reader, Option<u32>, Read)] = &[
            (
                &live,
                Reader::Person { role: Role::Owner },
                None,
                Read::Granted { version: 3 },
            ),
            (
                &live,
                Reader::Person { role: Role::Admin },
                Some(1),
                Read::Granted { version: 1 },
            ),
            (
                &live,
                Reader::Person { role: Role::Member },
                None,
                Read::Denied(Denial::NotAReader),
            ),
            (
                &live,
                Reader::Person { role: Role::Auditor },
                None,
                Read::Denied(Denial::NotAReader),
            ),
            (&live, Reader::Key { id: "svc1" }, None, Read::Granted { version: 3 }),
            (
                &live,
                Reader::Key { id: "svc2" },
                None,
                Read::Denied(Denial::NotAReader),
            ),
            (
                &live,
                Reader::Key { id: "svc1" },
                Some(9),
                Read::Denied(Denial::NoSuchVersion),
            ),
            (&gone, Reader::Key { id: "svc1" }, None, Read::Denied(Denial::Shredded)),
            // Created again after a shred: the earlier life's versions are gone.
            (
                &reborn,
                Reader::Key { id: "svc1" },
                Some(1),
                Read::Denied(Denial::Shredded),
            ),
            (&reborn, Reader::Key { id: "svc1" }, None, Read::Granted { version: 3 }),
            (
                &reborn,
                Reader::Key { id: "svc1" },
                Some(9),
                Read::Denied(Denial::NoSuchVersion),
            ),
            // A non-reader learns nothing of the secret's state.
            (
                &gone,
                Reader::Person { role: Role::Member },
                Some(9),
                Read::Denied(Denial::NotAReader),
            ),
        ];
        for (secret, reader, version, expected) in cases {
            assert_eq!(read(secret, *reader, *version), *expected, "{reader:?} {version:?}");
        }
    }

    #[test]
    fn names_values_and_reasons_are_checked() {
        for name in ["db", "stripe.api-key", "a", "0_x", &"a".repeat(100)] {
            assert_eq!(check_name(name), Ok(()), "{name}");
        }
        for name in ["", "Db", "-db", ".db", "db/x", "db x", "dé", &"a".repeat(101)] {
            assert!(check_name(name).is_err(), "{name}");
        }
        assert!(check_value("").is_err());
        assert!(check_value(&"x".repeat(MAX_VALUE)).is_ok());
        assert!(check_value(&"x".repeat(MAX_VALUE + 1)).is_err());
        for reason in ["INC-42", "deploy 2026-12-05"] {
            assert_eq!(check_reason(reason), Ok(()), "{reason}");
        }
        for reason in ["", "  ", "ab", "a\nb c", &"r".repeat(201)] {
            assert!(check_reason(reason).is_err(), "{reason:?}");
        }
    }

    #[test]
    fn changes_follow_the_secret_s_life() {
        let live = secret(default_readers(), false);
        let gone = secret(default_readers(), true);
        let c = context();
        assert_eq!(
            create(&c, Some(&live), "o", "db", "", default_readers(), sealed()).unwrap_err(),
            Rejection::Exists
        );
        // Created again after a shred: the numbers go on, on the same subject.
        let again = create(&c, Some(&gone), "o", "db", "", default_readers(), sealed()).unwrap();
        assert_eq!(again.data["version"], 4);
        assert_eq!(again.expected_version, Some(4));
        let new = create(&c, None, "o", "db", "", default_readers(), sealed()).unwrap();
        assert_eq!((new.data["version"].as_u64(), new.expected_version), (Some(1), Some(0)));
        assert!(create(&c, None, "o", "Bad", "", default_readers(), sealed()).is_err());

        let added = add_version(&c, Some(&live), sealed()).unwrap();
        assert_eq!(added.data["version"], 4);
        assert_eq!(add_version(&c, Some(&gone), sealed()).unwrap_err(), Rejection::Shredded);
        assert_eq!(add_version(&c, None, sealed()).unwrap_err(), Rejection::NotFound);

        let rolled = roll_back(&c, Some(&live), 1).unwrap();
        assert_eq!(
            (rolled.data["version"].as_u64(), rolled.data["from"].as_u64()),
            (Some(1), Some(3))
        );
        assert!(roll_back(&c, Some(&live), 3).is_err(), "current already");
        assert!(roll_back(&c, Some(&live), 7).is_err(), "no such version");
        let mut reborn = secret(default_readers(), false);
        reborn.versions.retain(|version| version.number == 3);
        assert!(
            matches!(roll_back(&c, Some(&reborn), 1), Err(Rejection::Invalid { message, .. }) if message.contains("shredded")),
            "a version of the earlier life"
        );

        let first = accessed(&c, &live, "api_key:svc9", 3, " deploy ");
        assert_eq!(
            (first.data["new_reader"].as_bool(), first.data["reason"].as_str()),
            (Some(true), Some("deploy"))
        );
        let again = accessed(&c, &live, "api_key:svc1", 3, "deploy");
        assert!(again.data.get("new_reader").is_none(), "not new: left out");

        for reason in ["", "  ", "no"] {
            assert!(
                shred(&c, Some(&live), reason).is_err(),
                "{reason:?}: a reason is required"
            );
        }
        let shred_event = shred(&c, Some(&live), "leaked in a log").unwrap().unwrap();
        assert_eq!(shred_event.data["versions"], 3);
        assert!(shred(&c, Some(&gone), "again").unwrap().is_none());

        let many = Readers {
            roles: Default::default(),
            keys: (0..=MAX_READER_KEYS).map(|n| n.to_string()).collect(),
        };
        assert!(change_readers(&c, Some(&live), many).is_err());
    }
}
