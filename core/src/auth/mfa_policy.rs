//! The MFA policy engine: what a sign-in by a given method leads to, for
//! an org's policy and the user's enrolled factors. One pure function,
//! [`decide`], that every sign-in method goes through, so that no method
//! can reach a full session the policy does not allow.
//!
//! The strictest applicable rule wins: a user who enrolled a factor is
//! asked for it even where the org does not require one; an org that
//! requires MFA for a method gets it whatever the user would prefer.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::commands::mfa::Factor;

/// How a user proved who they are first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Password,
    Passkey,
    EmailCode,
    Oidc,
    Saml,
    Ldap,
}

impl Method {
    pub const ALL: [Method; 6] = [
        Method::Password,
        Method::Passkey,
        Method::EmailCode,
        Method::Oidc,
        Method::Saml,
        Method::Ldap,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Password => "password",
            Method::Passkey => "passkey",
            Method::EmailCode => "email_code",
            Method::Oidc => "oidc",
            Method::Saml => "saml",
            Method::Ldap => "ldap",
        }
    }

    /// Whether an org that never changed its policy allows the method:
    /// passwords and passkeys; sign-in by email code is offered only once
    /// an admin turns it on (decision 0028).
    pub fn on_by_default(self) -> bool {
        self != Method::EmailCode
    }

    /// Whether Warden signs people in with the method yet: the policy's
    /// form offers only those (SAML and LDAP come with their issue; their
    /// rules are modelled already, so a policy may name them).
    pub fn is_built(self) -> bool {
        matches!(
            self,
            Method::Password | Method::Passkey | Method::EmailCode | Method::Oidc
        )
    }

    /// Whether the method comes from an upstream identity provider that
    /// may assert its own MFA (`amr`/`acr`).
    pub fn has_upstream(self) -> bool {
        matches!(self, Method::Oidc | Method::Saml)
    }

    /// Whether the method is single sign-on (the org's identity provider
    /// or directory proves who the person is), which an org may require.
    pub fn is_sso(self) -> bool {
        matches!(self, Method::Oidc | Method::Saml | Method::Ldap)
    }
}

/// An admin's explicit acknowledgement that an upstream provider's MFA
/// assertion is trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamTrust {
    pub acknowledged_by: String,
    #[serde(with = "crate::event::timestamp")]
    pub acknowledged_at: DateTime<Utc>,
}

/// The rule for one sign-in method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodRule {
    /// Whether users may sign in this way at all.
    pub allowed: bool,
    /// Whether a second factor is required after it.
    pub require_mfa: bool,
    /// The second factors that count (backup codes count only beside a
    /// real factor).
    pub factors: Vec<Factor>,
    /// Set when an admin acknowledged that the upstream provider's MFA is
    /// trusted (OIDC and SAML only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_upstream_mfa: Option<UpstreamTrust>,
}

impl Default for MethodRule {
    fn default() -> Self {
        MethodRule {
            allowed: true,
            require_mfa: false,
            factors: vec![Factor::Passkey, Factor::Totp, Factor::BackupCode],
            trust_upstream_mfa: None,
        }
    }
}

/// An org's MFA policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaPolicy {
    pub rules: BTreeMap<Method, MethodRule>,
    /// After MFA becomes required for a user (the policy's change or their
    /// account's creation, whichever is later), they may still sign in
    /// fully for this long, reminded to enrol; then sign-in leads straight
    /// to enrolment.
    pub enrolment_grace_seconds: u64,
    /// Everyone but the org's owners signs in with single sign-on only;
    /// owners keep their other methods to get in when the provider cannot
    /// (break-glass, decision 0037).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_sso: bool,
}

impl Default for MfaPolicy {
    fn default() -> Self {
        MfaPolicy {
            rules: Method::ALL
                .iter()
                .map(|method| {
                    let rule = MethodRule {
                        allowed: method.on_by_default(),
                        ..MethodRule::default()
                    };
                    (*method, rule)
                })
                .collect(),
            enrolment_grace_seconds: 7 * 24 * 3600,
            require_sso: false,
        }
    }
}

impl MfaPolicy {
    pub fn rule(&self, method: Method) -> MethodRule {
        self.rules.get(&method).cloned().unwrap_or_else(|| MethodRule {
            allowed: method.on_by_default(),
            ..MethodRule::default()
        })
    }
}

/// What is known about a sign-in when its first factor passed.
#[derive(Debug, Clone)]
pub struct SignIn<'a> {
    pub method: Method,
    /// The account is one of the org's owners (who keep their other
    /// methods where the org requires single sign-on).
    pub owner: bool,
    /// The user's usable second factors (TOTP confirmed, passkeys, backup
    /// codes left).
    pub enrolled: &'a [Factor],
    /// The first factor already proved two (a passkey with user
    /// verification).
    pub first_factor_is_mfa: bool,
    /// The upstream provider asserted MFA (`amr` contains `mfa`, or an
    /// `acr` the admin maps to it).
    pub upstream_mfa: bool,
    /// When MFA became required for this user (grace counts from here).
    pub required_since: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// What the sign-in leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A full session.
    Full,
    /// A full session, with a reminder to enrol a factor before `deadline`
    /// (the enrolment grace period).
    FullUntilEnrolled { deadline: DateTime<Utc> },
    /// A partial session until one of these factors is verified.
    SecondFactor { factors: Vec<Factor> },
    /// A partial session whose only way on is enrolling one of these.
    Enrol { factors: Vec<Factor> },
    /// No session.
    Refused { reason: &'static str },
    /// No session: the org requires single sign-on of this account.
    SsoRequired,
}

/// Whether a provider's assertion of a second factor (`asserted`) counts
/// as one for `method` under `policy`: only where an owner acknowledged
/// that the provider's MFA is trusted.
pub fn upstream_mfa_counts(policy: &MfaPolicy, method: Method, asserted: bool) -> bool {
    method.has_upstream() && asserted && policy.rule(method).trust_upstream_mfa.is_some()
}

/// Decides what a sign-in leads to.
pub fn decide(policy: &MfaPolicy, sign_in: &SignIn) -> Decision {
    let rule = policy.rule(sign_in.method);
    if !rule.allowed {
        return Decision::Refused {
            reason: "this sign-in method is not allowed in this organization",
        };
    }
    if policy.require_sso && !sign_in.method.is_sso() && !sign_in.owner {
        return Decision::SsoRequired;
    }
    if sign_in.first_factor_is_mfa {
        return Decision::Full;
    }
    if upstream_mfa_counts(policy, sign_in.method, sign_in.upstream_mfa) {
        return Decision::Full;
    }
    let real = |factor: &&Factor| **factor != Factor::BackupCode;
    if !rule.require_mfa {
        // Not required: the user's own factors still count (stricter).
        return if sign_in.enrolled.iter().any(|factor| real(&factor)) {
            Decision::SecondFactor {
                factors: ordered(sign_in.enrolled.iter().copied()),
            }
        } else {
            Decision::Full
        };
    }
    let usable: Vec<Factor> = sign_in
        .enrolled
        .iter()
        .filter(|factor| rule.factors.contains(factor))
        .copied()
        .collect();
    if usable.iter().any(|factor| real(&factor)) {
        return Decision::SecondFactor {
            factors: ordered(usable.into_iter()),
        };
    }
    let enrollable: Vec<Factor> = ordered(rule.factors.iter().filter(real).copied());
    if enrollable.is_empty() {
        return Decision::Refused {
            reason: "this organization requires a second factor for this sign-in method but allows none",
        };
    }
    let grace = chrono::Duration::seconds(i64::try_from(policy.enrolment_grace_seconds).unwrap_or(i64::MAX / 1000));
    let deadline = sign_in.required_since + grace;
    if sign_in.now < deadline {
        return Decision::FullUntilEnrolled { deadline };
    }
    Decision::Enrol { factors: enrollable }
}

/// Factors in the order a prompt offers them, without repeats.
fn ordered(factors: impl Iterator<Item = Factor>) -> Vec<Factor> {
    let mut out: Vec<Factor> = factors.collect();
    out.sort_by_key(|factor| match factor {
        Factor::Passkey => 0,
        Factor::Totp => 1,
        Factor::BackupCode => 2,
    });
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    /// Every subset of the factors.
    fn subsets(factors: &[Factor]) -> Vec<Vec<Factor>> {
        (0..1u32 << factors.len())
            .map(|mask| {
                factors
                    .iter()
                    .enumerate()
                    .filter(|(index, _)| mask & (1 << index) != 0)
                    .map(|(_, factor)| *factor)
                    .collect()
            })
            .collect()
    }

    const FACTORS: [Factor; 3] = [Factor::Passkey, Factor::Totp, Factor::BackupCode];

    /// Every method × rule (allowed, required, allowed factors, upstream
    /// trust) × enrolled factors × first factor strength × upstream MFA ×
    /// inside or past the grace period: the decision keeps every promise
    /// of the policy.
    #[test]
    fn method_names_are_their_serialized_names() {
        for method in Method::ALL {
            assert_eq!(serde_json::to_value(method).unwrap(), method.as_str());
        }
    }

    /// Email codes are offered only once an admin turns them on, in a
    /// default policy and in one that does not name them.
    #[test]
    fn email_codes_are_off_until_allowed() {
        let default = MfaPolicy::default();
        let silent = MfaPolicy {
            rules: BTreeMap::new(),
            ..MfaPolicy::default()
        };
        for policy in [&default, &silent] {
            for method in Method::ALL {
                assert_eq!(policy.rule(method).allowed, method != Method::EmailCode, "{method:?}");
            }
            let sign_in = SignIn {
                method: Method::EmailCode,
                owner: false,
                enrolled: &[],
                first_factor_is_mfa: false,
                upstream_mfa: false,
                required_since: chrono::DateTime::UNIX_EPOCH,
                now: chrono::DateTime::UNIX_EPOCH,
            };
            assert!(matches!(decide(policy, &sign_in), Decision::Refused { .. }));
        }
    }

    #[test]
    fn no_method_reaches_a_full_session_the_policy_does_not_allow() {
        let mut cases = 0;
        for method in Method::ALL {
            for allowed in [false, true] {
                for require_mfa in [false, true] {
                    for factors in subsets(&FACTORS) {
                        for trusted in [false, true] {
                            let rule = MethodRule {
                                allowed,
                                require_mfa,
                                factors: factors.clone(),
                                trust_upstream_mfa: trusted.then(|| UpstreamTrust {
                                    acknowledged_by: "admin".into(),
                                    acknowledged_at: at(0),
                                }),
                            };
                            for (require_sso, owner) in [(false, false), (true, false), (true, true)] {
                                let policy = MfaPolicy {
                                    rules: [(method, rule.clone())].into(),
                                    enrolment_grace_seconds: 3600,
                                    require_sso,
                                };
                                for enrolled in subsets(&FACTORS) {
                                    for first_factor_is_mfa in [false, true] {
                                        for upstream_mfa in [false, true] {
                                            for now in [at(10), at(7200)] {
                                                let sign_in = SignIn {
                                                    method,
                                                    owner,
                                                    enrolled: &enrolled,
                                                    first_factor_is_mfa,
                                                    upstream_mfa,
                                                    required_since: at(0),
                                                    now,
                                                };
                                                check(&policy, &rule, &sign_in, &decide(&policy, &sign_in));
                                                cases += 1;
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(cases, 6 * 2 * 2 * 8 * 2 * 3 * 8 * 2 * 2 * 2);
    }

    fn check(policy: &MfaPolicy, rule: &MethodRule, sign_in: &SignIn, decision: &Decision) {
        let context = format!(
            "{rule:?} sso required: {} {sign_in:?} -> {decision:?}",
            policy.require_sso
        );
        let sso_only = policy.require_sso && !sign_in.owner && !sign_in.method.is_sso();
        if *decision == Decision::SsoRequired {
            assert!(rule.allowed && sso_only, "{context}");
            return;
        }
        assert!(!sso_only || !rule.allowed, "past a required single sign-on: {context}");
        let real = |factors: &[Factor]| factors.iter().any(|factor| *factor != Factor::BackupCode);
        let proved_mfa = sign_in.first_factor_is_mfa
            || (sign_in.method.has_upstream() && sign_in.upstream_mfa && rule.trust_upstream_mfa.is_some());
        let in_grace = sign_in.now < sign_in.required_since + chrono::Duration::seconds(3600);
        let usable: Vec<Factor> = sign_in
            .enrolled
            .iter()
            .filter(|factor| rule.factors.contains(factor))
            .copied()
            .collect();
        match decision {
            Decision::SsoRequired => unreachable!(),
            Decision::Refused { .. } => {
                assert!(
                    !rule.allowed || (rule.require_mfa && !real(&rule.factors) && !proved_mfa),
                    "{context}"
                );
            }
            _ if !rule.allowed => panic!("a method that is not allowed signed in: {context}"),
            Decision::Full => {
                // Full only when MFA was proved, or neither the policy nor
                // the user's own factors ask for it.
                assert!(
                    proved_mfa || (!rule.require_mfa && !real(sign_in.enrolled)),
                    "{context}"
                );
            }
            Decision::FullUntilEnrolled { deadline } => {
                assert!(
                    rule.require_mfa && in_grace && !real(&usable) && !proved_mfa,
                    "{context}"
                );
                assert_eq!(*deadline, sign_in.required_since + chrono::Duration::seconds(3600));
            }
            Decision::SecondFactor { factors } => {
                assert!(!proved_mfa && real(factors), "{context}");
                assert!(
                    factors.iter().all(|factor| sign_in.enrolled.contains(factor)),
                    "{context}"
                );
                if rule.require_mfa {
                    assert!(factors.iter().all(|factor| rule.factors.contains(factor)), "{context}");
                }
            }
            Decision::Enrol { factors } => {
                assert!(
                    rule.require_mfa && !in_grace && !real(&usable) && !proved_mfa,
                    "{context}"
                );
                assert!(
                    !factors.is_empty() && !factors.contains(&Factor::BackupCode),
                    "{context}"
                );
                assert!(factors.iter().all(|factor| rule.factors.contains(factor)), "{context}");
            }
        }
    }

    #[test]
    fn the_usual_cases() {
        let mut policy = MfaPolicy::default();
        let sign_in = |enrolled: &'static [Factor], now| SignIn {
            method: Method::Password,
            owner: false,
            enrolled,
            first_factor_is_mfa: false,
            upstream_mfa: false,
            required_since: at(0),
            now,
        };
        // Default policy: only the user's own factors are asked for.
        assert_eq!(decide(&policy, &sign_in(&[], at(10))), Decision::Full);
        assert_eq!(
            decide(&policy, &sign_in(&[Factor::BackupCode, Factor::Totp], at(10))),
            Decision::SecondFactor {
                factors: vec![Factor::Totp, Factor::BackupCode]
            }
        );
        // Backup codes alone are no factor.
        assert_eq!(decide(&policy, &sign_in(&[Factor::BackupCode], at(10))), Decision::Full);

        // Required, TOTP only: a passkey-only user must enrol TOTP after the grace.
        let rule = policy.rules.get_mut(&Method::Password).unwrap();
        rule.require_mfa = true;
        rule.factors = vec![Factor::Totp, Factor::BackupCode];
        policy.enrolment_grace_seconds = 3600;
        assert_eq!(
            decide(&policy, &sign_in(&[Factor::Passkey], at(10))),
            Decision::FullUntilEnrolled { deadline: at(3600) }
        );
        assert_eq!(
            decide(&policy, &sign_in(&[Factor::Passkey], at(3600))),
            Decision::Enrol {
                factors: vec![Factor::Totp]
            }
        );
        assert_eq!(
            decide(&policy, &sign_in(&[Factor::Passkey, Factor::Totp], at(3600))),
            Decision::SecondFactor {
                factors: vec![Factor::Totp]
            }
        );

        // Upstream MFA counts only once an admin acknowledged it.
        let oidc = |upstream_mfa| SignIn {
            method: Method::Oidc,
            owner: false,
            enrolled: &[],
            first_factor_is_mfa: false,
            upstream_mfa,
            required_since: at(0),
            now: at(7200),
        };
        policy.rules.get_mut(&Method::Oidc).unwrap().require_mfa = true;
        assert!(matches!(decide(&policy, &oidc(true)), Decision::Enrol { .. }));
        policy.rules.get_mut(&Method::Oidc).unwrap().trust_upstream_mfa = Some(UpstreamTrust {
            acknowledged_by: "admin".into(),
            acknowledged_at: at(0),
        });
        assert_eq!(decide(&policy, &oidc(true)), Decision::Full);
        assert!(matches!(decide(&policy, &oidc(false)), Decision::Enrol { .. }));

        // Single sign-on required: a member's password is refused, an
        // owner's still asks for its second factor, single sign-on goes on.
        policy.require_sso = true;
        assert_eq!(
            decide(&policy, &sign_in(&[Factor::Totp], at(10))),
            Decision::SsoRequired
        );
        let owner = SignIn {
            owner: true,
            ..sign_in(&[Factor::Totp], at(10))
        };
        assert_eq!(
            decide(&policy, &owner),
            Decision::SecondFactor {
                factors: vec![Factor::Totp]
            }
        );
        assert_eq!(decide(&policy, &oidc(true)), Decision::Full);
        let passkey = SignIn {
            method: Method::Passkey,
            first_factor_is_mfa: true,
            ..sign_in(&[Factor::Passkey], at(10))
        };
        assert_eq!(decide(&policy, &passkey), Decision::SsoRequired);
    }
}
