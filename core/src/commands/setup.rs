//! First start: a one-time setup link creates the first org and its owner.
//!
//! A node that finds no completed setup and no live link issues one
//! (`setup.link_issued` with the hash of its token, and the token sealed
//! under the `setup` data key) and prints it; a node that finds a live
//! link opens the sealed token and prints the same link, so an instance
//! has one live link whichever node printed it. Using it appends the org,
//! the owner and `setup.completed`, which claims `setup/completed`: the
//! claim makes the link die once used, even when two nodes race.

use serde::{Deserialize, Serialize};

use super::sentence::{Sentence, Summarize};
use super::{Context, data};
use crate::event::{Event, NewEvent};
use crate::keys::sealed::Sealed;

pub const SETUP_SUBJECT: &str = super::Prefix::Setup.as_str();
pub const SETUP_LINK_ISSUED: &str = "setup.link_issued";
pub const SETUP_COMPLETED: &str = "setup.completed";

/// How long a setup link is valid.
pub const LINK_LIFETIME: chrono::Duration = chrono::Duration::hours(24);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkIssued {
    pub token_hash: String,
    #[serde(with = "crate::event::timestamp")]
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// The token, sealed, so every node can print the live link. Absent
    /// from links issued before it was kept (those cannot be reprinted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Sealed<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupCompleted {
    pub org: String,
    pub owner: String,
}

/// Issues a link if the setup subject is still at `version` (two nodes
/// starting at once issue one link between them).
pub fn issue_link(context: &Context, version: u64, issued: &LinkIssued) -> NewEvent {
    context
        .event(SETUP_LINK_ISSUED, SETUP_SUBJECT)
        .expect_version(version)
        .data(data(issued))
}

pub fn complete(context: &Context, version: u64, completed: &SetupCompleted) -> NewEvent {
    context
        .event(SETUP_COMPLETED, SETUP_SUBJECT)
        .expect_version(version)
        .claim("setup", "completed")
        .data(data(completed))
}

// The sentences of these kinds (`commands::sentence`).

impl Summarize for LinkIssued {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        Some(
            Sentence::by(event)
                .words(" issued a setup link, valid until ")
                .value(self.expires_at.format("%Y-%m-%d %H:%M UTC").to_string()),
        )
    }
}

impl Summarize for SetupCompleted {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let by = Sentence::by(event);
        Some(if super::sentence::by_themselves(event, &self.owner) {
            by.words(" set up Warden and became its first owner")
        } else {
            by.words(" set up Warden with ")
                .user(&self.owner)
                .words(" as its first owner")
        })
    }
}
