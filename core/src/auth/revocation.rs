//! Revoking sessions: one's own (signing out, or ending another of one's
//! sessions), all of a user's but the current one (signing out everywhere
//! else, a password change), or all of them (an admin, a disabled user).
//! A session of someone else does not exist for a user who asks to end it.

use crate::commands::Context;
use crate::commands::session::{self, RevocationReason, SessionRevoked};
use crate::event::NewEvent;

/// Why a revocation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// No session of this user has that id.
    NotFound,
}

/// Ends the session `id` of `user`, whose owner is `owner` (`None`: no
/// such session).
pub fn revoke_own(
    context: &Context,
    user: &str,
    id: &str,
    owner: Option<&str>,
    reason: RevocationReason,
) -> Result<Vec<NewEvent>, Rejection> {
    if owner != Some(user) {
        return Err(Rejection::NotFound);
    }
    Ok(vec![revoked(context, user, id, reason)])
}

/// Ends every session of `user` in `sessions` but `keep`.
pub fn revoke_all<'a>(
    context: &Context,
    user: &str,
    sessions: impl IntoIterator<Item = &'a str>,
    keep: Option<&str>,
    reason: RevocationReason,
) -> Vec<NewEvent> {
    sessions
        .into_iter()
        .filter(|id| Some(*id) != keep)
        .map(|id| revoked(context, user, id, reason))
        .collect()
}

fn revoked(context: &Context, user: &str, id: &str, reason: RevocationReason) -> NewEvent {
    session::revoke(
        context,
        id,
        &SessionRevoked {
            user: user.to_string(),
            reason,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sign_in::fixtures::caller;

    fn subjects(events: &[NewEvent]) -> Vec<&str> {
        events.iter().map(|event| event.subject.as_str()).collect()
    }

    #[test]
    fn revoking_ones_own_session_table() {
        let context = caller().as_user("u-1", "o-1");
        // (the session's owner, outcome)
        type Row = (Option<&'static str>, Result<Vec<&'static str>, Rejection>);
        let cases: [Row; 3] = [
            (Some("u-1"), Ok(vec!["session:s-1"])),
            (Some("u-2"), Err(Rejection::NotFound)),
            (None, Err(Rejection::NotFound)),
        ];
        for (owner, expected) in cases {
            let decided = revoke_own(&context, "u-1", "s-1", owner, RevocationReason::RevokedByUser);
            assert_eq!(
                decided.as_deref().map(subjects),
                expected.as_deref().map(<[&str]>::to_vec),
                "{owner:?}"
            );
        }
    }

    #[test]
    fn revoking_all_but_one_table() {
        let context = caller().as_user("admin", "o-1");
        let sessions = ["s-1", "s-2", "s-3"];
        // (kept, sessions ended)
        let cases: [(Option<&str>, &[&str]); 3] = [
            (None, &["session:s-1", "session:s-2", "session:s-3"]),
            (Some("s-2"), &["session:s-1", "session:s-3"]),
            (Some("s-9"), &["session:s-1", "session:s-2", "session:s-3"]),
        ];
        for (keep, expected) in cases {
            let events = revoke_all(&context, "u-1", sessions, keep, RevocationReason::UserDisabled);
            assert_eq!(subjects(&events), expected, "{keep:?}");
            for event in &events {
                let data: SessionRevoked = serde_json::from_value(event.data.clone()).unwrap();
                assert_eq!(
                    (data.user.as_str(), data.reason),
                    ("u-1", RevocationReason::UserDisabled)
                );
            }
        }
        assert!(revoke_all(&context, "u-1", [], None, RevocationReason::SignedOut).is_empty());
    }
}
