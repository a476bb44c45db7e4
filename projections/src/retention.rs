//! Legal holds and archives, as their events record them: what
//! `warden archive` must respect, and what it already did.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use warden_core::Event;
use warden_core::commands::retention::{
    Archived, HoldScope, LEDGER_ARCHIVED, LEGAL_HOLD_PLACED, LEGAL_HOLD_RELEASED, LegalHoldPlaced, LegalHoldReleased,
    RETENTION_SUBJECT,
};
use warden_core::commands::{Prefix, payload, subject_id};
use warden_core::event::timestamp;

use crate::Projection;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub id: String,
    pub scope: HoldScope,
    pub reason: String,
    pub placed_seq: u64,
    pub placed_at: String,
    /// The user who placed it (none for the operator's command line).
    pub placed_by: Option<String>,
    /// Its subject's version in the ledger (snapshots older than this
    /// field only ever held holds at version 1).
    #[serde(default = "first_version")]
    pub version: u64,
}

fn first_version() -> u64 {
    1
}

/// One archived range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveMark {
    /// The `ledger.archived` event.
    pub seq: u64,
    pub archived: Archived,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    holds: BTreeMap<String, Hold>,
    archives: Vec<ArchiveMark>,
    /// The version of the `retention` subject (one archive after another).
    archives_version: u64,
}

impl Retention {
    /// Holds in force, oldest first.
    pub fn holds(&self) -> impl Iterator<Item = &Hold> {
        let mut holds: Vec<&Hold> = self.holds.values().collect();
        holds.sort_by_key(|hold| hold.placed_seq);
        holds.into_iter()
    }

    pub fn hold(&self, id: &str) -> Option<&Hold> {
        self.holds.get(id)
    }

    /// Holds on this org's trail.
    pub fn org_legal_holds<'a>(&'a self, org: &'a str) -> impl Iterator<Item = &'a Hold> {
        self.holds()
            .filter(move |hold| matches!(&hold.scope, HoldScope::Org { org: held } if held == org))
    }

    pub fn archives(&self) -> &[ArchiveMark] {
        &self.archives
    }

    pub fn archives_version(&self) -> u64 {
        self.archives_version
    }
}

impl Projection for Retention {
    const NAME: &'static str = warden_core::commands::catalogue::readers::RETENTION;
    const VERSION: u32 = 1;

    fn apply(&mut self, event: &Event) {
        // Versions follow the ledger, whatever the kind of the event.
        if event.subject == RETENTION_SUBJECT {
            self.archives_version = event.subject_version;
        } else if let Some(hold) = subject_id(&event.subject, Prefix::LegalHold).and_then(|id| self.holds.get_mut(id)) {
            hold.version = event.subject_version;
        }
        match event.kind.as_str() {
            LEGAL_HOLD_PLACED => {
                if let Some(placed) = payload::<LegalHoldPlaced>(event) {
                    self.holds.insert(
                        placed.hold.clone(),
                        Hold {
                            id: placed.hold,
                            scope: placed.scope,
                            reason: placed.reason,
                            placed_seq: event.seq,
                            placed_at: timestamp::format(&event.at),
                            placed_by: event.actor.id.clone(),
                            version: event.subject_version,
                        },
                    );
                }
            }
            LEGAL_HOLD_RELEASED => {
                if let Some(released) = payload::<LegalHoldReleased>(event) {
                    self.holds.remove(&released.hold);
                }
            }
            LEDGER_ARCHIVED => {
                if let Some(archived) = payload::<Archived>(event) {
                    self.archives.push(ArchiveMark {
                        seq: event.seq,
                        archived,
                    });
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use warden_core::chain::Digest;
    use warden_core::commands::retention::{self, RETENTION_SUBJECT};
    use warden_core::commands::{Context, data};
    use warden_core::{Actor, ActorKind};

    use super::*;

    fn event(seq: u64, new: warden_core::NewEvent) -> Event {
        let mut event = Event::unsealed(seq, warden_core::event::now_micros(), new);
        event.subject_version = 1;
        event
    }

    #[test]
    fn holds_are_placed_and_released_and_archives_remembered() {
        let mut actor = Actor::of_kind(ActorKind::User);
        actor.id = Some("owner-1".into());
        let context = Context {
            actor,
            request_id: "r".into(),
        };
        let mut model = Retention::default();
        let placed = |hold: &str, scope| LegalHoldPlaced {
            hold: hold.into(),
            scope,
            reason: "litigation".into(),
        };
        model.apply(&event(
            1,
            retention::legal_hold_placed(&context, &placed("h1", HoldScope::Org { org: "acme".into() })),
        ));
        model.apply(&event(
            2,
            retention::legal_hold_placed(&context, &placed("h2", HoldScope::Range { from: 5, to: 9 })),
        ));
        assert_eq!(
            model.holds().map(|hold| hold.id.as_str()).collect::<Vec<_>>(),
            ["h1", "h2"]
        );
        assert_eq!(model.org_legal_holds("acme").count(), 1);
        assert_eq!(model.org_legal_holds("other").count(), 0);
        assert_eq!(model.hold("h1").unwrap().placed_by.as_deref(), Some("owner-1"));
        assert_eq!(model.hold("h1").unwrap().version, 1);
        // Any event on a hold's subject moves its version, whatever its
        // kind: the release is decided on the ledger's version.
        let mut other = event(
            3,
            warden_core::NewEvent::new("legal_hold.noted", "legal_hold:h1", Actor::system()),
        );
        other.subject_version = 2;
        model.apply(&other);
        assert_eq!(model.hold("h1").unwrap().version, 2);
        let version = model.hold("h1").unwrap().version;
        model.apply(&event(
            3,
            retention::legal_hold_released(
                &context,
                version,
                &LegalHoldReleased {
                    hold: "h1".into(),
                    reason: "settled".into(),
                },
            ),
        ));
        assert_eq!(model.holds().map(|hold| hold.id.as_str()).collect::<Vec<_>>(), ["h2"]);
        let archived = Archived {
            from: 1,
            through: 2,
            last_hash: Digest::ZERO,
            root: Digest::ZERO,
            bundle_blake3: Digest::ZERO,
            bundle_events: 2,
            partitions: vec!["events_p1".into()],
            keys: BTreeMap::new(),
        };
        let new = warden_core::NewEvent::new(LEDGER_ARCHIVED, RETENTION_SUBJECT, Actor::system()).data(data(&archived));
        model.apply(&event(4, new));
        assert_eq!(model.archives().len(), 1);
        assert_eq!(model.archives()[0].seq, 4);
        assert_eq!(model.archives_version(), 1);
    }
}
