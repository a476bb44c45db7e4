//! Managing an org's users: creating or inviting one, changing a role or a
//! status, ending a user's sessions, and a user accepting their
//! invitation. Who may do what to whom is [`role_grants`]; every change
//! records old and new values and is decided on the user's version.
//!
//! Users of another org do not exist for a manager: the flow looks the
//! user up in the manager's org only, and a miss is a 404 before any rule.

use chrono::{DateTime, Duration, Utc};

use super::role_grants::{self, Grant, GrantRefusal, StepUp};
use super::{revocation, step_up};
use crate::commands::Context;
use crate::commands::account::{self, Invitation, PasswordSet, Role, RoleChanged, Status, StatusChanged, UserCreated};
use crate::commands::mfa::{self, FactorsReset};
use crate::commands::session::RevocationReason;
use crate::event::NewEvent;

/// How long an invitation link is valid.
pub const INVITATION_LIFETIME: Duration = Duration::days(7);

/// The manager who asks, in their current session.
#[derive(Debug, Clone)]
pub struct Manager<'a> {
    pub context: &'a Context,
    pub id: &'a str,
    pub org: &'a str,
    pub role: Role,
    /// Whether the session's last strong authentication is recent enough
    /// for a step-up (`step_up::require`).
    pub recent_authentication: Result<(), step_up::Rejection>,
}

impl<'a> Manager<'a> {
    /// A service or vendor key with `users:write`: it may do what an admin
    /// may do without a step-up, and nothing that needs one (a key never
    /// authenticates strongly and recently: creating an admin or changing
    /// a role stays a person's act).
    pub fn key(context: &'a Context, id: &'a str, org: &'a str) -> Self {
        Manager {
            context,
            id,
            org,
            role: Role::Admin,
            recent_authentication: Err(step_up::Rejection::NotAPerson),
        }
    }
}

/// A user of the manager's org, as the accounts read model holds them.
#[derive(Debug, Clone)]
pub struct Member<'a> {
    pub id: &'a str,
    pub role: Role,
    pub status: Status,
    pub version: u64,
    /// The ids of the user's live sessions.
    pub sessions: &'a [&'a str],
}

/// Why a manager's command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The manager's role may not do this.
    Grant(GrantRefusal),
    /// The grant needs a recent strong authentication.
    StepUp(step_up::Rejection),
    /// Nobody changes their own role or status.
    OwnAccount,
    /// An invited user becomes active by accepting the invitation only.
    Invited,
    /// `invited` is not a status a manager sets.
    UnsettableStatus,
    /// Recovery is for active users (a disabled one is enabled first).
    Inactive,
    /// A reset of second factors for a user who has none.
    NoSecondFactor,
    /// The session is not a live session of that user.
    NoSuchSession,
}

/// Applies [`role_grants::decide`], and the step-up it asks for. Every
/// decision here starts with it; a flow may ask it first, before costly
/// work on the request (hashing a password).
pub fn authorize(manager: &Manager, grant: Grant) -> Result<(), Rejection> {
    match role_grants::decide(manager.role, grant).map_err(Rejection::Grant)? {
        StepUp::NotRequired => Ok(()),
        StepUp::Required => manager.recent_authentication.map_err(Rejection::StepUp),
    }
}

/// A user to create: active with a password, or invited.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: String,
    /// Normalized and checked (`account::valid_email`).
    pub email: String,
    pub display_name: String,
    pub role: Role,
    /// Active at once, with this password.
    pub password: Option<PasswordSet>,
    /// Invited: the hash of the invitation link's token (when no password).
    pub invitation_token_hash: Option<String>,
}

/// Creates (or invites) a user in the manager's org. The email is claimed
/// by the append: a taken one is refused there.
pub fn create(manager: &Manager, user: NewUser, now: DateTime<Utc>) -> Result<Vec<NewEvent>, Rejection> {
    authorize(manager, Grant::Create(user.role))?;
    let invitation = match &user.password {
        Some(_) => None,
        None => user.invitation_token_hash.map(|token_hash| Invitation {
            token_hash,
            expires_at: now + INVITATION_LIFETIME,
        }),
    };
    let created = UserCreated {
        org: manager.org.to_string(),
        email: user.email,
        display_name: user.display_name,
        role: user.role,
        status: if user.password.is_some() {
            Status::Active
        } else {
            Status::Invited
        },
        invitation,
        import_id: None,
        legacy_id: None,
    };
    let mut events = vec![account::create(manager.context, &user.id, &created)];
    if let Some(set) = &user.password {
        events.push(account::set_password(manager.context, &user.id, Some(1), set));
    }
    Ok(events)
}

/// A change a manager asks for: a role, a status, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub role: Option<Role>,
    pub status: Option<Status>,
}

/// Changes a user's role and/or status. Disabling a user ends their
/// sessions in the same append.
pub fn change(manager: &Manager, user: &Member, change: Change) -> Result<Vec<NewEvent>, Rejection> {
    change_for(manager, user, change, None)
}

/// [`change`], with the reason a change of status records.
pub fn change_for(
    manager: &Manager,
    user: &Member,
    change: Change,
    reason: Option<&str>,
) -> Result<Vec<NewEvent>, Rejection> {
    if user.id == manager.id {
        return Err(Rejection::OwnAccount);
    }
    let grant = match change.role {
        Some(role) => Grant::Change {
            from: user.role,
            to: role,
        },
        None => Grant::ActOn(user.role),
    };
    authorize(manager, grant)?;
    let mut version = user.version;
    let mut events = Vec::new();
    if let Some(role) = change.role.filter(|role| *role != user.role) {
        events.push(account::change_role(
            manager.context,
            user.id,
            version,
            &RoleChanged {
                org: manager.org.to_string(),
                old: user.role,
                new: role,
            },
        ));
        version += 1;
    }
    match change.status {
        Some(Status::Invited) => return Err(Rejection::UnsettableStatus),
        Some(new) if new != user.status => {
            if user.status == Status::Invited {
                return Err(Rejection::Invited);
            }
            events.push(account::change_status(
                manager.context,
                user.id,
                version,
                &StatusChanged {
                    old: user.status,
                    new,
                    reason: reason.map(str::to_string),
                },
            ));
            if new == Status::Disabled {
                let sessions = user.sessions.iter().copied();
                events.extend(revocation::revoke_all(
                    manager.context,
                    user.id,
                    sessions,
                    None,
                    RevocationReason::UserDisabled,
                ));
            }
        }
        _ => {}
    }
    Ok(events)
}

/// Ends every session of a user of the manager's org.
pub fn revoke_sessions(manager: &Manager, user: &Member) -> Result<Vec<NewEvent>, Rejection> {
    authorize(manager, Grant::ActOn(user.role))?;
    let sessions = user.sessions.iter().copied();
    Ok(revocation::revoke_all(
        manager.context,
        user.id,
        sessions,
        None,
        RevocationReason::RevokedByAdmin,
    ))
}

/// An owner or admin signs out one session of a user of their org (a
/// device the user lost): a live session of that very user only.
pub fn revoke_session(manager: &Manager, user: &Member, session: &str) -> Result<Vec<NewEvent>, Rejection> {
    authorize(manager, Grant::ActOn(user.role))?;
    if !user.sessions.contains(&session) {
        return Err(Rejection::NoSuchSession);
    }
    Ok(revocation::revoke_all(
        manager.context,
        user.id,
        std::iter::once(session),
        None,
        RevocationReason::RevokedByAdmin,
    ))
}

/// An owner or admin recovers a user's account (sends a reset link,
/// resets the second factors): acting on the user's role, always after a
/// recent strong authentication (a stolen session must not hand an
/// account's recovery to its mailbox), never on one's own account (the
/// account's own settings are there for that), and for an active user.
pub fn recover(manager: &Manager, user: &Member) -> Result<(), Rejection> {
    if manager.id == user.id {
        return Err(Rejection::OwnAccount);
    }
    authorize(manager, Grant::ActOn(user.role))?;
    manager.recent_authentication.map_err(Rejection::StepUp)?;
    match user.status {
        Status::Active => Ok(()),
        Status::Invited => Err(Rejection::Invited),
        Status::Disabled => Err(Rejection::Inactive),
    }
}

/// A user's second factors, as the read model holds them.
#[derive(Debug, Clone)]
pub struct Factors<'a> {
    /// The version of `mfa:<user>`: the reset is decided on it.
    pub version: u64,
    /// An authenticator app, confirmed or being set up.
    pub totp: bool,
    /// The passkeys' credential ids.
    pub passkeys: &'a [String],
    pub backup_codes: bool,
}

/// An owner or admin removes every second factor of a user who lost them
/// ([`recover`]'s rules), for a reason. Every session of the user ends: a
/// lost phone or laptop may still hold one. The user then signs in with
/// their password and sets up a factor as the org's policy asks.
pub fn reset_second_factors(
    manager: &Manager,
    user: &Member,
    factors: &Factors,
    reason: &str,
) -> Result<Vec<NewEvent>, Rejection> {
    recover(manager, user)?;
    factors_reset(manager.context, user.id, user.sessions, factors, reason, None)
}

/// The same by the operator (`warden users recover --second-factors`):
/// the break-glass for an org whose only owner lost their factors. Only
/// an active user.
pub fn reset_second_factors_by_operator(
    context: &Context,
    user: &Member,
    factors: &Factors,
    reason: &str,
    os_user: &str,
) -> Result<Vec<NewEvent>, Rejection> {
    if user.status != Status::Active {
        return Err(Rejection::Inactive);
    }
    factors_reset(context, user.id, user.sessions, factors, reason, Some(os_user))
}

fn factors_reset(
    context: &Context,
    user: &str,
    sessions: &[&str],
    factors: &Factors,
    reason: &str,
    os_user: Option<&str>,
) -> Result<Vec<NewEvent>, Rejection> {
    if !factors.totp && factors.passkeys.is_empty() && !factors.backup_codes {
        return Err(Rejection::NoSecondFactor);
    }
    let mut events = vec![mfa::reset(
        context,
        factors.version,
        &FactorsReset {
            user: user.to_string(),
            totp: factors.totp,
            passkeys: factors.passkeys.to_vec(),
            backup_codes: factors.backup_codes,
            reason: reason.to_string(),
            os_user: os_user.map(str::to_string),
        },
    )];
    events.extend(revocation::revoke_all(
        context,
        user,
        sessions.iter().copied(),
        None,
        RevocationReason::SecondFactorsReset,
    ));
    Ok(events)
}

/// The invited user a link's token names, as the read model holds them.
#[derive(Debug, Clone)]
pub struct Invitee<'a> {
    pub id: &'a str,
    pub status: Status,
    pub version: u64,
    pub invitation: Option<&'a Invitation>,
}

/// Why an invitation was not accepted: one answer for a link that never
/// existed, was used, or expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidLink;

/// Accepts an invitation with a first password (checked and sealed): the
/// user becomes active. The flow then opens their session through
/// `sign_in` like any sign-in by password.
pub fn accept_invitation(
    context: &Context,
    invitee: Option<&Invitee>,
    password: &PasswordSet,
    now: DateTime<Utc>,
) -> Result<Vec<NewEvent>, InvalidLink> {
    let invitee = invitee
        .filter(|invitee| invitee.status == Status::Invited)
        .filter(|invitee| invitee.invitation.is_some_and(|invitation| now < invitation.expires_at))
        .ok_or(InvalidLink)?;
    Ok(vec![
        account::accept_invitation(context, invitee.id, invitee.version),
        account::set_password(context, invitee.id, Some(invitee.version + 1), password),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sign_in::fixtures::{caller, now};

    fn password() -> PasswordSet {
        let fixture = include_str!("../../tests/fixtures/events/password.set.json");
        serde_json::from_str(fixture).unwrap()
    }

    fn kinds(events: &[NewEvent]) -> Vec<&str> {
        events.iter().map(|event| event.kind.as_str()).collect()
    }

    const STALE: Result<(), step_up::Rejection> = Err(step_up::Rejection::ReauthenticationRequired {
        with_second_factor: true,
    });

    fn manager(context: &Context, role: Role, recent: bool) -> Manager<'_> {
        Manager {
            context,
            id: "manager",
            org: "o-1",
            role,
            recent_authentication: if recent { Ok(()) } else { STALE },
        }
    }

    fn new_user(role: Role, password: bool) -> NewUser {
        NewUser {
            id: "u-new".into(),
            email: "new@acme.test".into(),
            display_name: "New".into(),
            role,
            password: password.then(super::tests::password),
            invitation_token_hash: Some("hash".into()),
        }
    }

    #[test]
    fn a_key_does_what_an_admin_does_without_a_step_up_and_nothing_more() {
        let context = caller().as_key("K", "o-1", None);
        let key = Manager::key(&context, "K", "o-1");
        let not_a_person = Rejection::StepUp(step_up::Rejection::NotAPerson);
        assert_eq!(
            kinds(&create(&key, new_user(Role::Member, false), now()).unwrap()),
            ["user.created"]
        );
        assert_eq!(
            create(&key, new_user(Role::Admin, false), now()).unwrap_err(),
            not_a_person
        );
        assert_eq!(
            create(&key, new_user(Role::Owner, false), now()).unwrap_err(),
            Rejection::Grant(GrantRefusal::OwnerOnly(Role::Owner))
        );
        assert_eq!(authorize(&key, Grant::ActOn(Role::Admin)), Ok(()));
        assert_eq!(
            authorize(
                &key,
                Grant::Change {
                    from: Role::Member,
                    to: Role::Admin
                }
            ),
            Err(not_a_person)
        );
    }

    #[test]
    fn creating_users_table() {
        let context = caller().as_user("manager", "o-1");
        let step_up = Rejection::StepUp(step_up::Rejection::ReauthenticationRequired {
            with_second_factor: true,
        });
        // (manager's role, recently authenticated, role created, with a
        // password, outcome)
        type Row = (Role, bool, Role, bool, Result<&'static [&'static str], Rejection>);
        let rows: &[Row] = &[
            (
                Role::Admin,
                false,
                Role::Member,
                true,
                Ok(&["user.created", "password.set"]),
            ),
            (Role::Admin, false, Role::Member, false, Ok(&["user.created"])),
            (Role::Admin, false, Role::Admin, false, Err(step_up)),
            (Role::Admin, true, Role::Admin, false, Ok(&["user.created"])),
            (
                Role::Admin,
                true,
                Role::Owner,
                false,
                Err(Rejection::Grant(GrantRefusal::OwnerOnly(Role::Owner))),
            ),
            (
                Role::Admin,
                true,
                Role::Auditor,
                false,
                Err(Rejection::Grant(GrantRefusal::OwnerOnly(Role::Auditor))),
            ),
            (Role::Owner, true, Role::Auditor, false, Ok(&["user.created"])),
            (Role::Owner, false, Role::Owner, true, Err(step_up)),
            (
                Role::Member,
                true,
                Role::Member,
                true,
                Err(Rejection::Grant(GrantRefusal::NotAManager)),
            ),
            (
                Role::Auditor,
                true,
                Role::Member,
                true,
                Err(Rejection::Grant(GrantRefusal::NotAManager)),
            ),
        ];
        for (role, recent, created, with_password, expected) in rows.iter().copied() {
            let decided = create(
                &manager(&context, role, recent),
                new_user(created, with_password),
                now(),
            );
            assert_eq!(
                decided.as_deref().map(kinds).map_err(|rejection| *rejection),
                expected.map(<[&str]>::to_vec),
                "{role:?} creates {created:?} (recent: {recent})"
            );
            if let Ok(events) = decided {
                let data: UserCreated = serde_json::from_value(events[0].data.clone()).unwrap();
                assert_eq!(data.org, "o-1", "created in the manager's org");
                let invited = !with_password;
                assert_eq!(data.status == Status::Invited, invited);
                assert_eq!(
                    data.invitation.map(|invitation| invitation.expires_at),
                    invited.then(|| now() + INVITATION_LIFETIME)
                );
                assert_eq!(events[0].expected_version, Some(0));
            }
        }
    }

    #[test]
    fn recovering_users_table() {
        let context = caller().as_user("manager", "o-1");
        let member = |id, role, status| Member {
            id,
            role,
            status,
            version: 4,
            sessions: &[],
        };
        use Role::{Admin, Auditor, Member as M, Owner};
        use Status::{Active, Disabled, Invited};
        let stale = Err(Rejection::StepUp(step_up::Rejection::ReauthenticationRequired {
            with_second_factor: true,
        }));
        // (manager's role, recent, user, outcome)
        let rows: Vec<(Role, bool, Member, Result<(), Rejection>)> = vec![
            (Admin, true, member("u-1", M, Active), Ok(())),
            (Admin, true, member("u-1", Admin, Active), Ok(())),
            (Owner, true, member("u-1", Owner, Active), Ok(())),
            (Owner, true, member("u-1", Auditor, Active), Ok(())),
            // Always a step-up, even on a member.
            (Admin, false, member("u-1", M, Active), stale),
            (Owner, false, member("u-1", Owner, Active), stale),
            (
                Admin,
                true,
                member("u-1", Owner, Active),
                Err(Rejection::Grant(GrantRefusal::OwnerOnly(Owner))),
            ),
            (
                M,
                true,
                member("u-1", M, Active),
                Err(Rejection::Grant(GrantRefusal::NotAManager)),
            ),
            (
                Owner,
                true,
                member("manager", Owner, Active),
                Err(Rejection::OwnAccount),
            ),
            (Admin, true, member("u-1", M, Invited), Err(Rejection::Invited)),
            (Admin, true, member("u-1", M, Disabled), Err(Rejection::Inactive)),
        ];
        for (role, recent, user, expected) in rows {
            assert_eq!(
                recover(&manager(&context, role, recent), &user),
                expected,
                "{role:?} recent={recent} on {user:?}"
            );
        }
        // Resetting factors: the same rules, then the factors and the
        // sessions go; nothing to reset is refused.
        let sessions = ["s-1", "s-2"];
        let target = Member {
            sessions: &sessions,
            ..member("u-1", M, Active)
        };
        let passkeys = ["cred-1".to_string()];
        let factors = Factors {
            version: 9,
            totp: true,
            passkeys: &passkeys,
            backup_codes: true,
        };
        let owner = manager(&context, Owner, true);
        let events = reset_second_factors(&owner, &target, &factors, "lost phone").unwrap();
        assert_eq!(kinds(&events), ["mfa.reset", "session.revoked", "session.revoked"]);
        assert_eq!(events[0].expected_version, Some(9));
        assert_eq!(events[0].data["passkeys"], serde_json::json!(["cred-1"]));
        assert_eq!(events[1].data["reason"], "second_factors_reset");
        let none = Factors {
            version: 9,
            totp: false,
            passkeys: &[],
            backup_codes: false,
        };
        assert_eq!(
            reset_second_factors(&owner, &target, &none, "lost phone").unwrap_err(),
            Rejection::NoSecondFactor
        );
        assert_eq!(
            reset_second_factors(&manager(&context, Admin, false), &target, &factors, "lost phone").unwrap_err(),
            Rejection::StepUp(step_up::Rejection::ReauthenticationRequired {
                with_second_factor: true
            })
        );
        let by_operator =
            reset_second_factors_by_operator(&context, &member("u-1", Owner, Active), &factors, "locked out", "root")
                .unwrap();
        assert_eq!(by_operator[0].data["os_user"], "root");
        assert_eq!(
            reset_second_factors_by_operator(&context, &member("u-1", Owner, Disabled), &factors, "x", "root")
                .unwrap_err(),
            Rejection::Inactive
        );

        // A key never recovers an account (no person, no step-up).
        let key = Manager::key(&context, "k-1", "o-1");
        assert_eq!(
            recover(&key, &member("u-1", M, Active)),
            Err(Rejection::StepUp(step_up::Rejection::NotAPerson))
        );
    }

    #[test]
    fn changing_users_table() {
        let context = caller().as_user("manager", "o-1");
        let sessions = ["s-1", "s-2"];
        let member = |id, role, status| Member {
            id,
            role,
            status,
            version: 4,
            sessions: &sessions,
        };
        let change_to = |role, status| Change { role, status };
        use Role::{Admin, Owner};
        use Status::{Active, Disabled, Invited};
        // (manager's role, recent, user, change, outcome)
        type Row<'a> = (Role, bool, Member<'a>, Change, Result<Vec<&'static str>, Rejection>);
        let rows: Vec<Row> = vec![
            (
                Admin,
                true,
                member("manager", Admin, Active),
                change_to(Some(Role::Member), None),
                Err(Rejection::OwnAccount),
            ),
            (
                Admin,
                true,
                member("u-1", Role::Member, Active),
                change_to(Some(Admin), None),
                Ok(vec!["user.role_changed"]),
            ),
            (
                Admin,
                false,
                member("u-1", Role::Member, Active),
                change_to(Some(Admin), None),
                Err(Rejection::StepUp(step_up::Rejection::ReauthenticationRequired {
                    with_second_factor: true,
                })),
            ),
            (
                Admin,
                false,
                member("u-1", Role::Member, Active),
                change_to(None, Some(Disabled)),
                Ok(vec!["user.disabled", "session.revoked", "session.revoked"]),
            ),
            (
                Admin,
                false,
                member("u-1", Role::Member, Disabled),
                change_to(None, Some(Active)),
                Ok(vec!["user.enabled"]),
            ),
            (
                Admin,
                false,
                member("u-1", Role::Member, Active),
                change_to(None, Some(Active)),
                Ok(vec![]),
            ),
            (
                Admin,
                false,
                member("u-1", Role::Member, Invited),
                change_to(None, Some(Active)),
                Err(Rejection::Invited),
            ),
            (
                Admin,
                false,
                member("u-1", Role::Member, Active),
                change_to(None, Some(Invited)),
                Err(Rejection::UnsettableStatus),
            ),
            (
                Admin,
                true,
                member("u-1", Owner, Active),
                change_to(None, Some(Disabled)),
                Err(Rejection::Grant(GrantRefusal::OwnerOnly(Owner))),
            ),
            (
                Owner,
                true,
                member("u-1", Role::Member, Active),
                change_to(Some(Admin), Some(Disabled)),
                Ok(vec![
                    "user.role_changed",
                    "user.disabled",
                    "session.revoked",
                    "session.revoked",
                ]),
            ),
        ];
        for (role, recent, user, asked, expected) in rows {
            let decided = change(&manager(&context, role, recent), &user, asked);
            assert_eq!(
                decided.as_deref().map(kinds).map_err(|rejection| *rejection),
                expected,
                "{role:?} changes {:?} by {asked:?}",
                user.status
            );
            if let Ok(events) = decided {
                // Each change of the user is decided on the version after the last.
                let versions: Vec<Option<u64>> = events
                    .iter()
                    .filter(|event| event.subject == "user:u-1")
                    .map(|event| event.expected_version)
                    .collect();
                let expected: Vec<Option<u64>> = (0..versions.len() as u64).map(|i| Some(4 + i)).collect();
                assert_eq!(versions, expected);
            }
        }
    }

    #[test]
    fn revoking_a_users_sessions_table() {
        let context = caller().as_user("manager", "o-1");
        let sessions = ["s-1"];
        // (manager's role, user's role, outcome)
        let rows = [
            (Role::Admin, Role::Member, Ok(vec!["session.revoked"])),
            (
                Role::Admin,
                Role::Auditor,
                Err(Rejection::Grant(GrantRefusal::OwnerOnly(Role::Auditor))),
            ),
            (Role::Owner, Role::Auditor, Ok(vec!["session.revoked"])),
            (
                Role::Member,
                Role::Member,
                Err(Rejection::Grant(GrantRefusal::NotAManager)),
            ),
        ];
        for (role, user_role, expected) in rows {
            let user = Member {
                id: "u-1",
                role: user_role,
                status: Status::Active,
                version: 1,
                sessions: &sessions,
            };
            let decided = revoke_sessions(&manager(&context, role, false), &user);
            assert_eq!(
                decided.as_deref().map(kinds).map_err(|rejection| *rejection),
                expected,
                "{role:?} on {user_role:?}"
            );
        }
    }

    #[test]
    fn revoking_one_session_of_a_user_table() {
        let context = caller().as_user("manager", "o-1");
        let sessions = ["s-1", "s-2"];
        // (manager's role, user's role, session, outcome)
        let rows = [
            (Role::Admin, Role::Member, "s-2", Ok(vec!["session.revoked"])),
            (Role::Owner, Role::Admin, "s-1", Ok(vec!["session.revoked"])),
            (Role::Admin, Role::Member, "s-3", Err(Rejection::NoSuchSession)),
            (Role::Admin, Role::Member, "", Err(Rejection::NoSuchSession)),
            (
                Role::Admin,
                Role::Owner,
                "s-1",
                Err(Rejection::Grant(GrantRefusal::OwnerOnly(Role::Owner))),
            ),
            (
                Role::Auditor,
                Role::Member,
                "s-1",
                Err(Rejection::Grant(GrantRefusal::NotAManager)),
            ),
        ];
        for (role, user_role, session, expected) in rows {
            let user = Member {
                id: "u-1",
                role: user_role,
                status: Status::Active,
                version: 1,
                sessions: &sessions,
            };
            let decided = revoke_session(&manager(&context, role, false), &user, session);
            assert_eq!(
                decided.as_deref().map(kinds).map_err(|rejection| *rejection),
                expected,
                "{role:?} on {user_role:?}, {session}"
            );
            if let Ok(events) = decided {
                assert_eq!(events.len(), 1);
                assert_eq!(events[0].subject, format!("session:{session}"));
            }
        }
    }

    #[test]
    fn accepting_an_invitation_table() {
        let context = caller().as_user("u-1", "o-1");
        let live = Invitation {
            token_hash: "hash".into(),
            expires_at: now() + Duration::days(1),
        };
        let expired = Invitation {
            token_hash: "hash".into(),
            expires_at: now(),
        };
        let invitee = |status, invitation| Invitee {
            id: "u-1",
            status,
            version: 1,
            invitation,
        };
        // (the invitee the token names, accepted)
        let rows = [
            (None, false),
            (Some(invitee(Status::Invited, Some(&live))), true),
            (Some(invitee(Status::Invited, Some(&expired))), false),
            (Some(invitee(Status::Invited, None)), false),
            (Some(invitee(Status::Active, Some(&live))), false),
            (Some(invitee(Status::Disabled, Some(&live))), false),
        ];
        for (invitee, accepted) in rows {
            let decided = accept_invitation(&context, invitee.as_ref(), &password(), now());
            match decided {
                Ok(events) => {
                    assert!(accepted, "{invitee:?}");
                    assert_eq!(kinds(&events), ["user.invitation_accepted", "password.set"]);
                    let versions: Vec<_> = events.iter().map(|event| event.expected_version).collect();
                    assert_eq!(versions, [Some(1), Some(2)]);
                }
                Err(InvalidLink) => assert!(!accepted, "{invitee:?}"),
            }
        }
    }
}
