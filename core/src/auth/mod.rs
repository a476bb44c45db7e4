//! Authentication: how a claimed identity is checked, and what Warden
//! decides on it.
//!
//! The factor modules (`password`, `totp`, `backup_codes`, `webauthn`) do
//! the slow or effectful part (hashing, a ceremony) so that decisions
//! receive its outcome as data. The decision modules (`sign_in`,
//! `second_factor`, `step_up`, `mfa_policy`, `role_grants`, `throttle`)
//! are pure: state and command in, events or a typed rejection out, each
//! with its table of cases.

use chrono::{DateTime, Utc};

use crate::commands::session::{Assurance, Pending};
use crate::event::NewEvent;

pub mod api_key;
pub mod backup_codes;
pub mod device;
pub mod email_change;
pub mod email_code;
pub mod enrolment;
pub mod inactive_users;
pub mod mfa_policy;
pub mod password;
pub mod password_change;
pub mod policy_change;
pub mod preferences;
pub mod recovery;
pub mod refusal_timing;
pub mod revocation;
pub mod role_grants;
pub mod saved_searches;
pub mod second_factor;
pub mod security_email;
pub mod sign_in;
pub mod sso;
pub mod step_up;
pub mod throttle;
pub mod tokens;
pub mod totp;
pub mod users;
pub mod vault;
pub mod webauthn;

/// A command refused: why, and the events that record the refusal (a
/// failed sign-in or a wrong code is itself an event; a refusal the
/// request's shape explains records nothing).
#[derive(Debug, Clone)]
pub struct Refusal<R> {
    pub reason: R,
    pub events: Vec<NewEvent>,
}

impl<R> Refusal<R> {
    /// A refusal that records nothing.
    pub fn new(reason: R) -> Self {
        Refusal {
            reason,
            events: Vec::new(),
        }
    }

    /// A refusal recorded by `events`.
    pub fn recorded(reason: R, events: Vec<NewEvent>) -> Self {
        Refusal { reason, events }
    }
}

/// What decisions know of the session a request came with.
#[derive(Debug, Clone, Copy)]
pub struct SessionState<'a> {
    pub id: &'a str,
    pub user: &'a str,
    pub org: &'a str,
    pub assurance: &'a Assurance,
    /// A partial session: the step it must still do.
    pub pending: Option<&'a Pending>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}
