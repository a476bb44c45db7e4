//! Every route of the HTTP surface, and the guard that protects it.
//!
//! | route | guard |
//! | --- | --- |
//! | `GET /healthz`, `GET /readyz` | none (liveness and readiness probes) |
//! | `GET /metrics` | none; bind `listen` privately or filter at the proxy |
//! | `GET /.well-known/warden-audit-keys` | none (public keys) |
//! | `POST /api/v1/app-events` | bearer application token (`app_events_token_file`, `[[app_tokens]]`) |
//! | `GET /api/v1/openapi.json` | none (this surface, documented) |
//! | `POST /api/v1/setup` | the one-time setup link's token |
//! | `POST /api/v1/sign-in` | email and password, throttled |
//! | `POST /api/v1/sign-in/passkey/{start,finish}` | email and passkey, throttled |
//! | `POST /api/v1/invitations/accept` | the invitation link's token |
//! | `GET /api/v1/session`, `GET /api/v1/auth/forward` | session |
//! | `POST /api/v1/sign-out` | session, partial included + CSRF |
//! | `POST /api/v1/mfa/verify`, `/api/v1/mfa/passkeys/verify/…` | session, partial included + CSRF, throttled |
//! | `/api/v1/sessions…`, `PUT /api/v1/password`, `/api/v1/mfa…`, `POST /api/v1/session/reauthenticate` | session + CSRF |
//! | `DELETE /api/v1/mfa/totp`, `POST /api/v1/mfa/backup-codes`, `/api/v1/mfa/passkeys/register/start`, `DELETE /api/v1/mfa/passkeys/{credential}` | session + CSRF + recent strong authentication |
//! | `GET /api/v1/org` | session |
//! | `PUT /api/v1/org/session-policy`, `/api/v1/users…` | session + CSRF, role owner or admin (role changes: recent strong authentication) |
//! | `GET /api/v1/org/mfa-policy` | session |
//! | `PUT /api/v1/org/mfa-policy` | session + CSRF, role owner or admin, recent strong authentication |
//! | `GET /api/v1/audit/events`, `GET /api/v1/audit/events/{seq}` | session, role owner or auditor; the reader's org only |
//! | `GET /api/v1/audit/export` | as the searches, and a recent strong authentication |
//! | `GET /api/v1/alert-rules…`, `GET /api/v1/alert-templates`, `GET /api/v1/alerts` | session, role owner, admin or auditor |
//! | `POST`, `PUT`, `DELETE /api/v1/alert-rules…` (and `…/preview`) | session + CSRF, role owner or admin |
//! | `GET /api/v1/org/legal-holds` | session, role owner or auditor |
//! | `POST /api/v1/org/legal-holds` | session + CSRF, role owner |
//! | `POST /api/v1/org/legal-holds/{id}/release` | session + CSRF, role owner, recent strong authentication |
//!
//! | `GET /sign-in`, `/setup`, `/invitation` and their POSTs | pages: as their API twins |
//! | `GET`/`POST /sign-in/mfa` | page session, partial included + CSRF |
//! | `/settings/…` | page session (else redirect to `/sign-in`, or `/sign-in/mfa` when partial) + CSRF |
//! | `/admin/users…`, `/admin/mfa-policy` | page session + CSRF, role owner or admin |
//! | `/audit`, `/audit/events/{seq}`, `/audit/export` | page session, role owner or auditor (export: recent strong authentication) |
//!
//! Every state-changing request passes the CSRF check (`web::csrf`). Pages
//! are outside the OpenAPI document (`pages::PATHS` lists them for its
//! test).

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::{delete, get, patch, post, put};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;

use crate::error::ApiError;
use crate::handlers::{
    alerts, app_events, audit, audit_keys, auth, checkpoints, health, legal_holds, mfa, openapi, org, prometheus,
    sessions, users, webhook_endpoints,
};
use crate::pages;
use crate::request_id;
use crate::state::AppState;
use crate::web::{access, client, csrf, headers, session};

pub fn router(state: AppState) -> Router {
    // Paths that take no session: a cookie sent to them is never read, so
    // no cookie can slow them down.
    let sessionless = Router::new()
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(prometheus::render))
        .route("/.well-known/warden-audit-keys", get(audit_keys::list))
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/assets/passkeys.js", get(pages::mfa::script));
    Router::new()
        .route("/api/v1/app-events", post(app_events::record))
        .route("/api/v1/audit/events", get(audit::search))
        .route("/api/v1/audit/events/{seq}", get(audit::detail))
        .route("/api/v1/audit/export", get(audit::export))
        .route("/api/v1/audit/checkpoints", get(checkpoints::history))
        .route("/api/v1/audit/checkpoints/latest", get(checkpoints::latest))
        .route("/api/v1/audit/checkpoints/consistency", get(checkpoints::consistency))
        .route("/api/v1/setup", post(auth::setup))
        .route("/api/v1/sign-in", post(auth::sign_in))
        .route("/api/v1/sign-out", post(auth::sign_out))
        .route("/api/v1/invitations/accept", post(auth::accept_invitation))
        .route("/api/v1/session", get(auth::session))
        .route("/api/v1/auth/forward", get(auth::forward))
        .route("/api/v1/sessions", get(sessions::list))
        .route("/api/v1/sessions/{id}", delete(sessions::revoke))
        .route("/api/v1/sessions/sign-out-others", post(sessions::revoke_others))
        .route("/api/v1/password", put(sessions::change_password))
        .route("/api/v1/session/reauthenticate", post(mfa::reauthenticate))
        .route("/api/v1/mfa", get(mfa::factors))
        .route("/api/v1/mfa/totp", post(mfa::start_totp).delete(mfa::remove_totp))
        .route("/api/v1/mfa/totp/confirm", post(mfa::confirm_totp))
        .route("/api/v1/mfa/backup-codes", post(mfa::regenerate_backup_codes))
        .route(
            "/api/v1/mfa/backup-codes/acknowledge",
            post(mfa::acknowledge_backup_codes),
        )
        .route("/api/v1/mfa/verify", post(mfa::verify))
        .route(
            "/api/v1/mfa/passkeys/register/start",
            post(mfa::start_passkey_registration),
        )
        .route(
            "/api/v1/mfa/passkeys/register/finish",
            post(mfa::finish_passkey_registration),
        )
        .route(
            "/api/v1/mfa/passkeys/verify/start",
            post(mfa::start_passkey_verification),
        )
        .route(
            "/api/v1/mfa/passkeys/verify/finish",
            post(mfa::finish_passkey_verification),
        )
        .route(
            "/api/v1/mfa/passkeys/{credential}",
            patch(mfa::rename_passkey).delete(mfa::remove_passkey),
        )
        .route("/api/v1/sign-in/passkey/start", post(mfa::start_passkey_sign_in))
        .route("/api/v1/sign-in/passkey/finish", post(mfa::finish_passkey_sign_in))
        .route("/api/v1/org", get(org::get))
        .route("/api/v1/org/session-policy", put(org::change_session_policy))
        .route(
            "/api/v1/org/mfa-policy",
            get(org::mfa_policy).put(org::change_mfa_policy),
        )
        .route(
            "/api/v1/org/legal-holds",
            get(legal_holds::list).post(legal_holds::place),
        )
        .route("/api/v1/org/legal-holds/{id}/release", post(legal_holds::release))
        .route("/api/v1/alert-rules", get(alerts::list).post(alerts::create))
        .route(
            "/api/v1/alert-rules/{id}",
            get(alerts::get).put(alerts::change).delete(alerts::remove),
        )
        .route("/api/v1/alert-rules/preview", post(alerts::preview))
        .route("/api/v1/alert-rules/{id}/enable", post(alerts::enable))
        .route("/api/v1/alert-rules/{id}/disable", post(alerts::disable))
        .route("/api/v1/alert-templates", get(alerts::templates))
        .route("/api/v1/alerts", get(alerts::recent))
        .route("/api/v1/alerts/{id}", get(alerts::alert))
        .route("/api/v1/alerts/{id}/acknowledge", post(alerts::acknowledge))
        .route("/api/v1/alerts/{id}/resolve", post(alerts::resolve))
        .route("/api/v1/alerts/{id}/resend", post(alerts::resend))
        .route(
            "/api/v1/webhook-endpoints",
            get(webhook_endpoints::list).post(webhook_endpoints::create),
        )
        .route("/api/v1/webhook-endpoints/{id}", delete(webhook_endpoints::remove))
        .route("/api/v1/users", get(users::list).post(users::create))
        .route("/api/v1/users/{id}", patch(users::change))
        .route("/api/v1/users/{id}/sessions", delete(users::revoke_sessions))
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/settings/sessions") }),
        )
        .route("/sign-in", get(pages::sign_in::form).post(pages::sign_in::submit))
        .route("/sign-out", post(pages::sign_in::sign_out))
        .route(
            "/setup",
            get(pages::sign_in::setup_form).post(pages::sign_in::setup_submit),
        )
        .route(
            "/invitation",
            get(pages::sign_in::invitation_form).post(pages::sign_in::invitation_submit),
        )
        .route("/settings/sessions", get(pages::settings::sessions))
        .route("/settings/sessions/{id}/revoke", post(pages::settings::revoke))
        .route("/settings/sessions/revoke-others", post(pages::settings::revoke_others))
        .route(
            "/settings/password",
            get(pages::settings::password_form).post(pages::settings::password_submit),
        )
        .route("/sign-in/mfa", get(pages::mfa::prompt).post(pages::mfa::prompt_submit))
        .route("/settings/mfa", get(pages::mfa::settings))
        .route("/settings/mfa/totp", post(pages::mfa::start))
        .route("/settings/mfa/totp/confirm", post(pages::mfa::confirm))
        .route("/settings/mfa/totp/remove", post(pages::mfa::remove))
        .route("/settings/mfa/backup-codes", post(pages::mfa::regenerate))
        .route("/settings/mfa/backup-codes/acknowledge", post(pages::mfa::acknowledge))
        .route(
            "/settings/mfa/passkeys/{credential}/rename",
            post(pages::mfa::rename_passkey),
        )
        .route(
            "/settings/mfa/passkeys/{credential}/remove",
            post(pages::mfa::remove_passkey),
        )
        .route(
            "/settings/reauthenticate",
            get(pages::mfa::reauthenticate).post(pages::mfa::reauthenticate_submit),
        )
        .route("/admin/users", get(pages::admin::list).post(pages::admin::create))
        .route(
            "/admin/mfa-policy",
            get(pages::policy::view).post(pages::policy::change),
        )
        .route("/admin/users/{id}", post(pages::admin::change))
        .route("/admin/users/{id}/revoke-sessions", post(pages::admin::revoke_sessions))
        .route("/alerts", get(pages::alerts::list))
        .route("/alerts/{id}", get(pages::alerts::detail))
        .route("/alerts/{id}/acknowledge", post(pages::alerts::acknowledge))
        .route("/alerts/{id}/resolve", post(pages::alerts::resolve))
        .route("/alerts/{id}/resend", post(pages::alerts::resend))
        .route(
            "/alert-rules",
            get(pages::alert_rules::list).post(pages::alert_rules::create),
        )
        .route("/alert-rules/new", get(pages::alert_rules::new))
        .route("/alert-rules/preview", post(pages::alert_rules::preview))
        .route(
            "/alert-rules/{id}",
            get(pages::alert_rules::show).post(pages::alert_rules::change),
        )
        .route("/alert-rules/{id}/enable", post(pages::alert_rules::enable))
        .route("/alert-rules/{id}/disable", post(pages::alert_rules::disable))
        .route("/alert-rules/{id}/remove", post(pages::alert_rules::remove))
        .route("/alert-webhooks", post(pages::alert_rules::create_endpoint))
        .route("/alert-webhooks/{id}/remove", post(pages::alert_rules::remove_endpoint))
        .route("/audit", get(pages::audit::search))
        .route("/audit/events/{seq}", get(pages::audit::event))
        .route("/audit/export", get(pages::audit::export))
        .fallback(|| async { ApiError::not_found() })
        .layer(axum::middleware::from_fn_with_state(state.clone(), csrf::protect))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::record_denials,
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), session::resolve))
        .merge(sessionless)
        .layer(axum::middleware::from_fn_with_state(state.clone(), client::resolve_ip))
        .layer(cors(&state))
        .layer(DefaultBodyLimit::max(256 * 1024))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::new())
        .layer(axum::middleware::from_fn(request_id::middleware))
        .layer(axum::middleware::from_fn_with_state(state.clone(), headers::secure))
        .with_state(state)
}

/// Cross-origin requests with credentials from the application's origins
/// (`app_origins`) only.
fn cors(state: &AppState) -> CorsLayer {
    let origins: Vec<HeaderValue> = state
        .web
        .app_origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            HeaderName::from_static(csrf::HEADER),
            HeaderName::from_static(request_id::HEADER),
        ])
        .expose_headers([
            HeaderName::from_static(request_id::HEADER),
            HeaderName::from_static(csrf::HEADER),
        ])
        .max_age(Duration::from_secs(600))
}
