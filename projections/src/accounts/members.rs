//! An org's users as the console lists them: all of them, how many, and a
//! page of those a filter matches, by email.

use std::collections::BTreeMap;

use super::{Accounts, Role, Status, User};

/// What a page of an org's users matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberFilter {
    /// Words the email or the name contains (case-insensitive).
    pub text: String,
    pub status: Option<Status>,
    pub role: Option<Role>,
}

impl MemberFilter {
    fn matches(&self, user: &User) -> bool {
        self.status.is_none_or(|status| user.status == status)
            && self.role.is_none_or(|role| user.role == role)
            && (self.text.is_empty() || {
                let text = self.text.to_lowercase();
                user.email.contains(&text) || user.display_name.to_lowercase().contains(&text)
            })
    }
}

/// Where a page of an org's users starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start<'a> {
    First,
    /// After this email (the "next" link).
    After(&'a str),
    /// Before this email (the "previous" link).
    Before(&'a str),
}

/// One page of an org's users, by email.
#[derive(Debug)]
pub struct MemberPage<'a> {
    pub users: Vec<&'a User>,
    /// The email the next page starts after, when there is one.
    pub next: Option<String>,
    /// The email the previous page ends before, when there is one.
    pub previous: Option<String>,
}

impl Accounts {
    /// The org's users, by email.
    pub fn members(&self, org: &str) -> Vec<&User> {
        self.by_org
            .get(org)
            .into_iter()
            .flat_map(|members| members.values())
            .filter_map(|id| self.users.get(id))
            .collect()
    }

    /// How many users the org has.
    pub fn member_count(&self, org: &str) -> usize {
        self.by_org.get(org).map_or(0, BTreeMap::len)
    }

    /// Up to `limit` of the org's users that `filter` matches, by email,
    /// from `from` on: it reads on from there and stops at the page's
    /// end, so a page of a large org costs what it shows (or what it must
    /// pass over to find a rare match).
    pub fn members_page(&self, org: &str, filter: &MemberFilter, from: Start<'_>, limit: usize) -> MemberPage<'_> {
        use std::ops::Bound::{Excluded, Unbounded};
        let empty = BTreeMap::new();
        let members = self.by_org.get(org).unwrap_or(&empty);
        let found = |range: &mut dyn Iterator<Item = (&String, &String)>| -> Vec<&User> {
            range
                .filter_map(|(_, id)| self.users.get(id))
                .filter(|user| filter.matches(user))
                .take(limit + 1)
                .collect()
        };
        let email = |user: &&User| user.email.clone();
        match from {
            Start::First | Start::After(_) => {
                let start = match from {
                    Start::After(email) => Excluded(email.to_string()),
                    _ => Unbounded,
                };
                let mut users = found(&mut members.range((start, Unbounded)));
                let more = users.len() > limit;
                users.truncate(limit);
                MemberPage {
                    next: more.then(|| users.last().map(email)).flatten(),
                    previous: matches!(from, Start::After(_))
                        .then(|| users.first().map(email))
                        .flatten(),
                    users,
                }
            }
            Start::Before(before) => {
                let mut users = found(&mut members.range((Unbounded, Excluded(before.to_string()))).rev());
                let more = users.len() > limit;
                users.truncate(limit);
                users.reverse();
                MemberPage {
                    previous: more.then(|| users.first().map(email)).flatten(),
                    next: users.last().map(email),
                    users,
                }
            }
        }
    }
}
