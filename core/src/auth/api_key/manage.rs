//! Creating, changing, rotating and revoking keys: what an owner or admin
//! may set, checked once here for the API and the console alike.

use chrono::{DateTime, Duration, Utc};

pub use super::settings::{
    Draft, MAX_LIMITS, MAX_NETWORKS, MAX_SCOPES, MAX_WINDOW_SECONDS, Patch, TicketMatcher, ticket_matcher,
};
use super::settings::{checked, checked_expiry, is_service_name};
use super::{Key, scopes};
use crate::commands::Context;
use crate::commands::account::Role;
use crate::commands::api_key::{self, KeyChanged, KeyCreated, KeyKind, KeyRevoked, KeyRotated, Owner, SecretDigest};
use crate::event::NewEvent;
use crate::net::IpNet;

/// Most keys an org holds (revoked ones included: they stay listed).
pub const MAX_KEYS_PER_ORG: usize = 100_000;
/// The longest grace of a rotated secret: 7 days.
pub const MAX_GRACE_SECONDS: u64 = 7 * 86_400;

/// Why a change to a key was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No key of this org has that id.
    NotFound,
    /// A revoked key cannot change or rotate.
    Revoked,
    /// The org has [`MAX_KEYS_PER_ORG`] keys.
    TooManyKeys,
    /// A setting is not allowed: which, and why.
    Invalid { field: &'static str, message: String },
}

pub(super) fn invalid(field: &'static str, message: impl Into<String>) -> Rejection {
    Rejection::Invalid {
        field,
        message: message.into(),
    }
}

/// What the flow knows of the org when a key is created.
#[derive(Debug, Clone, Copy)]
pub struct OrgFacts {
    pub keys: usize,
    /// The role of the manager who creates the key.
    pub granter: Role,
    /// The owner's role, when the owner is an active user of this org.
    pub owner_role: Option<Role>,
}

/// A key of Warden's API gets only scopes its granter's role holds, and
/// its owner's when a user owns it (`scopes`: a key never does what its
/// people could not). App keys' scopes are the application's.
fn granted(kind: KeyKind, scopes: &[String], granter: Role, owner: Option<Role>) -> Result<(), Rejection> {
    if kind == KeyKind::App {
        return Ok(());
    }
    for scope in scopes {
        if !scopes::holds(granter, scope) {
            return Err(invalid(
                "scopes",
                format!(
                    "{scope:?}: your role ({}) does not hold it, so it cannot grant it",
                    granter.as_str()
                ),
            ));
        }
        if let Some(owner) = owner.filter(|owner| !scopes::holds(*owner, scope)) {
            return Err(invalid(
                "scopes",
                format!("{scope:?}: the key's owner ({}) does not hold it", owner.as_str()),
            ));
        }
    }
    Ok(())
}

/// A new key `id` of `org` whose secret is `secret`.
#[allow(clippy::too_many_arguments)]
pub fn create(
    context: &Context,
    id: &str,
    org: &str,
    kind: KeyKind,
    owner: Owner,
    draft: Draft,
    secret: SecretDigest,
    facts: OrgFacts,
    now: DateTime<Utc>,
) -> Result<NewEvent, Rejection> {
    if facts.keys >= MAX_KEYS_PER_ORG {
        return Err(Rejection::TooManyKeys);
    }
    match &owner {
        Owner::User { .. } if facts.owner_role.is_none() => {
            return Err(invalid("owner", "the owner must be an active user of this org"));
        }
        Owner::Service { name } if !is_service_name(name) => {
            return Err(invalid(
                "owner",
                "a service name is 1 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit",
            ));
        }
        _ => {}
    }
    let settings = checked(kind, draft, now)?;
    let owner_role = match owner {
        Owner::User { .. } => facts.owner_role,
        Owner::Service { .. } => None,
    };
    granted(kind, &settings.scopes, facts.granter, owner_role)?;
    let created = KeyCreated {
        key: id.to_string(),
        org: org.to_string(),
        kind,
        owner,
        settings,
        secret,
    };
    Ok(api_key::created(context, &created))
}

/// Applies `patch` to `key` (`None`, or a key of another org: not found)
/// for a manager of role `granter`. No event when nothing changes.
pub fn change(
    context: &Context,
    org: &str,
    key: Option<&Key>,
    patch: Patch,
    granter: Role,
    now: DateTime<Utc>,
) -> Result<Option<NewEvent>, Rejection> {
    let key = live(org, key)?;
    let old = &key.settings;
    let draft = Draft {
        name: patch.name.unwrap_or_else(|| old.name.clone()),
        scopes: patch.scopes.unwrap_or_else(|| old.scopes.clone()),
        expires_at: patch.expires_at.unwrap_or(old.expires_at),
        allowed_networks: patch
            .allowed_networks
            .unwrap_or_else(|| old.allowed_networks.iter().map(IpNet::to_string).collect()),
        limits: patch.limits.unwrap_or_else(|| old.limits.clone()),
        remaining_uses: patch.remaining_uses.unwrap_or(old.remaining_uses),
        ticket_pattern: patch.ticket_pattern.unwrap_or_else(|| old.ticket_pattern.clone()),
    };
    // An expiry already past stays allowed when it does not change.
    let keeps_expiry = draft.expires_at == old.expires_at;
    let mut settings = checked(
        key.kind,
        Draft {
            expires_at: None,
            ..draft.clone()
        },
        now,
    )?;
    // New scopes only: what an owner granted stays when an admin changes
    // the key's limits.
    let added: Vec<String> = settings
        .scopes
        .iter()
        .filter(|scope| !old.scopes.contains(scope))
        .cloned()
        .collect();
    granted(key.kind, &added, granter, None)?;
    if keeps_expiry {
        settings.expires_at = old.expires_at;
    } else {
        settings.expires_at = checked_expiry(draft.expires_at, now)?;
    }
    let mut changed = Vec::new();
    let mut note = |same: bool, name: &str| {
        if !same {
            changed.push(name.to_string());
        }
    };
    note(settings.name == old.name, "name");
    note(settings.scopes == old.scopes, "scopes");
    note(settings.expires_at == old.expires_at, "expires_at");
    note(settings.allowed_networks == old.allowed_networks, "allowed_networks");
    note(settings.limits == old.limits, "limits");
    // Setting the uses left counts, even to the same number: it restarts
    // the count from this event.
    note(patch.remaining_uses.is_none(), "remaining_uses");
    note(settings.ticket_pattern == old.ticket_pattern, "ticket_pattern");
    if changed.is_empty() {
        return Ok(None);
    }
    let event = KeyChanged {
        key: key.id.clone(),
        org: key.org.clone(),
        settings,
        changed,
    };
    Ok(Some(api_key::changed(context, &event, key.version)))
}

/// A new secret for `key`; the one before keeps working for
/// `grace_seconds`.
pub fn rotate(
    context: &Context,
    org: &str,
    key: Option<&Key>,
    secret: SecretDigest,
    grace_seconds: u64,
    now: DateTime<Utc>,
) -> Result<NewEvent, Rejection> {
    let key = live(org, key)?;
    if grace_seconds > MAX_GRACE_SECONDS {
        return Err(invalid(
            "grace_seconds",
            "the grace period is 0 to 604800 seconds (7 days)",
        ));
    }
    let rotated = KeyRotated {
        key: key.id.clone(),
        org: key.org.clone(),
        secret,
        previous_valid_until: now + Duration::seconds(i64::try_from(grace_seconds).unwrap_or(0)),
    };
    Ok(api_key::rotated(context, &rotated, key.version))
}

/// Revokes `key`; a key already revoked stays so, with no new event.
pub fn revoke(context: &Context, org: &str, key: Option<&Key>, reason: &str) -> Result<Option<NewEvent>, Rejection> {
    let key = key.filter(|key| key.org == org).ok_or(Rejection::NotFound)?;
    if key.revoked_at.is_some() {
        return Ok(None);
    }
    if reason.chars().count() > 500 || reason.chars().any(char::is_control) {
        return Err(invalid("reason", "at most 500 characters, without control characters"));
    }
    let revoked = KeyRevoked {
        key: key.id.clone(),
        org: key.org.clone(),
        reason: reason.trim().to_string(),
    };
    Ok(Some(api_key::revoked(context, &revoked, key.version)))
}

fn live<'a>(org: &str, key: Option<&'a Key>) -> Result<&'a Key, Rejection> {
    let key = key.filter(|key| key.org == org).ok_or(Rejection::NotFound)?;
    if key.revoked_at.is_some() {
        return Err(Rejection::Revoked);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::Caller;
    use crate::commands::api_key::{KeyCreated, RateLimit, Settings};

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn context() -> Context {
        Caller::default().as_user("u-admin", "org-1")
    }

    fn secret() -> SecretDigest {
        SecretDigest {
            digest: "d".repeat(64),
            hint: "dddd".into(),
        }
    }

    fn facts() -> OrgFacts {
        OrgFacts {
            keys: 0,
            granter: Role::Owner,
            owner_role: Some(Role::Owner),
        }
    }

    fn draft(name: &str) -> Draft {
        Draft {
            name: name.into(),
            ..Draft::default()
        }
    }

    fn create_with(kind: KeyKind, draft: Draft) -> Result<Settings, Rejection> {
        let event = create(
            &context(),
            "KKKKKKKKKKKKKKKK",
            "org-1",
            kind,
            Owner::User { id: "u-1".into() },
            draft,
            secret(),
            facts(),
            now(),
        )?;
        let created: KeyCreated = serde_json::from_value(event.data).unwrap();
        Ok(created.settings)
    }

    fn field_of(result: Result<Settings, Rejection>) -> &'static str {
        match result {
            Err(Rejection::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn settings_are_checked_and_written_canonically() {
        let settings = create_with(
            KeyKind::App,
            Draft {
                name: "  billing  ".into(),
                scopes: vec!["b:write".into(), "a:read".into(), "b:write".into()],
                allowed_networks: vec!["10.1.2.3/8".into(), "10.0.0.0/8".into(), "2001:db8::1".into()],
                ..draft("")
            },
        )
        .unwrap();
        assert_eq!(settings.name, "billing");
        assert_eq!(settings.scopes, ["a:read", "b:write"]);
        let networks: Vec<String> = settings.allowed_networks.iter().map(IpNet::to_string).collect();
        assert_eq!(networks, ["10.0.0.0/8", "2001:db8::1/128"]);
    }

    #[test]
    fn vendor_keys_are_never_unlimited_by_omission() {
        let vendor = |limits: Vec<RateLimit>| Draft {
            limits,
            ticket_pattern: Some("^SUP-[0-9]+$".into()),
            ..draft("helpdesk")
        };
        let given = create_with(KeyKind::Vendor, vendor(Vec::new())).unwrap();
        assert_eq!(given.limits, super::super::settings::vendor_default_limits());
        let own = vec![RateLimit {
            name: "per_second".into(),
            limit: 5,
            window_seconds: 1,
        }];
        assert_eq!(create_with(KeyKind::Vendor, vendor(own.clone())).unwrap().limits, own);
        assert!(
            create_with(KeyKind::App, draft("app")).unwrap().limits.is_empty(),
            "only vendors"
        );
    }

    #[test]
    fn bad_settings_name_their_field() {
        let limit = |name: &str, limit: u64, window_seconds: u64| RateLimit {
            name: name.into(),
            limit,
            window_seconds,
        };
        let cases: Vec<(KeyKind, Draft, &str)> = vec![
            (KeyKind::App, draft(""), "name"),
            (KeyKind::App, draft("a\u{7}b"), "name"),
            (KeyKind::App, draft(&"x".repeat(101)), "name"),
            (
                KeyKind::App,
                Draft {
                    scopes: vec!["Audit:Read".into()],
                    ..draft("k")
                },
                "scopes",
            ),
            (
                KeyKind::App,
                Draft {
                    scopes: vec!["".into()],
                    ..draft("k")
                },
                "scopes",
            ),
            (
                KeyKind::Service,
                Draft {
                    scopes: vec!["invoices:read".into()],
                    ..draft("k")
                },
                "scopes",
            ),
            (
                KeyKind::App,
                Draft {
                    allowed_networks: vec!["10.0.0.0/33".into()],
                    ..draft("k")
                },
                "allowed_networks",
            ),
            (
                KeyKind::App,
                Draft {
                    allowed_networks: vec!["example.org".into()],
                    ..draft("k")
                },
                "allowed_networks",
            ),
            (
                KeyKind::App,
                Draft {
                    limits: vec![limit("per second", 1, 1)],
                    ..draft("k")
                },
                "limits",
            ),
            (
                KeyKind::App,
                Draft {
                    limits: vec![limit("s", 0, 1)],
                    ..draft("k")
                },
                "limits",
            ),
            (
                KeyKind::App,
                Draft {
                    limits: vec![limit("s", 1, 0)],
                    ..draft("k")
                },
                "limits",
            ),
            (
                KeyKind::App,
                Draft {
                    limits: vec![limit("s", 1, MAX_WINDOW_SECONDS + 1)],
                    ..draft("k")
                },
                "limits",
            ),
            (
                KeyKind::App,
                Draft {
                    limits: vec![limit("s", 1, 1), limit("s", 2, 2)],
                    ..draft("k")
                },
                "limits",
            ),
            (
                KeyKind::App,
                Draft {
                    remaining_uses: Some(0),
                    ..draft("k")
                },
                "remaining_uses",
            ),
            (
                KeyKind::App,
                Draft {
                    expires_at: Some(now()),
                    ..draft("k")
                },
                "expires_at",
            ),
            (
                KeyKind::App,
                Draft {
                    ticket_pattern: Some("^[A-Z]+$".into()),
                    ..draft("k")
                },
                "ticket_pattern",
            ),
            (KeyKind::Vendor, draft("k"), "ticket_pattern"),
            (
                KeyKind::Vendor,
                Draft {
                    ticket_pattern: Some("([A-Z]".into()),
                    ..draft("k")
                },
                "ticket_pattern",
            ),
            (
                KeyKind::Vendor,
                Draft {
                    ticket_pattern: Some("a{1000}{1000}".into()),
                    ..draft("k")
                },
                "ticket_pattern",
            ),
        ];
        for (kind, draft, field) in cases {
            let shown = format!("{kind:?} {draft:?}");
            assert_eq!(field_of(create_with(kind, draft)), field, "{shown}");
        }
        assert!(
            create_with(
                KeyKind::Service,
                Draft {
                    scopes: vec!["audit:read".into()],
                    ..draft("siem")
                }
            )
            .is_ok()
        );
        let vendor = create_with(
            KeyKind::Vendor,
            Draft {
                ticket_pattern: Some("[A-Z]+-[0-9]+".into()),
                ..draft("support")
            },
        )
        .unwrap();
        let matcher = ticket_matcher(vendor.ticket_pattern.as_deref().unwrap()).unwrap();
        assert!(matcher.is_match("SUP-42"));
        assert!(!matcher.is_match("xSUP-42"), "matched whole");
    }

    /// A key never does what its people could not: an admin grants no
    /// audit scope, a key owned by an admin gets none from an owner, and a
    /// change adds only scopes its maker holds (what is there stays).
    #[test]
    fn scopes_of_wardens_api_are_granted_by_roles_that_hold_them() {
        let cases = [
            (KeyKind::Service, Role::Owner, Some(Role::Owner), "audit:read", true),
            (KeyKind::Service, Role::Admin, Some(Role::Admin), "audit:read", false),
            (KeyKind::Service, Role::Owner, Some(Role::Admin), "audit:read", false),
            (KeyKind::Service, Role::Owner, None, "audit:export", true),
            (KeyKind::Service, Role::Admin, None, "users:write", true),
            (KeyKind::Vendor, Role::Admin, None, "audit:read", false),
            (KeyKind::Vendor, Role::Admin, None, "tickets:read", true),
            (KeyKind::App, Role::Admin, Some(Role::Admin), "audit:read", true),
        ];
        for (kind, granter, owner_role, scope, allowed) in cases {
            let owner = match owner_role {
                Some(_) => Owner::User { id: "u".into() },
                None => Owner::Service { name: "siem".into() },
            };
            let result = create(
                &context(),
                "K",
                "org-1",
                kind,
                owner,
                Draft {
                    scopes: vec![scope.into()],
                    ticket_pattern: (kind == KeyKind::Vendor).then(|| "^SUP-[0-9]+$".into()),
                    ..draft("k")
                },
                secret(),
                OrgFacts {
                    keys: 0,
                    granter,
                    owner_role,
                },
                now(),
            );
            assert_eq!(
                result.is_ok(),
                allowed,
                "{kind:?} by {granter:?} for {owner_role:?}: {scope}"
            );
        }
        let mut key = existing();
        key.kind = KeyKind::Service;
        key.settings.scopes = vec!["audit:read".into()];
        let add = |scopes: &[&str]| Patch {
            scopes: Some(scopes.iter().map(|scope| scope.to_string()).collect()),
            ..Patch::default()
        };
        assert!(
            change(
                &context(),
                "org-1",
                Some(&key),
                add(&["audit:read", "users:read"]),
                Role::Admin,
                now()
            )
            .is_ok()
        );
        assert!(matches!(
            change(
                &context(),
                "org-1",
                Some(&key),
                add(&["audit:export"]),
                Role::Admin,
                now()
            ),
            Err(Rejection::Invalid { field: "scopes", .. })
        ));
    }

    #[test]
    fn owners_and_the_org_cap_are_checked() {
        let make = |owner: Owner, facts: OrgFacts| {
            create(
                &context(),
                "K",
                "org-1",
                KeyKind::App,
                owner,
                draft("k"),
                secret(),
                facts,
                now(),
            )
        };
        let inactive = OrgFacts {
            owner_role: None,
            ..facts()
        };
        assert!(matches!(
            make(Owner::User { id: "u".into() }, inactive),
            Err(Rejection::Invalid { field: "owner", .. })
        ));
        assert!(
            make(
                Owner::Service {
                    name: "nightly-export".into()
                },
                inactive
            )
            .is_ok(),
            "a service owner needs no user"
        );
        assert!(matches!(
            make(
                Owner::Service {
                    name: "Bad Name".into()
                },
                facts()
            ),
            Err(Rejection::Invalid { field: "owner", .. })
        ));
        let full = OrgFacts {
            keys: MAX_KEYS_PER_ORG,
            ..facts()
        };
        assert_eq!(
            make(Owner::User { id: "u".into() }, full).unwrap_err(),
            Rejection::TooManyKeys
        );
    }

    fn existing() -> Key {
        let settings = create_with(
            KeyKind::App,
            Draft {
                scopes: vec!["a".into()],
                remaining_uses: Some(10),
                ..draft("k")
            },
        )
        .unwrap();
        let mut key = super::super::test_key();
        key.settings = settings;
        key.secret = secret();
        key.created_at = now();
        key.created_by = Some("u-admin".into());
        key.version = 3;
        key.uses_since_set = 4;
        key
    }

    #[test]
    fn changes_name_what_changed_and_keep_the_rest() {
        let key = existing();
        let patch: Patch = serde_json::from_str(r#"{"scopes":["a","b"],"remaining_uses":null}"#).unwrap();
        let event = change(&context(), "org-1", Some(&key), patch, Role::Owner, now())
            .unwrap()
            .unwrap();
        assert_eq!(event.expected_version, Some(3));
        let changed: KeyChanged = serde_json::from_value(event.data).unwrap();
        assert_eq!(changed.changed, ["scopes", "remaining_uses"]);
        assert_eq!(changed.settings.scopes, ["a", "b"]);
        assert_eq!(changed.settings.remaining_uses, None);
        assert_eq!(changed.settings.name, "k");
        let same: Patch = serde_json::from_str(r#"{"name":"k"}"#).unwrap();
        assert!(
            change(&context(), "org-1", Some(&key), same, Role::Owner, now())
                .unwrap()
                .is_none()
        );
        let again: Patch = serde_json::from_str(r#"{"remaining_uses":10}"#).unwrap();
        let event = change(&context(), "org-1", Some(&key), again, Role::Owner, now())
            .unwrap()
            .unwrap();
        let changed: KeyChanged = serde_json::from_value(event.data).unwrap();
        assert_eq!(
            changed.changed,
            ["remaining_uses"],
            "setting the uses restarts their count"
        );
    }

    #[test]
    fn other_orgs_keys_do_not_exist_and_revoked_keys_do_not_change() {
        let key = existing();
        assert_eq!(
            change(&context(), "org-2", Some(&key), Patch::default(), Role::Owner, now()).unwrap_err(),
            Rejection::NotFound
        );
        assert_eq!(
            rotate(&context(), "org-2", Some(&key), secret(), 0, now()).unwrap_err(),
            Rejection::NotFound
        );
        assert_eq!(
            revoke(&context(), "org-2", Some(&key), "").unwrap_err(),
            Rejection::NotFound
        );
        assert_eq!(revoke(&context(), "org-1", None, "").unwrap_err(), Rejection::NotFound);
        let mut revoked = existing();
        revoked.revoked_at = Some(now());
        assert_eq!(
            change(
                &context(),
                "org-1",
                Some(&revoked),
                Patch::default(),
                Role::Owner,
                now()
            )
            .unwrap_err(),
            Rejection::Revoked
        );
        assert_eq!(
            rotate(&context(), "org-1", Some(&revoked), secret(), 0, now()).unwrap_err(),
            Rejection::Revoked
        );
        assert!(
            revoke(&context(), "org-1", Some(&revoked), "").unwrap().is_none(),
            "revoking twice is no new fact"
        );
        assert!(
            revoke(&context(), "org-1", Some(&key), "leaked in a log")
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn rotation_grace_is_zero_to_seven_days() {
        let key = existing();
        for (grace, ok) in [(0, true), (MAX_GRACE_SECONDS, true), (MAX_GRACE_SECONDS + 1, false)] {
            let result = rotate(&context(), "org-1", Some(&key), secret(), grace, now());
            assert_eq!(result.is_ok(), ok, "{grace}");
            if let Ok(event) = result {
                let rotated: KeyRotated = serde_json::from_value(event.data).unwrap();
                assert_eq!(rotated.previous_valid_until, now() + Duration::seconds(grace as i64));
            }
        }
    }
}
