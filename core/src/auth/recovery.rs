//! Account recovery (decision 0028): the password-reset link.
//!
//! A link is asked for by the user (by email, answered alike for every
//! address), sent by an admin, or printed by an operator's break-glass
//! command. It is valid [`LINK_LIFETIME`], opens once, and only the
//! newest link of a user works (a new one replaces the one before). Using
//! it sets a new password and ends every session of the user; it signs
//! nobody in: the user then signs in as usual, and a second factor is
//! asked for as it always is. A link for an account that is no longer
//! active (disabled, removed) resets nothing.
//!
//! Nothing here does I/O or reads a clock.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::email_code::wait;
use super::{Refusal, revocation};
use crate::commands::Context;
use crate::commands::account::{self, PasswordSet, Status};
use crate::commands::recovery::{self as events, ResetRefused, ResetUsed};
use crate::commands::session::RevocationReason;
use crate::event::NewEvent;

/// How long a reset link is valid.
pub const LINK_LIFETIME: TimeDelta = TimeDelta::minutes(30);

/// Who had the link made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Issuer {
    /// The user asked for it by email (self-service).
    User,
    /// An owner or admin sent it, with a reason.
    Admin,
    /// An operator printed it with `warden users recover`.
    Operator,
}

/// A reset link as the read model keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub id: String,
    pub user: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used: bool,
}

/// Why a link resets nothing. The person is told one thing for all of
/// them but `Expired` and `Used` (which they can act on: ask again);
/// the event records which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refused {
    /// No link has this token.
    Unknown,
    Expired,
    Used,
    /// A newer link of the user replaced it.
    Replaced,
    /// The account is disabled or removed since.
    Inactive,
    /// (An address change) another account signs in with the new address.
    Taken,
}

/// Whether `link` (found by its token) resets the password of its user,
/// whose newest link is `newest` and whose account is `status`.
pub fn redeem(
    link: Option<&Link>,
    newest: Option<&str>,
    status: Option<Status>,
    now: DateTime<Utc>,
) -> Result<(), Refused> {
    let Some(link) = link else {
        return Err(Refused::Unknown);
    };
    if link.used {
        return Err(Refused::Used);
    }
    if newest != Some(link.id.as_str()) {
        return Err(Refused::Replaced);
    }
    if now >= link.expires_at {
        return Err(Refused::Expired);
    }
    match status {
        Some(Status::Active) => Ok(()),
        _ => Err(Refused::Inactive),
    }
}

/// What a reset is decided on: the link its token found (and the link
/// subject's version), the user's newest link, and the user's account.
#[derive(Debug, Clone)]
pub struct Reset<'a> {
    pub found: Option<(&'a Link, u64)>,
    pub newest: Option<&'a str>,
    pub account: Option<Account<'a>>,
}

/// The account a link resets.
#[derive(Debug, Clone, Copy)]
pub struct Account<'a> {
    pub status: Status,
    /// The version of `user:<id>`: the new password is decided on it.
    pub version: u64,
    /// The ids of the user's live sessions: all of them end.
    pub sessions: &'a [&'a str],
}

/// Refuses a link that resets nothing, recording the try when the link is
/// known (`password_reset.refused`). Run before the new password is
/// hashed, and again by [`reset`].
pub fn check(context: &Context, state: &Reset, now: DateTime<Utc>) -> Result<(), Refusal<Refused>> {
    let link = state.found.map(|(link, _)| link);
    redeem(link, state.newest, state.account.map(|account| account.status), now).map_err(|reason| {
        let events = link
            .map(|link| {
                events::refused(
                    context,
                    &ResetRefused {
                        link: link.id.clone(),
                        user: link.user.clone(),
                        reason,
                    },
                )
            })
            .into_iter()
            .collect();
        Refusal::recorded(reason, events)
    })
}

/// The reset: the link used, the new password (`password.set`, reason
/// `reset`), and the end of every session of the user. Nobody is signed
/// in: the user signs in with the new password, and a second factor is
/// asked for as it always is.
pub fn reset(
    context: &Context,
    state: &Reset,
    new_password: &PasswordSet,
    now: DateTime<Utc>,
) -> Result<Vec<NewEvent>, Refusal<Refused>> {
    check(context, state, now)?;
    let (Some((link, version)), Some(account)) = (state.found, state.account) else {
        return Err(Refusal::new(Refused::Unknown));
    };
    let mut events = vec![
        events::used(
            context,
            &ResetUsed {
                link: link.id.clone(),
                user: link.user.clone(),
                sessions_revoked: account.sessions.len(),
            },
            version,
        ),
        account::set_password(context, &link.user, Some(account.version), new_password),
    ];
    events.extend(revocation::revoke_all(
        context,
        &link.user,
        account.sessions.iter().copied(),
        None,
        RevocationReason::PasswordReset,
    ));
    Ok(events)
}

/// When a link made at `now` stops working.
pub fn expires_at(now: DateTime<Utc>) -> DateTime<Utc> {
    now + LINK_LIFETIME
}

/// An admin's or an operator's reason for a link: 3 to 200 characters
/// (trimmed), no control characters.
pub fn reason(text: &str) -> Option<String> {
    let trimmed = text.trim();
    let count = trimmed.chars().count();
    ((3..=200).contains(&count) && !trimmed.chars().any(char::is_control)).then(|| trimmed.to_string())
}

/// Links one address may be sent in an hour, by its owner's requests.
pub const PER_ADDRESS_HOUR: usize = 3;
/// Links one client network may ask for in an hour, all addresses
/// together.
pub const PER_CLIENT_HOUR: usize = 20;

/// May a link be sent to an address that was asked for at `to_address`
/// (its requests of the last hour, any order), for a client network that
/// asked at `by_client`? Counted alike whether the address has an
/// account or not; apart from the sign-in codes' limits (asking for a
/// code does not use up a reset).
pub fn request(to_address: &[DateTime<Utc>], by_client: &[DateTime<Utc>], now: DateTime<Utc>) -> Result<(), Duration> {
    let waits = [
        wait(to_address.iter().copied(), PER_ADDRESS_HOUR, now),
        wait(by_client.iter().copied(), PER_CLIENT_HOUR, now),
    ];
    match waits.into_iter().flatten().max() {
        Some(retry_after) => Err(retry_after),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + TimeDelta::minutes(minutes)
    }

    fn link(id: &str, used: bool) -> Link {
        Link {
            id: id.into(),
            user: "u1".into(),
            issued_at: at(0),
            expires_at: expires_at(at(0)),
            used,
        }
    }

    #[test]
    fn a_link_resets_once_within_its_time_if_it_is_the_newest_of_an_active_account() {
        let fresh = link("l1", false);
        let used = link("l1", true);
        let active = Some(Status::Active);
        // (link, newest of the user, account, minute, expected)
        type Case<'a> = (
            Option<&'a Link>,
            Option<&'a str>,
            Option<Status>,
            i64,
            Result<(), Refused>,
        );
        let cases: &[Case] = &[
            (Some(&fresh), Some("l1"), active, 5, Ok(())),
            (Some(&fresh), Some("l1"), active, 29, Ok(())),
            (Some(&fresh), Some("l1"), active, 30, Err(Refused::Expired)),
            (Some(&used), Some("l1"), active, 5, Err(Refused::Used)),
            (Some(&fresh), Some("l2"), active, 5, Err(Refused::Replaced)),
            (Some(&fresh), None, active, 5, Err(Refused::Replaced)),
            (
                Some(&fresh),
                Some("l1"),
                Some(Status::Disabled),
                5,
                Err(Refused::Inactive),
            ),
            (
                Some(&fresh),
                Some("l1"),
                Some(Status::Invited),
                5,
                Err(Refused::Inactive),
            ),
            (Some(&fresh), Some("l1"), None, 5, Err(Refused::Inactive)),
            (None, Some("l1"), active, 5, Err(Refused::Unknown)),
            // Used wins over everything else: the person is told so.
            (Some(&used), Some("l2"), Some(Status::Disabled), 40, Err(Refused::Used)),
        ];
        for (link, newest, status, minute, expected) in cases {
            assert_eq!(
                redeem(*link, *newest, *status, at(*minute)),
                *expected,
                "{link:?} {newest:?} {status:?} {minute}"
            );
        }
    }

    #[test]
    fn a_reset_uses_the_link_sets_the_password_and_ends_every_session() {
        let context = Context {
            actor: crate::Actor::system(),
            request_id: "r".into(),
        };
        let mut set: PasswordSet =
            serde_json::from_str(include_str!("../../tests/fixtures/events/password.set.json")).unwrap();
        set.reason = account::PasswordReason::Reset;
        let fresh = link("l1", false);
        let sessions = ["s1", "s2"];
        let account = Account {
            status: Status::Active,
            version: 7,
            sessions: &sessions,
        };
        let state = Reset {
            found: Some((&fresh, 1)),
            newest: Some("l1"),
            account: Some(account),
        };
        let events = reset(&context, &state, &set, at(5)).unwrap();
        let kinds: Vec<&str> = events.iter().map(|event| event.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                events::PASSWORD_RESET_USED,
                account::PASSWORD_SET,
                crate::commands::session::SESSION_REVOKED,
                crate::commands::session::SESSION_REVOKED
            ]
        );
        assert_eq!(events[0].expected_version, Some(1));
        assert_eq!(events[1].expected_version, Some(7));
        assert_eq!(events[1].data["reason"], "reset");
        assert_eq!(events[2].data["reason"], "password_reset");

        // A refused link is recorded when it is known, and resets nothing.
        let expired = reset(&context, &state, &set, at(31)).unwrap_err();
        assert_eq!(expired.reason, Refused::Expired);
        assert_eq!(expired.events.len(), 1);
        assert_eq!(expired.events[0].kind, events::PASSWORD_RESET_REFUSED);
        assert_eq!(expired.events[0].data["reason"], "expired");
        let unknown = Reset {
            found: None,
            ..state.clone()
        };
        let refused = check(&context, &unknown, at(5)).unwrap_err();
        assert_eq!((refused.reason, refused.events.len()), (Refused::Unknown, 0));
    }

    #[test]
    fn reasons_say_something() {
        assert_eq!(reason("  locked out, ticket 42 "), Some("locked out, ticket 42".into()));
        for bad in ["", "  ", "ab", "a\nb c", &"x".repeat(201)] {
            assert_eq!(reason(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn requests_are_limited_per_address_and_per_client_network() {
        let minutes = |list: &[i64]| list.iter().map(|m| at(*m)).collect::<Vec<_>>();
        // (address's requests, network's requests, now, expected)
        type Case<'a> = (&'a [i64], &'a [i64], i64, Result<(), Duration>);
        let cases: &[Case] = &[
            (&[], &[], 0, Ok(())),
            (&[0, 10], &[0, 10], 20, Ok(())),
            // The 4th of an hour waits until the 1st leaves the window.
            (&[0, 10, 20], &[0, 10, 20], 30, Err(Duration::from_secs(30 * 60))),
            (&[0, 10, 20], &[], 60, Ok(())),
            (&[], &[0; 20], 59, Err(Duration::from_secs(60))),
            (&[], &[0; 19], 59, Ok(())),
            // The longer wait wins.
            (&[0, 10, 20], &[5; 20], 30, Err(Duration::from_secs(35 * 60))),
        ];
        for (address, client, now, expected) in cases {
            assert_eq!(
                request(&minutes(address), &minutes(client), at(*now)),
                *expected,
                "{address:?} {client:?} at {now}"
            );
        }
    }
}
