//! The audit trail's integrity panel: where the log's chain ends, how far
//! this node has checked it (each event's hash, link and signature, before
//! any read model applies it), the last signed checkpoint, the signing
//! keys with the spans they signed, and how to check a download without
//! trusting this server.

use chrono::{DateTime, Utc};
use warden_projections::projection::read;

use super::when::{When, Zone};
use crate::state::AppState;
use crate::web::session::CurrentSession;

pub(crate) struct Key {
    pub key_id: String,
    /// `from event 1`, `events 1 to 4102`.
    pub span: String,
    pub since: Option<When>,
    pub current: bool,
}

pub(crate) struct Integrity {
    pub head_seq: u64,
    pub head_hash: String,
    /// Checked through this event on this node.
    pub verified_through: u64,
    /// At this time (the page's).
    pub checked_at: When,
    /// Why this node stopped checking, if it did.
    pub failure: Option<String>,
    /// The last signed checkpoint: its size and time.
    pub checkpoint: Option<(u64, When)>,
    pub keys: Vec<Key>,
}

/// The panel, read from this node's state now; `None` when the log
/// cannot be read.
pub(crate) async fn read_now(state: &AppState, viewer: &CurrentSession) -> Option<Integrity> {
    let head = state.ledger.head().await.ok()?;
    let zone = Zone::of(viewer.user.time_zone.as_deref());
    let at = |text: &str| {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|at| zone.when(&at.with_timezone(&Utc)))
    };
    let checkpoint = read(&state.models.checkpoints)
        .latest()
        .and_then(|published| Some((published.checkpoint.tree_size, at(&published.checkpoint.at)?)));
    let keys = {
        let model = read(&state.models.signing_keys);
        let current = model.current().map(|key| key.key_id.clone());
        let mut keys: Vec<_> = model.all().cloned().collect();
        keys.sort_by_key(|key| key.added_seq);
        let ends: Vec<Option<u64>> = keys
            .iter()
            .skip(1)
            .map(|next| Some(next.added_seq.saturating_sub(1)))
            .chain([None])
            .collect();
        keys.iter()
            .zip(ends)
            .map(|(key, end)| Key {
                key_id: key.key_id.clone(),
                span: match end {
                    Some(end) => format!("events {} to {end}", key.added_seq),
                    None => format!("from event {}", key.added_seq),
                },
                since: at(&key.added_at),
                current: current.as_deref() == Some(key.key_id.as_str()),
            })
            .rev()
            .collect()
    };
    Some(Integrity {
        head_seq: head.seq,
        head_hash: head.hash.to_hex(),
        verified_through: state.positions.applied(),
        checked_at: zone.when(&Utc::now()),
        failure: state.positions.failure(),
        checkpoint,
        keys,
    })
}
