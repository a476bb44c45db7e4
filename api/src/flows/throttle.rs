//! Throttling guesses: sign-ins (and password confirmations) per account
//! identifier and address, second factors per user. The policy is
//! `warden_core::auth::throttle` over the login-throttle read model; what
//! is here is the waiting for attempts still in flight and the recording
//! of refusals.

use std::time::Duration;

use chrono::Utc;
use warden_core::auth::{second_factor, sign_in};
use warden_core::commands::account::FailureReason;
use warden_core::commands::mfa::FailureReason as FactorFailure;
use warden_projections::projection::read;
use warden_projections::throttle::{ip_key, pair_key};

use super::commit;
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::Client;
use crate::web::limits::Attempt;
use crate::web::session::CurrentSession;

/// Refusals of the throttle are recorded at most once per identifier and
/// address (or per user, for second factors) in this period.
const RECORD_REFUSALS_EVERY: Duration = Duration::from_secs(10);

/// Longest wait for attempts in flight before deciding on them.
const PENDING_WAIT: Duration = Duration::from_secs(20);

/// Refuses a sign-in attempt the throttle does not allow now. Attempts for
/// the same identifier or IP still being checked count as failures; when
/// only they stand in the way, this attempt waits for them to end (20 s at
/// most) and is decided on their outcome: a burst of guesses gets no more
/// than the free allowance, and a burst of right passwords (a double-click,
/// a script) all pass. The returned attempt must live until the attempt's
/// failure (if any) is recorded.
pub async fn sign_in(
    state: &AppState,
    client: &Client,
    identifier: &str,
    user: Option<&str>,
    method: &str,
) -> Result<Attempt, ApiError> {
    let ip = client.ip.as_deref().map(ip_key);
    let keys = vec![
        format!("pair:{}", pair_key(identifier, client.ip.as_deref())),
        format!("ip:{}", ip.clone().unwrap_or_default()),
        format!("id:{identifier}"),
    ];
    let deadline = tokio::time::Instant::now() + PENDING_WAIT;
    let wait = loop {
        let (attempt, pending) = state.attempts.begin(keys.clone());
        let count = |index: usize| pending.get(index).copied().unwrap_or(0);
        let pending = (count(0), if client.ip.is_some() { count(1) } else { 0 }, count(2));
        let (wait, settled) = {
            let throttle = read(&state.models.login_throttle);
            let now = Utc::now();
            (
                throttle.wait(identifier, client.ip.as_deref(), now, pending),
                throttle.wait(identifier, client.ip.as_deref(), now, (0, 0, 0)),
            )
        };
        let Some(wait) = wait else {
            return Ok(attempt);
        };
        if settled.is_some() || pending == (0, 0, 0) || tokio::time::Instant::now() >= deadline {
            attempt.withdraw();
            break wait;
        }
        // Only attempts in flight stand in the way: wait for one to end.
        let ended = state.attempts.ended();
        tokio::pin!(ended);
        ended.as_mut().enable();
        attempt.withdraw();
        let _ = tokio::time::timeout(Duration::from_millis(250), ended).await;
    };
    let sample = format!("{identifier}/{}", ip.unwrap_or_default());
    if state.refusals.admit(sample, RECORD_REFUSALS_EVERY) {
        let event = sign_in::failed(&client.anonymous(), user, identifier, FailureReason::Throttled, method);
        commit(state, vec![event]).await?;
    }
    Err(ApiError::too_many_requests(
        "too many failed sign-ins; wait before trying again",
        wait.max(Duration::from_secs(1)),
    ))
}

/// Refuses a second-factor attempt the throttle does not allow now.
/// Attempts of the same user being checked count as failures.
pub async fn second_factor(state: &AppState, client: &Client, current: &CurrentSession) -> Result<Attempt, ApiError> {
    let user = &current.user.id;
    let (attempt, pending) = state.attempts.begin(vec![format!("mfa:{user}")]);
    let wait =
        read(&state.models.login_throttle).second_factor_wait(user, Utc::now(), pending.first().copied().unwrap_or(0));
    let Some(wait) = wait else {
        return Ok(attempt);
    };
    attempt.withdraw();
    if state.refusals.admit(format!("mfa:{user}"), RECORD_REFUSALS_EVERY) {
        let session = super::read::session(current);
        let event = second_factor::failed(&client.caller(), &session, None, FactorFailure::Throttled);
        if let Err(error) = commit(state, vec![event]).await {
            tracing::warn!(
                code = error.code.as_str(),
                "a throttled second-factor attempt was not recorded"
            );
        }
    }
    Err(ApiError::too_many_requests(
        "too many wrong codes; wait before trying again",
        wait.max(Duration::from_secs(1)),
    ))
}
