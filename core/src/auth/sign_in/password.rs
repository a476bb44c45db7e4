//! Signing in with an email and a password.
//!
//! An unknown account, a wrong password and an invited account without a
//! password are refused alike (`InvalidCredentials`), each recorded as a
//! `login.failed` with its true reason for the audit trail; the flow spends
//! the same work and time on each, so neither the answer nor its timing
//! tells them apart. A disabled account is told it is disabled, but only
//! after its right password: a guesser learns nothing.

use chrono::{DateTime, Utc};

use super::{
    Account, AfterFirstFactor, DeviceSeen, MethodNotAllowed, NewSession, Opening, OrgRules, SignedIn,
    after_first_factor, open,
};
use crate::auth::Refusal;
use crate::auth::mfa_policy::Method;
use crate::auth::password::Verification;
use crate::commands::Caller;
use crate::commands::account::{self, FailureReason, PasswordSet, Status};
use crate::commands::mfa::Factor;
use crate::commands::session::Level;

/// What a password sign-in is decided on.
#[derive(Debug, Clone)]
pub struct State<'a> {
    /// The account with the typed email, if any.
    pub account: Option<&'a Account>,
    /// What checking the password against the account's hash found (a
    /// decoy's verdict, `Invalid`, when there is no account or no hash).
    pub verification: Verification,
    pub rules: &'a OrgRules,
    /// The account's usable second factors.
    pub enrolled: &'a [Factor],
    pub device: &'a DeviceSeen,
}

/// A password sign-in.
#[derive(Debug, Clone)]
pub struct Command<'a> {
    pub caller: &'a Caller,
    /// The keyed identifier of the typed email (`account::identifier_key`).
    pub identifier: &'a str,
    pub session: &'a NewSession,
    /// The same password hashed again with the current parameters, sealed:
    /// given when the verification asked for a rehash.
    pub rehashed: Option<PasswordSet>,
}

/// Why a password sign-in opened no session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Unknown account, wrong password, or an invitation not accepted yet:
    /// one answer for all.
    InvalidCredentials,
    /// The right password of a disabled account.
    Disabled,
    /// The org's MFA policy does not allow signing in with a password.
    MethodNotAllowed(MethodNotAllowed),
}

pub fn decide(state: &State, command: &Command, now: DateTime<Utc>) -> Result<SignedIn, Refusal<Rejection>> {
    let failed = |account: Option<&Account>, reason: FailureReason, rejection: Rejection| {
        let user = account.map(|account| account.id.as_str());
        let event = super::failed(
            &command.caller.anonymous(),
            user,
            command.identifier,
            reason,
            "password",
        );
        Refusal::recorded(rejection, vec![event])
    };
    let Some(account) = state.account else {
        return Err(failed(
            None,
            FailureReason::UnknownAccount,
            Rejection::InvalidCredentials,
        ));
    };
    let rehash = match (state.verification, account.status) {
        (_, Status::Invited) => {
            return Err(failed(
                Some(account),
                FailureReason::Invited,
                Rejection::InvalidCredentials,
            ));
        }
        (Verification::Invalid, _) => {
            return Err(failed(
                Some(account),
                FailureReason::WrongPassword,
                Rejection::InvalidCredentials,
            ));
        }
        (Verification::Valid { .. }, Status::Disabled) => {
            return Err(failed(Some(account), FailureReason::Disabled, Rejection::Disabled));
        }
        (Verification::Valid { rehash }, Status::Active) => rehash,
    };
    let AfterFirstFactor { pending, enrolment_due } =
        after_first_factor(account, state.rules, state.enrolled, Method::Password, false, now)
            .map_err(|refused| Refusal::new(Rejection::MethodNotAllowed(refused)))?;
    let mut events = open(
        command.caller,
        Opening {
            account,
            session: command.session,
            level: Level::Aal1,
            methods: &["password"],
            pending: pending.clone(),
            policy: state.rules.session,
            device: state.device,
        },
        now,
    );
    let mut signed_in = SignedIn {
        events: Vec::new(),
        session: command.session.id.clone(),
        pending,
        enrolment_due,
    };
    events.push(super::succeeded(
        command.caller,
        account,
        "password",
        command.identifier,
        &signed_in,
    ));
    if let Some(set) = command.rehashed.as_ref().filter(|_| rehash) {
        // Decided on the account's version: refused if the password
        // changed meanwhile, so an old password can never come back.
        let context = command.caller.as_user(&account.id, &account.org);
        events.push(account::set_password(&context, &account.id, Some(account.version), set));
    }
    signed_in.events = events;
    Ok(signed_in)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::commands::account::{LoginFailed, Role};
    use crate::commands::session::{Pending, SessionCreated};

    fn kinds(events: &[crate::event::NewEvent]) -> Vec<&str> {
        events.iter().map(|event| event.kind.as_str()).collect()
    }

    fn rehashed() -> PasswordSet {
        let fixture = include_str!("../../../tests/fixtures/events/password.set.json");
        let mut set: PasswordSet = serde_json::from_str(fixture).unwrap();
        set.reason = account::PasswordReason::Rehash;
        set
    }

    /// The kinds appended and what is pending, or the rejection and the
    /// failure recorded.
    type Expect = Result<(&'static [&'static str], Option<Pending>), (Rejection, Option<FailureReason>)>;

    /// One row: the account's status (none: unknown), the verdict, the org,
    /// the factors, whether the device is known, and what must come out.
    struct Case {
        name: &'static str,
        status: Option<Status>,
        role: Role,
        verification: Verification,
        rules: OrgRules,
        enrolled: &'static [Factor],
        known_device: bool,
        expect: Expect,
    }

    const CREATED: &str = "session.created";
    const SEEN: &str = "device.first_seen";
    const OK: &str = "login.succeeded";

    fn cases() -> Vec<Case> {
        let valid = Verification::Valid { rehash: false };
        let rehash = Verification::Valid { rehash: true };
        let mut password_refused = OrgRules::default();
        password_refused.mfa.rules.get_mut(&Method::Password).unwrap().allowed = false;
        let mut sso_required = OrgRules::default();
        sso_required.mfa.require_sso = true;
        vec![
            Case {
                name: "unknown account",
                status: None,
                role: Role::Member,
                verification: Verification::Invalid,
                rules: OrgRules::default(),
                enrolled: &[],
                known_device: false,
                expect: Err((Rejection::InvalidCredentials, Some(FailureReason::UnknownAccount))),
            },
            Case {
                name: "wrong password",
                status: Some(Status::Active),
                role: Role::Member,
                verification: Verification::Invalid,
                rules: OrgRules::default(),
                enrolled: &[],
                known_device: true,
                expect: Err((Rejection::InvalidCredentials, Some(FailureReason::WrongPassword))),
            },
            Case {
                name: "invited, whatever the verdict",
                status: Some(Status::Invited),
                role: Role::Member,
                verification: valid,
                rules: OrgRules::default(),
                enrolled: &[],
                known_device: true,
                expect: Err((Rejection::InvalidCredentials, Some(FailureReason::Invited))),
            },
            Case {
                name: "disabled, wrong password: told nothing more",
                status: Some(Status::Disabled),
                role: Role::Member,
                verification: Verification::Invalid,
                rules: OrgRules::default(),
                enrolled: &[],
                known_device: true,
                expect: Err((Rejection::InvalidCredentials, Some(FailureReason::WrongPassword))),
            },
            Case {
                name: "disabled, right password",
                status: Some(Status::Disabled),
                role: Role::Member,
                verification: valid,
                rules: OrgRules::default(),
                enrolled: &[],
                known_device: true,
                expect: Err((Rejection::Disabled, Some(FailureReason::Disabled))),
            },
            Case {
                name: "passwords not allowed: no session, nothing recorded",
                status: Some(Status::Active),
                role: Role::Member,
                verification: valid,
                rules: password_refused,
                enrolled: &[],
                known_device: true,
                expect: Err((
                    Rejection::MethodNotAllowed(MethodNotAllowed::ByPolicy(
                        "this sign-in method is not allowed in this organization",
                    )),
                    None,
                )),
            },
            Case {
                name: "single sign-on required: a member's right password opens nothing",
                status: Some(Status::Active),
                role: Role::Member,
                verification: valid,
                rules: sso_required.clone(),
                enrolled: &[],
                known_device: true,
                expect: Err((Rejection::MethodNotAllowed(MethodNotAllowed::SsoRequired), None)),
            },
            Case {
                name: "single sign-on required: a member's wrong password is told only that",
                status: Some(Status::Active),
                role: Role::Admin,
                verification: Verification::Invalid,
                rules: sso_required.clone(),
                enrolled: &[],
                known_device: true,
                expect: Err((Rejection::InvalidCredentials, Some(FailureReason::WrongPassword))),
            },
            Case {
                name: "single sign-on required: an owner still signs in, with their factor (break-glass)",
                status: Some(Status::Active),
                role: Role::Owner,
                verification: valid,
                rules: sso_required,
                enrolled: &[Factor::Totp],
                known_device: true,
                expect: Ok((&[CREATED, OK], Some(Pending::second_factor(vec![Factor::Totp])))),
            },
            Case {
                name: "full session on a known device",
                status: Some(Status::Active),
                role: Role::Member,
                verification: valid,
                rules: OrgRules::default(),
                enrolled: &[],
                known_device: true,
                expect: Ok((&[CREATED, OK], None)),
            },
            Case {
                name: "a new device is recorded",
                status: Some(Status::Active),
                role: Role::Member,
                verification: valid,
                rules: OrgRules::default(),
                enrolled: &[],
                known_device: false,
                expect: Ok((&[CREATED, SEEN, OK], None)),
            },
            Case {
                name: "a rehash is decided on the account's version",
                status: Some(Status::Active),
                role: Role::Member,
                verification: rehash,
                rules: OrgRules::default(),
                enrolled: &[],
                known_device: true,
                expect: Ok((&[CREATED, OK, "password.rehashed"], None)),
            },
            Case {
                name: "an enrolled factor is asked for",
                status: Some(Status::Active),
                role: Role::Member,
                verification: valid,
                rules: OrgRules::default(),
                enrolled: &[Factor::Totp, Factor::BackupCode],
                known_device: true,
                expect: Ok((
                    &[CREATED, OK],
                    Some(Pending::second_factor(vec![Factor::Totp, Factor::BackupCode])),
                )),
            },
            Case {
                name: "required and none enrolled, grace over: enrolment",
                status: Some(Status::Active),
                role: Role::Member,
                verification: valid,
                rules: requiring_mfa(),
                enrolled: &[],
                known_device: true,
                expect: Ok((
                    &[CREATED, OK],
                    Some(Pending::enrolment(vec![Factor::Passkey, Factor::Totp])),
                )),
            },
        ]
    }

    #[test]
    fn password_sign_in_table() {
        for case in cases() {
            let account = case.status.map(|status| Account {
                role: case.role,
                ..account(status)
            });
            let device = device(case.known_device);
            let state = State {
                account: account.as_ref(),
                verification: case.verification,
                rules: &case.rules,
                enrolled: case.enrolled,
                device: &device,
            };
            let caller = caller();
            let session = new_session();
            let command = Command {
                caller: &caller,
                identifier: "id-1",
                session: &session,
                rehashed: Some(rehashed()),
            };
            let decided = decide(&state, &command, now());
            match (decided, case.expect) {
                (Ok(signed_in), Ok((expected, pending))) => {
                    assert_eq!(kinds(&signed_in.events), expected, "{}", case.name);
                    assert_eq!(signed_in.pending, pending, "{}", case.name);
                    let created: SessionCreated = serde_json::from_value(signed_in.events[0].data.clone()).unwrap();
                    assert_eq!(created.pending, pending, "{}", case.name);
                    assert_eq!(created.token_hash, session.token_hash, "{}", case.name);
                    let lifetime = if pending.is_some() {
                        super::super::PARTIAL_SESSION
                    } else {
                        super::super::seconds(case.rules.session.absolute_timeout_seconds)
                    };
                    assert_eq!(created.expires_at, now() + lifetime, "{}", case.name);
                    assert!(
                        signed_in
                            .events
                            .iter()
                            .all(|event| event.actor.id.as_deref() == Some("u-1")),
                        "{}: every event is the user's",
                        case.name
                    );
                }
                (Err(refusal), Err((rejection, recorded))) => {
                    assert_eq!(refusal.reason, rejection, "{}", case.name);
                    let reasons: Vec<FailureReason> = refusal
                        .events
                        .iter()
                        .map(|event| {
                            serde_json::from_value::<LoginFailed>(event.data.clone())
                                .unwrap()
                                .reason
                        })
                        .collect();
                    assert_eq!(reasons, recorded.into_iter().collect::<Vec<_>>(), "{}", case.name);
                }
                (got, _) => panic!("{}: {got:?}", case.name),
            }
        }
    }

    #[test]
    fn a_rehash_without_a_new_hash_appends_none() {
        let account = account(Status::Active);
        let device = device(true);
        let rules = OrgRules::default();
        let state = State {
            account: Some(&account),
            verification: Verification::Valid { rehash: true },
            rules: &rules,
            enrolled: &[],
            device: &device,
        };
        let (caller, session) = (caller(), new_session());
        let command = Command {
            caller: &caller,
            identifier: "id-1",
            session: &session,
            rehashed: None,
        };
        let signed_in = decide(&state, &command, now()).unwrap();
        assert_eq!(kinds(&signed_in.events), ["session.created", "login.succeeded"]);
    }
}
