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

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::commands::account::Status;

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

/// When a link made at `now` stops working.
pub fn expires_at(now: DateTime<Utc>) -> DateTime<Utc> {
    now + LINK_LIFETIME
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
}
