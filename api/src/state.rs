//! What every handler can reach.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use warden_core::bus::Bus;
use warden_core::ledger::Ledger;
use warden_projections::{Positions, ReadModels};

#[derive(Clone)]
pub struct AppState {
    pub ledger: Ledger,
    pub bus: Arc<dyn Bus>,
    pub models: ReadModels,
    pub positions: Positions,
    pub metrics: Option<PrometheusHandle>,
    /// BLAKE3 of the application-events bearer token, when one is set.
    pub app_events_token_hash: Option<[u8; 32]>,
}
