//! Every route of the HTTP surface, and the guard that protects it.
//!
//! | route | guard |
//! | --- | --- |
//! | `GET /healthz`, `GET /readyz` | none (liveness and readiness probes) |
//! | `GET /metrics` | none; bind `listen` privately or filter at the proxy |
//! | `GET /.well-known/warden-audit-keys` | none (public keys) |
//! | `POST /api/v1/app-events` | bearer token (`app_events_token_file`) |
//! | `GET /api/v1/openapi.json` | none (this surface, documented) |

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

use crate::error::ApiError;
use crate::handlers::{app_events, audit_keys, health, openapi, prometheus};
use crate::request_id;
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(prometheus::render))
        .route("/.well-known/warden-audit-keys", get(audit_keys::list))
        .route("/api/v1/app-events", post(app_events::record))
        .route("/api/v1/openapi.json", get(openapi::document))
        .fallback(|| async { ApiError::not_found() })
        .layer(DefaultBodyLimit::max(256 * 1024))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::new())
        .layer(axum::middleware::from_fn(request_id::middleware))
        .with_state(state)
}
