//! Published checkpoints, as auditors fetch them: the history from the
//! `checkpoints` read model, and consistency proofs computed from the log
//! (decision 0020).

use warden_core::chain::merkle::StreamedConsistency;
use warden_core::chain::published::ConsistencyProof;
use warden_core::ledger::LedgerError;

use crate::error::ApiError;
use crate::state::AppState;

const READ_CHUNK: usize = 10_000;

fn unreadable(error: LedgerError) -> ApiError {
    tracing::error!(%error, "cannot read the log for a consistency proof");
    ApiError::unavailable("the log cannot be read now; try again")
}

/// The proof that the log's first `to` events begin with its first `from`
/// events. Reads the hashes of events 1..=`to` (archived ones from the
/// database's record of them), holding O(log n) of them.
pub async fn consistency(state: &AppState, from: u64, to: u64) -> Result<ConsistencyProof, ApiError> {
    let size = state.ledger.head().await.map_err(unreadable)?.seq;
    if from == 0 || from > to || to > size {
        return Err(ApiError::bad_request(format!(
            "from and to must be tree sizes with 1 <= from <= to <= {size} (the log's size now)"
        )));
    }
    let mut streamed = StreamedConsistency::new(from, to)
        .ok_or_else(|| ApiError::bad_request("from and to must be tree sizes with 1 <= from <= to"))?;
    let store = state.ledger.store();
    if store.archive_boundary().await.map_err(unreadable)?.is_some() {
        for hash in store.archived_hashes().await.map_err(unreadable)? {
            if streamed.missing() == 0 {
                break;
            }
            streamed.push(&hash);
        }
    }
    while streamed.missing() > 0 {
        let next = to - streamed.missing() + 1;
        let want = READ_CHUNK.min(streamed.missing() as usize);
        let events = state.ledger.read(next, want).await.map_err(unreadable)?;
        if events.first().map(|event| event.seq) != Some(next) {
            return Err(unreadable(LedgerError::Corrupt {
                seq: next,
                reason: "the log does not hold this event".into(),
            }));
        }
        for event in &events {
            streamed.push(&event.hash);
        }
    }
    let proof = streamed
        .finish()
        .ok_or_else(|| ApiError::internal("the consistency proof could not be completed"))?;
    Ok(ConsistencyProof::new(from, to, proof))
}
