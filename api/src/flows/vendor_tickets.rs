//! What a vendor did, per ticket: the events a vendor key caused in the
//! reader's org, from the audit index, grouped by the ticket each named
//! (`actor.ticket`). Reading it is reading the audit trail: recorded as
//! an `audit.searched` before it is answered.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use warden_core::auth::api_key::Key;
use warden_core::commands::audit::{self, Searched};
use warden_projections::audit::{AuditQuery, Order};

use super::audit::{events_of, refuse_from_another_site, run};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::{Client, Principal};

/// The newest events examined; older ones are left out (and said so).
pub const EXAMINED_MAX: usize = 10_000;
/// Users listed per ticket.
const USERS_MAX: usize = 20;

/// One ticket of a vendor.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Ticket {
    pub ticket: String,
    pub events: u64,
    /// Events by kind.
    pub kinds: BTreeMap<String, u64>,
    /// The users the vendor acted for under it (at most 20).
    pub users: BTreeSet<String>,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
}

pub struct Tickets {
    /// Most recent first.
    pub tickets: Vec<Ticket>,
    /// The key's events examined (the newest, at most [`EXAMINED_MAX`]).
    pub examined: usize,
    /// All the key's events the index holds.
    pub total: usize,
    pub indexed_through: u64,
}

/// The tickets of `key`, a key of the reader's org.
pub async fn of_key(state: &AppState, reader: &Principal, client: &Client, key: &Key) -> Result<Tickets, ApiError> {
    refuse_from_another_site(client, "search")?;
    let org = reader.org().to_string();
    let query = AuditQuery {
        org: Some(org.clone()),
        actor: Some(key.id.clone()),
        ..AuditQuery::default()
    };
    let mut tickets: BTreeMap<String, Ticket> = BTreeMap::new();
    let (mut cursor, mut examined) = (None, 0);
    let mut total;
    let mut indexed_through;
    loop {
        let asked = query.clone();
        let limit = (EXAMINED_MAX - examined).min(1000);
        let (page, through) = run(state, move |index| {
            let through = index.indexed_through();
            Ok((index.search(&asked, Order::NewestFirst, cursor, limit)?, through))
        })
        .await?;
        total = page.total;
        indexed_through = through;
        examined += page.seqs.len();
        for event in events_of(state, &page).await? {
            let Some(name) = event.actor.ticket.clone() else {
                continue;
            };
            let ticket = tickets.entry(name.clone()).or_insert_with(|| Ticket {
                ticket: name,
                events: 0,
                kinds: BTreeMap::new(),
                users: BTreeSet::new(),
                first_at: event.at,
                last_at: event.at,
            });
            ticket.events += 1;
            *ticket.kinds.entry(event.kind.clone()).or_default() += 1;
            if let Some(user) = &event.actor.on_behalf_of
                && ticket.users.len() < USERS_MAX
            {
                ticket.users.insert(user.clone());
            }
            ticket.first_at = ticket.first_at.min(event.at);
            ticket.last_at = ticket.last_at.max(event.at);
        }
        cursor = page.next;
        if cursor.is_none() || examined >= EXAMINED_MAX {
            break;
        }
    }
    let mut tickets: Vec<Ticket> = tickets.into_values().collect();
    tickets.sort_by(|a, b| b.last_at.cmp(&a.last_at).then_with(|| a.ticket.cmp(&b.ticket)));
    let searched = Searched {
        org,
        filters: BTreeMap::from([
            ("actor".to_string(), key.id.clone()),
            ("summary".to_string(), "tickets".to_string()),
        ]),
        order: "newest".into(),
        cursor: None,
        returned: tickets.len(),
        total,
        indexed_through,
    };
    state
        .ledger
        .append_one(audit::searched(&reader.context(client), &searched))
        .await?;
    Ok(Tickets {
        tickets,
        examined,
        total,
        indexed_through,
    })
}
