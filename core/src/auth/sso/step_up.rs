//! Confirming it's you through the identity provider: a user whose
//! session a connection signed in, and who has nothing else to confirm
//! with (no password, or no second factor the step-up would accept), goes
//! back to the provider, which is asked to authenticate them again
//! (`prompt=login`, `max_age=0`). The answer elevates the session that
//! asked, like a password or a second factor would (`auth::step_up`), if
//! it is the same person, authenticated just now.

use chrono::{DateTime, Utc};

use super::id_token::SKEW;
use crate::auth::step_up::Elevation;
use crate::commands::session::{ElevationReason, Level};
use crate::commands::sso::sign_in::Failure;

/// What the provider's answer is decided on.
#[derive(Debug, Clone, Copy)]
pub struct Confirmation<'a> {
    /// The user whose session asked.
    pub user: &'a str,
    /// That session is still live.
    pub session_live: bool,
    /// The account the provider's identity is linked to at the connection.
    pub linked: Option<&'a str>,
    /// When the provider authenticated the person (`auth_time`).
    pub auth_time: Option<DateTime<Utc>>,
    /// When Warden sent the browser to the provider.
    pub started_at: DateTime<Utc>,
    /// The provider checked a second factor, and an owner trusts it
    /// (`mfa_policy::upstream_mfa_counts`).
    pub upstream_mfa: bool,
    /// The user has a second factor of Warden's.
    pub has_second_factor: bool,
}

/// Why the provider's answer confirms nothing: the reason, and what
/// exactly was wrong (for the org's admins, in `sso.failed`).
pub type Refused = (Failure, String);

/// The elevation the answer gives the session, or why it gives none.
pub fn decide(confirmation: &Confirmation) -> Result<Elevation, Refused> {
    if !confirmation.session_live {
        return Err((
            Failure::SessionEnded,
            "the session that asked to confirm ended meanwhile".into(),
        ));
    }
    if confirmation.linked != Some(confirmation.user) {
        return Err((
            Failure::AnotherPerson,
            "the provider signed in another person than the session's user".into(),
        ));
    }
    match confirmation.auth_time {
        None => {
            return Err((
                Failure::NotReauthenticated,
                "the provider did not say when it authenticated the person (no auth_time)".into(),
            ));
        }
        Some(at) if at + SKEW < confirmation.started_at => {
            return Err((
                Failure::NotReauthenticated,
                format!(
                    "the provider did not ask the person to sign in again: it last did at {at}, before the confirmation started at {} (allowing {} s of clock skew)",
                    confirmation.started_at,
                    SKEW.num_seconds()
                ),
            ));
        }
        Some(_) => {}
    }
    if confirmation.has_second_factor && !confirmation.upstream_mfa {
        return Err((
            Failure::SecondFactorRequired,
            "the user has a second factor, and the provider's does not count for this org: they confirm with it".into(),
        ));
    }
    Ok(match confirmation.upstream_mfa {
        true => Elevation {
            level: Level::Aal2,
            methods: vec!["oidc".into(), "upstream_mfa".into()],
            reason: ElevationReason::StepUp,
        },
        false => Elevation {
            level: Level::Aal1,
            methods: vec!["oidc".into()],
            reason: ElevationReason::StepUp,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    /// Started at 0, authenticated at 30, linked to the user: a member
    /// with no second factor.
    fn fine() -> Confirmation<'static> {
        Confirmation {
            user: "u-1",
            session_live: true,
            linked: Some("u-1"),
            auth_time: Some(at(30)),
            started_at: at(0),
            upstream_mfa: false,
            has_second_factor: false,
        }
    }

    #[test]
    fn confirming_through_the_provider_table() {
        type Change = fn(&mut Confirmation<'static>);
        // (case, change from `fine`, the level given or the failure)
        let cases: Vec<(&str, Change, Result<Level, Failure>)> = vec![
            ("the same person, just now", |_| {}, Ok(Level::Aal1)),
            (
                "with the provider's second factor, trusted",
                |c| c.upstream_mfa = true,
                Ok(Level::Aal2),
            ),
            (
                "a second factor of Warden's, the provider's trusted",
                |c| {
                    c.upstream_mfa = true;
                    c.has_second_factor = true;
                },
                Ok(Level::Aal2),
            ),
            (
                "a second factor of Warden's, the provider's not counting",
                |c| c.has_second_factor = true,
                Err(Failure::SecondFactorRequired),
            ),
            (
                "authenticated within the skew before the start",
                |c| c.auth_time = Some(at(-SKEW.num_seconds())),
                Ok(Level::Aal1),
            ),
            (
                "an old authentication (prompt=login ignored)",
                |c| c.auth_time = Some(at(-SKEW.num_seconds() - 1)),
                Err(Failure::NotReauthenticated),
            ),
            ("no auth_time", |c| c.auth_time = None, Err(Failure::NotReauthenticated)),
            (
                "another person at the provider",
                |c| c.linked = Some("u-2"),
                Err(Failure::AnotherPerson),
            ),
            (
                "an identity linked to nobody",
                |c| c.linked = None,
                Err(Failure::AnotherPerson),
            ),
            (
                "the session ended meanwhile",
                |c| c.session_live = false,
                Err(Failure::SessionEnded),
            ),
        ];
        for (case, change, expected) in cases {
            let mut confirmation = fine();
            change(&mut confirmation);
            let decided = decide(&confirmation)
                .map(|elevation| {
                    assert_eq!(elevation.reason, ElevationReason::StepUp, "{case}");
                    assert_eq!(elevation.methods[0], "oidc", "{case}");
                    elevation.level
                })
                .map_err(|(reason, _)| reason);
            assert_eq!(decided, expected, "{case}");
        }
    }
}
