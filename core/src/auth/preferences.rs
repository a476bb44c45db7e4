//! A user's own preferences: the time zone the console shows them times
//! in. Only the user sets their own; the zones offered are the ones the
//! server's time zone database knows (the caller says which).
//!
//! Nothing here does I/O or reads a clock.

use std::fmt;

use crate::commands::Context;
use crate::commands::account::{TimeZoneChanged, change_time_zone};
use crate::event::NewEvent;

/// The default zone, and the word for it in a form.
pub const DEFAULT_ZONE: &str = "UTC";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a zone the server offers (`offered`).
    UnknownZone,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::UnknownZone => write!(
                f,
                "time_zone must be one of the zones offered, such as Europe/Paris or UTC"
            ),
        }
    }
}

/// What choosing `chosen` does to a user whose zone is `current`
/// (`None`: the default, UTC): the event that records it, none when it
/// changes nothing, or why not. `UTC` (or nothing) chooses the default.
pub fn decide(
    context: &Context,
    user: &str,
    version: u64,
    current: Option<&str>,
    chosen: &str,
    offered: impl Fn(&str) -> bool,
) -> Result<Option<NewEvent>, Refusal> {
    let chosen = chosen.trim();
    let new = match chosen {
        "" | DEFAULT_ZONE => None,
        zone if offered(zone) => Some(zone),
        _ => return Err(Refusal::UnknownZone),
    };
    if new == current {
        return Ok(None);
    }
    let changed = TimeZoneChanged {
        old: current.map(str::to_string),
        new: new.map(str::to_string),
    };
    Ok(Some(change_time_zone(context, user, version, &changed)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::Caller;
    use crate::commands::account::USER_TIME_ZONE_CHANGED;

    fn offered(zone: &str) -> bool {
        matches!(zone, "Europe/Paris" | "America/New_York")
    }

    /// What a choice does: `Ok(Some(new))` an event to that zone (`None`:
    /// UTC), `Ok(None)` nothing, `Err` a refusal.
    type Outcome = Result<Option<Option<&'static str>>, Refusal>;

    #[test]
    fn the_table() {
        let context = Caller::default().as_user("u-1", "o-1");
        let cases: [(Option<&str>, &str, Outcome); 8] = [
            (None, "Europe/Paris", Ok(Some(Some("Europe/Paris")))),
            (
                Some("Europe/Paris"),
                "America/New_York",
                Ok(Some(Some("America/New_York"))),
            ),
            (Some("Europe/Paris"), "UTC", Ok(Some(None))),
            (Some("Europe/Paris"), "", Ok(Some(None))),
            (Some("Europe/Paris"), " Europe/Paris ", Ok(None)),
            (None, "UTC", Ok(None)),
            (None, "Mars/Olympus_Mons", Err(Refusal::UnknownZone)),
            (None, "europe/paris", Err(Refusal::UnknownZone)),
        ];
        for (current, chosen, expected) in cases {
            let decided = decide(&context, "u-1", 4, current, chosen, offered).map(|event| {
                event.map(|event| {
                    assert_eq!(event.kind, USER_TIME_ZONE_CHANGED);
                    assert_eq!(event.subject, "user:u-1");
                    assert_eq!(event.expected_version, Some(4));
                    let changed: TimeZoneChanged = serde_json::from_value(event.data).unwrap();
                    assert_eq!(changed.old.as_deref(), current);
                    changed.new
                })
            });
            let decided = decided.map(|event| event.map(|new| new.map(|zone| zone.to_string())));
            let expected = expected.map(|event| event.map(|new| new.map(str::to_string)));
            assert_eq!(decided, expected, "{current:?} → {chosen:?}");
        }
    }
}
