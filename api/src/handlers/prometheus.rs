//! `/metrics` in the Prometheus text format. Lags are computed at scrape
//! time against the log's head.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::state::AppState;

pub async fn render(State(state): State<AppState>) -> impl IntoResponse {
    if let Ok(head) = state.ledger.head().await {
        metrics::gauge!("warden_ledger_head_seq").set(head.seq as f64);
        let applied = state.positions.applied();
        metrics::gauge!("warden_projection_lag_events").set(head.seq.saturating_sub(applied) as f64);
    }
    let text = state.metrics.as_ref().map(|handle| handle.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
