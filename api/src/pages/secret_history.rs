//! A vault secret's access history on its page: the newest reads,
//! refusals and counted repeats, from the audit index, as lines. Reading
//! them is reading the audit trail (owners and auditors), recorded as an
//! `audit.searched` before they are shown.

use std::collections::BTreeMap;

use warden_core::Event;
use warden_core::auth::vault::Secret;
use warden_core::commands::payload;
use warden_core::commands::secret::{self, AccessDenied, Accessed, Denial, ReadsCounted, access_subject};
use warden_core::event::ActorKind;

use super::named::Named;
use super::secrets::reader_named;
use super::when::{When, Zone};
use crate::flows::audit;
use crate::handlers::audit::SearchParams;
use crate::state::AppState;
use crate::web::session::CurrentSession;
use crate::web::{Client, Principal};

/// Accesses shown on the page; the audit trail has them all.
const ROWS: usize = 50;

/// One access of the history, as a line.
pub(super) struct AccessRow {
    pub seq: u64,
    /// In the viewer's zone.
    pub at: When,
    pub who: Named,
    pub what: String,
    pub version: String,
    pub reason: String,
    pub refused: bool,
}

/// An access event as a line of the history, its time in `zone`.
fn access_row(state: &AppState, zone: &Zone, event: &Event) -> AccessRow {
    // As the vault's read model names readers; the counted repeats are
    // the node's own record.
    let who = match (event.actor.kind, event.actor.id.as_deref()) {
        (ActorKind::System | ActorKind::Anonymous, _) | (_, None) => Named::text("Warden"),
        (ActorKind::User, Some(id)) => reader_named(state, &format!("user:{id}")),
        (_, Some(id)) => reader_named(state, &format!("api_key:{id}")),
    };
    let ticket = |reason: &str| match &event.actor.ticket {
        Some(ticket) => format!("{reason} (ticket {ticket})"),
        None => reason.to_string(),
    };
    let (what, version, reason, refused) = match event.kind.as_str() {
        secret::SECRET_ACCESSED => match payload::<Accessed>(event) {
            Some(read) => (
                if read.new_reader { "read (a new reader)" } else { "read" }.to_string(),
                read.version.to_string(),
                ticket(&read.reason),
                false,
            ),
            None => ("read".into(), String::new(), String::new(), false),
        },
        secret::SECRET_ACCESS_DENIED => match payload::<AccessDenied>(event) {
            Some(denied) => (
                format!(
                    "refused: {}",
                    match denied.denial {
                        Denial::NotAReader => "not a reader",
                        Denial::Shredded => "shredded",
                        Denial::NoSuchVersion => "no such version",
                    }
                ),
                String::new(),
                ticket(&denied.reason),
                true,
            ),
            None => ("refused".into(), String::new(), String::new(), true),
        },
        secret::SECRET_READS_COUNTED => match payload::<ReadsCounted>(event) {
            Some(counted) => {
                let total: u64 = counted.reads.iter().map(|reads| reads.count).sum();
                let readers: Vec<String> = counted
                    .reads
                    .iter()
                    .map(|reads| {
                        format!(
                            "{} ×{} v{} “{}”",
                            reader_named(state, &reads.reader).text,
                            reads.count,
                            reads.version,
                            reads.reason
                        )
                    })
                    .collect();
                (
                    format!("{total} repeated reads within the cache, that minute"),
                    String::new(),
                    readers.join("; "),
                    false,
                )
            }
            None => ("reads counted".into(), String::new(), String::new(), false),
        },
        other => (other.to_string(), String::new(), String::new(), false),
    };
    AccessRow {
        seq: event.seq,
        at: zone.when(&event.at),
        who,
        what,
        version,
        reason,
        refused,
    }
}

/// The secret's newest accesses, from the audit index: reading them is
/// reading the audit trail, recorded as an `audit.searched` first.
/// The rows, and whether there are more; or why they cannot be shown.
pub(super) async fn newest(
    state: &AppState,
    current: &CurrentSession,
    client: &Client,
    secret: &Secret,
) -> Result<(Vec<AccessRow>, bool), String> {
    let filters = BTreeMap::from([
        ("subject".to_string(), access_subject(&secret.org, &secret.name)),
        ("limit".to_string(), ROWS.to_string()),
    ]);
    let search = SearchParams::from_form(&filters)
        .and_then(SearchParams::into_search)
        .map_err(|error| error.message)?;
    let reader = Principal::Person(current.clone());
    let found = audit::search(state, &reader, client, search)
        .await
        .map_err(|error| error.message)?;
    let zone = Zone::of(current.user.time_zone.as_deref());
    let rows = found
        .events
        .iter()
        .map(|event| access_row(state, &zone, event))
        .collect();
    Ok((rows, found.next.is_some()))
}
