//! First start: a one-time setup link creates the first org and its owner.
//!
//! A node that finds no completed setup issues a link (`setup.link_issued`
//! with the hash of its token) and prints it. Using it appends the org, the
//! owner and `setup.completed`, which claims `setup/completed`: the claim
//! makes the link die once used, even when two nodes race.

use serde::{Deserialize, Serialize};

use super::{Context, data};
use crate::event::NewEvent;

pub const SETUP_SUBJECT: &str = super::Prefix::Setup.as_str();
pub const SETUP_LINK_ISSUED: &str = "setup.link_issued";
pub const SETUP_COMPLETED: &str = "setup.completed";

/// How long a setup link is valid.
pub const LINK_LIFETIME: chrono::Duration = chrono::Duration::hours(24);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkIssued {
    pub token_hash: String,
    #[serde(with = "crate::event::timestamp")]
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupCompleted {
    pub org: String,
    pub owner: String,
}

pub fn issue_link(context: &Context, issued: &LinkIssued) -> NewEvent {
    context.event(SETUP_LINK_ISSUED, SETUP_SUBJECT).data(data(issued))
}

pub fn complete(context: &Context, version: u64, completed: &SetupCompleted) -> NewEvent {
    context
        .event(SETUP_COMPLETED, SETUP_SUBJECT)
        .expect_version(version)
        .claim("setup", "completed")
        .data(data(completed))
}
