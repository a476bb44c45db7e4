//! A change of an org's sign-in policy (the MFA policy): what a change may
//! ask for and who may ask for it. One pure function, [`decide`], with
//! its table of cases below; the flow reads the org, calls it and appends
//! `org.mfa_policy_changed` with what it returns.
//!
//! What only an owner may do: acknowledge that a provider's second factor
//! is trusted, and require (or stop requiring) single sign-on, since both
//! change who can get in on whose word. Requiring single sign-on needs a
//! connection that is on and serves a domain an owner acknowledged:
//! otherwise nobody but the owners could sign in at all (decision 0037).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::mfa_policy::{Method, MfaPolicy, UpstreamTrust};
use crate::commands::account::Role;
use crate::commands::mfa::Factor;

/// Longest enrolment grace period an org may give.
pub const MAX_GRACE_SECONDS: u64 = 90 * 24 * 3600;

/// A change as an admin asks for it: what is left out stays.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub enrolment_grace_seconds: Option<u64>,
    #[serde(default)]
    pub methods: BTreeMap<Method, MethodChange>,
    pub require_sso: Option<bool>,
}

/// A change of one method's rule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodChange {
    pub allowed: Option<bool>,
    pub require_mfa: Option<bool>,
    pub factors: Option<Vec<Factor>>,
    pub trust_upstream_mfa: Option<bool>,
}

/// Who asks, and what the org has that the change depends on.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    pub by: &'a str,
    pub role: Role,
    /// The org has a single sign-on connection that is on and serves a
    /// domain an owner acknowledged.
    pub sso_ready: bool,
    pub now: DateTime<Utc>,
}

/// Why a change is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The change is the owner's to make (403).
    OwnersOnly(&'static str),
    /// The policy it would make is not one Warden runs (422).
    Invalid(&'static str),
}

/// The policy `current` becomes under `change` (the same policy when the
/// change changes nothing).
pub fn decide(current: &MfaPolicy, change: &Change, asked: Asked) -> Result<MfaPolicy, Refused> {
    let owner = asked.role == Role::Owner;
    let mut policy = current.clone();
    if let Some(grace) = change.enrolment_grace_seconds {
        if grace > MAX_GRACE_SECONDS {
            return Err(Refused::Invalid("enrolment_grace_seconds must be at most 90 days"));
        }
        policy.enrolment_grace_seconds = grace;
    }
    for (method, asked_for) in &change.methods {
        let rule = policy.rules.entry(*method).or_insert_with(|| current.rule(*method));
        if let Some(allowed) = asked_for.allowed {
            rule.allowed = allowed;
        }
        if let Some(require) = asked_for.require_mfa {
            rule.require_mfa = require;
        }
        if let Some(factors) = &asked_for.factors {
            let mut factors = factors.clone();
            factors.sort();
            factors.dedup();
            rule.factors = factors;
        }
        match asked_for.trust_upstream_mfa {
            Some(true) if !method.has_upstream() => {
                return Err(Refused::Invalid(
                    "only OIDC and SAML sign-ins have an upstream provider whose MFA can be trusted",
                ));
            }
            Some(true) if rule.trust_upstream_mfa.is_none() && !owner => {
                return Err(Refused::OwnersOnly(
                    "only an owner can acknowledge that a provider's second factor is trusted",
                ));
            }
            Some(true) if rule.trust_upstream_mfa.is_none() => {
                rule.trust_upstream_mfa = Some(UpstreamTrust {
                    acknowledged_by: asked.by.to_string(),
                    acknowledged_at: asked.now,
                });
            }
            Some(false) => rule.trust_upstream_mfa = None,
            _ => {}
        }
        if rule.require_mfa && !rule.factors.iter().any(|factor| *factor != Factor::BackupCode) {
            return Err(Refused::Invalid(
                "a method that requires MFA must allow TOTP or passkeys (backup codes only recover them)",
            ));
        }
    }
    if let Some(require) = change.require_sso.filter(|require| *require != current.require_sso) {
        if !owner {
            return Err(Refused::OwnersOnly(
                "only an owner can require single sign-on, or stop requiring it",
            ));
        }
        if require && !asked.sso_ready {
            return Err(Refused::Invalid(
                "turn on a single sign-on connection with a domain an owner acknowledged before requiring single sign-on",
            ));
        }
        policy.require_sso = require;
    }
    if !policy.rule(Method::Password).allowed && !policy.rule(Method::Passkey).allowed {
        return Err(Refused::Invalid(
            "password or passkey sign-in must stay allowed: no one could sign in otherwise",
        ));
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn asked(role: Role, sso_ready: bool) -> Asked<'static> {
        Asked {
            by: "u-1",
            role,
            sso_ready,
            now: at(0),
        }
    }

    fn method(method: Method, change: MethodChange) -> Change {
        Change {
            methods: [(method, change)].into(),
            ..Change::default()
        }
    }

    fn trusted(policy: &MfaPolicy) -> bool {
        policy.rule(Method::Oidc).trust_upstream_mfa.is_some()
    }

    #[test]
    fn policy_change_table() {
        let default = MfaPolicy::default();
        let requiring = MfaPolicy {
            require_sso: true,
            ..MfaPolicy::default()
        };
        let mut trusting = MfaPolicy::default();
        trusting.rules.get_mut(&Method::Oidc).unwrap().trust_upstream_mfa = Some(UpstreamTrust {
            acknowledged_by: "u-0".into(),
            acknowledged_at: at(-60),
        });
        let require = |on| Change {
            require_sso: Some(on),
            ..Change::default()
        };
        let trust = |on| {
            method(
                Method::Oidc,
                MethodChange {
                    trust_upstream_mfa: Some(on),
                    ..MethodChange::default()
                },
            )
        };
        type Check = fn(&MfaPolicy) -> bool;
        /// (case, current, change, role, a connection ready, expected)
        type Case<'a> = (&'a str, &'a MfaPolicy, Change, Role, bool, Result<Check, Refused>);
        let cases: Vec<Case> = vec![
            (
                "nothing asked: nothing changes",
                &default,
                Change::default(),
                Role::Admin,
                false,
                Ok(|p| *p == MfaPolicy::default()),
            ),
            (
                "an owner requires single sign-on",
                &default,
                require(true),
                Role::Owner,
                true,
                Ok(|p| p.require_sso),
            ),
            (
                "an admin may not require it",
                &default,
                require(true),
                Role::Admin,
                true,
                Err(Refused::OwnersOnly(
                    "only an owner can require single sign-on, or stop requiring it",
                )),
            ),
            (
                "nor stop requiring it",
                &requiring,
                require(false),
                Role::Admin,
                true,
                Err(Refused::OwnersOnly(
                    "only an owner can require single sign-on, or stop requiring it",
                )),
            ),
            (
                "an admin asking for what is already so changes nothing",
                &requiring,
                require(true),
                Role::Admin,
                false,
                Ok(|p| p.require_sso),
            ),
            (
                "no connection on with an acknowledged domain: refused",
                &default,
                require(true),
                Role::Owner,
                false,
                Err(Refused::Invalid(
                    "turn on a single sign-on connection with a domain an owner acknowledged before requiring single sign-on",
                )),
            ),
            (
                "an owner stops requiring it, connection or not",
                &requiring,
                require(false),
                Role::Owner,
                false,
                Ok(|p| !p.require_sso),
            ),
            (
                "an owner trusts the provider's second factor",
                &default,
                trust(true),
                Role::Owner,
                false,
                Ok(trusted),
            ),
            (
                "an admin may not trust it",
                &default,
                trust(true),
                Role::Admin,
                false,
                Err(Refused::OwnersOnly(
                    "only an owner can acknowledge that a provider's second factor is trusted",
                )),
            ),
            (
                "an admin may withdraw the trust (stricter)",
                &trusting,
                trust(false),
                Role::Admin,
                false,
                Ok(|p| !trusted(p)),
            ),
            (
                "asking again keeps the first acknowledgement",
                &trusting,
                trust(true),
                Role::Admin,
                false,
                Ok(|p| {
                    p.rule(Method::Oidc)
                        .trust_upstream_mfa
                        .is_some_and(|trust| trust.acknowledged_by == "u-0")
                }),
            ),
            (
                "passwords have no upstream",
                &default,
                method(
                    Method::Password,
                    MethodChange {
                        trust_upstream_mfa: Some(true),
                        ..MethodChange::default()
                    },
                ),
                Role::Owner,
                false,
                Err(Refused::Invalid(
                    "only OIDC and SAML sign-ins have an upstream provider whose MFA can be trusted",
                )),
            ),
            (
                "MFA required with only backup codes",
                &default,
                method(
                    Method::Password,
                    MethodChange {
                        require_mfa: Some(true),
                        factors: Some(vec![Factor::BackupCode]),
                        ..MethodChange::default()
                    },
                ),
                Role::Admin,
                false,
                Err(Refused::Invalid(
                    "a method that requires MFA must allow TOTP or passkeys (backup codes only recover them)",
                )),
            ),
            (
                "factors sorted and without repeats",
                &default,
                method(
                    Method::Password,
                    MethodChange {
                        require_mfa: Some(true),
                        factors: Some(vec![Factor::Passkey, Factor::Totp, Factor::Passkey]),
                        ..MethodChange::default()
                    },
                ),
                Role::Admin,
                false,
                Ok(|p| p.rule(Method::Password).factors == [Factor::Totp, Factor::Passkey]),
            ),
            (
                "neither password nor passkey",
                &requiring,
                Change {
                    methods: [
                        (
                            Method::Password,
                            MethodChange {
                                allowed: Some(false),
                                ..MethodChange::default()
                            },
                        ),
                        (
                            Method::Passkey,
                            MethodChange {
                                allowed: Some(false),
                                ..MethodChange::default()
                            },
                        ),
                    ]
                    .into(),
                    ..Change::default()
                },
                Role::Owner,
                true,
                Err(Refused::Invalid(
                    "password or passkey sign-in must stay allowed: no one could sign in otherwise",
                )),
            ),
            (
                "a grace period over 90 days",
                &default,
                Change {
                    enrolment_grace_seconds: Some(MAX_GRACE_SECONDS + 1),
                    ..Change::default()
                },
                Role::Admin,
                false,
                Err(Refused::Invalid("enrolment_grace_seconds must be at most 90 days")),
            ),
            (
                "a grace period of 90 days",
                &default,
                Change {
                    enrolment_grace_seconds: Some(MAX_GRACE_SECONDS),
                    ..Change::default()
                },
                Role::Admin,
                false,
                Ok(|p| p.enrolment_grace_seconds == MAX_GRACE_SECONDS),
            ),
        ];
        for (name, current, change, role, sso_ready, expected) in cases {
            let decided = decide(current, &change, asked(role, sso_ready));
            match (decided, expected) {
                (Ok(policy), Ok(check)) => assert!(check(&policy), "{name}: {policy:?}"),
                (Err(refused), Err(expected)) => assert_eq!(refused, expected, "{name}"),
                (decided, _) => panic!("{name}: {decided:?}"),
            }
        }
    }

    #[test]
    fn a_trust_records_who_acknowledged_it_and_when() {
        let change = method(
            Method::Oidc,
            MethodChange {
                trust_upstream_mfa: Some(true),
                ..MethodChange::default()
            },
        );
        let policy = decide(&MfaPolicy::default(), &change, asked(Role::Owner, false)).unwrap();
        assert_eq!(
            policy.rule(Method::Oidc).trust_upstream_mfa,
            Some(UpstreamTrust {
                acknowledged_by: "u-1".into(),
                acknowledged_at: at(0),
            })
        );
    }
}
