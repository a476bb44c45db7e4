//! Retrying an application event safely: an idempotency key, claimed in
//! the same transaction as the append (a unique claim), so that a retry
//! after a lost answer, on any node and after any restart, gets the
//! original event instead of a second one.

use crate::event::{Event, NewEvent};

/// The unique-claim namespace of idempotency keys.
pub const CLAIM: &str = "app_event_idempotency";

/// Longest idempotency key (a UUID is 36 characters).
pub const KEY_MAX: usize = 255;

/// 1 to 255 visible ASCII characters.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= KEY_MAX && key.bytes().all(|byte| byte.is_ascii_graphic())
}

/// The claimed value for a key: keyed by the caller's scope (one
/// application token's keys never collide with another's), hashed so the
/// claims table holds a fixed-size value whatever the key.
pub fn claim(scope: &str, key: &str) -> String {
    let mut hasher = blake3::Hasher::new_derive_key("warden app-event idempotency key v1");
    hasher.update(&(scope.len() as u64).to_le_bytes());
    hasher.update(scope.as_bytes());
    hasher.update(key.as_bytes());
    hasher.finalize().to_hex().to_string()
}

/// What a request whose key is already claimed gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// The same request: answer the original event.
    Replay,
    /// The key was used for a different request.
    Mismatch,
}

/// Compares a retried request with the event its key appended. `request`
/// has been normalized as the ledger normalizes (integral floats).
pub fn decide_retry(original: &Event, request: &NewEvent) -> Retry {
    let same_version = match request.expected_version {
        None => true,
        Some(expected) => original.subject_version == expected + 1,
    };
    // The address the application called from may differ between tries.
    let same = original.kind == request.kind
        && original.subject == request.subject
        && original.actor.kind == request.actor.kind
        && original.actor.id == request.actor.id
        && original.actor.org == request.actor.org
        && original.actor.on_behalf_of == request.actor.on_behalf_of
        && original.outcome == request.outcome
        && original.data == request.data
        && same_version;
    if same { Retry::Replay } else { Retry::Mismatch }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::event::{Actor, ActorKind, Outcome};

    fn request() -> NewEvent {
        NewEvent::new("app.invoice.paid", "invoice:42", Actor::of_kind(ActorKind::Service)).data(json!({"cents": 1200}))
    }

    fn request_with(change: impl FnOnce(&mut NewEvent)) -> NewEvent {
        let mut event = request();
        change(&mut event);
        event
    }

    #[test]
    fn keys() {
        for good in [
            "a",
            "0193a3c2-0000-7000-8000-000000000001",
            &"k".repeat(255),
            "~!@#$%^&*()",
        ] {
            assert!(valid_key(good), "{good}");
        }
        for bad in ["", " ", "with space", "tab\there", &"k".repeat(256), "é"] {
            assert!(!valid_key(bad), "{bad:?}");
        }
        assert_ne!(claim("org-a", "k1"), claim("org-b", "k1"));
        assert_ne!(claim("ab", "c"), claim("a", "bc"));
        assert_eq!(claim("s", "k").len(), 64);
    }

    #[test]
    fn retries_replay_only_the_same_request() {
        let original = Event::unsealed(7, crate::event::now_micros(), request());
        assert_eq!(decide_retry(&original, &request()), Retry::Replay);
        let cases: Vec<NewEvent> = vec![
            NewEvent::new("app.invoice.voided", "invoice:42", Actor::of_kind(ActorKind::Service))
                .data(json!({"cents": 1200})),
            NewEvent::new("app.invoice.paid", "invoice:43", Actor::of_kind(ActorKind::Service))
                .data(json!({"cents": 1200})),
            NewEvent::new("app.invoice.paid", "invoice:42", Actor::of_kind(ActorKind::User))
                .data(json!({"cents": 1200})),
            request().data(json!({"cents": 1300})),
            request().outcome(Outcome::Failure),
            request_with(|event| event.actor.on_behalf_of = Some("u-8".into())),
            request_with(|event| event.actor.id = Some("app:other".into())),
            request_with(|event| event.actor.org = Some("o2".into())),
        ];
        for changed in cases {
            assert_eq!(decide_retry(&original, &changed), Retry::Mismatch, "{changed:?}");
        }
        // The application called from another address: the same request.
        let moved = request_with(|event| event.actor.ip = Some("198.51.100.9".into()));
        assert_eq!(decide_retry(&original, &moved), Retry::Replay);
        let mut versioned = request();
        versioned.expected_version = Some(0);
        let mut at_one = original.clone();
        at_one.subject_version = 1;
        assert_eq!(decide_retry(&at_one, &versioned), Retry::Replay);
        versioned.expected_version = Some(3);
        assert_eq!(decide_retry(&at_one, &versioned), Retry::Mismatch);
    }
}
