//! One-time links (password resets, address verifications), as the flows
//! decide on them: each by its token's hash, with its subject version and
//! whether it was used, and each user's newest link (the only one that
//! works). A link is let go some time after it was made (a link presented
//! later is unknown rather than expired).

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use warden_core::auth::recovery::Link;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    user: String,
    token_hash: String,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    used: bool,
    /// The version of the link's subject.
    version: u64,
}

/// A link found by its token, and the version its use is decided on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub link: Link,
    pub version: u64,
}

/// A new link, as its `…issued` or `…requested` event says.
pub struct Issued<'a> {
    pub id: &'a str,
    pub user: &'a str,
    pub token_hash: &'a str,
    pub at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub version: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Links {
    links: HashMap<String, Stored>,
    by_token: HashMap<String, String>,
    /// Each user's newest link.
    newest: HashMap<String, String>,
    /// Links by the time they were made, oldest first.
    made: VecDeque<(DateTime<Utc>, String)>,
}

impl Links {
    /// The link whose token hashes to `token_hash`.
    pub fn by_token(&self, token_hash: &str) -> Option<Found> {
        let id = self.by_token.get(token_hash)?;
        let stored = self.links.get(id)?;
        Some(Found {
            link: Link {
                id: id.clone(),
                user: stored.user.clone(),
                issued_at: stored.issued_at,
                expires_at: stored.expires_at,
                used: stored.used,
            },
            version: stored.version,
        })
    }

    /// The link `id`.
    pub fn by_token_of(&self, id: &str) -> Option<Found> {
        let stored = self.links.get(id)?;
        self.by_token(&stored.token_hash)
    }

    /// The id of `user`'s newest link, the only one that works.
    pub fn newest_of(&self, user: &str) -> Option<&str> {
        self.newest.get(user).map(String::as_str)
    }

    pub fn issued(&mut self, issued: Issued) {
        self.by_token
            .insert(issued.token_hash.to_string(), issued.id.to_string());
        self.newest.insert(issued.user.to_string(), issued.id.to_string());
        self.made.push_back((issued.at, issued.id.to_string()));
        self.links.insert(
            issued.id.to_string(),
            Stored {
                user: issued.user.to_string(),
                token_hash: issued.token_hash.to_string(),
                issued_at: issued.at,
                expires_at: issued.expires_at,
                used: false,
                version: issued.version,
            },
        );
    }

    /// The link was used: it opens nothing again.
    pub fn used(&mut self, id: &str, version: u64) {
        if let Some(stored) = self.links.get_mut(id) {
            stored.used = true;
            stored.version = version;
        }
    }

    /// Another event moved the link's subject.
    pub fn moved(&mut self, id: &str, version: u64) {
        if let Some(stored) = self.links.get_mut(id) {
            stored.version = version;
        }
    }

    /// Lets go of links made `kept` or longer before `now` (the time of
    /// the event being applied); their ids.
    pub fn expire(&mut self, now: DateTime<Utc>, kept: TimeDelta) -> Vec<String> {
        let mut gone = Vec::new();
        while let Some((at, _)) = self.made.front()
            && now - *at >= kept
        {
            let Some((_, id)) = self.made.pop_front() else {
                break;
            };
            if let Some(stored) = self.links.remove(&id) {
                self.by_token.remove(&stored.token_hash);
                if self.newest.get(&stored.user) == Some(&id) {
                    self.newest.remove(&stored.user);
                }
            }
            gone.push(id);
        }
        gone
    }
}
