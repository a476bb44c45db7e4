//! Liveness and readiness.

use std::time::Duration;

use crate::web::json::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::AppState;

/// Read models further behind the log than this are not ready.
pub const MAX_READY_LAG: u64 = 1000;
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn live() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready when the ledger answers and is not refusing appends (its
/// breaker), the bus answers, the KMS key is usable, and the read models are within
/// `MAX_READY_LAG` events of the log's head. The alert evaluator is
/// reported but does not decide readiness: every node reads the same log,
/// so an evaluator stopped by one event stops on every node, and taking
/// them all out of service would turn a silent rule into an outage.
pub async fn ready(State(state): State<AppState>) -> Response {
    let (ledger, bus, kms) = tokio::join!(
        state.ledger.readiness(CHECK_TIMEOUT),
        tokio::time::timeout(CHECK_TIMEOUT, state.bus.ping()),
        state.data_keys.keyring().readiness(CHECK_TIMEOUT)
    );
    let head = ledger.as_ref().ok().map(|head| head.seq);
    let ledger_error = ledger.err();
    let applied = state.positions.applied();
    let ledger_ok = ledger_error.is_none();
    let bus_ok = matches!(bus, Ok(Ok(())));
    let failure = state.positions.failure();
    let lag = head.map(|head| head.saturating_sub(applied));
    let projections_ok = failure.is_none() && lag.is_some_and(|lag| lag <= MAX_READY_LAG);
    let kms_ok = kms.is_ok();
    let ready = ledger_ok && bus_ok && kms_ok && projections_ok;
    let alerts = state.alert_positions.as_ref().map(|alerts| {
        let failure = alerts.failure();
        json!({ "ok": failure.is_none(), "applied": alerts.applied(), "failure": failure })
    });
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": {
            "ledger": { "ok": ledger_ok, "head": head, "error": ledger_error },
            "bus": { "ok": bus_ok },
            // The reason (it names the key and the account) goes to the
            // server's log only: this answer is public.
            "kms": { "ok": kms_ok, "error": kms.err().map(|_| "the KMS key cannot be used now; the server log says why") },
            "projections": { "ok": projections_ok, "applied": applied, "lag": lag, "failure": failure },
            "alerts": alerts,
        }
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    // Not an error shape: probes read the checks.
    (status, Json(body)).into_response()
}
