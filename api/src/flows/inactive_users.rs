//! Disabling the users not seen for N days (`auth::inactive_users`): the
//! list an owner or admin reviews, and the act, which decides again on
//! the state it runs on (someone who signed in since the list was shown
//! stays).

use std::collections::HashMap;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use warden_core::auth::inactive_users::{self as decision, BATCH, Candidate, Days, Kept, Refused, Verdict};
use warden_core::commands::api_key::Owner;
use warden_core::event::now_micros;
use warden_projections::accounts::User;
use warden_projections::projection::read;
use warden_projections::sessions::Sessions;

use super::commit;
use super::users::{as_member, live_sessions, manager};
use crate::error::{ApiError, Code};
use crate::state::AppState;
use crate::web::{Client, Principal};

/// A user the list shows.
pub struct Listed {
    pub user: User,
    /// When they were last seen, as the rule counts it.
    pub seen_at: DateTime<Utc>,
    /// Their last full session opened or used, if any.
    pub last_seen: Option<DateTime<Utc>>,
    /// Why they stay, if they do.
    pub kept: Option<Kept>,
}

/// The active users of the org not seen for `days`.
pub struct Preview {
    pub days: Days,
    pub cutoff: DateTime<Utc>,
    /// Who the act would disable, longest unseen first (at most
    /// [`BATCH`]).
    pub inactive: Vec<Listed>,
    /// How many the act would disable in all.
    pub total: usize,
    /// Who is not seen either, but stays (at most [`BATCH`]).
    pub kept: Vec<Listed>,
}

/// What the act did.
pub struct Outcome {
    pub disabled: Vec<String>,
    /// The users asked for that stay, and why.
    pub left: Vec<(String, Verdict)>,
}

/// `days` as a request gives it, or 422.
pub fn days(days: u32) -> Result<Days, ApiError> {
    Days::new(days).map_err(refused)
}

/// `days` as typed in a form, or 422.
pub fn days_typed(text: &str) -> Result<Days, ApiError> {
    text.trim()
        .parse()
        .map_or(Err(Refused::Days), Days::new)
        .map_err(refused)
}

/// The org's users not seen for `days`.
pub fn preview(state: &AppState, principal: &Principal, client: &Client, days: Days) -> Result<Preview, ApiError> {
    let context = principal.context(client);
    let manager = manager(state, principal, &context);
    let now = now_micros();
    let keys = keys_last_used(state, principal.org(), now);
    let users = members(state, principal.org());
    let sessions = read(&state.models.sessions);
    let mut inactive = Vec::new();
    let mut kept = Vec::new();
    for user in users {
        let candidate = candidate(&user, &[], &sessions, &keys);
        let (seen_at, last_seen) = (candidate.seen_at(), candidate.last_seen);
        let verdict = decision::decide(&manager, &candidate, days, now);
        let listed = |kept| Listed {
            seen_at,
            last_seen,
            kept,
            user: user.clone(),
        };
        match verdict {
            Verdict::Seen => {}
            Verdict::Inactive => inactive.push(listed(None)),
            Verdict::Kept(why) => kept.push(listed(Some(why))),
        }
    }
    drop(sessions);
    let longest_unseen_first = |listed: &Listed| (listed.seen_at, listed.user.email.clone());
    inactive.sort_by_key(longest_unseen_first);
    kept.sort_by_key(longest_unseen_first);
    let total = inactive.len();
    inactive.truncate(BATCH);
    kept.truncate(BATCH);
    Ok(Preview {
        days,
        cutoff: days.cutoff(now),
        inactive,
        total,
        kept,
    })
}

/// Disables the users `ids` names that are still not seen for `days`,
/// ending their sessions. An id that is not a user of the org is 404.
pub async fn disable(
    state: &AppState,
    principal: &Principal,
    client: &Client,
    days: Days,
    ids: &[String],
) -> Result<Outcome, ApiError> {
    if ids.len() > BATCH {
        return Err(refused(Refused::TooMany));
    }
    let context = principal.context(client);
    let manager = manager(state, principal, &context);
    let now = now_micros();
    let keys = keys_last_used(state, principal.org(), now);
    let users = {
        let accounts = read(&state.models.accounts);
        ids.iter()
            .map(|id| {
                accounts
                    .user(id)
                    .filter(|user| user.org == principal.org())
                    .cloned()
                    .ok_or_else(|| {
                        ApiError::new(
                            StatusCode::NOT_FOUND,
                            Code::NotFound,
                            "a user named is not a user of this org: nothing was disabled",
                        )
                    })
            })
            .collect::<Result<Vec<User>, ApiError>>()?
    };
    let (events, outcome) = {
        let sessions = read(&state.models.sessions);
        let live: Vec<Vec<&str>> = users.iter().map(|user| live_sessions(&sessions, &user.id)).collect();
        let asked: Vec<Candidate> = users
            .iter()
            .zip(&live)
            .map(|(user, live)| candidate(user, live, &sessions, &keys))
            .collect();
        let done = decision::disable(&manager, &asked, days, now).map_err(refused)?;
        let outcome = Outcome {
            disabled: done.disabled.iter().map(|id| id.to_string()).collect(),
            left: done
                .left
                .iter()
                .map(|(id, verdict)| (id.to_string(), *verdict))
                .collect(),
        };
        (done.events, outcome)
    };
    if !events.is_empty() {
        commit(state, events).await?;
    }
    Ok(outcome)
}

fn refused(refused: Refused) -> ApiError {
    match refused {
        Refused::Days => ApiError::unprocessable(
            Code::Unprocessable,
            format!(
                "days must be a whole number from {} to {}",
                decision::MIN_DAYS,
                decision::MAX_DAYS
            ),
        ),
        Refused::TooMany => ApiError::unprocessable(
            Code::Unprocessable,
            format!("at most {BATCH} users at once: disable the rest in another request"),
        ),
        Refused::Manager(rejection) => rejection.into(),
    }
}

/// The org's users, by email.
fn members(state: &AppState, org: &str) -> Vec<User> {
    read(&state.models.accounts).members(org).into_iter().cloned().collect()
}

fn candidate<'a>(
    user: &'a User,
    sessions: &'a [&'a str],
    seen: &Sessions,
    keys: &HashMap<String, DateTime<Utc>>,
) -> Candidate<'a> {
    Candidate {
        member: as_member(user, sessions),
        created_at: user.created_at,
        privileges_changed_at: user.privileges_changed_at,
        last_seen: seen.last_seen_of(&user.id),
        keys_last_used: keys.get(&user.id).copied(),
    }
}

/// The last valid use of each user's API keys that still work.
fn keys_last_used(state: &AppState, org: &str, now: DateTime<Utc>) -> HashMap<String, DateTime<Utc>> {
    let mut used: HashMap<String, DateTime<Utc>> = HashMap::new();
    for key in read(&state.models.api_keys).of_org(org) {
        let (Owner::User { id }, Some(at)) = (&key.owner, key.last_used) else {
            continue;
        };
        if key.status(now) == "active" {
            let last = used.entry(id.clone()).or_insert(at);
            *last = (*last).max(at);
        }
    }
    used
}
