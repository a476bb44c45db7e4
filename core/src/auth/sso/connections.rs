//! What creating, changing, acknowledging a domain of, enabling,
//! disabling and removing a single sign-on connection records, or why
//! not (decision 0035).
//!
//! A domain routes sign-ins and lets a provider create and link accounts
//! only once an owner acknowledged it on that connection, and one
//! connection in all of Warden serves it: an org cannot take in the
//! people of a domain another org's provider already answers for. A
//! change of issuer withdraws every acknowledgement, since the owner
//! vouched for that provider, not for whichever replaces it.
//!
//! Nothing here does I/O or reads a clock.

use std::fmt;

use crate::commands::Context;
use crate::commands::account::Role;
use crate::commands::sso::{
    self, Connection, ConnectionChanged, ConnectionCreated, ConnectionRef, DomainAcknowledged, Settings,
};
use crate::event::NewEvent;
use crate::keys::Sealed;

/// The most connections one org keeps.
pub const MOST: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The org has [`MOST`] already.
    TooMany,
    /// Another connection (of this org or another) serves the domain.
    DomainTaken(String),
    /// Accounts of another org have addresses at the domain: its people
    /// are not (only) this org's.
    DomainInUse(String),
    /// Only owners vouch for a domain.
    NotOwner,
    /// The domain is not one of the connection's.
    DomainNotListed(String),
    /// An enabled connection is disabled before it is removed.
    Enabled,
}

impl Refusal {
    /// Whether the refusal is about the state rather than the request
    /// (409), or who asks (403).
    pub fn status(&self) -> u16 {
        match self {
            Refusal::TooMany | Refusal::DomainTaken(_) | Refusal::DomainInUse(_) | Refusal::Enabled => 409,
            Refusal::NotOwner => 403,
            Refusal::DomainNotListed(_) => 400,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::TooMany => write!(
                f,
                "an org keeps at most {MOST} single sign-on connections; remove one first"
            ),
            Refusal::DomainTaken(domain) => write!(
                f,
                "domains: another single sign-on connection serves {domain}; remove it there first"
            ),
            Refusal::DomainInUse(domain) => write!(
                f,
                "domain: accounts of another organization have addresses at {domain}, so it cannot be this organization's"
            ),
            Refusal::NotOwner => write!(f, "only an owner can acknowledge a domain"),
            Refusal::DomainNotListed(domain) => {
                write!(f, "domain: {domain} is not one of this connection's domains")
            }
            Refusal::Enabled => write!(f, "disable the connection before removing it"),
        }
    }
}

/// The first of `settings`' domains that another connection serves
/// (`served`: each acknowledged domain of every connection but this one).
fn taken(settings: &Settings, mut served: impl FnMut(&str) -> bool) -> Option<String> {
    settings.domains.iter().find(|domain| served(domain)).cloned()
}

/// A new connection `id` of `org` (which keeps `count`), its client
/// secret sealed; `served` tells whether another connection serves a
/// domain.
pub fn decide_create(
    context: &Context,
    id: &str,
    org: &str,
    settings: Settings,
    client_secret: Sealed<String>,
    count: usize,
    served: impl FnMut(&str) -> bool,
) -> Result<NewEvent, Refusal> {
    if count >= MOST {
        return Err(Refusal::TooMany);
    }
    if let Some(domain) = taken(&settings, served) {
        return Err(Refusal::DomainTaken(domain));
    }
    let created = ConnectionCreated {
        connection: id.to_string(),
        org: org.to_string(),
        settings,
        client_secret,
    };
    Ok(sso::created(context, &created))
}

/// `connection` with `settings` (and a new secret, if any); `None` when
/// that changes nothing.
pub fn decide_change(
    context: &Context,
    connection: &Connection,
    settings: Settings,
    client_secret: Option<Sealed<String>>,
    mut served: impl FnMut(&str) -> bool,
) -> Result<Option<NewEvent>, Refusal> {
    if settings == connection.settings && client_secret.is_none() {
        return Ok(None);
    }
    // Only a domain the change adds is refused: one it listed already may
    // have been acknowledged elsewhere since, which changes nothing here.
    let listed = &connection.settings.domains;
    if let Some(domain) = taken(&settings, |domain| {
        !listed.iter().any(|held| held == domain) && served(domain)
    }) {
        return Err(Refusal::DomainTaken(domain));
    }
    let old = &connection.settings.upstream;
    let same_provider = match (old, &settings.upstream) {
        (sso::Upstream::Oidc(old), sso::Upstream::Oidc(new)) => old.issuer == new.issuer && old.tenants == new.tenants,
    };
    let unacknowledged = connection
        .acknowledged
        .keys()
        .filter(|domain| !same_provider || !settings.domains.contains(domain))
        .cloned()
        .collect();
    let changed = ConnectionChanged {
        connection: connection.id.clone(),
        org: connection.org.clone(),
        settings,
        client_secret,
        unacknowledged,
    };
    Ok(Some(sso::changed(context, &changed, connection.version)))
}

/// An owner (`role`) vouching for `domain` on `connection`; `None` when
/// they did already. `served` tells whether another connection serves a
/// domain, `elsewhere` whether another org's accounts have addresses there.
pub fn decide_acknowledge(
    context: &Context,
    role: Role,
    connection: &Connection,
    domain: &str,
    mut served: impl FnMut(&str) -> bool,
    mut elsewhere: impl FnMut(&str) -> bool,
) -> Result<Option<NewEvent>, Refusal> {
    if role != Role::Owner {
        return Err(Refusal::NotOwner);
    }
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    if !connection.settings.domains.contains(&domain) {
        return Err(Refusal::DomainNotListed(domain));
    }
    if connection.serves(&domain) {
        return Ok(None);
    }
    if served(&domain) {
        return Err(Refusal::DomainTaken(domain));
    }
    if elsewhere(&domain) {
        return Err(Refusal::DomainInUse(domain));
    }
    let acknowledged = DomainAcknowledged {
        connection: connection.id.clone(),
        org: connection.org.clone(),
        name: connection.settings.name.clone(),
        domain,
    };
    Ok(Some(sso::domain_acknowledged(
        context,
        &acknowledged,
        connection.version,
    )))
}

fn reference(connection: &Connection) -> ConnectionRef {
    ConnectionRef {
        connection: connection.id.clone(),
        org: connection.org.clone(),
        name: connection.settings.name.clone(),
    }
}

/// Turns `connection` on or off; `None` when it is so already.
pub fn decide_enable(context: &Context, connection: &Connection, enable: bool) -> Option<NewEvent> {
    if connection.enabled == enable {
        return None;
    }
    let reference = reference(connection);
    Some(match enable {
        true => sso::enabled(context, &reference, connection.version),
        false => sso::disabled(context, &reference, connection.version),
    })
}

/// Removes a disabled `connection` (the flow shreds its secret after).
pub fn decide_remove(context: &Context, connection: &Connection) -> Result<NewEvent, Refusal> {
    if connection.enabled {
        return Err(Refusal::Enabled);
    }
    let acknowledged: Vec<String> = connection.acknowledged.keys().cloned().collect();
    Ok(sso::removed(
        context,
        &reference(connection),
        connection.version,
        &acknowledged,
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::DateTime;

    use super::*;
    use crate::auth::sso::settings::{Typed, check};
    use crate::commands::sso::{Acknowledgement, Upstream};
    use crate::event::{Actor, ActorKind};

    fn context() -> Context {
        Context {
            actor: Actor::of_kind(ActorKind::User),
            request_id: "r".into(),
        }
    }

    fn settings(issuer: &str, domains: &[&str]) -> Settings {
        check(
            &Typed {
                name: "Acme".into(),
                preset: "generic".into(),
                issuer: issuer.into(),
                client_id: "c".into(),
                domains: domains.iter().map(|domain| domain.to_string()).collect(),
                provisioning: "just_in_time".into(),
                email_claim: "email".into(),
                name_claim: "name".into(),
                groups_claim: "groups".into(),
                default_role: "member".into(),
                ..Typed::default()
            },
            false,
        )
        .unwrap()
    }

    fn connection(acknowledged: &[&str], enabled: bool) -> Connection {
        Connection {
            id: "c1".into(),
            org: "o1".into(),
            settings: settings("https://idp.acme.test", &["acme.test", "acme.example"]),
            enabled,
            acknowledged: acknowledged
                .iter()
                .map(|domain| {
                    let by = Acknowledgement {
                        by: "owner".into(),
                        at: DateTime::from_timestamp(0, 0).unwrap(),
                    };
                    (domain.to_string(), by)
                })
                .collect::<BTreeMap<_, _>>(),
            version: 3,
        }
    }

    fn sealed() -> Sealed<String> {
        serde_json::from_value(serde_json::json!({"sealed": "v1", "subject": "sso_connection:c1", "key_id": "k", "nonce": "", "ciphertext": ""})).unwrap()
    }

    #[test]
    fn creating() {
        let made = |count, taken: &'static str| {
            decide_create(
                &context(),
                "c1",
                "o1",
                settings("https://idp.acme.test", &["acme.test"]),
                sealed(),
                count,
                |domain| domain == taken,
            )
        };
        let event = made(0, "").unwrap();
        assert_eq!(event.kind, sso::SSO_CONNECTION_CREATED);
        assert_eq!(event.subject, "sso_connection:c1");
        assert_eq!(made(MOST, "").unwrap_err(), Refusal::TooMany);
        assert_eq!(
            made(0, "acme.test").unwrap_err(),
            Refusal::DomainTaken("acme.test".into())
        );
    }

    /// (what changes, the domains the change withdraws; `None`: nothing
    /// to record).
    #[test]
    fn a_change_withdraws_what_the_owner_no_longer_vouches_for() {
        let cases: &[(&str, Settings, bool, Option<&[&str]>)] = &[
            ("nothing", connection(&[], false).settings, false, None),
            ("a new secret only", connection(&[], false).settings, true, Some(&[])),
            (
                "a domain removed",
                settings("https://idp.acme.test", &["acme.test"]),
                false,
                Some(&["acme.example"]),
            ),
            (
                "another issuer",
                settings("https://evil.example", &["acme.test", "acme.example"]),
                false,
                Some(&["acme.example", "acme.test"]),
            ),
            (
                "a domain added",
                settings("https://idp.acme.test", &["acme.test", "acme.example", "acme.org"]),
                false,
                Some(&[]),
            ),
        ];
        for (case, new, secret, withdrawn) in cases {
            let before = connection(&["acme.test", "acme.example"], true);
            let decided = decide_change(&context(), &before, new.clone(), secret.then(sealed), |_| false).unwrap();
            let withdrew = decided.map(|event| {
                let changed: ConnectionChanged = serde_json::from_value(event.data.clone()).unwrap();
                assert_eq!(event.expected_version, Some(3), "{case}");
                assert_eq!(event.releases.len(), changed.unacknowledged.len(), "{case}");
                changed.unacknowledged
            });
            let expected = withdrawn.map(|domains| domains.iter().map(|d| d.to_string()).collect::<Vec<_>>());
            assert_eq!(withdrew, expected, "{case}");
        }
        let before = connection(&[], false);
        let kept = decide_change(
            &context(),
            &before,
            settings("https://idp.acme.test", &["acme.test", "acme.example"]),
            Some(sealed()),
            |domain| domain == "acme.example",
        );
        assert!(
            kept.is_ok(),
            "a domain listed before and served elsewhere since is no refusal"
        );
        let refused = decide_change(
            &context(),
            &before,
            settings("https://idp.acme.test", &["acme.test", "globex.test"]),
            None,
            |domain| domain == "globex.test",
        );
        assert_eq!(refused.unwrap_err(), Refusal::DomainTaken("globex.test".into()));
    }

    #[test]
    fn only_owners_vouch_for_listed_domains_nobody_else_serves() {
        type Case = (
            &'static str,
            Role,
            &'static [&'static str],
            &'static str,
            &'static str,
            &'static str,
        );
        let cases: &[(Case, Result<bool, Refusal>)] = &[
            (("owner", Role::Owner, &[], "acme.test", "", ""), Ok(true)),
            (
                ("written otherwise", Role::Owner, &[], " ACME.test. ", "", ""),
                Ok(true),
            ),
            (("again", Role::Owner, &["acme.test"], "acme.test", "", ""), Ok(false)),
            (("admin", Role::Admin, &[], "acme.test", "", ""), Err(Refusal::NotOwner)),
            (
                ("auditor", Role::Auditor, &[], "acme.test", "", ""),
                Err(Refusal::NotOwner),
            ),
            (
                ("unlisted", Role::Owner, &[], "globex.test", "", ""),
                Err(Refusal::DomainNotListed("globex.test".into())),
            ),
            (
                ("served elsewhere", Role::Owner, &[], "acme.test", "acme.test", ""),
                Err(Refusal::DomainTaken("acme.test".into())),
            ),
            (
                ("another org's people", Role::Owner, &[], "acme.test", "", "acme.test"),
                Err(Refusal::DomainInUse("acme.test".into())),
            ),
        ];
        for ((case, role, held, domain, served, people), expected) in cases {
            let decided = decide_acknowledge(
                &context(),
                *role,
                &connection(held, false),
                domain,
                |d| d == *served,
                |d| d == *people,
            )
            .map(|event| {
                event.map(|event| {
                    assert_eq!(event.claims.len(), 1, "{case}: the domain is claimed");
                    event.data["domain"].clone()
                })
            });
            let expected = expected
                .clone()
                .map(|appends| appends.then(|| serde_json::json!("acme.test")));
            assert_eq!(decided, expected, "{case}");
        }
    }

    #[test]
    fn enabling_disabling_removing() {
        assert!(decide_enable(&context(), &connection(&[], false), false).is_none());
        let on = decide_enable(&context(), &connection(&[], false), true).unwrap();
        assert_eq!(on.kind, sso::SSO_CONNECTION_ENABLED);
        assert_eq!(on.data["name"], "Acme");
        let off = decide_enable(&context(), &connection(&[], true), false).unwrap();
        assert_eq!(off.kind, sso::SSO_CONNECTION_DISABLED);
        assert_eq!(
            decide_remove(&context(), &connection(&[], true)).unwrap_err(),
            Refusal::Enabled
        );
        let removed = decide_remove(&context(), &connection(&["acme.test"], false)).unwrap();
        assert_eq!(removed.kind, sso::SSO_CONNECTION_REMOVED);
        assert_eq!(removed.releases.len(), 1, "the domain it served is free again");
        assert!(matches!(connection(&[], false).settings.upstream, Upstream::Oidc(_)));
    }
}
