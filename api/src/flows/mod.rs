//! What the API and the pages do, once: each flow reads the state from
//! the read models (`read`), calls the pure decision of
//! `warden_core::auth` or `warden_core::commands`, appends what it decided,
//! and waits until this node's read models include it (read-your-writes).
//! JSON handlers and page handlers both call these.

pub mod account;
pub mod alert_delivery;
pub mod alerts;
pub mod api_keys;
pub mod audit;
pub mod backup_codes;
pub mod checkpoints;
pub mod dashboard;
pub mod email_change;
pub mod email_sign_in;
pub mod in_flight;
pub mod inactive_users;
pub mod issued;
pub mod key_check;
pub mod key_usage;
pub mod legal_holds;
pub mod mfa;
pub mod org;
pub mod passkey_sign_in;
pub mod passkeys;
pub mod password;
pub mod read;
pub mod recovery;
pub mod saved_searches;
pub mod setup;
pub mod sign_in;
pub mod sso_connections;
pub mod sso_sign_in;
pub mod step_up;
pub mod throttle;
pub mod users;
pub mod vault;
pub mod vault_reads;
pub mod vendor_tickets;

use std::time::Duration;

use warden_core::Event;
use warden_core::NewEvent;
use warden_core::auth::Refusal;
use warden_core::auth::password::{Password, PolicyViolation};
use warden_core::ledger::AppendError;

use crate::error::{ApiError, Code};
use crate::state::AppState;

/// Longest wait for this node's read models to include an append.
const READ_YOUR_WRITES: Duration = Duration::from_secs(5);

/// Appends the events of one decision, with the security emails they
/// call for (`email::security`), and waits until they are applied here,
/// so the caller's next request sees them.
pub async fn commit(state: &AppState, events: Vec<NewEvent>) -> Result<Vec<Event>, ApiError> {
    let events = with_notices(state, events).await;
    let sealed = state.ledger.append(events).await?;
    read_your_writes(state, &sealed).await;
    Ok(sealed)
}

/// How a decision lost the race to its append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lost {
    /// A subject it was decided on changed meanwhile.
    Conflict,
    /// A unique value it claims was taken meanwhile.
    Taken,
}

/// Appends like [`commit`], but answers a lost race as such, for the flow
/// to say what losing means there (a code spent twice, a passkey taken).
pub async fn commit_race(state: &AppState, events: Vec<NewEvent>) -> Result<Result<Vec<Event>, Lost>, ApiError> {
    let events = with_notices(state, events).await;
    match state.ledger.append(events).await {
        Ok(sealed) => {
            read_your_writes(state, &sealed).await;
            Ok(Ok(sealed))
        }
        Err(AppendError::Conflict { .. }) => Ok(Err(Lost::Conflict)),
        Err(AppendError::ClaimTaken { .. }) => Ok(Err(Lost::Taken)),
        Err(error) => Err(error.into()),
    }
}

/// `events` and the security emails they call for, in one append: a user
/// is told about a change if and only if it is committed.
async fn with_notices(state: &AppState, mut events: Vec<NewEvent>) -> Vec<NewEvent> {
    let notices = crate::email::security::notices(state, &events).await;
    events.extend(notices);
    events
}

async fn read_your_writes(state: &AppState, sealed: &[Event]) {
    if let Some(last) = sealed.last()
        && !state.positions.wait_for(last.seq, READ_YOUR_WRITES).await
    {
        tracing::warn!(seq = last.seq, "read models did not reach the new events in time");
    }
}

/// Appends what records a refusal (a failed sign-in, a wrong code) and
/// answers the refusal's error.
pub async fn refused<R: Into<ApiError>>(state: &AppState, refusal: Refusal<R>) -> ApiError {
    if !refusal.events.is_empty()
        && let Err(error) = commit(state, refusal.events).await
    {
        return error;
    }
    refusal.reason.into()
}

/// A sealed secret (a TOTP secret, backup codes' hashes) that cannot be
/// opened: the key service is down, or the secret damaged.
pub fn key_service(error: warden_core::keys::SealError) -> ApiError {
    tracing::error!(%error, "a sealed second-factor secret cannot be used");
    ApiError::unavailable("the key service is unavailable; try again")
}

/// A new password checked against the policy, for an account known by
/// these identity strings.
pub fn check_new_password(state: &AppState, password: &Password, identity: &[&str]) -> Result<(), ApiError> {
    state
        .passwords
        .policy
        .check(password, identity)
        .map_err(|violation: PolicyViolation| ApiError::unprocessable(Code::WeakPassword, violation.to_string()))
}

/// 1 to 100 characters, no control characters.
pub fn check_name(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > 100 || value.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "{field} must be 1 to 100 characters without control characters"
        )));
    }
    Ok(value.to_string())
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
