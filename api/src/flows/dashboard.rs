//! The home page's figures (decision 0033): counted from the audit
//! index's columns and read from the read models, never by scanning the
//! log, and not recorded as searches (they are the org's overview, not a
//! reader's question).

use chrono::{DateTime, Utc};
use warden_core::commands::account::Status;
use warden_core::commands::account::{LOGIN_FAILED, LOGIN_SUCCEEDED};
use warden_core::commands::admin_actions::ADMIN_ACTIONS;
use warden_core::commands::audit::AUDIT_EXPORTED;
use warden_core::{ActorKind, Event};
use warden_projections::audit::facets::{Bar, Count};
use warden_projections::audit::{AuditQuery, KindPattern, Order, Page};
use warden_projections::projection::read;

use super::audit::{events_of, run};
use crate::error::ApiError;
use crate::state::AppState;

/// A fixed window of time, in equal spans: the last 24 hours by hour.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub span: chrono::TimeDelta,
    pub spans: u32,
}

impl Window {
    pub fn until(&self) -> DateTime<Utc> {
        self.from + self.span * self.spans as i32
    }
}

/// Sign-ins of an org over a window: first factors passed and refused,
/// span by span.
pub struct SignIns {
    pub succeeded: Vec<Bar>,
    pub failed: Vec<Bar>,
}

fn kinds(kinds: &[&str]) -> Vec<KindPattern> {
    kinds.iter().filter_map(|kind| KindPattern::parse(kind).ok()).collect()
}

fn in_org(org: &str, of: &[&str]) -> AuditQuery {
    AuditQuery {
        org: Some(org.to_string()),
        kinds: kinds(of),
        ..Default::default()
    }
}

/// `org`'s sign-ins over `window`. A refusal for an address no account
/// has belongs to no org, and is not counted.
pub async fn sign_ins(state: &AppState, org: &str, window: Window) -> Result<SignIns, ApiError> {
    let (succeeded, failed) = (in_org(org, &[LOGIN_SUCCEEDED]), in_org(org, &[LOGIN_FAILED]));
    let (from, span) = (
        window.from.timestamp_micros(),
        window.span.num_microseconds().unwrap_or(1),
    );
    run(state, move |index| {
        Ok(SignIns {
            succeeded: index.spread(&succeeded, from, span, window.spans)?,
            failed: index.spread(&failed, from, span, window.spans)?,
        })
    })
    .await
}

/// The newest `limit` admin actions a person did in `org`.
pub async fn admin_actions(state: &AppState, org: &str, limit: usize) -> Result<Vec<Event>, ApiError> {
    let query = AuditQuery {
        actor_kind: Some(ActorKind::User),
        ..in_org(org, ADMIN_ACTIONS)
    };
    newest(state, query, limit).await
}

/// Exports of `org`'s trail since `since`: how many, the most frequent
/// exporters (by user id), and the newest `limit`.
pub async fn exports(
    state: &AppState,
    org: &str,
    since: DateTime<Utc>,
    limit: usize,
) -> Result<(u64, Vec<Count>, Vec<Event>), ApiError> {
    let query = AuditQuery {
        from: Some(since),
        ..in_org(org, &[AUDIT_EXPORTED])
    };
    let counted = query.clone();
    let facets = run(state, move |index| index.facets(&counted, 1)).await?;
    let total = facets.kinds.iter().map(|count| count.count).sum();
    Ok((total, facets.actors, newest(state, query, limit).await?))
}

/// The newest `limit` events about the account `user` in `org` (its
/// sign-ins, sessions, second factors, role and status).
pub async fn about_user(state: &AppState, org: &str, user: &str, limit: usize) -> Result<Vec<Event>, ApiError> {
    let query = AuditQuery {
        org: Some(org.to_string()),
        user: Some(user.to_string()),
        ..Default::default()
    };
    newest(state, query, limit).await
}

async fn newest(state: &AppState, query: AuditQuery, limit: usize) -> Result<Vec<Event>, ApiError> {
    let page: Page = run(state, move |index| {
        index.search(&query, Order::NewestFirst, None, limit)
    })
    .await?;
    events_of(state, &page).await
}

/// An org's users by status, and the active ones by whether they have a
/// second factor.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Users {
    pub with_second_factor: usize,
    pub without_second_factor: usize,
    pub invited: usize,
    pub disabled: usize,
}

impl Users {
    pub fn total(&self) -> usize {
        self.with_second_factor + self.without_second_factor + self.invited + self.disabled
    }
}

/// `org`'s users, counted from the accounts and second-factor models.
pub fn users(state: &AppState, org: &str) -> Users {
    let accounts = read(&state.models.accounts);
    let mfa = read(&state.models.mfa);
    let mut users = Users::default();
    for user in accounts.members(org) {
        match user.status {
            Status::Invited => users.invited += 1,
            Status::Disabled => users.disabled += 1,
            Status::Active if mfa.of(&user.id).is_some_and(|factors| factors.has_second_factor()) => {
                users.with_second_factor += 1
            }
            Status::Active => users.without_second_factor += 1,
        }
    }
    users
}
