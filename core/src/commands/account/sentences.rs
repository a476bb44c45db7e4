//! The sentences of the accounts' kinds (`commands::sentence`): users,
//! passwords and sign-ins.

use super::*;
use crate::commands::sentence::{Sentence, Summarize, by_themselves, method_words};
use crate::event::Event;

/// The user of `event`'s subject (`user:<id>`).
fn subject_user(event: &Event) -> Option<&str> {
    subject_id(&event.subject, Prefix::User)
}

/// `user`, or "a user" when the subject has no id.
fn user_ref(sentence: Sentence, user: Option<&str>) -> Sentence {
    match user {
        Some(user) => sentence.user(user),
        None => sentence.words("a user"),
    }
}

/// `user`, or the address the event names when its subject has no id.
fn user_or(sentence: Sentence, user: Option<&str>, email: &str) -> Sentence {
    match user {
        Some(user) => sentence.user(user),
        None => sentence.value(email),
    }
}

/// "their password" when the user did it, "the password of mia@…"
/// otherwise.
fn whose_password(sentence: Sentence, event: &Event, user: Option<&str>) -> Sentence {
    match user {
        Some(user) if by_themselves(event, user) => sentence.words("their password"),
        Some(user) => sentence.words("the password of ").user(user),
        None => sentence.words("a password"),
    }
}

/// ` as a member`, ` as an admin`.
fn as_role(sentence: Sentence, role: Role) -> Sentence {
    let article = match role {
        Role::Owner | Role::Admin | Role::Auditor => " as an ",
        Role::Member => " as a ",
    };
    sentence.words(article).value(role.as_str())
}

/// ` with a password`, or the method as written when Warden has no words
/// for it.
fn with_method(sentence: Sentence, method: &str) -> Sentence {
    match method_words(method) {
        Some(words) => sentence.words(" with ").words(words),
        None => sentence.words(" with ").value(method),
    }
}

impl Summarize for UserCreated {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let user = subject_user(event);
        let by = Sentence::by(event);
        let sentence = if self.import_id.is_some() {
            let imported = as_role(user_or(by.words(" imported "), user, &self.email), self.role);
            match self.status {
                Status::Active => imported,
                Status::Invited => imported.words(", invited"),
                Status::Disabled => imported.words(", disabled"),
            }
        } else if user.is_some_and(|user| by_themselves(event, user)) {
            as_role(by.words(" created their account"), self.role)
        } else {
            match self.status {
                Status::Invited => as_role(user_or(by.words(" invited "), user, &self.email), self.role),
                Status::Active => as_role(user_or(by.words(" added "), user, &self.email), self.role),
                Status::Disabled => {
                    as_role(user_or(by.words(" added "), user, &self.email), self.role).words(", disabled")
                }
            }
        };
        Some(sentence)
    }
}

impl Summarize for UserRemoved {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        // The removed user's name is gone with them: their address and id.
        let sentence = Sentence::by(event).words(" removed ").value(self.email.as_str());
        let sentence = match subject_user(event) {
            Some(user) => sentence.words(" (").user(user).words(")"),
            None => sentence,
        };
        Some(match self.reason.as_str() {
            "import_reverted" => sentence.words(", as the import that created them was reverted"),
            reason => sentence.words(" (").value(reason.replace('_', " ")).words(")"),
        })
    }
}

impl Summarize for RoleChanged {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = user_ref(Sentence::by(event).words(" changed the role of "), subject_user(event));
        Some(sentence.from_to(self.old.as_str(), self.new.as_str()))
    }
}

impl Summarize for StatusChanged {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let user = subject_user(event);
        let by = Sentence::by(event);
        let sentence = match event.kind.as_str() {
            USER_INVITATION_ACCEPTED if user.is_some_and(|user| by_themselves(event, user)) => {
                by.words(" accepted their invitation")
            }
            USER_INVITATION_ACCEPTED => user_ref(by.words(" accepted the invitation of "), user),
            USER_DISABLED => user_ref(by.words(" disabled "), user),
            USER_ENABLED => user_ref(by.words(" enabled "), user).words(" again"),
            _ => return None,
        };
        Some(
            match self
                .reason
                .as_deref()
                .map(str::trim)
                .filter(|reason| !reason.is_empty())
            {
                Some(reason) => sentence.words(" (reason: ").value(reason).words(")"),
                None => sentence,
            },
        )
    }
}

impl Summarize for EmailChanged {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let by = Sentence::by(event);
        let sentence = match subject_user(event) {
            Some(user) if by_themselves(event, user) => by.words(" changed their sign-in address"),
            Some(user) => by.words(" changed the sign-in address of ").user(user),
            None => by.words(" changed a sign-in address"),
        };
        Some(sentence.from_to(self.old.as_str(), self.new.as_str()))
    }
}

impl Summarize for TimeZoneChanged {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let by = Sentence::by(event);
        let sentence = match subject_user(event) {
            Some(user) if by_themselves(event, user) => by.words(" chose to read times"),
            Some(user) => by.words(" chose for ").user(user).words(" to read times"),
            None => by.words(" chose to read times"),
        };
        Some(match &self.new {
            Some(zone) => sentence.words(" in ").value(zone.as_str()),
            None => sentence.words(" in UTC, the default"),
        })
    }
}

impl Summarize for PasswordSet {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let user = subject_user(event);
        let own = user.is_some_and(|user| by_themselves(event, user));
        let by = Sentence::by(event);
        let sentence = match (event.kind.as_str(), self.reason) {
            (PASSWORD_SET, PasswordReason::Setup) => {
                whose_password(by.words(" set "), event, user).words(" during setup")
            }
            (PASSWORD_SET, PasswordReason::Invitation) if own => {
                by.words(" chose their password on accepting their invitation")
            }
            (PASSWORD_SET, PasswordReason::Invitation) => {
                whose_password(by.words(" set "), event, user).words(" on accepting the invitation")
            }
            (PASSWORD_SET, PasswordReason::Import) => whose_password(by.words(" imported "), event, user)
                .words(" (hashed with ")
                .value(self.scheme.as_str())
                .words(")"),
            (PASSWORD_SET, PasswordReason::Reset) if own => by.words(" set a new password through a reset link"),
            (PASSWORD_SET, PasswordReason::Reset) => match user {
                Some(user) => by
                    .words(" set a new password for ")
                    .user(user)
                    .words(" through a reset link"),
                None => by.words(" set a new password through a reset link"),
            },
            (PASSWORD_SET, _) => whose_password(by.words(" set "), event, user),
            (PASSWORD_CHANGED, _) => whose_password(by.words(" changed "), event, user),
            (PASSWORD_REHASHED, _) if own => by
                .words(" had their password hashed again with ")
                .value(self.scheme.as_str())
                .words(" on signing in"),
            (PASSWORD_REHASHED, _) if matches!(event.actor.kind, ActorKind::Anonymous | ActorKind::System) => {
                whose_password(Sentence::new().words("Warden hashed "), event, user)
                    .words(" again with ")
                    .value(self.scheme.as_str())
                    .words(" at sign-in")
            }
            (PASSWORD_REHASHED, _) => whose_password(by.words(" hashed "), event, user)
                .words(" again with ")
                .value(self.scheme.as_str()),
            _ => return None,
        };
        Some(sentence)
    }
}

impl Summarize for LoginSucceeded {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        // The person who proved who they are is the user, whoever the
        // request's actor was recorded as.
        let sentence = if by_themselves(event, &self.user) {
            Sentence::by(event).words(" signed in")
        } else if event.actor.kind == ActorKind::Anonymous {
            Sentence::new().user(&self.user).words(" signed in")
        } else {
            Sentence::by(event).words(" signed in as ").user(&self.user)
        };
        let sentence = with_method(sentence, &self.method);
        let sentence = if self.second_factor_pending {
            sentence.words(" (a second factor still to come)")
        } else {
            sentence
        };
        Some(sentence.from_where(event))
    }
}

impl Summarize for LoginFailed {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let user = self.user.as_deref();
        let own = user.is_some_and(|user| by_themselves(event, user));
        // What was tried, as "… to sign in as mia@…" (`gerund`: "signing
        // in as mia@…").
        let attempt = |sentence: Sentence, gerund: bool| match (self.method.as_str(), user) {
            ("password_change", _) if own => sentence.words(if gerund {
                "changing their password"
            } else {
                "change their password"
            }),
            ("password_change", Some(user)) => sentence
                .words(if gerund {
                    "changing the password of "
                } else {
                    "change the password of "
                })
                .user(user),
            ("reauthenticate", _) if own => sentence.words(if gerund {
                "confirming it was them"
            } else {
                "confirm it was them"
            }),
            ("reauthenticate", Some(user)) => sentence
                .words(if gerund {
                    "confirming they were "
                } else {
                    "confirm they were "
                })
                .user(user),
            (_, Some(user)) => sentence
                .words(if gerund { "signing in as " } else { "sign in as " })
                .user(user),
            (_, None) => sentence.words(if gerund { "signing in" } else { "sign in" }),
        };
        let sign_in = !matches!(self.method.as_str(), "password_change" | "reauthenticate");
        let by = Sentence::by(event);
        let sentence = match self.reason {
            FailureReason::WrongPassword if self.method == "password_change" => {
                attempt(by.words(" gave a wrong current password to "), false)
            }
            FailureReason::WrongPassword => attempt(by.words(" gave a wrong password to "), false),
            FailureReason::InvalidPasskey => attempt(by.words(" used a passkey that did not verify to "), false),
            FailureReason::InvalidCode => attempt(by.words(" used an email code that was refused to "), false),
            FailureReason::UnknownAccount if self.method == "passkey" => {
                by.words(" tried to sign in with a passkey that belongs to no account")
            }
            FailureReason::UnknownAccount => with_method(by.words(" tried to sign in"), &self.method)
                .words(" as an email address that has no account"),
            FailureReason::Disabled | FailureReason::Invited => {
                let tried = attempt(by.words(" tried to "), false);
                let tried = if sign_in {
                    with_method(tried, &self.method)
                } else {
                    tried
                };
                tried.words(if self.reason == FailureReason::Disabled {
                    " (account disabled)"
                } else {
                    " (invitation not yet accepted)"
                })
            }
            FailureReason::Throttled => {
                attempt(by.words(" was stopped from "), true).words(" after too many failed attempts")
            }
        };
        Some(sentence.from_where(event))
    }
}
