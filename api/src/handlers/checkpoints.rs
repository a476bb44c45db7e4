//! `GET /api/v1/audit/checkpoints`, `…/latest` and `…/consistency`: the
//! checkpoints Warden published (docs/spec/audit-checkpoint.md) and the
//! proofs that the log only grew between two of them. Owners and auditors.

use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use warden_core::chain::published::{ConsistencyProof, PublishedCheckpoint};
use warden_projections::projection::read;

use crate::error::{ApiError, Code};
use crate::flows::checkpoints;
use crate::state::AppState;
use crate::web::Admitted;
use crate::web::json::Json;
use crate::web::session::AuditReader;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    /// Only checkpoints of a smaller tree size (the previous page's
    /// `next`).
    before: Option<String>,
    limit: Option<String>,
}

fn number(name: &str, text: &str, max: u64) -> Result<u64, ApiError> {
    text.parse::<u64>()
        .ok()
        .filter(|number| (1..=max).contains(number))
        .ok_or_else(|| ApiError::bad_request(format!("{name} must be a whole number from 1 to {max}")))
}

/// The checkpoints, newest first.
pub async fn history(
    State(state): State<AppState>,
    _reader: Admitted<AuditReader>,
    Query(params): Query<HistoryParams>,
) -> Result<Json<Value>, ApiError> {
    let before = params
        .before
        .as_deref()
        .map(|text| number("before", text, (1 << 53) - 1))
        .transpose()?;
    let limit = match params.limit.as_deref() {
        Some(text) => number("limit", text, MAX_LIMIT as u64)? as usize,
        None => DEFAULT_LIMIT,
    };
    let model = read(&state.models.checkpoints);
    let page: Vec<Value> = model
        .newest_first(before, limit + 1)
        .map(|published| json!({"seq": published.seq, "checkpoint": published.checkpoint}))
        .collect();
    let next = (page.len() > limit)
        .then(|| page[limit - 1]["checkpoint"]["tree_size"].as_u64())
        .flatten();
    Ok(Json(json!({
        "checkpoints": &page[..page.len().min(limit)],
        "next": next,
    })))
}

/// The latest checkpoint, as the document itself: what an auditor keeps.
pub async fn latest(
    State(state): State<AppState>,
    _reader: Admitted<AuditReader>,
) -> Result<Json<PublishedCheckpoint>, ApiError> {
    read(&state.models.checkpoints)
        .latest()
        .map(|published| Json(published.checkpoint.clone()))
        .ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                Code::NotFound,
                "no checkpoint has been published yet",
            )
        })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyParams {
    from: Option<String>,
    to: Option<String>,
}

/// The consistency proof between two tree sizes.
pub async fn consistency(
    State(state): State<AppState>,
    _reader: Admitted<AuditReader>,
    Query(params): Query<ConsistencyParams>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    let size = |name: &str, text: Option<&str>| {
        let text = text.ok_or_else(|| ApiError::bad_request(format!("{name} is required: a tree size")))?;
        number(name, text, (1 << 53) - 1)
    };
    let from = size("from", params.from.as_deref())?;
    let to = size("to", params.to.as_deref())?;
    Ok(Json(checkpoints::consistency(&state, from, to).await?))
}
