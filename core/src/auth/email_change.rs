//! Changing a user's sign-in address (decision 0028): a new address is
//! verified by a link mailed to it before it is used for anything (signing
//! in, codes, recovery); the unique claim moves only then. The link
//! follows the one-time-link rules of recovery ([`recovery::redeem`]):
//! valid [`LINK_LIFETIME`], once, the user's newest only, for an active
//! account.
//!
//! Nothing here does I/O or reads a clock.

use chrono::{DateTime, TimeDelta, Utc};

use super::Refusal;
use super::recovery::{self, Link, Refused};
use crate::commands::Context;
use crate::commands::account::{self, EmailChanged, Status, normalize_email, valid_email};
use crate::commands::email_change::{self as events, ChangeRefused, ChangeVerified};
use crate::event::NewEvent;

/// How long a verification link is valid: a day (the new mailbox may be
/// read later than the old one).
pub const LINK_LIFETIME: TimeDelta = TimeDelta::hours(24);

/// When a link made at `now` stops working.
pub fn expires_at(now: DateTime<Utc>) -> DateTime<Utc> {
    now + LINK_LIFETIME
}

/// Why a change is not asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestRefused {
    /// Not an email address.
    Invalid,
    /// The account already signs in with it.
    Unchanged,
}

/// The new address, normalized, if the account (now signing in with
/// `current`) may ask to move to it. Whether another account holds it is
/// not said here, nor to the person asking: the claim decides when the
/// link is used, and only the new mailbox's reader learns it.
pub fn request(current: &str, typed: &str) -> Result<String, RequestRefused> {
    let new = normalize_email(typed);
    if !valid_email(&new) {
        return Err(RequestRefused::Invalid);
    }
    if new == normalize_email(current) {
        return Err(RequestRefused::Unchanged);
    }
    Ok(new)
}

/// A pending change as the read model keeps it: its link, and the new
/// address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub link: Link,
    pub email: String,
}

/// What a verification is decided on.
#[derive(Debug, Clone)]
pub struct Verify<'a> {
    /// The change its token found, and the change subject's version.
    pub found: Option<(&'a Pending, u64)>,
    /// The user's newest change.
    pub newest: Option<&'a str>,
    pub account: Option<Account<'a>>,
}

/// The account a change moves.
#[derive(Debug, Clone, Copy)]
pub struct Account<'a> {
    pub status: Status,
    /// The version of `user:<id>`: the move is decided on it.
    pub version: u64,
    /// The address it signs in with now.
    pub email: &'a str,
}

/// Refuses a link that changes nothing, recording the try when the change
/// is known (`email_change.refused`).
pub fn check(context: &Context, state: &Verify, now: DateTime<Utc>) -> Result<(), Refusal<Refused>> {
    let pending = state.found.map(|(pending, _)| pending);
    let status = state.account.map(|account| account.status);
    recovery::redeem(pending.map(|pending| &pending.link), state.newest, status, now)
        .map_err(|reason| refusal(context, pending, reason))
}

/// The refusal of `pending` (if known) for `reason`, recorded.
pub fn refusal(context: &Context, pending: Option<&Pending>, reason: Refused) -> Refusal<Refused> {
    let events = pending
        .map(|pending| {
            events::refused(
                context,
                &ChangeRefused {
                    change: pending.link.id.clone(),
                    user: pending.link.user.clone(),
                    reason,
                },
            )
        })
        .into_iter()
        .collect();
    Refusal::recorded(reason, events)
}

/// The change verified and the address moved (`user.email_changed`, which
/// claims the new address: the append is refused if another account holds
/// it, [`Refused::Taken`]).
pub fn verify(context: &Context, state: &Verify, now: DateTime<Utc>) -> Result<Vec<NewEvent>, Refusal<Refused>> {
    check(context, state, now)?;
    let (Some((pending, version)), Some(account)) = (state.found, state.account) else {
        return Err(Refusal::new(Refused::Unknown));
    };
    if normalize_email(account.email) == pending.email {
        return Err(refusal(context, Some(pending), Refused::Used));
    }
    Ok(vec![
        events::verified(
            context,
            &ChangeVerified {
                change: pending.link.id.clone(),
                user: pending.link.user.clone(),
            },
            version,
        ),
        account::change_email(
            context,
            &pending.link.user,
            account.version,
            &EmailChanged {
                old: account.email.to_string(),
                new: pending.email.clone(),
                change: pending.link.id.clone(),
            },
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + TimeDelta::minutes(minutes)
    }

    #[test]
    fn a_new_address_is_a_different_valid_one() {
        assert_eq!(
            request("mia@acme.test", " Mia.New@Example.org "),
            Ok("mia.new@example.org".into())
        );
        assert_eq!(
            request("mia@acme.test", "MIA@acme.test"),
            Err(RequestRefused::Unchanged)
        );
        for bad in ["", "mia", "mia@", "@acme.test", "a b@acme.test"] {
            assert_eq!(request("mia@acme.test", bad), Err(RequestRefused::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn a_verified_link_moves_the_address_once_within_a_day() {
        let context = Context {
            actor: crate::Actor::system(),
            request_id: "r".into(),
        };
        let pending = Pending {
            link: Link {
                id: "c1".into(),
                user: "u1".into(),
                issued_at: at(0),
                expires_at: expires_at(at(0)),
                used: false,
            },
            email: "mia.new@example.org".into(),
        };
        let account = Account {
            status: Status::Active,
            version: 4,
            email: "mia@acme.test",
        };
        let state = Verify {
            found: Some((&pending, 1)),
            newest: Some("c1"),
            account: Some(account),
        };
        let events = verify(&context, &state, at(60)).unwrap();
        let kinds: Vec<&str> = events.iter().map(|event| event.kind.as_str()).collect();
        assert_eq!(kinds, [events::EMAIL_CHANGE_VERIFIED, account::USER_EMAIL_CHANGED]);
        assert_eq!(events[0].expected_version, Some(1));
        assert_eq!(events[1].expected_version, Some(4));
        assert_eq!(events[1].data["old"], "mia@acme.test");
        assert_eq!(events[1].data["new"], "mia.new@example.org");
        assert_eq!(events[1].claims[0].value, "mia.new@example.org");
        assert_eq!(events[1].releases[0].value, "mia@acme.test");

        // (minutes, newest, status, account's address now, expected)
        let cases: &[(i64, &str, Status, &str, Refused)] = &[
            (24 * 60, "c1", Status::Active, "mia@acme.test", Refused::Expired),
            (60, "c2", Status::Active, "mia@acme.test", Refused::Replaced),
            (60, "c1", Status::Disabled, "mia@acme.test", Refused::Inactive),
            (60, "c1", Status::Active, "Mia.New@example.org", Refused::Used),
        ];
        for (minutes, newest, status, email, expected) in cases {
            let state = Verify {
                found: Some((&pending, 1)),
                newest: Some(newest),
                account: Some(Account {
                    status: *status,
                    email,
                    ..account
                }),
            };
            let refused = verify(&context, &state, at(*minutes)).unwrap_err();
            assert_eq!(refused.reason, *expected, "{minutes} {newest} {status:?} {email}");
            assert_eq!(refused.events[0].kind, events::EMAIL_CHANGE_REFUSED);
        }
        let unknown = Verify { found: None, ..state };
        let refused = verify(&context, &unknown, at(60)).unwrap_err();
        assert_eq!((refused.reason, refused.events.len()), (Refused::Unknown, 0));
    }
}
