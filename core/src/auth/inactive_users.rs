//! Disabling the users nobody has seen for a while. An org's owners and
//! admins list the active users not seen for N days and disable them in
//! one act; their sessions end with them. Who is listed, and who is never
//! disabled this way, is [`decide`]; the act is [`disable`]. The flow
//! reads when each user was last seen and appends what `disable` returns.
//!
//! Single sign-on does not tell Warden when someone leaves the company
//! upstream: until SCIM, this is how their account stops working
//! (decision 0038).
//!
//! - **Seen** is the latest of: a full session opened or used (a sign-in
//!   by any method, or a request of a signed-in session; a password
//!   without its second factor is not a sign-in), the account's creation,
//!   and the last change of its role or status. An account enabled again
//!   yesterday is not disabled again today: someone just looked at it.
//!   Traffic of the API keys a user owns is a machine's, not theirs.
//! - **Never disabled this way:** owners (the org's way back in), the
//!   manager themselves, users whose role the manager may not act on (an
//!   admin and the auditors), and owners of API keys still in use (a key
//!   stops with its owner: the sweep must not stop an application; its
//!   keys move to a service owner first). They are listed apart, with the
//!   reason.
//! - **Not listed:** users who are not active (invited users' invitations
//!   expire on their own; disabled ones are disabled).
//! - The act is a person's, after a recent strong authentication: it can
//!   lock out many people at once. It disables only the users asked for
//!   that are still not seen when it runs, at most [`BATCH`] at a time.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};

use super::role_grants::{Grant, GrantRefusal};
use super::users::{self, Change, Manager, Member, Rejection};
use crate::commands::account::{Role, Status};
use crate::event::NewEvent;

/// The fewest days a user may go unseen before they are listed: less
/// would catch people on holiday.
pub const MIN_DAYS: u32 = 30;
/// The most days one may ask for (ten years).
pub const MAX_DAYS: u32 = 3650;
/// The most users one preview lists and one act disables.
pub const BATCH: usize = 500;

/// A number of days within [`MIN_DAYS`]`..=`[`MAX_DAYS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days(u32);

impl Days {
    pub fn new(days: u32) -> Result<Days, Refused> {
        (MIN_DAYS..=MAX_DAYS)
            .contains(&days)
            .then_some(Days(days))
            .ok_or(Refused::Days)
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// Users not seen since this time are inactive.
    pub fn cutoff(self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - Duration::days(i64::from(self.0))
    }
}

/// A user of the manager's org, with what tells when they were last seen.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub member: Member<'a>,
    pub created_at: DateTime<Utc>,
    /// The last change of the user's role or status.
    pub privileges_changed_at: DateTime<Utc>,
    /// The last full session opened or used.
    pub last_seen: Option<DateTime<Utc>>,
    /// The last valid use of an API key the user owns that still works.
    pub keys_last_used: Option<DateTime<Utc>>,
}

impl Candidate<'_> {
    /// When the user was last seen, as [`decide`] counts it.
    pub fn seen_at(&self) -> DateTime<Utc> {
        let changed = self.created_at.max(self.privileges_changed_at);
        self.last_seen.map_or(changed, |seen| seen.max(changed))
    }
}

/// What [`decide`] makes of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Seen since the cutoff, or not active: not listed.
    Seen,
    /// Not seen since the cutoff: disabled by the act.
    Inactive,
    /// Not seen since the cutoff, but never disabled this way.
    Kept(Kept),
}

/// Why an inactive user is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// Owners are the org's way back in.
    Owner,
    /// The manager themselves.
    Yourself,
    /// Only an owner acts on this role (an admin looking at auditors).
    OwnersOnly(Role),
    /// API keys the user owns were used since the cutoff: disabling the
    /// user would stop them.
    KeysInUse,
}

impl Kept {
    pub fn as_str(self) -> &'static str {
        match self {
            Kept::Owner => "owner",
            Kept::Yourself => "yourself",
            Kept::OwnersOnly(_) => "owners_only",
            Kept::KeysInUse => "keys_in_use",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Kept::Owner => "owners are never disabled for inactivity",
            Kept::Yourself => "you cannot disable yourself",
            Kept::OwnersOnly(_) => "only an owner acts on auditors",
            Kept::KeysInUse => {
                "owns API keys still in use, which would stop with them: move the work to keys a service owns first"
            }
        }
    }
}

/// Why the act is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Days outside `MIN_DAYS..=MAX_DAYS` (422).
    Days,
    /// More than [`BATCH`] users at once (422).
    TooMany,
    /// The manager may not, or must first confirm it's them.
    Manager(Rejection),
}

/// Whether `candidate` is listed as not seen for `days`, by whom.
pub fn decide(manager: &Manager, candidate: &Candidate, days: Days, now: DateTime<Utc>) -> Verdict {
    let member = &candidate.member;
    if member.status != Status::Active || candidate.seen_at() > days.cutoff(now) {
        return Verdict::Seen;
    }
    if member.role == Role::Owner {
        return Verdict::Kept(Kept::Owner);
    }
    if member.id == manager.id {
        return Verdict::Kept(Kept::Yourself);
    }
    if let Err(GrantRefusal::OwnerOnly(role)) = super::role_grants::decide(manager.role, Grant::ActOn(member.role)) {
        return Verdict::Kept(Kept::OwnersOnly(role));
    }
    // A manager who manages nobody is refused by `disable`.
    match candidate.keys_last_used.is_some_and(|used| used > days.cutoff(now)) {
        true => Verdict::Kept(Kept::KeysInUse),
        false => Verdict::Inactive,
    }
}

/// What the act did.
#[derive(Debug, Clone)]
pub struct Disabled<'a> {
    /// `user.disabled` (reason: not seen for N days) and the end of each
    /// disabled user's sessions.
    pub events: Vec<NewEvent>,
    pub disabled: Vec<&'a str>,
    /// The users asked for and left as they are: seen meanwhile, not
    /// active any more, or kept.
    pub left: Vec<(&'a str, Verdict)>,
}

/// Disables the `asked` users that are still not seen for `days` (each
/// asked once; a user asked twice counts once).
pub fn disable<'a>(
    manager: &Manager,
    asked: &'a [Candidate<'a>],
    days: Days,
    now: DateTime<Utc>,
) -> Result<Disabled<'a>, Refused> {
    users::authorize(manager, Grant::ActOn(Role::Member)).map_err(Refused::Manager)?;
    manager
        .recent_authentication
        .map_err(|step_up| Refused::Manager(Rejection::StepUp(step_up)))?;
    let mut unique = BTreeSet::new();
    let asked: Vec<&Candidate> = asked
        .iter()
        .filter(|candidate| unique.insert(candidate.member.id))
        .collect();
    if asked.len() > BATCH {
        return Err(Refused::TooMany);
    }
    let reason = format!("not seen for {} days", days.get());
    let mut done = Disabled {
        events: Vec::new(),
        disabled: Vec::new(),
        left: Vec::new(),
    };
    for candidate in asked {
        let id = candidate.member.id;
        match decide(manager, candidate, days, now) {
            Verdict::Inactive => {
                let change = Change {
                    role: None,
                    status: Some(Status::Disabled),
                };
                let events =
                    users::change_for(manager, &candidate.member, change, Some(&reason)).map_err(Refused::Manager)?;
                done.events.extend(events);
                done.disabled.push(id);
            }
            verdict => done.left.push((id, verdict)),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::step_up;
    use crate::commands::account::{USER_DISABLED, USER_ENABLED};
    use crate::commands::session::SESSION_REVOKED;
    use crate::commands::{Caller, Context};

    fn at(days: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::days(days)
    }

    fn manager(context: &Context, role: Role) -> Manager<'_> {
        Manager {
            context,
            id: "u-manager",
            org: "o-1",
            role,
            recent_authentication: Ok(()),
        }
    }

    /// A user created at day -400 (now is day 0).
    fn user(id: &'static str, role: Role, status: Status, last_seen: Option<i64>) -> Candidate<'static> {
        Candidate {
            member: Member {
                id,
                role,
                status,
                version: 3,
                sessions: &["s-1", "s-2"],
            },
            created_at: at(-400),
            privileges_changed_at: at(-400),
            last_seen: last_seen.map(at),
            keys_last_used: None,
        }
    }

    #[test]
    fn days_are_between_thirty_and_ten_years() {
        assert_eq!(Days::new(29), Err(Refused::Days));
        assert_eq!(Days::new(0), Err(Refused::Days));
        assert_eq!(Days::new(3651), Err(Refused::Days));
        assert_eq!(Days::new(30).map(Days::get), Ok(30));
        assert_eq!(Days::new(3650).map(Days::get), Ok(3650));
        assert_eq!(Days::new(90).unwrap().cutoff(at(0)), at(-90));
    }

    #[test]
    fn inactive_users_table() {
        use Role::{Admin, Auditor, Member as M, Owner};
        use Status::{Active, Disabled as Off, Invited};
        let context = Caller::default().as_user("u-manager", "o-1");
        let recent = |mut candidate: Candidate<'static>, changed: i64| {
            candidate.privileges_changed_at = at(changed);
            candidate
        };
        let created = |mut candidate: Candidate<'static>, day: i64| {
            candidate.created_at = at(day);
            candidate.privileges_changed_at = at(day);
            candidate
        };
        let keys = |mut candidate: Candidate<'static>, used: i64| {
            candidate.keys_last_used = Some(at(used));
            candidate
        };
        /// (case, manager's role, user, expected with 90 days)
        type Case = (&'static str, Role, Candidate<'static>, Verdict);
        let cases: Vec<Case> = vec![
            ("seen yesterday", Admin, user("u-1", M, Active, Some(-1)), Verdict::Seen),
            (
                "seen 89 days ago",
                Admin,
                user("u-1", M, Active, Some(-89)),
                Verdict::Seen,
            ),
            (
                "seen exactly 90 days ago: inactive",
                Admin,
                user("u-1", M, Active, Some(-90)),
                Verdict::Inactive,
            ),
            (
                "seen 200 days ago",
                Admin,
                user("u-1", M, Active, Some(-200)),
                Verdict::Inactive,
            ),
            (
                "never seen, created 400 days ago",
                Admin,
                user("u-1", M, Active, None),
                Verdict::Inactive,
            ),
            (
                "never seen, created last week",
                Admin,
                created(user("u-1", M, Active, None), -7),
                Verdict::Seen,
            ),
            (
                "seen long ago but enabled again yesterday",
                Admin,
                recent(user("u-1", M, Active, Some(-200)), -1),
                Verdict::Seen,
            ),
            (
                "role changed 100 days ago: the older sign-in counts no more",
                Admin,
                recent(user("u-1", M, Active, Some(-300)), -100),
                Verdict::Inactive,
            ),
            (
                "invited, never accepted",
                Admin,
                user("u-1", M, Invited, None),
                Verdict::Seen,
            ),
            (
                "disabled already",
                Admin,
                user("u-1", M, Off, Some(-300)),
                Verdict::Seen,
            ),
            (
                "an inactive admin, by an admin",
                Admin,
                user("u-1", Admin, Active, Some(-300)),
                Verdict::Inactive,
            ),
            (
                "an inactive owner, by an owner",
                Owner,
                user("u-1", Owner, Active, Some(-300)),
                Verdict::Kept(Kept::Owner),
            ),
            (
                "an inactive owner, by an admin",
                Admin,
                user("u-1", Owner, Active, Some(-300)),
                Verdict::Kept(Kept::Owner),
            ),
            (
                "an inactive auditor, by an owner",
                Owner,
                user("u-1", Auditor, Active, Some(-300)),
                Verdict::Inactive,
            ),
            (
                "an inactive auditor, by an admin",
                Admin,
                user("u-1", Auditor, Active, Some(-300)),
                Verdict::Kept(Kept::OwnersOnly(Auditor)),
            ),
            (
                "owns a key used last week",
                Admin,
                keys(user("u-1", M, Active, Some(-300)), -7),
                Verdict::Kept(Kept::KeysInUse),
            ),
            (
                "owns a key last used 100 days ago",
                Admin,
                keys(user("u-1", M, Active, Some(-300)), -100),
                Verdict::Inactive,
            ),
            (
                "seen, and owns a key in use: seen",
                Admin,
                keys(user("u-1", M, Active, Some(-3)), -7),
                Verdict::Seen,
            ),
            (
                "the manager themselves",
                Admin,
                user("u-manager", Admin, Active, Some(-300)),
                Verdict::Kept(Kept::Yourself),
            ),
            (
                "an owner who is the manager: kept as an owner",
                Owner,
                user("u-manager", Owner, Active, Some(-300)),
                Verdict::Kept(Kept::Owner),
            ),
        ];
        let days = Days::new(90).unwrap();
        for (case, role, candidate, expected) in cases {
            let manager = manager(&context, role);
            assert_eq!(decide(&manager, &candidate, days, at(0)), expected, "{case}");
        }
    }

    #[test]
    fn the_act_disables_who_is_still_inactive_and_ends_their_sessions() {
        let context = Caller::default().as_user("u-manager", "o-1");
        let manager = manager(&context, Role::Admin);
        let asked = [
            user("u-gone", Role::Member, Status::Active, Some(-120)),
            user("u-back", Role::Member, Status::Active, Some(-2)),
            user("u-owner", Role::Owner, Status::Active, None),
            user("u-gone", Role::Member, Status::Active, Some(-120)),
        ];
        let days = Days::new(90).unwrap();
        let done = disable(&manager, &asked, days, at(0)).unwrap();
        assert_eq!(done.disabled, ["u-gone"]);
        assert_eq!(
            done.left,
            [("u-back", Verdict::Seen), ("u-owner", Verdict::Kept(Kept::Owner))]
        );
        let kinds: Vec<&str> = done.events.iter().map(|event| event.kind.as_str()).collect();
        assert_eq!(kinds, [USER_DISABLED, SESSION_REVOKED, SESSION_REVOKED]);
        assert_eq!(done.events[0].subject, "user:u-gone");
        assert_eq!(done.events[0].expected_version, Some(3));
        assert_eq!(done.events[0].data["reason"], "not seen for 90 days");
        assert!(done.events.iter().all(|event| event.kind != USER_ENABLED));
    }

    #[test]
    fn the_act_is_a_managers_after_a_recent_strong_authentication() {
        let context = Caller::default().as_user("u-manager", "o-1");
        let asked = [user("u-gone", Role::Member, Status::Active, None)];
        let days = Days::new(30).unwrap();
        let member = manager(&context, Role::Member);
        assert_eq!(
            disable(&member, &asked, days, at(0)).unwrap_err(),
            Refused::Manager(Rejection::Grant(GrantRefusal::NotAManager))
        );
        let auditor = manager(&context, Role::Auditor);
        assert!(disable(&auditor, &asked, days, at(0)).is_err());
        let mut stale = manager(&context, Role::Owner);
        let reauthenticate = step_up::Rejection::ReauthenticationRequired {
            with_second_factor: false,
        };
        stale.recent_authentication = Err(reauthenticate);
        assert_eq!(
            disable(&stale, &asked, days, at(0)).unwrap_err(),
            Refused::Manager(Rejection::StepUp(reauthenticate))
        );
        let key = Manager::key(&context, "k-1", "o-1");
        assert_eq!(
            disable(&key, &asked, days, at(0)).unwrap_err(),
            Refused::Manager(Rejection::StepUp(step_up::Rejection::NotAPerson))
        );
    }

    #[test]
    fn at_most_a_batch_at_once() {
        let context = Caller::default().as_user("u-manager", "o-1");
        let manager = manager(&context, Role::Owner);
        let ids: Vec<&'static str> = (0..=BATCH)
            .map(|n| &*Box::leak(format!("u-{n}").into_boxed_str()))
            .collect();
        let asked: Vec<Candidate> = ids
            .iter()
            .map(|id| user(id, Role::Member, Status::Active, None))
            .collect();
        let days = Days::new(30).unwrap();
        assert_eq!(disable(&manager, &asked, days, at(0)).unwrap_err(), Refused::TooMany);
        let done = disable(&manager, &asked[..BATCH], days, at(0)).unwrap();
        assert_eq!(done.disabled.len(), BATCH);
    }
}
