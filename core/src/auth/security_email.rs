//! Security emails (decision 0028): which changes to an account its user
//! is told about by email, and the org's switches for them.
//!
//! A notice is decided from the event that records the change, in the
//! append that records it (so it is queued if and only if the change is
//! committed): [`notice`] reads one event, [`SecurityEmails::sends`] the
//! org's switch. The invitation is the one email that carries a secret
//! (the invitation link): it is composed where the link is made, under the
//! same switch.
//!
//! Nothing here does I/O or reads a clock.

use serde::{Deserialize, Serialize};

use crate::commands::account::{PASSWORD_CHANGED, PASSWORD_SET, PasswordReason, USER_EMAIL_CHANGED};
use crate::commands::api_key::{API_KEY_CREATED, Owner};
use crate::commands::mfa::{PASSKEY_REGISTERED, PASSKEY_REMOVED, RESET, TOTP_ENROLLED, TOTP_REMOVED};
use crate::commands::session::DEVICE_FIRST_SEEN;
use crate::commands::subjects::{Prefix, subject_id};
use crate::event::{ActorKind, NewEvent};

/// What a user is told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    /// A sign-in from a device (browser and system) the account never
    /// signed in from; not the account's very first sign-in.
    NewDevice,
    /// The password was changed by the user, or reset by a link.
    PasswordChanged,
    /// An authenticator app or a passkey was set up.
    FactorAdded,
    /// An authenticator app or a passkey was removed, or every factor by
    /// an admin or the operator.
    FactorRemoved,
    /// An API key owned by the user, or created by them, was made.
    KeyCreated,
    /// The account's address changed: told to the old address (the one
    /// the account has when the change is appended). No switch turns it
    /// off: it is the notice an attacker who took an account wants most
    /// to suppress.
    EmailChanged,
}

/// The org's switches (`PUT /api/v1/org/security-emails`): every email on
/// unless the org turns it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityEmails {
    /// Invitations are emailed to the invited address (the admin still
    /// gets the link to pass on).
    pub invitation: bool,
    pub new_device: bool,
    pub password_changed: bool,
    /// Second factors added or removed.
    pub factors: bool,
    pub keys: bool,
}

impl Default for SecurityEmails {
    fn default() -> Self {
        SecurityEmails {
            invitation: true,
            new_device: true,
            password_changed: true,
            factors: true,
            keys: true,
        }
    }
}

impl SecurityEmails {
    /// Whether the org sends `notice`.
    pub fn sends(&self, notice: Notice) -> bool {
        match notice {
            Notice::NewDevice => self.new_device,
            Notice::PasswordChanged => self.password_changed,
            Notice::FactorAdded | Notice::FactorRemoved => self.factors,
            Notice::KeyCreated => self.keys,
            Notice::EmailChanged => true,
        }
    }
}

/// The notice `event` calls for, and the id of the user to tell.
/// `device.first_seen` calls for one; whether it is the account's first
/// device ever (told nothing: that is its first sign-in) is the caller's
/// to check against what it knows.
pub fn notice(event: &NewEvent) -> Option<(Notice, String)> {
    let data_user = || {
        event
            .data
            .get("user")
            .and_then(|user| user.as_str())
            .map(str::to_string)
    };
    let subject_user = || subject_id(&event.subject, Prefix::User).map(str::to_string);
    match event.kind.as_str() {
        DEVICE_FIRST_SEEN => Some((Notice::NewDevice, data_user()?)),
        PASSWORD_CHANGED => Some((Notice::PasswordChanged, subject_user()?)),
        USER_EMAIL_CHANGED => Some((Notice::EmailChanged, subject_user()?)),
        PASSWORD_SET => {
            let reason: PasswordReason = serde_json::from_value(event.data.get("reason")?.clone()).ok()?;
            (reason == PasswordReason::Reset).then_some(())?;
            Some((Notice::PasswordChanged, subject_user()?))
        }
        TOTP_ENROLLED | PASSKEY_REGISTERED => Some((Notice::FactorAdded, data_user()?)),
        TOTP_REMOVED | PASSKEY_REMOVED | RESET => Some((Notice::FactorRemoved, data_user()?)),
        API_KEY_CREATED => {
            let owner: Owner = serde_json::from_value(event.data.get("owner")?.clone()).ok()?;
            let user = match owner {
                Owner::User { id } => id,
                Owner::Service { .. } if event.actor.kind == ActorKind::User => event.actor.id.clone()?,
                Owner::Service { .. } => return None,
            };
            Some((Notice::KeyCreated, user))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::Value;

    use super::*;
    use crate::event::Actor;

    fn fixture(kind: &str) -> Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/events/{kind}.json"));
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    fn event(kind: &str, subject: &str, data: Value, actor: Actor) -> NewEvent {
        NewEvent::new(kind, subject, actor).data(data)
    }

    #[test]
    fn the_changes_a_user_is_told_about() {
        let person = Actor {
            id: Some("u-admin".into()),
            ..Actor::of_kind(ActorKind::User)
        };
        let with_reason = |reason: &str| {
            let mut data = fixture("password.set");
            data["reason"] = reason.into();
            data
        };
        let service_key = fixture("api_key.created");
        let mut personal_key = service_key.clone();
        personal_key["owner"] = serde_json::json!({"kind": "user", "id": "u-7"});
        let user = |id: &str| Some(id.to_string());
        // (kind, subject, data, actor, expected notice and user: the
        // data's `user` when not named)
        type Case<'a> = (&'a str, &'a str, Value, Actor, Option<(Notice, Option<String>)>);
        let cases: Vec<Case> = vec![
            (
                "device.first_seen",
                "devices:u-1",
                serde_json::json!({"user": "u-1"}),
                Actor::of_kind(ActorKind::Anonymous),
                Some((Notice::NewDevice, user("u-1"))),
            ),
            (
                "password.changed",
                "user:u-1",
                with_reason("change"),
                person.clone(),
                Some((Notice::PasswordChanged, user("u-1"))),
            ),
            (
                "password.set",
                "user:u-1",
                with_reason("reset"),
                person.clone(),
                Some((Notice::PasswordChanged, user("u-1"))),
            ),
            // Set at creation, by an invitation, an import, a rehash: the
            // user chose it, or nothing changed for them.
            ("password.set", "user:u-1", with_reason("admin"), person.clone(), None),
            (
                "password.set",
                "user:u-1",
                with_reason("invitation"),
                person.clone(),
                None,
            ),
            ("password.set", "user:u-1", with_reason("import"), person.clone(), None),
            (
                "password.rehashed",
                "user:u-1",
                with_reason("rehash"),
                person.clone(),
                None,
            ),
            (
                "mfa.totp.enrolled",
                "mfa:u-1",
                fixture("mfa.totp.enrolled"),
                person.clone(),
                Some((Notice::FactorAdded, None)),
            ),
            (
                "mfa.passkey.registered",
                "mfa:u-1",
                fixture("mfa.passkey.registered"),
                person.clone(),
                Some((Notice::FactorAdded, None)),
            ),
            (
                "mfa.totp.removed",
                "mfa:u-1",
                fixture("mfa.totp.removed"),
                person.clone(),
                Some((Notice::FactorRemoved, None)),
            ),
            (
                "mfa.passkey.removed",
                "mfa:u-1",
                fixture("mfa.passkey.removed"),
                person.clone(),
                Some((Notice::FactorRemoved, None)),
            ),
            (
                "mfa.reset",
                "mfa:u-1",
                fixture("mfa.reset"),
                Actor::system(),
                Some((Notice::FactorRemoved, None)),
            ),
            (
                "api_key.created",
                "api_key:k",
                personal_key,
                person.clone(),
                Some((Notice::KeyCreated, user("u-7"))),
            ),
            (
                "api_key.created",
                "api_key:k",
                service_key.clone(),
                person.clone(),
                Some((Notice::KeyCreated, user("u-admin"))),
            ),
            ("api_key.created", "api_key:k", service_key, Actor::system(), None),
            (
                "user.email_changed",
                "user:u-1",
                fixture("user.email_changed"),
                person.clone(),
                Some((Notice::EmailChanged, user("u-1"))),
            ),
            ("mfa.verified", "mfa:u-1", fixture("mfa.verified"), person.clone(), None),
            ("session.created", "session:s", fixture("session.created"), person, None),
        ];
        for (kind, subject, data, actor, expected) in cases {
            let in_data = data.get("user").and_then(Value::as_str).map(str::to_string);
            let got = notice(&event(kind, subject, data, actor));
            let expected = expected.map(|(notice, user)| (notice, user.or(in_data).unwrap()));
            assert_eq!(got, expected, "{kind}");
        }
    }

    #[test]
    fn orgs_send_every_notice_until_they_turn_it_off() {
        let all = SecurityEmails::default();
        let notices = [
            Notice::NewDevice,
            Notice::PasswordChanged,
            Notice::FactorAdded,
            Notice::FactorRemoved,
            Notice::KeyCreated,
        ];
        assert!(notices.iter().all(|notice| all.sends(*notice)));
        let quiet = SecurityEmails {
            new_device: false,
            factors: false,
            ..all
        };
        let sent: Vec<bool> = notices.iter().map(|notice| quiet.sends(*notice)).collect();
        assert_eq!(sent, [false, true, false, false, true]);
        let silent = SecurityEmails {
            invitation: false,
            new_device: false,
            password_changed: false,
            factors: false,
            keys: false,
        };
        assert!(silent.sends(Notice::EmailChanged), "an address change is always told");
    }
}
