//! A signed-in user changing their own password: the current one proves
//! who they are (throttled like a sign-in), the new one differs from it,
//! every other session of theirs ends and this one gets a new token.
//!
//! [`check`] runs before the new password is hashed (a wrong current
//! password costs no second hash); [`decide`] checks again and decides.

use super::password::Verification;
use super::{Refusal, SessionState, revocation, sign_in};
use crate::commands::Caller;
use crate::commands::account::{self, FailureReason, PasswordSet};
use crate::commands::session::{self, RevocationReason, RotationReason, SessionRotated};
use crate::event::NewEvent;

/// What a password change is decided on.
#[derive(Debug, Clone)]
pub struct State<'a> {
    pub session: &'a SessionState<'a>,
    /// The version of `user:<id>`: the change is decided on it.
    pub version: u64,
    /// The current password checked against the user's hash.
    pub verification: Verification,
    /// The new password is the current one.
    pub unchanged: bool,
    /// The ids of the user's live sessions (this one included).
    pub sessions: &'a [&'a str],
}

/// Why the password was not changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The current password is wrong (a `login.failed`).
    WrongPassword,
    /// The new password is the current one.
    Unchanged,
}

/// Refuses a wrong current password or an unchanged one.
pub fn check(state: &State, caller: &Caller, identifier: &str) -> Result<(), Refusal<Rejection>> {
    let session = state.session;
    if state.verification == Verification::Invalid {
        let event = sign_in::failed(
            &caller.as_user(session.user, session.org),
            Some(session.user),
            identifier,
            FailureReason::WrongPassword,
            "password_change",
        );
        return Err(Refusal::recorded(Rejection::WrongPassword, vec![event]));
    }
    if state.unchanged {
        return Err(Refusal::new(Rejection::Unchanged));
    }
    Ok(())
}

/// The new password (hashed and sealed, reason `change`), the other
/// sessions' end, and this session's new token.
pub fn decide(
    state: &State,
    caller: &Caller,
    identifier: &str,
    new_password: &PasswordSet,
    token_hash: &str,
) -> Result<Vec<NewEvent>, Refusal<Rejection>> {
    check(state, caller, identifier)?;
    let session = state.session;
    let context = caller.as_user(session.user, session.org);
    let mut events = vec![account::set_password(
        &context,
        session.user,
        Some(state.version),
        new_password,
    )];
    events.extend(revocation::revoke_all(
        &context,
        session.user,
        state.sessions.iter().copied(),
        Some(session.id),
        RevocationReason::PasswordChanged,
    ));
    events.push(session::rotate(
        &context,
        session.id,
        &SessionRotated {
            token_hash: token_hash.to_string(),
            reason: RotationReason::PasswordChanged,
        },
    ));
    Ok(events)
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::auth::sign_in::fixtures::{caller, now};
    use crate::commands::session::{Assurance, Level};

    #[test]
    fn password_change_table() {
        let mut set: PasswordSet =
            serde_json::from_str(include_str!("../../tests/fixtures/events/password.set.json")).unwrap();
        set.reason = account::PasswordReason::Change;
        let assurance = Assurance {
            level: Level::Aal1,
            methods: vec!["password".into()],
            at: now() - Duration::minutes(1),
        };
        let session = SessionState {
            id: "s-1",
            user: "u-1",
            org: "o-1",
            assurance: &assurance,
            pending: None,
            created_at: now() - Duration::hours(1),
            expires_at: now() + Duration::hours(1),
        };
        let sessions = ["s-0", "s-1", "s-2"];
        let valid = Verification::Valid { rehash: false };
        // (current password, unchanged, outcome, kinds appended or recorded)
        type Row = (Verification, bool, Result<(), Rejection>, &'static [&'static str]);
        let rows: [Row; 4] = [
            (
                Verification::Invalid,
                false,
                Err(Rejection::WrongPassword),
                &["login.failed"],
            ),
            (
                Verification::Invalid,
                true,
                Err(Rejection::WrongPassword),
                &["login.failed"],
            ),
            (valid, true, Err(Rejection::Unchanged), &[]),
            (
                valid,
                false,
                Ok(()),
                &[
                    "password.changed",
                    "session.revoked",
                    "session.revoked",
                    "session.rotated",
                ],
            ),
        ];
        for (verification, unchanged, outcome, kinds) in rows {
            let state = State {
                session: &session,
                version: 5,
                verification,
                unchanged,
                sessions: &sessions,
            };
            let (got, events) = match decide(&state, &caller(), "id-1", &set, "new-hash") {
                Ok(events) => (Ok(()), events),
                Err(refusal) => (Err(refusal.reason), refusal.events),
            };
            assert_eq!(got, outcome, "{verification:?} unchanged: {unchanged}");
            let got_kinds: Vec<&str> = events.iter().map(|event| event.kind.as_str()).collect();
            assert_eq!(got_kinds, kinds, "{verification:?} unchanged: {unchanged}");
            if got.is_ok() {
                assert_eq!(events[0].expected_version, Some(5));
                let ended: Vec<&str> = events[1..3].iter().map(|event| event.subject.as_str()).collect();
                assert_eq!(ended, ["session:s-0", "session:s-2"], "this session stays");
                assert_eq!(events[3].subject, "session:s-1");
            }
        }
    }
}
