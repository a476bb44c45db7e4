//! Vendor keys: a third party (a support provider) acts for a user of the
//! key's org, under a ticket. Every request with a vendor key names both:
//! `X-Actor-User-Id`, an active user of the key's org (else
//! `actor_not_allowed`, 403), and `X-Ticket-Reference`, matching the key's
//! ticket pattern whole (else `invalid_ticket`, 400). Both go into the
//! actor of every event the request causes (`on_behalf_of`, `ticket`).
//! Other keys need neither, and what they send of either is not recorded:
//! only a vendor key's claim is checked. The claim is checks 7 and 8 of
//! the verification order (`verify`): a refused claim is a refused use.

use super::Key;
use crate::commands::api_key::{KeyKind, VerifyOutcome};

/// Longest ticket reference.
pub const TICKET_MAX: usize = 200;

/// What a vendor request must name, as it named it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Claims<'a> {
    pub actor_user: Option<&'a str>,
    pub ticket: Option<&'a str>,
}

/// For whom and under which ticket a vendor acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnBehalf {
    pub user: String,
    pub ticket: String,
}

/// Checks a request made with `key`. `active_member` says whether a user
/// id is an active user of the key's org; `ticket_matches` whether a
/// reference matches the key's pattern whole. The actor is checked first:
/// a request for nobody is refused whatever its ticket. The refusal is
/// `ActorNotAllowed` (no `X-Actor-User-Id`, or not an active user of the
/// key's org) or `InvalidTicket` (no `X-Ticket-Reference`, or one the
/// pattern does not match).
pub fn decide(
    key: &Key,
    claims: Claims<'_>,
    active_member: impl FnOnce(&str) -> bool,
    ticket_matches: impl FnOnce(&str) -> bool,
) -> Result<Option<OnBehalf>, VerifyOutcome> {
    if key.kind != KeyKind::Vendor {
        return Ok(None);
    }
    let user = claims
        .actor_user
        .map(str::trim)
        .filter(|user| !user.is_empty() && user.len() <= 100 && active_member(user))
        .ok_or(VerifyOutcome::ActorNotAllowed)?;
    let ticket = claims
        .ticket
        .map(str::trim)
        .filter(|ticket| {
            !ticket.is_empty()
                && ticket.chars().count() <= TICKET_MAX
                && !ticket.chars().any(char::is_control)
                && ticket_matches(ticket)
        })
        .ok_or(VerifyOutcome::InvalidTicket)?;
    Ok(Some(OnBehalf {
        user: user.to_string(),
        ticket: ticket.to_string(),
    }))
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::auth::api_key::manage::ticket_matcher;
    use crate::commands::api_key::Owner;

    fn key(kind: KeyKind) -> Key {
        let mut key = crate::auth::api_key::test_key();
        key.kind = kind;
        key.owner = Owner::Service {
            name: "helpdesk".into(),
        };
        key.settings.ticket_pattern = Some("[A-Z]+-[0-9]+".into());
        key
    }

    #[test]
    fn vendor_requests_name_an_active_member_and_a_matching_ticket() {
        let matcher = ticket_matcher("[A-Z]+-[0-9]+").unwrap();
        let members = ["u-1", "u-2"];
        type Case<'a> = (Option<&'a str>, Option<&'a str>, Result<(), VerifyOutcome>);
        let cases: &[Case] = &[
            (Some("u-1"), Some("SUP-42"), Ok(())),
            (Some(" u-2 "), Some(" SUP-7 "), Ok(())),
            (None, Some("SUP-42"), Err(VerifyOutcome::ActorNotAllowed)),
            (Some(""), Some("SUP-42"), Err(VerifyOutcome::ActorNotAllowed)),
            (Some("u-9"), Some("SUP-42"), Err(VerifyOutcome::ActorNotAllowed)),
            (Some("u-9"), None, Err(VerifyOutcome::ActorNotAllowed)),
            (Some("u-1"), None, Err(VerifyOutcome::InvalidTicket)),
            (Some("u-1"), Some("sup-42"), Err(VerifyOutcome::InvalidTicket)),
            (Some("u-1"), Some("SUP-42 and more"), Err(VerifyOutcome::InvalidTicket)),
            (Some("u-1"), Some("SUP-4\n2"), Err(VerifyOutcome::InvalidTicket)),
        ];
        for (actor_user, ticket, expected) in cases {
            let answer = decide(
                &key(KeyKind::Vendor),
                Claims {
                    actor_user: *actor_user,
                    ticket: *ticket,
                },
                |user| members.contains(&user),
                |ticket| matcher.is_match(ticket),
            );
            match (expected, answer) {
                (Ok(()), Ok(Some(on_behalf))) => {
                    assert!(members.contains(&on_behalf.user.as_str()));
                    assert!(matcher.is_match(&on_behalf.ticket));
                }
                (Err(refusal), Err(got)) => assert_eq!(*refusal, got, "{actor_user:?} {ticket:?}"),
                (expected, got) => panic!("{actor_user:?} {ticket:?}: {expected:?} but {got:?}"),
            }
        }
    }

    #[test]
    fn other_keys_need_no_claims_and_record_none() {
        for kind in [KeyKind::App, KeyKind::Service] {
            let answer = decide(&key(kind), Claims::default(), |_| false, |_| false);
            assert_eq!(answer, Ok(None));
            let claimed = Claims {
                actor_user: Some("u-1"),
                ticket: Some("SUP-1"),
            };
            assert_eq!(
                decide(&key(kind), claimed, |_| true, |_| true),
                Ok(None),
                "not recorded"
            );
        }
    }
}
