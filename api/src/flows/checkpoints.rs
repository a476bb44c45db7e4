//! Published checkpoints, as auditors fetch them: the history from the
//! `checkpoints` read model, and consistency proofs computed from the log
//! (decision 0020).

use warden_core::chain::merkle::StreamedConsistency;
use warden_core::chain::published::ConsistencyProof;
use warden_core::ledger::LedgerError;
use warden_core::ledger::archive::{ArchivedHashes, bound_archived_hashes};

use crate::error::{ApiError, Code};
use crate::state::AppState;

const READ_CHUNK: usize = 10_000;

/// One proof at a time per node: each reads the log up to its `to`.
static PROOFS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

fn unreadable(error: LedgerError) -> ApiError {
    tracing::error!(%error, "cannot read the log for a consistency proof");
    ApiError::unavailable("the log cannot be read now; try again")
}

/// The proof that the log's first `to` events begin with its first `from`
/// events. Reads the events 1..=`to` (archived ones as the hashes the
/// database keeps, bound to the archive boundary), holding O(log n) tree
/// nodes, and the archived hashes while it reads them; one proof at a time
/// per node (a second gets a 429).
pub async fn consistency(state: &AppState, from: u64, to: u64) -> Result<ConsistencyProof, ApiError> {
    let size = state.ledger.head().await.map_err(unreadable)?.seq;
    if from == 0 || from > to || to > size {
        return Err(ApiError::bad_request(format!(
            "from and to must be tree sizes with 1 <= from <= to <= {size} (the log's size now)"
        )));
    }
    if from == to {
        return Ok(ConsistencyProof::new(from, to, Vec::new()));
    }
    let mut streamed = StreamedConsistency::new(from, to)
        .ok_or_else(|| ApiError::bad_request("from and to must be tree sizes with 1 <= from <= to"))?;
    let _permit = PROOFS.try_acquire().map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            Code::TooManyRequests,
            "another consistency proof is being computed on this node; retry in a few seconds",
        )
    })?;
    match bound_archived_hashes(state.ledger.store().as_ref())
        .await
        .map_err(unreadable)?
    {
        ArchivedHashes::None => {}
        ArchivedHashes::Bound(hashes) => {
            for hash in hashes.iter().take(to as usize) {
                streamed.push(hash);
            }
        }
        ArchivedHashes::Unbound(reason) => {
            return Err(unreadable(LedgerError::Corrupt { seq: 0, reason }));
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
