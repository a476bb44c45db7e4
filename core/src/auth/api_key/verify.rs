//! A verification: one fixed check order, the same for every way a key
//! comes in (`POST /api/v1/keys/verify`, forward authentication, Warden's
//! own API).
//!
//! 1. `not_found`: malformed, unknown id, or a secret that is not the
//!    key's (a malformed key costs the same digest and lookup as an
//!    unknown one).
//! 2. `revoked`
//! 3. `expired`: the key's expiry passed, or this is the secret before a
//!    rotation and its grace period is over.
//! 4. `disabled_owner`: the user who owns the key is not active.
//! 5. `ip_not_allowed`: the key has an allowlist without the client's
//!    address (the address `trusted_proxies` resolved).
//! 6. `insufficient_scope`: a scope asked for is not the key's; on
//!    Warden's own API also one its kind or its owner's role does not
//!    allow (`scopes::usable_on_warden`: app keys never, a user's key only
//!    what the user's role holds now).
//! 7. `actor_not_allowed`: a vendor key's request names no active user of
//!    the key's org (`vendor`).
//! 8. `invalid_ticket`: a vendor key's request names no ticket its
//!    pattern matches.
//! 9. `rate_limited`: one of the key's limits is spent in its window.
//! 10. `usage_exceeded`: no uses left.
//! 11. `valid`.
//!
//! Only a request that passes 1–8 counts against the key's limits, and
//! only one that passes 9 spends a use: a refusal never costs the key.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use super::Key;
use super::limits::{LimitState, Take};
use super::scopes::{Holder, usable_on_warden};
use super::vendor::{self, Claims, OnBehalf};
use crate::auth::tokens::constant_time_eq;
use crate::commands::api_key::VerifyOutcome;

/// Which of the key's secrets the presented text is.
#[derive(Debug, Clone, Copy)]
pub enum Found<'a> {
    /// Malformed, unknown, or not this key's secret.
    Nothing,
    Current(&'a Key),
    /// The secret before the last rotation.
    Previous(&'a Key),
}

/// Matches a presentation's digest against the key its id names, in
/// constant time.
pub fn identify<'a>(key: Option<&'a Key>, digest: &str) -> Found<'a> {
    let Some(key) = key else {
        return Found::Nothing;
    };
    let current = constant_time_eq(&key.secret.digest, digest);
    let previous = key
        .previous
        .as_ref()
        .is_some_and(|(secret, _)| constant_time_eq(&secret.digest, digest));
    match (current, previous) {
        (true, _) => Found::Current(key),
        (false, true) => Found::Previous(key),
        (false, false) => Found::Nothing,
    }
}

/// What the request asks of the key.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub now: DateTime<Utc>,
    pub ip: Option<IpAddr>,
    /// Every one of these must be the key's.
    pub scopes: &'a [String],
    /// The request is to Warden's own API: the scopes are Warden's, and
    /// what the key's kind and people allow counts too.
    pub on_warden: bool,
    /// For whom and under which ticket the request says it acts (checked
    /// for vendor keys only).
    pub claims: Claims<'a>,
}

/// What a verification reads besides the key, from the node's read
/// models.
pub trait Facts {
    /// Who stands behind `key` now: a service, or its owner's role
    /// (`Inactive` for a disabled owner or a removed org).
    fn holder(&self, key: &Key) -> Holder;
    /// Whether `user` is an active user of `key`'s org.
    fn active_member(&self, key: &Key, user: &str) -> bool;
    /// Whether `ticket` matches `key`'s ticket pattern whole.
    fn ticket_matches(&self, key: &Key, ticket: &str) -> bool;
}

/// The answer of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict<'a> {
    pub outcome: VerifyOutcome,
    /// The key, for every outcome but `not_found`.
    pub key: Option<&'a Key>,
    /// The tightest limit after this request, for the `RateLimit` headers
    /// (when the key has limits and the request got that far).
    pub limit: Option<LimitState>,
    /// A vendor key's claim, once checked.
    pub on_behalf: Option<OnBehalf>,
}

/// Decides a verification in the fixed order, reading `facts`; `take`
/// counts the request against the key's limits and uses and is called
/// only once checks 1–8 passed.
pub fn decide<'a>(
    found: Found<'a>,
    request: &Request<'_>,
    facts: &impl Facts,
    take: impl FnOnce(&Key) -> Take,
) -> Verdict<'a> {
    let (key, previous_until) = match found {
        Found::Nothing => return refused(VerifyOutcome::NotFound, None),
        Found::Current(key) => (key, None),
        Found::Previous(key) => (key, key.previous.as_ref().map(|(_, until)| *until)),
    };
    if let Some(outcome) = refusal(key, previous_until, request, facts) {
        return refused(outcome, Some(key));
    }
    let on_behalf = match vendor::decide(
        key,
        request.claims,
        |user| facts.active_member(key, user),
        |ticket| facts.ticket_matches(key, ticket),
    ) {
        Ok(on_behalf) => on_behalf,
        Err(outcome) => return refused(outcome, Some(key)),
    };
    let (outcome, limit) = match take(key) {
        Take::Taken(limit) => (VerifyOutcome::Valid, limit),
        Take::RateLimited(limit) => (VerifyOutcome::RateLimited, Some(limit)),
        Take::UsedUp => (VerifyOutcome::UsageExceeded, None),
    };
    Verdict {
        outcome,
        key: Some(key),
        limit,
        on_behalf,
    }
}

/// Checks 2–6, in their order.
fn refusal(
    key: &Key,
    previous_until: Option<DateTime<Utc>>,
    request: &Request<'_>,
    facts: &impl Facts,
) -> Option<VerifyOutcome> {
    let settings = &key.settings;
    if key.revoked_at.is_some() {
        return Some(VerifyOutcome::Revoked);
    }
    if settings.expires_at.is_some_and(|at| at <= request.now)
        || previous_until.is_some_and(|until| until <= request.now)
    {
        return Some(VerifyOutcome::Expired);
    }
    let holder = facts.holder(key);
    if holder == Holder::Inactive {
        return Some(VerifyOutcome::DisabledOwner);
    }
    if !settings.allowed_networks.is_empty()
        && !request
            .ip
            .is_some_and(|ip| settings.allowed_networks.iter().any(|net| net.contains(ip)))
    {
        return Some(VerifyOutcome::IpNotAllowed);
    }
    let allowed = |scope: &String| {
        settings.scopes.contains(scope) && (!request.on_warden || usable_on_warden(key.kind, holder, scope))
    };
    if !request.scopes.iter().all(allowed) {
        return Some(VerifyOutcome::InsufficientScope);
    }
    None
}

fn refused(outcome: VerifyOutcome, key: Option<&Key>) -> Verdict<'_> {
    Verdict {
        outcome,
        key,
        limit: None,
        on_behalf: None,
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use chrono::Duration;

    use super::*;
    use crate::auth::api_key::limits::LimitState;
    use crate::commands::account::Role;
    use crate::commands::api_key::{KeyKind, SecretDigest};
    use crate::net::IpNet;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn key() -> Key {
        let mut key = crate::auth::api_key::test_key();
        key.settings.scopes = vec!["invoices:read".into(), "invoices:write".into()];
        key.previous = Some((
            SecretDigest {
                digest: "p".repeat(64),
                hint: "pppp".into(),
            },
            at(100),
        ));
        key.rotated_at = Some(at(50));
        key.version = 2;
        key
    }

    /// The read models of a test: who stands behind every key, the org's
    /// active users, and tickets `SUP-<n>`.
    struct People {
        holder: Holder,
    }

    impl Facts for People {
        fn holder(&self, _: &Key) -> Holder {
            self.holder
        }
        fn active_member(&self, _: &Key, user: &str) -> bool {
            ["u-1", "u-2"].contains(&user)
        }
        fn ticket_matches(&self, _: &Key, ticket: &str) -> bool {
            ticket.strip_prefix("SUP-").is_some_and(|n| n.parse::<u32>().is_ok())
        }
    }

    fn request<'a>(now: DateTime<Utc>, ip: Option<IpAddr>, scopes: &'a [String], on_warden: bool) -> Request<'a> {
        Request {
            now,
            ip,
            scopes,
            on_warden,
            claims: Claims::default(),
        }
    }

    fn limit() -> LimitState {
        LimitState {
            name: "per_second".into(),
            limit: 10,
            window_seconds: 1,
            remaining: 0,
            reset_seconds: 1,
        }
    }

    #[test]
    fn identify_tells_the_current_secret_from_the_previous_one() {
        let key = key();
        assert!(matches!(identify(Some(&key), &"c".repeat(64)), Found::Current(_)));
        assert!(matches!(identify(Some(&key), &"p".repeat(64)), Found::Previous(_)));
        assert!(matches!(identify(Some(&key), &"x".repeat(64)), Found::Nothing));
        assert!(matches!(identify(None, &"c".repeat(64)), Found::Nothing));
    }

    /// Each case breaks one more rule than the one before it and expects
    /// the earliest broken rule: the order is the documented one.
    #[test]
    fn the_first_broken_rule_in_the_fixed_order_decides() {
        struct Case {
            name: &'static str,
            change: fn(&mut Key, &mut Given),
            expected: VerifyOutcome,
        }
        #[derive(Clone)]
        struct Given {
            found: u8, // 0 nothing, 1 current, 2 previous
            now: DateTime<Utc>,
            ip: Option<IpAddr>,
            scopes: Vec<String>,
            owner_active: bool,
            actor: Option<&'static str>,
            ticket: Option<&'static str>,
            take: Take,
        }
        let cases = [
            Case {
                name: "a vendor naming an active user and a ticket",
                change: |key, facts| {
                    key.kind = KeyKind::Vendor;
                    facts.actor = Some("u-1");
                    facts.ticket = Some("SUP-42");
                },
                expected: VerifyOutcome::Valid,
            },
            Case {
                name: "a vendor's ticket its pattern refuses, before any counting",
                change: |key, facts| {
                    key.kind = KeyKind::Vendor;
                    facts.actor = Some("u-1");
                    facts.ticket = Some("sup-42");
                    facts.take = Take::RateLimited(limit());
                },
                expected: VerifyOutcome::InvalidTicket,
            },
            Case {
                name: "a vendor acting for nobody, before its ticket",
                change: |key, facts| {
                    key.kind = KeyKind::Vendor;
                    facts.actor = Some("u-9");
                    facts.take = Take::UsedUp;
                },
                expected: VerifyOutcome::ActorNotAllowed,
            },
            Case {
                name: "a vendor's claim after its scopes",
                change: |key, facts| {
                    key.kind = KeyKind::Vendor;
                    facts.scopes.push("refunds:write".into());
                },
                expected: VerifyOutcome::InsufficientScope,
            },
            Case {
                name: "all well",
                change: |_, _| {},
                expected: VerifyOutcome::Valid,
            },
            Case {
                name: "the previous secret within its grace",
                change: |_, facts| facts.found = 2,
                expected: VerifyOutcome::Valid,
            },
            Case {
                name: "used up",
                change: |_, facts| facts.take = Take::UsedUp,
                expected: VerifyOutcome::UsageExceeded,
            },
            Case {
                name: "rate limited before used up",
                change: |_, facts| facts.take = Take::RateLimited(limit()),
                expected: VerifyOutcome::RateLimited,
            },
            Case {
                name: "a scope it lacks, before any counting",
                change: |_, facts| {
                    facts.take = Take::RateLimited(limit());
                    facts.scopes.push("refunds:write".into());
                },
                expected: VerifyOutcome::InsufficientScope,
            },
            Case {
                name: "outside its networks, before scopes",
                change: |key, facts| {
                    facts.scopes.push("refunds:write".into());
                    key.settings.allowed_networks = vec![IpNet::parse("10.0.0.0/8").unwrap()];
                    facts.ip = Some("192.0.2.1".parse().unwrap());
                },
                expected: VerifyOutcome::IpNotAllowed,
            },
            Case {
                name: "no client address with an allowlist",
                change: |key, facts| {
                    key.settings.allowed_networks = vec![IpNet::parse("10.0.0.0/8").unwrap()];
                    facts.ip = None;
                },
                expected: VerifyOutcome::IpNotAllowed,
            },
            Case {
                name: "a disabled owner, before networks",
                change: |key, facts| {
                    key.settings.allowed_networks = vec![IpNet::parse("10.0.0.0/8").unwrap()];
                    facts.ip = Some("192.0.2.1".parse().unwrap());
                    facts.owner_active = false;
                },
                expected: VerifyOutcome::DisabledOwner,
            },
            Case {
                name: "expired, before a disabled owner",
                change: |key, facts| {
                    facts.owner_active = false;
                    key.settings.expires_at = Some(facts.now);
                },
                expected: VerifyOutcome::Expired,
            },
            Case {
                name: "the previous secret after its grace",
                change: |_, facts| {
                    facts.found = 2;
                    facts.now = at(100);
                },
                expected: VerifyOutcome::Expired,
            },
            Case {
                name: "revoked and expired reports revoked",
                change: |key, facts| {
                    key.settings.expires_at = Some(facts.now - Duration::seconds(1));
                    key.revoked_at = Some(at(20));
                },
                expected: VerifyOutcome::Revoked,
            },
            Case {
                name: "not found, whatever else",
                change: |key, facts| {
                    key.revoked_at = Some(at(20));
                    facts.found = 0;
                },
                expected: VerifyOutcome::NotFound,
            },
        ];
        for case in cases {
            let mut key = key();
            let mut facts = Given {
                found: 1,
                now: at(60),
                ip: Some("10.1.2.3".parse().unwrap()),
                scopes: vec!["invoices:read".into()],
                owner_active: true,
                actor: None,
                ticket: None,
                take: Take::Taken(None),
            };
            (case.change)(&mut key, &mut facts);
            let found = match facts.found {
                0 => Found::Nothing,
                1 => Found::Current(&key),
                _ => Found::Previous(&key),
            };
            let took = Cell::new(false);
            let people = People {
                holder: if facts.owner_active {
                    Holder::User(Role::Member)
                } else {
                    Holder::Inactive
                },
            };
            let mut asked = request(facts.now, facts.ip, &facts.scopes, false);
            asked.claims = Claims {
                actor_user: facts.actor,
                ticket: facts.ticket,
            };
            let verdict = decide(found, &asked, &people, |_| {
                took.set(true);
                facts.take.clone()
            });
            assert_eq!(verdict.outcome, case.expected, "{}", case.name);
            assert_eq!(
                verdict.on_behalf.is_some(),
                key.kind == KeyKind::Vendor && case.expected == VerifyOutcome::Valid,
                "{}: a vendor's claim is kept once checked",
                case.name
            );
            assert_eq!(
                verdict.key.is_some(),
                case.expected != VerifyOutcome::NotFound,
                "{}",
                case.name
            );
            let counted = matches!(
                case.expected,
                VerifyOutcome::Valid | VerifyOutcome::RateLimited | VerifyOutcome::UsageExceeded
            );
            assert_eq!(
                took.get(),
                counted,
                "{}: only requests past checks 1-8 count",
                case.name
            );
        }
    }

    #[test]
    fn an_ipv6_allowlist_admits_its_range_and_nothing_else() {
        let mut key = key();
        key.settings.allowed_networks = vec![IpNet::parse("2001:db8::/32").unwrap()];
        for (ip, expected) in [
            ("2001:db8::7", VerifyOutcome::Valid),
            ("2001:db9::7", VerifyOutcome::IpNotAllowed),
            ("10.0.0.1", VerifyOutcome::IpNotAllowed),
        ] {
            let verdict = decide(
                Found::Current(&key),
                &request(at(1), Some(ip.parse().unwrap()), &[], false),
                &People {
                    holder: Holder::Service,
                },
                |_| Take::Taken(None),
            );
            assert_eq!(verdict.outcome, expected, "{ip}");
        }
    }

    /// On Warden's own API a scope counts only when the key's kind and its
    /// people allow it: an app key named with Warden's scope names, or a
    /// key whose owner's role lost the scope, is refused at check 6.
    #[test]
    fn on_wardens_api_the_kind_and_the_owners_role_bound_the_scopes() {
        let asked = vec!["audit:read".to_string()];
        let cases = [
            (KeyKind::Service, Holder::Service, true, VerifyOutcome::Valid),
            (KeyKind::Service, Holder::User(Role::Owner), true, VerifyOutcome::Valid),
            (
                KeyKind::Service,
                Holder::User(Role::Admin),
                true,
                VerifyOutcome::InsufficientScope,
            ),
            (KeyKind::Vendor, Holder::Service, true, VerifyOutcome::Valid),
            (KeyKind::App, Holder::Service, true, VerifyOutcome::InsufficientScope),
            // The application's own check of the same key reads its scopes as named.
            (KeyKind::App, Holder::User(Role::Member), false, VerifyOutcome::Valid),
            (KeyKind::Service, Holder::Inactive, true, VerifyOutcome::DisabledOwner),
        ];
        for (kind, holder, on_warden, expected) in cases {
            let mut key = key();
            key.kind = kind;
            key.settings.scopes = asked.clone();
            let mut asked_for = request(at(1), None, &asked, on_warden);
            asked_for.claims = Claims {
                actor_user: Some("u-1"),
                ticket: Some("SUP-1"),
            };
            let verdict = decide(Found::Current(&key), &asked_for, &People { holder }, |_| {
                Take::Taken(None)
            });
            assert_eq!(verdict.outcome, expected, "{kind:?} {holder:?} on_warden={on_warden}");
        }
    }
}
