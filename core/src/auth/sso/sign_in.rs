//! Whose account a verified identity signs in, and what that records:
//! the account linked to the identity; else, by a verified address at a
//! domain an owner acknowledged on the connection, the org's account with
//! that address (linked now, its invitation accepted if it had one
//! pending), or a new one (just in time); else a refusal
//! that says why. Identities are stable by the provider's subject, never
//! by address: an account linked once signs in by its subject even after
//! the provider changes the address.
//!
//! Nothing here does I/O or reads a clock.

use super::id_token::{Identity, Refused};
use crate::commands::Context;
use crate::commands::account::{self, Role, RoleChanged, Status, UserCreated};
use crate::commands::sso::Connection;
use crate::commands::sso::Provisioning;
use crate::commands::sso::sign_in::{self as events, Failure, Linked, Provisioned, SignInResult as Outcome};
use crate::event::NewEvent;

/// An account as the decision reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: String,
    pub org: String,
    pub email: String,
    pub role: Role,
    pub status: Status,
    /// The version of `user:<id>`.
    pub version: u64,
}

/// What the sign-in does to accounts, and whose it is.
#[derive(Debug, Clone)]
pub struct Decided {
    pub outcome: Outcome,
    /// The account that signs in (new: the id the flow drew).
    pub user: String,
    pub role: Role,
    /// The events that create, link or update the account (none for an
    /// account linked already whose role stays).
    pub events: Vec<NewEvent>,
}

fn refused(reason: Failure, detail: impl Into<String>) -> Refused {
    Refused {
        reason,
        detail: detail.into(),
    }
}

/// The role `identity`'s groups give under the connection's mapping.
pub fn mapped_role(connection: &Connection, identity: &Identity) -> Result<Role, Refused> {
    let mapping = &connection.settings.mapping;
    if identity.groups_overage && !mapping.roles.is_empty() {
        return Err(refused(
            Failure::GroupsOverage,
            "the provider left the groups out of the token (too many): have it send only the groups assigned to the application",
        ));
    }
    Ok(mapping
        .roles
        .iter()
        .find(|row| identity.groups.contains(&row.group))
        .map_or(mapping.default_role, |row| row.role))
}

/// The sign-in of `identity` through `connection`: `linked` is the
/// account linked to the identity, `by_email` the account with the
/// asserted address (any org's), `new_user` the id a new account gets.
pub fn decide(
    context: &Context,
    connection: &Connection,
    identity: &Identity,
    linked: Option<&Person>,
    by_email: Option<&Person>,
    new_user: &str,
) -> Result<Decided, Refused> {
    let role = mapped_role(connection, identity)?;
    let org = &connection.org;
    if let Some(person) = linked {
        if person.org != *org {
            return Err(refused(
                Failure::AnotherOrg,
                "the linked account is another organization's",
            ));
        }
        usable(person)?;
        let mut events = Vec::new();
        let sync = connection.settings.mapping.sync_roles;
        if sync && person.role != role && person.role != Role::Owner {
            let change = RoleChanged {
                org: org.clone(),
                old: person.role,
                new: role,
            };
            events.push(account::change_role(context, &person.id, person.version, &change));
        }
        let role = if sync && person.role != Role::Owner {
            role
        } else {
            person.role
        };
        return Ok(Decided {
            outcome: Outcome::SignedIn,
            user: person.id.clone(),
            role,
            events,
        });
    }
    let email = identity.email.as_deref().ok_or_else(|| {
        refused(
            Failure::MissingClaim,
            format!(
                "the provider sent no {} claim, and no account is linked to this identity yet",
                connection.settings.mapping.email
            ),
        )
    })?;
    if !identity.email_verified {
        return Err(refused(
            Failure::EmailNotVerified,
            format!(
                "the provider does not say {email} is verified (email_verified), so no account is linked or created by it"
            ),
        ));
    }
    let domain = email.rsplit_once('@').map_or("", |(_, domain)| domain);
    if !connection.serves(domain) {
        return Err(refused(
            Failure::DomainNotServed,
            format!("{domain} is not a domain an owner acknowledged on this connection"),
        ));
    }
    let provisioning = connection.settings.provisioning;
    match by_email {
        Some(person) if person.org != *org => Err(refused(
            Failure::AnotherOrg,
            format!("{email} is an account of another organization: it is not linked"),
        )),
        Some(_) if provisioning == Provisioning::Off => Err(refused(
            Failure::NotProvisioned,
            format!("no account is linked to this identity, and the connection links none ({email} exists)"),
        )),
        Some(person) => {
            // An invitation is accepted by signing in: the provider proved
            // the invited address (where single sign-on is required, no
            // password is ever set).
            let mut events = Vec::new();
            if person.status == Status::Invited {
                events.push(account::accept_invitation(context, &person.id, person.version));
            } else {
                usable(person)?;
            }
            let linked = Linked {
                user: person.id.clone(),
                org: org.clone(),
                connection: connection.id.clone(),
                name: connection.settings.name.clone(),
                subject: identity.subject.clone(),
                email: email.to_string(),
            };
            Ok(Decided {
                outcome: Outcome::Linked,
                user: person.id.clone(),
                role: person.role,
                events: {
                    events.push(events::linked(context, &linked));
                    events
                },
            })
        }
        None if provisioning != Provisioning::JustInTime => Err(refused(
            Failure::NotProvisioned,
            format!("{email} has no account, and the connection creates none"),
        )),
        None => {
            let name = identity
                .name
                .as_deref()
                .map(str::trim)
                .filter(|name| !name.is_empty() && name.chars().count() <= 100 && !name.chars().any(char::is_control))
                .unwrap_or_else(|| email.split('@').next().unwrap_or(email));
            let created = UserCreated {
                org: org.clone(),
                email: email.to_string(),
                display_name: name.to_string(),
                role,
                status: Status::Active,
                invitation: None,
                import_id: None,
                legacy_id: None,
            };
            let provisioned = Provisioned {
                user: new_user.to_string(),
                org: org.clone(),
                connection: connection.id.clone(),
                name: connection.settings.name.clone(),
                subject: identity.subject.clone(),
                email: email.to_string(),
                role,
                groups: identity.groups.clone(),
            };
            Ok(Decided {
                outcome: Outcome::Provisioned,
                user: new_user.to_string(),
                role,
                events: vec![
                    account::create(context, new_user, &created),
                    events::provisioned(context, &provisioned),
                ],
            })
        }
    }
}

fn usable(person: &Person) -> Result<(), Refused> {
    match person.status {
        Status::Active => Ok(()),
        Status::Disabled => Err(refused(
            Failure::AccountDisabled,
            format!("{} is disabled", person.email),
        )),
        Status::Invited => Err(refused(
            Failure::AccountInvited,
            format!("{} has not accepted their invitation yet", person.email),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::DateTime;

    use super::*;
    use crate::auth::sso::settings::{Typed, check};
    use crate::commands::sso::Acknowledgement;
    use crate::event::{Actor, ActorKind};

    fn context() -> Context {
        Context {
            actor: Actor::of_kind(ActorKind::Anonymous),
            request_id: "r".into(),
        }
    }

    fn connection(provisioning: &str, sync: bool) -> Connection {
        let settings = check(
            &Typed {
                name: "Acme".into(),
                preset: "generic".into(),
                issuer: "https://idp.acme.test".into(),
                client_id: "c".into(),
                domains: vec!["acme.test".into(), "acme.example".into()],
                provisioning: provisioning.into(),
                email_claim: "email".into(),
                name_claim: "name".into(),
                groups_claim: "groups".into(),
                roles: vec![("admins".into(), "admin".into()), ("audit".into(), "auditor".into())],
                default_role: "member".into(),
                sync_roles: sync,
                ..Typed::default()
            },
            false,
        )
        .unwrap();
        let by = Acknowledgement {
            by: "owner".into(),
            at: DateTime::from_timestamp(0, 0).unwrap(),
        };
        Connection {
            id: "c1".into(),
            org: "acme".into(),
            settings,
            enabled: true,
            acknowledged: BTreeMap::from([("acme.test".to_string(), by)]),
            version: 4,
        }
    }

    fn identity(email: &str, verified: bool, groups: &[&str]) -> Identity {
        Identity {
            subject: "sub-1".into(),
            email: Some(email.into()),
            email_verified: verified,
            name: Some("Alice Example".into()),
            groups: groups.iter().map(|group| group.to_string()).collect(),
            groups_overage: false,
            upstream_mfa: false,
            auth_time: None,
        }
    }

    fn person(org: &str, status: Status, role: Role) -> Person {
        Person {
            id: "u1".into(),
            org: org.into(),
            email: "alice@acme.test".into(),
            role,
            status,
            version: 7,
        }
    }

    type Outcomes = Result<(Outcome, Role, Vec<&'static str>), Failure>;

    fn run(
        connection: &Connection,
        identity: &Identity,
        linked: Option<&Person>,
        by_email: Option<&Person>,
    ) -> Outcomes {
        decide(&context(), connection, identity, linked, by_email, "u-new")
            .map(|decided| {
                let kinds = decided
                    .events
                    .iter()
                    .map(|event| match event.kind.as_str() {
                        "user.created" => "user.created",
                        "user.provisioned" => "user.provisioned",
                        "user.linked" => "user.linked",
                        "user.role_changed" => "user.role_changed",
                        "user.invitation_accepted" => "user.invitation_accepted",
                        _ => "other",
                    })
                    .collect();
                (decided.outcome, decided.role, kinds)
            })
            .map_err(|refused| refused.reason)
    }

    #[test]
    fn who_signs_in() {
        let jit = connection("just_in_time", false);
        let link_only = connection("link_only", false);
        let off = connection("off", false);
        let synced = connection("just_in_time", true);
        let active = person("acme", Status::Active, Role::Member);
        let admin = person("acme", Status::Active, Role::Admin);
        let owner = person("acme", Status::Active, Role::Owner);
        let disabled = person("acme", Status::Disabled, Role::Member);
        let invited = person("acme", Status::Invited, Role::Member);
        let globex = person("globex", Status::Active, Role::Member);
        let alice = identity("alice@acme.test", true, &["admins"]);
        type Case<'a> = (
            &'a str,
            &'a Connection,
            &'a Identity,
            Option<&'a Person>,
            Option<&'a Person>,
            Outcomes,
        );
        let cases: &[Case] = &[
            (
                "linked",
                &off,
                &alice,
                Some(&active),
                None,
                Ok((Outcome::SignedIn, Role::Member, vec![])),
            ),
            (
                "linked, synced",
                &synced,
                &alice,
                Some(&active),
                None,
                Ok((Outcome::SignedIn, Role::Admin, vec!["user.role_changed"])),
            ),
            (
                "linked admin, synced, same",
                &synced,
                &alice,
                Some(&admin),
                None,
                Ok((Outcome::SignedIn, Role::Admin, vec![])),
            ),
            (
                "an owner keeps owner",
                &synced,
                &alice,
                Some(&owner),
                None,
                Ok((Outcome::SignedIn, Role::Owner, vec![])),
            ),
            (
                "linked but disabled",
                &jit,
                &alice,
                Some(&disabled),
                None,
                Err(Failure::AccountDisabled),
            ),
            (
                "linked elsewhere",
                &jit,
                &alice,
                Some(&globex),
                None,
                Err(Failure::AnotherOrg),
            ),
            (
                "new, just in time",
                &jit,
                &alice,
                None,
                None,
                Ok((
                    Outcome::Provisioned,
                    Role::Admin,
                    vec!["user.created", "user.provisioned"],
                )),
            ),
            (
                "new, no group",
                &jit,
                &identity("bob@acme.test", true, &[]),
                None,
                None,
                Ok((
                    Outcome::Provisioned,
                    Role::Member,
                    vec!["user.created", "user.provisioned"],
                )),
            ),
            (
                "new, link only",
                &link_only,
                &alice,
                None,
                None,
                Err(Failure::NotProvisioned),
            ),
            (
                "existing, by address",
                &jit,
                &alice,
                None,
                Some(&active),
                Ok((Outcome::Linked, Role::Member, vec!["user.linked"])),
            ),
            (
                "existing, link only",
                &link_only,
                &alice,
                None,
                Some(&active),
                Ok((Outcome::Linked, Role::Member, vec!["user.linked"])),
            ),
            (
                "existing, off",
                &off,
                &alice,
                None,
                Some(&active),
                Err(Failure::NotProvisioned),
            ),
            (
                "existing, another org's",
                &jit,
                &alice,
                None,
                Some(&globex),
                Err(Failure::AnotherOrg),
            ),
            (
                "existing, disabled",
                &jit,
                &alice,
                None,
                Some(&disabled),
                Err(Failure::AccountDisabled),
            ),
            (
                "existing, invited: the sign-in accepts the invitation",
                &jit,
                &alice,
                None,
                Some(&invited),
                Ok((
                    Outcome::Linked,
                    Role::Member,
                    vec!["user.invitation_accepted", "user.linked"],
                )),
            ),
            (
                "unverified",
                &jit,
                &identity("alice@acme.test", false, &[]),
                None,
                Some(&active),
                Err(Failure::EmailNotVerified),
            ),
            (
                "unverified, new",
                &jit,
                &identity("carol@acme.test", false, &[]),
                None,
                None,
                Err(Failure::EmailNotVerified),
            ),
            (
                "listed, not acknowledged",
                &jit,
                &identity("a@acme.example", true, &[]),
                None,
                None,
                Err(Failure::DomainNotServed),
            ),
            (
                "not listed",
                &jit,
                &identity("a@globex.test", true, &[]),
                None,
                None,
                Err(Failure::DomainNotServed),
            ),
        ];
        for (case, connection, identity, linked, by_email, expected) in cases {
            assert_eq!(&run(connection, identity, *linked, *by_email), expected, "{case}");
        }
    }

    #[test]
    fn no_address_and_no_link_is_a_missing_claim() {
        let mut nobody = identity("x@acme.test", true, &[]);
        nobody.email = None;
        assert_eq!(
            run(&connection("just_in_time", false), &nobody, None, None),
            Err(Failure::MissingClaim)
        );
    }

    #[test]
    fn groups_left_out_refuse_a_mapping_that_needs_them() {
        let mut overage = identity("alice@acme.test", true, &[]);
        overage.groups_overage = true;
        assert_eq!(
            run(&connection("just_in_time", false), &overage, None, None),
            Err(Failure::GroupsOverage)
        );
        let mut plain = connection("just_in_time", false);
        plain.settings.mapping.roles.clear();
        assert!(run(&plain, &overage, None, None).is_ok());
    }

    #[test]
    fn a_new_account_is_claimed_with_its_identity() {
        let decided = decide(
            &context(),
            &connection("just_in_time", false),
            &identity("alice@acme.test", true, &["audit"]),
            None,
            None,
            "u-new",
        )
        .unwrap();
        assert_eq!(decided.role, Role::Auditor);
        assert_eq!(decided.events[0].data["display_name"], "Alice Example");
        assert_eq!(decided.events[1].claims[0].value, "c1:sub-1");
    }
}
