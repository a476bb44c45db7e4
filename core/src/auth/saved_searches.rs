//! A user's saved searches of the audit trail: what saving and removing
//! one records, or why not (decision 0032). The caller checks the filters
//! as a search first; here they are only kept, without the empty ones.
//!
//! Nothing here does I/O or reads a clock.

use std::collections::BTreeMap;
use std::fmt;

use crate::commands::Context;
use crate::commands::account::{SearchRemoved, SearchSaved, remove_search, save_search};
use crate::event::NewEvent;

/// The most searches one user keeps.
pub const MOST: usize = 50;
/// The longest name, in characters.
pub const LONGEST_NAME: usize = 80;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Nothing but spaces.
    NoName,
    NameTooLong,
    /// A control character (a line break, a tab) in the name.
    NameNotPrintable,
    /// The user has a search by that name (case aside): which one.
    NameTaken(String),
    /// No filter, or only the order: the whole trail needs no saving.
    NoFilters,
    /// The user keeps [`MOST`] already.
    TooMany,
    /// Not one of the user's searches.
    NotFound,
}

impl Refusal {
    /// Whether the refusal is about the state rather than the form (409).
    pub fn conflicts(&self) -> bool {
        matches!(self, Refusal::NameTaken(_) | Refusal::TooMany)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoName => write!(f, "name the search to save it"),
            Refusal::NameTooLong => write!(f, "a saved search's name has at most {LONGEST_NAME} characters"),
            Refusal::NameNotPrintable => write!(f, "a saved search's name is one line, without tabs"),
            Refusal::NameTaken(name) => write!(
                f,
                "you already have a saved search named \"{name}\": choose another name, or remove that one first"
            ),
            Refusal::NoFilters => write!(f, "choose at least one filter before saving a search"),
            Refusal::TooMany => write!(f, "you keep {MOST} saved searches already: remove one first"),
            Refusal::NotFound => write!(f, "no saved search of yours has this id"),
        }
    }
}

/// Saving `filters` as `name`, with the new search's `id`, for `user`
/// (at `version`) who keeps `saved`.
pub fn decide_save(
    context: &Context,
    user: &str,
    version: u64,
    saved: &[SearchSaved],
    id: &str,
    name: &str,
    filters: &BTreeMap<String, String>,
) -> Result<NewEvent, Refusal> {
    let name = name.trim();
    match name.chars().count() {
        0 => return Err(Refusal::NoName),
        count if count > LONGEST_NAME => return Err(Refusal::NameTooLong),
        _ => {}
    }
    if name.chars().any(char::is_control) {
        return Err(Refusal::NameNotPrintable);
    }
    let filters: BTreeMap<String, String> = filters
        .iter()
        .map(|(filter, value)| (filter.clone(), value.trim().to_string()))
        .filter(|(_, value)| !value.is_empty())
        .collect();
    if filters.keys().all(|filter| filter == "order") {
        return Err(Refusal::NoFilters);
    }
    if let Some(taken) = saved.iter().find(|search| same_name(&search.name, name)) {
        return Err(Refusal::NameTaken(taken.name.clone()));
    }
    if saved.len() >= MOST {
        return Err(Refusal::TooMany);
    }
    let saved = SearchSaved {
        id: id.to_string(),
        name: name.to_string(),
        filters,
    };
    Ok(save_search(context, user, version, &saved))
}

/// Removing `user`'s search `id` (at `version`), of those they keep.
pub fn decide_remove(
    context: &Context,
    user: &str,
    version: u64,
    saved: &[SearchSaved],
    id: &str,
) -> Result<NewEvent, Refusal> {
    let search = saved.iter().find(|search| search.id == id).ok_or(Refusal::NotFound)?;
    let removed = SearchRemoved {
        id: search.id.clone(),
        name: search.name.clone(),
    };
    Ok(remove_search(context, user, version, &removed))
}

/// Names compare without regard to case or the spaces around them.
fn same_name(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::Caller;
    use crate::commands::account::{USER_SEARCH_REMOVED, USER_SEARCH_SAVED};

    fn filters(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn kept(count: usize) -> Vec<SearchSaved> {
        (0..count)
            .map(|n| SearchSaved {
                id: format!("s-{n}"),
                name: format!("Search {n}"),
                filters: filters(&[("kind", "login.failed")]),
            })
            .collect()
    }

    #[test]
    fn saving() {
        let context = Caller::default().as_user("u-1", "o-1");
        let failed = [("kind", "login.failed")];
        let long = "x".repeat(LONGEST_NAME + 1);
        let longest = "é".repeat(LONGEST_NAME);
        // (kept, name, filters, the name and filters saved, or the refusal)
        type Pairs = Vec<(&'static str, &'static str)>;
        type Case<'a> = (usize, &'a str, Pairs, Result<(&'static str, Pairs), Refusal>);
        let cases: Vec<Case> = vec![
            (
                0,
                "Failed sign-ins",
                failed.to_vec(),
                Ok(("Failed sign-ins", failed.to_vec())),
            ),
            (
                2,
                "  Spaced  ",
                vec![("kind", " login.failed "), ("q", " "), ("order", "oldest")],
                Ok(("Spaced", vec![("kind", "login.failed"), ("order", "oldest")])),
            ),
            (0, "   ", failed.to_vec(), Err(Refusal::NoName)),
            (0, long.as_str(), failed.to_vec(), Err(Refusal::NameTooLong)),
            (0, "Two\nlines", failed.to_vec(), Err(Refusal::NameNotPrintable)),
            (0, "Tab\there", failed.to_vec(), Err(Refusal::NameNotPrintable)),
            (0, "Everything", vec![], Err(Refusal::NoFilters)),
            (0, "Blank", vec![("q", "  "), ("kind", "")], Err(Refusal::NoFilters)),
            (0, "Oldest", vec![("order", "oldest")], Err(Refusal::NoFilters)),
            (
                3,
                " search 1 ",
                failed.to_vec(),
                Err(Refusal::NameTaken("Search 1".into())),
            ),
            (MOST - 1, "One more", failed.to_vec(), Ok(("One more", failed.to_vec()))),
            (MOST, "Too many", failed.to_vec(), Err(Refusal::TooMany)),
            // A taken name is said before a full list.
            (
                MOST,
                "Search 0",
                failed.to_vec(),
                Err(Refusal::NameTaken("Search 0".into())),
            ),
        ];
        for (count, name, given, expected) in cases {
            let decided = decide_save(&context, "u-1", 7, &kept(count), "new", name, &filters(&given)).map(|event| {
                assert_eq!(event.kind, USER_SEARCH_SAVED);
                assert_eq!(event.subject, "user:u-1");
                assert_eq!(event.expected_version, Some(7));
                let saved: SearchSaved = serde_json::from_value(event.data).unwrap();
                assert_eq!(saved.id, "new");
                (saved.name, saved.filters)
            });
            let expected = expected.map(|(name, pairs)| (name.to_string(), filters(&pairs)));
            assert_eq!(decided, expected, "{count} kept, {name:?}, {given:?}");
        }
        let decided = decide_save(&context, "u-1", 7, &[], "new", &longest, &filters(&failed));
        assert!(decided.is_ok(), "{LONGEST_NAME} characters, not bytes");
    }

    #[test]
    fn removing() {
        let context = Caller::default().as_user("u-1", "o-1");
        let event = decide_remove(&context, "u-1", 3, &kept(2), "s-1").unwrap();
        assert_eq!(event.kind, USER_SEARCH_REMOVED);
        assert_eq!(event.expected_version, Some(3));
        let removed: SearchRemoved = serde_json::from_value(event.data).unwrap();
        assert_eq!((removed.id.as_str(), removed.name.as_str()), ("s-1", "Search 1"));
        for unknown in ["s-2", "", "S-1"] {
            assert_eq!(
                decide_remove(&context, "u-1", 3, &kept(2), unknown).unwrap_err(),
                Refusal::NotFound,
                "{unknown:?}"
            );
        }
    }
}
