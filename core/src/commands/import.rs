//! Imports of existing users (`warden import`): one batch of events under
//! an import id, revertible by compensating events.

use serde::{Deserialize, Serialize};

use super::sentence::{Sentence, Summarize};
use super::{Context, Prefix, data, subject};
use crate::event::{Event, NewEvent};

pub const IMPORT_STARTED: &str = "import.started";
pub const IMPORT_COMPLETED: &str = "import.completed";
pub const IMPORT_REVERTED: &str = "import.reverted";

pub fn import_subject(id: &str) -> String {
    subject(Prefix::Import, id)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportStarted {
    /// The source table, as `table` (never the connection URL).
    pub source: String,
    pub rows: u64,
    pub planned_users: u64,
    pub planned_orgs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCompleted {
    pub users: u64,
    pub orgs: u64,
    pub skipped: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReverted {
    pub users: u64,
    pub orgs: u64,
}

pub fn started(context: &Context, id: &str, started: &ImportStarted) -> NewEvent {
    context
        .event(IMPORT_STARTED, import_subject(id))
        .expect_version(0)
        .data(data(started))
}

pub fn completed(context: &Context, id: &str, completed: &ImportCompleted) -> NewEvent {
    context
        .event(IMPORT_COMPLETED, import_subject(id))
        .data(data(completed))
}

/// Claims `import_reverted/<id>`: an import is reverted once.
pub fn reverted(context: &Context, id: &str, reverted: &ImportReverted) -> NewEvent {
    context
        .event(IMPORT_REVERTED, import_subject(id))
        .claim("import_reverted", id)
        .data(data(reverted))
}

// The sentences of these kinds (`commands::sentence`).

impl Summarize for ImportStarted {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        Some(
            Sentence::by(event)
                .words(" started importing ")
                .count(self.planned_users, "user", "users")
                .words(" and ")
                .count(self.planned_orgs, "org", "orgs")
                .words(" from ")
                .count(self.rows, "row", "rows")
                .words(" of the table ")
                .value(self.source.as_str()),
        )
    }
}

impl Summarize for ImportCompleted {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event)
            .words(" finished an import: ")
            .count(self.users, "user", "users")
            .words(" and ")
            .count(self.orgs, "org", "orgs")
            .words(" created");
        Some(match self.skipped {
            0 => sentence,
            skipped => sentence.words(", ").count(skipped, "row", "rows").words(" skipped"),
        })
    }
}

impl Summarize for ImportReverted {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        Some(
            Sentence::by(event)
                .words(" reverted an import, removing ")
                .count(self.users, "user", "users")
                .words(" and ")
                .count(self.orgs, "org", "orgs"),
        )
    }
}
