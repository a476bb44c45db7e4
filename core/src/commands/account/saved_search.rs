//! A user's saved searches of the audit trail: a name and the filters it
//! runs, kept on the user (`auth::saved_searches` decides). Only their
//! owner sees and runs them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::user_subject;
use crate::commands::audit::with_filters;
use crate::commands::sentence::{Sentence, Summarize};
use crate::commands::{Context, data};
use crate::event::{Event, NewEvent};

/// A user saved a search of the audit trail under a name.
pub const USER_SEARCH_SAVED: &str = "user.search_saved";
/// A user removed one of their saved searches.
pub const USER_SEARCH_REMOVED: &str = "user.search_removed";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSaved {
    /// The saved search's id, unique among the user's.
    pub id: String,
    /// As the user named it, trimmed.
    pub name: String,
    /// The audit search's filters by name (`kind`, `actor`, `q` …), as
    /// the search form sends them; never empty.
    pub filters: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRemoved {
    pub id: String,
    /// Its name when it was removed, so that the trail reads alone.
    pub name: String,
}

/// `user`'s search saved, at the user's `version`.
pub fn save_search(context: &Context, user: &str, version: u64, saved: &SearchSaved) -> NewEvent {
    context
        .event(USER_SEARCH_SAVED, user_subject(user))
        .expect_version(version)
        .data(data(saved))
}

/// One of `user`'s searches removed, at the user's `version`.
pub fn remove_search(context: &Context, user: &str, version: u64, removed: &SearchRemoved) -> NewEvent {
    context
        .event(USER_SEARCH_REMOVED, user_subject(user))
        .expect_version(version)
        .data(data(removed))
}

impl Summarize for SearchSaved {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        let sentence = Sentence::by(event)
            .words(" saved the audit search \"")
            .value(self.name.as_str())
            .words("\"");
        Some(with_filters(sentence, &self.filters))
    }
}

impl Summarize for SearchRemoved {
    fn summarize(&self, event: &Event) -> Option<Sentence> {
        Some(
            Sentence::by(event)
                .words(" removed the saved audit search \"")
                .value(self.name.as_str())
                .words("\""),
        )
    }
}
